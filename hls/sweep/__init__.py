"""Precision sweeps: a sweep file's grid of job configs, each point through the main job on
Dask, and the results table, plot and report.

Owns: :mod:`.spec` (sweep files, validation, point ids, the output directory's identity),
:mod:`.point` (one point on a worker and its figures), :mod:`.run` (the Dask execution),
:mod:`.report` (``results.csv``/``.parquet``, ``pareto.png``, ``report.md``).
May import: :mod:`hls.jobs` (the job and its schema), :mod:`hls.vendor` (synthesis figures),
:mod:`hls.safety`; never :mod:`hls.cli`.
"""

from .run import WORKER_ENV, SweepResult, default_workers, run
from .spec import Point, Sweep, SweepError, check_output, load_sweep, point_id

__all__ = ["run", "load_sweep", "check_output", "point_id", "Sweep", "Point", "SweepResult", "SweepError",
           "default_workers", "WORKER_ENV"]
