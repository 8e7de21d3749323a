"""Every fast path of the exact arithmetic against its general (numpy, literal) path.

* ``dot_codes`` (the firmware dot product of Dense and every convolution pixel): the exact
  float64 matrix-product path and the compiled integer kernel against ``_dot_general``
  (every product cast with ``requantize_codes``, saturating sums one input at a time), on
  random types at the limits where the paths switch: product shift -2..2 (exact products
  vs rounded ones), partial sums just below / above 2**53, accumulators that saturate on
  some rows only, wide WRAP sums that need the product mask, every rounding and overflow
  mode, signed and unsigned accumulators, ternary-like and extreme codes.
* the compiled element-wise casts (``quantize``, ``requantize_codes``, ``to_codes`` on
  arrays of >= ``COMPILED_MIN_SIZE`` elements) against the numpy expressions, on values
  built to hit ties, rails, wrap periods, tiny magnitudes and large ones.
* chunked ``predict_quantized`` against one chunk.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import kappa.quantization as Q
from kappa.fixed_point import FixedPointType, as_type
from kappa.layers.dense import _dot_general, dot_codes

ROUNDINGS = ["TRN", "RND", "RND_MIN_INF", "RND_CONV", "TRN_ZERO", "RND_ZERO", "RND_INF"]
OVERFLOWS = ["WRAP", "SAT", "SAT_SYM", "SAT_ZERO"]


def _codes(rng, bits, signed, shape):
    """Random codes of a ``bits``-wide type with the extreme codes planted."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    c = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    flat = c.reshape(-1)
    k = min(flat.size, 4)
    flat[rng.choice(flat.size, k, replace=False)] = [lo, hi, 0, lo + 1][:k]
    return c


def _acc(width, integer, rounding, overflow, signed=True):
    return FixedPointType(width, integer, signed=signed, rounding=rounding, overflow=overflow)


def _check_paths(xc, wc, acc0, frac, acc_t, x_bound, expect_exact=None):
    ref = _dot_general(xc, wc, acc0, frac, acc_t)
    got = dot_codes(xc, wc, acc0, frac, acc_t, x_bound=x_bound)
    np.testing.assert_array_equal(got, ref)
    for path in ("exact", "kernel"):
        try:
            forced = dot_codes(xc, wc, acc0, frac, acc_t, x_bound=x_bound, path=path)
        except ValueError:
            if path == "exact" and expect_exact:
                raise
            continue
        assert path != "exact" or expect_exact is not False, "exact path accepted beyond its limit"
        np.testing.assert_array_equal(forced, ref, err_msg=f"path {path}")
    return ref


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_dot_paths_every_mode_around_the_exact_product_switch(rounding, overflow):
    rng = np.random.default_rng(hash((rounding, overflow)) % 2**32)
    # x: ap_fixed<9,3> (F=6), w: ap_fixed<7,2> (F=5): exact products have 11 fractional bits.
    for shift in (-2, -1, 0, 1, 2, 5):
        for signed in (True, False):
            Fa = 11 - shift
            # narrow enough that many sums saturate/wrap, wide enough that some do not
            acc_t = _acc(12, 12 - Fa, rounding, overflow, signed)
            xc = _codes(rng, 9, True, (300, 17))
            xc[:100] //= 64  # small inputs: rows that cannot saturate
            wc = _codes(rng, 7, True, (17, 6))
            acc0 = Q.requantize_codes(_codes(rng, 7, True, (6,)), 5, acc_t)
            _check_paths(xc, wc, acc0, 11, acc_t, 256, expect_exact=(shift <= 0))


