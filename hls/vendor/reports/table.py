"""Presenting reports: a Markdown table and a plot of several reports side by side."""

from __future__ import annotations

from pathlib import Path

from .records import RESOURCES, Resource, SynthesisReport


def _fmt_res(r: Resource | None) -> str:
    if r is None:
        return "-"
    pct = "n/a" if r.percent is None else f"{r.percent:.1f}%"
    return f"{r.used} / {r.available} ({pct})"


def _fmt_cycles(cycles, ns_) -> str:
    if cycles is None:
        return "undef"
    return f"{cycles} cycles" + ("" if ns_ is None else f" ({ns_:.1f} ns)")


def _fmt_ns(x) -> str:
    return "-" if x is None else f"{x:.3f} ns"


def _fmt_range(lo, avg, hi) -> str:
    if lo is None and hi is None:
        return "NA"
    if lo == hi:
        return f"{lo} cycles"
    return f"{lo} - {hi} cycles" + ("" if avg is None else f" (avg {avg})")


def _rows(r: SynthesisReport) -> list[tuple[str, str]]:
    rows = []
    if r.solution is not None:
        rows.append(("Solution", r.solution))
    top = r.top + {True: " (synthesised top)", False: " (not the synthesised top)", None: ""}[r.synthesised_top]
    rows.append(("Top", top))
    if r.tool_version:  # only when a C-synthesis report was read
        rows.append(("Tool", f"{r.tool} {r.tool_version}"))
    rows.append(("Part", r.part or "-"))
    if r.resources is not None:
        ii = "undef" if r.interval_min_cycles is None else f"{r.interval_min_cycles}"
        if r.interval_max_cycles != r.interval_min_cycles:
            ii += f" - {'undef' if r.interval_max_cycles is None else r.interval_max_cycles}"
        rows += [
            ("Target clock", _fmt_ns(r.target_clock_ns)),
            ("Clock uncertainty", _fmt_ns(r.clock_uncertainty_ns)),
            ("Estimated clock", _fmt_ns(r.estimated_clock_ns)),
            ("Latency (best)", _fmt_cycles(r.latency_best_cycles, r.latency_best_ns)),
            ("Latency (worst)", _fmt_cycles(r.latency_worst_cycles, r.latency_worst_ns)),
            ("Interval (II)", f"{ii} cycles"),
        ]
    if r.total_weight_bits is not None:
        rows.append(("Total weight bits", str(r.total_weight_bits)))
    if r.resources is not None:
        rows += [(f"HLS {k}", _fmt_res(r.resources.get(k))) for k in RESOURCES if k in r.resources]
    post = r.post_synth or {}
    if r.post_synth_tool:
        rows.append(("Vivado synth tool", r.post_synth_tool))
    rows += [(f"Vivado synth {k}", _fmt_res(post[k])) for k in RESOURCES if k in post]
    if r.cosim is not None:
        c = r.cosim
        rows.append(("Co-sim", f"{c.status} ({c.rtl})"))
        rows.append(("Co-sim latency", _fmt_range(c.latency_min_cycles, c.latency_avg_cycles, c.latency_max_cycles)))
        rows.append(("Co-sim II", _fmt_range(c.interval_min_cycles, c.interval_avg_cycles, c.interval_max_cycles)))
    return rows


def format_table(reports) -> str:
    """Return a plain-text table of one or several :class:`SynthesisReport`.

    One report gives a two-column table (quantity, value); several give one column per
    report, side by side, with the union of their rows.  Latency is shown in cycles and in ns
    as the report gives it; resources as ``used / available (percent)``.  Below the table:
    one ``warning:`` line per disagreement between files, then ``missing:`` and ``note:`` lines.
    """
    if isinstance(reports, SynthesisReport):
        reports = [reports]
    reports = list(reports)
    if not reports:
        raise ValueError("format_table needs at least one report")
    per = [dict(_rows(r)) for r in reports]
    labels = []
    for r in reports:
        labels += [k for k, _ in _rows(r) if k not in labels]
    header = ["Project"] + [r.name for r in reports]
    body = [[k] + [p.get(k, "-") for p in per] for k in labels]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    out = [line, fmt(header), line] + [fmt(row) for row in body] + [line]
    shared = [n for n in reports[0].notes if all(n in r.notes for r in reports)] if len(reports) > 1 else []
    for r in reports:
        who = f"{r.name}: " if len(reports) > 1 else ""
        out += [f"warning: {who}files disagree: {d}" for d in r.disagreements]
        out += [f"warning: {who}{w}" for w in r.warnings]
        if r.missing:
            out.append(f"missing: {who}{'; '.join(r.missing)}")
        out += [f"note: {who}{n}" for n in r.notes if n not in shared]
    out += [f"note: {n}" for n in shared]
    return "\n".join(out)


