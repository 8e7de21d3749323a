"""Tests for kappa.nn (models) and kappa.training_forward (the TF fixed-point forward).

The firmware arithmetic is checked three ways on narrow and saturating accumulators: the
TF forward used in training, the lead's numpy reference ``kappa.predict_quantized``
(through ``BaseModel.predict_quantized``), and an independent re-implementation below in
pure Python ``Fraction`` arithmetic, written from hls4ml's ``nnet_dense_latency.h``
semantics (``shared/reference/hls4ml-notes.md``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from math import floor

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kappa  # noqa: E402
from kappa.data import AffineDataset  # noqa: E402
from kappa.fixed_point import FixedPointType  # noqa: E402
from kappa.layers import build_plan  # noqa: E402
from kappa.nn import RESERVED_LAYER_NAMES, BaseModel, KerasModel, LinearBlockModel  # noqa: E402
from kappa.quantization import round_units_tensor  # noqa: E402
from kappa.training_forward import TrainingForward, predict_tf  # noqa: E402
from kappa.utils import half_mse_batch_loss  # noqa: E402


@pytest.fixture(scope="module")
def ds():
    return AffineDataset(num_samples=64, use_bias=True, seed=0)


def layer_names(m):
    return [l.name for l in m.model.layers]


# --------------------------------------------------------------------- BaseModel
def test_base_model_is_abstract_dataclass_with_reference_fields(ds):
    import dataclasses

    names = [f.name for f in dataclasses.fields(BaseModel)]
    for f in ("dataset", "loss", "optimizer", "metrics", "model", "input_shape", "output_shape",
              "name", "verbose", "seed"):
        assert f in names


def test_shapes_inferred_from_dataset(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[8], activation="relu", seed=0)
    assert m.input_shape == (4,)
    assert m.output_shape == (2,)
    assert m.model.inputs[0].shape[1:] == (4,)
    assert m.model.outputs[0].shape[1:] == (2,)


def test_stable_layer_names_and_final_dense(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[8, 3], activation="relu", use_batchnorm=True, seed=0)
    assert layer_names(m) == ["model_input", "dense0", "activation0", "batchnorm0",
                              "dense1", "activation1", "batchnorm1", "dense2"]
    assert m.model.get_layer("dense2").units == 2
    # last block already matches the output: no extra Dense (reference behaviour)
    m2 = LinearBlockModel(dataset=ds, num_hidden=[8, 2], activation="relu", seed=0)
    assert layer_names(m2) == ["model_input", "dense0", "activation0", "dense1", "activation1"]


def test_activation_layer_instance_is_cloned_per_block(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[8, 8], activation=keras.layers.ReLU(), seed=0)
    assert [type(l).__name__ for l in m.model.layers[1:]] == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    assert layer_names(m)[2] == "activation0" and layer_names(m)[4] == "activation1"


@pytest.mark.parametrize("use_bias", [False, True])
def test_one_layer_model_of_affine_experiments(ds, use_bias):
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=use_bias, seed=0)
    assert layer_names(m) == ["model_input", "dense0"]
    d = m.model.get_layer("dense0")
    assert tuple(d.kernel.shape) == (4, 2)
    assert d.use_bias is use_bias
    assert len(m.model.trainable_variables) == (2 if use_bias else 1)


def test_invalid_width_rejected(ds):
    with pytest.raises(ValueError, match="num_hidden"):
        LinearBlockModel(dataset=ds, num_hidden=[0])


def test_seeded_init_reproducible_and_seed_dependent(ds):
    a = LinearBlockModel(dataset=ds, num_hidden=[8], seed=3).model.get_weights()
    b = LinearBlockModel(dataset=ds, num_hidden=[8], seed=3).model.get_weights()
    c = LinearBlockModel(dataset=ds, num_hidden=[8], seed=4).model.get_weights()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_reinitialize_weights_restores_initial_weights(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[8], activation="relu", use_batchnorm=True, seed=1)
    w0 = m.model.get_weights()
    m.train(ds.X, ds.Y, epochs=2, batch_size=16)
    assert not np.array_equal(w0[0], m.model.get_weights()[0])
    m.reinitialize_weights()
    for x, y in zip(w0, m.model.get_weights()):
        np.testing.assert_array_equal(x, y)


def test_summary_prints(ds, capsys):
    LinearBlockModel(dataset=ds, num_hidden=[], seed=0).summary()
    assert "dense0" in capsys.readouterr().out


def test_train_returns_decreasing_loss_history(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[], seed=0, optimizer=keras.optimizers.SGD(0.2))
    out = m.train(ds.X, ds.Y, epochs=5, batch_size=16)
    assert set(out) == {"loss", "epoch_loss"}
    assert out["loss"].shape == (20,) and out["epoch_loss"].shape == (5,)
    assert out["epoch_loss"][-1] < 0.5 * out["epoch_loss"][0]


# --------------------------------------------------------------------- KerasModel
def _chain(*layers, n_in=4):
    inp = keras.Input((n_in,), name="x")
    h = inp
    for layer in layers:
        h = layer(h)
    return keras.Model(inp, h)


def test_keras_model_wraps_supported_layers(ds):
    km = _chain(keras.layers.Dense(6, activation="relu", name="d0"), keras.layers.Activation("linear", name="lin"),
                keras.layers.Dense(5, name="d1"), keras.layers.ReLU(name="r1"),
                keras.layers.Dense(4, name="d2"), keras.layers.Activation("relu", name="a2"),
                keras.layers.Dense(2, activation="linear", name="d3"))
    m = KerasModel(km)
    assert m.dataset is None and m.input_shape == (4,) and m.output_shape == (2,)
    # a fused ReLU is split off as <name>_relu, as hls4ml splits it
    assert [(s.name, s.kind) for s in build_plan(km)] == [
        ("d0", "dense"), ("d0_relu", "relu"), ("lin", "linear"), ("d1", "dense"), ("r1", "relu"), ("d2", "dense"),
        ("a2", "relu"), ("d3", "dense")]
    m2 = KerasModel(km, ds)
    assert m2.dataset is ds
    h = m2.train_instrumented(ds.X, ds.Y, epochs=2, batch_size=16, learning_rate=0.01)
    assert h.n_steps == 8 and np.all(np.isfinite(h.loss))


@pytest.mark.parametrize("layer, fragment", [
    (keras.layers.Dense(3, activation="elu", name="bad_dense"), "bad_dense"),
    (keras.layers.UnitNormalization(name="unorm"), "unorm"),
    (keras.layers.Activation("softplus", name="sig"), "sig"),
    (keras.layers.ReLU(max_value=6.0, name="relu6"), "relu6"),
    (keras.layers.LayerNormalization(name="bn"), "bn"),
])
def test_keras_model_rejects_unsupported_layer_naming_it(layer, fragment):
    with pytest.raises(ValueError) as exc:
        KerasModel(_chain(keras.layers.Dense(3, name="ok"), layer))
    msg = str(exc.value)
    assert fragment in msg and "supported layers" in msg and "Dense" in msg


@pytest.mark.parametrize("name", RESERVED_LAYER_NAMES)
def test_reserved_layer_names_refused(name):
    assert set(RESERVED_LAYER_NAMES) == {"input", "loss", "default"}
    with pytest.raises(ValueError, match="reserved"):
        KerasModel(_chain(keras.layers.Dense(3, name=name)))


def test_keras_model_shape_mismatch_with_dataset(ds):
    with pytest.raises(ValueError, match="input shape"):
        KerasModel(_chain(keras.layers.Dense(2), n_in=5), ds)


def test_keras_model_takes_graphs_but_not_shared_layers():
    inp = keras.Input((4,))
    a = keras.layers.Dense(3, name="a")(inp)
    b = keras.layers.Dense(3, name="b")(inp)
    m = KerasModel(keras.Model(inp, keras.layers.Add(name="sum")([a, b])))  # a branching graph
    assert m.input_shape == (4,) and m.output_shape == (3,)
    shared = keras.layers.Dense(4, name="shared")
    with pytest.raises(ValueError, match=r"layer 'shared' is used 2 times; kappa supports each layer once"):
        KerasModel(keras.Model(inp, shared(shared(inp))))


# ------------------------------------------------------- variable <-> precision fields
def test_layer_and_field_mapping_and_helpers(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[3], activation="relu", use_batchnorm=True, seed=0)
    fields = [m._layer_and_field_for_variable(v) for v in m.model.trainable_variables]
    assert fields == [("dense0", "weight"), ("dense0", "bias"), ("batchnorm0", "value"), ("batchnorm0", "value"),
                      ("dense1", "weight"), ("dense1", "bias")]
    k = m.model.get_layer("dense0").kernel
    assert BaseModel._same_variable(k, k) and not BaseModel._same_variable(k, m.model.get_layer("dense1").kernel)
    prec = kappa.PrecisionDict({"default": {"weight": "ap_fixed<4,1>", "gradient": "ap_fixed<6,1,AP_RND,AP_SAT>"}})
    m._quantize_variable_storage(k, prec)
    np.testing.assert_array_equal(k.numpy(), kappa.quantize(k.numpy(), "ap_fixed<4,1>"))
    g = [tf.constant(np.full(v.shape, 0.30), tf.float32) for v in m.model.trainable_variables]
    qg = m._quantize_gradients(g, m.model.trainable_variables, prec)
    np.testing.assert_array_equal(qg[0].numpy(), np.full(k.shape, 0.3125, np.float32))
    r = m._rail_max_for_variables(m.model.trainable_variables, prec, fields=("weight",))
    assert 0.0 <= r["saturation_fraction_max"] <= r["near_rail_fraction_max"] <= 1.0
    big = [tf.constant(np.full(v.shape, 5.0), tf.float32) for v in m.model.trainable_variables]
    assert m._rail_max_for_tensors(big, m.model.trainable_variables, prec)["saturation_fraction_max"] == 1.0


# ----------------------------------------------------------- exact firmware forward
def _conv(v: Fraction, t: FixedPointType) -> Fraction:
    """Independent ap_fixed conversion of an exact rational (round, then overflow)."""
    F = t.width - t.integer
    s = v * (Fraction(2) ** F)
    fl = floor(s)
    fr = s - fl
    half = Fraction(1, 2)
    if t.rounding == "TRN":
        k = fl
    elif t.rounding == "RND":  # ties toward +inf
        k = fl + (1 if fr >= half else 0)
    elif t.rounding == "RND_CONV":  # ties to even
        k = fl + (1 if fr > half or (fr == half and fl % 2 == 1) else 0)
    elif t.rounding == "TRN_ZERO":
        k = fl + (1 if (s < 0 and fr > 0) else 0)
    else:
        raise NotImplementedError(t.rounding)
    lo = -(2 ** (t.width - 1)) if t.signed else 0
    hi = 2 ** (t.width - 1) - 1 if t.signed else 2 ** t.width - 1
    if t.overflow == "WRAP":
        k = (k - lo) % (2 ** t.width) + lo
    elif t.overflow == "SAT":
        k = min(max(k, lo), hi)
    elif t.overflow == "SAT_SYM":
        k = min(max(k, -hi), hi)
    elif t.overflow == "SAT_ZERO":
        k = 0 if (k < lo or k > hi) else k
    return Fraction(k) / (Fraction(2) ** F)


def _reference_forward(model, prec: kappa.PrecisionDict, X, events):
    """Pure-Python firmware forward: per-product casts, bias-initialised accumulator,
    partial sums cast in input order, result cast; ReLU then cast."""
    def q(v, t):
        return v if t is None else _conv(v, t)

    rows = [[q(Fraction(float(v)), prec.dtype("input", "value")) for v in row] for row in X]
    for layer in model.layers[1:]:
        name = layer.name
        act = prec.dtype(name, "activation")
        if isinstance(layer, keras.layers.Dense):
            wt, bt, at = (prec.dtype(name, f) for f in ("weight", "bias", "accumulator"))
            W = [[q(Fraction(float(w)), wt) for w in r] for r in layer.kernel.numpy()]
            B = [q(Fraction(float(b)), bt) for b in layer.bias.numpy()] if layer.use_bias else [Fraction(0)] * layer.units
            out = []
            for x in rows:
                y = []
                for j in range(layer.units):
                    acc = q(B[j], at)
                    for i in range(len(x)):
                        p = q(x[i] * W[i][j], at)
                        s = acc + p
                        acc = q(s, at)
                        events["overflow"] += int(acc != s)
                    events["truncated"] += int(
                        sum(q(x[i] * W[i][j], at) for i in range(len(x))) != sum(x[i] * W[i][j] for i in range(len(x)))
                    )
                    if layer.activation.__name__ == "relu":
                        acc = max(acc, Fraction(0))
                    y.append(q(acc, act))
                out.append(y)
            rows = out
        else:  # ReLU layer / Activation('relu') / Activation('linear')
            relu = isinstance(layer, keras.layers.ReLU) or layer.activation.__name__ == "relu"
            rows = [[q(max(v, Fraction(0)) if relu else v, act) for v in r] for r in rows]
    return np.array([[float(v) for v in r] for r in rows])


def _firmware_model(seed=0):
    rng = np.random.default_rng(seed)
    m = _chain(
        keras.layers.Dense(5, activation="relu", name="d0"),
        keras.layers.Dense(4, name="d1"),
        keras.layers.ReLU(name="r1"),
        keras.layers.Dense(3, name="d2"),
        keras.layers.Activation("linear", name="a2"),
        n_in=6,
    )
    for layer in m.layers:
        if isinstance(layer, keras.layers.Dense):
            layer.kernel.assign(rng.normal(0, 1.5, layer.kernel.shape))
            layer.bias.assign(rng.normal(0, 1.0, layer.bias.shape))
    X = rng.uniform(-4, 4, (40, 6)).astype(np.float32)
    return m, X


FIRMWARE_CASES = {
    # accumulator ap_fixed<10,4> WRAP: sums overflow and wrap
    "wrap_10_4": {
        "input": {"value": "ap_fixed<10,4>"},
        "default": {
            "weight": "ap_fixed<8,3>",
            "bias": "ap_fixed<8,3>",
            "accumulator": "ap_fixed<10,4>",
            "activation": "ap_fixed<10,4>",
        },
    },
    # saturating accumulator with rounding
    "sat_12_3": {
        "input": {"value": "ap_fixed<10,4>"},
        "default": {
            "weight": "ap_fixed<8,3>",
            "bias": "ap_fixed<8,3>",
            "accumulator": "ap_fixed<12,3,AP_RND,AP_SAT>",
            "activation": "ap_fixed<10,4,AP_RND,AP_SAT>",
        },
    },
    # products truncated: accumulator has fewer fractional bits (7) than input + weight (6 + 9)
    "truncated_products": {
        "input": {"value": "ap_fixed<10,4>"},
        "default": {
            "weight": "ap_fixed<12,3>",
            "bias": "ap_fixed<12,3>",
            "accumulator": "ap_fixed<14,7>",
            "activation": "ap_fixed<12,6>",
        },
    },
    "truncated_sat_conv": {
        "input": {"value": "ap_fixed<10,4>"},
        "default": {
            "weight": "ap_fixed<12,3>",
            "bias": "ap_fixed<12,3>",
            "accumulator": "ap_fixed<12,5,AP_RND_CONV,AP_SAT_SYM>",
            "activation": "ap_fixed<10,4,AP_TRN_ZERO,AP_SAT_ZERO>",
        },
    },
}


@pytest.mark.parametrize("case", sorted(FIRMWARE_CASES))
def test_tf_forward_equals_numpy_reference_and_independent_loops(case):
    km, X = _firmware_model()
    prec = kappa.PrecisionDict(FIRMWARE_CASES[case])
    events = {"overflow": 0, "truncated": 0}
    ref = _reference_forward(km, prec, X, events)
    lead = KerasModel(km).predict_quantized(X, prec)
    mine = predict_tf(km, prec, X)
    assert lead.shape == mine.shape == (40, 3) and lead.dtype == np.float64
    np.testing.assert_array_equal(lead, ref)
    np.testing.assert_array_equal(mine, ref)
    # the case exercises what it claims
    if case in ("wrap_10_4", "sat_12_3", "truncated_sat_conv"):
        assert events["overflow"] > 0
    if case.startswith("truncated"):
        assert events["truncated"] > 0


def test_predict_quantized_delegates_to_forward_module(ds):
    from kappa import predict_quantized

    m = LinearBlockModel(dataset=ds, num_hidden=[5], activation="relu", seed=0)
    prec = {
        "input": {"value": "ap_fixed<12,2>"},
        "default": {"weight": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>"},
    }
    out = m.predict_quantized(ds.X, prec)
    assert out.shape == (64, 2)
    np.testing.assert_array_equal(out, predict_quantized(m.model, kappa.PrecisionDict(prec), ds.X))
    np.testing.assert_array_equal(out, predict_tf(m.model, prec, ds.X))


@pytest.mark.parametrize("mode", ["TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV"])
def test_round_units_tensor_matches_quantize(mode):
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(-4096, 4096, 500) / 8.0, np.arange(-20, 21) / 2.0])  # many ties
    t = FixedPointType(40, 30, rounding=mode, overflow="SAT")  # F = 10, huge range: rounding only
    want = kappa.quantize(v / 1024.0, t) * 1024.0
    for bounded in (False, True):  # the general path and the |s| < 2**52 fast path
        got = round_units_tensor(tf.constant(v / 1024.0 * 1024.0, tf.float64), mode, bounded=bounded).numpy()
        np.testing.assert_array_equal(got, want)
    near = np.array([2.0**51 + 0.5, -(2.0**51) - 0.5, 2.0**51 - 0.5, 2.0**52 - 1.0, -(2.0**52) + 1.5])
    np.testing.assert_array_equal(
        round_units_tensor(tf.constant(near, tf.float64), mode, bounded=True).numpy(),
        round_units_tensor(tf.constant(near, tf.float64), mode).numpy(),
    )


def test_forward_refuses_stochastic_rounding_in_firmware_fields(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[], seed=0)
    with pytest.raises(ValueError, match="S_RND"):
        TrainingForward(m.model, {"default": {"weight": "ap_fixed<8,2,S_RND>"}})
    with pytest.raises(ValueError, match="unknown layer"):
        TrainingForward(m.model, {"dense9": {"weight": "ap_fixed<8,2>"}})


def test_forward_float_path_equals_keras(ds):
    m = LinearBlockModel(dataset=ds, num_hidden=[7, 5], activation="relu", use_batchnorm=True, seed=0)
    fwd = TrainingForward(m.model, None)
    np.testing.assert_allclose(fwd(ds.X).numpy(), m.model(ds.X.astype(np.float32)).numpy(), rtol=1e-6, atol=1e-6)


def test_ste_gradient_of_quantized_one_layer_model(ds):
    """d(half-MSE)/dW = X_qᵀ (Ŷ_q − Y) / N: every quantizer passes the gradient through."""
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=False, seed=0)
    prec = kappa.PrecisionDict(
        {
            "input": {"value": "ap_fixed<8,1,AP_RND,AP_SAT>"},
            "default": {
                "weight": "ap_fixed<8,2>",
                "accumulator": "ap_fixed<10,2,AP_TRN,AP_SAT>",
                "activation": "ap_fixed<8,2,AP_RND,AP_SAT>",
            },
        }
    )
    fwd = TrainingForward(m.model, prec)
    w = tf.cast(m.model.trainable_variables[0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = fwd(ds.X, params=[w])
        loss = half_mse_batch_loss(ds.Y, y)
    g = tape.gradient(loss, w).numpy()
    xq = kappa.quantize(ds.X.astype(np.float32), "ap_fixed<8,1,AP_RND,AP_SAT>")
    np.testing.assert_allclose(g, xq.T @ (y.numpy() - ds.Y) / len(ds.X), rtol=1e-12, atol=1e-14)


def test_tf_forward_equals_numpy_reference_on_random_types():
    """60 random type assignments (all rounding/overflow modes, narrow to wide, with and
    without rounding of products) through both fast paths and the sequential loop."""
    from kappa import predict_quantized

    rng = np.random.default_rng(5)
    km, X = _firmware_model(seed=3)
    modes = ["TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV"]
    overflows = ["WRAP", "SAT", "SAT_SYM", "SAT_ZERO"]

    def rand_type(wmin, wmax, imin, imax, signed=True):
        w = int(rng.integers(wmin, wmax + 1))
        i = int(rng.integers(imin, imax + 1))
        u = "" if signed else "u"
        return f"ap_{u}fixed<{w},{i},AP_{rng.choice(modes)},AP_{rng.choice(overflows)}>"

    for _ in range(60):
        prec = {
            "input": {"value": rand_type(6, 16, 2, 5)},
            "default": {
                "weight": rand_type(4, 14, 1, 4),
                "bias": rand_type(4, 14, 1, 4),
                "accumulator": rand_type(8, 36, 3, 12, signed=bool(rng.integers(0, 4))),  # some unsigned
                "activation": rand_type(6, 18, 2, 7, signed=bool(rng.integers(0, 2))),
            },
        }
        np.testing.assert_array_equal(predict_tf(km, prec, X), predict_quantized(km, prec, X), err_msg=str(prec))


@pytest.mark.parametrize("rounded_products", [False, True])
def test_compiled_forward_takes_the_sequential_loop_where_a_sum_saturates(rounded_products):
    """Inside a compiled function (as in training) the saturating fallback is a call the graph
    does not inline: rows whose partial sums hit a rail (+big then -big) must still get the
    firmware's sequential values, and the rows that do not must be the plain sum's."""
    km = _chain(keras.layers.Dense(1, use_bias=False, name="d0"), n_in=4)
    km.layers[-1].kernel.assign(np.array([[1.0], [1.0], [-1.0], [-1.0]]))
    fine = ",AP_RND,AP_SAT>" if rounded_products else ",AP_TRN,AP_SAT>"
    prec = {"input": {"value": "ap_fixed<16,10,AP_RND,AP_SAT>"},
            "default": {"weight": "ap_fixed<8,2" + (",AP_RND,AP_SAT>" if rounded_products else ">"),
                        "bias": "ap_fixed<8,2>",
                        # fewer fractional bits than input + weight when rounded_products
                        "accumulator": "ap_fixed<12,10" + fine, "activation": "ap_fixed<16,12>"}}
    if rounded_products:
        km.layers[-1].kernel.assign(np.array([[0.75], [0.75], [-0.75], [-0.75]]))
    X = np.array([[300.0, 300.0, 300.0, 300.0],     # 300 + 300 saturates at 511.75, then falls
                  [10.25, 20.5, 30.0, 40.0],        # never near a rail
                  [-300.0, -300.0, -300.0, -300.0],  # the lower rail first, then up to 88
                  [0.0, 0.0, 0.0, 0.0]])
    if rounded_products:
        X = X * 4.0 / 3.0  # the same sums with weights of 0.75, products rounded on their own
    fwd = TrainingForward(km, prec)
    compiled = tf.function(lambda x: fwd(x, training=False))
    got = compiled(tf.constant(X)).numpy()
    np.testing.assert_array_equal(got, kappa.predict_quantized(km, prec, X))
    np.testing.assert_array_equal(got, predict_tf(km, prec, X))
    # the sequential values differ from a saturated plain sum on the saturating rows
    plain = np.clip(X @ km.layers[-1].kernel.numpy(), -512, 511.75)
    assert got[0, 0] != plain[0, 0] and got[2, 0] != plain[2, 0] and got[2, 0] > 0 > got[0, 0]
    np.testing.assert_array_equal(got[[1, 3]], fwd(tf.constant(X[[1, 3]]), training=False).numpy())
