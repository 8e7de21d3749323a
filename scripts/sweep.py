#!/usr/bin/env python3
"""Run a precision sweep: every point of a sweep file through the main job (train in fixed
point -> hls4ml project -> C simulation -> bit-exact comparison) on Dask. Same as `kappa sweep`.

Writes DIR/points/<id>/ (one project per point), DIR/results.csv (+ .parquet), DIR/pareto.png
and DIR/report.md. A rerun skips points already done; --force reruns them. Exit code 0 when
every point is bit-exact, 1 when some point failed, diverged or mismatched, 2 on bad input.

Examples:
    python scripts/sweep.py configs/sweep_digits_bits.yaml --output sweeps/digits_bits
    python scripts/sweep.py configs/sweep_digits_bits.yaml --output sweeps/digits_bits --workers 1
    python scripts/sweep.py my_sweep.yaml --output /scratch/me/sweep --scheduler tcp://10.0.0.5:8786
"""

import sys

from hls.cli import main as kappa


def main(argv=None) -> int:
    """``kappa sweep ARGV``: returns the exit status."""
    return kappa(["sweep", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
