"""Training throughput benchmark (issue 3): steps/s of

  (a) Keras ``model.fit``                      (reference)
  (b) ``BaseModel.train``                      (tf.data + compiled step + apply_gradients)
  (c) ``train_instrumented`` floating point
  (d) ``train_instrumented`` with a PrecisionDict (exact fixed-point forward, quantized
      gradients/updates/storage)

on ``LinearBlockModel(num_hidden=[64, 64], activation="relu")`` with batch 32 and on the
one-layer affine model (``num_hidden=[]``, batch 32). Each figure is the best of
``--repeats`` runs after one warm-up run (tracing excluded) and is reported with its ratio
to (a). Target: (d) >= 0.5 x (a). The fixed-point configuration (``PRECISION_MLP``) has an
accumulator with fewer fractional bits than input + weight, so every product is rounded on
its own (the expensive firmware path), and stochastic-rounding updates.

Usage: ``python benchmarks/bench_train.py [--samples N] [--epochs E]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kappa  # noqa: E402,F401
from kappa.dataset import AffineDataset  # noqa: E402
from kappa.nn import LinearBlockModel  # noqa: E402

PRECISION_MLP = {
    "input": {"value": "ap_fixed<16,6,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "bias": "ap_fixed<16,4,AP_RND,AP_SAT>",
        "accumulator": "ap_fixed<32,12,AP_RND,AP_SAT>",
        "activation": "ap_fixed<16,6,AP_RND,AP_SAT>",
        "gradient": "ap_fixed<24,8,AP_RND,AP_SAT>",
        "update": "ap_fixed<24,4,S_RND,AP_SAT>",
    },
}


REPEATS = 3


def _timed(fn, steps):
    """Best of ``REPEATS`` timed runs after one warm-up run (tracing, first-call overheads).

    train_instrumented caches its compiled step per model and configuration, so the timed
    runs measure steady-state throughput, as Keras ``fit`` on an already compiled model.
    """
    fn()
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return steps / best


def bench(name, hidden, activation, X, Y, ds, epochs, batch):
    import keras

    steps = epochs * int(np.ceil(len(X) / batch))
    out = {}

    m = LinearBlockModel(dataset=ds, num_hidden=hidden, activation=activation, seed=0)
    m.model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    out["(a) keras fit"] = _timed(lambda: m.model.fit(X, Y, batch_size=batch, epochs=epochs, verbose=0), steps)

    m = LinearBlockModel(dataset=ds, num_hidden=hidden, activation=activation, seed=0)
    out["(b) train"] = _timed(lambda: m.train(X, Y, epochs=epochs, batch_size=batch), steps)

    m = LinearBlockModel(dataset=ds, num_hidden=hidden, activation=activation, seed=0)
    out["(c) train_instrumented float"] = _timed(
        lambda: m.train_instrumented(X, Y, epochs=epochs, batch_size=batch, learning_rate=0.01), steps)

    m = LinearBlockModel(dataset=ds, num_hidden=hidden, activation=activation, seed=0)
    out["(d) train_instrumented fixed"] = _timed(
        lambda: m.train_instrumented(X, Y, epochs=epochs, batch_size=batch, learning_rate=0.01,
                                     precision_dict=PRECISION_MLP), steps)
    ref = out["(a) keras fit"]
    print(f"\n{name}: {steps} steps per run (batch {batch})")
    print(f"  {'variant':34s} {'steps/s':>10s} {'ratio to (a)':>13s}")
    for k, v in out.items():
        print(f"  {k:34s} {v:10.1f} {v / ref:13.2f}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    global REPEATS
    REPEATS = max(1, args.repeats)
    ds = AffineDataset(num_samples=args.samples, use_bias=True, seed=0)
    X, Y = (a.astype(np.float32) for a in ds.get())
    bench("LinearBlockModel [64, 64] ReLU", [64, 64], "relu", X, Y, ds, args.epochs, args.batch)
    bench("one-layer affine model", [], None, X, Y, ds, args.epochs, args.batch)


if __name__ == "__main__":
    main()
