"""``kappa report``: synthesis reports as a table, JSON or a plot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ...safety import strict_json
from ..exit_status import MISMATCH, SUCCESS, UsageError
from .project_args import is_rtl_project

SUMMARY = "synthesis reports: Vivado/Vitis HLS, Vitis Unified, vivado_synth.rpt, co-simulation"
DESCRIPTION = ("Read synthesis reports from hls4ml projects, Vivado/Vitis HLS projects (with or without "
               "project.tcl), Vitis Unified components, or folders of loose report files (<top>_csynth.rpt/.xml, "
               "vivado_synth.rpt, <top>_cosim.rpt). Every solution and top is reported; files the set lacks are "
               "listed as missing, values two files give differently as warnings.")
EPILOG = ("examples:\n  kappa report vivado_projects/digits\n"
          "  kappa report tests/fixtures/reports/vivado-hls-old-project-tcl-axi --json\n"
          "  kappa report prj --solution solution2 --strict\n"
          "  kappa report prj_a prj_b --plot cmp.png\n\n"
          "exit status: 0 ok (a failed co-simulation or over-utilisation is a warning); 1 with --strict when files "
          "disagree, a co-simulation failed or a resource is over 100 %; 2 not a report set, or a "
          "missing, truncated or malformed file")


def add_arguments(p) -> None:
    """The options of ``kappa report``."""
    p.add_argument("paths", nargs="+", metavar="PATH", help="project, component or report folder")
    p.add_argument("--solution", help="only this solution (default: every solution)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per solution and top, "
                                                        "naming the file each value came from")
    p.add_argument("--plot", metavar="PNG", help="also plot resources and latency to PNG")
    p.add_argument("--x", choices=("weight_bits", "name"), default="weight_bits",
                   help="x axis of the plot (default: weight_bits from manifest.json, else names)")
    p.add_argument("--strict", action="store_true", help="exit 1 when two files give a value differently, a "
                                                          "co-simulation failed or a resource is over 100 %%")


def check_plot_path(path: str) -> None:
    """Refuse a plot path that cannot be written: a missing or non-writable folder, a
    directory, or a suffix matplotlib cannot write (names the path and the valid suffixes).

    Raises:
        UsageError.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    p = Path(path)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = p.suffix.lower().lstrip(".")
    if p.is_dir():
        raise UsageError(f"--plot {path!r} is a directory; give a file name such as {str(p / 'reports.png')!r}")
    if suffix not in formats:
        raise UsageError(f"--plot {path!r}: unknown image suffix {p.suffix!r}; "
                         f"valid: {', '.join('.' + f for f in formats)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--plot {path!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--plot {path!r}: folder {str(parent)!r} is not writable")


def run(args) -> int:
    """Print the reports of ``args.paths``; MISMATCH with ``--strict`` when files disagree.

    Raises:
        UsageError: a bad ``--plot`` path. hls.vendor.reports.ReportError: not a report set,
            or a missing, truncated or malformed file.
    """
    from hls.vendor.reports import format_table, plot_reports, read_reports

    rtl = [p for p in args.paths if is_rtl_project(p)]
    if args.plot:  # before any output: a bad path is not found after the table
        check_plot_path(args.plot)
        if rtl:
            raise UsageError(f"--plot draws HLS report sets; {rtl[0]} is an RTL project (its figures are in "
                             "report.json under 'rtl')")
    reports = [r for p in args.paths if p not in rtl for r in read_reports(p, solution=args.solution)]
    rtl_secs = {p: _rtl_section(p) for p in rtl}
    if args.json:
        print(strict_json([r.to_dict() for r in reports] + [{"path": p, "rtl": s} for p, s in rtl_secs.items()],
                          indent=2, default=str))
    else:
        if reports:
            print(format_table(reports))
        for p, sec in rtl_secs.items():
            print(_rtl_table(Path(p).name, sec))
    if args.plot:
        print(f"wrote {Path(plot_reports(reports, x=args.x, path=Path(args.plot))).resolve()}", file=sys.stderr)
    problems = design_problems(reports)
    for p in problems:
        print(f"{'error' if args.strict else 'warning'}: {p}", file=sys.stderr)
    disagree = [f"{r.name}: {d}" for r in reports for d in r.disagreements]
    if disagree and args.strict:
        for d in disagree:
            print(f"error: files disagree: {d}", file=sys.stderr)
    return MISMATCH if args.strict and (disagree or problems) else SUCCESS


def design_problems(reports) -> list[str]:
    """What makes a reported design unusable: a failed C/RTL co-simulation, and any resource
    over 100 % of the part (HLS estimate or Vivado synthesis); one sentence each, naming the
    report, the resource and the figure."""
    out = []
    for r in reports:
        if r.cosim is not None and str(r.cosim.status).strip().lower() != "pass":
            out.append(f"{r.name}: C/RTL co-simulation ({r.cosim.rtl}) reports {r.cosim.status!r}")
        for where, res in (("HLS estimate", r.resources), ("Vivado synthesis", r.post_synth)):
            for k, v in (res or {}).items():
                if v is not None and v.percent is not None and v.percent > 100:
                    out.append(f"{r.name}: {k} {v.used} of {v.available} ({v.percent:.0f} % of the part, "
                               f"{where}): the design does not fit")
    return out


def _rtl_section(path: str) -> dict:
    from hls.rtl.report import read_rtl_report

    return read_rtl_report(path)


def _rtl_table(name: str, sec: dict) -> str:
    """An RTL project's figures in the same bordered layout as the HLS table."""
    from hls.rtl.report import LABEL, rtl_table_rows

    rows = rtl_table_rows(name, sec)
    w0, w1 = max(len(a) for a, _ in rows), max(len(b) for _, b in rows)
    line = f"+-{'-' * w0}-+-{'-' * w1}-+"
    body = [f"| {a:<{w0}} | {b:<{w1}} |" for a, b in rows]
    return "\n".join([line, body[0], line, *body[1:], line, f"note: resources are an {LABEL}"])
