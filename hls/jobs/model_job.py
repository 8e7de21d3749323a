"""The main job for a model the user already has: load -> (QKeras twin) -> types -> HLS
project -> C simulation -> bit-exact comparison -> firmware report. No training.

Used by ``kappa build --model FILE`` (``scripts/build_hls.py --model FILE``):

* the model comes from :func:`kappa.load_model` (``.keras``, whole-model ``.h5``, or a
  Keras 2 ``.json`` with ``--weights``); a model with QKeras layers goes through
  :func:`kappa.from_qkeras` (its quantizers give the types; a ``--precision`` file then
  overrides entries of that PrecisionDict);
* the types come from ``--precision FILE.yaml``; with ``--suggest-precision`` that file is
  first written by :func:`kappa.suggest_precision` from the test inputs (refused if it
  exists: nothing the user made is overwritten);
* the test data are ``--data FILE.npz`` (arrays ``X`` and optionally ``y``) or the job
  config's dataset (its test split);
* ``report.md`` holds the comparison and the firmware report (:func:`kappa.firmware_report`,
  its table and ``firmware_cost.png``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..safety import strict_json


@dataclass
class ModelJobResult:
    """What the job produced: project directory, comparison report, firmware report."""

    project_dir: Path
    report: object
    firmware: object
    precision_path: Path | None


def load_test_data(path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y or None)`` from an ``.npz`` file with arrays ``X`` and optionally ``y``.

    Raises:
        FileNotFoundError: no such file. ValueError: not ``.npz`` or no ``X``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"test data file {str(path)!r} does not exist")
    if path.suffix != ".npz":
        raise ValueError(f"test data {str(path)!r}: give an .npz file with arrays X (and optionally y)")
    with np.load(path, allow_pickle=False) as z:
        if "X" not in z:
            raise ValueError(f"{str(path)!r} has arrays {sorted(z.files)}; it needs X (and optionally y)")
        return np.asarray(z["X"], np.float64), (np.asarray(z["y"]) if "y" in z else None)


def without_final_softmax(model):
    """``model`` up to its logits: a trailing ``Activation('softmax')`` layer is cut, a last
    layer's ``activation='softmax'`` set to linear (in place). Returns the model and whether
    anything was removed."""
    import keras

    last = model.layers[-1]
    act = getattr(last, "activation", None)
    if getattr(act, "__name__", None) == "softmax":
        if isinstance(last, keras.layers.Activation):
            return keras.Model(model.inputs, model.layers[-2].output, name=model.name), True
        last.activation = keras.activations.linear
        return model, True
    return model, False


def qkeras_reference(qmodel, X, drop_softmax: bool) -> np.ndarray:
    """What a QKeras model's own ``predict`` gives on ``X`` (up to its logits with
    ``drop_softmax``): the reference its firmware is compared with (not an unquantized copy)."""
    if drop_softmax:
        qmodel, _ = without_final_softmax(qmodel)
    return np.asarray(qmodel.predict(np.asarray(X, np.float32), verbose=0), np.float64)


def run_model_job(model_path, output=None, *, weights=None, precision=None, suggest: bool = False,
                  data=None, dataset_cfg: dict | None = None, split: dict | None = None, drop_softmax: bool = False,
                  suggest_bits: int = 16, force: bool = False, hls_opts: dict | None = None, synth: bool = False,
                  vsynth: bool = False, progress: bool = True) -> ModelJobResult:
    """Convert an existing model (no training), C-simulate, compare, and report.

    Args:
        model_path: ``.keras``, whole-model ``.h5``, or Keras 2 ``.json`` (then ``weights``).
        output: the project directory (default ``./vivado_projects/<model file stem>`` in the current directory).
        weights: HDF5 weights of a ``.json`` architecture.
        precision: ``.yaml``/``.json`` PrecisionDict path (required unless the model has
            QKeras layers); with ``suggest`` the file to write (after the project is
            complete; refused up front if it exists).
        suggest: types from :func:`kappa.suggest_precision` (``suggest_bits`` wide) on the
            test inputs.
        data: ``.npz`` with ``X`` (and ``y``); else ``dataset_cfg``/``split`` (a job config's
            ``dataset``/``split``) give the test split.
        drop_softmax: compare at the logits (a final softmax is left out).
        force: replace an existing kappa project directory (never the precision file).
        hls_opts: ``backend``, ``part``, ``clock_period``, ``io_type``, ``strategy``,
            ``reuse_factor`` (None or absent: the defaults), validated first.
        synth, vsynth: HLS (and Vivado) synthesis afterwards; the tools are looked for first.

    Raises:
        ValueError / FileNotFoundError / FileExistsError: bad input, found before any
        conversion (bad options, missing precision, an existing file to be written, data
        whose shape does not fit the model). The project is written to a staging directory,
        C-simulated and reported there, and moved into place at the end.
    """
    from kappa import datasets, firmware_report, from_qkeras, load_model, suggest_precision
    from kappa.precision import PrecisionDict
    from kappa.qkeras import has_qkeras_layers

    from ..project.convert import convert
    from ..project.options import BACKENDS, HLS_DEFAULTS, IO_TYPES, STRATEGIES
    from ..safety import check_hls_options, check_replaceable
    from ..sim.compare import compare
    from .paths import default_projects_dir

    say = print if progress else (lambda *a, **k: None)
    given = {k: v for k, v in (hls_opts or {}).items() if v is not None}
    unknown = set(given) - {"backend", "part", "clock_period", "io_type", "strategy", "reuse_factor"}
    if unknown:
        raise ValueError(f"unknown hls options {sorted(unknown)}")
    defaults = {k: v for k, v in HLS_DEFAULTS.items() if k != "layer_options"}
    hls_opts = check_hls_options(backends=BACKENDS, io_types=IO_TYPES, strategies=STRATEGIES, **{**defaults, **given})
    out = check_replaceable(Path(output) if output else default_projects_dir() / Path(model_path).stem, force)
    if isinstance(suggest_bits, bool) or not isinstance(suggest_bits, int) or not 2 <= suggest_bits <= 32:
        raise ValueError(f"--bits {suggest_bits!r}: give an integer width from 2 to 32")
    ppath = Path(precision) if precision is not None else None
    if suggest:
        if ppath is None:
            raise ValueError("--suggest-precision needs --precision FILE.yaml: the file to write")
        if ppath.exists():
            raise FileExistsError(f"{ppath} exists; --suggest-precision does not overwrite it (remove it, or drop "
                                  "--suggest-precision to use it)")
        if ppath.suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"--precision {str(ppath)!r}: use a .yaml, .yml or .json file")
    elif ppath is not None and not ppath.is_file():
        raise FileNotFoundError(f"PrecisionDict file {str(ppath)!r} does not exist")
    if synth or vsynth:
        from ..vendor.synth import require_tools

        require_tools(hls_opts["backend"], vsynth=vsynth)

    km = load_model(model_path, weights)
    say(f"loaded {model_path}: {len(km.layers)} layers")
    if data is not None:
        X, y = load_test_data(data)
    elif dataset_cfg is not None:
        ds_cfg = dict(dataset_cfg)
        ds = datasets.create(ds_cfg.pop("name"), **ds_cfg)
        sp = split or {}
        _, _, X, y = ds.split(val_fraction=sp.get("val_fraction", 0.25), seed=sp.get("seed", 0))
    else:
        raise ValueError("no test data: give --data FILE.npz or a job config with a dataset")
    in_shape = tuple(int(d) for d in km.inputs[0].shape[1:])
    if tuple(X.shape[1:]) != in_shape:
        raise ValueError(f"test inputs have shape {X.shape}; the model expects (N, {', '.join(map(str, in_shape))})")
    if y is not None and len(y) != len(X):
        raise ValueError(f"the test data have {len(X)} inputs X but {len(y)} targets y")

    reference, reference_name = None, "float"
    if has_qkeras_layers(km):
        twin, P = from_qkeras(km, drop_final_softmax=drop_softmax)
        reference, reference_name = qkeras_reference(km, X, drop_softmax), "QKeras predict"
        km = twin.model
        say("QKeras layers: converted with from_qkeras (types from the quantizers)")
        if ppath is not None and not suggest:
            spec = P.to_dict()
            for layer, fields in PrecisionDict.load(ppath).to_dict().items():
                spec.setdefault(layer, {}).update(fields)
            P = PrecisionDict(spec)
        elif suggest:
            raise ValueError("--suggest-precision with a QKeras model: its quantizers already give the types "
                             "(pass --precision FILE to override entries)")
    else:
        if drop_softmax:
            km, cut = without_final_softmax(km)
            if cut:
                say("final softmax left out: comparing logits")
        if suggest:
            P = suggest_precision(km, X, bits=suggest_bits, io_type=hls_opts["io_type"])
            say(f"types suggested from the ranges on {len(X)} test inputs")
        elif ppath is None:
            raise ValueError("give --precision FILE.yaml (or --suggest-precision --precision FILE.yaml)")
        else:
            P = PrecisionDict.load(ppath)

    holder = {}

    def finish(staging: Path) -> None:
        say("C simulation (g++) ...")
        report = compare(staging, quiet=not progress)
        report.project = out.name
        fw = firmware_report(km, P, X, y, io_type=hls_opts["io_type"], strategy=hls_opts["strategy"],
                             reuse_factor=hls_opts["reuse_factor"], reference=reference,
                             reference_name=reference_name)
        fw.plot(staging / "firmware_cost.png")
        md = report.to_markdown() + "\n" + fw.to_markdown() + "\n![what each layer's types cost](firmware_cost.png)\n"
        (staging / "report.md").write_text(md)
        payload = {"model": str(model_path), "hls": hls_opts, "comparison": report.to_dict(),
                   "firmware": {"metric": fw.metric, "float": fw.float_metric, "firmware": fw.firmware_metric,
                                "flip_rate": fw.flip_rate, "lsb_diff": np.ravel(fw.lsb_diff).tolist(),
                                "output_type": fw.output_type, "layers": [vars(c) for c in fw.layers],
                                "points": [vars(p) for p in fw.points]}}
        (staging / "report.json").write_text(strict_json(payload, indent=2, default=str) + "\n")
        holder["report"], holder["firmware"] = report, fw

    say(f"converting to an hls4ml project in {out}")
    prj = convert(km, P, out, tb_inputs=X, force=force, before_publish=finish, **hls_opts)
    if suggest:
        P.save(ppath)
        say(f"wrote {ppath}")
    if synth or vsynth:
        from ..vendor.synth import run_synthesis

        run_synthesis(prj, backend=hls_opts["backend"], csynth=True, vsynth=vsynth)
    return ModelJobResult(prj, holder["report"], holder["firmware"], ppath)
