"""The kappa command: one entry point for what users do with kappa.

    kappa build       the main job: train in fixed point -> hls4ml project -> C simulation -> comparison
    kappa report      synthesis reports (Vivado/Vitis HLS, Vitis Unified, vivado_synth.rpt, co-simulation)
    kappa csim        run the C simulation (g++) of an existing project
    kappa compare     C simulation vs the Python quantized forward path, bit for bit
    kappa precision   show, validate or convert a PrecisionDict (YAML <-> JSON)
    kappa firmware-report  float vs firmware and what each layer's types cost (no HLS project)
    kappa sweep       a precision sweep on Dask: train, convert and C-simulate a grid of configs

Exit status (every subcommand): 0 ok; 1 mismatch (outputs not bit-exact, a failed sweep
point, or with ``report --strict`` report files that disagree); 2 bad input (a missing or
malformed file, an unknown option, a missing tool), with one line ``error: ...`` on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2

_EXAMPLES = """\
examples:
  kappa build                                      # the digits default: train, convert, C-simulate, compare
  kappa build --config configs/affine.yaml --output out/affine --force
  kappa report vivado_projects/digits              # synthesis results as a table
  kappa report tests/fixtures/reports/vitis-hls-2024.1-hls4ml --json
  kappa report prj_a prj_b --plot cmp.png          # side by side, plus a plot
  kappa compare vivado_projects/digits             # exit 1 if not bit-exact
  kappa precision show vivado_projects/digits/precision.yaml
  kappa precision convert precision.yaml precision.json
  kappa firmware-report model.keras --precision types.yaml --data test.npz --plot cost.png
  kappa <command> --help                           # the options of one command

exit status: 0 ok, 1 mismatch, 2 bad input (message on stderr as 'error: ...')
"""


class UsageError(Exception):
    """Bad input found by a subcommand: printed as ``error: ...``, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with kappa's one error style: ``error: ...`` on stderr, exit status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


