"""kappa's main job: train in fixed point, write the hls4ml project, C-simulate, compare.

With no arguments it runs the built-in default (configs/digits.yaml: the digits
classifier 64 -> 32 ReLU -> 10) and ends with the mismatch count over all outputs.

Examples:
    kappa build
    kappa build --config configs/affine.yaml --output out/affine --force
    kappa build --config configs/digits_cnn.yaml          # Conv2D + pooling, io_stream
    kappa build --weights trained.keras --strategy Resource --reuse-factor 4
    kappa build --synth          # needs Vitis HLS on PATH

(``python scripts/build_hls.py`` takes the same options.)
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) or type(exc).__name__


def _sigterm_to_interrupt(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def main(argv=None, prog=None) -> int:
    """Run the main job with command-line arguments ``argv`` (default ``sys.argv[1:]``).

    Returns:
        0 bit-exact; 1 C simulation differs from Python; 2 a user-caused error (bad
        config/option/path, missing tool, training diverged or stalled: one ``error:``
        line on stderr, a traceback only with ``--debug``); 3 an internal error;
        130 interrupted (SIGINT) / 143 (SIGTERM), leaving no new directory.
    """
    from hls.job import DEFAULT_CONFIG

    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="job YAML (default: configs/digits.yaml)")
    ap.add_argument("--output", help="project directory (default: vivado_projects/<name>)")
    ap.add_argument("--backend", help="Vitis or Vivado")
    ap.add_argument("--part", help="FPGA part number")
    ap.add_argument("--clock-period", help="target clock period in ns")
    ap.add_argument("--strategy", help="Latency or Resource")
    ap.add_argument("--reuse-factor", help="reuse factor (integer >= 1)")
    ap.add_argument("--io-type", help="io_parallel or io_stream")
    ap.add_argument("--force", action="store_true", help="replace an existing kappa project directory")
    ap.add_argument("--weights", help="a .keras model to convert instead of training")
    ap.add_argument("--synth", action="store_true", help="run HLS synthesis (needs Vitis/Vivado HLS on PATH)")
    ap.add_argument("--vsynth", action="store_true", help="also run Vivado logic synthesis (implies --synth)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    ap.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    args = ap.parse_args(argv)

    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _sigterm_to_interrupt) if main_thread else None
    try:
        return _run(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)


def _user_errors() -> tuple:
    """Exception types a user can cause (bad input, missing tools, failed training)."""
    from hls.csim import CsimError
    from hls.job import TrainingFailedError
    from hls.synth import SynthesisError, VendorToolNotFoundError

    return (ValueError, OSError, VendorToolNotFoundError, CsimError, SynthesisError, TrainingFailedError)


def _run(args) -> int:
    import traceback

    from hls.job import load_config, run_job

    user_errors = _user_errors()
    try:
        cfg = load_config(args.config)
        result = run_job(
            cfg, args.output, force=args.force, weights=args.weights,
            overrides={"backend": args.backend, "part": args.part, "clock_period": args.clock_period,
                       "strategy": args.strategy, "reuse_factor": args.reuse_factor, "io_type": args.io_type},
            synth=args.synth or args.vsynth, vsynth=args.vsynth, progress=not args.quiet, source=args.config,
        )
    except KeyboardInterrupt as exc:
        if args.debug:
            traceback.print_exc()
        sig = "SIGTERM" if "SIGTERM" in str(exc) else "SIGINT"
        print(f"error: interrupted ({sig}); nothing new was left on disk", file=sys.stderr)
        return 143 if sig == "SIGTERM" else 130
    except user_errors as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug in kappa: still one line (traceback with --debug)
        if args.debug:
            traceback.print_exc()
        print(f"error: internal error {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 3
    rep = result.report
    print(f"project: {result.project_dir}  (report.md, report.json, training_curves.png)")
    print(f"{rep.mismatches} mismatches over {rep.outputs} outputs ({rep.samples} test samples): "
          f"{'bit-exact' if rep.bit_exact else 'NOT bit-exact'}")
    return 0 if rep.bit_exact else 1


if __name__ == "__main__":
    sys.exit(main())
