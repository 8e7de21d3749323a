"""The observing diagnostics of train_instrumented (kappa.step_metrics) on hand-made vectors:
rail pressure as kappa.rail_stats defines it, the underflow fraction, update geometry,
the spectral gain (exact SVD and the warm-started power iteration) and the teacher error."""

from __future__ import annotations

import numpy as np
import pytest

import kappa
from kappa.step_metrics import StepMetrics

T_W = kappa.FixedPointType.from_string("ap_fixed<6,2>")  # rails -2 and 1.9375
T_B = kappa.FixedPointType.from_string("ap_ufixed<6,2>")  # rails (0) and 3.9375


def _metrics(types_w=(T_W, T_B), grad=(None, None), upd=(None, None), quantized=True, shapes=((2, 2), (3,))):
    return StepMetrics(list(shapes), [0], list(types_w), list(grad), list(upd), quantized)


def test_rails_match_rail_stats_per_variable_max():
    w = np.array([[1.96875, -2.0], [0.5, 1.9]])
    b = np.array([3.9375, 0.0, 3.5])
    theta = np.concatenate([w.ravel(), b])[None, :]
    sm = _metrics(grad=(T_W, None), upd=(None, T_B))
    out = sm(theta, theta, g=theta, u=theta, g_raw=theta)
    r1, r2 = kappa.rail_stats(w, T_W), kappa.rail_stats(b, T_B)
    # 1.96875 lies past the upper rail and -2.0 on the lower one; 1.9 is in the near-rail band
    assert r1 == {"saturation_fraction": 0.5, "near_rail_fraction": 0.75}
    assert r2 == {"saturation_fraction": 1 / 3, "near_rail_fraction": 1 / 3}
    assert out["weight_saturation_fraction_max"][0] == max(r1["saturation_fraction"], r2["saturation_fraction"]) == 0.5
    assert out["weight_near_rail_fraction_max"][0] == max(r1["near_rail_fraction"], r2["near_rail_fraction"])
    assert out["gradient_saturation_fraction_max"][0] == 0.5  # only the kernel has a gradient type
    assert out["update_saturation_fraction_max"][0] == pytest.approx(1 / 3)  # the bias's update type
    # untyped everywhere: zeros, not NaN
    none = _metrics(types_w=(None, None))(theta, theta, g=theta, u=theta, g_raw=theta)
    assert none["weight_saturation_fraction_max"][0] == 0.0 and none["weight_near_rail_fraction_max"][0] == 0.0


def test_underflow_geometry_and_float_run():
    theta = np.zeros((2, 7))
    u = np.zeros((2, 7))
    u[0, :4] = [0.1, 0.2, 0.0, 0.0]  # two nonzero kernel updates
    u[0, 4] = 0.5                    # one nonzero bias update
    new = theta.copy()
    new[0, 0] = 0.1                  # one of the kernel's two updates applied: 1/2 frozen; the bias: 1/1
    u[1] = [3.0, 4.0, 0, 0, 0, 0, 0]
    new[1] = [3.0, 4.0, 0, 0, 0, 0, 0]  # applied exactly: cosine 1, ratio 1
    sm = _metrics()
    out = sm(theta, new, g=u, u=u, g_raw=u)
    assert out["update_underflow_fraction_max"].tolist() == [1.0, 0.0]
    assert out["raw_update_norm"][1] == 5.0 and out["actual_update_norm"][1] == 5.0
    assert out["update_cosine"][1] == 1.0 and out["update_radius_ratio"][1] == 1.0
    assert out["update_radius_ratio"][0] == pytest.approx(0.1 / np.sqrt(0.01 + 0.04 + 0.25))
    assert out["update_cosine"][0] == pytest.approx(0.1 * 0.1 / (0.1 * np.sqrt(0.3)))
    # a step whose update is all zero: cosine and ratio undefined (NaN), not 0
    zero = sm(theta[:1], theta[:1], g=theta[:1], u=theta[:1])
    assert np.isnan(zero["update_cosine"][0]) and np.isnan(zero["update_radius_ratio"][0])
    flt = _metrics(types_w=(None, None), quantized=False)(theta, new, g=u, u=u)
    assert all(np.isnan(flt[k]).all() for k in ("weight_saturation_fraction_max", "update_underflow_fraction_max"))


