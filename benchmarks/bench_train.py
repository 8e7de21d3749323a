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

Issue 10 targets (``digits_targets``), each ratio measured against Keras ``fit`` on the same
model in the same run, interleaved, min / median / max over ``--repeats``:

* the default digits job's network (configs/digits.yaml: model, loss and types plus a
  gradient type; batch 32; Keras ``fit`` with the matching loss): every firmware field plus gradient and update types
  >= 2x ``fit``; with that job's accumulator the products of both layers are rounded
  (F_x + F_w > F_acc); a second row uses an accumulator that holds every product exactly
  (``ap_fixed<32,12>``), and a third one that rounds every product with RND;
* the digits CNN (configs/digits_cnn.yaml's model and types plus a gradient type):
  >= 1x ``fit``.

Usage: ``python benchmarks/bench_train.py [--samples N] [--epochs E] [--repeats R] [--only digits|mlp]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import kappa  # noqa: E402,F401
from kappa.data import AffineDataset  # noqa: E402
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


GRADIENT = "ap_fixed<24,8,AP_RND,AP_SAT>"


def _interleaved(fit_fn, ours_fn, steps, repeats):
    """Steps/s of ``fit_fn`` and ``ours_fn`` alternately (after one warm-up each); returns
    (fit rates, our rates, ratios)."""
    import statistics  # noqa: F401

    fit_fn()
    ours_fn()
    fr, orates, ratios = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit_fn()
        a = steps / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours_fn()
        b = steps / (time.perf_counter() - t0)
        fr.append(a)
        orates.append(b)
        ratios.append(b / a)
    return fr, orates, ratios


def digits_targets(epochs, repeats):
    import statistics
    from pathlib import Path

    import keras
    import yaml

    root = Path(__file__).resolve().parents[1]
    rows = []

    def run(name, make, X, Y, precision, lr, target, loss_mode="half_mse"):
        steps = epochs * int(np.ceil(len(X) / 32))
        ref = make()
        ref.model.compile(optimizer=keras.optimizers.SGD(0.01),
                          loss="categorical_crossentropy" if loss_mode == "cross_entropy" else "mse")
        ours = make()
        fr, orates, ratios = _interleaved(
            lambda: ref.model.fit(X, Y, batch_size=32, epochs=epochs, verbose=0),
            lambda: ours.train_instrumented(X, Y, epochs=epochs, batch_size=32, learning_rate=lr,
                                            precision_dict=precision, compute_analytic_hessian=False,
                                            loss_mode=loss_mode),
            steps, repeats)
        rows.append((name, statistics.median(fr), statistics.median(orates), min(ratios), statistics.median(ratios),
                     max(ratios), target))

    cfg = yaml.safe_load((root / "configs" / "digits.yaml").read_text())
    ds = kappa.DigitsDataset(one_hot=True)
    X, Y = (a.astype(np.float32) for a in ds.get())
    P = cfg["precision"]
    P["default"]["gradient"] = GRADIENT
    mcfg, loss = cfg["model"], cfg["training"].get("loss_mode", "half_mse")
    make = lambda: LinearBlockModel(dataset=ds, num_hidden=mcfg["num_hidden"], activation=mcfg["activation"],  # noqa: E731
                                    output_activation=mcfg.get("output_activation"), seed=0)
    run("digits MLP, job types (products rounded, TRN)", make, X, Y, P, 0.1, 2.0, loss)
    P_rnd = {k: dict(v) for k, v in P.items()}
    P_rnd["default"]["accumulator"] = "ap_fixed<20,8,AP_RND,AP_WRAP>"
    run("digits MLP, products rounded (RND)", make, X, Y, P_rnd, 0.1, 2.0, loss)
    P_ex = {k: dict(v) for k, v in P.items()}
    P_ex["default"]["accumulator"] = "ap_fixed<32,12,AP_TRN,AP_WRAP>"
    run("digits MLP, exact products", make, X, Y, P_ex, 0.1, 2.0, loss)

    cfg = yaml.safe_load((root / "configs" / "digits_cnn.yaml").read_text())
    dsi = kappa.DigitsDataset(images=True, one_hot=True)
    Xi, Yi = (a.astype(np.float32) for a in dsi.get())
    Pc = cfg["precision"]
    Pc["default"]["gradient"] = GRADIENT
    kw = {k: v for k, v in cfg["model"].items() if k != "type"}
    makec = lambda: kappa.ConvBlockModel(dataset=dsi, **kw)  # noqa: E731
    run("digits CNN, job types", makec, Xi, Yi, Pc, cfg["training"]["learning_rate"], 1.0,
        cfg["training"].get("loss_mode", "half_mse"))

    print(f"\nFixed-point training vs Keras fit (batch 32, {epochs} epochs per run, {repeats} repeats; "
          "ratios min / median / max; the machine may be shared)")
    print(f"  {'model, types':46s} {'fit steps/s':>11s} {'kappa steps/s':>13s} {'ratio min / median / max':>26s}  target")
    for name, f, o, lo, med, hi, target in rows:
        print(
            f"  {name:46s} {f:11.1f} {o:13.1f} {lo:8.2f} / {med:6.2f} / {hi:6.2f}  "
            f">= {target:g}x: {'met' if med >= target else 'NOT met'}"
        )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--only",
        choices=["digits", "mlp"],
        default=None,
        help="digits: the issue-10 targets only; mlp: the 64-64 / affine comparison only",
    )
    args = ap.parse_args(argv)
    global REPEATS
    REPEATS = max(1, args.repeats)
    if args.only != "mlp":
        digits_targets(args.epochs, REPEATS)
    if args.only == "digits":
        return
    ds = AffineDataset(num_samples=args.samples, use_bias=True, seed=0)
    X, Y = (a.astype(np.float32) for a in ds.get())
    bench("LinearBlockModel [64, 64] ReLU", [64, 64], "relu", X, Y, ds, args.epochs, args.batch)
    bench("one-layer affine model", [], None, X, Y, ds, args.epochs, args.batch)


if __name__ == "__main__":
    main()
