"""What hls4ml 1.3.0 cannot convert, or kappa cannot emulate, among the single-input layers of
issue 20 is refused naming the layer, the reason and what would work (no C simulation here;
the supported configurations are in ``firmware_tests/test_new_layers.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from kappa import predict_quantized

P = {"input": {"value": "ap_fixed<8,3>"},
     "default": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<20,8>",
                 "activation": "ap_fixed<12,5>"}}


def _model(shape, *layers):
    import keras

    inp = keras.Input(shape, name="x")
    h = inp
    for layer in layers:
        h = layer(h)
    return keras.Model(inp, h)


def _cases():
    import keras

    L = keras.layers
    return [
        (lambda: _model((6, 6, 2), L.SeparableConv2D(3, 3, name="sep")), {},
         r"'sep'.*layer.kernel.*use DepthwiseConv2D followed by a Conv2D with kernel size 1"),
        (lambda: _model((6, 2), L.ReLU(max_value=6.0, name="r")), {},
         r"'r'.*max_value=6.0.*asserts max_value is None.*Activation\('relu6'\)"),
        (lambda: _model((6, 2), L.Activation("relu6", name="r6")), {"io_type": "io_stream"},
         r"'r6'.*nnet_activation_stream.h has no relu6.*io_parallel"),
        (lambda: _model((4, 2), L.PReLU(shared_axes=[1], name="pr")), {},
         r"'pr'.*shared_axes=\[1\].*use shared_axes=None"),
        (lambda: _model((6, 2), L.DepthwiseConv1D(3, depth_multiplier=2, name="dw")), {},
         r"'dw'.*depth_multiplier=2.*use depth_multiplier=1"),
        (lambda: _model((6, 6, 2), L.DepthwiseConv2D(3, name="dw")), {"strategy": "Resource"},
         r"'dw'.*Resource.*use strategy='Latency'"),
        (lambda: _model((4, 4, 2), L.UpSampling2D(2, interpolation="bilinear", name="up")), {},
         r"'up'.*interpolation 'bilinear'.*nearest"),
        (lambda: _model((3, 4), L.Permute((2, 1), name="pm"), L.Flatten(name="f"), L.Dense(2, name="d")), {},
         r"'pm'.*RemoveTransposeBeforeFlatten.*addition order"),
        (lambda: _model((3, 4), L.Permute((2, 1), name="perm")), {}, r"'perm'.*the name 'perm'.*rename the layer"),
    ]


@pytest.mark.parametrize("k", range(9))
def test_refused_with_reason(k):
    build, options, pattern = _cases()[k]
    model = build()
    X = np.zeros((2, *model.inputs[0].shape[1:]))
    with pytest.raises(ValueError, match=pattern):
        predict_quantized(model, P, X, **options)


def test_embedding_needs_an_index_input_type():
    import keras

    model = _model((5,), keras.layers.Embedding(12, 3, name="emb"))
    Pe = {"input": {"value": "ap_fixed<8,3>"}, "emb": {"weight": "ap_fixed<8,2>", "activation": "ap_fixed<8,2>"}}
    with pytest.raises(ValueError, match=r"'emb'.*ap_fixed<8,3>.*not rows of the 12-row table.*ap_uint<3>"):
        predict_quantized(model, Pe, np.zeros((2, 5)))
    Pe["input"]["value"] = "ap_uint<3>"
    table = np.asarray(model.get_layer("emb").embeddings.numpy(), np.float64)
    got = predict_quantized(model, Pe, np.array([[0, 1, 2, 7, 9]] * 2, np.float64))
    from kappa.fixed_point import as_type
    from kappa.quantization import quantize

    want = quantize(table[[0, 1, 2, 7, 1]], as_type("ap_fixed<8,2>"))  # 9 wraps to 1 in ap_uint<3>
    assert got.shape == (2, 5, 3) and np.array_equal(got[0], want)


def test_keras2_thresholded_relu_loads_as_relu_threshold(tmp_path):
    import json

    import h5py

    from kappa.loading import load_model

    cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "inp"}},
        {"class_name": "ThresholdedReLU", "config": {"name": "thr", "theta": 0.5}},
        {"class_name": "ZeroPadding1D", "config": {"name": "pad", "padding": [1, 2]}}]}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(cfg).replace('"batch_input_shape": [null, 4]', '"batch_input_shape": [null, 4, 1]'))
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.attrs["layer_names"] = []
    model = load_model(path, tmp_path / "w.h5")
    thr = model.get_layer("thr")
    assert type(thr).__name__ == "ReLU" and thr.threshold == 0.5 and tuple(model(np.zeros((1, 4, 1))).shape) == (1, 7, 1)
