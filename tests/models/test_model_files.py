"""Issue 21 (model files): nothing outside the file is read, sizes are checked before anything
is allocated, bad files are one clear ValueError (exit 2 through the command line)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SECRET = b"\x00\x00\x80\x3f" * 6  # six float32 1.0: what a leak would return as weights


def _snapshot(root: Path):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


def _arch(units=2, n_in=3) -> dict:
    """A Keras 2 style Sequential architecture: Dense(units) on n_in inputs."""
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "Dense", "config": {"name": "dense0", "units": units, "activation": "linear",
                                           "use_bias": True, "batch_input_shape": [None, n_in]}}]}}


def _weights(path: Path, kernel=None, bias=None, kernel_kw=None) -> Path:
    """A Keras 2 ``save_weights`` file for :func:`_arch` (kernel (3, 2), bias (2,))."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense0"]
        g = f.create_group("dense0")
        g.attrs["weight_names"] = [b"dense0/kernel:0", b"dense0/bias:0"]
        inner = g.create_group("dense0")
        if kernel_kw is not None:
            inner.create_dataset("kernel:0", **kernel_kw)
        else:
            inner.create_dataset("kernel:0", data=np.ones((3, 2), np.float32) if kernel is None else kernel)
        inner.create_dataset("bias:0", data=np.zeros(2, np.float32) if bias is None else bias)
    return path


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "m.json").write_text(json.dumps(_arch()))
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "secret.bin").write_bytes(SECRET)
    return d, sentinel


def _cli(argv, capsys):
    from hls.cli import main as kappa

    rc = kappa(argv)
    return rc, capsys.readouterr().err


def test_good_files_still_load(files):
    from kappa.loading import load_model

    d, _ = files
    m = load_model(d / "m.json", _weights(d / "w.h5"))
    np.testing.assert_array_equal(m.get_layer("dense0").kernel.numpy(), np.ones((3, 2)))


# ---------------------------------------------------------------- finding 3: HDF5 external storage and links
def test_hdf5_external_storage_is_refused(files):
    import h5py

    from kappa.loading import load_model

    d, sentinel = files
    before = _snapshot(sentinel)
    ext = {"shape": (3, 2), "dtype": "<f4", "external": [(str(sentinel / "secret.bin"), 0, len(SECRET))]}
    w = _weights(d / "w.h5", kernel_kw=ext)
    with pytest.raises(ValueError, match=r"w\.h5: dataset /dense0/dense0/kernel:0 keeps its data in another file "
                                         r"\(HDF5 external storage\)"):
        load_model(d / "m.json", w)
    # the legacy whole-model .h5: architecture in an attribute, weights under model_weights
    whole = d / "whole.h5"
    with h5py.File(whole, "w") as f:
        f.attrs["model_config"] = json.dumps(_arch())
        g = f.create_group("model_weights")
        with h5py.File(w, "r") as src:
            for k, v in src.attrs.items():
                g.attrs[k] = v
            src.copy("dense0", g)
    with pytest.raises(ValueError, match="HDF5 external storage"):
        load_model(whole)
    assert _snapshot(sentinel) == before


def test_hdf5_external_and_soft_links_are_refused(files):
    import h5py

    from kappa.loading import load_model

    d, sentinel = files
    other = _weights(d / "other.h5")
    w = _weights(d / "w.h5")
    with h5py.File(w, "a") as f:
        del f["dense0"]
        f["dense0"] = h5py.ExternalLink(str(other), "/dense0")
    with pytest.raises(ValueError, match=r"/dense0 is an external link to .*other\.h5"):
        load_model(d / "m.json", w)
    w2 = _weights(d / "w2.h5")
    with h5py.File(w2, "a") as f:
        f["alias"] = h5py.SoftLink("/dense0")
    with pytest.raises(ValueError, match="/alias is a soft link"):
        load_model(d / "m.json", w2)
    assert _snapshot(sentinel) == sorted([("secret.bin", SECRET)])


# ---------------------------------------------------------------- finding 4: memory bombs
def test_declared_huge_dataset_is_refused_before_reading(files):
    from kappa.loading import load_model

    d, _ = files
    bomb = _weights(d / "bomb.h5", kernel_kw={"shape": (3, 10**9), "dtype": "<f4", "chunks": (1, 2**16)})
    assert bomb.stat().st_size < 100_000  # nothing stored: only declared
    with pytest.raises(ValueError, match=r"dataset /dense0/dense0/kernel:0 declares shape \(3, 1000000000\) "
                                         r"\(3,000,000,000 values\), far more than all the weights"):
        load_model(d / "m.json", bomb)
    # within the per-architecture slack but over the budget: refused by the budget
    mid = _weights(d / "mid.h5", kernel_kw={"shape": (2, 2**19), "dtype": "<f8", "chunks": (1, 2**16)})
    with pytest.raises(ValueError, match=r"the datasets declare 8 MiB up to /dense0/dense0/kernel:0, more than "
                                         r"the weight budget 1 MiB"):
        load_model(d / "m.json", mid, max_weight_bytes=2**20)


