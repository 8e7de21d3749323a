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


def main(argv=None, prog=None) -> int:
    from hls.job import DEFAULT_CONFIG

    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="job YAML (default: configs/digits.yaml)")
    ap.add_argument("--output", help="project directory (default: vivado_projects/<name>)")
    ap.add_argument("--backend", choices=["Vitis", "Vivado"])
    ap.add_argument("--part")
    ap.add_argument("--clock-period", type=float, help="target clock period in ns")
    ap.add_argument("--strategy", choices=["Latency", "Resource"])
    ap.add_argument("--reuse-factor", type=int)
    ap.add_argument("--io-type", choices=["io_parallel", "io_stream"])
    ap.add_argument("--force", action="store_true", help="replace an existing project directory")
    ap.add_argument("--weights", help="a .keras model to convert instead of training")
    ap.add_argument("--synth", action="store_true", help="run HLS synthesis (needs Vitis/Vivado HLS on PATH)")
    ap.add_argument("--vsynth", action="store_true", help="also run Vivado logic synthesis (implies --synth)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    args = ap.parse_args(argv)

    from hls.csim import CsimError
    from hls.job import load_config, run_job
    from hls.synth import VendorToolNotFoundError

    try:
        cfg = load_config(args.config)
        result = run_job(
            cfg, args.output, force=args.force, weights=args.weights,
            overrides={"backend": args.backend, "part": args.part, "clock_period": args.clock_period,
                       "strategy": args.strategy, "reuse_factor": args.reuse_factor, "io_type": args.io_type},
            synth=args.synth or args.vsynth, vsynth=args.vsynth, progress=not args.quiet,
        )
    except (FileExistsError, FileNotFoundError, ValueError, VendorToolNotFoundError, CsimError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rep = result.report
    print(f"project: {result.project_dir}  (report.md, report.json, training_curves.png)")
    print(f"{rep.mismatches} mismatches over {rep.outputs} outputs ({rep.samples} test samples): "
          f"{'bit-exact' if rep.bit_exact else 'NOT bit-exact'}")
    return 0 if rep.bit_exact else 1


if __name__ == "__main__":
    sys.exit(main())
