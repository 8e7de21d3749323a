"""Tests for the layer families (kappa/layers/): the numpy firmware forward against an
independent loop-by-loop re-implementation, the TensorFlow training forward against the
numpy one bit for bit (per layer kind and I/O mode), the per-layer PrecisionDict fields,
and the refusals (each naming the layer, the reason and what would work instead)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kappa  # noqa: E402
from kappa import predict_quantized, quantize  # noqa: E402
from kappa.firmware_forward import layer_outputs  # noqa: E402
from kappa.layers import FirmwareOptions, build_plan  # noqa: E402
from kappa.training_forward import predict_tf  # noqa: E402


def _chain(shape, *layers, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape, name="x")
    h = inp
    for layer in layers:
        h = layer(h)
    m = keras.Model(inp, h)
    rng = np.random.default_rng(seed)
    for layer in m.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape).astype(np.float32))
    return m


P_SAT = {"input": {"value": "ap_fixed<9,3,AP_RND,AP_SAT>"},
         "default": {"weight": "ap_fixed<7,2,AP_RND,AP_SAT>", "bias": "ap_fixed<7,2,AP_RND,AP_SAT>",
                     "accumulator": "ap_fixed<8,3,AP_RND,AP_SAT>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"}}


def _conv2d_loops(x, kernel, bias, types, in_t, strides, pads):
    """Conv2D as nnet_conv2d_latency.h computes it, one output at a time with scalar
    quantization: zero padding, each product cast to accum_t, the accumulator starting at
    the cast bias, every partial sum cast, in (row, column, channel) order."""
    acc_t, res_t = types["accumulator"], types["activation"]
    w = quantize(kernel, types["weight"])
    b = quantize(bias, types["bias"])
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    pt, pb, pl, pr = pads
    xp = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + wd, :] = x
    oh = (h + pt + pb - kh) // strides[0] + 1
    ow = (wd + pl + pr - kw) // strides[1] + 1
    out = np.zeros((n, oh, ow, f))
    for s in range(n):
        for i in range(oh):
            for j in range(ow):
                for o in range(f):
                    acc = float(quantize(b[o], acc_t))
                    for a in range(kh):
                        for bb in range(kw):
                            for ch in range(c):
                                p = float(quantize(xp[s, i * strides[0] + a, j * strides[1] + bb, ch] * w[a, bb, ch, o],
                                                   acc_t))
                                acc = float(quantize(acc + p, acc_t))
                    out[s, i, j, o] = quantize(acc, res_t)
    return out


def test_conv2d_equals_loop_reference_with_saturation():
    m = _chain((5, 5, 2), keras.layers.Conv2D(3, (3, 3), strides=(2, 2), padding="same", name="c"), seed=1)
    m.layers[1].kernel.assign(m.layers[1].kernel.numpy() * 4)
    X = quantize(np.random.default_rng(0).uniform(-4, 4, (6, 5, 5, 2)), P_SAT["input"]["value"])
    got = predict_quantized(m, P_SAT, X)
    types = {k: kappa.FixedPointType.from_string(v) for k, v in P_SAT["default"].items()}
    want = _conv2d_loops(X, m.layers[1].kernel.numpy().astype(np.float64), m.layers[1].bias.numpy().astype(np.float64),
                         types, None, (2, 2), (1, 1, 1, 1))
    np.testing.assert_array_equal(got, want)
    # saturation acts (the 8-bit accumulator spans [-4, 4)) and same padding adds one row/column
    assert np.mean(np.abs(want) >= 3.9) > 0.05
    assert got.shape == (6, 3, 3, 3)


FAMILY_CASES = {
    "conv1d_same_s2": lambda: _chain((9, 3), keras.layers.Conv1D(4, 3, strides=2, padding="same", activation="relu",
                                                                 name="c0"), keras.layers.Flatten(name="f"),
                                     keras.layers.Dense(2, name="d")),
    "conv2d_valid_nobias": lambda: _chain((6, 5, 2), keras.layers.Conv2D(2, (2, 3), use_bias=False, name="c0"),
                                          keras.layers.Reshape((5 * 3 * 2,), name="r")),
    "conv2d_same_pool": lambda: _chain((6, 6, 1), keras.layers.Conv2D(3, 3, padding="same", name="c0"),
                                       keras.layers.Activation("relu", name="a0"),
                                       keras.layers.MaxPooling2D(2, name="p0"),
                                       keras.layers.AveragePooling2D(3, name="p1"),
                                       keras.layers.Flatten(name="f")),
    "pool1d_global": lambda: _chain((10, 2), keras.layers.AveragePooling1D(2, name="p0"),
                                    keras.layers.MaxPooling1D(2, strides=1, name="p1"),
                                    keras.layers.GlobalAveragePooling1D(name="p2")),
    "pool2d_global_max": lambda: _chain((4, 6, 3), keras.layers.GlobalMaxPooling2D(name="p0")),
    "pool_same_parallel": lambda: _chain((5, 5, 1), keras.layers.MaxPooling2D(2, padding="same", name="p0"),
                                         keras.layers.AveragePooling2D(2, padding="same", name="p1"),
                                         keras.layers.Flatten(name="f")),
}
def _with_bn_stats(m, seed=0):
    """``m`` with random BatchNormalization statistics and affine parameters (negative scales too)."""
    rng = np.random.default_rng(seed)
    for layer in m.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            C = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(-2, 2, C).astype(np.float32))
            layer.beta.assign(rng.uniform(-1, 1, C).astype(np.float32))
            layer.moving_mean.assign(rng.uniform(-1, 1, C).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.2, 3, C).astype(np.float32))
    return m


FAMILY_CASES.update(
    {
        "dense_tables_bn_softmax": lambda: _with_bn_stats(
            _chain(
                (6,),
                keras.layers.Dense(5, activation="sigmoid", name="d0"),
                keras.layers.BatchNormalization(name="bn"),
                keras.layers.Activation("tanh", name="t"),
                keras.layers.Dense(4, activation="softmax", name="d1"),
            )
        ),
        "conv2d_bn_softmax_layer": lambda: _with_bn_stats(
            _chain(
                (5, 5, 2),
                keras.layers.Conv2D(3, 3, activation="tanh", name="c0"),
                keras.layers.BatchNormalization(name="bn"),
                keras.layers.Flatten(name="f"),
                keras.layers.Dense(3, name="d"),
                keras.layers.Softmax(name="sm"),
            )
        ),
        "dense_leaky_relu": lambda: _chain(
            (6,),
            keras.layers.Dense(5, name="d0"),
            keras.layers.LeakyReLU(0.2, name="l0"),
            keras.layers.Dense(4, name="d1"),
            keras.layers.ReLU(negative_slope=0.1, name="l1"),
        ),
    }
)
P_MIX = {
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<8,2,AP_RND,AP_SAT>",
        "bias": "ap_fixed<8,2>",
        "accumulator": "ap_fixed<9,4,AP_RND,AP_WRAP>",
        "activation": "ap_fixed<10,3,AP_RND,AP_SAT>",
    },
}


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("case", sorted(FAMILY_CASES))
def test_training_forward_equals_firmware_forward(case, io_type):
    """Per layer kind: the TF training forward gives predict_quantized's bits."""
    m = FAMILY_CASES[case]()
    shape = tuple(int(d) for d in m.inputs[0].shape[1:])
    X = np.random.default_rng(3).uniform(-5, 4, (40, *shape))
    if case == "pool_same_parallel" and io_type == "io_stream":
        with pytest.raises(ValueError, match=r"'p0'.*padding='same' under io_stream.*use padding='valid'"):
            predict_quantized(m, P_MIX, X, io_type=io_type)
        return
    fw = predict_quantized(m, P_MIX, X, io_type=io_type)
    np.testing.assert_array_equal(predict_tf(m, P_MIX, X, io_type=io_type), fw)
    assert fw.shape == (40, *(int(d) for d in m.outputs[0].shape[1:]))
    # the types act: the float model differs
    assert not np.allclose(fw, m.predict(X.astype(np.float32), verbose=0))


