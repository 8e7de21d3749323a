"""The fused (one-pass, compiled) firmware paths against the numpy definitions they replace.

* :func:`kappa.layers.dense.fused_matrix_arith` (convolutions through an index map, Dense,
  point-wise Dense) against :func:`matrix_arith` on im2col columns: every rounding and
  overflow mode of the accumulator and of the result, products that are rounded (shift > 0)
  or on the grid (shift <= 0, weights shifted left), results with fewer and more fractional
  bits than the accumulator, signed/unsigned/``ap_int`` types, ternary weights, padding and
  strides, inputs on the rails and weights past them, wide WRAP sums that need the product mask;
* :func:`kappa.layers.batchnorm.fused_affine` against :func:`affine_exact`;
* max pooling without window copies against the window path, both I/O modes;
* :func:`kappa.layers.fastpath.cast_is_identity` against :func:`quantize` on every code;
* ``predict_quantized`` of small models with and without the fused paths.
"""

from __future__ import annotations

import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kappa.fixed_point import FixedPointType  # noqa: E402
from kappa.layers import FirmwareOptions  # noqa: E402
from kappa.layers.base import Step  # noqa: E402
from kappa.layers.batchnorm import affine_exact, fused_affine  # noqa: E402
from kappa.layers.conv import as_2d, field_index, geometry, im2col  # noqa: E402
from kappa.layers.dense import fused_matrix_arith, matrix_arith  # noqa: E402
from kappa.layers.fastpath import cast_is_identity  # noqa: E402
from kappa.layers.pooling import POOLING  # noqa: E402
from kappa.quantization import quantize  # noqa: E402

ROUNDINGS = ["TRN", "RND", "RND_MIN_INF", "RND_CONV", "TRN_ZERO", "RND_ZERO", "RND_INF"]
OVERFLOWS = ["WRAP", "SAT", "SAT_SYM", "SAT_ZERO"]


def seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def T(width, integer, signed=True, rounding="TRN", overflow="WRAP"):
    return FixedPointType(width, integer, signed=signed, rounding=rounding, overflow=overflow)


def on_grid(rng, t, shape, *, zeros=0.3):
    """Random values of ``t`` with both rails, 0 and the codes next to them planted; a
    fraction ``zeros`` of zeros (padding-like inputs the kernels skip)."""
    lo, hi = (-(1 << (t.width - 1)) if t.signed else 0), int(t.qmax)
    c = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    c[rng.random(shape) < zeros] = 0
    flat = c.reshape(-1)
    k = min(flat.size, 5)
    flat[rng.choice(flat.size, k, replace=False)] = [lo, hi, 0, lo + 1, hi - 1][:k]
    return c * t.lsb


def conv_case(rng, in_t, types, shape, kernel, strides, padding, filters, n=7, use_bias=True):
    """``(fused, reference)`` of one convolution: ``fused_matrix_arith`` through the index map
    and ``matrix_arith`` on im2col columns."""
    h, w, c = as_2d(shape)
    geo = geometry((h, w, c), kernel, strides, padding)
    x = on_grid(rng, in_t, (n, h, w, c))
    wt = types["weight"]
    span = max(abs(wt.min), wt.max) if wt is not None else 2.0
    kern = rng.uniform(-1.3 * span, 1.3 * span, (kernel[0] * kernel[1] * c, filters))  # past the rails
    bias = rng.uniform(-1.3 * span, 1.3 * span, filters) if use_bias else None
    idx = field_index((h, w, c), kernel, strides, geo["pads"])
    got = fused_matrix_arith(x.reshape(n, -1), idx, kern, bias, types, in_t)
    cols = im2col(x, kernel, strides, geo["pads"])
    ref = matrix_arith(cols.reshape(-1, cols.shape[-1]), kern, bias, types, in_t, "conv")
    return got, ref.reshape(n, -1, filters)


