"""λ_max estimation (kappa.sharpness, kappa.sharpness_tracker) and its use in train_instrumented.

Guarantees tested: on the one-layer model the Hessian is ``I ⊗ XᵀX/N`` (analytic, [FPT]);
Lanczos with full re-orthogonalisation run for P steps spans the whole space, so its top
Ritz value is the top eigenvalue up to rounding; at any step some eigenvalue lies within
the residual ‖Hy − θy‖ of the Ritz value θ (Bauer–Fike / Weyl). The estimate only reads
the weights, so training with it is bit-identical to training without it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from kappa import training  # noqa: E402
from kappa.dataset import AffineDataset  # noqa: E402
from kappa.nn import LinearBlockModel  # noqa: E402
from kappa.sharpness import (  # noqa: E402
    LOSS_MODES,
    HessianOperator,
    estimate_lambda_max,
    select_subset,
    top_eigenvalue,
    training_loss,
)
from kappa.utils import half_mse_batch_loss  # noqa: E402

QUANT = {"default": {"weight": "ap_fixed<16,4,AP_RND_CONV,AP_SAT>", "bias": "ap_fixed<16,4,AP_RND_CONV,AP_SAT>",
                     "accumulator": "ap_fixed<32,10,AP_TRN,AP_WRAP>", "activation": "ap_fixed<16,6,AP_RND,AP_SAT>",
                     "update": "ap_fixed<16,4,S_RND,AP_SAT>"}}


@pytest.fixture(scope="module")
def affine():
    ds = AffineDataset(num_samples=200, use_bias=True, seed=0)
    return ds, ds.X.astype(np.float32), ds.Y.astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    """A 4 -> 3 tanh -> 2 network (23 parameters) on 40 samples."""
    ds = AffineDataset(num_samples=40, use_bias=True, seed=3)
    m = LinearBlockModel(dataset=ds, num_hidden=[3], activation="tanh", seed=2)
    return ds, m


def _analytic(X, d_out, loss_mode):
    Xb = np.concatenate([X.astype(np.float64), np.ones((len(X), 1))], axis=1)
    lam = np.linalg.eigvalsh(Xb.T @ Xb / len(X))[-1]  # half_mse: λ_max(XᵀX/N) [FPT]
    return lam * (1.0 if loss_mode == "half_mse" else 2.0 / d_out)


# ------------------------------------------------------------ the estimator
@pytest.mark.parametrize("loss_mode", ["half_mse", "keras_mse"])
@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_one_layer_estimate_equals_analytic_lambda_max(affine, loss_mode, method):
    ds, X, Y = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=True, seed=1)
    est = estimate_lambda_max(m.model, X, Y, loss_mode, iters=60, tol=1e-10, method=method)
    lam = _analytic(X, Y.shape[1], loss_mode)
    assert abs(est.lambda_max - lam) <= 1e-6 * lam
    assert est.converged and est.hvps == est.iterations <= 60 and est.seconds > 0
    assert est.vector.shape == (sum(int(np.prod(v.shape)) for v in m.model.trainable_variables),)


def test_batched_subset_estimate_is_the_subset_hessian(affine):
    ds, X, Y = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=True, seed=1)
    idx = select_subset(len(X), 50, seed=7)
    est = estimate_lambda_max(m.model, X, Y, subset=50, seed=7, batch_size=16, iters=60, tol=1e-10)
    assert est.n_samples == 50
    assert abs(est.lambda_max - _analytic(X[idx], 2, "half_mse")) <= 1e-6 * est.lambda_max


def _reference_hessian(m, X, Y, loss_mode, floor=1e-7):
    """Dense Hessian by a second, independent route: a hand-written float64 forward of the
    Dense/tanh/Dense(/softmax) network on one flat θ, and tape.jacobian of its gradient."""
    shapes = [tuple(v.shape) for v in m.model.trainable_variables]
    theta0 = np.concatenate([np.asarray(v.numpy(), np.float64).ravel() for v in m.model.trainable_variables])
    sizes = [int(np.prod(s)) for s in shapes]
    X64, Y64 = tf.constant(X, tf.float64), tf.constant(Y, tf.float64)
    theta = tf.Variable(theta0)

    def loss():
        W1, b1, W2, b2 = [tf.reshape(p, s) for p, s in zip(tf.split(theta, sizes), shapes)]
        out = tf.tanh(X64 @ W1 + b1) @ W2 + b2
        if loss_mode == "cross_entropy":
            p = tf.nn.softmax(out)
            return -tf.reduce_mean(tf.reduce_sum(Y64 * tf.math.log(tf.maximum(p, floor)), axis=1))
        return tf.reduce_sum(tf.square(out - Y64)) / (2.0 * len(X))

    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            L = loss()
        g = inner.gradient(L, theta)
    return outer.jacobian(g, theta).numpy()


@pytest.mark.parametrize("loss_mode", ["half_mse", "cross_entropy"])
def test_small_network_matches_dense_hessian(loss_mode):
    ds = AffineDataset(num_samples=40, use_bias=True, seed=3)
    X = ds.X.astype(np.float32)
    if loss_mode == "cross_entropy":
        Y = np.eye(2, dtype=np.float32)[(X[:, 0] > 0.5).astype(int)]
        m = LinearBlockModel(dataset=ds, num_hidden=[3], activation="tanh", output_activation="softmax", seed=2)
    else:
        Y = ds.Y.astype(np.float32)
        m = LinearBlockModel(dataset=ds, num_hidden=[3], activation="tanh", seed=2)
    H_ref = _reference_hessian(m, X, Y, loss_mode)
    P = H_ref.shape[0]
    eig = np.linalg.eigvalsh((H_ref + H_ref.T) / 2)
    op = HessianOperator.for_model(m.model, X, Y, loss_mode, batch_size=16)
    scale = np.max(np.abs(eig))
    np.testing.assert_allclose(op.dense(), H_ref, rtol=0, atol=1e-9 * scale)  # float64 rounding only
    full = top_eigenvalue(op, iters=P, tol=0.0)  # P Lanczos steps span R^P
    assert abs(full.lambda_max - eig[-1]) <= 1e-8 * scale
    short = top_eigenvalue(op, iters=4, tol=0.0, seed=5)  # unconverged: Bauer–Fike still holds
    assert np.min(np.abs(eig - short.lambda_max)) <= short.residual * abs(short.lambda_max) * (1 + 1e-6) + 1e-12
    warm = top_eigenvalue(op, iters=P, tol=1e-8, v0=full.vector)  # warm start: at most a few HVPs
    assert warm.converged and warm.iterations <= 3


def test_training_loss_is_the_loss_training_uses():
    assert LOSS_MODES == training.LOSS_MODES
    rng = np.random.default_rng(0)
    p = tf.constant(rng.dirichlet(np.ones(5), size=8))
    y = tf.constant(np.eye(5)[rng.integers(0, 5, 8)])
    assert float(training_loss("cross_entropy", y, p, 1e-3)) == float(training.cross_entropy_loss(y, p, 1e-3))
    assert float(training_loss("half_mse", y, p)) == float(half_mse_batch_loss(y, p))
    assert float(training_loss("keras_mse", y, p)) == pytest.approx(float(half_mse_batch_loss(y, p)) * 2 / 5,
                                                                     rel=1e-12)


def test_bad_estimator_arguments_are_refused(affine):
    ds, X, Y = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=True, seed=1)
    for kwargs, msg in (({"loss_mode": "mae"}, "unknown loss_mode 'mae'"), ({"iters": 0}, "iters must be"),
                        ({"tol": -1.0}, "tol must be"), ({"method": "qr"}, "unknown method 'qr'"),
                        ({"dtype": "float16"}, "unknown dtype 'float16'"), ({"subset": 0}, "in [1, 200]"),
                        ({"subset": np.array([1, 1])}, "distinct"), ({"batch_size": 0}, "batch_size"),
                        ({"v0": np.ones(3)}, "v0 must have shape (10,)")):
        with pytest.raises(ValueError, match=re.escape(msg)):
            estimate_lambda_max(m.model, X, Y, **kwargs)


# ------------------------------------------------------------ in train_instrumented
def test_hessian_every_fills_scheduled_steps_only(tiny):
    ds, m = tiny
    m.reinitialize_weights()
    X, Y = ds.X.astype(np.float32), ds.Y.astype(np.float32)
    # 10 samples a step: 4 steps per epoch, 3 epochs; chunks of 2 steps and epoch ends interleave
    h = m.train_instrumented(X, Y, epochs=3, batch_size=10, learning_rate=0.1, hessian_every=5, hessian_iters=8,
                             steps_per_call=2, validation_data=(X[:5], Y[:5]), use_controller=True, chi=0.5)
    assert h.n_steps == 12
    assert np.flatnonzero(np.isfinite(h.hessian_lambda_max)).tolist() == [0, 5, 10]
    lam = h.hessian_lambda_max
    np.testing.assert_array_equal(h.stability_margin_lambda_raw, 0.1 * lam)
    np.testing.assert_array_equal(h.stability_margin_lambda_ctrl, h.eta_eff * lam)
    assert np.all(lam[[0, 5, 10]] > 0)
    s = h.summary()
    assert s["hessian_estimates"] == 3 and 3 <= s["hessian_hvps"] <= 24 and s["hessian_seconds"] > 0
    assert s["final_hessian_lambda_max"] == lam[10]
    assert h.config["hessian"]["n_samples"] == 40 and h.config["hessian"]["n_params"] == 23
    fig = h.plot_results()
    panel = fig.axes[2]  # the stability panel (twin axes come after the five panels)
    assert panel.get_ylabel() == "stability"
    texts = [t.get_text() for t in panel.texts]
    assert any(np.isfinite(line.get_ydata()).sum() == 3 for line in panel.lines)
    assert not any("nothing to show" in t for t in texts)


@pytest.mark.parametrize("precision", [None, QUANT])
def test_estimate_leaves_training_bit_identical(tiny, precision):
    ds, m = tiny
    X, Y = ds.X.astype(np.float32), ds.Y.astype(np.float32)
    runs = []
    for every in (0, 3):
        m.reinitialize_weights()
        h = m.train_instrumented(X, Y, epochs=4, batch_size=16, learning_rate=0.1, precision_dict=precision,
                                 hessian_every=every, hessian_iters=5, seed=4)
        runs.append((h, [v.numpy().copy() for v in m.model.trainable_variables]))
    (off, w_off), (on, w_on) = runs
    np.testing.assert_array_equal(off.loss, on.loss)
    for a, b in zip(w_off, w_on):
        np.testing.assert_array_equal(a, b)
    assert np.all(np.isnan(off.hessian_lambda_max)) and off.config["hessian"] is None
    assert np.isfinite(on.hessian_lambda_max[[0, 3, 6, 9]]).all()
    assert "hessian_estimates" not in off.summary()


def test_one_layer_history_estimate_and_hessian_throttle(affine):
    ds, X, Y = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=True, seed=1)
    lam = _analytic(X, Y.shape[1], "half_mse")
    eta, chi = 1.5 * 2.0 / lam, 1.0  # unthrottled GD diverges (η λ_max = 3)
    h = m.train_instrumented(X, Y, epochs=40, batch_size=len(X), learning_rate=eta, use_controller=True, chi=chi,
                             hessian_every=1, hessian_iters=30, hessian_tol=1e-10, throttle_curvature="hessian")
    np.testing.assert_allclose(h.hessian_lambda_max, lam, rtol=1e-6)  # every step
    np.testing.assert_allclose(h.alpha, chi / (eta * lam), rtol=1e-6)  # α = χ / (η λ̂)
    np.testing.assert_allclose(h.stability_margin_lambda_ctrl, chi, rtol=1e-6)
    # η_eff λ_i = χ λ_i / λ_max ∈ (0, 1]: every mode contracts; without the throttle the top one grows 2x a step
    assert not h.diverged and h.loss[-1] < 0.1 * h.loss[0]
    m.reinitialize_weights()
    raw = m.train_instrumented(X, Y, epochs=40, batch_size=len(X), learning_rate=eta)
    assert raw.diverged or raw.loss[-1] > 1e3 * raw.loss[0]
    assert h.config["throttle_curvature"] == "hessian"


@pytest.mark.parametrize("kwargs, msg", [
    ({"hessian_every": -1}, "hessian_every must be an integer >= 0"),
    ({"hessian_every": 2.5}, "hessian_every must be an integer >= 0"),
    ({"hessian_every": True}, "hessian_every must be an integer >= 0"),
    ({"hessian_every": 2, "hessian_iters": 0}, "hessian_iters must be an integer >= 1"),
    ({"hessian_every": 2, "hessian_tol": float("nan")}, "hessian_tol must be"),
    ({"hessian_every": 2, "hessian_method": "arnoldi"}, "unknown hessian_method 'arnoldi'"),
    ({"hessian_every": 2, "hessian_subset": 500}, r"subset size must be in \[1, 200\]"),
    ({"throttle_curvature": "bb"}, "unknown throttle_curvature 'bb'; valid: secant, hessian"),
    ({"throttle_curvature": "hessian"}, "needs hessian_every >= 1"),
])
def test_bad_hessian_options_are_refused(affine, kwargs, msg):
    ds, X, Y = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=True, seed=1)
    with pytest.raises(ValueError, match=msg):
        m.train_instrumented(X, Y, epochs=1, **kwargs)


def test_job_config_refuses_bad_hessian_options_before_training(tmp_path, capsys):
    """`kappa build` names a bad hessian option with its key and writes nothing."""
    import yaml

    from hls.cli import main

    repo = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((repo / "configs" / "affine.yaml").read_text())
    cfg["training"].update(hessian_every=10, hessian_method="qr")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["build", "--config", str(path), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown hessian_method 'qr'; valid: lanczos, power" in err
    assert not (tmp_path / "out").exists()
