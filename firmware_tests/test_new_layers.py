"""The firmware matrix for the single-input layers of issue 20: ZeroPadding1D/2D,
Cropping1D/2D, UpSampling1D/2D, DepthwiseConv1D/2D, Permute, ReLU(threshold=...)
(hls4ml's ThresholdedReLU), PReLU, Activation('relu6') and Embedding, grouped into a few
small models per I/O mode; each converted with hls4ml, C-simulated and compared with
``kappa.predict_quantized`` (0 mismatching bits), and checked to exercise what it claims
(padding reaching the outputs, narrow accumulators that saturate or wrap, thresholds and
slopes that act, the clip at 6, table rows). Also: the refusals (no project written), and
``suggest_precision`` on a model of the new layers, converted.
"""

from __future__ import annotations

import numpy as np
import pytest

from kappa import predict_quantized

from .conftest import chain
from .harness import LayerCase, expand, run_case, widened

pytestmark = pytest.mark.slow
PAR, STREAM = {"io_type": "io_parallel"}, {"io_type": "io_stream"}


# --------------------------------------------------------------------- 2-D: padding, cropping, upsampling, depthwise
def _image_model():
    """ZeroPadding2D -> valid Conv2D (the zeros reach it) -> Cropping2D -> UpSampling2D ->
    Permute -> ``same`` DepthwiseConv2D with a fused ReLU -> Flatten -> Dense."""
    import keras

    L = keras.layers
    return chain((5, 4, 2), [L.ZeroPadding2D(((1, 0), (2, 1)), name="zpad"),
                             L.Conv2D(3, (2, 2), name="conv0"),
                             L.Cropping2D(((1, 0), (0, 1)), name="crop"),
                             L.UpSampling2D((2, 1), name="up"),
                             L.Permute((2, 1, 3), name="permute"),
                             L.DepthwiseConv2D((3, 3), padding="same", activation="relu", name="dw"),
                             L.Flatten(name="flatten"), L.Dense(4, name="dense0")], seed=11, weight_scale=2.0)


IMAGE_P = {
    "input": {"value": "ap_fixed<9,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<20,8>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    # narrow, saturating, fewer fractional bits than input x weight: products rounded, sums clipped
    "dw": {"accumulator": "ap_fixed<10,4,AP_RND,AP_SAT>", "activation": "ap_ufixed<9,4,AP_RND,AP_SAT>"},
}


def _image_exercises(model, P, X, options):
    io = options["io_type"]
    y = predict_quantized(model, P, X, io_type=io)
    assert np.mean(y != predict_quantized(model, widened(P, "dw", accumulator="ap_fixed<24,10>"), X, io_type=io)) > 0.1
    # the zero padding reaches the outputs: zeroing the rows/columns it pads next to changes them
    Xb = X.copy()
    Xb[:, 0, :, :] = 0.0
    assert not np.array_equal(y, predict_quantized(model, P, Xb, io_type=io))


# --------------------------------------------------------------------- 1-D: the same plus the ReLU variants
def _seq_model():
    """ZeroPadding1D -> DepthwiseConv1D (narrow WRAP accumulator) -> Cropping1D ->
    UpSampling1D -> PReLU -> ReLU(threshold=0.375) -> Flatten -> Dense."""
    import keras

    L = keras.layers
    model = chain((8, 3), [L.ZeroPadding1D((2, 1), name="zpad"),
                           L.DepthwiseConv1D(3, name="dw"),
                           L.Cropping1D((1, 2), name="crop"),
                           L.UpSampling1D(2, name="up"),
                           L.PReLU(name="prelu"),
                           L.ReLU(threshold=0.375, name="thr"),
                           L.Flatten(name="flatten"), L.Dense(3, name="dense0")], seed=12, weight_scale=2.0)
    prelu = model.get_layer("prelu")
    prelu.alpha.assign(np.random.default_rng(12).uniform(-0.6, 0.9, prelu.alpha.shape).astype(np.float32))
    return model


SEQ_P = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<20,8>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    "dw": {"accumulator": "ap_fixed<9,3,AP_TRN,AP_WRAP>", "activation": "ap_fixed<10,3,AP_RND,AP_WRAP>"},
    "thr": {"activation": "ap_fixed<10,3,AP_RND,AP_SAT>", "param": "ap_fixed<8,2>"},
    "prelu": {"activation": "ap_fixed<9,3,AP_RND,AP_SAT>", "param": "ap_fixed<6,1,AP_RND,AP_SAT>"},
}


