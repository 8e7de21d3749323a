"""Issue 21 (finished projects): `kappa compare` checks the manifest's sha256 of every file it
relies on first; a modified project exits 4 ("project modified since it was written: FILE")
and is never reported bit-exact; --trust-modified compares it anyway and says so."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

import hls
from hls.cli import main as kappa
from hls.cli.exit_status import PROJECT_MODIFIED
from hls.project.integrity import ProjectModifiedError

P = {"default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
                 "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
     "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
X = np.random.default_rng(1).uniform(-3, 3, (5, 3))


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,), name="model_input")
    km = keras.Model(inp, keras.layers.Dense(2, name="dense0")(inp))
    return hls.convert(km, P, tmp_path_factory.mktemp("t") / "prj", tb_inputs=X)


@pytest.fixture
def copy(written, tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "thesis.tex").write_text("keep")
    prj = tmp_path / "prj"
    shutil.copytree(written, prj, ignore=shutil.ignore_patterns(".kappa_build"))
    return prj, sentinel


def _run(argv, capsys):
    rc = kappa(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_manifest_records_every_file_compare_relies_on(written):
    sums = json.loads((written / "manifest.json").read_text())["sha256"]
    for f in ("tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat", "precision.yaml",
              "firmware/myproject.cpp", "firmware/myproject.h", "firmware/parameters.h", "firmware/defines.h",
              "firmware/weights/w2.txt", "firmware/weights/w2.h", "myproject_test.cpp", "keras_model.keras",
              "hls4ml_config.yml"):
        assert f in sums and len(sums[f]) == 64, f


def _tamper_weight(prj):
    w = prj / "firmware" / "weights" / "w2.txt"
    vals = w.read_text().split(",")
    vals[0] = "1.5" if vals[0].strip() != "1.5" else "-1.5"
    w.write_text(",".join(vals))


def test_tampered_weights_and_predictions_exit_4_before_anything_runs(copy, capsys):
    prj, sentinel = copy
    before = _snapshot(sentinel)
    _tamper_weight(prj)
    pred = prj / "tb_data" / "tb_output_predictions.dat"
    pred.write_text(pred.read_text().replace("0", "1", 1))
    rc, out, err = _run(["compare", str(prj)], capsys)
    assert rc == PROJECT_MODIFIED == 4
    assert err == (f"error: project modified since it was written: firmware/weights/w2.txt, "
                   f"tb_data/tb_output_predictions.dat (in {prj}; rebuild it, or pass --trust-modified to compare it "
                   "anyway)\n")
    assert "bit-exact" not in out + err
    assert not (prj / ".kappa_build").exists()  # nothing compiled or run
    assert _snapshot(sentinel) == before


def test_changed_types_or_forged_manifest_exit_4(copy, capsys):
    prj, sentinel = copy
    before = _snapshot(sentinel)
    y = prj / "precision.yaml"
    y.write_text(y.read_text().replace("ap_fixed<8,2", "ap_fixed<9,2"))
    rc, _, err = _run(["compare", str(prj)], capsys)
    assert rc == 4 and "project modified since it was written: precision.yaml (in" in err
    y.write_text(y.read_text().replace("ap_fixed<9,2", "ap_fixed<8,2"))
    man = json.loads((prj / "manifest.json").read_text())
    man["sha256"] = {k: "0" * 64 for k in man["sha256"]}
    man["io_type"] = "io_stream"
    (prj / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ProjectModifiedError) as exc:
        hls.compare(prj)
    assert "firmware/myproject.cpp" in exc.value.files and "precision.yaml" in exc.value.files
    assert "manifest.json (io_type io_stream, hls4ml_config.yml says io_parallel)" in exc.value.files
    # a manifest that drops the hashes it must have
    man["sha256"] = {}
    man["io_type"] = "io_parallel"
    (prj / "manifest.json").write_text(json.dumps(man))
    rc, _, err = _run(["compare", str(prj)], capsys)
    assert rc == 4 and "tb_data/tb_input_features.dat (no sha256 in manifest.json)" in err
    assert "firmware/myproject.cpp (not in manifest.json)" in err
    assert _snapshot(sentinel) == before


def test_trust_modified_compares_anyway_and_says_so(copy, capsys):
    prj, sentinel = copy
    before = _snapshot(sentinel)
    _tamper_weight(prj)
    rc, out, _ = _run(["compare", str(prj), "--trust-modified", "--no-trace", "--quiet"], capsys)
    assert rc == 1  # the changed weight changes the outputs: not bit-exact
    assert out.startswith("MISMATCH: ")
    assert ("[project modified since it was written: firmware/weights/w2.txt; compared anyway (--trust-modified)]"
            in out.splitlines()[0])
    rep = hls.compare(prj, trust_modified=True, trace=False)
    assert rep.modified == ["firmware/weights/w2.txt"] and rep.to_dict()["modified"] == rep.modified
    assert _snapshot(sentinel) == before


def test_unmodified_project_compares_bit_exact(written, capsys):
    rc, out, _ = _run(["compare", str(written), "--quiet"], capsys)
    assert rc == 0 and out.startswith("bit-exact: 0 mismatches over 10 outputs") and "modified" not in out


def test_nan_in_testbench_inputs_is_named_with_its_file(copy, capsys):
    prj, sentinel = copy
    before = _snapshot(sentinel)
    tb = prj / "tb_data" / "tb_input_features.dat"
    rows = tb.read_text().splitlines()
    vals = rows[2].split()
    vals[1] = "nan"
    rows[2] = " ".join(vals)
    tb.write_text("\n".join(rows) + "\n")
    rc, _, err = _run(["compare", str(prj), "--trust-modified", "--quiet"], capsys)
    assert rc == 2
    assert err == (f"error: {tb}: line 3, value 2 is nan (1 non-finite values); testbench inputs must be finite "
                   "numbers\n")
    assert not (prj / ".kappa_build").exists() and _snapshot(sentinel) == before
