"""The compiled step records θ_{t+1} and g only where θ_t and SGD's u follow from them
(rebuilt by the diagnostics, ``kappa.metric_kernels.row_stats``): every history column must equal the run that records all four
vectors, bit for bit (NaN where NaN)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kappa.training_step as training_step  # noqa: E402
from kappa.data import AffineDataset  # noqa: E402
from kappa.nn import LinearBlockModel  # noqa: E402

TYPES = {"input": {"value": "ap_fixed<12,4,AP_RND,AP_SAT>"},
         "default": {"weight": "ap_fixed<10,2,AP_RND,AP_SAT>", "bias": "ap_fixed<10,2,AP_RND,AP_SAT>",
                     "accumulator": "ap_fixed<24,10,AP_RND,AP_SAT>", "activation": "ap_fixed<14,6,AP_RND,AP_SAT>",
                     "gradient": "ap_fixed<20,6,AP_RND,AP_SAT>", "update": "ap_fixed<14,2,S_RND,AP_SAT>"}}
NO_BIAS_TYPE = {"input": TYPES["input"], "default": {k: v for k, v in TYPES["default"].items() if k != "bias"}}


def _history(record_all, precision, optimizer, monkeypatch):
    monkeypatch.setattr(training_step, "RECORD_ALL_VECTORS", record_all)
    ds = AffineDataset(num_samples=192, use_bias=True, seed=0)
    X, Y = (a.astype(np.float32) for a in ds.get())
    m = LinearBlockModel(dataset=ds, num_hidden=[6], activation="relu", seed=1)
    h = m.train_instrumented(X, Y, epochs=2, batch_size=32, learning_rate=0.05, precision_dict=precision,
                             optimizer=optimizer, compute_analytic_hessian=False, steps_per_call=5)
    return h, m


@pytest.mark.parametrize("precision, optimizer", [(TYPES, "sgd"), (None, "sgd"), (TYPES, "momentum"),
                                                  (NO_BIAS_TYPE, "sgd")])
def test_rebuilt_vectors_give_the_recorded_diagnostics(precision, optimizer, monkeypatch):
    full, m_full = _history(True, precision, optimizer, monkeypatch)
    lean, m_lean = _history(False, precision, optimizer, monkeypatch)
    runner = next(iter(m_lean.__dict__[training_step.RUNNER_CACHE_ATTR].values()))
    assert "u" not in runner.vector_keys if optimizer == "sgd" else "u" in runner.vector_keys
    assert ("theta" in runner.vector_keys) == (precision is NO_BIAS_TYPE)  # a variable without a storage type
    cols = [k for k in vars(full) if isinstance(getattr(full, k), np.ndarray) and getattr(full, k).dtype.kind == "f"]
    assert {"update_cosine", "actual_update_norm", "raw_update_norm", "theta_norm"} <= set(cols)
    for k in cols:
        np.testing.assert_array_equal(getattr(lean, k), getattr(full, k), err_msg=k)
    assert np.all(np.isfinite(full.update_cosine[1:]))  # the diagnostics are real numbers, not all NaN


def test_compiled_reset_zeroes_the_state_and_sets_the_hyper_parameters(monkeypatch):
    _, m = _history(False, TYPES, "momentum", monkeypatch)
    runner = next(iter(m.__dict__[training_step.RUNNER_CACHE_ATTR].values()))
    assert any(np.any(v.numpy() != 0) for v in runner._state)  # training left secant and momentum state
    runner.reset(eta=0.375, seed=7, use_controller=True)
    assert all(not np.any(v.numpy()) for v in runner._state) and not bool(runner._have_prev.numpy())
    assert runner.hp["eta"].numpy() == 0.375 and runner.hp["seed"].numpy() == 7
    assert bool(runner.hp["use_controller"].numpy())
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['etaa'\]; valid: .*'eta'"):
        runner.reset(etaa=0.1)
