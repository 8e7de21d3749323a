#!/usr/bin/env python3
"""Fixed-point training throughput against Keras ``fit`` (issue 24 targets).

Every row trains one network with ``train_instrumented`` and a PrecisionDict (the exact
firmware forward, quantized gradients, updates and storage) and, interleaved in the same
process, the same network with Keras ``model.fit`` (SGD, the matching loss, batch 32), one
warm-up run each (tracing excluded), then ``--repeats`` timed runs of ``--epochs`` epochs.
The ratio kappa steps/s ÷ fit steps/s is printed as min / median / max over the repeats;
the target is a median >= 2x on every row. Each row runs in a process of its own, whose
peak resident memory (Linux ``ru_maxrss``: TensorFlow, both trainers and the data) is
printed with it.

Rows:

* ``mlp-trn``: ``LinearBlockModel([64, 64], relu)`` on 4,096 affine samples; accumulator
  ``ap_fixed<32,12>`` (TRN, WRAP), RND gradient and update types;
* ``mlp-all``: the same network with every field typed (:data:`PRECISION_MLP`): an
  accumulator with fewer fractional bits than input + weight, so every product is rounded
  (RND) on its own and the sums saturate, a 24-bit RND gradient and a stochastic-rounding
  (S_RND) update;
* ``affine-all``: the one-layer affine model with those types;
* ``digits-mlp``, ``digits-mlp-rnd``, ``digits-mlp-exact``: the default digits job's network
  (``configs/digits.yaml``'s model, loss and types plus a gradient type) with its TRN
  accumulator (products truncated), an RND accumulator (products rounded) and one that
  holds every product exactly;
* ``digits-cnn``: ``configs/digits_cnn.yaml`` (Conv2D, BatchNormalization, ReLU, max
  pooling, Dense, softmax; cross-entropy) with its types plus a gradient type;
* ``conv1d``: Conv1D(8, 5, relu) -> Conv1D(8, 3, relu) -> Flatten -> Dense(4) on
  (32, 3) signals, every field typed, products rounded;
* ``graph``: a graph with a skip connection and merges (Dense -> Dense -> Add(skip) ->
  Concatenate -> Dense), every field typed.

Usage: ``python benchmarks/bench_train.py [--rows a,b,...] [--epochs E] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]

TARGET = 2.0
GRADIENT = "ap_fixed<24,8,AP_RND,AP_SAT>"

PRECISION_MLP = {
    "input": {"value": "ap_fixed<16,6,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "bias": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "accumulator": "ap_fixed<32,12,AP_RND,AP_SAT>",
        "activation": "ap_fixed<16,6,AP_RND,AP_SAT>",
        "gradient": GRADIENT,
        "update": "ap_fixed<24,4,S_RND,AP_SAT>",
    },
}

PRECISION_MLP_TRN = {
    "input": {"value": "ap_fixed<16,6,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "bias": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "accumulator": "ap_fixed<32,12>",
        "activation": "ap_fixed<16,6,AP_RND,AP_SAT>",
        "gradient": GRADIENT,
        "update": "ap_fixed<24,4,AP_RND,AP_SAT>",
    },
}


def _affine(hidden, precision):
    import numpy as np

    from kappa.data import AffineDataset
    from kappa.nn import LinearBlockModel

    ds = AffineDataset(num_samples=4096, use_bias=True, seed=0)
    X, Y = (a.astype(np.float32) for a in ds.get())
    return (lambda: LinearBlockModel(dataset=ds, num_hidden=hidden, activation="relu" if hidden else None, seed=0),
            X, Y, precision, 0.01, "half_mse")


def _digits(accumulator=None):
    import numpy as np
    import yaml

    import kappa
    from kappa.nn import LinearBlockModel

    cfg = yaml.safe_load((ROOT / "configs" / "digits.yaml").read_text())
    ds = kappa.DigitsDataset(one_hot=True)
    X, Y = (a.astype(np.float32) for a in ds.get())
    P = cfg["precision"]
    P["default"]["gradient"] = GRADIENT
    if accumulator:
        P["default"]["accumulator"] = accumulator
    m = cfg["model"]
    return (lambda: LinearBlockModel(dataset=ds, num_hidden=m["num_hidden"], activation=m["activation"],
                                     output_activation=m.get("output_activation"), seed=0),
            X, Y, P, 0.1, cfg["training"].get("loss_mode", "half_mse"))


def _digits_cnn():
    import numpy as np
    import yaml

    import kappa

    cfg = yaml.safe_load((ROOT / "configs" / "digits_cnn.yaml").read_text())
    ds = kappa.DigitsDataset(images=True, one_hot=True)
    X, Y = (a.astype(np.float32) for a in ds.get())
    P = cfg["precision"]
    P["default"]["gradient"] = GRADIENT
    kw = {k: v for k, v in cfg["model"].items() if k != "type"}
    return (lambda: kappa.ConvBlockModel(dataset=ds, **kw), X, Y, P, cfg["training"]["learning_rate"],
            cfg["training"].get("loss_mode", "half_mse"))


def _keras_row(build, x_shape, d_out):
    """A KerasModel row on a seeded teacher task: inputs N(0, 1) of ``x_shape``, targets a
    fixed random linear map of the flattened inputs. Types: input F = 8, weights F = 8,
    accumulator F = 14 (RND, SAT): every product loses 2 bits and is rounded on its own."""
    import keras
    import numpy as np

    import kappa

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2048, *x_shape)).astype(np.float32)
    T = rng.normal(size=(int(np.prod(x_shape)), d_out)) / np.sqrt(np.prod(x_shape))
    Y = (X.reshape(len(X), -1) @ T).astype(np.float32)

    def make():
        keras.utils.set_random_seed(0)
        return kappa.KerasModel(build())

    P = {"input": {"value": "ap_fixed<12,4,AP_RND,AP_SAT>"},
         "default": {"weight": "ap_fixed<10,2,AP_RND,AP_SAT>", "bias": "ap_fixed<10,2,AP_RND,AP_SAT>",
                     "accumulator": "ap_fixed<24,10,AP_RND,AP_SAT>", "activation": "ap_fixed<14,6,AP_RND,AP_SAT>",
                     "gradient": GRADIENT, "update": "ap_fixed<16,2,AP_RND,AP_SAT>"}}
    return make, X, Y, P, 0.01, "half_mse"


def _conv1d():
    import keras

    def build():
        inp = keras.Input((32, 3), name="signal")
        h = keras.layers.Conv1D(8, 5, activation="relu", name="conv0")(inp)
        h = keras.layers.Conv1D(8, 3, activation="relu", name="conv1")(h)
        h = keras.layers.Flatten(name="flat")(h)
        return keras.Model(inp, keras.layers.Dense(4, name="out")(h))

    return _keras_row(build, (32, 3), 4)


def _graph():
    import keras

    def build():
        inp = keras.Input((16,), name="x")
        h = keras.layers.Dense(32, activation="relu", name="d0")(inp)
        h2 = keras.layers.Dense(16, name="d1")(h)
        s = keras.layers.Add(name="skip")([h2, inp])
        c = keras.layers.Concatenate(name="cat")([s, h])
        return keras.Model(inp, keras.layers.Dense(4, name="out")(c))

    return _keras_row(build, (16,), 4)


ROWS = {
    "mlp-trn": ("64-64 MLP, TRN accumulator, RND grad/update", lambda: _affine([64, 64], PRECISION_MLP_TRN)),
    "mlp-all": ("64-64 MLP, every field (RND products, S_RND)", lambda: _affine([64, 64], PRECISION_MLP)),
    "affine-all": ("affine model, every field", lambda: _affine([], PRECISION_MLP)),
    "digits-mlp": ("digits MLP, job types (products TRN)", lambda: _digits()),
    "digits-mlp-rnd": ("digits MLP, products rounded (RND)", lambda: _digits("ap_fixed<20,8,AP_RND,AP_WRAP>")),
    "digits-mlp-exact": ("digits MLP, exact products", lambda: _digits("ap_fixed<32,12,AP_TRN,AP_WRAP>")),
    "digits-cnn": ("digits CNN (conv, BN, softmax), job types", _digits_cnn),
    "conv1d": ("Conv1D net, every field", _conv1d),
    "graph": ("graph: skip Add + Concatenate, every field", _graph),
}


def run_row(key: str, epochs: int, repeats: int) -> dict:
    """Time one row in this process; returns its rates, ratios and peak memory."""
    import resource

    import keras
    import numpy as np

    import kappa  # noqa: F401

    make, X, Y, P, lr, loss_mode = ROWS[key][1]()
    steps = epochs * int(np.ceil(len(X) / 32))
    ref = make()
    ref.model.compile(optimizer=keras.optimizers.SGD(0.01),
                      loss="categorical_crossentropy" if loss_mode == "cross_entropy" else "mse")
    ours = make()

    def fit():
        ref.model.fit(X, Y, batch_size=32, epochs=epochs, verbose=0)

    def kappa_train():
        ours.train_instrumented(X, Y, epochs=epochs, batch_size=32, learning_rate=lr, precision_dict=P,
                                compute_analytic_hessian=False, loss_mode=loss_mode)

    fit()
    kappa_train()
    fr, kr = [], []
    for _ in range(repeats):
        for fn, out in ((fit, fr), (kappa_train, kr)):
            t0 = time.perf_counter()
            fn()
            out.append(steps / (time.perf_counter() - t0))
    return {"fit": fr, "kappa": kr, "ratios": [k / f for k, f in zip(kr, fr)],
            "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "steps": steps}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of: {', '.join(ROWS)}")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        ap.error(f"--epochs and --repeats must be >= 1, got {args.epochs}, {args.repeats}")
    if args.child:
        print("ROW " + json.dumps(run_row(args.child, args.epochs, args.repeats)))
        return 0
    keys = [k.strip() for k in args.rows.split(",") if k.strip()]
    bad = [k for k in keys if k not in ROWS]
    if bad:
        ap.error(f"unknown row(s) {bad}; valid: {', '.join(ROWS)}")
    results = {}
    for k in keys:
        print(f"row {k} ...", flush=True)
        out = subprocess.run([sys.executable, __file__, "--child", k, "--epochs", str(args.epochs),
                              "--repeats", str(args.repeats)], capture_output=True, text=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("ROW ")]
        if out.returncode != 0 or not line:
            print(f"  row {k} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
            continue
        results[k] = json.loads(line[-1][4:])
    print(f"\nFixed-point training vs Keras fit (batch 32, {args.epochs} epochs per run, {args.repeats} repeats, "
          f"interleaved; ratios min / median / max; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  {'row':48s} {'fit steps/s':>11s} {'kappa steps/s':>13s} {'ratio min / median / max':>26s} "
          f"{'peak RSS':>9s}  target")
    unmet = 0
    for k, r in results.items():
        lo, med, hi = min(r["ratios"]), statistics.median(r["ratios"]), max(r["ratios"])
        met = med >= TARGET
        unmet += not met
        print(f"  {ROWS[k][0]:48s} {statistics.median(r['fit']):11.1f} {statistics.median(r['kappa']):13.1f} "
              f"{lo:8.2f} / {med:6.2f} / {hi:6.2f} {r['peak'] / 2**30:6.2f} GiB  >= {TARGET:g}x: "
              f"{'met' if met else 'NOT met'}")
    print(f"targets: {len(results) - unmet} of {len(keys)} rows met" + (f"; {len(keys) - len(results)} failed"
                                                                       if len(results) < len(keys) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