def test_io_stream_inserts_zero_padding_steps():
    m = FAMILY_CASES["conv2d_same_pool"]()
    names = lambda io: [s.name for s in build_plan(m, kappa.PrecisionDict(P_MIX), FirmwareOptions(io))]  # noqa: E731
    assert names("io_parallel") == ["c0", "a0", "p0", "p1", "f"]
    assert names("io_stream") == ["zp2d_c0", "c0", "a0", "p0", "p1", "f"]
    steps = build_plan(m, kappa.PrecisionDict(P_MIX), FirmwareOptions("io_stream"))
    assert steps[0].out_shape == (8, 8, 1) and str(steps[0].result_type) == P_MIX["input"]["value"]
    outs = dict(layer_outputs(m, P_MIX, np.ones((2, 6, 6, 1)), io_type="io_stream"))
    assert outs["zp2d_c0"].shape == (2, 8, 8, 1) and outs["zp2d_c0"][:, 0].sum() == 0


def test_precision_fields_per_layer_kind():
    m = FAMILY_CASES["conv2d_same_pool"]()
    X = np.zeros((1, 6, 6, 1))
    with pytest.raises(
        ValueError,
        match=r"p0.weight: layer 'p0' has no field 'weight'; its fields are accumulator, "
        r"activation",
    ):
        predict_quantized(m, {**P_MIX, "p0": {"weight": "ap_fixed<8,2>"}}, X)
    with pytest.raises(ValueError, match=r"f.activation: layer 'f' has no field 'activation'; it has no fields"):
        predict_quantized(m, {**P_MIX, "f": {"activation": "ap_fixed<8,2>"}}, X)
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        predict_quantized(m, {**P_MIX, "nope": {"activation": "ap_fixed<8,2>"}}, X)


