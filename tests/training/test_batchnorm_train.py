"""kappa's training-mode batch normalization (``batchnorm.batch_normalize_tf``) against
``tf.nn.moments`` + ``tf.nn.batch_normalization`` and TensorFlow's own gradient of them:
the same values and the same gradients, bit for bit, so training with it is bit-identical."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from kappa.layers.batchnorm import batch_normalize_tf  # noqa: E402


def _reference(x, gamma, beta, eps):
    mean, var = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, eps), mean, var


@pytest.mark.parametrize("shape, dtype, scalar_affine", [
    ((32, 8, 8, 8), np.float64, False),   # the digits CNN's convolution output
    ((7, 5, 3, 4), np.float64, False),    # counts that are not powers of two
    ((32, 28, 8), np.float64, False),     # a Conv1D output
    ((20, 16), np.float64, False),        # after a Dense
    ((9, 6, 5, 3), np.float32, False),
    ((10, 4, 4, 3), np.float64, True),    # scale=False, center=False: scalar gamma and beta
])
def test_values_and_gradients_equal_tensorflows(shape, dtype, scalar_affine):
    rng = np.random.default_rng(sum(shape))
    c = shape[-1]
    for trial in range(4):
        # values with many mantissa bits and channels of very different scales
        x = tf.constant((rng.normal(size=shape) * np.exp(rng.normal(size=c) * 2) + rng.normal(size=c)).astype(dtype))
        if scalar_affine:
            gamma, beta = tf.constant(1.0, dtype), tf.constant(0.0, dtype)
        else:
            gamma = tf.constant(rng.normal(size=c).astype(dtype))
            beta = tf.constant(rng.normal(size=c).astype(dtype))
        up = tf.constant(rng.normal(size=shape).astype(dtype))
        eps = float(rng.choice([1e-3, 1e-5]))
        got = []
        for fn in (batch_normalize_tf, _reference):
            with tf.GradientTape() as tape:
                tape.watch([x, gamma, beta])
                y, mean, var = fn(x, gamma, beta, eps)
                loss = tf.reduce_sum(y * up)
            got.append([y, mean, var, *tape.gradient(loss, [x, gamma, beta])])
        for name, a, b in zip(["y", "mean", "var", "dx", "dgamma", "dbeta"], *got):
            assert a.shape == b.shape, name
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name} (trial {trial})")


def test_inside_a_function_with_unknown_batch():
    spec = tf.TensorSpec([None, 4, 4, 3], tf.float64)
    gamma, beta = tf.constant([1.5, -0.5, 2.0], tf.float64), tf.constant([0.1, 0.2, -0.3], tf.float64)

    def run(fn):
        @tf.function(input_signature=[spec])
        def f(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x, gamma, beta, 1e-3)[0]
                loss = tf.reduce_sum(tf.sin(y))
            return y, tape.gradient(loss, x)
        return f

    x = np.random.default_rng(3).normal(size=(6, 4, 4, 3))
    for a, b in zip(run(batch_normalize_tf)(x), run(_reference)(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mean_and_variance_carry_no_gradient():
    x = tf.constant(np.random.default_rng(4).normal(size=(8, 3)))
    one = tf.constant(np.ones(3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, mean, var = batch_normalize_tf(x, one, one * 0, 1e-3)
        loss = tf.reduce_sum(mean) + tf.reduce_sum(var)
    assert tape.gradient(loss, x) is None