GEOMETRIES = [((6, 5, 2), (3, 3), (1, 1), "same"), ((7, 6, 3), (2, 3), (2, 1), "valid"),
              ((9, 2), (1, 3), (1, 2), "same"), ((5, 4), (1, 1), (1, 1), "valid")]


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fused_conv_every_accumulator_mode(rounding, overflow):
    rng = np.random.default_rng(seed((rounding, overflow, "conv")))
    # x: F=6, w: F=5: exact products have 11 fractional bits; accumulators with 9..13 (shift 2..-2)
    for k, shift in enumerate((-2, -1, 0, 1, 2, 4)):
        for signed in (True, False):
            in_t = T(9, 3, signed=bool(k % 2), rounding="RND", overflow="SAT")
            fa = 11 - shift
            acc_t = T(13, 13 - fa, signed, rounding, overflow)  # narrow: some sums saturate/wrap
            res_t = T(8, 8 - (fa + (-2, 3, 0)[k % 3]), bool(k % 2) or signed, ROUNDINGS[(k + signed) % 7],
                      OVERFLOWS[(k + 2 * signed) % 4])
            types = {"weight": T(7, 2, True, "RND_CONV", "SAT"), "bias": T(7, 2, True, "RND", "SAT"),
                     "accumulator": acc_t, "result": res_t}
            shape, kernel, strides, padding = GEOMETRIES[(k + signed) % len(GEOMETRIES)]
            got, ref = conv_case(rng, in_t, types, shape, kernel, strides, padding, 5, use_bias=k != 3)
            assert got is not None
            np.testing.assert_array_equal(got, ref, err_msg=f"shift {shift}, acc {acc_t}, res {res_t}")


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fused_conv_every_result_mode(rounding, overflow):
    """The result cast fused into the kernel: every mode, fewer (right shift) and more
    (left shift) fractional bits than the accumulator, wrapping and saturating accumulators."""
    rng = np.random.default_rng(seed((rounding, overflow, "res")))
    for k, res_frac in enumerate((3, 8, 10, 13)):
        for acc_ovf in ("WRAP", "SAT"):
            acc_t = T(16, 6, True, "RND", acc_ovf)  # F = 10
            res_t = T(9, 9 - res_frac, k % 2 == 0, rounding, overflow)
            types = {"weight": T(8, 3, True, "RND", "SAT"), "bias": T(8, 3, True, "RND", "SAT"),
                     "accumulator": acc_t, "result": res_t}
            in_t = T(8, 2, k < 2, "RND", "SAT")
            got, ref = conv_case(rng, in_t, types, *GEOMETRIES[k], 4)
            np.testing.assert_array_equal(got, ref, err_msg=f"acc {acc_t}, res {res_t}")


def test_fused_conv_int_ternary_and_float_result():
    rng = np.random.default_rng(5)
    in_t = T(6, 6, True, "TRN", "SAT")  # integer-valued inputs
    cases = [
        {"weight": FixedPointType.from_string("ap_int<2>"), "bias": T(6, 3), "accumulator":
         FixedPointType.from_string("ap_int<7>"), "result": FixedPointType.from_string("ap_int<5>")},
        {"weight": T(6, 2, True, "RND", "SAT"), "bias": T(6, 3), "accumulator": T(12, 8, True, "RND_ZERO", "SAT_ZERO"),
         "result": None},
        {"weight": T(6, 2, True, "RND", "SAT"), "bias": T(6, 3), "accumulator": FixedPointType.from_string("ap_int<9>"),
         "result": T(10, 4, True, "RND_INF", "SAT_SYM")},
    ]
    for types in cases:
        got, ref = conv_case(rng, in_t, types, (6, 6, 3), (3, 3), (1, 1), "same", 6, n=11)
        assert got is not None
        np.testing.assert_array_equal(got, ref, err_msg=str(types))


