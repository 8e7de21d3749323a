"""Issue 14, item 5: saturation hides blow-ups in fixed point; kappa detects them from what
is logged, marks the history and summary, and the main job exits non-zero saying so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from kappa.history import METRIC_NAMES, FitHistory

REPO = Path(__file__).resolve().parents[2]


def _hist(n=60, **over):
    arr = {k: np.full(n, np.nan) for k in METRIC_NAMES}
    arr.update(step=np.arange(n), loss=np.geomspace(1.0, 1e-2, n), raw_update_norm=np.full(n, 1e-2),
               actual_update_norm=np.full(n, 1e-2), finite=np.ones(n, bool), divergence=np.zeros(n, bool),
               weight_saturation_fraction_max=np.zeros(n), update_saturation_fraction_max=np.zeros(n),
               update_underflow_fraction_max=np.zeros(n))
    arr.update(over)
    return FitHistory(**arr, config={"quantized": True})


def test_saturated_blow_up_is_diverged():
    # the run: loss 1.26 -> ~38 and stays there (saturation: no inf, no NaN)
    loss = np.r_[1.26, 30.0, np.full(58, 37.9)]
    h = _hist(loss=loss)
    assert h.diverged and h.diverged_at_step == 1
    s = h.summary()
    assert s["diverged"] and s["status"] == "diverged" and s["diverged_at_step"] == 1 and not s["stalled"]
    assert "37.9" in s["status_reason"] and "30.1 times its best 1.26" in s["status_reason"]


def test_pinned_rails_are_diverged_even_with_a_modest_loss():
    n = 60
    ws = np.r_[np.zeros(20), np.full(40, 0.9)]
    us = np.r_[np.zeros(20), np.ones(40)]
    h = _hist(n, loss=np.full(n, 1.0), weight_saturation_fraction_max=ws, update_saturation_fraction_max=us)
    health = h.health()
    assert health["status"] == "diverged" and health["step"] == 20 and "pinned at their rails" in health["reason"]
    # weights on the rails alone (a legitimately large weight) are not a divergence
    assert _hist(n, weight_saturation_fraction_max=np.ones(n)).health()["status"] == "ok"


def test_noisy_but_converging_runs_are_ok():
    rng = np.random.default_rng(0)
    loss = np.geomspace(1.0, 0.05, 400) * rng.uniform(0.3, 2.5, 400)  # minibatch noise, ratio max/min ~8
    assert _hist(400, loss=loss).health() == {"status": "ok", "step": None, "reason": None}
    # a loss that rises tenfold but stays below its start (a bad bump) is not flagged either
    assert _hist(60, loss=np.r_[np.geomspace(1.0, 0.01, 30), np.full(30, 0.1)]).health()["status"] == "ok"


def test_stalled_is_reported_with_a_reason():
    n = 60
    h = _hist(n, loss=np.full(n, 0.3), actual_update_norm=np.zeros(n), update_underflow_fraction_max=np.ones(n))
    s = h.summary()
    assert s["status"] == "stalled" and s["stalled"] and not s["diverged"] and "underflow" in s["status_reason"]


def _train(cfg_path, **training):
    from kappa import datasets
    from kappa.nn import LinearBlockModel

    cfg = yaml.safe_load(Path(cfg_path).read_text())
    cfg["training"].update(training)
    d = dict(cfg["dataset"])
    ds = datasets.create(d.pop("name"), **d)
    X, Y, _, _ = ds.split(val_fraction=0.25, seed=0)
    m = LinearBlockModel(dataset=ds, **cfg["model"])
    return m.train_instrumented(X, Y, precision_dict=cfg["precision"], **cfg["training"])


@pytest.mark.slow
def test_default_jobs_are_not_flagged_and_lr_1000_is():
    digits = _train(REPO / "configs" / "digits.yaml")
    assert digits.health()["status"] == "ok" and digits.summary()["final_loss"] < 0.2
    affine = _train(REPO / "configs" / "affine.yaml")
    assert affine.health()["status"] == "ok"
    blown = _train(REPO / "configs" / "digits.yaml", learning_rate=1000, epochs=2)
    h = blown.health()
    assert h["status"] == "diverged" and np.all(np.isfinite(blown.loss))  # saturation: no NaN
    assert blown.summary()["final_loss"] > 2 * blown.summary()["initial_loss"]  # cross-entropy: bounded, not 10x


@pytest.mark.slow
def test_job_with_diverging_training_exits_nonzero_and_says_so(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 400
    cfg["training"].update(epochs=3, learning_rate=1000)
    path = tmp_path / "lr1000.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "prj"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "build_hls.py"), "--config", str(path), "--output",
                        str(out), "--quiet"], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert r.returncode == 2, r.stderr[-2000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: training diverged: the loss rose to")
    assert "bit-exact" not in r.stdout
    first = (out / "report.md").read_text().splitlines()[0]
    assert first.startswith("# TRAINING DIVERGED at step ") and "not usable" in first
    import json

    rep = json.loads((out / "report.json").read_text())
    assert rep["training"]["status"] == "diverged" and rep["training_health"]["status"] == "diverged"
