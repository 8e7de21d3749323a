"""What QKeras's quantizers really compute, and from_qkeras's types and refusals (no C simulation)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _qk(q, x):
    return np.asarray(q(np.asarray(x, np.float32)), dtype=np.float64)


@pytest.mark.parametrize("args, expected", [
    (dict(bits=6, integer=0, alpha=1), "ap_fixed<6,1,AP_RND_CONV,AP_SAT>"),
    (dict(bits=8, integer=3, symmetric=True, alpha=1), "ap_fixed<8,4,AP_RND_CONV,AP_SAT_SYM>"),
    (dict(bits=5, integer=2, keep_negative=False, alpha=1), "ap_ufixed<5,2,AP_RND_CONV,AP_SAT>"),
    (dict(bits=4, integer=-1, alpha=None), "ap_fixed<4,0,AP_RND_CONV,AP_SAT>"),
])
def test_quantized_bits_is_round_half_even_with_saturation(args, expected):
    from qkeras import quantized_bits

    from kappa.qkeras import quantizer_type
    from kappa.quantization import quantize

    q = quantized_bits(**args)
    t = quantizer_type(q, _Layer())
    assert str(t) == expected
    lsb = t.lsb
    # every tie between two grid points, across and beyond the range (saturation)
    ties = (np.arange(-2 ** (t.width + 1), 2 ** (t.width + 1)) + 0.5) * lsb
    rnd = np.random.default_rng(0).normal(0, 2.0 ** t.integer, 4000)
    for x in (ties, rnd):
        np.testing.assert_array_equal(_qk(q, x), quantize(x, t))
    # the tie rule really is half-to-even (AP_RND_CONV), not half-up (AP_RND): 0.5 LSB -> 0, 1.5 LSB -> 2 LSB
    assert _qk(q, [0.5 * lsb, 1.5 * lsb, 2.5 * lsb]).tolist() == [0.0, 2 * lsb, 2 * lsb]


@pytest.mark.parametrize("bits, integer", [(6, 0), (8, 3), (4, 2)])
def test_quantized_relu_is_relu_then_ap_ufixed_rnd_conv_sat(bits, integer):
    from qkeras import quantized_relu

    from kappa.qkeras import quantizer_type
    from kappa.quantization import quantize

    q = quantized_relu(bits, integer)
    t = quantizer_type(q, _Layer(), role="activation")
    assert str(t) == f"ap_ufixed<{bits},{integer},AP_RND_CONV,AP_SAT>"
    x = np.concatenate([(np.arange(-8, 2 ** (bits + 1)) + 0.5) * t.lsb,
                        np.random.default_rng(1).normal(0, 2.0 ** integer, 3000)])
    np.testing.assert_array_equal(_qk(q, x), quantize(np.maximum(x, 0), t))
    assert _qk(q, [2.5 * t.lsb])[0] == 2 * t.lsb  # half to even


class _Layer:
    name = "L"


@pytest.mark.parametrize("make, words", [
    (lambda qq: qq.quantized_bits(6, 0, alpha="auto"), ["alpha='auto'", "ApplyAlpha"]),
    (lambda qq: qq.quantized_bits(6, 0, alpha="auto_po2"), ["alpha='auto_po2'"]),
    (lambda qq: qq.quantized_bits(6, 0, alpha=0.5), ["alpha=0.5"]),
    (lambda qq: qq.quantized_bits(6, 0, alpha=1, use_stochastic_rounding=True), ["stochastic rounding"]),
    (lambda qq: qq.quantized_relu(6, 0, negative_slope=0.25), ["negative_slope"]),
    (lambda qq: qq.quantized_relu(6, 0, use_sigmoid=1), ["use_sigmoid"]),
    (lambda qq: qq.quantized_tanh(6), ["quantized_tanh"]),
])
def test_quantizers_without_exact_form_are_refused(make, words):
    import qkeras.quantizers as qq

    from kappa.qkeras import quantizer_type

    with pytest.raises(ValueError) as exc:
        quantizer_type(make(qq), _Layer(), role="activation")
    for w in ["'L'", *words]:
        assert w in str(exc.value)


def _model(*layers, shape=(6,)):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape, name="x")
    h = inp
    for layer in layers:
        h = layer(h)
    return keras.Model(inp, h)


def test_po2_binary_ternary_weights_take_their_grid_and_match_qkeras():
    from qkeras import QActivation, QDense, binary, quantized_bits, quantized_po2, ternary

    from kappa import predict_quantized
    from kappa.fixed_point import as_type
    from kappa.qkeras import from_qkeras
    from kappa.quantization import quantize

    model = _model(
        QDense(5, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(6, 2, alpha=1), name="po2"),
        QActivation("quantized_relu(6,2)", name="r0"),
        QDense(4, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1), name="bin"),
        QActivation("quantized_bits(8,3,alpha=1)", name="q1"),
        QDense(3, kernel_quantizer=ternary(alpha=1), use_bias=False, name="ter"),
    )
    twin, P = from_qkeras(model, input_type="ap_fixed<10,3,AP_RND_CONV,AP_SAT>")
    d = P.to_dict()
    assert d["bin"]["weight"] == "ap_fixed<2,2,AP_RND_CONV,AP_SAT>"  # +-1
    assert d["ter"]["weight"] == "ap_fixed<2,2,AP_RND_CONV,AP_SAT>"  # -1, 0, +1 (not ap_int<2>)
    w_po2 = twin.model.get_layer("po2").kernel.numpy()
    np.testing.assert_array_equal(
        w_po2, model.get_layer("po2").kernel_quantizer_internal(model.get_layer("po2").kernel)
    )
    assert set(np.unique(np.abs(w_po2[w_po2 != 0]))) <= {2.0**-k for k in range(0, 9)}
    X = np.random.default_rng(2).uniform(-3, 3, (500, 6))
    fw = predict_quantized(twin.model, P, X)
    ref = model.predict(quantize(X, as_type(d["input"]["value"])).astype(np.float32), verbose=0)
    np.testing.assert_array_equal(fw, ref)  # lossless accumulators: QKeras's float32 sums are exact here


def test_unsupported_layers_are_refused_by_name():
    import keras
    from qkeras import QBatchNormalization, QDense, quantized_bits

    from kappa.qkeras import from_qkeras

    q = quantized_bits(6, 0, alpha=1)
    with pytest.raises(ValueError, match=r"'bn' \(QBatchNormalization\).*not yet expressed"):
        from_qkeras(_model(QDense(4, kernel_quantizer=q, bias_quantizer=q, name="d"), QBatchNormalization(name="bn")))
    with pytest.raises(ValueError, match=r"'d' \(QDense\): its kernel has no quantizer"):
        from_qkeras(_model(QDense(4, name="d")))
    kept, Pk = from_qkeras(
        _model(QDense(4, kernel_quantizer=q, bias_quantizer=q, name="d"), keras.layers.Activation("softmax", name="sm"))
    )
    assert Pk.to_dict()["sm"] == {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>"}
    with pytest.raises(ValueError, match=r"'sm' \(Activation\).*no QKeras twin rule"):
        from_qkeras(
            _model(
                keras.layers.Activation("softmax", name="sm"), QDense(4, kernel_quantizer=q, bias_quantizer=q, name="d")
            )
        )
    twin, P = from_qkeras(
        _model(
            QDense(4, kernel_quantizer=q, bias_quantizer=q, name="d"), keras.layers.Activation("softmax", name="sm")
        ),
        drop_final_softmax=True,
    )
    assert [layer.name for layer in twin.model.layers[1:]] == ["d"]


def test_lossless_accumulator_bound():
    from kappa.fixed_point import as_type
    from kappa.qkeras import lossless_accumulator

    in_t = as_type("ap_fixed<8,3>")  # |x| <= 4, F = 5
    w_t = as_type("ap_fixed<6,1>")  # F = 5
    w = np.array([[0.5, -0.25], [0.75, 0.5], [-0.5, 0.0]])
    b = np.array([1.0, -0.5])
    acc = lossless_accumulator(in_t, w, w_t, b, as_type("ap_fixed<6,2>"), _Layer())
    # largest partial sum: 4 * (0.5 + 0.75 + 0.5) + 1 = 8 -> I = 5 (range [-16, 16)), F = 10
    assert (acc.width, acc.integer, acc.fractional) == (15, 5, 10)


def test_qkeras_model_itself_is_refused_by_the_firmware_path():
    from qkeras import QDense, quantized_bits

    import kappa

    q = quantized_bits(4, 0, alpha=1)
    model = _model(QDense(3, kernel_quantizer=q, bias_quantizer=q, name="qd"))
    with pytest.raises(ValueError, match=r"'qd' is a QKeras QDense.*from_qkeras"):
        kappa.predict_quantized(model, {"default": {"weight": "ap_fixed<4,1>"}}, np.zeros((1, 6)))
    twin, P = kappa.from_qkeras(model)
    assert kappa.predict_quantized(twin.model, P, np.zeros((1, 6))).shape == (1, 3)
    assert kappa.load_model.__module__ == "kappa.loading" and kappa.suggest_precision.__module__ == "kappa.suggest"


def test_qkeras_loses_saturation_far_out_of_range():
    """QKeras returns ``x + stop_gradient(xq - x)`` in float32: for |x| >= 2**24 * LSB-ish the
    subtraction cancels and quantized_bits gives 0 instead of the saturated value; ap_fixed
    (and kappa) saturate. quantized_relu clips before that step and is not affected."""
    from qkeras import quantized_bits, quantized_relu

    from kappa.qkeras import quantizer_type
    from kappa.quantization import quantize

    q, r = quantized_bits(6, 0, alpha=1), quantized_relu(6, 0)
    x = np.array([1e4, 3e7, 1e8, -1e8])
    t = quantizer_type(q, _Layer())
    assert _qk(q, x).tolist() == [0.96875, 0.0, 0.0, 0.0]  # QKeras
    assert quantize(x, t).tolist() == [0.96875, 0.96875, 0.96875, -1.0]  # ap_fixed<6,1,AP_RND_CONV,AP_SAT>
    assert _qk(r, x).tolist() == [0.984375, 0.984375, 0.984375, 0.0]


def test_qconv1d_twin_matches_qkeras_predict():
    import keras
    from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu

    from kappa import predict_quantized
    from kappa.fixed_point import as_type
    from kappa.qkeras import from_qkeras
    from kappa.quantization import quantize

    q = quantized_bits(6, 1, alpha=1)
    model = _model(
        QConv1D(3, 3, padding="same", kernel_quantizer=q, bias_quantizer=q, name="c1"),
        QActivation(quantized_relu(7, 2), name="r1"),
        keras.layers.MaxPooling1D(2, name="p1"),
        keras.layers.Flatten(name="f"),
        QDense(2, kernel_quantizer=q, bias_quantizer=q, name="d"),
        shape=(8, 2),
    )
    twin, P = from_qkeras(model, input_type="ap_fixed<9,3,AP_RND_CONV,AP_SAT>")
    assert P.to_dict()["c1"]["weight"] == "ap_fixed<6,2,AP_RND_CONV,AP_SAT>"
    assert P.to_dict()["r1"]["activation"] == "ap_ufixed<7,2,AP_RND_CONV,AP_SAT>"
    X = np.random.default_rng(5).uniform(-4, 4, (300, 8, 2))
    xq = quantize(X, as_type(P.to_dict()["input"]["value"]))
    ref = model.predict(xq.astype(np.float32), verbose=0).astype(np.float64)
    for io_type in ("io_parallel", "io_stream"):
        np.testing.assert_array_equal(predict_quantized(twin.model, P, X, io_type=io_type), ref)