# --------------------------------------------------------------------------- report
def check_plot_path(path: str) -> None:
    """Refuse a plot path that cannot be written: a missing or non-writable folder, a
    directory, or a suffix matplotlib cannot write (names the path and the valid suffixes).

    Raises:
        ValueError.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    p = Path(path)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = p.suffix.lower().lstrip(".")
    if p.is_dir():
        raise ValueError(f"--plot {path!r} is a directory; give a file name such as {str(p / 'reports.png')!r}")
    if suffix not in formats:
        raise ValueError(f"--plot {path!r}: unknown image suffix {p.suffix!r}; valid: {', '.join('.' + f for f in formats)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"--plot {path!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--plot {path!r}: folder {str(parent)!r} is not writable")




def _cmd_report(args) -> int:
    from hls.reports import ReportError, format_table, plot_reports, read_reports

    if args.plot:  # before any output: a bad path is not found after the table
        try:
            check_plot_path(args.plot)
        except ValueError as e:
            return _fail(str(e))
    try:
        reports = [r for p in args.paths for r in read_reports(p, solution=args.solution)]
    except ReportError as e:
        return _fail(str(e))
    if args.json:
        _print_json([r.to_dict() for r in reports])
    else:
        print(format_table(reports))
    if args.plot:
        print(f"wrote {plot_reports(reports, x=args.x, path=Path(args.plot))}", file=sys.stderr)
    disagree = [f"{r.name}: {d}" for r in reports for d in r.disagreements]
    if disagree and args.strict:
        for d in disagree:
            print(f"error: files disagree: {d}", file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_OK


# --------------------------------------------------------------------------- csim / compare


def _project(path: str) -> Path:
    p = Path(path).resolve()
    if not p.is_dir():
        raise UsageError(f"{p}: no such project directory")
    if not (p / "manifest.json").is_file():
        raise UsageError(f"{p}: not a kappa project (no manifest.json); write one with `kappa build`")
    return p


def _cmd_csim(args) -> int:
    from hls.csim import CsimError, run_csim

    try:
        prj = _project(args.project)
        run = run_csim(prj, quiet=args.quiet or args.json, return_run=True)
    except (UsageError, CsimError, FileNotFoundError) as e:
        return _fail(str(e))
    samples, outputs = run.results.shape if run.results.ndim == 2 else (0, 0)
    info = {
        "project": str(prj), "results_file": str(prj / "tb_data" / "csim_results.log"),
        "samples": int(samples), "outputs_per_sample": int(outputs),
        "testbench_exit": run.returncode, "all_match": run.returncode == 0,
        "compiled": run.compiled, "compile_seconds": round(run.compile_seconds, 3),
        "run_seconds": round(run.run_seconds, 3),
    }
    if args.json:
        _print_json(info)
    else:
        print(run.stdout.rstrip())
        print(f"{samples} samples x {outputs} outputs -> {info['results_file']} "
              f"({'compiled' if run.compiled else 'cached binary'}, {run.run_seconds:.2f} s run)")
    return EXIT_OK if run.returncode == 0 else EXIT_MISMATCH


def _cmd_compare(args) -> int:
    from hls.compare import compare
    from hls.csim import CsimError

    try:
        prj = _project(args.project)
        rep = compare(prj, quiet=args.quiet or args.json, trace=not args.no_trace)
    except (UsageError, CsimError, FileNotFoundError, ValueError, KeyError) as e:
        return _fail(str(e))
    if args.json:
        _print_json(rep.to_dict())
    elif args.markdown:
        print(rep.to_markdown(), end="")
    else:
        print(rep.summary_line())
        for m in rep.first_mismatches:
            print(f"  sample {m['sample']} output {m['output']}: expected {m['expected']!r}, got {m['got']!r}")
        if rep.divergence:
            d = rep.divergence
            print(f"  first divergent layer: {d.layer} (sample {d.sample}, element {d.index}: "
                  f"firmware {d.firmware!r}, Python {d.python!r})")
    return EXIT_OK if rep.bit_exact else EXIT_MISMATCH


# --------------------------------------------------------------------------- precision


def _load_precision(path: str):
    import yaml

    from kappa.precision import PrecisionDict

    try:
        return PrecisionDict.load(path)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: malformed JSON ({e})") from None
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: malformed YAML ({' '.join(str(e).split())})") from None
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None


def _model_layer_names(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such model file")
    if p.suffix not in (".keras", ".h5"):
        raise UsageError(f"{p}: expected a saved Keras model (.keras or .h5)")
    from kappa import load_model

    try:
        model = load_model(p)  # interprets the architecture, never executes code from the file
    except Exception as e:  # ValueError/OSError/zipfile errors for a bad or unsafe file
        raise UsageError(f"{p}: cannot load the Keras model ({type(e).__name__}: {e})") from None
    return [layer.name for layer in model.layers]


def _cmd_precision(args) -> int:
    try:
        pd = _load_precision(args.file)
        if args.action == "show":
            if args.json:
                _print_json(pd.to_dict())
            else:
                rows = [(layer, f, t) for layer, fields in pd.to_dict().items() for f, t in fields.items()]
                w = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("layer", "field", "type"))]
                print(f"{'layer':<{w[0]}}  {'field':<{w[1]}}  type")
                for layer, f, t in rows:
                    print(f"{layer:<{w[0]}}  {f:<{w[1]}}  {t}")
        elif args.action == "validate":
            if args.model:
                names = _model_layer_names(args.model)
                try:
                    pd.validate(names)
                except ValueError as e:
                    raise UsageError(f"{args.file}: {e}") from None
            what = f"matches the {len(names)} layers of {args.model}" if args.model else "is valid"
            if args.json:
                _print_json({"file": args.file, "valid": True, "layers": pd.layers, "model": args.model})
            else:
                print(f"{args.file}: {what} ({len(pd.layers)} entries)")
        elif args.action == "convert":
            out = Path(args.output)
            if out.suffix not in (".yaml", ".yml", ".json"):
                raise UsageError(f"{out}: the output must end in .yaml, .yml or .json")
            if Path(args.file).suffix == out.suffix:
                raise UsageError(f"{args.file} and {out} have the same format; convert YAML <-> JSON")
            if out.exists() and not args.force:
                raise UsageError(f"{out} already exists; pass --force to replace it")
            if not out.parent.is_dir():
                raise UsageError(f"{out.parent}: no such directory")
            pd.save(out)
            print(f"wrote {out} ({len(pd.layers)} entries)", file=sys.stderr)
    except UsageError as e:
        return _fail(str(e))
    return EXIT_OK


# --------------------------------------------------------------------------- sweep


def _cmd_sweep(argv: list[str], prog: str) -> int:
    """``kappa sweep`` is the command line of :func:`hls.sweep.main` (also ``scripts/sweep.py``)."""
    from hls.sweep import main as sweep_main

    return sweep_main(argv, prog=prog)


# --------------------------------------------------------------------------- firmware-report


def _cmd_firmware_report(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from kappa import firmware_report, from_qkeras, load_model
    from kappa.precision import PrecisionDict
    from kappa.qkeras import has_qkeras_layers

    from hls.model_job import load_test_data, without_final_softmax

    if args.plot and not Path(args.plot).parent.is_dir():
        return _fail(f"{Path(args.plot).parent}: no such directory for the plot")
    try:
        X, y = load_test_data(args.data)
        model = load_model(args.model, args.weights)
        if has_qkeras_layers(model):
            twin, P = from_qkeras(model, drop_final_softmax=args.drop_softmax)
            model = twin.model
            if args.precision:
                spec = P.to_dict()
                for layer, fields in PrecisionDict.load(args.precision).to_dict().items():
                    spec.setdefault(layer, {}).update(fields)
                P = PrecisionDict(spec)
        else:
            if not args.precision:
                return _fail("--precision FILE is required for a model without QKeras layers")
            if args.drop_softmax:
                model, _ = without_final_softmax(model)
            P = PrecisionDict.load(args.precision)
        rep = firmware_report(model, P, X, y, io_type=args.io_type)
    except (FileNotFoundError, ValueError) as e:
        return _fail(str(e))
    if args.json:
        _print_json({"task": rep.task, "metric": rep.metric, "samples": rep.samples, "float": rep.float_metric,
                     "firmware": rep.firmware_metric, "flip_rate": rep.flip_rate,
                     "lsb_diff": [float(v) for v in rep.lsb_diff], "output_type": rep.output_type,
                     "layers": [vars(c) for c in rep.layers], "points": [vars(p) for p in rep.points]})
    else:
        print(rep.to_markdown())
    if args.plot:
        print(f"wrote {rep.plot(args.plot)}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The ``kappa`` argument parser (subcommands ``report``, ``csim``, ``compare``,
    ``precision``; ``build`` and ``sweep`` forward their arguments unparsed)."""
    fmt = argparse.RawDescriptionHelpFormatter
    ap = _Parser(prog="kappa", description="kappa: train in exact fixed point, generate the hls4ml firmware, "
                                           "prove they agree bit for bit, read the synthesis reports.",
                 epilog=_EXAMPLES, formatter_class=fmt)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, title="commands")

    sub.add_parser("build", help="the main job: train in fixed point -> hls4ml project -> C simulation "
                                 "-> bit-exact comparison", add_help=False)

    rp = sub.add_parser(
        "report", help="synthesis reports: Vivado/Vitis HLS, Vitis Unified, vivado_synth.rpt, co-simulation",
        formatter_class=fmt,
        description="Read synthesis reports from hls4ml projects, Vivado/Vitis HLS projects (with or "
                    "without project.tcl), Vitis Unified components, or folders of loose report files "
                    "(<top>_csynth.rpt/.xml, vivado_synth.rpt, <top>_cosim.rpt). Every solution and top "
                    "is reported; files the set lacks are listed as missing, values two files give "
                    "differently as warnings.",
        epilog="examples:\n  kappa report vivado_projects/digits\n"
               "  kappa report tests/fixtures/reports/vivado-hls-old-project-tcl-axi --json\n"
               "  kappa report prj --solution solution2 --strict\n"
               "  kappa report prj_a prj_b --plot cmp.png\n\n"
               "exit status: 0 ok; 1 with --strict when files disagree; 2 not a report set, or a "
               "missing, truncated or malformed file")
    rp.add_argument("paths", nargs="+", metavar="PATH", help="project, component or report folder")
    rp.add_argument("--solution", help="only this solution (default: every solution)")
    rp.add_argument("--json", action="store_true", help="print a JSON list, one object per solution and top, "
                                                         "naming the file each value came from")
    rp.add_argument("--plot", metavar="PNG", help="also plot resources and latency to PNG")
    rp.add_argument("--x", choices=("weight_bits", "name"), default="weight_bits",
                    help="x axis of the plot (default: weight_bits from manifest.json, else names)")
    rp.add_argument("--strict", action="store_true", help="exit 1 when two files give a value differently")

    for name, helptext in (("csim", "run the C simulation (g++) of a project written by kappa build"),
                           ("compare", "C simulation vs the Python quantized forward path, bit for bit")):
        p = sub.add_parser(name, help=helptext, description=helptext + ".", formatter_class=fmt,
                           epilog=f"example:\n  kappa {name} vivado_projects/digits\n\n"
                                  "exit status: 0 all outputs match; 1 some differ; 2 not a project, "
                                  "no compiler, or a compile error")
        p.add_argument("project", metavar="PROJECT", help="project directory (with manifest.json and tb_data/)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.add_argument("--quiet", action="store_true", help="no compile/run progress")
        if name == "compare":
            p.add_argument("--no-trace", action="store_true", help="on a mismatch, do not look for the first divergent layer")
            p.add_argument("--markdown", action="store_true", help="print the Markdown report")

    pp = sub.add_parser("precision", help="show, validate or convert a PrecisionDict (YAML <-> JSON)", formatter_class=fmt,
                        description="Show, validate or convert a PrecisionDict (layer -> field -> ap_fixed type) "
                                    "stored as YAML or JSON.",
                        epilog="examples:\n  kappa precision show precision.yaml\n"
                               "  kappa precision validate precision.yaml --model trained.keras\n"
                               "  kappa precision convert precision.yaml precision.json\n\n"
                               "exit status: 0 ok; 2 a malformed file, a bad type, or a layer the model lacks")
    psub = pp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    show = psub.add_parser("show", help="print every layer, field and type")
    show.add_argument("file", metavar="FILE", help="PrecisionDict (.yaml, .yml or .json)")
    show.add_argument("--json", action="store_true", help="print JSON")
    val = psub.add_parser("validate", help="check every type (and, with --model, every layer name)")
    val.add_argument("file", metavar="FILE", help="PrecisionDict (.yaml, .yml or .json)")
    val.add_argument("--model", metavar="MODEL", help="a saved Keras model (.keras) whose layer names to check against")
    val.add_argument("--json", action="store_true", help="print JSON")
    conv = psub.add_parser("convert", help="YAML -> JSON or JSON -> YAML (by the output's suffix)")
    conv.add_argument("file", metavar="FILE", help="input PrecisionDict")
    conv.add_argument("output", metavar="OUTPUT", help="output path (.json, .yaml or .yml)")
    conv.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")

    fr = sub.add_parser("firmware-report", help="float vs firmware and what each layer's types cost",
                        formatter_class=fmt,
                        description="Float vs firmware (kappa's bit-exact Python forward, no HLS project): the "
                                    "metric, argmax flip rate, largest difference per output in LSBs, and per "
                                    "layer the metric with only that layer quantized and with all but that layer.",
                        epilog="examples:\n  kappa firmware-report model.keras --precision types.yaml --data test.npz\n"
                               "  kappa firmware-report arch.json --weights w.h5 --precision types.yaml --data t.npz "
                               "--drop-softmax --plot cost.png\n  kappa firmware-report qkeras_model.keras --data t.npz\n\n"
                               "exit status: 0 ok; 2 a missing or malformed file or a model kappa cannot emulate")
    fr.add_argument("model", metavar="MODEL", help=".keras, whole-model .h5, or Keras 2 .json (with --weights)")
    fr.add_argument("--weights", help="HDF5 weights of a .json architecture")
    fr.add_argument("--precision", help="PrecisionDict (.yaml/.json); optional for a QKeras model")
    fr.add_argument("--data", required=True, help=".npz with X (and optionally labels/targets y)")
    fr.add_argument("--io-type", choices=("io_parallel", "io_stream"), default="io_parallel")
    fr.add_argument("--drop-softmax", action="store_true", help="compare at the logits (a final softmax is left out)")
    fr.add_argument("--plot", metavar="PNG", help="also plot the per-layer cost to PNG")
    fr.add_argument("--json", action="store_true", help="print JSON")

    sub.add_parser("sweep", help="a precision sweep on Dask: train, convert and C-simulate a grid of configs", add_help=False)
    return ap


def main(argv=None) -> int:
    """Run ``kappa`` with ``argv`` (default ``sys.argv[1:]``); return the exit status
    (argparse's own exits for ``--help`` and usage errors are returned too, not raised)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, already printed)
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_BAD_INPUT)


def _main(argv: list[str]) -> int:
    ap = build_parser()
    if argv and argv[0] == "build":  # the main job keeps its own parser (hls/cli_build.py)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from hls.cli_build import main as build_main

        return build_main(argv[1:], prog="kappa build")
    if argv and argv[0] == "sweep":
        return _cmd_sweep(argv[1:], prog="kappa sweep")
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return EXIT_OK
    return {"report": _cmd_report, "csim": _cmd_csim, "compare": _cmd_compare,
            "precision": _cmd_precision, "firmware-report": _cmd_firmware_report}[args.command](args)


def entry() -> None:
    """Console-script entry point: ``sys.exit(main())``, quiet on a closed pipe (``| head``)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_MISMATCH
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    entry()
