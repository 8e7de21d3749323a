"""kappa's main job: train in fixed point, write the hls4ml project, C-simulate, compare.

With no arguments it runs the built-in default (the shipped config ``digits``: the digits
classifier 64 -> 32 ReLU -> 10), writes ./vivado_projects/digits in the current directory and
ends with the mismatch count over all outputs. Relative paths are relative to the current
directory; the shipped configs are found by name.

Examples:
    kappa build
    kappa build --config affine --output out/affine --force
    kappa build --config digits_cnn                       # Conv2D + pooling, io_stream
    kappa build --config my_job.yaml
    kappa build --weights trained.keras --strategy Resource --reuse-factor 4
    kappa build --set training.epochs=3 --set precision.default.weight="ap_fixed<8,2,AP_RND_CONV,AP_SAT>"
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

from ..exit_status import MISMATCH, SUCCESS, UsageError

SUMMARY = "the main job: train in fixed point -> hls4ml project -> C simulation -> bit-exact comparison"
USES_TENSORFLOW = True
"""Imported quietly before :func:`run` (:func:`hls.quiet.import_tensorflow`)."""
DESCRIPTION = __doc__
INTERRUPTED_NOTE = "nothing new was left on disk"
HLS_OPTIONS = ("backend", "part", "clock_period", "strategy", "reuse_factor", "io_type", "latency_cutoff")
MODEL_ONLY = ("precision", "suggest_precision", "data")


def add_arguments(ap) -> None:
    """The options of ``kappa build``."""
    ap.add_argument("--config", help="job YAML file, or a shipped config by name: digits (default), affine, "
                                     "digits_cnn")
    ap.add_argument("--output", help="project directory (default: ./vivado_projects/<name> in the current "
                                     "directory)")
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
    ap.add_argument("--data", help="with --model: test data .npz with X (and optionally y); without it, "
                                   "--config JOB gives its dataset's test split")
    ap.add_argument("--drop-softmax", action="store_true", help="with --model or --backend rtl: the firmware "
                                                                "outputs the logits (a final softmax is left out)")
    ap.add_argument("--synth", action="store_true", help="run HLS synthesis (needs Vitis/Vivado HLS on PATH)")
    ap.add_argument("--vsynth", action="store_true", help="also run Vivado logic synthesis (implies --synth)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set_values",
                    help="override one config value (dotted key, value read as a YAML scalar), validated like "
                         "the file; repeatable: --set training.epochs=3 --set hls.Strategy=resource")
    ap.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    """Run the training job (or, with ``--model``, the bring-your-model job).

    Raises:
        UsageError: model-only options without ``--model``. Whatever the job raises
            (:func:`hls.jobs.job.run_job`, :func:`hls.jobs.model_job.run_model_job`).
    """
    from hls.jobs.paths import DEFAULT_CONFIG_NAME

    explicit_config = args.config is not None
    if args.config is None:
        args.config = DEFAULT_CONFIG_NAME
    model_only = [f"--{k.replace('_', '-')}" for k in MODEL_ONLY if getattr(args, k)]
    if model_only and not args.model:
        raise UsageError(f"{', '.join(model_only)} need --model FILE")
    hls_opts = {k: getattr(args, k) for k in HLS_OPTIONS}
    if args.model:
        if args.latency_cutoff is not None or str(args.backend).lower() == "rtl":
            raise UsageError("--backend rtl and --latency-cutoff work with the training job; for a model "
                             "file use hls.rtl.write_rtl (docs/rtl.md)")
        if not args.data and not explicit_config:
            raise UsageError("--model needs test data: --data FILE.npz (arrays X and optionally y), or --config JOB "
                             "whose dataset's test split to use")
        return _model_job(args, hls_opts)
    from hls.jobs.job import run_job

    if args.drop_softmax:
        hls_opts["drop_softmax"] = True
    cfg, source = load_job_config(args)
    result = run_job(cfg, args.output, force=args.force, weights=args.weights, overrides=hls_opts,
                     synth=args.synth or args.vsynth, vsynth=args.vsynth, progress=not args.quiet, source=source)
    rep = result.report
    print(f"project: {result.project_dir}  (report.md, report.json, training_curves.png)")
    if rep.simulator != "C simulation":
        _print_rtl(result.project_dir)
    print(f"{rep.mismatches} mismatches over {rep.outputs} outputs ({rep.samples} test samples): "
          f"{'bit-exact' if rep.bit_exact else 'NOT bit-exact'}")
    return SUCCESS if rep.bit_exact else MISMATCH


def parse_set(items: list[str]) -> list[tuple[str, object]]:
    """``--set KEY=VALUE`` items as ``[(dotted key, value)]``, each value read as a YAML scalar
    (``3`` an int, ``1e-3`` a float, ``true`` a bool, ``null`` None, anything else a string).

    Raises:
        UsageError: an item without ``=`` or with an empty key, or a value that is not a scalar.
    """
    import yaml

    out = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set training.epochs=3")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text  # e.g. a type string with a YAML special character: taken as written
        if isinstance(value, (dict, list)):
            raise UsageError(f"--set {item!r}: the value must be a scalar (number, string, true/false, null)")
        out.append((key, value))
    return out


def load_job_config(args) -> tuple[dict, str]:
    """The job config ``args.config`` names (a file or a shipped name) with the ``--set``
    overrides applied, and the source string for messages; prints which file was read.

    Raises:
        FileNotFoundError / ValueError: as :func:`hls.jobs.config.load_config`.
        UsageError: a malformed ``--set``.
    """
    from hls.jobs.config import load_config
    from hls.jobs.paths import resolve_config
    from hls.jobs.schema import set_dotted

    sets = parse_set(args.set_values)
    path = resolve_config(args.config)
    cfg = load_config(path)
    for key, value in sets:
        try:
            set_dotted(cfg, key, value)
        except ValueError as exc:
            raise UsageError(f"--set: {exc}") from None
    source = str(path) + (f" with --set {', '.join(k for k, _ in sets)}" if sets else "")
    if not args.quiet:
        print(f"config: {source}")
    return cfg, source


def _model_job(args, hls_opts: dict) -> int:
    """``--model``: convert an existing model without training (:mod:`hls.jobs.model_job`)."""
    from hls.jobs.model_job import run_model_job

    cfg = None if args.data else load_job_config(args)[0]
    if cfg is not None and not args.quiet:
        print(f"test data: the test split of dataset {cfg.get('dataset', {}).get('name')!r} from {args.config}")
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
