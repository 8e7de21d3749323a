"""FixedPointType, quantize / quantize_tensor / rail_stats, requantize_codes, and why kappa
does not use the quantizers package's float arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf

import kappa
from kappa import FixedPointType, quantize, quantize_tensor, rail_stats
from kappa.quantization import requantize_codes, to_codes

TYPES = [
    f"ap_{s}fixed<{w},{i},AP_{r},AP_{o}>"
    for s in ("", "u")
    for (w, i) in ((1, 1), (5, -2), (8, 3), (12, 14), (24, 6))
    for r in kappa.ROUNDING_MODES
    for o in kappa.OVERFLOW_MODES
]


def test_type_properties():
    t = FixedPointType.from_string("ap_fixed<8,3,AP_RND,AP_SAT>")
    assert (t.width, t.integer, t.signed, t.rounding, t.overflow, t.fractional) == (8, 3, True, "RND", "SAT", 5)
    assert (t.lsb, t.min, t.max) == (1 / 32, -4.0, 4 - 1 / 32)
    u = FixedPointType.from_string("ufixed<6,2>")
    assert (u.min, u.max, u.rounding, u.overflow, str(u)) == (0.0, 4 - 1 / 16, "TRN", "WRAP", "ap_ufixed<6,2>")
    s = FixedPointType.from_string("ap_fixed<8,3,AP_TRN,AP_SAT_SYM>")
    assert s.min == -s.max == -(4 - 1 / 32)
    i = FixedPointType.from_string("ap_int<6>")
    assert (i.kind, i.lsb, i.min, i.max, str(i)) == ("int", 1.0, -32.0, 31.0, "ap_int<6>")
    assert FixedPointType.from_string("ap_fixed<10,-2>").lsb == 2.0**-12


@pytest.mark.parametrize(
    "s",
    [
        "ap_fixed<8,3>",
        "ap_ufixed<12,4,AP_RND_CONV,AP_SAT_SYM>",
        "ap_fixed<5,-1,AP_RND_MIN_INF,AP_SAT_ZERO>",
        "ap_int<7>",
        "ap_uint<3>",
    ],
)
def test_str_round_trips_and_hls4ml_agrees(s):
    from hls4ml.backends.fpga.fpga_backend import FPGABackend

    t = FixedPointType.from_string(s)
    assert FixedPointType.from_string(str(t)) == t
    h = FPGABackend.convert_precision_string(str(t))  # hls4ml accepts the printed form
    assert (h.width, h.signed) == (t.width, t.signed)
    assert t.to_hls4ml().width == t.width


def test_stochastic_type_refused_for_firmware():
    t = FixedPointType.from_string("ap_fixed<16,4,S_RND,AP_SAT>")
    assert t.stochastic and FixedPointType.from_string(str(t)) == t
    with pytest.raises(ValueError, match="S_RND.*firmware"):
        t.check_firmware("dense0.update")


@pytest.mark.parametrize(
    "bad, names",
    [
        ("ap_fixed<8", "ap_fixed<8"),
        ("ap_fixed<0,0>", "W=0"),
        ("ap_fixed<8,3,AP_FOO>", "AP_FOO"),
        ("ap_fixed<8,3,AP_RND,AP_BAR>", "AP_BAR"),
        ("float", "float"),
        ("ap_fixed<a,3>", "'a'"),
        ("ap_fixed<64,8>", "W=64"),
        ("ap_int<8,3>", "ap_int"),
    ],
)
def test_bad_strings(bad, names):
    with pytest.raises(ValueError) as info:
        FixedPointType.from_string(bad)
    assert names in str(info.value)


def _exact(x: float, t: FixedPointType) -> float:
    """Independent model with Fractions: round to the grid by mode, then overflow."""
    v = Fraction(x) / Fraction(t.lsb)
    fl = v.numerator // v.denominator
    fr = v - fl
    m = t.rounding
    up = {
        "TRN": False,
        "TRN_ZERO": v < 0 and fr != 0,
        "RND": fr >= Fraction(1, 2),
        "RND_ZERO": fr > Fraction(1, 2) or (fr == Fraction(1, 2) and v < 0),
        "RND_MIN_INF": fr > Fraction(1, 2),
        "RND_INF": fr > Fraction(1, 2) or (fr == Fraction(1, 2) and v > 0),
        "RND_CONV": fr > Fraction(1, 2) or (fr == Fraction(1, 2) and fl % 2 == 1),
    }[m]
    q = fl + (1 if up else 0)
    lo = -(2 ** (t.width - 1)) if t.signed else 0
    hi = t.qmax
    if t.overflow == "WRAP":
        q = q % 2**t.width
        if t.signed and q >= 2 ** (t.width - 1):
            q -= 2**t.width
    elif t.overflow == "SAT_ZERO":
        q = 0 if (q < lo or q > hi) else q
    else:
        q = min(max(q, t.qmin), hi)
    return float(Fraction(q) * Fraction(t.lsb))


def test_quantize_matches_fraction_model():
    rng = np.random.default_rng(0)
    n = 0
    for s in TYPES:
        t = FixedPointType.from_string(s)
        ties = (np.arange(-40, 40) + 0.5) * t.lsb
        x = np.concatenate(
            [ties, rng.uniform(-3 * 2.0**t.integer, 3 * 2.0**t.integer, 60), [0.0, -0.0, 1e30, -1e30, 2.0**52 + 1]]
        )
        got = quantize(x, t)
        want = np.array([_exact(v, t) for v in x])
        assert np.array_equal(got, want), (s, x[got != want][:5], got[got != want][:5], want[got != want][:5])
        assert not np.any(np.signbit(got) & (got == 0))  # never -0.0
        n += x.size
    assert n == len(TYPES) * 145


def test_quantizers_package_differs_where_kappa_is_exact():
    """The two float64 defects of quantizers.get_fixed_quantizer_np that kappa avoids."""
    from quantizers import get_fixed_quantizer_np

    # WRAP of a huge value: 1e30 is a multiple of 2**4, so ap_fixed<8,4> wraps it to 0.
    q = get_fixed_quantizer_np("TRN", "WRAP")
    assert q(np.array([1e30]), 1, 3, 4)[0] == -8.0
    assert quantize(1e30, "ap_fixed<8,4>") == 0.0 == _exact(1e30, FixedPointType.from_string("ap_fixed<8,4>"))
    # RND of an odd integer >= 2**52: floor(x + 0.5) double-rounds to x + 1; WRAP keeps the low bits.
    q = get_fixed_quantizer_np("RND", "WRAP")
    x = 2.0**52 + 1
    assert q(np.array([x]), 1, 7, 0)[0] == 2.0
    assert quantize(x, "ap_fixed<8,8,AP_RND,AP_WRAP>") == 1.0


def test_quantize_tensor_equals_numpy_and_gradients():
    rng = np.random.default_rng(1)
    for s in TYPES[::7]:
        x = rng.uniform(-20, 20, 500)
        got = quantize_tensor(tf.constant(x, tf.float64), s).numpy()
        assert np.array_equal(got, quantize(x, s)), s
    x = tf.Variable([0.3, -1.7, 5.0, 100.0])
    with tf.GradientTape(persistent=True) as tape:
        y_ste = tf.reduce_sum(3.0 * quantize_tensor(x, "ap_fixed<8,3,AP_RND,AP_SAT>"))
        y_none = tf.reduce_sum(quantize_tensor(x, "ap_fixed<8,3>", ste=False) * x)
    assert np.array_equal(
        tape.gradient(y_ste, x).numpy(), [3.0, 3.0, 3.0, 3.0]
    )  # straight through, even when saturated
    g = tape.gradient(y_none, x).numpy()  # only through the unquantized factor
    assert np.array_equal(
        g, quantize(np.array([0.3, -1.7, 5.0, 100.0], np.float32), "ap_fixed<8,3>").astype(np.float32)
    )
    assert quantize_tensor(tf.constant([1.1], tf.float32), "ap_fixed<8,3>").dtype == tf.float32


def test_stochastic_rounding_unbiased_and_seeded():
    t = "ap_fixed<10,2,S_RND,AP_SAT>"  # lsb 2**-8
    x = np.full(200_000, 0.3 * 2**-8)
    a = quantize(x, t, rng=7)
    assert set(np.unique(a)) == {0.0, 2**-8}
    assert abs(a.mean() / 2**-8 - 0.3) < 0.01  # E[q] = x
    assert np.array_equal(a, quantize(x, t, rng=7))
    b = quantize_tensor(tf.constant(-x[:50_000]), t, seed=(1, 2)).numpy()
    assert abs(b.mean() / 2**-8 + 0.3) < 0.01
    with pytest.raises(ValueError, match="rng"):
        quantize(x, t)


def test_rail_stats():
    t = "ap_fixed<8,3>"  # [-4, 3.96875]
    r = rail_stats(np.array([-4.0, 3.96875, 5.0, 0.0, 3.7, -3.9, 1.0, 2.0]), t, margin=0.05)  # band 0.4
    assert r == {"saturation_fraction": 3 / 8, "near_rail_fraction": 5 / 8}
    u = rail_stats(np.array([0.0, 0.0, 3.984375, 1.0]), "ap_ufixed<8,2>")
    assert u["saturation_fraction"] == 0.25  # zeros are not a rail for unsigned types
    assert rail_stats(np.array([]), t)["saturation_fraction"] == 0.0


def test_requantize_codes_matches_quantize_and_handles_wide_products():
    rng = np.random.default_rng(2)
    for s in TYPES[::3]:
        t = FixedPointType.from_string(s)
        for f_src in (t.fractional - 3, t.fractional, t.fractional + 9):
            P = rng.integers(-(2**30), 2**30, 300)
            assert np.array_equal(requantize_codes(P, f_src, t) * t.lsb, quantize(P * 2.0**-f_src, t)), (s, f_src)
    # a 56-bit product (beyond float64): exact in int64
    p = np.array([(2**31 - 1) * (2**23 - 3)], dtype=np.int64)
    got = requantize_codes(p, 40, "ap_fixed<32,20,AP_RND,AP_SAT>")
    want = Fraction(int(p[0]), 2**40) * 2**12
    assert got[0] == round(want)  # no tie here: Python's round is exact on Fractions
    assert np.array_equal(to_codes(np.array([0.25, -1.5]), "ap_fixed<8,3>"), [8, -48])
    with pytest.raises(ValueError, match="not on the grid"):
        to_codes(np.array([0.3]), "ap_fixed<8,3>")
