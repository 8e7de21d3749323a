"""Precision sweeps on ``dask.distributed``: every point of a sweep file (:mod:`hls.sweep.spec`)
through the main job (train -> convert -> C-simulate -> compare), one Dask task per point.

:func:`run` executes the points on a ``LocalCluster`` sized to the machine, or on any running
cluster by address. Each point runs in ``DIR/points/<id>/`` (:mod:`hls.sweep.point`) and writes
its ``result.json`` there atomically, so a rerun skips points already done and a point retried
after a lost worker overwrites only its own folder. The tables, plot and report come from
:mod:`hls.sweep.report`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..safety import write_atomic
from .lock import acquire, release
from .spec import MANIFEST, MAX_POINTS, Point, Sweep, SweepError, check_output, load_sweep

POINTS_DIR = "points"
RESULT = "result.json"
# Environment of the worker processes this module starts: TensorFlow quiet and on one thread
# (one point per worker process, one worker per core).
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": "1",
              "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


@dataclass
class SweepResult:
    """What :func:`run` did.

    Attributes:
        output: the output directory. rows: one dict per point (the ``results.csv`` rows).
        ran: points executed in this run. skipped: points read back from an earlier run.
        wall_seconds: wall-clock time of the run (s). workers: Dask workers used (0 if none).
    """

    output: Path
    rows: list
    ran: int
    skipped: int
    wall_seconds: float
    workers: int = 0
    files: dict = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Points that did not end bit-exact (failed, diverged or mismatching)."""
        return sum(r["status"] != "ok" for r in self.rows)


# ----------------------------------------------------------------------------- execution


