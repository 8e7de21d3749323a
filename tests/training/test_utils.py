"""Tests for kappa.utils (numbers are hand-computed or independently derived)."""

import math

import numpy as np
import pytest

from kappa.utils import (
    analytic_single_dense_hessian,
    flatten_tensors,
    half_mse_batch_loss,
    hessian_metrics_np,
    safe_cosine,
    stability_metrics_from_hessian,
    tensor_l2_norm,
    uniform_input_lambda_max,
)

tf = pytest.importorskip("tensorflow")


# ---------------------------------------------------------------- flatten_tensors
def test_flatten_tensors_order_and_none_skipped():
    v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    t = tf.constant([10.0, 11.0], dtype=tf.float32)
    a = np.array([[20.0], [21.0]], dtype=np.float32)
    out = flatten_tensors([v, None, t, a, tf.constant(30.0)])
    assert out.shape == (11,)
    assert out.dtype == tf.float32
    np.testing.assert_array_equal(
        out.numpy(), [0, 1, 2, 3, 4, 5, 10, 11, 20, 21, 30]
    )


def test_flatten_tensors_keras_kernel_is_row_major():
    kernel = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (d_in=3, d_out=2)
    out = flatten_tensors([kernel]).numpy()
    i, j = 2, 1
    assert out[i * 2 + j] == kernel[i, j] == 6.0


def test_flatten_tensors_dtype_promotion_and_empty():
    out = flatten_tensors([np.ones(2, np.float32), np.ones(3, np.float64)])
    assert out.dtype == tf.float64 and out.shape == (5,)
    assert flatten_tensors([None, None]).shape == (0,)
    assert flatten_tensors([np.ones(2)], dtype=tf.float32).dtype == tf.float32


# ---------------------------------------------------------------- half_mse
def test_half_mse_hand_computed():
    y_true = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]])
    y_pred = np.array([[1.5, 2.0, 0.0], [3.0, 2.0, 2.0]])
    # errors: 0.5, 0, 0, 0, -2, 1 -> sum sq = 0.25 + 4 + 1 = 5.25; / (2*2) = 1.3125
    loss = half_mse_batch_loss(tf.constant(y_true), tf.constant(y_pred))
    assert float(loss) == pytest.approx(1.3125, abs=1e-12)
    # relation to Keras mse (mean over all entries): keras = 2*half/d_out
    assert float(np.mean((y_pred - y_true) ** 2)) == pytest.approx(2 * 1.3125 / 3)


def test_half_mse_casts_y_true():
    loss = half_mse_batch_loss(np.array([[1], [2]], dtype=np.int32), tf.constant([[0.0], [0.0]]))
    assert loss.dtype == tf.float32
    assert float(loss) == pytest.approx((1 + 4) / 4)
    with pytest.raises(ValueError, match="shape"):
        half_mse_batch_loss(np.zeros(4), tf.zeros((4, 1)))


# ---------------------------------------------------------------- tensor_l2_norm
def test_tensor_l2_norm_values():
    assert float(tensor_l2_norm(tf.constant([3.0, 4.0]))) == pytest.approx(5.0)
    assert float(tensor_l2_norm(np.zeros((2, 2), np.float32))) == 0.0
    assert float(tensor_l2_norm([np.array([3.0]), None, np.array([[4.0]])])) == pytest.approx(5.0)
    # 3e30^2 overflows float32; the scaled norm does not
    big = tf.constant([3e30, 4e30], dtype=tf.float32)
    assert math.isinf(float(tf.norm(big)))
    assert float(tensor_l2_norm(big)) == pytest.approx(5e30, rel=1e-6)
    assert math.isnan(float(tensor_l2_norm(tf.constant([1.0, float("nan")]))))
    assert math.isinf(float(tensor_l2_norm(tf.constant([1.0, float("inf")]))))