@pytest.mark.parametrize("overflow", OVERFLOWS)
def test_dot_exact_path_switches_at_2_pow_53(overflow):
    """Partial sums of exactly 2**53 - 1 (largest exact bound) and 2**53 (refused)."""
    rng = np.random.default_rng(1)
    n_in = 4
    acc_t = _acc(51, 51, "TRN", overflow)  # F = 0: codes are values; sums reach past the rails
    wc = np.full((n_in, 2), 1, np.int64)
    for x_bound, exact in (((2**53 - 1) // n_in, True), (2**53 // n_in, False)):
        xc = rng.integers(-x_bound, x_bound, size=(50, n_in), endpoint=True, dtype=np.int64)
        xc[0] = x_bound
        xc[1] = -x_bound
        wc2 = wc.copy()
        if not exact:
            wc2[0, 0] = 1  # bound = x_bound * 4 = 2**53
        acc0 = np.array([0, 3], np.int64)
        _check_paths(xc, wc2, acc0, 0, acc_t, x_bound, expect_exact=exact)


@pytest.mark.parametrize("overflow", ["SAT", "SAT_SYM", "SAT_ZERO"])
def test_dot_saturation_only_on_some_rows(overflow):
    """Exact products, an accumulator that saturates on some rows: the per-row check sends
    exactly those rows to the sequential kernel (order matters: +big then -big)."""
    acc_t = _acc(10, 10, "TRN", overflow)  # integer codes in [-512, 511]
    wc = np.array([[1], [1], [-1], [-1]], np.int64)
    xc = np.array([[300, 300, 300, 300],   # 300, 600 -> 511 saturates, then 211, -89
                   [10, 20, 30, 40],       # never near the rails
                   [-200, -200, 200, 200],  # -200, -400, -600 -> rail, ...
                   [0, 0, 0, 0]], np.int64)
    acc0 = np.array([5], np.int64)
    ref = _check_paths(xc, wc, acc0, 0, acc_t, 300, expect_exact=True)
    lo = -511 if overflow == "SAT_SYM" else -512
    exp = []
    for row in xc:
        a = 5
        for v, w in zip(row, wc[:, 0]):
            a += v * w
            if a > 511 or a < lo:
                a = 0 if overflow == "SAT_ZERO" else min(max(a, lo), 511)
        exp.append(a)
    np.testing.assert_array_equal(ref[:, 0], exp)


@pytest.mark.parametrize("rounding", ["TRN", "RND_CONV", "RND_ZERO"])
def test_dot_wide_wrap_sums_need_the_mask(rounding):
    """Products of 30 + 30 bits rounded to a 40-bit WRAP accumulator, 64 inputs: the raw
    sum could leave int64, so the kernel masks every product to 40 bits."""
    rng = np.random.default_rng(2)
    acc_t = _acc(40, 20, rounding, "WRAP")
    xc = _codes(rng, 30, True, (64, 64))
    wc = _codes(rng, 30, True, (64, 3))
    acc0 = np.array([1, -1, 0], np.int64)
    _check_paths(xc, wc, acc0, 40, acc_t, 2**29, expect_exact=False)


def test_dot_largest_shift_and_int_accumulator():
    rng = np.random.default_rng(3)
    xc = _codes(rng, 31, True, (40, 5))
    wc = _codes(rng, 31, True, (5, 4))
    # shifts 62 (the kernel's largest), 63 (general path), 60 (ap_int: TRN_ZERO)
    for acc in ("ap_fixed<8,10,AP_RND>", "ap_fixed<8,11,AP_RND_INF,AP_SAT>", "ap_int<12>"):
        t = as_type(acc)
        acc0 = np.zeros(4, np.int64)
        _check_paths(xc, wc, acc0, 60, t, 2**30)


def test_dot_forced_path_errors():
    t = as_type("ap_fixed<16,6>")
    x, w, b = np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="unknown dot-product path 'fast'"):
        dot_codes(x, w, b, 10, t, path="fast")
    with pytest.raises(ValueError, match="exact float64 path needs"):
        dot_codes(x, w, b, 11, t, path="exact")  # products rounded (shift 1)


# ----------------------------------------------------------- element-wise casts
def _numpy_only(monkeypatch):
    monkeypatch.setattr(Q, "COMPILED_MIN_SIZE", 1 << 62)


def _values(rng, t: FixedPointType, n=6000):
    """Ties, grid points, rails, wrap periods, tiny and huge magnitudes."""
    lsb = 2.0 ** -t.fractional
    k = rng.integers(-(1 << (t.width + 1)), 1 << (t.width + 1), size=n)
    parts = [
        k * lsb,                                   # on the grid (and far past the rails)
        (k + 0.5) * lsb,                           # ties
        (k + rng.uniform(-1, 1, n)) * lsb,         # anywhere
        rng.normal(0, 1, n) * 2.0 ** rng.integers(-80, 80, n),
        np.array([0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300, 0.49, -0.49, -0.5, 0.5]),
        np.array([t.max, t.min, t.max + lsb, t.min - lsb, 2.0 ** t.integer, -(2.0 ** t.integer)]),
    ]
    return np.concatenate(parts)


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_compiled_quantize_equals_numpy(rounding, overflow, monkeypatch):
    rng = np.random.default_rng(hash((rounding, overflow)) % 2**32)
    types = [FixedPointType(w, i, signed=s, rounding=rounding, overflow=overflow)
             for (w, i) in ((8, 3), (16, 6), (5, -2), (6, 9), (1, 1), (24, 0), (40, 12)) for s in (True, False)]
    types += [as_type(f"ap_int<{w}>") for w in (1, 2, 9)] + [as_type(f"ap_uint<{w}>") for w in (1, 7)]
    for t in types:
        x = _values(rng, t)
        assert x.size >= Q.COMPILED_MIN_SIZE
        fast = Q.quantize(x, t)
        with monkeypatch.context() as m:
            _numpy_only(m)
            ref = Q.quantize(x, t)
        np.testing.assert_array_equal(fast, ref, err_msg=str(t))
        assert not np.any(np.signbit(fast) & (fast == 0)), "-0.0 leaked"


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_compiled_requantize_equals_numpy(rounding, overflow, monkeypatch):
    rng = np.random.default_rng(hash(("rq", rounding, overflow)) % 2**32)
    for shift in (-30, -3, -1, 0, 1, 2, 7, 40, 62, 63):
        t = FixedPointType(10, 4, signed=bool(shift % 2), rounding=rounding, overflow=overflow)
        bits = 61 if shift > 0 else 20
        codes = rng.integers(-(1 << bits), 1 << bits, size=5000, dtype=np.int64)
        if 0 < shift <= 60:  # ties and near-ties at the rounding position
            codes[:1000] = (codes[:1000] >> shift << shift) + (1 << (shift - 1)) + rng.integers(-1, 2, 1000)
        fast = Q.requantize_codes(codes, t.fractional + shift, t)
        with monkeypatch.context() as m:
            _numpy_only(m)
            ref = Q.requantize_codes(codes, t.fractional + shift, t)
        np.testing.assert_array_equal(fast, ref, err_msg=f"{t} shift {shift}")


def test_compiled_to_codes(monkeypatch):
    t = as_type("ap_fixed<12,4>")
    x = np.arange(-2048, 2048, dtype=np.float64).repeat(2) * t.lsb
    np.testing.assert_array_equal(Q.to_codes(x, t), np.arange(-2048, 2048).repeat(2))
    x[4321] += t.lsb / 2
    with pytest.raises(ValueError, match=re.escape(f"value {x[4321]!r} is not on the grid of ap_fixed<12,4")):
        Q.to_codes(x, t)


# ------------------------------------------------------------------- chunking
def test_predict_quantized_chunks_equal_one_pass():
    import keras

    from kappa.firmware_forward import layer_outputs, predict_quantized

    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(9, activation="relu", name="d0")(inp)
    m = keras.Model(inp, keras.layers.Dense(3, name="d1")(h))
    P = {"input": {"value": "ap_fixed<10,3>"},
         "default": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<18,7,AP_RND,AP_SAT>",
                     "activation": "ap_fixed<12,5>"}}
    X = np.random.default_rng(0).normal(0, 3, (1001, 6))
    one = predict_quantized(m, P, X, chunk_samples=5000)
    np.testing.assert_array_equal(predict_quantized(m, P, X, chunk_samples=7), one)
    np.testing.assert_array_equal(predict_quantized(m, P, X), one)
    outs = layer_outputs(m, P, X, chunk_samples=100)
    assert [n for n, _ in outs] == ["d0", "d0_relu", "d1"]
    np.testing.assert_array_equal(outs[-1][1], one)
    assert outs[0][1].shape == (1001, 9)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="chunk_samples must be an integer >= 1"):
            predict_quantized(m, P, X, chunk_samples=bad)


