"""``kappa firmware-report``: float vs firmware and what each layer's types cost (no HLS project)."""

from __future__ import annotations

import sys
from pathlib import Path

from ...safety import strict_json
from ..exit_status import SUCCESS, UsageError

SUMMARY = "float vs firmware and what each layer's types cost"
USES_TENSORFLOW = True
"""Imported quietly before :func:`run` (:func:`hls.quiet.import_tensorflow`)."""
DESCRIPTION = ("Float vs firmware (kappa's bit-exact Python forward, no HLS project): the metric, argmax flip "
               "rate, largest difference per output in LSBs, and per layer the metric with only that layer "
               "quantized and with all but that layer.")
EPILOG = ("examples:\n  kappa firmware-report model.keras --precision types.yaml --data test.npz\n"
          "  kappa firmware-report arch.json --weights w.h5 --precision types.yaml --data t.npz "
          "--drop-softmax --plot cost.png\n  kappa firmware-report qkeras_model.keras --data t.npz\n\n"
          "exit status: 0 ok; 2 a missing or malformed file or a model kappa cannot emulate")


def add_arguments(p) -> None:
    """The options of ``kappa firmware-report``."""
    p.add_argument("model", metavar="MODEL", help=".keras, whole-model .h5, or Keras 2 .json (with --weights)")
    p.add_argument("--weights", help="HDF5 weights of a .json architecture")
    p.add_argument("--precision", help="PrecisionDict (.yaml/.json); optional for a QKeras model")
    p.add_argument("--data", required=True, help=".npz with X (and optionally labels/targets y)")
    p.add_argument("--io-type", choices=("io_parallel", "io_stream"), default="io_parallel")
    p.add_argument("--drop-softmax", action="store_true", help="compare at the logits (a final softmax is left out)")
    p.add_argument("--plot", metavar="PNG", help="also plot the per-layer cost to PNG")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    """Print the firmware report (Markdown or JSON), optionally plot it.

    Raises:
        UsageError: no folder for the plot, no ``--precision`` for a model without QKeras
            layers. FileNotFoundError / ValueError: a missing or malformed file, a model
            kappa cannot emulate.
    """
    from hls.jobs.model_job import load_test_data, qkeras_reference, without_final_softmax
    from kappa import firmware_report, from_qkeras, load_model
    from kappa.precision import PrecisionDict
    from kappa.qkeras import has_qkeras_layers

    if args.plot and not Path(args.plot).parent.is_dir():
        raise UsageError(f"{Path(args.plot).parent}: no such directory for the plot")
    X, y = load_test_data(args.data)
    model = load_model(args.model, args.weights)
    reference, reference_name = None, "float"
    if has_qkeras_layers(model):
        twin, P = from_qkeras(model, drop_final_softmax=args.drop_softmax)
        reference, reference_name = qkeras_reference(model, X, args.drop_softmax), "QKeras predict"
        model = twin.model
        if args.precision:
            spec = P.to_dict()
            for layer, fields in PrecisionDict.load(args.precision).to_dict().items():
                spec.setdefault(layer, {}).update(fields)
            P = PrecisionDict(spec)
    else:
        if not args.precision:
            raise UsageError("--precision FILE is required for a model without QKeras layers")
        if args.drop_softmax:
            model, _ = without_final_softmax(model)
        P = PrecisionDict.load(args.precision)
    from .precision import check_complete

    check_complete(model, P, args.io_type, what=args.precision or args.model)  # the rule of kappa build
    rep = firmware_report(model, P, X, y, io_type=args.io_type, reference=reference, reference_name=reference_name)
    if args.json:
        print(strict_json({"task": rep.task, "reference": rep.reference,
                          "metric": rep.metric, "samples": rep.samples, "float": rep.float_metric,
                          "firmware": rep.firmware_metric, "flip_rate": rep.flip_rate,
                          "lsb_diff": [float(v) for v in rep.lsb_diff], "output_type": rep.output_type,
                          "layers": [vars(c) for c in rep.layers], "points": [vars(p) for p in rep.points]},
                         indent=2, default=str))
    else:
        print(rep.to_markdown())
    if args.plot:
        print(f"wrote {Path(rep.plot(args.plot)).resolve()}", file=sys.stderr)
    return SUCCESS
