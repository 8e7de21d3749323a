"""Graph models in the emulator: merges at hls4ml's result_t cast (checked against integer
oracles written here), several inputs and outputs, point-wise Dense, the training forward,
train_instrumented and suggest_precision on graphs; the refusals name the layer."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import kappa  # noqa: E402
from kappa import predict_quantized  # noqa: E402
from kappa.training_forward import predict_tf  # noqa: E402

A_T, B_T = "ap_fixed<10,3,AP_RND,AP_SAT>", "ap_fixed<8,2,AP_RND,AP_SAT>"
BASE = {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
        "accumulator": "ap_fixed<20,8>", "activation": "ap_fixed<12,4,AP_RND,AP_SAT>"}


def _merges_of_inputs():
    """Every merge applied directly to two inputs (so the oracle below sees the exact operands)."""
    a, b = keras.Input((5,), name="in_a"), keras.Input((5,), name="in_b")
    outs = [cls(name=cls.__name__.lower())([a, b]) for cls in (
        keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply, keras.layers.Average, keras.layers.Maximum,
        keras.layers.Minimum, keras.layers.Concatenate)]
    return keras.Model([a, b], outs)


def _codes(x, frac):
    return np.round(np.asarray(x) * 2.0**frac).astype(np.int64)  # exact: x is on the grid


def _wrap(c, width):
    c = np.mod(c, 1 << width)
    return np.where(c >= 1 << (width - 1), c - (1 << width), c)


def test_merges_cast_their_exact_value_to_result_t():
    m = _merges_of_inputs()
    res = "ap_fixed<6,2,AP_TRN,AP_WRAP>"  # 4 fractional bits, wraps beyond [-2, 2)
    P = {"input": {"value": A_T}, "in_b": {"value": B_T}, "default": {"activation": res}}
    rng = np.random.default_rng(0)
    X = [rng.uniform(-4, 4, (300, 5)), rng.uniform(-2, 2, (300, 5))]
    ys = dict(zip(["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"],
                  predict_quantized(m, P, X)))
    a = kappa.quantize(X[0], A_T)  # input casts, from double
    b = kappa.quantize(X[1], B_T)
    ca, cb = _codes(a, 7), _codes(b, 6)  # codes at 2**-7 and 2**-6

    def trn_wrap(code, frac):  # codes at 2**-frac -> ap_fixed<6,2,TRN,WRAP> values
        return _wrap(code >> (frac - 4), 6) / 16.0

    exact = {"add": (ca + 2 * cb, 7), "subtract": (ca - 2 * cb, 7), "multiply": (ca * cb, 13),
             "average": (ca + 2 * cb, 8), "maximum": (np.where(a > b, ca, 2 * cb), 7),
             "minimum": (np.where(a < b, ca, 2 * cb), 7)}
    for op, (code, frac) in exact.items():
        np.testing.assert_array_equal(ys[op], trn_wrap(code, frac), err_msg=op)
    np.testing.assert_array_equal(ys["concatenate"], np.concatenate([trn_wrap(ca, 7), trn_wrap(2 * cb, 7)], axis=1))
    assert np.mean(np.abs(a + b) >= 2) > 0.2  # the narrow result type wraps often


def _skip_two_output():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((6,), name="in_a"), keras.Input((6,), name="in_b")
    h = keras.layers.Dense(6, activation="relu", name="d0")(a)
    s = keras.layers.Add(name="add0")([h, b])
    c = keras.layers.Concatenate(name="cat0")([s, a])
    o1 = keras.layers.Dense(3, name="d1")(c)
    o2 = keras.layers.Average(name="av")([keras.layers.Maximum(name="mx")([s, h]), b])
    return keras.Model([a, b], [o1, o2])


P_GRAPH = {"input": {"value": A_T}, "in_b": {"value": B_T}, "default": BASE,
           "add0": {"activation": "ap_fixed<6,2,AP_TRN,AP_WRAP>"}}


def test_graph_forward_matches_tf_chunks_keras_and_needs_its_narrow_merge():
    m = _skip_two_output()
    rng = np.random.default_rng(1)
    X = [rng.uniform(-3, 3, (64, 6)), rng.uniform(-2, 2, (64, 6))]
    y = predict_quantized(m, P_GRAPH, X)
    assert isinstance(y, list) and [v.shape for v in y] == [(64, 3), (64, 6)]
    for u, v in zip(y, predict_tf(m, P_GRAPH, X)):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(y, predict_quantized(m, P_GRAPH, X, io_type="io_stream", chunk_samples=5)):
        np.testing.assert_array_equal(u, v)
    wide = {**P_GRAPH, "add0": {"activation": "ap_fixed<24,10>"}}
    changed = [np.mean(u != v) for u, v in zip(y, predict_quantized(m, wide, X))]
    assert min(changed) > 0.2, changed
    for u, v in zip(predict_quantized(m, None, X), m.predict(X, verbose=0)):  # float: Keras' own graph
        np.testing.assert_allclose(u, v, atol=1e-5)
    from kappa.firmware_forward import layer_outputs

    names = [n for n, _ in layer_outputs(m, P_GRAPH, X)]
    assert names.index("add0") > names.index("d0_relu") and names.index("d1") > names.index("cat0")


def _deep_sets():
    keras.utils.set_random_seed(2)
    inp = keras.Input((7, 3), name="particles")
    h = keras.layers.Dense(5, activation="relu", name="phi")(inp)
    g = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    return keras.Model(inp, keras.layers.Dense(2, name="rho")(g))


def test_pointwise_dense_is_the_dense_on_every_position():
    m = _deep_sets()
    P = {"input": {"value": A_T}, "default": BASE, "phi": {"accumulator": "ap_fixed<9,3,AP_RND,AP_WRAP>"}}
    X = np.random.default_rng(3).uniform(-3, 3, (40, 7, 3))
    from kappa.firmware_forward import layer_outputs

    phi = dict(layer_outputs(m, P, X))["phi"]
    # the same Dense, on a 1-D input, applied to each particle on its own
    one = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, name="phi")])
    one.set_weights(m.get_layer("phi").get_weights())
    per = predict_quantized(one, {"input": {"value": A_T}, "default": BASE, "phi": P["phi"]}, X.reshape(-1, 3))
    np.testing.assert_array_equal(phi, per.reshape(40, 7, 5))
    np.testing.assert_array_equal(predict_quantized(m, P, X), predict_tf(m, P, X))


def test_refusals_name_the_layer():
    a, b, c = keras.Input((4,), name="a"), keras.Input((4,), name="b"), keras.Input((4,), name="c")
    three = keras.Model([a, b, c], keras.layers.Add(name="add3")([a, b, c]))
    with pytest.raises(ValueError, match=r"'add3' \(Add\): a merge of 3 inputs: hls4ml 1.3.0 merges exactly two; "
                                         r"chain 2 Add layers"):
        predict_quantized(three, None, [np.zeros((1, 4))] * 3)
    d = keras.Input((1,), name="d")
    bc = keras.Model([a, d], keras.layers.Multiply(name="mul")([a, d]))
    with pytest.raises(ValueError, match=r"'mul' \(Multiply\): inputs of shapes \(4,\) and \(1,\)"):
        predict_quantized(bc, None, [np.zeros((1, 4)), np.zeros((1, 1))])
    dot = keras.Model([a, b], keras.layers.Dot(axes=1, name="dot")([a, b]))
    with pytest.raises(ValueError, match=r"layer 'dot' of type Dot is not supported"):
        predict_quantized(dot, None, [np.zeros((1, 4))] * 2)
    m = _skip_two_output()
    with pytest.raises(ValueError, match=r"X: the model has 2 inputs \(in_a, in_b\); pass a list of 2 arrays"):
        predict_quantized(m, P_GRAPH, np.zeros((3, 6)))
    with pytest.raises(ValueError, match=r"different numbers of samples \[3, 2\]"):
        predict_quantized(m, P_GRAPH, [np.zeros((3, 6)), np.zeros((2, 6))])
    with pytest.raises(ValueError, match=r"X\[1\] \(input 'in_b'\) has shape \(3, 5\)"):
        predict_quantized(m, P_GRAPH, [np.zeros((3, 6)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match=r"add0.accumulator: layer 'add0' has no field 'accumulator'; its fields "
                                         r"are activation"):
        predict_quantized(m, {**P_GRAPH, "add0": {"accumulator": "ap_fixed<8,3>"}}, [np.zeros((3, 6))] * 2)


def _residual():
    keras.utils.set_random_seed(4)
    inp = keras.Input((4,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="d0")(inp)
    h = keras.layers.Dense(4, name="d1")(h)
    s = keras.layers.Add(name="skip")([h, inp])
    return keras.Model(inp, keras.layers.Dense(2, name="out")(keras.layers.Concatenate(name="cat")([s, h])))


def test_train_instrumented_on_a_graph_keeps_forward_equal_to_the_firmware():
    from kappa.nn import KerasModel

    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (96, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1).astype(np.float32)
    prec = {"input": {"value": "ap_fixed<10,2,AP_RND,AP_SAT>"}, "default": {
        **BASE, "update": "ap_fixed<8,2,S_RND,AP_SAT>", "gradient": "ap_fixed<16,4,AP_RND,AP_SAT>"},
        "skip": {"activation": "ap_fixed<10,3,AP_RND,AP_WRAP>"}}
    m = KerasModel(_residual())
    w0 = [v.numpy().copy() for v in m.model.trainable_variables]
    h = m.train_instrumented(X, Y, epochs=3, batch_size=32, learning_rate=0.05, precision_dict=prec)
    assert h.quantized and np.all(np.isfinite(h.loss))
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(w0, m.model.trainable_variables))
    np.testing.assert_array_equal(predict_tf(m.model, prec, X), predict_quantized(m.model, prec, X))
    two = KerasModel(_skip_two_output())
    with pytest.raises(ValueError, match=r"has 2 inputs and 2 outputs; train_instrumented trains models with one input"):
        two.train_instrumented([X, X], Y, epochs=1, batch_size=32, learning_rate=0.05, precision_dict=prec)


def test_suggest_precision_types_merges_and_pointwise_dense_without_overflow():
    from kappa.firmware_forward import firmware_steps, layer_outputs
    from kappa.layers import FirmwareOptions
    from kappa.quantization import rail_stats
    from kappa.suggest import suggest_precision

    rng = np.random.default_rng(6)
    for model, X in ((_skip_two_output(), [rng.normal(0, 2, (300, 6)), rng.normal(0, 1, (300, 6))]),
                     (_deep_sets(), rng.normal(0, 2, (300, 7, 3)))):
        P = suggest_precision(model, X, bits=14, headroom_bits=1)
        spec = P.to_dict()
        merges = [la.name for la in model.layers if type(la).__name__ in ("Add", "Concatenate", "Maximum", "Average")]
        assert all("activation" in spec[n] for n in merges)
        if isinstance(X, list):
            assert set(spec["in_a"]) == {"value"} and set(spec["in_b"]) == {"value"}
        outs = dict(layer_outputs(model, P, X))
        for st in firmware_steps(model, P, FirmwareOptions()):
            t = st.types.get("result")
            if t is not None:
                assert rail_stats(outs[st.name], t)["saturation_fraction"] == 0.0, st.name
