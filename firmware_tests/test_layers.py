"""The firmware matrix for convolutions, pooling, reshaping and io_stream: every case is
converted with hls4ml, C-simulated with g++ and must reproduce ``kappa.predict_quantized``
with 0 mismatching bits, in each I/O mode and strategy it names (one parametrised harness,
``firmware_tests/harness.py``: a small case per family).

Each case also asserts that it exercises what it claims: saturation or wrap-around in
narrow accumulators, rounding of products, ``same`` padding reaching the borders,
pooling over negative values, and the places where hls4ml's io_parallel and io_stream
pooling compute different bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kappa import predict_quantized

from .conftest import chain, dense_chain, uniform
from .harness import LayerCase, expand, run_case, widened

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "models"
PAR, STREAM = {"io_type": "io_parallel"}, {"io_type": "io_stream"}


# --------------------------------------------------------------------- convolutions
CONV1D_P = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<18,8>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    # saturating, and fewer fractional bits than input x weight (7 + 6): products are rounded
    "conv0": {"accumulator": "ap_fixed<9,4,AP_RND,AP_SAT>", "activation": "ap_ufixed<9,4,AP_RND,AP_SAT>"},
}


def _conv1d_model():
    """Conv1D, stride 2, ``same`` padding (one zero column at each border), fused ReLU; a
    bias-less valid Conv1D; Flatten; Dense."""
    import keras

    return chain((11, 3), [keras.layers.Conv1D(4, 3, strides=2, padding="same", activation="relu", name="conv0"),
                           keras.layers.Conv1D(2, 2, padding="valid", use_bias=False, name="conv1"),
                           keras.layers.Flatten(name="flatten"), keras.layers.Dense(3, name="dense0")],
                 seed=3, weight_scale=2.0)


def _conv1d_exercises(model, P, X, options):
    # the saturating 9-bit accumulator matters, and the border outputs see the padding
    wide = widened(P, "conv0", accumulator="ap_fixed<24,10>")
    assert np.mean(predict_quantized(model, P, X) != predict_quantized(model, wide, X)) > 0.2
    Xb = X.copy()
    Xb[:, [0, -1], :] = 0.0
    assert not np.array_equal(predict_quantized(model, P, X), predict_quantized(model, P, Xb))


CONV2D_P = {
    "input": {"value": "ap_fixed<9,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<20,9>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    "conv0": {"accumulator": "ap_fixed<12,4,AP_TRN,AP_WRAP>", "activation": "ap_fixed<10,4,AP_RND,AP_WRAP>"},
    "activation0": {"activation": "ap_ufixed<8,3,AP_RND_CONV,AP_SAT>"},
}


def _conv2d_model():
    """Conv2D 3x3, stride 2, ``same`` padding on a 7x7 image, a separate ReLU, then a 2x2
    valid Conv2D, Flatten and Dense."""
    import keras

    return chain((7, 7, 2), [keras.layers.Conv2D(3, (3, 3), strides=(2, 2), padding="same", name="conv0"),
                             keras.layers.Activation("relu", name="activation0"),
                             keras.layers.Conv2D(2, (2, 2), padding="valid", name="conv1"),
                             keras.layers.Flatten(name="flatten"), keras.layers.Dense(4, name="dense0")],
                 seed=5, weight_scale=3.0)


def _wraps(layer, fraction):
    """Exercise check: widening ``layer``'s accumulator changes more than ``fraction`` of the outputs."""
    def check(model, P, X, options):
        wide = widened(P, layer, accumulator="ap_fixed<24,10>")
        assert np.mean(predict_quantized(model, P, X) != predict_quantized(model, wide, X)) > fraction
    return check


# --------------------------------------------------------------------- pooling
POOL_P = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    # fewer fractional bits than the input: io_parallel rounds partial sums, io_stream each input
    "pool0": {"accumulator": "ap_fixed<9,4,AP_RND,AP_SAT>", "activation": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "pool1": {"accumulator": "ap_fixed<8,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<9,3,AP_TRN,AP_SAT>"},
    "pool2": {"accumulator": "ap_fixed<7,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"},
}
# 1-D: max pooling keeps the input grid; a sign-dependent rounding in the average's accumulator
POOL1D_P = widened(widened(POOL_P, "pool0", accumulator="ap_fixed<12,4,AP_RND,AP_SAT>"),
                   "pool1", accumulator="ap_fixed<8,3,AP_TRN_ZERO,AP_WRAP>")


def _pool2d_model():
    import keras

    return chain((8, 8, 2), [keras.layers.AveragePooling2D((2, 2), name="pool0"),
                             keras.layers.MaxPooling2D((2, 2), name="pool1"),
                             keras.layers.GlobalAveragePooling2D(name="pool2")])


