#!/usr/bin/env python3
"""Run a precision sweep: every point of a sweep file through the main job (train in fixed
point -> hls4ml project -> C simulation -> bit-exact comparison) on Dask.

Writes DIR/points/<id>/ (one project per point), DIR/results.csv (+ .parquet), DIR/pareto.png
and DIR/report.md. A rerun skips points already done; --force reruns them. Exit code 0 when
every point is bit-exact, 1 when some point failed, diverged or mismatched, 2 on bad input.

Examples:
    python scripts/sweep.py configs/sweep_digits_bits.yaml --output sweeps/digits_bits
    python scripts/sweep.py configs/sweep_digits_bits.yaml --output sweeps/digits_bits --workers 1
    python scripts/sweep.py my_sweep.yaml --output /scratch/me/sweep --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", help="sweep file (YAML: base, overrides, grid, zip, synth)")
    ap.add_argument("--output", required=True, help="sweep directory (created; a rerun resumes it)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    ap.add_argument("--force", action="store_true", help="rerun points that already have a result")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from hls.sweep import SweepError, run
    from hls.synth import VendorToolNotFoundError

    try:
        res = run(args.sweep, args.output, workers=args.workers, scheduler=args.scheduler, force=args.force,
                  progress=not args.quiet)
    except (SweepError, VendorToolNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = {}
    for r in res.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"{len(res.rows)} points ({res.ran} run, {res.skipped} read back) in {res.wall_seconds:.1f} s: "
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"results: {res.files['csv']}  report: {res.files['report']}")
    for r in res.rows:
        if r["status"] != "ok":
            print(f"  {r['id']} {r['status']}: {r['error']}")
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
