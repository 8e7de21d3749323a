"""suggest_precision: types from data cover every range reached (no overflow on its own data), and no more."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"


def _mlp_logits():
    import keras

    from kappa.loading import load_model

    model = load_model(FIXTURES / "KERAS_3layer.json", FIXTURES / "KERAS_3layer_weights.h5")
    model.layers[-1].activation = keras.activations.linear
    return model


def _conv():
    import keras

    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 2), name="img")
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c0")(inp)
    x = keras.layers.AveragePooling2D(2, name="p0")(x)
    x = keras.layers.Flatten(name="f")(x)
    x = keras.layers.Dense(4, name="d0")(x)
    x = keras.layers.Activation("relu", name="r0")(x)
    return keras.Model(inp, x)


@pytest.mark.parametrize("make, shape, io_type", [(_mlp_logits, (16,), "io_parallel"),
                                                  (_conv, (6, 6, 2), "io_parallel"),
                                                  (_conv, (6, 6, 2), "io_stream")])
def test_no_overflow_on_its_own_data(make, shape, io_type):
    from kappa.firmware_forward import firmware_steps, layer_outputs
    from kappa.layers import FirmwareOptions
    from kappa.quantization import quantize, rail_stats
    from kappa.suggest import suggest_precision

    model = make()
    X = np.random.default_rng(0).normal(0, 2, (400, *shape))
    P, ranges = suggest_precision(model, X, bits=14, headroom_bits=1, io_type=io_type, return_ranges=True)
    for r in ranges:  # data-dependent fields keep at least the headroom asked for
        if r.field in ("value", "accumulator", "activation"):
            assert r.margin_bits >= 1.0 - 1e-9, r
    steps = firmware_steps(model, P, FirmwareOptions(io_type))
    outs = layer_outputs(model, P, X, io_type=io_type)
    for st, (name, y) in zip(steps, outs):
        t = st.types.get("result")
        if t is not None:
            assert rail_stats(y, t)["saturation_fraction"] == 0.0, name
    # the first Dense's accumulator, checked independently: every partial sum of the firmware input
    if make is _mlp_logits:
        layer = model.layers[1]
        d = P.to_dict()[layer.name]
        from kappa.fixed_point import as_type

        xq = quantize(X, as_type(P.to_dict()["input"]["value"]))
        w = quantize(layer.kernel.numpy().astype(np.float64), as_type(d["weight"]))
        b = quantize(layer.bias.numpy().astype(np.float64), as_type(d["bias"]))
        partial = b + np.cumsum(xq[:, :, None] * w[None], axis=1)
        acc = as_type(d["accumulator"])
        assert np.abs(partial).max() <= acc.max / 2  # one headroom bit
        assert acc.fractional == as_type(P.to_dict()["input"]["value"]).fractional + as_type(d["weight"]).fractional


def test_integer_bits_are_the_fewest_that_fit():
    from kappa.fixed_point import FixedPointType
    from kappa.suggest import integer_bits

    assert integer_bits(0.0, 8) == 1
    assert integer_bits(3.9, 8) == 3            # ap_fixed<8,3> max 3.96875
    assert integer_bits(3.99, 8) == 4           # 3.99 rounds to 4.0 on the <8,3> grid: overflow
    assert integer_bits(4.0, 8) == 4
    assert integer_bits(1.0) == 2               # on-grid value, no rounding: [-2, 2)
    from kappa.quantization import quantize

    def rounded(peak, i):  # peak on the ap_fixed<10, i> grid, without overflow
        return float(quantize(np.array([peak]), FixedPointType(14, i + 4, True, "RND_CONV", "WRAP"))[0])

    for peak in np.random.default_rng(3).uniform(0.01, 100, 200):
        i = integer_bits(peak, 10)
        assert rounded(peak, i) <= FixedPointType(10, i).max          # fits
        assert rounded(peak, i - 1) > FixedPointType(10, i - 1).max   # one bit fewer would overflow


def test_yaml_written_validated_and_never_overwritten(tmp_path):
    from kappa.layers import fields_by_layer
    from kappa.precision import PrecisionDict
    from kappa.suggest import suggest_precision

    model = _mlp_logits()
    X = np.random.default_rng(1).normal(size=(50, 16))
    path = tmp_path / "types.yaml"
    P = suggest_precision(model, X, bits=10, path=path)
    assert PrecisionDict.load(path) == P
    PrecisionDict.load(path).validate(fields_by_layer(model, strict=True))
    with pytest.raises(ValueError, match="exists"):
        suggest_precision(model, X, path=path)
    with pytest.raises(ValueError, match="headroom_bits=-1"):
        suggest_precision(model, X, headroom_bits=-1)
    with pytest.raises(ValueError, match="bits=40"):
        suggest_precision(model, X, bits=40)


def test_latency_softmax_is_refused_naming_the_layer():
    import keras

    from kappa.suggest import suggest_precision

    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Activation("softmax", name="sm")(keras.layers.Dense(3, name="d")(inp)))
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match=r"layer 'sm': suggest_precision has no rule for a 'latency' softmax"):
        suggest_precision(model, X, layer_options={"sm": {"implementation": "latency"}})
    P = suggest_precision(model, X, layer_options={"sm": {"implementation": "argmax"}})
    assert P.to_dict()["sm"] == {"activation": "ap_ufixed<16,1,AP_RND_CONV,AP_SAT>"}


def _fixture(name):
    from kappa.loading import load_model

    return load_model(FIXTURES / f"{name}.json", FIXTURES / f"{name}_weights.h5")


@pytest.mark.parametrize("name, shape, softmax, n", [("KERAS_3layer", (16,), "output_softmax", 5),
                                                     ("KERAS_3layer_batch_norm", (16,), "softmax", 5),
                                                     ("KERAS_conv1d_small", (10, 4), "output_softmax", 5)])
def test_every_layer_of_the_example_models_is_typed(name, shape, softmax, n):
    """The README's call (bits=14, headroom_bits=1) types softmax, BatchNormalization and the rest."""
    from kappa.firmware_forward import firmware_steps, layer_outputs
    from kappa.fixed_point import as_type
    from kappa.layers import FirmwareOptions, fields_by_layer
    from kappa.layers.batchnorm import inference_affine
    from kappa.quantization import rail_stats

    model = _fixture(name)
    X = np.random.default_rng(0).normal(size=(500, *shape))
    P = suggest_precision_(model, X)
    d = P.to_dict()
    P.validate(fields_by_layer(model, strict=True))
    sm = d[softmax]
    u14 = "ap_ufixed<14,1,AP_RND_CONV,AP_SAT>"
    assert sm["exp_table"] == sm["inv_table"] == sm["activation"] == u14
    norm = as_type(sm["inp_norm"])
    # the exp table's address is inp_norm's 10 bits; its integer bits reach twice the largest logit
    # gap seen, or 14 ln 2 = 9.7 (beyond which exp rounds to 0 in 13 fractional bits): step <= 2**-6
    outs = layer_outputs(model, P, X)
    logits = outs[[k for k, (lname, _) in enumerate(outs) if lname.startswith(softmax)][-1] - 1][1]
    reach = min(2 * float((logits.max(1, keepdims=True) - logits).max()), 14 * np.log(2))
    assert 2.0 ** norm.integer >= reach > 2.0 ** (norm.integer - 1)
    assert (norm.width, norm.signed, norm.overflow) == (10, False, "SAT") and 2.0 ** (norm.integer - 10) <= 2 ** -6
    inv_inp = as_type(sm["inv_inp"])
    assert inv_inp.width == 10 and not inv_inp.signed and 1 <= inv_inp.integer <= 3
    if "accumulator" in sm and name == "KERAS_3layer_batch_norm":  # its own: n = 5 sums of entries <= 1
        assert sm["accumulator"] == "ap_ufixed<16,3>"
    else:  # fused into the Dense: shared, and holds the sum of 5 entries (signed: I >= 4)
        assert as_type(d[softmax]["accumulator"]).integer >= 4
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            for fld, v in zip(("scale", "bias"), inference_affine(layer)):
                t = as_type(d[layer.name][fld])
                assert t.width == 14 and np.abs(v).max() <= t.max and np.abs(v).max() > t.max / 2 - t.lsb
    steps = firmware_steps(model, P, FirmwareOptions())
    for st, (lname, y) in zip(steps, layer_outputs(model, P, X)):
        t = st.types.get("result")
        if t is not None and st.family.name != "softmax":
            assert rail_stats(y, t)["saturation_fraction"] == 0.0, lname