def test_fused_dense_wide_wrap_sums_use_the_product_mask():
    """Products near 2**58 rounded by one bit, summed over 32 inputs: the raw WRAP sum would leave int64, so every
    rounded product is masked to the accumulator's width (:class:`DotPlan.mask`)."""
    rng = np.random.default_rng(7)
    in_t, w_t = T(30, 10, True, "RND", "SAT"), T(30, 5, True, "RND", "SAT")
    for rounding in ("TRN", "RND_CONV"):
        types = {"weight": w_t, "bias": w_t, "accumulator": T(50, 6, True, rounding, "WRAP"),
                 "result": T(24, 6, True, "RND", "WRAP")}
        got, ref = conv_case(rng, in_t, types, (8, 8), (1, 4), (1, 1), "valid", 3, n=5)
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_branch_free_rounding_on_extreme_codes(rounding):
    """The one-expression rounding of :func:`kappa.fused_kernels.round_constants` against
    :func:`requantize_codes` on products up to 2**61 (both signs, ties, rails), shifts 1..62."""
    from kappa.fused_kernels import NO_CAST, gather_dot_kernel, round_constants
    from kappa.quantization import requantize_codes

    rng = np.random.default_rng(seed(rounding, "rq"))
    for s in (1, 2, 5, 12, 30, 47, 61, 62):
        xb = 20
        wb = min(41, 49 + s - xb)
        xc = np.concatenate([rng.integers(-(1 << xb), 1 << xb, 400), [-(1 << xb), (1 << xb) - 1, 1, -1, 0, 3, -3]])
        wv = int(rng.integers(1 << (wb - 1), 1 << wb)) * (1 if s % 2 else -1)
        p = xc * wv
        t = T(50, 50, True, rounding, "SAT")  # integer codes, range wide enough for every result
        ref = requantize_codes(p, s, t)
        out = np.empty((len(xc), 1, 1))
        gather_dot_kernel()(xc.astype(np.float64)[:, None], 1.0, np.zeros((1, 1), np.int64),
                            np.array([[wv]], np.int64), np.zeros(1, np.int64), s,
                            np.array(round_constants(s, rounding), np.int64), 1, -(1 << 62), 1 << 62, -1,
                            np.array(NO_CAST, np.int64), np.array(NO_CAST, np.int64), 1.0, out)
        np.testing.assert_array_equal(out[:, 0, 0], ref.astype(np.float64), err_msg=f"shift {s}")


def test_fused_dense_refuses_what_the_kernel_cannot_hold():
    rng = np.random.default_rng(8)
    in_t = T(31, 10)
    types = {"weight": T(31, 5), "bias": T(31, 5), "accumulator": T(51, 1, True, "TRN", "SAT"), "result": T(16, 6)}
    x = on_grid(rng, in_t, (3, 4))
    w = rng.uniform(-8, 8, (4, 2))
    # shift -3: products of up to 2**60 on the accumulator grid need 63 bits: the numpy path
    assert fused_matrix_arith(x, np.arange(4)[None, :], w, None, types, in_t) is None
    assert fused_matrix_arith(x, np.arange(4)[None, :], w, None, dict(types, accumulator=None), in_t) is None