def default_workers() -> int:
    """Worker processes for a LocalCluster: one per core this process may use, at most one
    per 2 GiB of memory (a TensorFlow worker holds about 1 GiB)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        from distributed.system import MEMORY_LIMIT

        return max(1, min(cores, int(MEMORY_LIMIT // 2**31)))
    except ImportError:
        return max(1, cores)


def run(sweep: Sweep | str | Path, output: str | Path, *, workers: int | None = None, scheduler: str | None = None,
        force: bool = False, progress: bool = True, retries: int = 2, connect_timeout: float = 30,
        max_points: int = MAX_POINTS) -> SweepResult:
    """Run every point of a sweep on Dask and write ``results.csv``, ``results.parquet``,
    ``pareto.png`` and ``report.md`` into ``output``.

    Args:
        sweep: a :class:`Sweep` or the path of a sweep file.
        output: the sweep directory (``DIR``); point ``i`` runs in ``DIR/points/<id>/``.
        workers: processes of the LocalCluster started here (default :func:`default_workers`,
            at most one per point to run); each has one thread.
        scheduler: address of a running Dask scheduler (``tcp://host:port``) instead of a
            LocalCluster; its workers must import ``hls`` and see ``output`` (shared filesystem).
        force: rerun points that already have a result.
        progress: a progress bar over points (stderr), shown only when stderr is a terminal.
        retries: Dask ``retries`` of a point whose task raised outside the job (a point's
            own errors are recorded, not raised); a point whose worker died is rescheduled
            by the scheduler (``distributed.scheduler.allowed-failures``).
        connect_timeout: seconds to wait for ``scheduler``.
        max_points: refuse a sweep file with more points (:func:`hls.sweep.spec.load_sweep`).

    The sweep holds a lock on ``output`` while it runs (:mod:`hls.sweep.lock`), and every
    point folder that already exists must be a real directory inside ``output`` (no symbolic
    link), checked before any cluster starts.

    Returns:
        :class:`SweepResult`. Points that already have a ``result.json`` (status other than
        ``failed``) are read back, not rerun, unless ``force``.

    Raises:
        SweepError: invalid sweep file or output directory (nothing written), another sweep
            running on ``output``, a point folder that is a link or leads outside, ``workers``
            and ``scheduler`` both given, ``workers < 1``, or a scheduler that cannot be
            reached (checked before anything is written).
        hls.vendor.synth.VendorToolNotFoundError: ``synth: true`` without the vendor tools.
    """
    from . import report as sweep_report
    from .point import run_point

    t0 = time.perf_counter()
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep, max_points=max_points)
    if workers is not None and scheduler is not None:
        raise SweepError("give either workers (a LocalCluster) or scheduler (an existing cluster), not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers must be a positive integer, got {workers!r}")
    if scheduler is not None and not str(scheduler).startswith(("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")):
        raise SweepError(f"scheduler {scheduler!r} is not an address such as tcp://host:8786")
    out = check_output(sweep, output)
    if sweep.synth:
        from ..vendor.synth import require_tools

        backends = {p.config.get("hls", {}).get("backend", "Vitis") for p in sweep.points}
        for b in sorted(backends):
            require_tools(b)

    _check_point_dirs(out, sweep)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    client = cluster = lock = None
    n_workers = 0
    try:
        lock = acquire(out)
        todo = [p for p in sweep.points if force or not _done(out, p)]
        if todo:  # connect before writing anything else: an unreachable scheduler leaves no trace
            client, cluster = _connect(workers, scheduler, len(todo), connect_timeout)
        (out / POINTS_DIR).mkdir(parents=True, exist_ok=True)
        man = out / MANIFEST
        if not man.exists():
            write_atomic(man, json.dumps(sweep.manifest(), indent=1, default=str) + "\n")
        if todo:
            n_workers = _execute(client, sweep, out, todo, run_point, progress=progress, retries=retries)
        rows = [sweep_report.row(_read_result(out, p), sweep.keys) for p in sweep.points]
        files = sweep_report.write_all(out, rows, sweep)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        if lock is not None:
            release(lock)
        if created and not any(out.iterdir()):
            out.rmdir()
    return SweepResult(out, rows, ran=len(todo), skipped=len(sweep.points) - len(todo),
                       wall_seconds=time.perf_counter() - t0, workers=n_workers, files=files)


def _check_point_dirs(out: Path, sweep: Sweep) -> None:
    """Every existing ``points``/``points/<id>`` folder is a real directory inside ``out``.

    Raises:
        SweepError: naming the first that is a symbolic link or not a directory.
    """
    from ..safety import check_owned_dir

    dirs = [out / POINTS_DIR] + [out / POINTS_DIR / p.id for p in sweep.points]
    for d in dirs:
        if d.exists() or d.is_symlink():
            try:
                check_owned_dir(d, out)
            except FileExistsError as exc:
                raise SweepError(f"{exc}; nothing was run") from None


def _done(out: Path, p: Point) -> bool:
    path = out / POINTS_DIR / p.id / RESULT
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("status") != "failed"
    except (OSError, json.JSONDecodeError):
        return False


def _read_result(out: Path, p: Point) -> dict:
    path = out / POINTS_DIR / p.id / RESULT
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"id": p.id, "values": p.values, "status": "failed",
                "error": f"no readable {path.relative_to(out)} ({type(exc).__name__}); is the output directory "
                         f"shared with the workers?"}


def _connect(workers, scheduler, n_todo: int, timeout: float):
    """A Client on a new LocalCluster (``workers`` processes, at most ``n_todo``) or on the
    scheduler at ``scheduler``. Returns ``(client, cluster or None)``.

    Raises:
        SweepError: the scheduler cannot be reached within ``timeout`` seconds.
    """
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=f"{timeout}s"), None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
                             f"is it running (dask scheduler) and reachable from here?") from None
    n = min(workers or default_workers(), n_todo)
    # The workers import this same ``hls`` package (a source checkout need not be installed).
    pkg_root = str(Path(__file__).resolve().parents[2])
    from ..quiet import VERBOSE_ENV, verbose

    env = {**WORKER_ENV, VERBOSE_ENV: "1" if verbose() else "0",
           "PYTHONPATH": os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH")) if p)}
    if verbose():  # -v: the workers' TensorFlow logs too
        env.pop("TF_CPP_MIN_LOG_LEVEL")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR, env=env)
    return Client(cluster), cluster


def _execute(client, sweep: Sweep, out: Path, todo: list, run_point, *, progress, retries) -> int:
    """Submit ``todo`` and wait for every point; returns the number of workers seen."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    n_workers = len(client.scheduler_info().get("workers", {}))
    futures = {}
    for p in todo:
        fut = client.submit(run_point, p.config, str(out / POINTS_DIR / p.id), sweep.synth, p.id, p.values, str(out),
                            key=f"kappa-point-{p.id}", pure=False, retries=retries)
        futures[fut] = p
    bad = 0
    with tqdm(total=len(todo), desc="sweep points", unit="point", disable=None if progress else True) as bar:
        for fut in as_completed(futures):
            p = futures[fut]
            try:
                status = fut.result()["status"]
            except Exception as exc:  # the task itself failed (e.g. every worker it ran on died)
                status = "failed"
                _record_failure(out, p, f"{type(exc).__name__}: {exc}")
            bad += status != "ok"
            bar.update(1)
            bar.set_postfix(not_ok=bad, refresh=False)
    return max(n_workers, len(client.scheduler_info().get("workers", {})))


def _record_failure(out: Path, p: Point, error: str) -> None:
    from ..safety import check_owned_dir

    d = out / POINTS_DIR / p.id
    if not (d.exists() or d.is_symlink()):
        d.mkdir(parents=True)
    try:
        check_owned_dir(d, out)
    except FileExistsError:
        return  # not kappa's folder (replaced meanwhile): write nothing there
    write_atomic(d / RESULT, json.dumps({"id": p.id, "values": p.values, "status": "failed", "error": error},
                                         indent=1) + "\n")
