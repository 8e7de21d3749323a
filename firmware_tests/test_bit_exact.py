"""The firmware matrix: every case is converted with hls4ml, C-simulated with g++ and must
reproduce ``kappa.predict_quantized`` with 0 mismatching bits.

Each case also asserts that it exercises what it claims (overflow happens, rounding
acts, products are truncated), so a case cannot pass by being trivial.
"""

from __future__ import annotations

import numpy as np
import pytest

from kappa import predict_quantized, quantize

from .conftest import dense_chain, uniform

pytestmark = pytest.mark.slow

ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")


def _naive(model, P, X):
    """Quantize only after the whole dot product (what a careless emulation would do)."""
    from kappa.firmware_forward import firmware_steps
    from kappa.precision import ensure_precision_dict

    p = ensure_precision_dict(P)
    x = quantize(X, p.dtype("input", "value"))
    for st in firmware_steps(model, p):
        if st.kind == "dense":
            arrays = {k: v for k, _, v, _ in st.family.weights(st)}
            w = quantize(arrays["weight"], st.types["weight"])
            b = quantize(arrays["bias"], st.types["bias"])
            x = quantize(x @ w + b, st.types["result"])
        else:
            x = quantize(np.maximum(x, 0), st.types["result"])
    return x


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
def test_affine(check_bit_exact, use_bias):
    from kappa.data import AffineDataset

    ds = AffineDataset(num_samples=400, use_bias=use_bias, seed=3)
    model = dense_chain(4, [("dense", (2, None, use_bias))])
    model.layers[1].kernel.assign(ds.A.T.astype(np.float32))
    if use_bias:
        model.layers[1].bias.assign(ds.b.astype(np.float32))
    P = {"input": {"value": "ap_ufixed<12,1,AP_RND,AP_SAT>"},
         "dense0": {"weight": "ap_fixed<10,2,AP_RND,AP_SAT>", "bias": "ap_fixed<10,2,AP_RND>",
                    "accumulator": "ap_fixed<24,6>", "activation": "ap_fixed<16,4,AP_RND,AP_SAT>"}}
    _, rep = check_bit_exact(f"affine_{'bias' if use_bias else 'nobias'}", model, P, ds.X)
    assert rep.samples == 400