def test_fused_paths_report_values_off_the_grid():
    in_t = T(8, 3, True, "RND", "SAT")
    types = {"weight": T(6, 2), "bias": T(6, 2), "accumulator": T(16, 6), "result": T(10, 4)}
    x = np.zeros((2, 4))
    x[1, 2] = 0.3  # not a multiple of 2**-5
    with pytest.raises(ValueError, match=r"0\.3\) is not on the grid of ap_fixed<8,3"):
        fused_matrix_arith(x, np.arange(4)[None, :], np.ones((4, 2)), None, types, in_t)
    with pytest.raises(ValueError, match=r"0\.3\) is not on the grid of ap_fixed<8,3"):
        fused_affine(x, in_t, np.ones(4), np.zeros(4), T(6, 2), T(6, 2), T(10, 4))


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fused_affine_equals_affine_exact(rounding, overflow):
    rng = np.random.default_rng(seed((rounding, overflow, "bn")))
    for k, (in_t, s_t, b_t, res_frac) in enumerate([
        (T(12, 5, True, "RND", "SAT"), T(12, 4, True, "RND", "SAT"), T(12, 4, True, "RND", "SAT"), 7),
        (T(10, 2, False, "TRN", "WRAP"), T(8, 1, True, "RND", "SAT"), T(14, 6, True, "RND", "SAT"), 3),
        (T(16, 10, True, "RND", "SAT"), T(9, 5, False, "RND", "SAT"), T(6, 6, True, "TRN", "SAT"), 20),
        (T(20, 4, True, "RND", "SAT"), T(18, 3, True, "RND", "SAT"), T(18, 8, True, "RND", "SAT"), 33),
    ]):
        res_t = T(10, 10 - res_frac, k % 2 == 0, rounding, overflow)
        x = on_grid(rng, in_t, (37, 3, 5))
        scale = rng.uniform(-1.5, 1.5, 5) * max(abs(s_t.min), s_t.max)  # past the rails
        bias = rng.uniform(-1.5, 1.5, 5) * max(abs(b_t.min), b_t.max)
        scale, bias = quantize(scale, s_t), quantize(bias, b_t)
        got = fused_affine(x, in_t, scale, bias, s_t, b_t, res_t)
        assert got is not None
        np.testing.assert_array_equal(got, affine_exact(x, in_t, scale, bias, s_t, b_t, res_t),
                                      err_msg=f"in {in_t}, scale {s_t}, bias {b_t}, result {res_t}")


class _Var:
    def __init__(self, a):
        self.a = np.asarray(a, np.float32)

    def numpy(self):
        return self.a


@pytest.mark.parametrize("overflow", OVERFLOWS)
def test_fused_depthwise_equals_per_channel_columns(overflow, monkeypatch):
    from types import SimpleNamespace

    from kappa.layers.depthwise import DEPTHWISE, DepthwiseFamily

    rng = np.random.default_rng(seed(overflow, "dw"))
    opts = FirmwareOptions()
    for k, (shape, kernel, strides, padding) in enumerate(GEOMETRIES[:3]):
        rounding = ROUNDINGS[(k + len(overflow)) % 7]
        in_t = T(9, 3, k != 1, "RND", "SAT")
        types = {"weight": T(7, 2, True, "RND", "SAT"), "bias": T(7, 2, True, "RND", "SAT"),
                 "accumulator": T(11, 11 - (9 + k), True, rounding, overflow),
                 "result": T(8, 3, k != 2, ROUNDINGS[k], OVERFLOWS[k])}
        h, w, c = as_2d(shape)
        geo = geometry((h, w, c), kernel, strides, padding)
        layer = SimpleNamespace(kernel=_Var(rng.uniform(-2.5, 2.5, (*kernel, c, 1))),
                                bias=_Var(rng.uniform(-2.5, 2.5, c)))
        out_shape = (*geo["out"], c) if len(shape) == 3 else (geo["out"][1], c)
        step = Step("dw", DEPTHWISE, "dw", layer, {"use_bias": True, "kernel": kernel, "strides": strides,
                                                   "pads": geo["pads"]}, types, {}, shape, out_shape)
        x = on_grid(rng, in_t, (9, *shape))
        got = DEPTHWISE.forward(step, x, in_t, opts)
        with monkeypatch.context() as m:
            m.setattr(DepthwiseFamily, "_fused", staticmethod(lambda *a: None))
            ref = DEPTHWISE.forward(step, x, in_t, opts)
        np.testing.assert_array_equal(got, ref, err_msg=f"{shape} {types}")


def pool_step(in_shape, op, kernel, strides, padding, acc_t, res_t, global_=False):
    h, w, c = as_2d(in_shape)
    rank = 1 if len(in_shape) == 2 else 2
    attrs = {"op": op, "global": global_, "rank": rank}
    if global_:
        out_shape = (c,)
    else:
        geo = geometry((h, w, c), kernel, strides, padding)
        attrs.update(kernel=kernel, strides=strides, pads=geo["pads"])
        out_shape = (geo["out"][1], c) if rank == 1 else (*geo["out"], c)
    return Step("pool", POOLING, "pool", None, attrs, {"accumulator": acc_t, "result": res_t}, {}, in_shape,
                out_shape)


