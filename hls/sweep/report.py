"""A sweep's results: one row per point -> ``results.csv``, ``results.parquet``, a Pareto plot
(``pareto.png``) and ``report.md``.

Columns (``COLUMNS``; metric and synthesis columns only when some point has them):
``id``, one column per swept key, ``status`` (``ok`` = bit-exact, ``mismatch``, ``diverged``,
``failed``), ``error`` (first line), ``mismatches``, ``outputs`` (values compared),
``float_accuracy``/``firmware_accuracy`` (classification, fraction of the test split) or
``float_rmse``/``firmware_rmse`` (regression, target units), ``diverged``, ``stalled``,
``total_weight_bits`` (bits), ``bops_proxy`` (bit operations, see
:func:`hls.sweep.point.estimate_bops`), ``wall_seconds`` (s), and when synthesised
``latency_cycles``, ``ii_cycles``, ``dsp``, ``lut``, ``ff``, ``bram_18k`` (HLS estimates); for
RTL points (``rtl: true``) ``rtl_lut``, ``rtl_ff``, ``rtl_carry``, ``rtl_dsp`` (Yosys, an
open-source mapping), ``rtl_estimate_lut``, ``rtl_estimate_ff`` (da4ml) and
``rtl_latency_cycles``. The Pareto front is taken over Yosys LUTs when every point has them,
else over the BOPs proxy.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..safety import write_atomic

METRICS = ("float_accuracy", "firmware_accuracy", "float_rmse", "firmware_rmse")
SYNTH = ("latency_cycles", "ii_cycles", "dsp", "lut", "ff", "bram_18k")
RTL = ("rtl_lut", "rtl_ff", "rtl_carry", "rtl_dsp", "rtl_estimate_lut", "rtl_estimate_ff", "rtl_latency_cycles")
COLUMNS = ("status", "error", "mismatches", "outputs", *METRICS, "diverged", "stalled", "total_weight_bits",
           "bops_proxy", "wall_seconds", *SYNTH, *RTL)
_OPTIONAL = set(METRICS) | set(SYNTH) | set(RTL)


def cost_axis(rows: list) -> str:
    """The Pareto cost: ``rtl_lut`` (Yosys LUTs) when every point with a firmware figure has
    it, else ``bops_proxy``."""
    priced = [r for r in rows if r.get("status") in ("ok", "mismatch")]
    return "rtl_lut" if priced and all(_num(r.get("rtl_lut")) for r in priced) else "bops_proxy"


def row(result: dict, keys: list) -> dict:
    """One table row from a point's ``result.json`` dict; swept values that are not scalars
    (lists, mappings) become JSON strings."""
    values = result.get("values") or {}
    r = {"id": result.get("id", "")}
    for k in keys:
        v = values.get(k)
        r[k] = v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v)
    for c in COLUMNS:
        r[c] = result.get(c)
    r["error"] = (r["error"] or "").strip().splitlines()[0][:300] if r["error"] else ""
    if r["diverged"] is None:
        r["diverged"] = result.get("status") == "diverged"
    return r


def columns(rows: list, keys: list) -> list:
    """``id``, the swept keys, then ``COLUMNS`` less the optional ones no row has."""
    return ["id", *keys, *(c for c in COLUMNS if c not in _OPTIONAL or any(r.get(c) is not None for r in rows))]


def write_csv(path: Path, rows: list, cols: list) -> Path:
    """``results.csv``: empty cells for missing values, floats with repr precision."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in cols})
    write_atomic(path, buf.getvalue())
    return path


def write_parquet(path: Path, rows: list, cols: list) -> Path | None:
    """``results.parquet`` via pyarrow (None when pyarrow is not installed); a column whose
    values pyarrow cannot type together is written as strings."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    arrays = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        try:
            arrays[c] = pa.array(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[c] = pa.array([None if v is None else str(v) for v in vals])
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(arrays), tmp)
    tmp.replace(path)
    return path


def pareto_front(rows: list, x: str, y: str, maximize: bool = True) -> list:
    """Ids of the bit-exact points not dominated in (lower ``x``, better ``y``)."""
    pts = [r for r in rows if r["status"] == "ok" and _num(r.get(x)) and _num(r.get(y))]
    sign = 1 if maximize else -1
    front = []
    for r in pts:
        dominated = any(o is not r and o[x] <= r[x] and sign * o[y] >= sign * r[y]
                        and (o[x] < r[x] or sign * o[y] > sign * r[y]) for o in pts)
        if not dominated:
            front.append(r["id"])
    return front


def _log_axis(axis) -> None:
    """A log scale whose ticks are labelled in any span: ticks at 1, 2 and 5 per decade (and
    between them in spans under a decade), engineering labels (``200k``, ``1.5M``). Matplotlib's
    default labels only powers of ten, so points between 1e5 and 1e6 had no label at all."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    axis.axes.set_xscale("log") if axis is axis.axes.xaxis else axis.axes.set_yscale("log")
    lo, hi = axis.get_data_interval()
    subs = (1.0, 2.0, 5.0) if hi / lo >= 10 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(EngFormatter(sep=""))
    axis.set_minor_formatter(NullFormatter())


