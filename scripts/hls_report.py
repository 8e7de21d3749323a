#!/usr/bin/env python3
"""Show the synthesis results of one or more hls4ml projects.

    python scripts/hls_report.py vivado_projects/PROJECT [PROJECT ...] [--json] [--plot out.png]

Prints a table (one project: two columns; several: side by side), or JSON (a list with one
object per project) with --json.  --plot writes a PNG of resources and latency against each
project's total weight bits (from its manifest.json) or, failing that, its name.
Exits with status 2 and a one-line message if a project is not synthesised or a report is
missing, truncated or malformed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: find hls/

from hls.reports import ReportError, format_table, plot_reports, read_report  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("projects", nargs="+", metavar="PROJECT_DIR", help="hls4ml project directory")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--plot", metavar="PATH", help="also write a plot of resources and latency to PATH")
    ap.add_argument("--x", choices=("weight_bits", "name"), default="weight_bits",
                    help="x axis of the plot (default: weight_bits, falls back to name)")
    args = ap.parse_args(argv)
    try:
        if args.plot:
            check_plot_path(args.plot)  # before any output: a bad path is not found after the table
        reports = [read_report(p) for p in args.projects]
    except (ReportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print(format_table(reports))
    if args.plot:
        try:
            path = plot_reports(reports, x=args.x, path=args.plot)
        except (OSError, ValueError) as e:
            print(f"error: cannot write the plot {args.plot!r}: {e}", file=sys.stderr)
            return 2
        print(f"wrote {path}", file=sys.stderr)
    return 0


def check_plot_path(path: str) -> None:
    """Refuse a plot path that cannot be written: a missing or non-writable folder, a
    directory, or a suffix matplotlib cannot write (names the path and the valid suffixes).

    Raises:
        ValueError.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    p = Path(path)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = p.suffix.lower().lstrip(".")
    if p.is_dir():
        raise ValueError(f"--plot {path!r} is a directory; give a file name such as {str(p / 'reports.png')!r}")
    if suffix not in formats:
        raise ValueError(f"--plot {path!r}: unknown image suffix {p.suffix!r}; valid: {', '.join('.' + f for f in formats)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"--plot {path!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--plot {path!r}: folder {str(parent)!r} is not writable")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. `... --json | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