def _seq_exercises(model, P, X, options):
    from kappa.firmware_forward import layer_outputs

    io = options["io_type"]
    y = predict_quantized(model, P, X, io_type=io)
    assert np.mean(y != predict_quantized(model, widened(P, "dw", accumulator="ap_fixed<24,10>"), X, io_type=io)) > 0.1
    outs = dict(layer_outputs(model, P, X, io_type=io))
    pr = outs["prelu"]
    assert np.mean(pr < 0) > 0.1 and np.mean(pr > 0) > 0.1  # the slopes act on negative inputs
    low = (pr > 0) & (pr <= 0.375)
    assert np.any(low) and np.all(outs["thr"][low] == 0) and np.all(outs["thr"][pr > 0.375] > 0)  # threshold acts


# --------------------------------------------------------------------- Embedding (+ relu6 under io_parallel)
def _embed_model(relu6: bool):
    import keras

    L = keras.layers
    layers = [L.Embedding(16, 3, name="embed"), L.Flatten(name="flatten"), L.Dense(6, name="dense0")]
    if relu6:  # also a Permute (hls4ml's transpose) of the (sequence, features) table rows
        layers = [L.Embedding(16, 3, name="embed"), L.Permute((2, 1), name="permute"), L.Conv1D(4, 2, name="conv0"),
                  L.Flatten(name="flatten"), L.Dense(6, name="dense0"), L.Activation("relu6", name="relu6")]
    model = chain((5,), layers + [L.Dense(2, name="dense1")], seed=13, weight_scale=2.0)
    emb = model.get_layer("embed").embeddings
    emb.assign(np.random.default_rng(13).uniform(-2, 2, emb.shape).astype(np.float32))
    return model


EMBED_P = {
    "input": {"value": "ap_uint<4>"},
    "default": {"weight": "ap_fixed<8,3,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3,AP_RND,AP_SAT>",
                "accumulator": "ap_fixed<20,8>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
    "embed": {"weight": "ap_fixed<6,2,AP_RND,AP_SAT>", "activation": "ap_fixed<5,2,AP_RND,AP_SAT>"},
}
EMBED_RELU6_P = dict(EMBED_P, relu6={"activation": "ap_ufixed<7,3,AP_RND,AP_SAT>"})


def _embed_exercises(relu6: bool):
    def check(model, P, X, options):
        from kappa.firmware_forward import layer_outputs

        outs = dict(layer_outputs(model, P, X, io_type=options["io_type"]))
        table = model.get_layer("embed").embeddings.numpy()
        assert len(np.unique(X)) == 16  # every row read
        # the 5-bit result type rounds the 6-bit table entries
        assert not np.array_equal(outs["embed"], np.round(table[X.astype(int)] * 32) / 32)
        if relu6:
            assert np.array_equal(outs["permute"], np.swapaxes(outs["embed"], 1, 2))
            d = outs["dense0"]
            assert np.any(d > 6) and np.all(outs["relu6"][d > 6] == 6.0) and np.any(d < 0)
    return check


def _indices(seed, shape, n=200):
    return lambda: np.random.default_rng(seed).integers(0, 16, (n, *shape)).astype(np.float64)


def _rng_inputs(seed, low, high, shape, n=200):
    return lambda: np.random.default_rng(seed).uniform(low, high, (n, *shape))


CASES = [
    LayerCase("new_image", _image_model, IMAGE_P, _rng_inputs(1, -4, 4, (5, 4, 2)), (PAR, STREAM), _image_exercises),
    LayerCase("new_seq", _seq_model, SEQ_P, _rng_inputs(2, -4, 4, (8, 3)), (PAR, STREAM), _seq_exercises),
    LayerCase("new_embed_relu6", lambda: _embed_model(True), EMBED_RELU6_P, _indices(3, (5,)), (PAR,),
              _embed_exercises(True)),
    LayerCase("new_embed", lambda: _embed_model(False), EMBED_P, _indices(4, (5,)), (STREAM,),
              _embed_exercises(False)),
]
PAIRS, IDS = expand(CASES)


@pytest.mark.parametrize("case,options", PAIRS, ids=IDS)
def test_new_layer_case(check_bit_exact, case, options):
    run_case(check_bit_exact, case, options)


def test_suggest_precision_on_new_layers_converts(check_bit_exact):
    """suggest_precision types every new layer of the 1-D model (the threshold, the PReLU
    slopes, the depthwise accumulator), and the result converts with 0 mismatches."""
    from kappa import suggest_precision

    model = _seq_model()
    X = _rng_inputs(5, -3, 3, (8, 3))()
    P = suggest_precision(model, X, bits=12)
    d = P.to_dict()
    assert {"dw", "thr", "prelu", "dense0"} <= set(d) and "param" in d["prelu"] and "param" in d["thr"]
    check_bit_exact("new_seq_suggested_io_parallel", model, P, X)