@pytest.mark.parametrize(
    "layer, fragment",
    [
        (
            keras.layers.Conv1D(2, 3, dilation_rate=2, name="dil"),
            r"'dil' \(Conv1D\): dilation_rate .* use dilation_rate=1",
        ),
        (
            keras.layers.Conv1D(2, 3, padding="causal", name="cau"),
            r"'cau' \(Conv1D\): padding 'causal' .* use 'valid' or 'same'",
        ),
        (keras.layers.Dense(2, activation="softmax", name="dd"),
         r"'dd' \(Dense\): softmax over a 2-D input of shape \(8, 2\) is not emulated; apply it to a 1-D input"),
        (
            keras.layers.Conv1D(2, 3, activation="elu", name="th"),
            r"'th' \(Conv1D\): fused activation 'elu' is not "
            r"emulated bit for bit; use one of linear, relu, sigmoid",
        ),
        (keras.layers.Softmax(axis=1, name="sx"), r"'sx' \(Softmax\): Softmax\(axis=1\) is not emulated; use axis=-1"),
    ],
)
def test_refusals_name_layer_reason_and_alternative(layer, fragment):
    m = _chain((8, 3), layer)
    with pytest.raises(ValueError, match=fragment):
        predict_quantized(m, P_MIX, np.zeros((1, 8, 3)))


def test_firmware_options_and_shapes_are_checked():
    m = FAMILY_CASES["pool1d_global"]()
    X = np.zeros((3, 10, 2))
    with pytest.raises(ValueError, match="io_type 'io_serial' is not supported; valid: io_parallel, io_stream"):
        predict_quantized(m, P_MIX, X, io_type="io_serial")
    with pytest.raises(ValueError, match="reuse_factor must be an integer >= 1, got 0"):
        predict_quantized(m, P_MIX, X, reuse_factor=0)
    with pytest.raises(ValueError, match=r"layer_options\['p0'\]\['table_size'\]: a pool layer takes no options"):
        predict_quantized(m, P_MIX, X, layer_options={"p0": {"table_size": 1024}})
    with pytest.raises(ValueError, match="layer_options names 'zz', which is not a layer"):
        predict_quantized(m, P_MIX, X, layer_options={"zz": {}})
    with pytest.raises(ValueError, match=r"X has shape \(3, 20\); the model expects \(N, 10, 2\)"):
        predict_quantized(m, P_MIX, X.reshape(3, 20))


def test_conv_block_model_trains_in_fixed_point_on_digit_images():
    ds = kappa.DigitsDataset(seed=0, images=True, num_samples=300)
    assert ds.X.shape == (300, 8, 8, 1)
    m = kappa.ConvBlockModel(dataset=ds, filters=[3], kernel_size=3, pool="max", seed=0)
    assert [layer.name for layer in m.model.layers] == [
        "model_input",
        "conv0",
        "activation0",
        "pool0",
        "flatten",
        "dense0",
    ]
    P = kappa.PrecisionDict(
        {
            "input": {"value": "ap_ufixed<8,1,AP_RND,AP_SAT>"},
            "default": {
                "weight": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
                "bias": "ap_fixed<10,3,AP_RND_CONV,AP_SAT>",
                "accumulator": "ap_fixed<20,8>",
                "activation": "ap_fixed<12,5,AP_RND,AP_SAT>",
                "update": "ap_fixed<10,3,S_RND,AP_SAT>",
            },
            "pool0": {"accumulator": "ap_fixed<12,5,AP_RND,AP_SAT>"},
        }
    )
    h = m.train_instrumented(ds.X, ds.Y, epochs=3, batch_size=30, learning_rate=0.1, precision_dict=P)
    assert h.n_steps == 30 and np.all(np.isfinite(h.loss)) and h.loss[-1] < h.loss[0]
    w = m.model.get_layer("conv0").kernel.numpy().astype(np.float64)
    np.testing.assert_array_equal(w, quantize(w, "ap_fixed<10,3,AP_RND_CONV,AP_SAT>"))  # stored on its grid
    for io_type in ("io_parallel", "io_stream"):
        np.testing.assert_array_equal(
            predict_tf(m.model, P, ds.X, io_type=io_type), m.predict_quantized(ds.X, P, io_type=io_type)
        )


def test_conv_block_model_rejects_bad_geometry():
    ds = kappa.DigitsDataset(seed=0, num_samples=50)  # flat (N, 64)
    with pytest.raises(ValueError, match=r"\(H, W, C\) for Conv2D; the dataset gives \(64,\).*images=True"):
        kappa.ConvBlockModel(dataset=ds)
    img = kappa.DigitsDataset(seed=0, num_samples=50, images=True)
    with pytest.raises(ValueError, match="too small for 4 blocks"):
        kappa.ConvBlockModel(dataset=img, filters=[2, 2, 2, 2], padding="valid", pool="max")