def _pool1d_model():
    import keras

    return chain((12, 3), [keras.layers.MaxPooling1D(3, name="pool0"),
                           keras.layers.AveragePooling1D(3, strides=1, name="pool1"),
                           keras.layers.GlobalMaxPooling1D(name="pool2")])


def _modes_differ(layer):
    """Exercise check: the io_parallel and io_stream orders of casts really give different
    averages at ``layer``, over mostly negative inputs."""
    def check(model, P, X, options):
        from kappa.firmware_forward import layer_outputs

        par, stream = (dict(layer_outputs(model, P, X, io_type=m)) for m in ("io_parallel", "io_stream"))
        assert np.mean(par[layer] != stream[layer]) > 0.05
        assert np.mean(X < 0) > 0.7
    return check


def _gmax2d_model():
    import keras

    return chain((5, 4, 3), [keras.layers.GlobalMaxPooling2D(name="gmax")])


def _same_pool_model():
    import keras

    return chain((5, 5, 2), [keras.layers.MaxPooling2D((2, 2), padding="same", name="pool0"),
                             keras.layers.AveragePooling2D((2, 2), padding="same", name="pool1"),
                             keras.layers.Flatten(name="flatten")])


SAME_POOL_P = {"input": {"value": "ap_ufixed<8,2,AP_RND,AP_SAT>"},
               "pool0": {"accumulator": "ap_ufixed<8,2>", "activation": "ap_ufixed<8,2>"},
               "pool1": {"accumulator": "ap_ufixed<12,4,AP_RND,AP_SAT>", "activation": "ap_ufixed<8,2,AP_RND,AP_SAT>"}}


def _same_pool_exercises(model, P, X, options):
    # Max sees hls4ml's pad value, the unsigned input type's top bit (2**(I-1) = 2.0 here), which
    # beats every input below it; Average divides by the cells inside the image. The corner
    # window holds only the padded border's pad value.
    Y = predict_quantized(model, P, X).reshape(len(X), 2, 2, 2)
    assert np.all(Y[:, 1, 1, :] == 2.0)


# --------------------------------------------------------------------- Dense under io_stream
def _dense_stream_model():
    """A fused and a separate ReLU, a narrow WRAP accumulator."""
    return dense_chain(12, [("dense", (8, "relu", True)), ("dense", (6, None, True)), ("act", "relu"),
                            ("dense", (4, None, True))], seed=31, weight_scale=2.0)


DENSE_STREAM_P = {
    "default": {
        "weight": "ap_fixed<8,2,AP_RND>",
        "bias": "ap_fixed<8,2>",
        "accumulator": "ap_fixed<11,4>",
        "activation": "ap_fixed<10,4,AP_RND,AP_WRAP>",
    },
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "activation0": {"activation": "ap_ufixed<8,3,AP_RND,AP_SAT>"},
}


def _dense_stream_exercises(model, P, X, options):
    wide = dict(P, default=dict(P["default"], accumulator="ap_fixed<24,10>"))
    assert np.mean(predict_quantized(model, P, X) != predict_quantized(model, wide, X)) > 0.05


# --------------------------------------------------------------------- a real trained network
def keras2_conv1d_small(softmax: bool = True):
    """hls4ml's example model ``KERAS_conv1d_small`` (Keras 2 JSON + HDF5 weights) read by
    ``kappa.load_model``, ending in its softmax (``softmax=False``: up to its logits)."""
    import keras

    from kappa.loading import load_model

    model = load_model(FIXTURES / "KERAS_conv1d_small.json", FIXTURES / "KERAS_conv1d_small_weights.h5")
    assert model.layers[-1].get_config()["activation"] == "softmax"
    if not softmax:
        model.layers[-1].activation = keras.activations.linear
    return model