POOL_TYPES = [  # (input, accumulator, result): identities, narrowing, wrapping (not monotone), unsigned
    ("ap_ufixed<12,5,AP_RND,AP_SAT>", "ap_ufixed<12,5,AP_RND,AP_SAT>", "ap_ufixed<12,5,AP_RND,AP_SAT>"),
    ("ap_fixed<10,4,AP_RND,AP_SAT>", "ap_fixed<6,2,AP_RND,AP_WRAP>", "ap_fixed<8,3,AP_RND_CONV,AP_SAT>"),
    ("ap_fixed<10,4,AP_RND,AP_SAT_SYM>", "ap_fixed<8,3,AP_TRN_ZERO,AP_SAT_ZERO>", "ap_fixed<5,2,AP_RND_INF,AP_WRAP>"),
    ("ap_ufixed<8,3>", "ap_fixed<12,5,AP_RND,AP_SAT>", "ap_ufixed<6,2,AP_RND_MIN_INF,AP_SAT>"),
    ("ap_fixed<9,9>", "ap_int<6>", "ap_fixed<7,4,AP_RND_ZERO,AP_SAT>"),
]


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("types", POOL_TYPES)
def test_fused_max_pool_equals_windows(types, io_type):
    rng = np.random.default_rng(seed((types, io_type)))
    in_t, acc_t, res_t = (FixedPointType.from_string(s) for s in types)
    opts = FirmwareOptions(io_type=io_type)
    geos = [((8, 8, 3), (2, 2), (2, 2), "valid"), ((7, 9, 2), (3, 3), (3, 3), "valid"),
            ((10, 4), (1, 3), (1, 3), "valid")]
    if io_type == "io_parallel":
        geos += [((7, 5, 2), (3, 2), (2, 1), "same"), ((5, 5, 1), (2, 2), (1, 1), "same")]
    for shape, kernel, strides, padding in geos:
        for global_ in (False, True):
            step = pool_step(shape, "max", kernel, strides, padding, acc_t, res_t, global_)
            x = on_grid(rng, in_t, (13, *shape), zeros=0.1)
            got = POOLING.forward(step, x, in_t, opts)
            ref = POOLING.window_forward(step, x, in_t, opts)
            np.testing.assert_array_equal(got, ref, err_msg=f"{shape} {kernel} {strides} {padding} global={global_}")


TYPE_POOL = ["ap_fixed<8,3>", "ap_fixed<8,3,AP_RND,AP_SAT>", "ap_fixed<8,3,AP_TRN,AP_SAT_SYM>", "ap_ufixed<8,3>",
             "ap_ufixed<7,3,AP_RND,AP_SAT>", "ap_fixed<10,4,AP_RND_CONV,AP_SAT_ZERO>", "ap_fixed<9,3>",
             "ap_ufixed<9,4,AP_RND,AP_SAT>", "ap_fixed<6,3,AP_RND,AP_SAT>", "ap_ufixed<12,5,AP_RND,AP_SAT>",
             "ap_fixed<12,5,AP_RND,AP_SAT>", "ap_fixed<8,4,AP_RND,AP_SAT>"]


def test_cast_is_identity_against_quantize_on_every_code():
    claimed = 0
    for a in TYPE_POOL:
        for b in TYPE_POOL:
            src, dst = FixedPointType.from_string(a), FixedPointType.from_string(b)
            lo = -(1 << (src.width - 1)) if src.signed else 0
            v = np.arange(lo, src.qmax + 1) * src.lsb
            for nonneg in (False, True):
                vals = v[v >= 0] if nonneg else v
                same = bool(np.array_equal(quantize(vals, dst), vals))
                ident = cast_is_identity(src, dst, nonnegative=nonneg)
                claimed += ident
                assert not ident or same, f"{src} -> {dst} (nonnegative={nonneg}) is not an identity"
    assert claimed >= 20  # the check finds the identities it should
    assert not cast_is_identity(None, FixedPointType.from_string("ap_fixed<8,3>"))
    assert not cast_is_identity(FixedPointType.from_string("ap_int<4>"), FixedPointType.from_string("ap_int<8>"))


