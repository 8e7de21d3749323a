"""The existing-model job: load -> suggested types -> project -> C simulation -> firmware report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
MLP = (FIXTURES / "KERAS_3layer.json", FIXTURES / "KERAS_3layer_weights.h5")


def _data(tmp_path, n=200, with_y=True):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 16))
    path = tmp_path / "test.npz"
    np.savez(path, X=X, **({"y": rng.integers(0, 5, n)} if with_y else {}))
    return path


@pytest.mark.slow
def test_kappa_build_model_with_suggested_types_is_bit_exact(tmp_path, capsys):
    """``kappa build --model X.json --weights W.h5 --suggest-precision ...``: load, suggest, convert, csim, report."""
    from hls.cli import main

    ppath = tmp_path / "types.yaml"
    code = main(["build", "--model", str(MLP[0]), "--weights", str(MLP[1]), "--precision", str(ppath),
                 "--suggest-precision", "--bits", "14", "--data", str(_data(tmp_path)), "--drop-softmax",
                 "--output", str(tmp_path / "prj"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 mismatches over 1000 outputs (200 test samples): bit-exact" in out
    assert ppath.is_file()
    prj = tmp_path / "prj"
    md = (prj / "report.md").read_text()
    assert "only this layer quantized" in md and (prj / "firmware_cost.png").is_file()
    rep = json.loads((prj / "report.json").read_text())
    assert rep["comparison"]["mismatches"] == 0
    assert {c["layer"] for c in rep["firmware"]["layers"]} == {"input", "fc1_relu", "fc2_relu", "fc3_relu",
                                                               "output_softmax"}
    assert all(p["out_of_range"] == 0.0 for p in rep["firmware"]["points"])  # suggested types: no overflow


def test_kappa_firmware_report_command(tmp_path, capsys):
    from hls.cli import main
    from hls.jobs.model_job import without_final_softmax
    from kappa.loading import load_model
    from kappa.suggest import suggest_precision

    data = _data(tmp_path, n=100)
    model, _ = without_final_softmax(load_model(*MLP))
    ppath = tmp_path / "types.yaml"
    suggest_precision(model, np.load(data)["X"], bits=8, path=ppath)
    code = main(["firmware-report", str(MLP[0]), "--weights", str(MLP[1]), "--precision", str(ppath),
                 "--data", str(data), "--drop-softmax", "--json", "--plot", str(tmp_path / "c.png")])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["metric"] == "accuracy" and rep["samples"] == 100
    assert [c["layer"] for c in rep["layers"]][0] == "input" and (tmp_path / "c.png").is_file()
    qcode = main(["firmware-report", str(FIXTURES / "qkeras-v3_3layer.keras"), "--data", str(data), "--drop-softmax",
                  "--json"])
    qrep = json.loads(capsys.readouterr().out)
    assert qcode == 0 and qrep["output_type"].startswith("ap_fixed<")
    # compared with QKeras's own predict (not an unquantized float copy of the model)
    qmodel = load_model(FIXTURES / "qkeras-v3_3layer.keras")
    z = np.load(data)
    q_out = qmodel.predict(z["X"].astype(np.float32), verbose=0)
    assert qrep["reference"] == "QKeras predict"
    assert qrep["float"] == float(np.mean(q_out.argmax(1) == z["y"]))  # softmax keeps the argmax
    assert main(["firmware-report", str(MLP[0]), "--weights", str(MLP[1]), "--data", str(data)]) == 2
    assert "--precision FILE is required" in capsys.readouterr().err


def test_kappa_build_model_flags_need_model(capsys):
    from hls.cli import main

    assert main(["build", "--precision", "x.yaml", "--suggest-precision"]) == 2
    assert "--precision, --suggest-precision need --model FILE" in capsys.readouterr().err
    # --drop-softmax also serves the training job's RTL backend; without it, it is refused there
    assert main(["build", "--drop-softmax", "--output", "/nonexistent-dir/x"]) == 2
    assert "applies to the RTL backend only" in capsys.readouterr().err


def test_bad_input_is_refused_before_any_work(tmp_path):
    from hls.jobs.model_job import run_model_job

    data = _data(tmp_path)
    existing = tmp_path / "mine.yaml"
    existing.write_text("default: {}\n")
    with pytest.raises(FileExistsError, match="does not overwrite"):
        run_model_job(MLP[0], tmp_path / "p1", weights=MLP[1], precision=existing, suggest=True, data=data,
                      progress=False)
    assert existing.read_text() == "default: {}\n"
    with pytest.raises(ValueError, match="needs --precision"):
        run_model_job(MLP[0], tmp_path / "p2", weights=MLP[1], suggest=True, data=data, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_model_job(MLP[0], tmp_path / "p3", weights=MLP[1], precision=tmp_path / "none.yaml", data=data,
                      progress=False)
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.zeros((3, 7)))
    with pytest.raises(ValueError, match=r"expects \(N, 16\)"):
        run_model_job(MLP[0], tmp_path / "p4", weights=MLP[1], precision=tmp_path / "x.yaml", suggest=True,
                      data=bad, progress=False)
    assert not any((tmp_path / p).exists() for p in ("p1", "p2", "p3", "p4", "x.yaml"))
