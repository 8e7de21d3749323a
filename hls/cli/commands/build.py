"""kappa's main job: train in fixed point, write the hls4ml project, C-simulate, compare.

With no arguments it runs the built-in default (configs/digits.yaml: the digits
classifier 64 -> 32 ReLU -> 10) and ends with the mismatch count over all outputs.

Examples:
    kappa build
    kappa build --config configs/affine.yaml --output out/affine --force
    kappa build --config configs/digits_cnn.yaml          # Conv2D + pooling, io_stream
    kappa build --weights trained.keras --strategy Resource --reuse-factor 4
    kappa build --synth          # needs Vitis HLS on PATH
    kappa build --backend rtl --drop-softmax   # da4ml Verilog, Verilator vs Python, Yosys LUT/FF

A model you already have (no training; QKeras layers are converted with their quantizers):
    kappa build --model KERAS_3layer.json --weights KERAS_3layer_weights.h5 \\
                --precision types.yaml --suggest-precision --data test.npz --drop-softmax
    kappa build --model qkeras-v3_3layer.keras --data test.npz --drop-softmax

Exit status: 0 bit-exact; 1 C simulation differs from Python; 2 a user-caused error (bad
config/option/path, missing tool, training diverged or stalled: one ``error:`` line on
stderr, a traceback only with ``--debug``); 3 an internal error; 130 interrupted (SIGINT) /
143 (SIGTERM), leaving no new directory.

(``python scripts/build_hls.py`` takes the same options.)
"""

from __future__ import annotations

import os

from ..exit_status import MISMATCH, SUCCESS, UsageError

SUMMARY = "the main job: train in fixed point -> hls4ml project -> C simulation -> bit-exact comparison"
DESCRIPTION = __doc__
INTERRUPTED_NOTE = "nothing new was left on disk"
HLS_OPTIONS = ("backend", "part", "clock_period", "strategy", "reuse_factor", "io_type", "latency_cutoff")
MODEL_ONLY = ("precision", "suggest_precision", "data")


