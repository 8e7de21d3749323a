"""The existing-model job: load -> suggested types -> project -> C simulation -> firmware report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "models"
MLP = (FIXTURES / "KERAS_3layer.json", FIXTURES / "KERAS_3layer_weights.h5")


def _data(tmp_path, n=200, with_y=True):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 16))
    path = tmp_path / "test.npz"
    np.savez(path, X=X, **({"y": rng.integers(0, 5, n)} if with_y else {}))
    return path


@pytest.mark.slow
def test_keras2_model_with_suggested_types_is_bit_exact(tmp_path):
    from hls.model_job import run_model_job

    ppath = tmp_path / "types.yaml"
    res = run_model_job(MLP[0], tmp_path / "prj", weights=MLP[1], precision=ppath, suggest=True,
                        data=_data(tmp_path), drop_softmax=True, suggest_bits=14, progress=False)
    assert ppath.is_file()
    assert res.report.mismatches == 0 and res.report.outputs == 200 * 5
    md = (res.project_dir / "report.md").read_text()
    assert "only this layer quantized" in md and (res.project_dir / "firmware_cost.png").is_file()
    rep = json.loads((res.project_dir / "report.json").read_text())
    assert rep["comparison"]["mismatches"] == 0
    assert {c["layer"] for c in rep["firmware"]["layers"]} == {"input", "fc1_relu", "fc2_relu", "fc3_relu",
                                                               "output_softmax"}
    assert all(p["out_of_range"] == 0.0 for p in rep["firmware"]["points"])  # suggested types: no overflow


def test_bad_input_is_refused_before_any_work(tmp_path):
    from hls.model_job import run_model_job

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
