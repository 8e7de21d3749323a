#!/usr/bin/env python3
"""Firmware-forward benchmark: ``predict_quantized`` against its yardsticks, in one run.

Models and paths (issue 10 targets):

* jet tagger 16 -> 64 -> 32 -> 32 -> 5 (ReLU; input ``ap_fixed<16,6>``, weights and biases
  ``ap_fixed<8,2>``, activations ``ap_fixed<16,6>``):
  - ``wrap-trunc``: accumulator ``ap_fixed<20,8>`` (TRN, WRAP): every product truncated
    (integer kernel). Target: >= 10x hls4ml's compiled C simulation (also printed: the
    ratio to Keras float ``predict``);
  - ``exact``: accumulator ``ap_fixed<32,16,AP_TRN,AP_SAT>``: every product on the
    accumulator grid and no overflow possible (one float64 matrix product per layer).
    Target: >= 0.5x Keras float ``predict``;
  - ``sat-round``: accumulator ``ap_fixed<20,8,AP_RND,AP_SAT>`` (rounded products,
    saturating sums in input order). Target: >= the C simulation;
* digits CNN (``configs/digits_cnn.yaml``'s model and types), io_parallel and io_stream.
  Target: >= 10x the C simulation.
* the layers added since (target: >= the C simulation, io_parallel; the convolutions also
  io_stream), with the jet tagger's types (input ``ap_fixed<16,6>``, weights and biases
  ``ap_fixed<8,2>``, accumulators ``ap_fixed<20,8>``, results ``ap_fixed<16,6>``):
  - ``graph Add/Concat``: a graph 16 -> two Dense branches -> Add -> Dense -> Concatenate with
    the input -> Dense 5;
  - ``depthwise+pointwise``: 8x8x3 -> DepthwiseConv2D 3x3 ``same`` (ReLU) -> Conv2D 1x1 (8) ->
    Flatten -> Dense 5 (the separable convolution hls4ml converts: Keras 3 SeparableConv is
    refused by hls4ml's converter);
  - ``Conv1D``: 32x4 -> Conv1D 8 (3, ReLU) -> MaxPooling1D 2 -> Conv1D 8 (3, ReLU) -> Flatten ->
    Dense 5;
  - ``point-wise Dense``: 16x8 -> Dense 16 (ReLU) -> Dense 8 (ReLU), per position ->
    GlobalAveragePooling1D -> Dense 5.
* memory: the jet tagger (wrap-trunc) on 1,000,000 samples in a fresh process; target: peak
  resident memory < 2 GiB. Every row also prints the benchmark process's peak resident
  memory after it (cumulative over the rows before it, TensorFlow and the C simulations
  included).

The C simulation is hls4ml 1.3.0's own ``compile()`` + ``predict()`` on the same quantized
model and inputs (``predict()`` timed; compiling is excluded, which favours the yardstick).
Each throughput is measured ``--repeats`` times, interleaved with its yardstick, and the
ratios are printed as min / median / max. The machine may be shared: read ratios, not
absolute samples/s. Needs g++ (the C-simulation rows are skipped without it).

Every C-simulation row also prints how many output values differ between the C simulation and
``predict_quantized`` (must be 0).

Usage: ``python benchmarks/bench_forward.py [--samples N] [--repeats R] [--no-csim] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

JET_TYPES = {"input": {"value": "ap_fixed<16,6>"},
             "default": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>", "activation": "ap_fixed<16,6>"}}
JET_ACCUMULATORS = {"wrap-trunc": "ap_fixed<20,8>", "exact": "ap_fixed<32,16,AP_TRN,AP_SAT>",
                    "sat-round": "ap_fixed<20,8,AP_RND,AP_SAT>"}
GIB = 1 << 30


def jet_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16,), name="model_input")
    h = inp
    for i, n in enumerate([64, 32, 32]):
        h = keras.layers.Dense(n, activation="relu", name=f"dense{i}")(h)
    return keras.Model(inp, keras.layers.Dense(5, name="dense3")(h))


def jet_precision(path):
    p = {k: dict(v) for k, v in JET_TYPES.items()}
    p["default"]["accumulator"] = JET_ACCUMULATORS[path]
    return p


def jet_inputs(n):
    return np.random.default_rng(0).normal(0, 2, (n, 16))


def cnn_setup(n):
    import yaml

    import kappa

    cfg = yaml.safe_load((ROOT / "configs" / "digits_cnn.yaml").read_text())
    kw = {k: v for k, v in cfg["model"].items() if k != "type"}
    m = kappa.ConvBlockModel(dataset=kappa.DigitsDataset(images=True), **kw)
    X = kappa.DigitsDataset(images=True).get()[0]
    X = np.concatenate([X] * (-(-n // len(X))))[:n]
    return m.model, cfg["precision"], X


def _graph_model(keras):
    x = keras.Input((16,), name="x")
    a = keras.layers.Dense(16, activation="relu", name="a")(x)
    b = keras.layers.Dense(16, name="b")(x)
    s = keras.layers.Add(name="add0")([a, b])
    h = keras.layers.Dense(12, activation="relu", name="h")(s)
    c = keras.layers.Concatenate(name="cat0")([h, x])
    return keras.Model(x, keras.layers.Dense(5, name="out")(c)), (16,)


def _depthwise_model(keras):
    x = keras.Input((8, 8, 3), name="x")
    h = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    h = keras.layers.Conv2D(8, 1, name="pw")(h)
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(x, keras.layers.Dense(5, name="out")(h)), (8, 8, 3)


def _conv1d_model(keras):
    x = keras.Input((32, 4), name="x")
    h = keras.layers.Conv1D(8, 3, activation="relu", name="c0")(x)
    h = keras.layers.MaxPooling1D(2, name="p0")(h)
    h = keras.layers.Conv1D(8, 3, activation="relu", name="c1")(h)
    h = keras.layers.Flatten(name="flat")(h)
    return keras.Model(x, keras.layers.Dense(5, name="out")(h)), (32, 4)


def _pointwise_model(keras):
    x = keras.Input((16, 8), name="x")
    h = keras.layers.Dense(16, activation="relu", name="phi0")(x)
    h = keras.layers.Dense(8, activation="relu", name="phi1")(h)
    g = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    return keras.Model(x, keras.layers.Dense(5, name="rho")(g)), (16, 8)


#: name -> (builder, io types) of the layers added since the first benchmark
EXTRA_MODELS = {"graph Add/Concat": (_graph_model, ("io_parallel",)),
                "depthwise+pointwise": (_depthwise_model, ("io_parallel", "io_stream")),
                "Conv1D": (_conv1d_model, ("io_parallel", "io_stream")),
                "point-wise Dense": (_pointwise_model, ("io_parallel",))}


def extra_setup(builder, n):
    """``(model, precision, X)``: the model with seeded weights and biases, the jet tagger's
    types (wrap-trunc accumulators), ``n`` normal inputs."""
    import keras

    keras.utils.set_random_seed(0)
    km, shape = builder(keras)
    rng = np.random.default_rng(0)
    for layer in km.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape).astype(np.float32))
    return km, jet_precision("wrap-trunc"), rng.normal(0, 2, (n, *shape))


def csim_model(km, precision, io_type, workdir):
    """hls4ml's own compiled C simulation of ``km`` with kappa's types."""
    import hls4ml

    from hls.project.convert import firmware_types, hls_config, quantized_copy
    from kappa.firmware_forward import firmware_plan
    from kappa.layers import FirmwareOptions

    plan = firmware_plan(km, precision, FirmwareOptions(io_type=io_type))
    km_q = quantized_copy(km, plan.steps)
    config = hls_config(km_q, firmware_types(plan), plan.steps, plan.opts, "Vitis")
    hm = hls4ml.converters.convert_from_keras_model(km_q, hls_config=config, output_dir=str(workdir),
                                                    backend="Vitis", io_type=io_type)
    t0 = time.perf_counter()
    hm.compile()
    return hm, time.perf_counter() - t0


def rate(fn, n):
    t0 = time.perf_counter()
    out = fn()
    return n / (time.perf_counter() - t0), out


def stats(v):
    return min(v), statistics.median(v), max(v)


def csim_rows(name, km, P, X, io, n, R, td, use_csim, target, rows, targets, notes):
    """Time ``predict_quantized`` of ``km`` against Keras and (``use_csim``) hls4ml's C simulation
    (``target``: the ratio to reach), and count the values in which the two differ."""
    from kappa.firmware_forward import predict_quantized

    pq = lambda: predict_quantized(km, P, X, io_type=io)  # noqa: E731
    ys = {"keras float predict": (lambda: km.predict(X, batch_size=1024, verbose=0), None)}
    if use_csim:
        hm, tc = csim_model(km, P, io, Path(td) / f"{name}_{io}".replace(" ", "_").replace("/", "_"))
        Xc = np.ascontiguousarray(X)
        ys["hls4ml csim predict"] = (lambda: hm.predict(Xc), target)
        diff = int(np.sum(np.asarray(hm.predict(Xc), np.float64).reshape(n, -1) != pq().reshape(n, -1)))
        notes.append(f"{name} {io}: hls4ml compile() {tc:.1f} s; csim vs predict_quantized: {diff} values differ")
        targets.append((f"{name} {io}: csim vs predict_quantized differ in 0 values", diff == 0, diff))
    measure(f"{name} {io}", pq, ys, n, R, rows, targets)


def measure(name, pq, yardsticks, n, repeats, rows, targets):
    """``pq``: callable; ``yardsticks``: {label: (callable, target ratio or None)}."""
    pq()  # warm-up (compiles the kernels, first-call costs)
    for fn, _ in yardsticks.values():
        fn()
    ours, theirs = [], {k: [] for k in yardsticks}
    ratios = {k: [] for k in yardsticks}
    for _ in range(repeats):
        r, _ = rate(pq, n)
        ours.append(r)
        for k, (fn, _) in yardsticks.items():
            y, _ = rate(fn, n)
            theirs[k].append(y)
            ratios[k].append(r / y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB; the process so far
    for k, (_, target) in yardsticks.items():
        lo, med, hi = stats(ratios[k])
        met = None if target is None else med >= target
        rows.append((name, k, statistics.median(ours), statistics.median(theirs[k]), (lo, med, hi), target, met,
                     peak))
        if target is not None:
            targets.append((f"{name} vs {k} >= {target:g}x", met, med))


def memory_child(n):
    from kappa.firmware_forward import predict_quantized

    km = jet_model()
    X = jet_inputs(n)
    t0 = time.perf_counter()
    y = predict_quantized(km, jet_precision("wrap-trunc"), X)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(f"{y.shape[0]} {dt:.3f} {peak}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=20_000, help="samples per timed call (default 20,000)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory-samples", type=int, default=1_000_000)
    ap.add_argument("--no-csim", action="store_true", help="skip the hls4ml C-simulation yardstick")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only the models whose name contains NAME (repeatable; e.g. 'jet', 'digits', "
                    "'Conv1D'); the memory row always runs")
    ap.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.samples < 1 or args.repeats < 1:
        ap.error(f"--samples and --repeats must be >= 1, got {args.samples}, {args.repeats}")
    from kappa.firmware_forward import predict_quantized

    use_csim = not args.no_csim and shutil.which("g++") is not None
    if not use_csim and not args.no_csim:
        print("g++ not found: the C-simulation yardstick is skipped")
    n, R = args.samples, args.repeats

    def wanted(name):
        return not args.only or any(k.lower() in name.lower() for k in args.only)

    rows, targets, notes = [], [], []
    with tempfile.TemporaryDirectory() as td:
        km = jet_model()
        X = jet_inputs(n)
        keras_fn = lambda: km.predict(X, batch_size=1024, verbose=0)  # noqa: E731
        for path in JET_ACCUMULATORS if wanted("jet") else ():
            P = jet_precision(path)
            pq = lambda P=P: predict_quantized(km, P, X)  # noqa: E731
            ys = {"keras float predict": (keras_fn, 0.5 if path == "exact" else None)}
            if use_csim and path != "exact":
                hm, tc = csim_model(km, P, "io_parallel", Path(td) / f"jet_{path}")
                Xc = np.ascontiguousarray(X)
                ys["hls4ml csim predict"] = (lambda hm=hm, Xc=Xc: hm.predict(Xc), 10.0 if path == "wrap-trunc" else 1.0)
                diff = int(np.sum(np.asarray(hm.predict(Xc), np.float64).reshape(n, -1) != pq()))
                notes.append(f"jet {path}: hls4ml compile() {tc:.1f} s; csim vs predict_quantized: {diff} values differ")
                targets.append((f"jet {path}: csim vs predict_quantized differ in 0 values", diff == 0, diff))
            measure(f"jet {path}", pq, ys, n, R, rows, targets)
        if wanted("digits CNN"):
            kmc, Pc, Xi = cnn_setup(n)
            for io in ("io_parallel", "io_stream"):
                csim_rows("digits CNN", kmc, Pc, Xi, io, n, R, td, use_csim, 10.0, rows, targets, notes)
        for name, (builder, ios) in EXTRA_MODELS.items():
            if wanted(name):
                km_x, P_x, X_x = extra_setup(builder, n)
                for io in ios:
                    csim_rows(name, km_x, P_x, X_x, io, n, R, td, use_csim, 1.0, rows, targets, notes)

    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(args.memory_samples)],
        capture_output=True,
        text=True,
        check=True,
    )
    m_n, m_dt, m_peak = out.stdout.split()[-3:]
    m_peak = int(m_peak)
    targets.append((f"jet wrap-trunc on {int(m_n):,} samples: peak RSS < 2 GiB", m_peak < 2 * GIB, m_peak / GIB))

    print(
        f"\nFirmware-forward benchmark ({n:,} samples per call, {R} repeats; ratios min / median / max; "
        f"samples/s are medians and depend on the machine's load)"
    )
    print(
        f"  {'model, path':34s} {'yardstick':22s} {'kappa/s':>10s} {'yardstick/s':>12s} "
        f"{'ratio min / median / max':>26s} {'peak RSS':>9s}  target"
    )
    for name, k, ours, theirs, (lo, med, hi), target, met, peak in rows:
        t = "" if target is None else f">= {target:g}x: {'met' if met else 'NOT met'}"
        print(f"  {name:34s} {k:22s} {ours:10,.0f} {theirs:12,.0f} {lo:8.2f} / {med:6.2f} / {hi:6.2f} "
              f"{peak / GIB:5.2f} GiB  {t}")
    print("  peak RSS: the process's peak after the row (cumulative: TensorFlow, the models, data and C "
          "simulations of the rows before it); the 1,000,000-sample row below runs in a process of its own")
    print(
        f"  memory: jet wrap-trunc, {int(m_n):,} samples in {float(m_dt):.1f} s "
        f"({int(m_n) / float(m_dt):,.0f} samples/s), peak RSS {m_peak / GIB:.2f} GiB (whole process, TensorFlow "
        f"included)"
    )
    for s in notes:
        print(f"  {s}")
    print("targets:")
    for what, met, v in targets:
        print(f"  {'met    ' if met else 'NOT met'}  {what} ({v:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