# ------------------------------------------------------------- whole models
def _no_fused_paths(monkeypatch):
    """Route every family back to its numpy definition."""
    import kappa.layers.activations as A
    import kappa.layers.batchnorm as B
    import kappa.layers.conv as C
    import kappa.layers.dense as D
    from kappa.layers.depthwise import DepthwiseFamily

    monkeypatch.setattr(C, "fused_matrix_arith", lambda *a, **k: None)
    monkeypatch.setattr(D, "fused_matrix_arith", lambda *a, **k: None)
    monkeypatch.setattr(B, "fused_affine", lambda *a, **k: None)
    monkeypatch.setattr(A, "cast_is_identity", lambda *a, **k: False)
    monkeypatch.setattr(type(POOLING), "forward", type(POOLING).window_forward)
    monkeypatch.setattr(DepthwiseFamily, "_fused", staticmethod(lambda *a: None))


def _models():
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((9, 8, 2))
    h = keras.layers.Conv2D(5, 3, padding="same", name="c0")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="r0")(h)
    h = keras.layers.MaxPooling2D(2, name="p0")(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(h)
    h = keras.layers.Conv2D(4, (2, 3), strides=(1, 2), activation="relu", name="c1")(h)
    h = keras.layers.Flatten()(h)
    cnn = keras.Model(inp, keras.layers.Dense(6, name="d0")(h))
    bn = cnn.get_layer("bn")
    bn.moving_mean.assign(np.linspace(-0.3, 0.4, 5).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 5).astype(np.float32))
    inp1 = keras.Input((12, 3))
    g = keras.layers.Conv1D(6, 3, padding="same", activation="relu", name="k0")(inp1)
    g = keras.layers.Dense(4, name="pw")(g)  # point-wise Dense on a rank-2 input
    seq = keras.Model(inp1, keras.layers.GlobalMaxPooling1D(name="gp")(g))
    return [(cnn, (9, 8, 2)), (seq, (12, 3))]


PRECISIONS = [
    {"input": {"value": "ap_fixed<8,2,AP_RND,AP_SAT>"},
     "default": {"weight": "ap_fixed<8,2,AP_RND_CONV,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
                 "accumulator": "ap_fixed<14,5>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"},
     "bn": {"scale": "ap_fixed<10,3,AP_RND,AP_SAT>", "bias": "ap_fixed<10,3,AP_RND,AP_SAT>"}},
    {"input": {"value": "ap_ufixed<8,1,AP_RND,AP_SAT>"},
     "default": {"weight": "ap_fixed<6,1,AP_RND,AP_SAT>", "bias": "ap_fixed<6,1,AP_RND,AP_SAT>",
                 "accumulator": "ap_fixed<9,3,AP_RND,AP_SAT>", "activation": "ap_ufixed<7,3,AP_RND_CONV,AP_WRAP>"},
     "bn": {"scale": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND,AP_SAT>",
            "activation": "ap_fixed<9,3,AP_TRN,AP_SAT_SYM>"}},
]


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_predict_quantized_with_and_without_fused_paths(io_type, monkeypatch):
    from kappa.firmware_forward import predict_quantized

    rng = np.random.default_rng(11)
    for model, shape in _models():
        for k, precision in enumerate(PRECISIONS):
            p = {key: v for key, v in precision.items() if key != "bn" or "bn" in [la.name for la in model.layers]}
            X = rng.normal(0, 1.5, (64, *shape))
            fast = predict_quantized(model, p, X, io_type=io_type)
            with monkeypatch.context() as m:
                _no_fused_paths(m)
                ref = predict_quantized(model, p, X, io_type=io_type)
            np.testing.assert_array_equal(fast, ref, err_msg=f"{model.name} precision {k}")