def test_huge_architectures_are_refused_before_allocation(files, monkeypatch):
    from kappa.loading import load_model, model_from_config

    d, _ = files
    with pytest.raises(ValueError, match=r"declares 4,000,000,000 weights up to layer 'dense0' \(14.9 GiB as "
                                         r"float32\), more than the weight budget 2 GiB"):
        model_from_config(_arch(units=10**9, n_in=3))
    with pytest.raises(ValueError, match=r"the input shape \(1000000000,\) holds 1,000,000,000 values per sample"):
        model_from_config(_arch(units=1, n_in=10**9))
    (d / "big.json").write_text(json.dumps(_arch(units=300)))  # 1,200 weights = 4,800 bytes
    with pytest.raises(ValueError, match="1,200 weights"):
        load_model(d / "big.json", _weights(d / "w.h5"), max_weight_bytes=4000)
    monkeypatch.setenv("KAPPA_MAX_WEIGHT_BYTES", "4000")
    with pytest.raises(ValueError, match="1,200 weights"):
        model_from_config(_arch(units=300))
    monkeypatch.setenv("KAPPA_MAX_WEIGHT_BYTES", "lots")
    with pytest.raises(ValueError, match="KAPPA_MAX_WEIGHT_BYTES='lots' is not a positive number of bytes"):
        model_from_config(_arch())


def _keras_archive(path: Path, weights: bytes, compress=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr("config.json", json.dumps(_arch()))
        z.writestr("metadata.json", "{}")
        z.writestr("model.weights.h5", weights)
    return path


def test_keras_archive_bombs_are_refused_before_extraction(files, tmp_path):
    from kappa.loading import load_model

    d, _ = files
    bomb = _keras_archive(d / "bomb.keras", bytes(64 * 2**20))  # 64 MiB of zeros, ~64 KB packed
    assert bomb.stat().st_size < 2**20
    with pytest.raises(ValueError, match=r"bomb\.keras: member model\.weights\.h5 unpacks \d+x \(from .* to 64 MiB\): "
                                         "a compression bomb"):
        load_model(bomb)
    big = _keras_archive(d / "big.keras", np.random.default_rng(0).bytes(3 * 2**20), zipfile.ZIP_STORED)
    with pytest.raises(ValueError, match=r"member model\.weights\.h5 unpacks to 3 MiB, more than the 1 MiB allowed"):
        load_model(big, max_weight_bytes=2**20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "sentinel"]  # no temporary folder left


# ---------------------------------------------------------------- finding 8: NaN, non-zip, deep JSON
def test_nan_and_inf_weights_are_refused_naming_layer_and_index(files):
    from kappa.loading import load_model

    d, _ = files
    k = np.ones((3, 2), np.float32)
    k[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"w\.h5: layer 'dense0' weight 'kernel' holds nan at index \(1, 0\) "
                                         r"\(1 non-finite values\)"):
        load_model(d / "m.json", _weights(d / "w.h5", kernel=k))
    with pytest.raises(ValueError, match=r"layer 'dense0' weight 'bias' holds -inf at index 1"):
        load_model(d / "m.json", _weights(d / "w2.h5", bias=np.array([0, -np.inf], np.float32)))


def test_non_zip_keras_and_deep_json_are_bad_input(files, capsys):
    from kappa.loading import load_model

    d, sentinel = files
    before = _snapshot(sentinel)
    (d / "fake.keras").write_text("not a zip archive")
    with pytest.raises(ValueError, match=r"fake\.keras is not a \.keras archive"):
        load_model(d / "fake.keras")
    deep = "[" * 100_000 + "]" * 100_000
    (d / "deep.json").write_text(deep)
    with pytest.raises(ValueError, match=r"deep\.json: the JSON is nested too deeply"):
        load_model(d / "deep.json", _weights(d / "w.h5"))
    np.savez(d / "data.npz", X=np.zeros((2, 3)))
    for argv, says in ((["firmware-report", str(d / "fake.keras")], "fake.keras is not a .keras archive"),
                       (["firmware-report", str(d / "deep.json"), "--weights", str(d / "w.h5")], "nested too deeply")):
        rc, err = _cli([*argv, "--data", str(d / "data.npz")], capsys)
        assert rc == 2 and err.startswith("error: ") and says in err and err.count("\n") == 1, err
    assert _snapshot(sentinel) == before