def plot_reports(reports, x: str = "weight_bits", path="hls_reports.png") -> Path:
    """Plot resources (percent of the part) and latency/II (cycles) of several reports.

    ``x="weight_bits"`` puts ``total_weight_bits`` (from each project's manifest.json) on the
    x axis; if any report lacks it, falls back to ``x="name"`` (reports by name, in the given
    order).  Reports without a C-synthesis part are drawn as gaps.  Draws with matplotlib's
    Agg canvas directly (no pyplot, so no global backend change) and writes a PNG (or whatever
    ``path``'s suffix says).  Returns the written path.  Raises ValueError for an unknown
    ``x`` or an empty list.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(reports, SynthesisReport):
        reports = [reports]
    reports = list(reports)
    if x not in ("weight_bits", "name"):
        raise ValueError(f"x must be 'weight_bits' or 'name', not {x!r}")
    if not reports:
        raise ValueError("plot_reports needs at least one report")
    by_bits = x == "weight_bits" and all(r.total_weight_bits is not None for r in reports)
    if by_bits:
        reports = sorted(reports, key=lambda r: r.total_weight_bits)
        xs, xlabel = [r.total_weight_bits for r in reports], "total weight bits"
    else:
        xs, xlabel = list(range(len(reports))), "project"

    def val(y):
        return float("nan") if y is None else y

    # a series of one design (x = weight bits) is joined by lines; unrelated projects (x = name) are not
    join = "-" if by_bits else ""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_res, ax_lat = fig.subplots(1, 2)
    for k, colour in zip(("DSP", "LUT", "FF", "BRAM_18K"), ("C0", "C1", "C2", "C3")):
        ys = [r.resources[k].percent if r.resources and k in r.resources else None for r in reports]
        ax_res.plot(xs, [val(y) for y in ys], "o" + join, color=colour, label=f"{k} (HLS)")
        if any(r.post_synth and k in r.post_synth for r in reports):
            ys = [r.post_synth[k].percent if r.post_synth and k in r.post_synth else None for r in reports]
            ax_res.plot(xs, [val(y) for y in ys], "s" + ("--" if by_bits else ""), color=colour, mfc="none",
                        label=f"{k} (Vivado synth)")
    ax_res.set_ylabel("% of part")
    ax_res.set_title("Resources")
    for attr, style, label in (("latency_worst_cycles", "o", "latency (worst)"),
                               ("interval_max_cycles", "s", "II (max)")):
        ax_lat.plot(xs, [val(getattr(r, attr)) for r in reports], style + join, mfc="none" if style == "s" else None,
                    label=label)
    ax_lat.set_ylabel("clock cycles (log)")
    cycles = [getattr(r, a) for r in reports for a in ("latency_worst_cycles", "interval_max_cycles")]
    if any(c is not None and c > 0 for c in cycles):
        ax_lat.set_yscale("log")  # designs differ by orders of magnitude (a 12-cycle core, a 12,000-cycle one)
    ax_res.set_ylim(bottom=0)
    clocks = {r.target_clock_ns for r in reports if r.target_clock_ns is not None}
    ax_lat.set_title("Latency / interval" + (f" ({clocks.pop():g} ns target clock)" if len(clocks) == 1 else ""))
    for ax in (ax_res, ax_lat):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if not by_bits:
            ax.set_xticks(xs, [r.name for r in reports], rotation=20, ha="right")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
