"""Edge of stability (Cohen et al., ICLR 2021) in float and in fixed point (issue 23).

Full-batch gradient descent (batch = all samples, no shuffling), half-MSE loss
``‖Ŷ − Y‖²_F / (2N)`` on one-hot targets, a 64 → 64 → 64 → 10 tanh network
(``LinearBlockModel(num_hidden=[64, 64], activation="tanh", seed=0)``) on the first 1,000
samples of scikit-learn's digits (pixels / 16). Every ``--every`` steps the sharpness λ_max
of the training loss is estimated at the current weights (``train_instrumented(...,
hessian_every=K)``: Lanczos on exact Hessian-vector products, float64, warm-started; on
the fixed-point runs the float network's loss at the stored quantized weights).

Arithmetics (see :data:`ARITHMETICS`): float32; fixed point with 14 fractional weight bits
(``ap_fixed<18,4>`` weights and biases) and round-to-nearest (``AP_RND``) or stochastic
(``S_RND``) updates on the weight grid, with a wide (``ap_fixed<40,10>``, every product
exact) or a narrow (``ap_fixed<16,6,AP_TRN,AP_WRAP>``, products truncated to 10 fractional
bits) accumulator; and 20 fractional weight bits (``ap_fixed<24,4>``) with round-to-nearest
updates. Activations ``ap_fixed<20,6>``, tanh the firmware's 1024-entry table, the input
``ap_ufixed<8,1>`` (exact for v/16).

Each run ends in one verdict, by the rules of :func:`verdict` (r = η·λ̂/2, the estimates of
the last third of the run):

* ``divergence``: :meth:`kappa.FitHistory.health` says diverged (NaN/inf, or a loss
  blow-up / rail pinning that saturation hid);
* ``stall``: health says stalled (updates underflow and the loss is flat), or the median
  ratio applied/intended update norm over the last third is below 0.1;
* ``EoS plateau``: median r within 1 ± 0.1 (λ̂ at 2/η ± 10 %);
* ``below 2/η`` (median r < 0.9) or ``above 2/η`` (median r > 1.1, not diverged).

Usage::

    python benchmarks/bench_edge_of_stability.py                  # the long version
    python benchmarks/bench_edge_of_stability.py --steps 600,600,100 --fixed-steps 600,100  # short
    python benchmarks/bench_edge_of_stability.py --out docs/figures --json eos.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

PLATEAU_TOL = 0.10  # |η λ̂ / 2 − 1| within this: at the edge of stability
DEAD_UPDATE_RATIO = 0.1  # median applied/intended update norm below this: updates do not land
W18 = "ap_fixed<18,4,AP_RND_CONV,AP_SAT>"
W24 = "ap_fixed<24,4,AP_RND_CONV,AP_SAT>"
ACC_WIDE = "ap_fixed<40,10,AP_TRN,AP_WRAP>"
ACC_NARROW = "ap_fixed<16,6,AP_TRN,AP_WRAP>"


def precision(weight: str, update_rounding: str, accumulator: str) -> dict:
    """PrecisionDict spec: weights/biases ``weight``, updates on the same grid rounded with
    ``update_rounding`` (``AP_RND`` or ``S_RND``), the given accumulator."""
    upd = weight.replace("AP_RND_CONV", update_rounding)
    return {"default": {"weight": weight, "bias": weight, "accumulator": accumulator,
                        "activation": "ap_fixed<20,6,AP_RND,AP_SAT>", "update": upd},
            "input": {"value": "ap_ufixed<8,1,AP_RND,AP_SAT>"}}


ARITHMETICS = {
    "float32": None,
    "F14 RND / acc40": precision(W18, "AP_RND", ACC_WIDE),
    "F14 S_RND / acc40": precision(W18, "S_RND", ACC_WIDE),
    "F14 S_RND / acc16": precision(W18, "S_RND", ACC_NARROW),
    "F14 RND / acc16": precision(W18, "AP_RND", ACC_NARROW),
    "F20 RND / acc40": precision(W24, "AP_RND", ACC_WIDE),
}


def digits_1000():
    """The first 1,000 digits samples: X (1000, 64) in [0, 1], Y one-hot (1000, 10)."""
    import kappa

    ds = kappa.DigitsDataset(num_samples=1000, one_hot=True)
    return ds, ds.X.astype(np.float32), ds.Y.astype(np.float32)


def run(eta: float, steps: int, arithmetic: str = "float32", *, every: int = 25, iters: int = 20,
        tol: float = 1e-3, data=None, seed: int = 0) -> dict:
    """One full-batch GD run; returns the history's sharpness/loss series and its verdict.

    Returns:
        dict: ``eta``, ``arithmetic``, ``steps`` (array of estimate steps), ``lam`` (λ̂ there),
        ``loss`` (per step), ``verdict`` (see :func:`verdict`), ``status``, ``seconds``
        (training + estimates), ``hessian`` (the cost record), ``history``.
    """
    from kappa.nn import LinearBlockModel

    ds, X, Y = data if data is not None else digits_1000()
    m = LinearBlockModel(ds, num_hidden=[64, 64], activation="tanh", seed=seed)
    t0 = time.perf_counter()
    h = m.train_instrumented(X, Y, epochs=int(steps), batch_size=len(X), learning_rate=float(eta), shuffle=False,
                             loss_mode="half_mse", compute_analytic_hessian=False,
                             precision_dict=ARITHMETICS[arithmetic], hessian_every=int(every),
                             hessian_iters=int(iters), hessian_tol=float(tol), seed=seed)
    secs = time.perf_counter() - t0
    fin = np.isfinite(h.hessian_lambda_max)
    out = {"eta": float(eta), "arithmetic": arithmetic, "steps": np.flatnonzero(fin), "lam": h.hessian_lambda_max[fin],
           "loss": np.asarray(h.loss, np.float64), "status": h.health()["status"], "seconds": secs,
           "hessian": h.config["hessian"], "history": h}
    out.update(verdict(h, float(eta)))
    return out


def verdict(h, eta: float) -> dict:
    """Where a run ends (the rules of the module doc).

    Returns:
        ``{"verdict", "ratio_median", "lam_median", "first_in_band", "settled_at",
        "band_range", "update_ratio"}``: the verdict string, the median of η·λ̂/2 and of λ̂
        over the last third of the estimates, the first estimate step with
        |η·λ̂/2 − 1| <= 0.1 and the first from which every later estimate is (None if never),
        the (min, max) of λ̂ from that step on, and the median applied/intended update
        norm over the last third of the steps.
    """
    lam = np.asarray(h.hessian_lambda_max, np.float64)
    steps = np.flatnonzero(np.isfinite(lam))
    lam = lam[steps]
    r = eta * lam / 2.0
    tail = r[len(r) - max(1, len(r) // 3):] if len(r) else r
    med = float(np.median(tail)) if tail.size else math.nan
    inb = np.abs(r - 1.0) <= PLATEAU_TOL
    band = np.flatnonzero(inb)
    first = int(steps[band[0]]) if band.size else None
    # settled: from this estimate on, every estimate lies in the band
    ok = np.flatnonzero(np.cumprod(inb[::-1])[::-1]) if len(inb) else inb
    settled = int(steps[ok[0]]) if ok.size else None
    band_range = (float(lam[ok[0]:].min()), float(lam[ok[0]:].max())) if ok.size else None
    health = h.health()
    n = h.n_steps
    w = max(1, n // 3)
    raw, act = h.raw_update_norm[-w:], h.actual_update_norm[-w:]
    moving = raw > 0
    ratio = float(np.median(act[moving] / raw[moving])) if moving.any() else math.nan
    if health["status"] == "diverged":
        v = "divergence"
    elif health["status"] == "stalled" or ratio < DEAD_UPDATE_RATIO:
        v = "stall"
    elif not math.isfinite(med):
        v = "no estimate"
    elif abs(med - 1.0) <= PLATEAU_TOL:
        v = "EoS plateau"
    else:
        v = "below 2/η" if med < 1.0 else "above 2/η"
    return {
        "verdict": v,
        "ratio_median": med,
        "settled_at": settled,
        "band_range": band_range,
        "lam_median": float(np.median(lam[len(lam) - len(tail) :])) if tail.size else math.nan,
        "first_in_band": first,
        "update_ratio": ratio,
    }


def table(results) -> str:
    """Markdown table of the runs."""
    rows = [
        "| arithmetic | η | 2/η | steps | λ̂ first → max | λ̂ median, last third | η·λ̂/2 "
        "| first step in 2/η ± 10 % | in band from (λ̂ range) | loss first → last | applied/intended | verdict |",
        "|" + "---|" * 12,
    ]
    for r in results:
        lam = r["lam"]
        loss = r["loss"]
        fin = loss[np.isfinite(loss)]
        rows.append(
            f"| {r['arithmetic']} | {r['eta']:g} | {2 / r['eta']:.0f} | {len(loss)} | "
            f"{lam[0]:.1f} → {np.nanmax(lam):.1f} | {r['lam_median']:.1f} | {r['ratio_median']:.2f} | "
            f"{r['first_in_band'] if r['first_in_band'] is not None else '—'} | "
            f"{_settled(r)} | "
            f"{loss[0]:.3g} → {fin[-1] if fin.size else math.nan:.3g}{' (NaN)' if not np.isfinite(loss[-1]) else ''} | "
            f"{r['update_ratio']:.2f} | {r['verdict']} |"
        )
    return "\n".join(rows)


def _settled(r) -> str:
    if r["settled_at"] is None:
        return "—"
    lo, hi = r["band_range"]
    return f"{r['settled_at']} ({lo:.1f}–{hi:.1f})"


def plot(results, path=None, title: str = ""):
    """Sharpness (with 2/η dashed) and loss against the step, one colour per run."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for i, r in enumerate(results):
        c = f"C{i}"
        lab = f"{r['arithmetic']}, η={r['eta']:g}"
        ax1.plot(r["steps"], r["lam"], ".-", color=c, ms=3, lw=1, label=lab)
        ax1.axhline(2 / r["eta"], color=c, ls="--", lw=0.8)
        ax2.plot(np.arange(len(r["loss"])), r["loss"], color=c, lw=1, label=lab)
    ok = [r for r in results if r["verdict"] != "divergence"] or results  # diverged runs leave the axes
    ax1.set_ylim(0, 1.15 * max(max(2 / r["eta"] for r in results), max(float(np.nanmax(r["lam"])) for r in ok)))
    fin = np.concatenate([r["loss"][np.isfinite(r["loss"])] for r in ok])
    ax2.set_ylim(0.7 * fin.min(), 3.0 * fin.max())
    ax1.set_ylabel("sharpness λ_max (dashed: 2/η)")
    ax1.legend(fontsize="small", ncol=2)
    ax1.set_title(title)
    ax2.set_yscale("log")
    ax2.set_ylabel("training loss (half MSE)")
    ax2.set_xlabel("step (full-batch GD)")
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig


