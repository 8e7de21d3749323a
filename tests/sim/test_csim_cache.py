"""Issue 21 (caches): private per-user caches, every entry stored with its sha256 and
re-verified before use; a planted or modified entry is rebuilt, never run."""

from __future__ import annotations

import os
import stat

import keras
import numpy as np
import pytest

import hls
from kappa import cache
from kappa.fixed_point import FixedPointType

P = {"default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
                 "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
     "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
X = np.random.default_rng(1).uniform(-3, 3, (4, 3))


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


def _sentinel(tmp_path):
    d = tmp_path / "sentinel"
    d.mkdir()
    (d / "thesis.tex").write_text("keep")
    return d


def test_default_caches_are_private_under_xdg(tmp_path, monkeypatch):
    from hls.sim.csim import _shared_cache
    from kappa.layers.tables import cache_dir

    for var in ("KAPPA_CSIM_CACHE", "KAPPA_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _shared_cache() == tmp_path / "xdg" / "kappa" / "csim"
    assert cache_dir() == tmp_path / "xdg" / "kappa" / "tables"
    for d in (_shared_cache(), cache_dir()):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700 and os.stat(d).st_uid == os.geteuid()
    monkeypatch.setenv("KAPPA_CACHE_DIR", str(tmp_path / "mine"))  # the override still works
    assert cache_dir() == tmp_path / "mine" / "tables"


def test_shared_or_foreign_cache_folder_is_refused(tmp_path, monkeypatch):
    from hls.cli import main as kappa
    from hls.sim.csim import _shared_cache

    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    open_dir = tmp_path / "shared"
    open_dir.mkdir()
    os.chmod(open_dir, 0o1777)  # like /tmp
    monkeypatch.setenv("KAPPA_CSIM_CACHE", str(open_dir))
    with pytest.raises(cache.CacheError, match=rf"cache folder {open_dir} is writable by others \(mode 1777\).*"
                                               r"KAPPA_CSIM_CACHE"):
        _shared_cache()
    if os.geteuid() == 0:  # only root can give a folder away
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        os.chown(other, 12345, 12345)
        monkeypatch.setenv("KAPPA_CSIM_CACHE", str(other))
        with pytest.raises(cache.CacheError, match=rf"{other} belongs to uid 12345, not to you"):
            _shared_cache()
    # through the command line: one error line, exit 2
    prj = tmp_path / "prj"
    hls.convert(_model(), P, prj, tb_inputs=X)
    monkeypatch.setenv("KAPPA_CSIM_CACHE", str(open_dir))
    assert kappa(["csim", str(prj)]) == 2
    assert _snapshot(sentinel) == before and list(open_dir.iterdir()) == []


def _model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,), name="model_input")
    return keras.Model(inp, keras.layers.Dense(2, name="dense0")(inp))


def test_planted_csim_binary_is_never_run(tmp_path, monkeypatch, capsys):
    """A script planted at the cache entry's path (and in the project's build folder) is
    detected by its hash, removed and rebuilt; the comparison is the real one."""
    from hls.sim.compare import compare
    from hls.sim.csim import _shared_cache

    monkeypatch.setenv("KAPPA_CSIM_CACHE", str(tmp_path / "cache"))
    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    prj = hls.convert(_model(), P, tmp_path / "prj", tb_inputs=X)
    first = compare(prj, trace=False)
    assert first.bit_exact and first.compiled
    entries = [p for p in _shared_cache().iterdir() if not p.name.endswith(".sha256")]
    assert len(entries) == 1 and (_shared_cache() / (entries[0].name + ".sha256")).is_file()
    marker = tmp_path / "PWNED"
    script = f"#!/bin/sh\ntouch {marker}\ncp tb_data/tb_output_predictions.dat tb_data/csim_results.log\n"
    for target in [entries[0], *(prj / ".kappa_build").glob("csim-*")]:
        target.write_text(script)
        os.chmod(target, 0o755)
    with pytest.warns(UserWarning, match=rf"cache entry {entries[0]} was modified; rebuilding"):
        again = compare(prj, trace=False)
    assert again.compiled and again.bit_exact and again.outputs == 4 * 2
    assert not marker.exists()
    # an entry without its checksum (planted at the predictable name) is not trusted either
    (entries[0].parent / (entries[0].name + ".sha256")).unlink()
    with pytest.warns(UserWarning, match="has no checksum; rebuilding"):
        assert compare(prj, trace=False).compiled
    assert not marker.exists() and _snapshot(sentinel) == before


def test_modified_table_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    from kappa.layers import tables

    monkeypatch.setenv("KAPPA_CACHE_DIR", str(tmp_path / "c"))
    sentinel = _sentinel(tmp_path)
    before = _snapshot(sentinel)
    t = FixedPointType.from_string("ap_fixed<18,8>")
    tables.activation_table.cache_clear()
    vals = tables.activation_table("sigmoid", 64, t)
    assert vals[32] == 0.5 and vals.shape == (64,)  # entry N/2 is sigmoid(0)
    (entry,) = (tmp_path / "c" / "tables").glob("*.npy")
    np.save(entry, np.full(64, 7.0))  # same shape, other values
    tables.activation_table.cache_clear()
    with pytest.warns(UserWarning, match="was modified; rebuilding"):
        again = tables.activation_table("sigmoid", 64, t)
    assert again[32] == 0.5 and np.array_equal(again, vals)
    assert _snapshot(sentinel) == before