def test_digits(check_bit_exact):
    from kappa.data import DigitsDataset

    ds = DigitsDataset(seed=0)
    model = dense_chain(64, [("dense", (32, "relu", True)), ("dense", (10, None, True))], seed=1)
    P = {"default": {"weight": "ap_fixed<8,2,AP_RND_CONV,AP_SAT>", "bias": "ap_fixed<8,2,AP_RND_CONV,AP_SAT>",
                     "accumulator": "ap_fixed<18,6>", "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
         "input": {"value": "ap_ufixed<8,1>"}}
    check_bit_exact("digits", model, P, ds.X[:600])


def test_hidden_relu_layers(check_bit_exact):
    """Fused Dense(relu) and a separate Activation('relu'), each with its own type."""
    model = dense_chain(8, [("dense", (16, "relu", True)), ("dense", (12, None, True)), ("act", "relu"),
                            ("dense", (4, None, True))], seed=2)
    P = {"default": {"weight": "ap_fixed<9,2,AP_RND>", "bias": "ap_fixed<9,3>", "accumulator": "ap_fixed<20,7>",
                     "activation": "ap_fixed<14,5>"},
         "input": {"value": "ap_fixed<12,3,AP_RND,AP_SAT>"},
         "dense0": {"activation": "ap_ufixed<10,3,AP_RND,AP_SAT>"},
         "activation0": {"activation": "ap_ufixed<8,2,AP_RND_CONV,AP_SAT>"}}
    X = uniform(300, 8, -4, 4, seed=5)
    check_bit_exact("hidden_relu", model, P, X)


@pytest.mark.parametrize("mode", ROUNDING)
def test_rounding_modes(check_bit_exact, mode):
    """Each rounding mode on the accumulator (products cast on their own) and the result."""
    model = dense_chain(6, [("dense", (8, "relu", True)), ("dense", (3, None, True))], seed=7)
    P = {"default": {"weight": "ap_fixed<10,2>", "bias": "ap_fixed<10,2>",
                     "accumulator": f"ap_fixed<12,5,AP_{mode},AP_SAT>",
                     "activation": f"ap_fixed<8,3,AP_{mode},AP_SAT>"},
         "input": {"value": "ap_fixed<10,2,AP_RND,AP_SAT>"}}
    X = uniform(300, 6, -2, 2, seed=11)
    prj, rep = check_bit_exact(f"round_{mode}", model, P, X)
    # The accumulator keeps 7 fractional bits of 16-bit-fraction products: rounding acts.
    assert not np.array_equal(predict_quantized(model, P, X), _naive(model, P, X))


@pytest.mark.parametrize("overflow", ["WRAP", "SAT", "SAT_SYM", "SAT_ZERO"])
def test_overflow_modes(check_bit_exact, overflow):
    """Accumulators and results too narrow for the sums: overflow must act and match."""
    model = dense_chain(10, [("dense", (6, "relu", True)), ("dense", (4, None, True))], seed=13, weight_scale=3.0)
    P = {"default": {"weight": "ap_fixed<10,3,AP_RND,AP_SAT>", "bias": "ap_fixed<8,3>",
                     "accumulator": f"ap_fixed<10,4,AP_RND,AP_{overflow}>",
                     "activation": f"ap_fixed<8,3,AP_RND,AP_{overflow}>"},
         "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
    X = uniform(400, 10, -3, 3, seed=17)
    _, rep = check_bit_exact(f"overflow_{overflow}", model, P, X)
    # Overflow really happens: with an 8-bit accumulator range of [-8, 8) sums leave it.
    wide = dict(P, default=dict(P["default"], accumulator="ap_fixed<30,14,AP_RND,AP_SAT>",
                                activation="ap_fixed<30,14,AP_RND,AP_SAT>"))
    assert np.mean(predict_quantized(model, P, X) != predict_quantized(model, wide, X)) > 0.05


def test_truncating_accumulator(check_bit_exact):
    """Accumulator with fewer fractional bits than input + weight: each product truncated on its own."""
    model = dense_chain(16, [("dense", (8, None, True))], seed=19)
    P = {"default": {"weight": "ap_fixed<12,1>", "bias": "ap_fixed<12,2>", "accumulator": "ap_fixed<10,5>",
                     "activation": "ap_fixed<10,5>"},
         "input": {"value": "ap_fixed<12,2>"}}
    X = uniform(500, 16, -2, 2, seed=23)
    check_bit_exact("truncating_accum", model, P, X)
    py, naive = predict_quantized(model, P, X), _naive(model, P, X)
    assert np.mean(py != naive) > 0.2  # sum of truncated products != truncated sum


@pytest.mark.parametrize("width", [2, 3, 4, 8, 12, 16, 24, 32])
def test_widths(check_bit_exact, width):
    """All types of one width (inputs and weights capped at 24 bits, float32's significand)."""
    wi = min(width, 24)
    model = dense_chain(5, [("dense", (4, "relu", True)), ("dense", (3, None, True))], seed=width)
    ib = max(1, width // 3)
    P = {"default": {"weight": f"ap_fixed<{wi},1,AP_RND,AP_SAT>", "bias": f"ap_fixed<{wi},1,AP_RND,AP_SAT>",
                     "accumulator": f"ap_fixed<{width},{ib + 1},AP_RND,AP_SAT>",
                     "activation": f"ap_fixed<{width},{ib + 1},AP_RND_CONV,AP_SAT>"},
         "input": {"value": f"ap_fixed<{wi},{max(1, wi // 3)},AP_RND,AP_SAT>"}}
    X = uniform(300, 5, -1.5, 1.5, seed=width)
    check_bit_exact(f"width_{width}", model, P, X)


def test_ternary_weights(check_bit_exact):
    """ap_int<2> weights select hls4ml's ternary product, where the weight -2 acts as +1."""
    model = dense_chain(6, [("dense", (5, None, True))], seed=29, weight_scale=4.0)
    P = {"default": {"weight": "ap_int<2>", "bias": "ap_fixed<8,3>", "accumulator": "ap_fixed<16,6>",
                     "activation": "ap_fixed<16,6>"},
         "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
    assert np.any(quantize(model.layers[1].kernel.numpy(), "ap_int<2>") == -2)
    check_bit_exact("ternary_weights", model, P, uniform(200, 6, -3, 3, seed=29))


def test_resource_strategy_wrap(check_bit_exact):
    model = dense_chain(12, [("dense", (8, "relu", True)), ("dense", (4, None, True))], seed=31, weight_scale=2.0)
    P = {"default": {"weight": "ap_fixed<8,2,AP_RND>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<11,4>",
                     "activation": "ap_fixed<10,4,AP_RND,AP_WRAP>"},
         "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
    check_bit_exact("resource_rf3_wrap", model, P, uniform(300, 12, -3, 3, seed=31), strategy="Resource", reuse_factor=3)


def test_resource_strategy_saturating_refused(tmp_path):
    import hls

    model = dense_chain(4, [("dense", (2, None, True))])
    P = {
        "default": {
            "weight": "ap_fixed<8,2>",
            "bias": "ap_fixed<8,2>",
            "accumulator": "ap_fixed<10,4,AP_TRN,AP_SAT>",
            "activation": "ap_fixed<10,4>",
        },
        "input": {"value": "ap_fixed<8,2>"},
    }
    with pytest.raises(ValueError, match=r"dense0.*saturates.*Resource"):
        hls.convert(model, P, tmp_path / "p", tb_inputs=np.zeros((2, 4)), strategy="Resource")
    assert not (tmp_path / "p").exists()


def test_vivado_backend(check_bit_exact):
    model = dense_chain(6, [("dense", (4, "relu", True)), ("dense", (2, None, True))], seed=37)
    P = {
        "default": {
            "weight": "ap_fixed<8,2,AP_RND>",
            "bias": "ap_fixed<8,2>",
            "accumulator": "ap_fixed<16,6>",
            "activation": "ap_fixed<12,5,AP_RND,AP_SAT>",
        },
        "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
    }
    check_bit_exact("vivado_backend", model, P, uniform(200, 6, -2, 2, seed=37), backend="Vivado")
