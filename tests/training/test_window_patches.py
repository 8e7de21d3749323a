"""kappa's window gather (``kappa.layers.conv.window_patches``) against TensorFlow's
``extract_patches``: the same values and the same gradients, bit for bit, so training with it
is bit-identical to training with ``extract_patches``."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from kappa.layers.conv import window_patches  # noqa: E402


@pytest.mark.parametrize("shape, kernel, strides", [
    ((5, 10, 10, 1), (3, 3), (1, 1)),    # the digits CNN's padded input
    ((3, 1, 20, 1), (1, 4), (1, 2)),     # a one-channel signal, strided windows
    ((4, 8, 8, 3), (2, 2), (2, 2)),      # 2x2 max pooling
    ((3, 1, 36, 8), (1, 5), (1, 1)),     # Conv1D as a 1-row image
    ((2, 9, 7, 4), (3, 2), (2, 3)),      # uneven kernel and strides, a ragged border
    ((3, 9, 7, 4), (2, 2), (2, 2)),      # non-overlapping windows with a ragged border (reshape path)
    ((2, 1, 20, 3), (1, 3), (1, 3)),     # non-overlapping 1-D windows, a ragged end
    ((2, 6, 6, 2), (3, 2), (3, 2)),      # non-overlapping, uneven kernel
])
def test_values_and_gradients_equal_extract_patches(shape, kernel, strides):
    rng = np.random.default_rng(sum(shape))
    # values with many mantissa bits, so a different order of the gradient's additions would show
    x = tf.constant(rng.normal(size=shape) * np.exp(rng.normal(size=shape) * 4))
    (kh, kw), (sh, sw) = kernel, strides
    ref = tf.image.extract_patches(x, [1, kh, kw, 1], [1, sh, sw, 1], [1, 1, 1, 1], "VALID")
    up = tf.constant(rng.normal(size=ref.shape) * np.exp(rng.normal(size=ref.shape) * 4))
    outs, grads = [], []
    for fn in (lambda v: window_patches(v, kernel, strides),
               lambda v: tf.image.extract_patches(v, [1, kh, kw, 1], [1, sh, sw, 1], [1, 1, 1, 1], "VALID")):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * up)
        outs.append(y.numpy())
        grads.append(tape.gradient(loss, x).numpy())
    assert outs[0].shape == outs[1].shape and outs[0].shape[0] == shape[0]
    np.testing.assert_array_equal(outs[0], outs[1])
    # overlapping windows sum several terms per pixel: adding them in another order changes
    # about 40 % of these gradients (checked by hand), so equality is a test of the order
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("k, s", [(3, 1), (2, 2)])
def test_unknown_batch_size_in_a_function(channels, k, s):
    f = tf.function(lambda v: window_patches(v, (k, k), (s, s)),
                    input_signature=[tf.TensorSpec([None, 6, 6, channels], tf.float64)])
    x = np.arange(2 * 6 * 6 * channels, dtype=np.float64).reshape(2, 6, 6, channels)
    np.testing.assert_array_equal(f(x).numpy(), tf.image.extract_patches(x, [1, k, k, 1], [1, s, s, 1], [1, 1, 1, 1],
                                                                          "VALID").numpy())
