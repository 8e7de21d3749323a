"""Tests for train_instrumented (kappa.training), with real numbers.

Theory: ``shared/reference/fixed-point-training.md`` ([FPT]); full-batch GD on the
one-layer half-MSE problem is stable iff η < η_max = 2/λ_max(XᵀX/N).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import kappa  # noqa: E402
from kappa.data import AffineDataset  # noqa: E402
from kappa.history import METRIC_NAMES, FitHistory  # noqa: E402
from kappa.nn import LinearBlockModel  # noqa: E402
from kappa.training import fits_float32, update_map_radius  # noqa: E402
from kappa.utils import half_mse_batch_loss  # noqa: E402

W12 = "ap_fixed<16,4,AP_RND,AP_SAT>"  # 12 fractional bits


@pytest.fixture(scope="module")
def affine():
    """No-bias affine data, the Experiment 000 setting."""
    ds = AffineDataset(num_samples=256, use_bias=False, seed=0)
    return ds, ds.X, ds.Y, ds.analytic_hessian["eta_max"]


def one_layer(ds, seed=1, use_bias=False):
    return LinearBlockModel(dataset=ds, num_hidden=[], use_bias=use_bias, seed=seed)


# ------------------------------------------------------------- float acceptance
def test_full_batch_gd_converges_below_eta_max_and_diverges_above(affine):
    ds, X, Y, eta_max = affine
    m = one_layer(ds)
    lo = m.train_instrumented(X, Y, epochs=200, batch_size=len(X), learning_rate=0.95 * eta_max,
                              reference_A=ds.A)
    m.reinitialize_weights()
    hi = m.train_instrumented(X, Y, epochs=200, batch_size=len(X), learning_rate=1.05 * eta_max,
                              reference_A=ds.A)
    assert lo.n_steps == hi.n_steps == 200
    assert lo.loss[-1] < 1e-8 * lo.loss[0] and not lo.diverged
    assert lo.weight_error_fro[-1] < 1e-3
    assert hi.loss[-1] > 1e6 * hi.loss[0] or hi.diverged  # loss grows like ρ^(2t), ρ = 1.1
    # logged stability numbers agree with the theory
    np.testing.assert_allclose(lo.hessian_lambda_max, 2.0 / eta_max, rtol=1e-6)
    np.testing.assert_allclose(lo.stability_margin_lambda_raw, 1.9, rtol=1e-6)
    np.testing.assert_allclose(hi.stability_margin_lambda_raw, 2.1, rtol=1e-6)
    assert np.all(lo.spectral_radius_raw < 1) and np.all(hi.spectral_radius_raw > 1)
    np.testing.assert_allclose(hi.spectral_radius_raw, 1.1, rtol=1e-6)  # |1 − 1.05·2|
    np.testing.assert_allclose(lo.hessian_lambda_max_batch, lo.hessian_lambda_max, rtol=1e-6)  # full batch
    assert lo.config["eta_max"] == pytest.approx(eta_max, rel=1e-6)


def test_throttle_rescues_eta_above_eta_max(affine):
    ds, X, Y, eta_max = affine
    m = one_layer(ds)
    chi = 0.5  # a margin target well inside the stable region (< 2), so "stable" is not a boundary case
    h = m.train_instrumented(X, Y, epochs=200, batch_size=len(X), learning_rate=1.5 * eta_max, chi=chi,
                             use_controller=True, curvature_mode="same_batch")
    assert not h.diverged
    assert h.loss[-1] < 1e-8 * h.loss[0]
    assert h.alpha[0] == 1.0 and np.nanmin(h.alpha) < 1.0
    # [FPT]: for a quadratic the secant lies in [λ_min, λ_max]; the unstable mode drives it to λ_max
    lam_max, lam_min = h.hessian_lambda_max[0], ds.analytic_hessian["lambda_min"]
    C = h.curvature_proxy[1:60]
    assert np.all(C <= lam_max * (1 + 1e-4)) and np.all(C >= lam_min * (1 - 1e-4))
    assert C.max() == pytest.approx(lam_max, rel=0.02)
    # What the controller guarantees: while throttled by a fresh secant, α = χ/(η·ctrl) with
    # ctrl = max(C, EMA) ∈ [λ_min, λ_max], so η_eff·λ_max = χ·λ_max/ctrl, which lies in
    # [χ, χ·λ_max/λ_min]. The identity is exact arithmetic (float64); the bounds hold on any BLAS.
    fresh = (h.alpha < 1) & ~h.curvature_skipped
    assert fresh.sum() > 10
    ctrl = np.maximum(h.curvature_proxy, h.curvature_ema)[fresh]
    margin = h.stability_margin_lambda_ctrl[fresh]
    np.testing.assert_allclose(margin, chi * lam_max / (ctrl + 1e-12), rtol=1e-9)
    assert np.all(margin >= chi * (1 - 1e-4)) and np.all(margin <= chi * lam_max / lam_min * (1 + 1e-4))
    # where the secant sees the unstable mode (ctrl near λ_max) the margin is near χ = 0.5, far below 2
    near = ctrl >= 0.98 * lam_max
    assert near.any() and np.all(margin[near] <= chi / 0.98 * (1 + 1e-9))
    # the same run without the controller diverges; alpha_would still logged
    m.reinitialize_weights()
    base = m.train_instrumented(X, Y, epochs=60, batch_size=len(X), learning_rate=1.5 * eta_max, chi=chi,
                                use_controller=False, curvature_mode="same_batch")
    assert base.loss[-1] > 1e3 * base.loss[0] and np.all(base.alpha == 1.0) and base.alpha_would[-1] < 1.0


def test_curvature_secant_bookkeeping(affine):
    ds, X, Y, eta_max = affine
    m = one_layer(ds)
    h = m.train_instrumented(X, Y, epochs=3, batch_size=64, learning_rate=0.5 * eta_max, curvature_ema_rho=0.5)
    assert h.curvature_skipped[0] and np.isnan(h.curvature_proxy[0])  # no previous step
    assert not h.curvature_skipped[1:].any() and np.all(h.curvature_proxy[1:] > 0)
    c = h.curvature_proxy
    ema = 0.0
    for t in range(1, h.n_steps):
        ema = 0.5 * ema + 0.5 * c[t]
        assert h.curvature_ema[t] == pytest.approx(ema, rel=1e-12)
    ctrl = np.maximum(c[1:], h.curvature_ema[1:])
    np.testing.assert_allclose(h.alpha_would[1:], np.minimum(1.0, 1.5 / (0.5 * eta_max * (ctrl + 1e-12))), rtol=1e-12)


def test_alpha_floor(affine):
    ds, X, Y, eta_max = affine
    h = one_layer(ds).train_instrumented(X, Y, epochs=5, batch_size=32, learning_rate=3 * eta_max, chi=0.01,
                                         use_controller=True, alpha_min=0.2)
    assert np.all(h.alpha >= 0.2) and np.any(h.alpha == 0.2)
    np.testing.assert_allclose(h.eta_eff, h.alpha * 3 * eta_max)


def test_cross_batch_noise_lowers_alpha_compared_with_same_batch(affine):
    """[FPT] failure mode: cross-batch secants see batch noise, so α is throttled harder."""
    ds, X, Y, eta_max = affine
    noisy = AffineDataset(num_samples=256, use_bias=False, seed=0, noise_std=0.3)
    runs = {}
    for mode in ("cross_batch", "same_batch"):
        m = one_layer(noisy)
        runs[mode] = m.train_instrumented(noisy.X, noisy.Y, epochs=4, batch_size=8, learning_rate=0.5 * eta_max,
                                          chi=1.0, use_controller=True, curvature_mode=mode)
    assert np.median(runs["cross_batch"].alpha[8:]) < np.median(runs["same_batch"].alpha[8:])


# ---------------------------------------------------------------- fixed point
def test_round_to_nearest_updates_stall_stochastic_rounding_keeps_learning(affine):
    ds, X, Y, eta_max = affine
    out = {}
    for rnd in ("AP_RND", "S_RND"):
        prec = {"default": {"weight": W12, "update": f"ap_fixed<16,4,{rnd},AP_SAT>"}}
        m = one_layer(ds)
        out[rnd] = m.train_instrumented(X, Y, epochs=400, batch_size=len(X), learning_rate=0.2,
                                        precision_dict=prec, seed=7)
        w = m.model.get_layer("dense0").kernel.numpy()
        np.testing.assert_array_equal(kappa.quantize(w, W12), w)
    rnd, srnd = out["AP_RND"], out["S_RND"]
    assert rnd.update_underflow_fraction_max[-1] == 1.0 and np.all(rnd.update_underflow_fraction_max[-50:] == 1.0)
    assert np.all(rnd.actual_update_norm[-50:] == 0.0) and np.all(rnd.raw_update_norm[-50:] > 0)
    assert rnd.loss[-1] == rnd.loss[-50]  # plateau
    assert rnd.summary()["stalled"] and not srnd.summary()["stalled"]
    assert srnd.loss[-1] < 0.1 * rnd.loss[-1]  # stochastic rounding keeps lowering it
    assert srnd.loss[-1] < srnd.loss[300]
    # a zero applied update skips the secant instead of dividing by zero
    assert rnd.curvature_skipped[-1] and np.isnan(rnd.curvature_proxy[-1])
    assert np.all(np.isfinite(rnd.alpha_would))


def test_quantized_storage_on_grid_for_every_variable(affine):
    ds, X, Y, _ = affine
    prec = {"input": {"value": "ap_fixed<12,2,AP_RND,AP_SAT>"},
            "default": {"weight": "ap_fixed<10,3,AP_RND,AP_SAT>", "bias": "ap_fixed<12,4,AP_RND,AP_SAT>",
                        "accumulator": "ap_fixed<18,6,AP_RND,AP_SAT>", "activation": "ap_fixed<12,4,AP_RND,AP_SAT>",
                        "gradient": "ap_fixed<16,4,AP_RND,AP_SAT>", "update": "ap_fixed<16,3,S_RND,AP_SAT>",
                        "momentum": "ap_fixed<16,5,AP_RND,AP_SAT>"},
            "dense1": {"weight": "ap_fixed<8,2,AP_TRN,AP_WRAP>"}}
    m = LinearBlockModel(dataset=ds, num_hidden=[6], activation="relu", seed=2)
    h = m.train_instrumented(X, Y, epochs=3, batch_size=32, learning_rate=0.05, precision_dict=prec,
                             optimizer="momentum", curvature_mode="same_batch")
    pd = kappa.PrecisionDict(prec)
    for v in m.model.trainable_variables:
        layer, fld = m._layer_and_field_for_variable(v)
        a = v.numpy()
        np.testing.assert_array_equal(kappa.quantize(a, pd.dtype(layer, fld)), a)
    assert h.quantized and np.all(np.isfinite(h.loss))
    for k in ("weight_saturation_fraction_max", "weight_near_rail_fraction_max", "gradient_saturation_fraction_max",
              "gradient_near_rail_fraction_max", "update_saturation_fraction_max", "update_underflow_fraction_max"):
        a = getattr(h, k)
        assert np.all((a >= 0) & (a <= 1)), k
    # training forward (stored weights) == the firmware reference, after training
    from kappa.training_forward import predict_tf

    np.testing.assert_array_equal(predict_tf(m.model, prec, X), m.predict_quantized(X, prec))


def test_precision_none_keeps_floating_point_sgd(affine):
    ds, X, Y, _ = affine
    m = LinearBlockModel(dataset=ds, num_hidden=[5], activation="relu", seed=0)
    w0 = [v.numpy().copy() for v in m.model.trainable_variables]
    Xs = X[:32].astype(np.float32)
    with tf.GradientTape() as tape:
        loss = half_mse_batch_loss(Y[:32].astype(np.float32), m.model(Xs, training=True))
    g = tape.gradient(loss, m.model.trainable_variables)
    h = m.train_instrumented(X[:32], Y[:32], epochs=1, batch_size=32, learning_rate=0.1, shuffle=False)
    assert h.loss[0] == pytest.approx(float(loss), rel=1e-6)
    for v, a, gi in zip(m.model.trainable_variables, w0, g):
        np.testing.assert_allclose(v.numpy(), a - 0.1 * gi.numpy(), rtol=1e-5, atol=1e-7)
    assert not h.quantized
    assert np.all(np.isnan(h.update_underflow_fraction_max)) and np.all(np.isnan(h.weight_saturation_fraction_max))
    assert h.update_cosine[0] == pytest.approx(1.0, abs=1e-6) and h.update_radius_ratio[0] == pytest.approx(1.0, abs=1e-5)


def test_history_has_every_reference_metric(affine):
    ds, X, Y, eta_max = affine
    h = one_layer(ds).train_instrumented(X, Y, epochs=2, batch_size=50, learning_rate=0.3 * eta_max, reference_A=ds.A)
    assert isinstance(h, FitHistory)
    for k in METRIC_NAMES:
        assert getattr(h, k).shape == (12,), k  # ceil(256/50) = 6 steps per epoch
    assert list(h.epoch) == [0] * 6 + [1] * 6
    for k in (
        "loss",
        "rmse",
        "theta_norm",
        "grad_norm",
        "raw_update_norm",
        "actual_update_norm",
        "alpha",
        "alpha_would",
        "eta_eff",
        "forward_gain_spectral",
        "hessian_lambda_max",
        "weight_error_fro",
    ):
        assert np.all(np.isfinite(getattr(h, k))), k
    w = ds.A.T  # forward gain of a one-layer model is its spectral norm
    assert h.forward_gain_spectral[-1] > 0 and np.all(h.finite) and not h.divergence.any()
    np.testing.assert_allclose(np.cos(h.update_angle_rad), h.update_cosine, atol=1e-12)
    assert w.shape == (4, 2)


def test_nan_loss_ends_run_cleanly(affine):
    ds, X, Y, eta_max = affine
    m = one_layer(ds)
    h = m.train_instrumented(X, Y, epochs=3000, batch_size=len(X), learning_rate=3 * eta_max)
    assert h.diverged and 10 < h.n_steps < 3000
    assert h.diverged_at_step == h.n_steps - 1 and not np.isfinite(h.loss[-1])
    assert h.divergence[-1] and not h.divergence[:-1].any() and not h.finite[-1]
    assert np.all(np.isfinite(m.model.get_layer("dense0").kernel.numpy()))  # the bad update was not applied
    s = h.summary()
    assert s["diverged"] and s["diverged_at_step"] == h.n_steps - 1 and not s["stalled"]


def test_momentum_stability_bound(affine):
    """Heavy ball: stable iff η·λ_max < 2 + 2β ([FPT])."""
    ds, X, Y, eta_max = affine
    lam = 2.0 / eta_max
    beta = 0.5
    res = {}
    for f in (0.95, 1.05):
        eta = f * (2 + 2 * beta) / lam
        m = one_layer(ds)
        res[f] = m.train_instrumented(
            X, Y, epochs=300, batch_size=len(X), learning_rate=eta, optimizer="momentum", beta=beta
        )
    assert res[0.95].loss[-1] < 1e-6 * res[0.95].loss[0] and np.all(res[0.95].spectral_radius_raw < 1)
    assert res[1.05].loss[-1] > res[1.05].loss[0] and np.all(res[1.05].spectral_radius_raw > 1)
    for eta, lam_ in ((0.1, 1.0), (3.0, 1.0), (1.0, 0.5)):  # real and complex root pairs
        companion = np.array([[1 + 0.25 - eta * lam_, -0.25], [1.0, 0.0]])
        expected = np.max(np.abs(np.linalg.eigvals(companion)))
        np.testing.assert_allclose(update_map_radius([eta], [lam_], "momentum", 0.25), [expected], rtol=1e-12)


def test_adam_float_and_quantized_state(affine):
    ds, X, Y, _ = affine
    prec = {
        "default": {
            "weight": W12,
            "adam_m": "ap_fixed<20,4,AP_RND,AP_SAT>",
            "adam_v": "ap_ufixed<24,2,AP_RND,AP_SAT>",
            "update": "ap_fixed<16,4,S_RND,AP_SAT>",
        }
    }
    for p in (None, prec):
        h = one_layer(ds).train_instrumented(
            X, Y, epochs=40, batch_size=64, learning_rate=0.02, optimizer="adam", precision_dict=p
        )
        assert h.loss[-1] < 0.05 * h.loss[0]
        assert np.all(np.isnan(h.spectral_radius_raw))


def test_stochastic_rounding_is_seeded(affine):
    ds, X, Y, _ = affine
    prec = {"default": {"weight": W12, "update": "ap_fixed<16,4,S_RND,AP_SAT>"}}
    a, b, c = (
        one_layer(ds).train_instrumented(X, Y, epochs=2, batch_size=32, learning_rate=0.05, precision_dict=prec, seed=s)
        for s in (1, 1, 2)
    )
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.array_equal(a.loss, c.loss)


def test_cached_compiled_step_has_no_stale_state(affine):
    """Re-running on the same model (cached tf.function) equals a fresh model."""
    ds, X, Y, eta_max = affine
    kw = dict(epochs=3, batch_size=32, chi=0.8, use_controller=True, curvature_mode="same_batch")
    m = one_layer(ds)
    m.train_instrumented(X, Y, learning_rate=0.9 * eta_max, **kw)
    m.reinitialize_weights()
    again = m.train_instrumented(X, Y, learning_rate=0.4 * eta_max, **kw)
    fresh = one_layer(ds).train_instrumented(X, Y, learning_rate=0.4 * eta_max, **kw)
    np.testing.assert_array_equal(again.loss, fresh.loss)
    np.testing.assert_array_equal(again.alpha, fresh.alpha)


def test_progress_bar_and_empty_run(affine, capsys):
    ds, X, Y, _ = affine
    m = one_layer(ds)
    h = m.train_instrumented(X, Y, epochs=1, batch_size=64, learning_rate=0.1, progress=True, steps_per_call=2)
    assert h.n_steps == 4
    assert "train_instrumented" in capsys.readouterr().err
    assert m.train_instrumented(X, Y, epochs=0).n_steps == 0


def test_setup_errors(affine):
    ds, X, Y, _ = affine
    m = one_layer(ds)
    with pytest.raises(ValueError, match="float32"):
        m.train_instrumented(X, Y, precision_dict={"default": {"weight": "ap_fixed<32,8>"}})
    assert fits_float32(kappa.FixedPointType.from_string("ap_fixed<25,5>"))
    assert not fits_float32(kappa.FixedPointType.from_string("ap_ufixed<25,5>"))
    with pytest.raises(ValueError, match="S_RND"):
        m.train_instrumented(X, Y, precision_dict={"default": {"weight": "ap_fixed<16,4,S_RND>"}})
    with pytest.raises(ValueError, match="unknown layer"):
        m.train_instrumented(X, Y, precision_dict={"dense7": {"weight": "ap_fixed<16,4>"}})
    for kw in (
        {"curvature_mode": "sideways"},
        {"optimizer": "rmsprop"},
        {"loss_mode": "l1"},
        {"learning_rate": -1.0},
        {"alpha_min": 2.0},
        {"batch_size": 0},
    ):
        with pytest.raises(ValueError):
            m.train_instrumented(X, Y, **kw)
    with pytest.raises(ValueError, match="reference_A"):
        LinearBlockModel(dataset=ds, num_hidden=[3], seed=0).train_instrumented(X, Y, reference_A=ds.A)
    with pytest.raises(ValueError, match="shape"):
        m.train_instrumented(X[:, :3], Y)


def test_keras_mse_loss_mode_scales_hessian(affine):
    ds, X, Y, eta_max = affine
    h = one_layer(ds).train_instrumented(X, Y, epochs=1, batch_size=len(X), learning_rate=0.1, loss_mode="keras_mse")
    np.testing.assert_allclose(h.hessian_lambda_max[0], (2.0 / eta_max) * 2.0 / 2, rtol=1e-6)  # × 2/d_out, d_out = 2
    np.testing.assert_allclose(h.rmse[0] ** 2, h.loss[0], rtol=1e-6)