@pytest.mark.parametrize("overflow", OVERFLOWS)
def test_tensor_quantize_bounded_rounding_equals_numpy(overflow, monkeypatch):
    """``quantize_tensor`` rounds with the bounded fast path (``_bounded_ok``): same values
    as the numpy definition, for every mode, at the widest widths it is used for."""
    import tensorflow as tf

    rng = np.random.default_rng(hash(("tf", overflow)) % 2**32)
    _numpy_only(monkeypatch)
    for rounding in ROUNDINGS:
        for (w, i) in ((8, 3), (5, -2), (6, 9), (50, 20), (51, 51), (24, 0)):
            t = FixedPointType(w, i, signed=bool(w % 2), rounding=rounding, overflow=overflow)
            x = _values(rng, t, n=500)
            x = x[(x == 0) | (np.abs(x) >= np.finfo(np.float64).tiny)]  # TensorFlow flushes subnormals to zero
            got = Q.quantize_tensor(tf.constant(x, tf.float64), t, ste=False).numpy()
            np.testing.assert_array_equal(got, Q.quantize(x, t), err_msg=f"{t} (bounded: {Q._bounded_ok(t)})")


def test_tensor_quantize_small_inputs_skip_the_wrap_reduction(monkeypatch):
    """``quantize_tensor(..., small=True)`` (the caller proves ``|x| 2**F < 2**52``) wraps
    without first reducing x by the period: the same values as the numpy definition for every
    rounding mode, on values past the wrap period up to 2**52 LSBs."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    _numpy_only(monkeypatch)
    for rounding in ROUNDINGS:
        if rounding == "S_RND":
            continue
        for (w, i) in ((8, 3), (5, -2), (20, 8), (32, 12), (51, 20)):
            t = FixedPointType(w, i, signed=bool(w % 3), rounding=rounding, overflow="WRAP")
            x = _values(rng, t, n=500)
            x = x[np.abs(x) * 2.0**t.fractional < 2.0**52]
            x = x[(x == 0) | (np.abs(x) >= np.finfo(np.float64).tiny)]  # TensorFlow flushes subnormals to zero
            big = rng.integers(-(2**51), 2**51, 200) * 2.0**-t.fractional + rng.choice([0.0, 0.5, 0.25], 200) * t.lsb
            x = np.concatenate([x, big[np.abs(big) * 2.0**t.fractional < 2.0**52]])
            assert np.abs(x).max() > 2.0**t.integer  # past the wrap period (up to 2**(52-W) periods)
            got = Q.quantize_tensor(tf.constant(x, tf.float64), t, ste=False, small=True).numpy()
            np.testing.assert_array_equal(got, Q.quantize(x, t), err_msg=str(t))


# ---------------------------------------------------------------------------------------
# The training graph's TensorFlow table arithmetic (sigmoid/tanh index, softmax, LeakyReLU)
# against the numpy firmware values, and the switch to tf.numpy_function past 53 bits.
# ---------------------------------------------------------------------------------------

def _single_layer(layer, n_in):
    import keras

    return keras.Sequential([keras.Input((n_in,), name="x"), layer])


def _all_codes(t: FixedPointType, cols: int, rng, extra_rows: int = 0):
    """Every value of ``t`` (reshaped to ``cols`` columns, padded with random ones) plus
    values beyond both rails."""
    lo, hi = t.qmin, t.qmax
    codes = np.arange(lo, hi + 1, dtype=np.float64) if hi - lo < 20000 else \
        np.concatenate([rng.integers(lo, hi, 4000, endpoint=True).astype(np.float64), [lo, hi, 0, lo + 1, hi - 1]])
    v = np.concatenate([codes * t.lsb, [t.max * 4 + 1, t.min * 4 - 1]])
    v = np.concatenate([v, rng.choice(v, (-len(v)) % cols)])
    return rng.permutation(v).reshape(-1, cols)


def _tf_paths_only(monkeypatch, allowed: bool):
    import kappa.layers.activations as A
    import kappa.layers.batchnorm as B
    import kappa.layers.softmax as S
    from kappa.straight_through import numpy_in_tf as real

    def guard(*a, **k):
        if not allowed:
            raise AssertionError("tf.numpy_function used where the TensorFlow path applies")
        guard.calls += 1
        return real(*a, **k)

    guard.calls = 0
    for family_module in (A, B, S):  # each family imports the helper by name
        monkeypatch.setattr(family_module, "numpy_in_tf", guard)
    return guard


@pytest.mark.parametrize("kind,in_type,n", [
    ("sigmoid", "ap_fixed<12,5>", 1024), ("sigmoid", "ap_ufixed<9,3>", 256), ("tanh", "ap_fixed<10,-2>", 1024),
    ("tanh", "ap_fixed<8,12>", 64),  # F + 3 < 0: the index product shifts left
    ("tanh", "ap_fixed<11,4>", 100),  # not a power of two
    ("sigmoid", "ap_fixed<42,20>", 1024),  # 42 + 11 = 53 bits: the last width the graph takes
])
def test_tf_table_index_equals_numpy(kind, in_type, n, monkeypatch):
    import keras

    from kappa.training_forward import predict_tf

    _tf_paths_only(monkeypatch, allowed=False)
    rng = np.random.default_rng(7)
    t = as_type(in_type)
    m = _single_layer(keras.layers.Activation(kind, name="a"), 8)
    P = {"input": {"value": in_type}, "a": {"activation": "ap_fixed<14,2,AP_RND,AP_SAT>", "table": "ap_fixed<16,2>"}}
    X = _all_codes(t, 8, rng)
    from kappa import predict_quantized

    opts = {"a": {"table_size": n}}
    np.testing.assert_array_equal(predict_tf(m, P, X, layer_options=opts), predict_quantized(m, P, X, layer_options=opts))


def test_tf_table_index_beyond_53_bits_uses_numpy(monkeypatch):
    import keras

    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    guard = _tf_paths_only(monkeypatch, allowed=True)
    m = _single_layer(keras.layers.Activation("sigmoid", name="a"), 4)
    P = {"input": {"value": "ap_fixed<43,20>"}, "a": {"activation": "ap_fixed<14,2>", "table": "ap_fixed<16,2>"}}
    X = _all_codes(as_type("ap_fixed<43,20>"), 4, np.random.default_rng(1))
    np.testing.assert_array_equal(predict_tf(m, P, X), predict_quantized(m, P, X))
    assert guard.calls == 1


SOFTMAX_CASES = [
    # (input type, per-layer softmax types, options)
    ("ap_fixed<10,4>", {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>"}, {}),
    (
        "ap_fixed<8,3>",
        {
            "activation": "ap_fixed<8,1,AP_RND_CONV,AP_SAT>",
            "accumulator": "ap_fixed<8,3,AP_TRN,AP_SAT>",
            "exp_table": "ap_fixed<8,3,AP_RND,AP_SAT>",
            "inv_table": "ap_fixed<10,4,AP_RND,AP_SAT>",
            "inv_inp": "ap_fixed<10,4,AP_TRN,AP_WRAP>",
        },
        {"table_size": 256},
    ),
    ("ap_fixed<12,6>", {"activation": "ap_ufixed<12,0,AP_RND,AP_SAT>", "inp_norm": "ap_fixed<12,5,AP_RND,AP_SAT>"}, {}),
    ("ap_fixed<10,4>", {"activation": "ap_fixed<16,2,AP_RND_ZERO,AP_WRAP>"}, {"implementation": "latency"}),
    ("ap_ufixed<6,3>", {"activation": "ap_ufixed<10,1,AP_RND_INF,AP_SAT>"}, {"table_size": 64}),
    # sums of 5 entries overflow a WRAP accum_t (max 1.9375): one sum, wrapped once
    (
        "ap_fixed<8,3>",
        {
            "activation": "ap_fixed<10,2,AP_RND,AP_SAT>",
            "accumulator": "ap_fixed<6,2,AP_TRN,AP_WRAP>",
            "inv_inp": "ap_fixed<12,4>",
        },
        {"table_size": 256},
    ),
]


@pytest.mark.parametrize("in_type,types,opts", SOFTMAX_CASES)
def test_tf_softmax_equals_numpy(in_type, types, opts, monkeypatch):
    import keras

    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    _tf_paths_only(monkeypatch, allowed=False)
    rng = np.random.default_rng(3)
    t = as_type(in_type)
    m = _single_layer(keras.layers.Activation("softmax", name="s"), 5)
    X = _all_codes(t, 5, rng)
    X = np.concatenate([X, np.full((3, 5), t.max), np.full((3, 5), t.min), np.tile(X[:1], (2, 1))])  # ties, rails
    P = {"input": {"value": in_type}, "s": types}
    lo = {"s": opts}
    np.testing.assert_array_equal(predict_tf(m, P, X, layer_options=lo), predict_quantized(m, P, X, layer_options=lo))


def test_tf_softmax_wide_products_use_numpy(monkeypatch):
    import keras

    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    guard = _tf_paths_only(monkeypatch, allowed=True)
    m = _single_layer(keras.layers.Activation("softmax", name="s"), 5)
    # accum_t (30 bits) x inv_table_t (24 bits) = 54 bits: beyond float64's exact products
    P = {
        "input": {"value": "ap_fixed<10,4>"},
        "s": {"activation": "ap_ufixed<16,0>", "accumulator": "ap_fixed<30,10>", "inv_table": "ap_fixed<24,8>"},
    }
    X = _all_codes(as_type("ap_fixed<10,4>"), 5, np.random.default_rng(5))
    np.testing.assert_array_equal(predict_tf(m, P, X), predict_quantized(m, P, X))
    assert guard.calls == 1


@pytest.mark.parametrize(
    "result", ["ap_fixed<8,3,AP_RND,AP_SAT>", "ap_fixed<6,2,AP_RND_CONV,AP_WRAP>", "ap_int<4>", None]
)
def test_tf_leaky_relu_equals_numpy(result, monkeypatch):
    import keras

    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    _tf_paths_only(monkeypatch, allowed=False)
    m = _single_layer(keras.layers.LeakyReLU(negative_slope=0.3, name="l"), 6)
    P = {"input": {"value": "ap_fixed<10,3>"}, "l": {"param": "ap_fixed<8,1,AP_RND,AP_SAT>"}}
    if result is not None:
        P["l"]["activation"] = result
    X = _all_codes(as_type("ap_fixed<10,3>"), 6, np.random.default_rng(9))
    np.testing.assert_array_equal(predict_tf(m, P, X), predict_quantized(m, P, X))


# The training graph's rounded-product sum runs in float32 when every intermediate fits 24
# bits (|x w| <= 2**mag, mag + F_p + 1 <= 24 and mag + F_acc + log2(n_in) + 1 <= 24); at and
# past that limit it must equal the numpy firmware forward in every rounding mode; the same
# for the split of the weight codes into an exact high part and float32 low parts. Every input
# code meets large odd weight codes, so products just below a rounding boundary occur (a
# float32 product past 24 bits rounds onto the boundary: the 26-bit case catches that).
FLOAT32_LIMIT_CASES = [
    # (input, weight, accumulator)
    ("ap_ufixed<12,4>", "ap_fixed<12,3>", "ap_fixed<20,8,AP_{q},AP_WRAP>"),  # 24 bits: float32
    ("ap_ufixed<13,4>", "ap_fixed<12,3>", "ap_fixed<20,8,AP_{q},AP_WRAP>"),  # 25: float64
    ("ap_fixed<14,5>", "ap_fixed<13,3>", "ap_fixed<20,8,AP_{q},AP_WRAP>"),  # 26: float64
    ("ap_fixed<11,5>", "ap_fixed<12,1>", "ap_fixed<14,3,AP_{q},AP_SAT>"),  # saturates on some rows
    ("ap_fixed<10,1>", "ap_fixed<12,0>", "ap_fixed<16,6,AP_{q},AP_WRAP>"),  # F_p - F_acc = 11
    # too wide for float32 products; the weight split (k = 2 dropped bits) is float32 for the
    # shift-invariant modes: W_x + k' + 1 = 19 (20 for RND_CONV)
    ("ap_fixed<16,6>", "ap_fixed<16,4>", "ap_fixed<32,12,AP_{q},AP_SAT>"),
    # split at its limit: W_x + k + 1 = 24 (RND_CONV: 25, float64)
    ("ap_fixed<18,8>", "ap_fixed<16,4>", "ap_fixed<32,12,AP_{q},AP_WRAP>"),
    # k = 6 with wide inputs: W_x + k + 1 = 21, low parts up to 2**6
    ("ap_ufixed<14,6>", "ap_fixed<14,2>", "ap_fixed<26,10,AP_{q},AP_WRAP>"),
]


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("case", range(len(FLOAT32_LIMIT_CASES)))
def test_tf_rounded_products_float32_limit(case, rounding):
    import keras

    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    x_s, w_s, a_s = FLOAT32_LIMIT_CASES[case]
    acc = a_s.format(q=rounding)
    x_t, w_t = as_type(x_s), as_type(w_s)
    d_in = 2
    # large odd codes (products just below a boundary) and codes = 2 mod 4 with an odd high
    # part (RND_CONV ties whose parity comes from the high part)
    codes_w = [
        w_t.qmax,
        w_t.qmax - 2,
        w_t.qmin + 1,
        w_t.qmax - 14,
        (w_t.qmax >> 1) | 1,
        -((w_t.qmax >> 3) | 1),
        1,
        w_t.qmax - 1,
        -(w_t.qmax - 5),
        6,
    ]
    m = _single_layer(keras.layers.Dense(len(codes_w), name="d"), d_in)
    wc = np.array([codes_w, codes_w[::-1]], np.float64)
    m.get_layer("d").set_weights([(wc * w_t.lsb).astype(np.float32), np.zeros(len(codes_w), np.float32)])
    codes = np.arange(x_t.qmin, x_t.qmax + 1, dtype=np.float64)
    X = np.stack([codes, np.roll(codes, 7)], axis=1) * x_t.lsb  # every input code, in both inputs
    P = {
        "input": {"value": x_s},
        "d": {"weight": w_s, "bias": w_s, "accumulator": acc, "activation": "ap_fixed<24,12,AP_RND,AP_SAT>"},
    }
    np.testing.assert_array_equal(predict_tf(m, P, X), predict_quantized(m, P, X))
