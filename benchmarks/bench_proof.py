#!/usr/bin/env python3
"""Time to proof on big models: ``hls.compare`` (compile + run of the C simulation) on the
architectures of two of hls4ml's example models, built here with seeded random weights
(the compile depends on the architecture and the types, not on the weight values):

* ``KERAS_conv1d`` (example-models ``keras/KERAS_conv1d.json``): input (100, 7) ->
  3 x Conv1D(32, kernel 40, ``same``, ReLU) -> Flatten -> Dense(50, ReLU) ->
  Dense(5, softmax);
* ``KERAS_dense_16x500x500x500x500x500x5``: 16 -> 5 x Dense(500, ReLU) -> Dense(5, softmax)
  (the architecture its name spells, activations as the other example MLPs).

Types from ``suggest_precision(model, X, bits=14, headroom_bits=1)`` (the README's call),
io_parallel, Latency, 100 standard-normal samples. Targets (issue 24): compile + run
within 3 minutes on 2 cores, the compile's peak memory (the resident memory of every
compiler process alive at once, summed; sampled every 0.1 s) under 2 GiB. A fresh
binary cache is used for every repeat, so the compile is measured, not a cache hit; the
compare wall time is printed as min / median / max over ``--repeats`` (default 1: a
KERAS_conv1d proof takes over a minute) and the peak memory as the largest seen.
``--one-unit`` builds as before issue 24 (one translation unit) for the before/after
comparison.

Usage: ``python benchmarks/bench_proof.py [--model conv1d|dense|all] [--repeats R] [--one-unit]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

GIB = 1 << 30
TARGET_SECONDS = 180.0
COMPILER_PROCESSES = ("cc1plus", "as", "ld", "collect2", "g++", "c++")


def conv1d_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((100, 7), name="input_1")
    h = inp
    for i in range(1, 4):
        h = keras.layers.Conv1D(32, 40, padding="same", activation="relu", name=f"conv{i}_relu")(h)
    h = keras.layers.Flatten(name="flatten_1")(h)
    h = keras.layers.Dense(50, activation="relu", name="fc1_relu")(h)
    return keras.Model(inp, keras.layers.Dense(5, activation="softmax", name="output_softmax")(h))


def dense_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16,), name="input_1")
    h = inp
    for i in range(1, 6):
        h = keras.layers.Dense(500, activation="relu", name=f"fc{i}_relu")(h)
    return keras.Model(inp, keras.layers.Dense(5, activation="softmax", name="output_softmax")(h))


MODELS = {"conv1d": ("KERAS_conv1d", conv1d_model),
          "dense": ("KERAS_dense_16x500x500x500x500x500x5", dense_model)}


class ChildMemory:
    """Peak of the summed resident memory of this process's compiler descendants (Linux
    ``/proc``), sampled every 0.1 s in a thread."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        me = os.getpid()
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            stats = {}
            for p in Path("/proc").iterdir():
                if p.name.isdigit():
                    try:
                        f = (p / "stat").read_text()
                        name = f[f.index("(") + 1:f.rindex(")")]
                        rest = f[f.rindex(")") + 2:].split()
                        stats[int(p.name)] = (name, int(rest[1]), int(rest[21]) * page)
                    except (OSError, ValueError, IndexError):
                        continue
            total = 0
            for pid, (name, _, rss) in stats.items():
                q = pid
                while q in stats and stats[q][1] != me:
                    q = stats[q][1]
                if q in stats and name in COMPILER_PROCESSES:
                    total += rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.1)


def prove(key, workdir, one_unit):
    import hls
    from hls.sim import csim
    from kappa.suggest import suggest_precision

    name, make = MODELS[key]
    model = make()
    X = np.random.default_rng(0).normal(size=(100, *model.inputs[0].shape[1:]))
    t0 = time.perf_counter()
    P = suggest_precision(model, X, bits=14, headroom_bits=1)
    prj = hls.convert(model, P, Path(workdir) / name, tb_inputs=X)
    t_convert = time.perf_counter() - t0
    from hls.sim.units import Unit

    saved = csim.plan_units
    if one_unit:
        csim.plan_units = lambda project_dir, unity: [Unit("main", unity, True)]
    try:
        c0 = os.times()
        t0 = time.perf_counter()
        with ChildMemory() as mem:
            rep = hls.compare(prj)
        wall = time.perf_counter() - t0
        c1 = os.times()
    finally:
        csim.plan_units = saved
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return {"model": name, "convert": t_convert, "compile": rep.compile_seconds, "run": rep.run_seconds,
            "wall": wall, "cpu": cpu, "peak": mem.peak, "mismatches": rep.mismatches, "outputs": rep.outputs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["conv1d", "dense", "all"], default="all")
    ap.add_argument("--one-unit", action="store_true", help="compile as one translation unit (the old build)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be >= 1, got {args.repeats}")
    keys = list(MODELS) if args.model == "all" else [args.model]
    rows = []
    for k in keys:
        runs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as td:
                os.environ["KAPPA_CSIM_CACHE"] = str(Path(td) / "csim-cache")  # a real compile, not a cache hit
                runs.append(prove(k, td, args.one_unit))
        walls = sorted(r["wall"] for r in runs)
        row = max(runs, key=lambda r: r["wall"])
        row.update(wall=statistics.median(walls), wall_min=walls[0], wall_max=walls[-1],
                   peak=max(r["peak"] for r in runs), mismatches=max(r["mismatches"] for r in runs))
        rows.append(row)
    print(f"\nTime to proof ({'one translation unit' if args.one_unit else 'kappa build'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall times depend on it)")
    print(f"  {'model':38s} {'convert':>8s} {'compile':>8s} {'run':>6s} {'compare min / median / max':>27s} "
          f"{'g++ cpu':>8s} {'peak mem':>9s}  mismatches  targets")
    for r in rows:
        t_ok, m_ok = r["wall"] <= TARGET_SECONDS, r["peak"] < 2 * GIB
        print(f"  {r['model']:38s} {r['convert']:7.1f}s {r['compile']:7.1f}s {r['run']:5.1f}s "
              f"{r['wall_min']:7.1f}s / {r['wall']:6.1f}s / {r['wall_max']:6.1f}s "
              f"{r['cpu']:7.1f}s {r['peak'] / GIB:6.2f} GiB  {r['mismatches']:>4d}/{r['outputs']:<5d}  "
              f"compare <= 3 min: {'met' if t_ok else 'NOT met'}; peak < 2 GiB: {'met' if m_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