# ---------------------------------------------------------------- safe_cosine
def test_safe_cosine_cases():
    a = np.array([1.0, 2.0, -3.0])
    assert safe_cosine(a, 2.5 * a) == pytest.approx(1.0)
    assert safe_cosine(a, -a) == pytest.approx(-1.0)
    assert safe_cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert safe_cosine([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(safe_cosine(a, np.zeros(3)))
    assert math.isnan(safe_cosine(np.zeros(3), np.zeros(3)))
    assert safe_cosine(tf.constant([1.0, 1.0]), tf.constant([2.0, 2.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        safe_cosine([1.0, 2.0], [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- Hessian helpers
def test_analytic_hessian_kron_structure():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 3))
    G = X.T @ X / 50
    H = analytic_single_dense_hessian(X, d_out=2)
    assert H.shape == (6, 6)
    np.testing.assert_allclose(H[:3, :3], G, rtol=1e-14)
    np.testing.assert_allclose(H[3:, 3:], G, rtol=1e-14)
    assert np.all(H[:3, 3:] == 0) and np.all(H[3:, :3] == 0)
    Hb = analytic_single_dense_hessian(X, d_out=2, use_bias=True)
    assert Hb.shape == (8, 8)
    np.testing.assert_allclose(Hb[:3, 3], X.mean(axis=0), rtol=1e-14)
    assert Hb[3, 3] == 1.0
    with pytest.raises(ValueError):
        analytic_single_dense_hessian(X, d_out=0)
    with pytest.raises(ValueError):
        analytic_single_dense_hessian(X, d_out=1, layout="bogus")


def test_analytic_hessian_matches_tf_autodiff_keras_layout():
    """H for layout='keras' equals the autodiff Hessian of half-MSE w.r.t. flatten([kernel, bias])."""
    rng = np.random.default_rng(1)
    n, d_in, d_out = 7, 3, 2
    X = rng.uniform(size=(n, d_in))
    Y = rng.normal(size=(n, d_out))
    kernel = tf.Variable(rng.normal(size=(d_in, d_out)))
    bias = tf.Variable(rng.normal(size=(d_out,)))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = half_mse_batch_loss(Y, tf.constant(X) @ kernel + bias)
        g = flatten_tensors(inner.gradient(loss, [kernel, bias]))
    jac = outer.jacobian(g, [kernel, bias])
    H_tf = np.concatenate([tf.reshape(j, (g.shape[0], -1)).numpy() for j in jac], axis=1)
    H = analytic_single_dense_hessian(X, d_out, use_bias=True, layout="keras")
    np.testing.assert_allclose(H, H_tf, atol=1e-12)
    # output-major layout is a permutation of the same matrix: same spectrum
    H_om = analytic_single_dense_hessian(X, d_out, use_bias=True)
    np.testing.assert_allclose(np.linalg.eigvalsh(H_om), np.linalg.eigvalsh(H), atol=1e-12)


def test_stability_metrics_known_eigs():
    m = stability_metrics_from_hessian([1.0, 4.0], eta=0.4)
    assert m["stability_margin"] == pytest.approx(1.6)
    assert m["spectral_radius"] == pytest.approx(0.6)  # max(|1-0.4|, |1-1.6|)
    assert m["lambda_max"] == 4.0 and m["lambda_min"] == 1.0
    assert m["eta_max"] == pytest.approx(0.5)
    assert m["stable"] is True
    m2 = stability_metrics_from_hessian(np.diag([1.0, 4.0]), eta=0.6)
    assert m2["stability_margin"] == pytest.approx(2.4)
    assert m2["spectral_radius"] == pytest.approx(1.4)
    assert m2["stable"] is False
    with pytest.raises(ValueError):
        stability_metrics_from_hessian([1.0], eta=-0.1)


def test_hessian_metrics_np():
    m = hessian_metrics_np(np.array([[2.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(m["eigenvalues"], [1.0, 3.0])
    assert m["lambda_max"] == pytest.approx(3.0)
    assert m["lambda_min"] == pytest.approx(1.0)
    assert m["eta_max"] == pytest.approx(2 / 3)
    assert m["condition_number"] == pytest.approx(3.0)
    assert hessian_metrics_np(np.diag([0.0, 2.0]))["condition_number"] == math.inf
    with pytest.raises(ValueError):
        hessian_metrics_np(np.ones((2, 3)))
    with pytest.raises(ValueError):
        hessian_metrics_np(np.array([[1.0, 2.0], [0.0, 1.0]]))


@pytest.mark.parametrize("d", [1, 2, 4, 7])
def test_uniform_input_lambda_max_closed_form(d):
    # independent: build E[x~ x~^T] for x ~ U[0,1]^d and diagonalise numerically
    M = np.eye(d) / 12 + np.ones((d, d)) / 4
    assert uniform_input_lambda_max(d) == pytest.approx(np.linalg.eigvalsh(M)[-1], rel=1e-12)
    Mb = np.ones((d + 1, d + 1))
    Mb[:d, :d] = M
    Mb[:d, d] = Mb[d, :d] = 0.5
    assert uniform_input_lambda_max(d, use_bias=True) == pytest.approx(
        np.linalg.eigvalsh(Mb)[-1], rel=1e-12
    )
