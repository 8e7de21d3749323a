"""``kappa csim``: run the C simulation (g++) of a project."""

from __future__ import annotations

from ...safety import strict_json
from ..exit_status import MISMATCH, SUCCESS, UsageError
from .project_args import EPILOG_TEMPLATE, add_project_arguments, is_rtl_project, project_dir

SUMMARY = "run the C simulation (g++) of a project written by kappa build"
EPILOG = EPILOG_TEMPLATE.format(name="csim")


def add_arguments(p) -> None:
    """The options of ``kappa csim``."""
    add_project_arguments(p)


def run(args) -> int:
    """Compile (if needed) and run the testbench; MISMATCH when it reports differing outputs.

    Raises:
        UsageError: not a project. hls.sim.csim.CsimError: no compiler, compile error, crash.
    """
    from hls.sim.csim import simulate

    prj = project_dir(args.project)
    if is_rtl_project(prj):
        raise UsageError(f"{prj} is an RTL project (no C simulation): `kappa compare {args.project}` builds it "
                         "with Verilator and compares it with Python")
    run = simulate(prj, quiet=args.quiet or args.json)
    samples, outputs = run.results.shape if run.results.ndim == 2 else (0, 0)
    info = {
        "project": str(prj), "results_file": str(prj / "tb_data" / "csim_results.log"),
        "samples": int(samples), "outputs_per_sample": int(outputs),
        "testbench_exit": run.returncode, "all_match": run.returncode == 0,
        "compiled": run.compiled, "compile_seconds": round(run.compile_seconds, 3),
        "run_seconds": round(run.run_seconds, 3),
    }
    if args.json:
        print(strict_json(info, indent=2, default=str))
    else:
        print(run.stdout.rstrip())
        print(f"{samples} samples x {outputs} outputs -> {info['results_file']} "
              f"({'compiled' if run.compiled else 'cached binary'}, {run.run_seconds:.2f} s run)")
    return SUCCESS if run.returncode == 0 else MISMATCH
