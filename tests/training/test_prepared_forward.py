"""The training forward's data side computed ahead (``TrainingForward.prepare``): a forward on
``prepare(X).rows(s, n)`` equals the forward on ``X[s:s+n]`` value for value and gradient for
gradient, for the layers that prepare something (a first Conv2D/Conv1D with rounded products,
a first Dense, a point-wise Dense) and for one that does not (BatchNormalization first)."""

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from kappa.training_forward import TrainingForward  # noqa: E402

ROUNDED = {  # 7 + 7 product bits onto a 12-bit grid: 2 bits dropped, products rounded one by one
    "input": {"value": "ap_fixed<9,2,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>", "bias": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
                "accumulator": "ap_fixed<22,10,AP_RND,AP_SAT>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
}


def _model(kind):
    keras.utils.set_random_seed(3)
    if kind == "conv2d":
        shape, layers = (6, 6, 2), [keras.layers.Conv2D(3, 3, padding="same", name="c0"),
                                     keras.layers.ReLU(name="r0"), keras.layers.Flatten(name="f"),
                                     keras.layers.Dense(2, name="d")]
    elif kind == "conv1d":
        shape, layers = (12, 3), [keras.layers.Conv1D(4, 3, strides=2, name="c0"), keras.layers.Flatten(name="f"),
                                  keras.layers.Dense(2, name="d")]
    elif kind == "dense":
        shape, layers = (7,), [keras.layers.Dense(5, activation="relu", name="d0"), keras.layers.Dense(2, name="d1")]
    elif kind == "pointwise":
        shape, layers = (4, 3), [keras.layers.Dense(5, name="d0"), keras.layers.Flatten(name="f"),
                                 keras.layers.Dense(2, name="d1")]
    else:  # batchnorm first: only the input is prepared
        shape, layers = (5,), [keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(2, name="d")]
    inp = keras.Input(shape, name="x")
    y = inp
    for layer in layers:
        y = layer(y)
    return keras.Model(inp, y), shape


@pytest.mark.parametrize("kind", ["conv2d", "conv1d", "dense", "pointwise", "batchnorm"])
def test_prepared_rows_give_the_same_values_and_gradients(kind):
    model, shape = _model(kind)
    rng = np.random.default_rng(len(kind))
    X = rng.uniform(-2.5, 2.5, (23, *shape)).astype(np.float32)
    fwd = TrainingForward(model, ROUNDED, params_on_grid=False)
    prepared = fwd.prepare(tf.constant(X))
    first = fwd.plan[0].name
    if kind != "batchnorm":  # the first layer's operand rows, and their residues (rounded products)
        assert set(prepared.steps[first]) == {"x", "xc", "a", "hot"}
    else:
        assert prepared.steps == {}
    params = [tf.cast(v, tf.float64) for v in model.trainable_variables]
    targets = rng.normal(size=(23, 2)).astype(np.float32)
    carried = dataclasses.replace(prepared, extra=[tf.constant(targets)])
    for start, size in [(0, 8), (8, 8), (16, 7)]:
        np.testing.assert_array_equal(carried.rows(tf.constant(start), tf.constant(size)).extra[0].numpy(),
                                      targets[start:start + size])
        outs, grads = [], []
        for x in (prepared.rows(start, size), tf.constant(X[start:start + size])):
            with tf.GradientTape() as tape:
                tape.watch(params)
                y = fwd(x, params=params, training=True, update_stats=False)
                loss = tf.reduce_sum(y * y)
            outs.append(y.numpy())
            grads.append([g.numpy() for g in tape.gradient(loss, params)])
        assert outs[0].shape == (size, 2)
        np.testing.assert_array_equal(outs[0], outs[1])
        for a, b in zip(*grads):
            np.testing.assert_array_equal(a, b)
    assert prepared.bytes_per_sample() >= X[0].size * (4 + 8)  # raw float32 + quantized float64 inputs