def plot_pareto(path: Path, rows: list, keys: list) -> Path | None:
    """Firmware accuracy (or RMSE) vs the BOPs proxy, and vs each synthesis resource present.
    Bit-exact points are dots (the Pareto front joined by a line); points that are not
    bit-exact are red crosses; diverged or failed points have no firmware figure and are
    listed in the title. Returns None when no point has a firmware figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, maximize = _metric(rows)
    if y is None:
        return None
    xs = [("rtl_lut", "LUTs (Yosys synth_xilinx: open-source mapping, not Vivado)")] \
        if cost_axis(rows) == "rtl_lut" else [("bops_proxy", "estimated multiplier cost (BOPs proxy)")]
    xs += [(c, f"{c.upper()} (HLS estimate)") for c in ("lut", "dsp", "ff") if any(_num(r.get(c)) for r in rows)]
    fig, axes = plt.subplots(1, len(xs), figsize=(6.2 * len(xs), 4.6), squeeze=False)
    missing = [r for r in rows if not _num(r.get(y))]
    label_keys = _label_keys(rows, keys)
    for ax, (x, label) in zip(axes[0], xs):
        ok = [r for r in rows if r["status"] == "ok" and _num(r.get(x)) and _num(r.get(y))]
        bad = [r for r in rows if r["status"] != "ok" and _num(r.get(x)) and _num(r.get(y))]
        ax.scatter([r[x] for r in ok], [r[y] for r in ok], s=36, color="C0", label="bit-exact", zorder=3)
        if bad:
            ax.scatter([r[x] for r in bad], [r[y] for r in bad], s=64, marker="x", color="red",
                       label="NOT bit-exact", zorder=4)
        front = set(pareto_front(rows, x, y, maximize))
        fr = sorted((r for r in ok if r["id"] in front), key=lambda r: r[x])
        if fr:
            ax.plot([r[x] for r in fr], [r[y] for r in fr], "-", color="C1", label="Pareto front", zorder=2)
        for r in fr:
            ax.annotate(_short(r, label_keys), (r[x], r[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        if len({r[x] for r in ok + bad}) > 1 and min(r[x] for r in ok + bad) > 0:
            _log_axis(ax.xaxis)
        ax.set_xlabel(label)
        ax.set_ylabel(y.replace("_", " ") + ("" if maximize else " (lower is better)"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    title = f"{len(rows)} points; front labelled by {', '.join(label_keys)}"
    if missing:
        title += f"; without a firmware figure (diverged/failed): {len(missing)}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def markdown_table(rows: list, cols: list, front: set | None = None) -> str:
    """The results as a Markdown table; ``front`` ids get a ★ in a ``pareto`` column."""
    front = front or set()
    show = [c for c in cols if c != "error"] + ["error"]
    lines = ["| " + " | ".join(show) + " | pareto |", "|" + "---|" * (len(show) + 1)]
    for r in rows:
        cells = [_fmt(r.get(c)) for c in show]
        lines.append("| " + " | ".join(cells) + f" | {'★' if r['id'] in front else ''} |")
    return "\n".join(lines) + "\n"


def write_all(out: Path, rows: list, sweep) -> dict:
    """Write ``results.csv``, ``results.parquet``, ``pareto.png`` and ``report.md`` into ``out``.

    Returns:
        ``{"csv": path, "parquet": path or None, "plot": path or None, "report": path}``.
    """
    cols = columns(rows, sweep.keys)
    files = {"csv": write_csv(out / "results.csv", rows, cols), "parquet": write_parquet(out / "results.parquet", rows, cols)}
    files["plot"] = plot_pareto(out / "pareto.png", rows, sweep.keys)
    y, maximize = _metric(rows)
    cost = cost_axis(rows)
    front = set(pareto_front(rows, cost, y, maximize)) if y else set()
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "mismatch", "diverged", "failed")}
    md = [
        f"# Sweep: {sweep.path.name}",
        "",
        f"Base config `{sweep.base.name}`, {len(rows)} points over {', '.join(f'`{k}`' for k in sweep.keys)}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + ".",
        "",
        "`ok` means C simulation and the Python quantized forward path agree bit for bit on every "
        "output; `bops_proxy` is an estimate of multiplier cost (Σ n_in·n_out·input bits·weight bits "
        "over Dense layers), not a synthesis result.",
        "",
    ]
    if cost == "rtl_lut":
        md[-1:] = ["", "Cost axis: `rtl_lut`, the LUTs Yosys maps the da4ml design to (`synth_xilinx`; an "
                   "open-source mapping, not Vivado's, see docs/rtl.md); `ok` means Verilator and Python agree.", ""]
    if files["plot"]:
        md += ["![Pareto plot](pareto.png)", ""]
    md += [markdown_table(rows, cols, front)]
    path = out / "report.md"
    write_atomic(path, "\n".join(md))
    files["report"] = path
    return files


def _metric(rows: list) -> tuple[str | None, bool]:
    if any(_num(r.get("firmware_accuracy")) for r in rows):
        return "firmware_accuracy", True
    if any(_num(r.get("firmware_rmse")) for r in rows):
        return "firmware_rmse", False
    return None, True


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


def _short_value(v) -> str:
    import re

    m = re.match(r"ap_u?fixed<(\d+),(-?\d+)", str(v))
    return f"<{m.group(1)},{m.group(2)}>" if m else str(v)


def _label_keys(rows: list, keys: list) -> list:
    """Swept keys worth a point label: a key whose short values repeat an earlier key's on
    every row (zipped weight/bias/update types) is left out."""
    out = []
    for k in keys:
        col = [_short_value(r.get(k)) for r in rows]
        if not any(col == [_short_value(r.get(o)) for r in rows] for o in out):
            out.append(k)
    return out


def _short(r: dict, keys: list) -> str:
    return " ".join(_short_value(r.get(k)) for k in keys)