def add_arguments(ap) -> None:
    """The options of ``kappa build``."""
    ap.add_argument("--config", help="job YAML (default: configs/digits.yaml)")
    ap.add_argument("--output", help="project directory (default: vivado_projects/<name>)")
    ap.add_argument("--backend", help="Vitis or Vivado (an hls4ml project), or rtl (a da4ml Verilog design: "
                                      "Verilator vs Python bit for bit, Yosys resource figures; docs/rtl.md)")
    ap.add_argument("--part", help="FPGA part number")
    ap.add_argument("--clock-period", help="target clock period in ns")
    ap.add_argument("--strategy", help="Latency, Resource or distributed_arithmetic")
    ap.add_argument("--latency-cutoff", help="with --backend rtl: da4ml's delay budget per pipeline stage "
                                             "(default 5; 0: combinational)")
    ap.add_argument("--reuse-factor", help="reuse factor (integer >= 1)")
    ap.add_argument("--io-type", help="io_parallel or io_stream")
    ap.add_argument("--force", action="store_true", help="replace an existing kappa project directory")
    ap.add_argument("--weights", help="without --model: a .keras model to convert instead of training; with "
                                      "--model FILE.json: its HDF5 weights")
    ap.add_argument("--model", help="convert this model without training: .keras, whole-model .h5, or a Keras 2 "
                                    ".json (with --weights); QKeras layers take their types from their quantizers")
    ap.add_argument("--precision", help="with --model: the PrecisionDict (.yaml/.json) to use (or, with "
                                        "--suggest-precision, to write)")
    ap.add_argument("--suggest-precision", action="store_true",
                    help="with --model: write --precision from the test inputs' ranges (never overwrites)")
    ap.add_argument("--bits", type=int, default=16, help="width budget of --suggest-precision (default 16)")
    ap.add_argument("--data", help="with --model: test data .npz with X (and optionally y); default: the "
                                   "job config's dataset")
    ap.add_argument("--drop-softmax", action="store_true", help="with --model or --backend rtl: the firmware "
                                                                "outputs the logits (a final softmax is left out)")
    ap.add_argument("--synth", action="store_true", help="run HLS synthesis (needs Vitis/Vivado HLS on PATH)")
    ap.add_argument("--vsynth", action="store_true", help="also run Vivado logic synthesis (implies --synth)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    """Run the training job (or, with ``--model``, the bring-your-model job).

    Raises:
        UsageError: model-only options without ``--model``. Whatever the job raises
            (:func:`hls.jobs.job.run_job`, :func:`hls.jobs.model_job.run_model_job`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from hls.jobs.config import DEFAULT_CONFIG, load_config

    if args.config is None:
        args.config = str(DEFAULT_CONFIG)
    model_only = [f"--{k.replace('_', '-')}" for k in MODEL_ONLY if getattr(args, k)]
    if model_only and not args.model:
        raise UsageError(f"{', '.join(model_only)} need --model FILE")
    hls_opts = {k: getattr(args, k) for k in HLS_OPTIONS}
    if args.model:
        if args.latency_cutoff is not None or args.backend == "rtl":
            raise UsageError("--backend rtl and --latency-cutoff work with the training job; for a model "
                             "file use hls.rtl.write_rtl (docs/rtl.md)")
        return _model_job(args, hls_opts)
    from hls.jobs.job import run_job

    if args.drop_softmax:
        hls_opts["drop_softmax"] = True
    cfg = load_config(args.config)
    result = run_job(cfg, args.output, force=args.force, weights=args.weights, overrides=hls_opts,
                     synth=args.synth or args.vsynth, vsynth=args.vsynth, progress=not args.quiet, source=args.config)
    rep = result.report
    print(f"project: {result.project_dir}  (report.md, report.json, training_curves.png)")
    if rep.simulator != "C simulation":
        _print_rtl(result.project_dir)
    print(f"{rep.mismatches} mismatches over {rep.outputs} outputs ({rep.samples} test samples): "
          f"{'bit-exact' if rep.bit_exact else 'NOT bit-exact'}")
    return SUCCESS if rep.bit_exact else MISMATCH


def _model_job(args, hls_opts: dict) -> int:
    """``--model``: convert an existing model without training (:mod:`hls.jobs.model_job`)."""
    from hls.jobs.config import load_config
    from hls.jobs.model_job import run_model_job

    cfg = None if args.data else load_config(args.config)
    res = run_model_job(args.model, args.output, weights=args.weights, precision=args.precision,
                        suggest=args.suggest_precision, data=args.data,
                        dataset_cfg=None if cfg is None else cfg["dataset"],
                        split=None if cfg is None else cfg.get("split"), drop_softmax=args.drop_softmax,
                        suggest_bits=args.bits, force=args.force, hls_opts=hls_opts,
                        synth=args.synth or args.vsynth, vsynth=args.vsynth, progress=not args.quiet)
    rep, fw = res.report, res.firmware
    print(f"project: {res.project_dir}  (report.md, report.json, firmware_cost.png)")
    print(f"{fw.metric}: float {fw.float_metric:.4f}, firmware {fw.firmware_metric:.4f}; "
          f"argmax flip rate {fw.flip_rate:.4f}")
    print(f"{rep.mismatches} mismatches over {rep.outputs} outputs ({rep.samples} test samples): "
          f"{'bit-exact' if rep.bit_exact else 'NOT bit-exact'}")
    return SUCCESS if rep.bit_exact else MISMATCH


def _print_rtl(project) -> None:
    """The RTL project's LUT/FF table (Yosys next to da4ml's estimate)."""
    from hls.rtl.report import RESOURCE_KEYS, read_rtl_report

    sec = read_rtl_report(project)
    y, est = sec.get("yosys") or {}, sec.get("estimate") or {}
    print(f"RTL: {sec['latency_cycles']} cycles at {sec['clock_period_ns']:g} ns; resources: {sec['label']}")
    print(f"  {'':6s} {'Yosys':>8s} {'da4ml est.':>11s}")
    for k in RESOURCE_KEYS:
        e = est.get(k)
        print(f"  {k:6s} {str(y.get(k, '-')):>8s} {'' if e is None else f'{e:g}':>11s}")
