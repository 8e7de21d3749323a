#!/usr/bin/env python3
"""C-simulation benchmark: compile time, throughput on 10,000 samples, cached rebuild,
beside hls4ml's own ``compile()`` + ``predict()`` on the same model.

Model: the digits classifier shape (64 -> 32 ReLU -> 10) with configs/digits.yaml's types.
Targets (issue 4): C-simulating 10,000 samples takes less than compiling; a cached rebuild
takes under 1 s. Prints a table; exits 0 (figures, not a pass/fail test).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def main() -> int:
    import hls4ml
    import keras
    import yaml

    import hls
    from hls.project.convert import firmware_types, hls_config, quantized_copy
    from hls.sim.csim import build, simulate
    from kappa.firmware_forward import firmware_plan
    from kappa.layers import FirmwareOptions
    from kappa.precision import PrecisionDict

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "digits.yaml").read_text())
    P = PrecisionDict({k: v for k, v in cfg["precision"].items() if k != "output_activation"})  # no softmax here
    keras.utils.set_random_seed(0)
    inp = keras.Input((64,), name="model_input")
    h = keras.layers.Dense(32, name="dense0")(inp)
    h = keras.layers.Activation("relu", name="activation0")(h)
    model = keras.Model(inp, keras.layers.Dense(10, name="dense1")(h))
    X = np.random.default_rng(0).uniform(0, 1, (10_000, 64))
    rows = []
    with tempfile.TemporaryDirectory() as td:
        os.environ["KAPPA_CSIM_CACHE"] = str(Path(td) / "csim-cache")  # measure a real compile, not a cache hit
        t0 = time.perf_counter()
        prj = hls.convert(model, P, Path(td) / "kappa_prj", tb_inputs=X)
        t_convert = time.perf_counter() - t0
        run1 = simulate(prj)

        t0 = time.perf_counter()
        _, recompiled, _ = build(prj)  # cached: hash the sources, find the binary
        t_cached = time.perf_counter() - t0
        rep = hls.compare(prj)
        rows += [
            ("kappa convert (hls4ml write + checks + tb data)", f"{t_convert:.2f} s"),
            ("kappa g++ compile", f"{run1.compile_seconds:.2f} s"),
            ("kappa csim 10,000 samples", f"{run1.run_seconds:.3f} s ({10_000 / run1.run_seconds:,.0f} samples/s)"),
            ("kappa cached rebuild (no source changed)", f"{t_cached:.3f} s (compiled again: {recompiled})"),
            ("kappa mismatches", f"{rep.mismatches} / {rep.outputs}"),
        ]

        plan = firmware_plan(model, P, FirmwareOptions())
        km_q = quantized_copy(model, plan.steps)
        config = hls_config(km_q, firmware_types(plan), plan.steps, plan.opts, "Vitis")
        hm = hls4ml.converters.convert_from_keras_model(
            km_q, hls_config=config, output_dir=str(Path(td) / "hls4ml_prj"), backend="Vitis", io_type="io_parallel"
        )
        t0 = time.perf_counter()
        hm.compile()
        t_hc = time.perf_counter() - t0
        Xq = np.loadtxt(prj / "tb_data" / "tb_input_features.dat")
        t0 = time.perf_counter()
        y = hm.predict(np.ascontiguousarray(Xq))
        t_hp = time.perf_counter() - t0
        expected = np.loadtxt(prj / "tb_data" / "tb_output_predictions.dat")
        rows += [
            ("hls4ml compile() (write + build_lib.sh)", f"{t_hc:.2f} s"),
            ("hls4ml predict() 10,000 samples", f"{t_hp:.3f} s ({10_000 / t_hp:,.0f} samples/s)"),
            (
                "hls4ml predict() vs kappa expected, exact",
                f"{int(np.sum(np.asarray(y, np.float64).reshape(expected.shape) != expected))} differ "
                f"(hls4ml returns float32 by default)",
            ),
        ]
    w = max(len(r[0]) for r in rows)
    print("C-simulation benchmark (64 -> 32 ReLU -> 10, digits types)")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    met = lambda ok: "met    " if ok else "NOT met"  # noqa: E731
    print("targets:")
    print(f"  {met(run1.run_seconds < run1.compile_seconds)}  C simulation of 10,000 samples < its compile "
          f"({run1.run_seconds:.2f} s vs {run1.compile_seconds:.2f} s)")
    print(f"  {met(t_cached < 1.0)}  cached rebuild < 1 s ({t_cached:.3f} s)")
    print(f"  {met(rep.mismatches == 0)}  0 mismatching outputs ({rep.mismatches} / {rep.outputs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