def suggest_precision_(model, X):
    from kappa.suggest import suggest_precision

    return suggest_precision(model, X, bits=14, headroom_bits=1)


def test_tables_and_leaky_relu_are_typed_and_close_to_float():
    import keras

    from kappa import predict_quantized

    keras.utils.set_random_seed(11)
    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="sigmoid", name="d0")(inp)
    h = keras.layers.Dense(8, name="d1")(h)
    h = keras.layers.LeakyReLU(negative_slope=0.3, name="lrelu")(h)
    h = keras.layers.Dense(4, name="d2")(h)
    h = keras.layers.Activation("tanh", name="th")(h)
    model = keras.Model(inp, h)
    X = np.random.default_rng(12).normal(size=(400, 6))
    P = suggest_precision_(model, X)
    d = P.to_dict()
    assert d["d0"]["table"] == d["d0"]["activation"] == "ap_ufixed<14,0,AP_RND_CONV,AP_SAT>"
    assert d["th"] == {"table": "ap_fixed<14,1,AP_RND_CONV,AP_SAT>", "activation": "ap_fixed<14,1,AP_RND_CONV,AP_SAT>"}
    assert d["lrelu"]["param"] == "ap_fixed<14,0,AP_RND_CONV,AP_SAT>"  # 0.3 in [-0.5, 0.5), LSB 2**-14
    Xt = np.random.default_rng(13).normal(size=(400, 6))
    err = np.abs(predict_quantized(model, P, Xt) - model.predict(Xt.astype(np.float32), verbose=0)).max()
    # tanh table step 8/1024 (slope <= 1) plus the sigmoid table's step 16/1024 (slope <= 1/4) carried through
    # two Dense layers: measured 0.0124
    print(f"[suggest] sigmoid/LeakyReLU/tanh model: largest |firmware - float| {err:.4f}")
    assert err < 0.03


