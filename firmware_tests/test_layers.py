"""The firmware matrix for convolutions, pooling, reshaping and io_stream: every case is
converted with hls4ml, C-simulated with g++ and must reproduce ``kappa.predict_quantized``
with 0 mismatching bits, in each I/O mode and strategy it names.

Each case also asserts that it exercises what it claims: saturation or wrap-around in
narrow accumulators, rounding of products, ``same`` padding reaching the borders,
pooling over negative values, and the places where hls4ml's io_parallel and io_stream
pooling compute different bits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kappa import predict_quantized

from .conftest import chain

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "models"


def _wide(P, layer, **fields):
    """P with wide (non-overflowing) types for ``fields`` of ``layer``."""
    out = {k: dict(v) for k, v in P.items()}
    out.setdefault(layer, {}).update(fields)
    return out


# --------------------------------------------------------------------- convolutions
CONV1D_P = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<18,8>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    # saturating, and fewer fractional bits than input x weight (7 + 6): products are rounded
    "conv0": {"accumulator": "ap_fixed<9,4,AP_RND,AP_SAT>", "activation": "ap_ufixed<9,4,AP_RND,AP_SAT>"},
}


def _conv1d_model():
    import keras

    return chain((11, 3), [keras.layers.Conv1D(4, 3, strides=2, padding="same", activation="relu", name="conv0"),
                           keras.layers.Conv1D(2, 2, padding="valid", use_bias=False, name="conv1"),
                           keras.layers.Flatten(name="flatten"), keras.layers.Dense(3, name="dense0")],
                 seed=3, weight_scale=2.0)


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_conv1d_same_stride_saturating(check_bit_exact, io_type):
    """Conv1D, stride 2, ``same`` padding (one zero column at each border), fused ReLU,
    a saturating 9-bit accumulator that also rounds every product; a bias-less Conv1D."""
    model = _conv1d_model()
    X = np.random.default_rng(1).uniform(-4, 4, (300, 11, 3))
    check_bit_exact(f"conv1d_same_s2_{io_type}", model, CONV1D_P, X, io_type=io_type)
    wide = _wide(CONV1D_P, "conv0", accumulator="ap_fixed<24,10>")
    assert np.mean(predict_quantized(model, CONV1D_P, X) != predict_quantized(model, wide, X)) > 0.2
    # the border outputs see the padding: zeroing the first and last input column changes them
    Xb = X.copy()
    Xb[:, [0, -1], :] = 0.0
    assert not np.array_equal(predict_quantized(model, CONV1D_P, X), predict_quantized(model, CONV1D_P, Xb))


CONV2D_P = {
    "input": {"value": "ap_fixed<9,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<20,9>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    "conv0": {"accumulator": "ap_fixed<12,4,AP_TRN,AP_WRAP>", "activation": "ap_fixed<10,4,AP_RND,AP_WRAP>"},
    "activation0": {"activation": "ap_ufixed<8,3,AP_RND_CONV,AP_SAT>"},
}


def _conv2d_model():
    import keras

    return chain((7, 7, 2), [keras.layers.Conv2D(3, (3, 3), strides=(2, 2), padding="same", name="conv0"),
                             keras.layers.Activation("relu", name="activation0"),
                             keras.layers.Conv2D(2, (2, 2), padding="valid", name="conv1"),
                             keras.layers.Flatten(name="flatten"), keras.layers.Dense(4, name="dense0")],
                 seed=5, weight_scale=3.0)


@pytest.mark.parametrize("io_type,strategy", [("io_parallel", "Latency"), ("io_stream", "Latency"),
                                              ("io_parallel", "Resource")])
def test_conv2d_same_stride_wrapping(check_bit_exact, io_type, strategy):
    """Conv2D 3x3, stride 2, ``same`` padding on a 7x7 image, a WRAP accumulator that
    overflows, a separate ReLU, then a 2x2 valid Conv2D, Flatten and Dense."""
    model = _conv2d_model()
    X = np.random.default_rng(2).uniform(-4, 4, (250, 7, 7, 2))
    check_bit_exact(f"conv2d_same_s2_{io_type}_{strategy}", model, CONV2D_P, X, io_type=io_type,
                    strategy=strategy, reuse_factor=2 if strategy == "Resource" else 1)
    wide = _wide(CONV2D_P, "conv0", accumulator="ap_fixed<24,10>")
    assert np.mean(predict_quantized(model, CONV2D_P, X) != predict_quantized(model, wide, X)) > 0.2


def test_conv_saturating_accumulator_refused_under_resource(tmp_path):
    import hls

    P = _wide(CONV1D_P, "conv0")
    with pytest.raises(ValueError, match=r"conv0.*saturates.*Resource.*WRAP accumulator or strategy='Latency'"):
        hls.convert(_conv1d_model(), P, tmp_path / "p", tb_inputs=np.zeros((2, 11, 3)), strategy="Resource")
    assert not (tmp_path / "p").exists()


# --------------------------------------------------------------------- pooling
POOL_P = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    # fewer fractional bits than the input: io_parallel rounds partial sums, io_stream each input
    "pool0": {"accumulator": "ap_fixed<9,4,AP_RND,AP_SAT>", "activation": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "pool1": {"accumulator": "ap_fixed<8,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<9,3,AP_TRN,AP_SAT>"},
    "pool2": {"accumulator": "ap_fixed<7,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"},
}


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


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("rank", [1, 2])
def test_pooling_negative_values(check_bit_exact, io_type, rank):
    """Max/Average pooling (windowed, overlapping windows in 1-D, global) over mostly negative
    inputs, with accumulators narrower than the inputs (rounding, wrap-around)."""
    model = _pool1d_model() if rank == 1 else _pool2d_model()
    shape = (12, 3) if rank == 1 else (8, 8, 2)
    X = np.random.default_rng(rank).uniform(-7, 2, (300, *shape))
    P = POOL_P
    if rank == 1:  # max pooling keeps the input grid; a sign-dependent rounding in the average's accumulator
        P = _wide(_wide(POOL_P, "pool0", accumulator="ap_fixed<12,4,AP_RND,AP_SAT>"),
                  "pool1", accumulator="ap_fixed<8,3,AP_TRN_ZERO,AP_WRAP>")
    check_bit_exact(f"pool{rank}d_{io_type}", model, P, X, io_type=io_type)
    from kappa.firmware_forward import layer_outputs

    par, stream = (dict(layer_outputs(model, P, X, io_type=m)) for m in ("io_parallel", "io_stream"))
    # the two modes' different orders of casts really give different averages
    assert np.mean(par["pool0" if rank == 2 else "pool1"] != stream["pool0" if rank == 2 else "pool1"]) > 0.05
    assert np.mean(X < 0) > 0.7


def test_global_pooling_2d_max_and_1d_average(check_bit_exact):
    import keras

    for io_type in ("io_parallel", "io_stream"):
        m2 = chain((5, 4, 3), [keras.layers.GlobalMaxPooling2D(name="gmax")])
        P2 = {"input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
              "gmax": {"accumulator": "ap_fixed<8,3,AP_RND,AP_WRAP>", "activation": "ap_fixed<10,3>"}}
        check_bit_exact(f"gmax2d_{io_type}", m2, P2, np.random.default_rng(4).uniform(-5, 1, (200, 5, 4, 3)),
                        io_type=io_type)


def test_same_padded_pooling_io_parallel(check_bit_exact):
    """``same``-padded pooling (io_parallel): Max sees hls4ml's pad value, the unsigned input
    type's top bit (2**(I-1) = 2.0 here), which beats every input below it; Average divides by
    the cells inside the image."""
    import keras

    model = chain((5, 5, 2), [keras.layers.MaxPooling2D((2, 2), padding="same", name="pool0"),
                              keras.layers.AveragePooling2D((2, 2), padding="same", name="pool1"),
                              keras.layers.Flatten(name="flatten")])
    P = {"input": {"value": "ap_ufixed<8,2,AP_RND,AP_SAT>"},
         "pool0": {"accumulator": "ap_ufixed<8,2>", "activation": "ap_ufixed<8,2>"},
         "pool1": {"accumulator": "ap_ufixed<12,4,AP_RND,AP_SAT>", "activation": "ap_ufixed<8,2,AP_RND,AP_SAT>"}}
    X = np.random.default_rng(6).uniform(0, 1.9, (200, 5, 5, 2))
    check_bit_exact("pool_same_parallel", model, P, X)
    Y = predict_quantized(model, P, X).reshape(200, 2, 2, 2)
    assert np.all(Y[:, 1, 1, :] == 2.0)  # the corner window holds only the padded border's pad value
    with pytest.raises(ValueError, match="padding='same' under io_stream"):
        predict_quantized(model, P, X, io_type="io_stream")
    overlapping = chain((6, 6, 1), [keras.layers.MaxPooling2D((2, 2), strides=(1, 1), name="p")])
    with pytest.raises(ValueError, match=r"'p'.*strides \(1, 1\) differ from pool_size \(2, 2\) under io_stream"):
        predict_quantized(overlapping, {"input": {"value": "ap_fixed<8,3>"}}, np.zeros((1, 6, 6, 1)), io_type="io_stream")


# --------------------------------------------------------------------- Dense under io_stream
@pytest.mark.parametrize("strategy", ["Latency", "Resource"])
def test_dense_io_stream(check_bit_exact, strategy):
    """The Dense matrix's cases also under io_stream: a fused and a separate ReLU, a narrow
    WRAP accumulator, Latency and Resource."""
    from .conftest import dense_chain, uniform

    model = dense_chain(12, [("dense", (8, "relu", True)), ("dense", (6, None, True)), ("act", "relu"),
                             ("dense", (4, None, True))], seed=31, weight_scale=2.0)
    P = {"default": {"weight": "ap_fixed<8,2,AP_RND>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<11,4>",
                     "activation": "ap_fixed<10,4,AP_RND,AP_WRAP>"},
         "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
         "activation0": {"activation": "ap_ufixed<8,3,AP_RND,AP_SAT>"}}
    X = uniform(300, 12, -3, 3, seed=31)
    check_bit_exact(f"dense_stream_{strategy}", model, P, X, io_type="io_stream", strategy=strategy,
                    reuse_factor=3 if strategy == "Resource" else 1)
    wide = dict(P, default=dict(P["default"], accumulator="ap_fixed<24,10>"))
    assert np.mean(predict_quantized(model, P, X) != predict_quantized(model, wide, X)) > 0.05


# --------------------------------------------------------------------- a real trained network
def keras2_conv1d_small(softmax: bool = True):
    """hls4ml's example model ``KERAS_conv1d_small`` (Keras 2 JSON + HDF5 weights), rebuilt in
    Keras 3, ending in its softmax (``softmax=False``: up to its logits)."""
    import h5py
    import keras

    cfg = json.loads((FIXTURES / "KERAS_conv1d_small.json").read_text())["config"]
    layers = cfg["layers"]
    x = inp = keras.Input(tuple(layers[0]["config"]["batch_input_shape"][1:]), name=layers[0]["name"])
    for spec in layers[1:]:
        c, cls = spec["config"], spec["class_name"]
        if cls == "Conv1D":
            x = keras.layers.Conv1D(c["filters"], c["kernel_size"], strides=c["strides"], padding=c["padding"],
                                    activation=c["activation"], use_bias=c["use_bias"], name=c["name"])(x)
        elif cls == "Flatten":
            x = keras.layers.Flatten(name=c["name"])(x)
        elif cls == "Dense":
            act = "linear" if c["activation"] == "softmax" and not softmax else c["activation"]
            x = keras.layers.Dense(c["units"], activation=act, use_bias=c["use_bias"], name=c["name"])(x)
        else:  # pragma: no cover - the fixture holds only these
            raise AssertionError(cls)
    model = keras.Model(inp, x)
    with h5py.File(FIXTURES / "KERAS_conv1d_small_weights.h5", "r") as f:
        for layer in model.layers:
            if layer.weights:
                g = f[layer.name][layer.name]
                layer.kernel.assign(np.asarray(g["kernel:0"]))
                layer.bias.assign(np.asarray(g["bias:0"]))
    return model


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_real_trained_conv1d(check_bit_exact, io_type):
    model = keras2_conv1d_small()
    assert [type(layer).__name__ for layer in model.layers[1:]] == ["Conv1D"] * 3 + ["Flatten", "Dense", "Dense"]
    P = {"input": {"value": "ap_fixed<12,4,AP_RND,AP_SAT>"},
         "default": {"weight": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>", "bias": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
                     "accumulator": "ap_fixed<22,10,AP_RND,AP_SAT>", "activation": "ap_fixed<14,6,AP_RND,AP_SAT>"}}
    # The softmax input is the Dense accumulator ap_fixed<22,10>: hls4ml's default inp_norm_t
    # (ap_ufixed<21,9>) addresses the 1024-entry exp table with steps of 0.5, so logits less
    # than 0.5 below the largest all count as exp(0) = 1 and the argmax goes to the first of
    # them (hls4ml issue #1512). A narrower inp_norm (steps of 1/64) keeps the order.
    P_default = {**P, "output_softmax": {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>"}}
    P["output_softmax"] = {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>", "inp_norm": "ap_ufixed<14,4,AP_RND,AP_SAT>"}
    assert model.layers[-1].activation.__name__ == "softmax"
    X = np.random.default_rng(7).normal(0, 1.5, (300, 10, 4))
    check_bit_exact(f"example_conv1d_small_{io_type}", model, P, X, io_type=io_type)
    float_out = model.predict(X.astype(np.float32), verbose=0)
    fw = predict_quantized(model, P, X, io_type=io_type)
    assert np.mean(np.argmax(fw, 1) == np.argmax(float_out, 1)) > 0.9  # trained weights, sensible types
    # the default inv_inp (ap_fixed<18,8>) addresses the 1024-entry 1/x table in steps of 1/4: rows sum to 1..1.25
    assert np.max(np.abs(fw - float_out)) < 0.1 and np.all(np.abs(fw.sum(1) - 1.1) < 0.15)
    fw_default = predict_quantized(model, P_default, X, io_type=io_type)
    assert np.mean(np.argmax(fw_default, 1) == np.argmax(float_out, 1)) < 0.6