def test_spectral_gain_exact_and_power_iteration():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(3, 2, 5))     # smaller side 2 <= 16: exact SVD per step
    big = rng.normal(size=(3, 40, 20))     # 20 > 16: warm-started power iteration
    theta = np.concatenate([small.reshape(3, -1), big.reshape(3, -1)], axis=1)
    sm = StepMetrics([(2, 5), (40, 20)], [0, 1], [None, None], [None, None], [None, None], False)
    sm.reset(reference_A=np.ones((5, 2)))
    exact = np.linalg.svd(small, compute_uv=False)[:, 0] * np.linalg.svd(big, compute_uv=False)[:, 0]
    got = sm(theta, theta, g=theta, u=theta)
    # the power iteration is a lower bound after 2 iterations from a random vector ...
    assert np.all(got["forward_gain_spectral"] <= exact * (1 + 1e-12))
    # ... that converges when the matrix stays (here: the same matrix, repeated)
    same = np.repeat(theta[:1], 60, axis=0)
    sm.reset()
    conv = sm(same, same, g=same, u=same)["forward_gain_spectral"]
    assert conv[-1] == pytest.approx(exact[0], rel=1e-6) and conv[0] < conv[-1]
    sm.reset(reference_A=np.ones((5, 2)))
    err = sm(theta, theta, g=theta, u=theta)["weight_error_fro"]
    np.testing.assert_allclose(err, np.linalg.norm(small - 1.0, axis=(1, 2)))
    # a non-finite kernel gives NaN, not an exception
    bad = theta.copy()
    bad[1, 0] = np.nan
    assert np.isnan(sm(bad, bad, g=bad, u=bad)["forward_gain_spectral"][1])


def test_compiled_passes_equal_the_numpy_definitions():
    """kappa.metric_kernels against numpy on random vectors with values on and past the rails,
    NaNs, unchanged updates and an untyped variable: counts equal, sums within rounding."""
    from kappa import metric_kernels

    rng = np.random.default_rng(11)
    shapes, types = [(8, 5), (5,), (5, 3)], [T_W, None, T_B]
    sm = StepMetrics(shapes, [0, 2], types, types, types, True)
    S, P = 9, sm.size
    theta = np.round(rng.uniform(-2.5, 4.5, (S, P)) * 16) / 16  # many values on and past the rails
    new = np.where(rng.random((S, P)) < 0.3, theta, theta + np.round(rng.normal(0, 0.2, (S, P)) * 16) / 16)
    u = np.where(rng.random((S, P)) < 0.2, 0.0, rng.normal(0, 0.1, (S, P)))
    g = rng.normal(0, 2, (S, P))
    new[3, 7] = np.nan
    sums, counts = metric_kernels.row_stats(theta, new, g, u, g, sm.offsets, sm._rail_table)
    d = new - theta
    np.testing.assert_allclose(sums, np.stack([(theta**2).sum(1), (g**2).sum(1), (u**2).sum(1), (d**2).sum(1),
                                                (d * u).sum(1)], axis=1), rtol=1e-12)
    for k, t in enumerate(types):
        sl = slice(sm.offsets[k], sm.offsets[k + 1])
        lo = t.min if t is not None and t.signed else -np.inf
        hi = t.max if t is not None else np.inf
        band = 0.0 if t is None else 0.05 * (t.max - t.min)
        with np.errstate(invalid="ignore"):
            want = [(new[:, sl] >= hi) | (new[:, sl] <= lo),
                    (new[:, sl] >= hi - band) | (new[:, sl] <= lo + band),
                    (g[:, sl] >= hi) | (g[:, sl] <= lo), (g[:, sl] >= hi - band) | (g[:, sl] <= lo + band),
                    (u[:, sl] >= hi) | (u[:, sl] <= lo), u[:, sl] != 0, (u[:, sl] != 0) & (new[:, sl] == theta[:, sl])]
        np.testing.assert_array_equal(counts[:, k, :], np.stack([w.sum(1) for w in want], axis=1), err_msg=str(t))
    assert counts[:, 0, 0].max() > 0 and counts[:, 2, 6].max() > 0  # the cases occur
    # θ_t and SGD's u rebuilt in the pass (θ_0 then θ_{t+1} before; -η_eff g) are the same numbers
    eta = rng.uniform(0.01, 0.1, S)
    chained = np.concatenate([theta[:1], new[:-1]])
    sgd_u = (-eta)[:, None] * g
    want_sums, want_counts = metric_kernels.row_stats(chained, new, g, sgd_u, g, sm.offsets, sm._rail_table)
    got_sums, got_counts = metric_kernels.row_stats(None, new, g, None, g, sm.offsets, sm._rail_table,
                                                    theta0=theta[0], eta=eta)
    np.testing.assert_array_equal(got_sums, want_sums)
    np.testing.assert_array_equal(got_counts, want_counts)
    with pytest.raises(ValueError, match="theta0"):
        metric_kernels.row_stats(None, new, g, u, g, sm.offsets, sm._rail_table)
    # the power iteration: the numpy loop of the definition, step by step
    v0 = rng.normal(size=3)
    gain, v = metric_kernels.power_gain(new[:2], int(sm.offsets[2]), 5, 3, v0)
    ref_v = v0.copy()
    for i in range(2):
        W = new[i, sm.offsets[2]:sm.offsets[3]].reshape(5, 3)
        for _ in range(2):
            nv = W.T @ (W @ ref_v)
            ref_v = nv / np.linalg.norm(nv)
        assert gain[i] == pytest.approx(np.linalg.norm(W @ ref_v), rel=1e-12)
    np.testing.assert_allclose(v, ref_v, rtol=1e-12)
