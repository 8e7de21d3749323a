"""``kappa precision``: show, validate or convert a PrecisionDict (YAML <-> JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...safety import strict_json
from ..exit_status import SUCCESS, UsageError

SUMMARY = "show, validate or convert a PrecisionDict (YAML <-> JSON)"
DESCRIPTION = "Show, validate or convert a PrecisionDict (layer -> field -> ap_fixed type) stored as YAML or JSON."
EPILOG = ("examples:\n  kappa precision show precision.yaml\n"
          "  kappa precision validate precision.yaml --model trained.keras\n"
          "  kappa precision convert precision.yaml precision.json\n\n"
          "exit status: 0 ok; 2 a malformed file, a bad type, or a layer the model lacks")


def add_arguments(p) -> None:
    """The actions ``show``, ``validate`` and ``convert`` and their options."""
    psub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p), required=True)
    show = psub.add_parser("show", help="print every layer, field and type")
    show.add_argument("file", metavar="FILE", help="PrecisionDict (.yaml, .yml or .json)")
    show.add_argument("--json", action="store_true", help="print JSON")
    val = psub.add_parser("validate", help="check every type (and, with --model, every layer name)")
    val.add_argument("file", metavar="FILE", help="PrecisionDict (.yaml, .yml or .json)")
    val.add_argument("--model", metavar="MODEL", help="a model (.keras, whole-model .h5, or .json with --weights): "
                                                      "every layer name must exist in it and every firmware type "
                                                      "be given, as kappa build demands")
    val.add_argument("--weights", help="HDF5 weights of a .json --model")
    val.add_argument("--json", action="store_true", help="print JSON")
    conv = psub.add_parser("convert", help="YAML -> JSON or JSON -> YAML (by the output's suffix)")
    conv.add_argument("file", metavar="FILE", help="input PrecisionDict")
    conv.add_argument("output", metavar="OUTPUT", help="output path (.json, .yaml or .yml)")
    conv.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")


def load_precision(path: str):
    """The PrecisionDict in ``path``.

    Raises:
        UsageError: no such file, malformed JSON/YAML, a bad type (names the file).
    """
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


def load_user_model(path: str, weights: str | None = None):
    """The Keras model in ``path`` as ``kappa build --model`` reads it: ``.keras``, a whole-model
    ``.h5``, or a Keras 2 ``.json`` architecture with ``weights`` (:func:`kappa.load_model`,
    which never executes code from the file).

    Raises:
        UsageError: no such file, an unknown format, or a model that does not load.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such model file")
    if p.suffix not in (".keras", ".h5", ".json"):
        raise UsageError(f"{p}: expected a saved Keras model (.keras, whole-model .h5, or .json with --weights)")
    from hls.quiet import import_tensorflow

    import_tensorflow()
    from kappa import load_model

    try:
        return load_model(p, weights)  # interprets the architecture, never executes code from the file
    except Exception as e:  # ValueError/OSError/zipfile errors for a bad or unsafe file
        raise UsageError(f"{p}: cannot load the Keras model ({type(e).__name__}: {e})") from None


def check_complete(model, pd, io_type: str = "io_parallel", *, what: str) -> None:
    """The one rule of ``build``, ``firmware-report`` and ``precision validate --model``: every
    firmware type of ``model`` is given by ``pd`` (a layer entry or ``default``), deterministic and
    exportable (:func:`hls.project.convert.firmware_types` on the model's firmware plan).

    Raises:
        UsageError: naming ``what`` (the file) and every missing or unusable field.
    """
    from hls.project.convert import firmware_types
    from kappa.firmware_forward import firmware_plan
    from kappa.layers import FirmwareOptions

    try:
        firmware_types(firmware_plan(model, pd, FirmwareOptions(io_type=io_type)))
    except ValueError as e:
        raise UsageError(f"{what}: {' '.join(str(e).split())}") from None


def run(args) -> int:
    """Run the chosen action.

    Raises:
        UsageError: every bad input (file, type, layer, output path).
    """
    pd = load_precision(args.file)
    if args.action == "show":
        if args.json:
            print(strict_json(pd.to_dict(), indent=2, default=str))
        else:
            rows = [(layer, f, t) for layer, fields in pd.to_dict().items() for f, t in fields.items()]
            w = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("layer", "field", "type"))]
            print(f"{'layer':<{w[0]}}  {'field':<{w[1]}}  type")
            for layer, f, t in rows:
                print(f"{layer:<{w[0]}}  {f:<{w[1]}}  {t}")
    elif args.action == "validate":
        if args.model:
            model = load_user_model(args.model, args.weights)
            names = [layer.name for layer in model.layers]
            try:
                pd.validate(names)
            except ValueError as e:
                raise UsageError(f"{args.file}: {e}") from None
            check_complete(model, pd, what=args.file)  # the same rule as kappa build
        what = (f"matches the {len(names)} layers of {args.model} and gives every firmware type"
                if args.model else "is valid")
        if args.json:
            print(strict_json({"file": args.file, "valid": True, "layers": pd.layers, "model": args.model},
                             indent=2, default=str))
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
        print(f"wrote {out.resolve()} ({len(pd.layers)} entries)", file=sys.stderr)
    return SUCCESS