CONV1D_SMALL_P = {
    "input": {"value": "ap_fixed<12,4,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
        "bias": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
        "accumulator": "ap_fixed<22,10,AP_RND,AP_SAT>",
        "activation": "ap_fixed<14,6,AP_RND,AP_SAT>",
    },
    # The softmax input is the Dense accumulator ap_fixed<22,10>: hls4ml's default inp_norm_t
    # (ap_ufixed<21,9>) addresses the 1024-entry exp table with steps of 0.5, so logits less
    # than 0.5 below the largest all count as exp(0) = 1 and the argmax goes to the first of
    # them (hls4ml issue #1512). A narrower inp_norm (steps of 1/64) keeps the order.
    "output_softmax": {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>", "inp_norm": "ap_ufixed<14,4,AP_RND,AP_SAT>"},
}


def _conv1d_small_exercises(model, P, X, options):
    io_type = options["io_type"]
    assert [type(layer).__name__ for layer in model.layers[1:]] == ["Conv1D"] * 3 + ["Flatten", "Dense", "Dense"]
    assert model.layers[-1].activation.__name__ == "softmax"
    float_out = model.predict(X.astype(np.float32), verbose=0)
    fw = predict_quantized(model, P, X, io_type=io_type)
    assert np.mean(np.argmax(fw, 1) == np.argmax(float_out, 1)) > 0.9  # trained weights, sensible types
    # the default inv_inp (ap_fixed<18,8>) addresses the 1024-entry 1/x table in steps of 1/4: rows sum to 1..1.25
    assert np.max(np.abs(fw - float_out)) < 0.1 and np.all(np.abs(fw.sum(1) - 1.1) < 0.15)
    P_default = dict(P, output_softmax={"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>"})
    fw_default = predict_quantized(model, P_default, X, io_type=io_type)
    assert np.mean(np.argmax(fw_default, 1) == np.argmax(float_out, 1)) < 0.6


def _rng_inputs(seed, low, high, shape, n=300):
    return lambda: np.random.default_rng(seed).uniform(low, high, (n, *shape))


CASES = [
    LayerCase(
        "conv1d_same_s2", _conv1d_model, CONV1D_P, _rng_inputs(1, -4, 4, (11, 3)), (PAR, STREAM), _conv1d_exercises
    ),
    LayerCase(
        "conv2d_same_s2",
        _conv2d_model,
        CONV2D_P,
        _rng_inputs(2, -4, 4, (7, 7, 2), n=250),
        (PAR, STREAM, {"io_type": "io_parallel", "strategy": "Resource", "reuse_factor": 2}),
        _wraps("conv0", 0.2),
    ),
    LayerCase("pool1d", _pool1d_model, POOL1D_P, _rng_inputs(1, -7, 2, (12, 3)), (PAR, STREAM), _modes_differ("pool1")),
    LayerCase("pool2d", _pool2d_model, POOL_P, _rng_inputs(2, -7, 2, (8, 8, 2)), (PAR, STREAM), _modes_differ("pool0")),
    LayerCase(
        "gmax2d",
        _gmax2d_model,
        {
            "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
            "gmax": {"accumulator": "ap_fixed<8,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<10,3>"},
        },
        _rng_inputs(4, -5, 1, (5, 4, 3), n=200),
        (PAR, STREAM),
    ),
    LayerCase(
        "pool_same",
        _same_pool_model,
        SAME_POOL_P,
        _rng_inputs(6, 0, 1.9, (5, 5, 2), n=200),
        (PAR,),
        _same_pool_exercises,
    ),
    LayerCase(
        "dense_stream",
        _dense_stream_model,
        DENSE_STREAM_P,
        lambda: uniform(300, 12, -3, 3, seed=31),
        ({"io_type": "io_stream"}, {"io_type": "io_stream", "strategy": "Resource", "reuse_factor": 3}),
        _dense_stream_exercises,
    ),
    LayerCase(
        "example_conv1d_small",
        keras2_conv1d_small,
        CONV1D_SMALL_P,
        lambda: np.random.default_rng(7).normal(0, 1.5, (300, 10, 4)),
        (PAR, STREAM),
        _conv1d_small_exercises,
    ),
]
PAIRS, IDS = expand(CASES)


@pytest.mark.parametrize("case,options", PAIRS, ids=IDS)
def test_layer_case(check_bit_exact, case, options):
    run_case(check_bit_exact, case, options)


# --------------------------------------------------------------------- refusals (no project is written)
def test_conv_saturating_accumulator_refused_under_resource(tmp_path):
    import hls

    P = widened(CONV1D_P, "conv0")
    with pytest.raises(ValueError, match=r"conv0.*saturates.*Resource.*WRAP accumulator or strategy='Latency'"):
        hls.convert(_conv1d_model(), P, tmp_path / "p", tb_inputs=np.zeros((2, 11, 3)), strategy="Resource")
    assert not (tmp_path / "p").exists()


def test_same_and_overlapping_pooling_refused_under_io_stream():
    import keras

    X = np.zeros((2, 5, 5, 2))
    with pytest.raises(ValueError, match="padding='same' under io_stream"):
        predict_quantized(_same_pool_model(), SAME_POOL_P, X, io_type="io_stream")
    overlapping = chain((6, 6, 1), [keras.layers.MaxPooling2D((2, 2), strides=(1, 1), name="p")])
    with pytest.raises(ValueError, match=r"'p'.*strides \(1, 1\) differ from pool_size \(2, 2\) under io_stream"):
        predict_quantized(
            overlapping, {"input": {"value": "ap_fixed<8,3>"}}, np.zeros((1, 6, 6, 1)), io_type="io_stream"
        )
