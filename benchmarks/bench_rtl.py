"""The RTL path on networks no one here wrote: hls4ml's example models (tests/fixtures/models,
final softmax dropped to logits) through the three paths on the same inputs, driven past the
rails of the suggested input type: the Python emulation (``strategy="distributed_arithmetic"``),
hls4ml's distributed_arithmetic C simulation (io_parallel) and the da4ml Verilog under
Verilator; then Yosys ``synth_xilinx`` next to da4ml's LUT/FF estimate, with the times.

    python benchmarks/bench_rtl.py [--models KERAS_3layer KERAS_conv1d_small] [--bits 8] [--samples 2000]

Too slow for the test suite on 2 cores (a 16-64-32-32-5 design is tens of thousands of LUTs:
minutes of Verilator and Yosys); docs/rtl.md records its output.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "fixtures" / "models"


def bench(name: str, bits: int, samples: int, work: Path) -> dict:
    import kappa
    from hls.jobs.model_job import without_final_softmax
    from hls.project.convert import convert
    from hls.rtl.verilator import compare_rtl
    from hls.rtl.verilog import write_rtl
    from hls.rtl.yosys import synth_rtl
    from hls.sim.compare import compare

    km, _ = without_final_softmax(kappa.load_model(MODELS / f"{name}.json", weights=MODELS / f"{name}_weights.h5"))
    shape = tuple(int(d) for d in km.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    X_fit = rng.normal(size=(2000, *shape))  # standardized features: the types' ranges
    P = kappa.suggest_precision(km, X_fit, bits=bits, rounding="RND", overflow="SAT")
    in_t = P.dtype("input", "value")
    rail = max(-in_t.qmin, in_t.qmax) * in_t.lsb
    X = rng.normal(size=(samples, *shape)) * rail  # about a third of the inputs past the rails of the input type
    Xq = kappa.quantize(X, in_t)
    rails = (float(np.mean(Xq == in_t.qmin * in_t.lsb)), float(np.mean(Xq == in_t.qmax * in_t.lsb)))
    emu = kappa.predict_quantized(km, P, X, strategy="distributed_arithmetic")
    t0 = time.perf_counter()
    write_rtl(km, P, work / f"{name}_rtl", tb_inputs=X)
    write_s = time.perf_counter() - t0
    rtl = compare_rtl(work / f"{name}_rtl", jobs=2)
    t0 = time.perf_counter()
    prj = convert(km, P, work / f"{name}_da", tb_inputs=X, strategy="distributed_arithmetic")
    csim = compare(prj)
    csim_s = time.perf_counter() - t0
    syn = synth_rtl(work / f"{name}_rtl")
    return {"model": name, "bits": bits, "outputs": int(emu.size), "rails_hit": rails,
            "csim_mismatches": csim.mismatches, "csim_outputs": csim.outputs, "csim_s": round(csim_s, 1),
            "rtl_mismatches": rtl.mismatches, "rtl_outputs": rtl.outputs, "trace_write_s": round(write_s, 1),
            "verilator_build_s": rtl.compile_seconds, "verilator_sim_s": rtl.run_seconds,
            "yosys": syn["yosys"], "estimate": syn["estimate"], "register_bits": syn["register_bits"],
            "latency_cycles": syn["latency_cycles"], "yosys_s": syn["synth_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["KERAS_3layer", "KERAS_conv1d_small"])
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        for name in args.models:
            r = bench(name, args.bits, args.samples, Path(td))
            print(json.dumps(r))
            print(f"{name}: emulation = DA C simulation: {r['csim_mismatches']} mismatches / {r['csim_outputs']}; "
                  f"emulation = Verilator: {r['rtl_mismatches']} / {r['rtl_outputs']}; "
                  f"Yosys LUT {r['yosys']['LUT']} FF {r['yosys']['FF']} vs da4ml estimate LUT "
                  f"{r['estimate']['LUT']:g} FF {r['estimate']['FF']}; {r['latency_cycles']} cycles; "
                  f"Verilator build {r['verilator_build_s']} s, Yosys {r['yosys_s']} s", flush=True)
            for what, bad, n in (("emulation = DA C simulation", r["csim_mismatches"], r["csim_outputs"]),
                                 ("emulation = Verilator RTL", r["rtl_mismatches"], r["rtl_outputs"])):
                print(f"  {'met    ' if bad == 0 else 'NOT met'}  {name}: {what}, 0 mismatching outputs "
                      f"({bad} / {n})")


if __name__ == "__main__":
    main()
