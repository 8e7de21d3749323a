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

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    """``hls.sweep.main``: returns the exit status."""
    from hls.sweep import main as sweep_main

    return sweep_main(argv, prog="sweep.py")


if __name__ == "__main__":
    sys.exit(main())
