"""``kappa sweep``: a precision sweep on Dask (train, convert and C-simulate a grid of configs)."""

from __future__ import annotations

from ..exit_status import MISMATCH, SUCCESS

SUMMARY = "a precision sweep on Dask: train, convert and C-simulate a grid of configs"
USES_TENSORFLOW = True
"""Imported quietly before :func:`run` (:func:`hls.quiet.import_tensorflow`)."""
DESCRIPTION = ("Every point of a sweep file through the main job (train -> convert -> C-simulate -> compare), "
               "one Dask task per point. Writes DIR/points/<id>/ (one project per point), DIR/results.csv "
               "(+ .parquet), DIR/pareto.png and DIR/report.md; a rerun skips points already done.")
EPILOG = ("examples:\n  kappa sweep sweep_digits_bits --output sweeps/digits_bits\n"
          "  kappa sweep sweep_digits_bits --output sweeps/digits_bits --workers 1\n"
          "  kappa sweep my_sweep.yaml --output /scratch/me/sweep --scheduler tcp://10.0.0.5:8786\n\n"
          "exit status: 0 every point bit-exact; 1 some point failed, diverged or mismatched; 2 the sweep "
          "file, output directory, cluster address or vendor tools were refused (nothing was written)")


def add_arguments(ap) -> None:
    """The options of ``kappa sweep``."""
    ap.add_argument("sweep", help="sweep file (YAML: base, overrides, grid, zip, synth); see docs/sweep.md")
    ap.add_argument("--output", required=True, help="sweep directory (created; a rerun resumes it)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    ap.add_argument("--force", action="store_true", help="rerun points that already have a result")
    ap.add_argument("--max-points", type=int, default=None, metavar="N",
                    help="refuse a sweep with more than N points (default 10000)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Run the sweep (:func:`hls.sweep.run`) and print one line per point that is not bit-exact.

    Raises:
        hls.sweep.SweepError / VendorToolNotFoundError: as :func:`hls.sweep.run`.
    """
    import hls.sweep
    from hls.sweep.spec import MAX_POINTS

    max_points = MAX_POINTS if args.max_points is None else args.max_points
    res = hls.sweep.run(args.sweep, args.output, workers=args.workers, scheduler=args.scheduler, force=args.force,
                        progress=not args.quiet, max_points=max_points)
    counts: dict = {}
    for r in res.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"{len(res.rows)} points ({res.ran} run, {res.skipped} read back) in {res.wall_seconds:.1f} s: "
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"results: {res.files['csv']}  report: {res.files['report']}")
    for r in res.rows:
        if r["status"] != "ok":
            print(f"  {r['id']} {r['status']}: {r['error']}")
    return SUCCESS if res.failed == 0 else MISMATCH