def _floats(s):
    return [float(v) for v in s.split(",") if v]


def _ints(s):
    return [int(v) for v in s.split(",") if v]


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--etas", type=_floats, default=[0.025, 0.05, 0.2], help="float learning rates")
    p.add_argument("--steps", type=_ints, default=[6000, 3000, 500], help="steps per float η (same order)")
    p.add_argument("--fixed-etas", type=_floats, default=[0.05, 0.2], help="fixed-point learning rates")
    p.add_argument("--fixed-steps", type=_ints, default=[3000, 500], help="steps per fixed-point η")
    p.add_argument(
        "--arithmetics",
        default=",".join(a for a in ARITHMETICS if a != "float32"),
        help=f"fixed-point arithmetics, comma-separated, of: {', '.join(ARITHMETICS)}",
    )
    p.add_argument("--every", type=int, default=25, help="steps between λ_max estimates")
    p.add_argument("--iters", type=int, default=20, help="Lanczos steps per estimate at most")
    p.add_argument("--out", type=Path, default=None, help="directory for the figures")
    p.add_argument("--json", type=Path, default=None, help="write the table's numbers here")
    a = p.parse_args(argv)
    for xs, ys, what in ((a.etas, a.steps, "--steps"), (a.fixed_etas, a.fixed_steps, "--fixed-steps")):
        if len(xs) != len(ys):
            p.error(f"{what} needs one step count per η: {len(xs)} η, {len(ys)} counts")
    ariths = [s.strip() for s in a.arithmetics.split(",") if s.strip()]
    bad = [s for s in ariths if s not in ARITHMETICS]
    if bad:
        p.error(f"unknown arithmetic(s) {bad}; valid: {', '.join(ARITHMETICS)}")
    data = digits_1000()
    t0 = time.perf_counter()
    results = []
    for eta, n in zip(a.etas, a.steps):
        results.append(run(eta, n, "float32", every=a.every, iters=a.iters, data=data))
        print(f"float32 η={eta:g}: {results[-1]['verdict']} ({results[-1]['seconds']:.1f} s)", flush=True)
    for eta, n in zip(a.fixed_etas, a.fixed_steps):
        for ar in ariths:
            results.append(run(eta, n, ar, every=a.every, iters=a.iters, data=data))
            print(f"{ar} η={eta:g}: {results[-1]['verdict']} ({results[-1]['seconds']:.1f} s)", flush=True)
    print()
    print(table(results))
    est = [r["hessian"] for r in results]
    n_est = sum(e["estimates"] for e in est)
    print(
        f"\nλ_max estimates: {n_est}, {sum(e['seconds'] for e in est) / n_est * 1e3:.0f} ms and "
        f"{sum(e['hvps'] for e in est) / n_est:.1f} HVPs each on average ({est[0]['n_params']} parameters, "
        f"{est[0]['n_samples']} samples); total wall time {time.perf_counter() - t0:.0f} s"
    )
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        fl = [r for r in results if r["arithmetic"] == "float32"]
        if fl:
            plot(fl, a.out / "eos_float.png", "float32: sharpness against 2/η")
        for eta in a.fixed_etas:
            rs = [r for r in results if r["eta"] == eta]
            if rs:
                plot(rs, a.out / f"eos_fixed_eta{eta:g}.png", f"η = {eta:g}: float32 vs fixed point")
    if a.json is not None:
        keep = (
            "eta",
            "arithmetic",
            "verdict",
            "ratio_median",
            "lam_median",
            "first_in_band",
            "settled_at",
            "band_range",
            "update_ratio",
            "status",
            "seconds",
            "hessian",
        )
        a.json.write_text(
            json.dumps(
                [
                    {
                        **{k: r[k] for k in keep},
                        "lam": r["lam"].tolist(),
                        "est_steps": r["steps"].tolist(),
                        "loss_first": float(r["loss"][0]),
                        "loss_last": float(r["loss"][-1]),
                        "n_steps": len(r["loss"]),
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return results


if __name__ == "__main__":
    main()
