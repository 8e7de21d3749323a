"""The main job: dataset -> model + PrecisionDict -> fixed-point training -> HLS project
-> C simulation -> bit-exact comparison report.

A job is described by a YAML file (``configs/*.yaml``); :data:`DEFAULT_CONFIG` is the
built-in default (the digits classifier 64 -> 32 ReLU -> 10).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "digits.yaml"
HLS_KEYS = ("backend", "part", "clock_period", "io_type", "strategy", "reuse_factor", "layer_options")
MODEL_TYPES = ("linear_block", "conv_block")
"""``model.type`` in a job config: ``linear_block`` (:class:`kappa.LinearBlockModel`, the default)
or ``conv_block`` (:class:`kappa.ConvBlockModel`)."""
TOP_KEYS = {"name", "dataset", "split", "model", "training", "precision", "hls"}


def load_config(path: str | Path) -> dict:
    """Read a job YAML file.

    Raises:
        FileNotFoundError: no such file. ValueError: unknown top-level keys or missing ones.
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"job config {str(path)!r} does not exist (shipped: {sorted(p.name for p in (REPO / 'configs').glob('*.yaml'))})")
    cfg = yaml.safe_load(path.read_text()) or {}
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    missing = {"name", "dataset", "model", "precision"} - set(cfg)
    if missing:
        raise ValueError(f"{path}: missing keys {sorted(missing)}")
    cfg.setdefault("hls", {})
    cfg.setdefault("training", {})
    cfg.setdefault("split", {"val_fraction": 0.25, "seed": 0})
    return cfg


@dataclass
class JobResult:
    """What a job produced: project directory, comparison report, training history (or None)."""

    project_dir: Path
    report: object
    history: object | None


def run_job(cfg: dict, output: str | Path | None = None, *, force: bool = False, weights: str | Path | None = None,
            overrides: dict | None = None, synth: bool = False, vsynth: bool = False, progress: bool = True) -> JobResult:
    """Run a job end to end.

    Args:
        cfg: a config dict from :func:`load_config`.
        output: project directory (default ``vivado_projects/<name>``).
        force: replace an existing project directory.
        weights: a ``.keras`` file to use instead of training.
        overrides: HLS options (``backend``, ``part``, ``clock_period``, ``io_type``,
            ``strategy``, ``reuse_factor``) that take precedence over the config.
        synth, vsynth: run HLS (and Vivado logic) synthesis after C simulation; the vendor
            tools are looked for first, before any work.
        progress: show progress bars and messages.

    Returns:
        JobResult.

    Raises:
        FileExistsError: the project exists and ``force`` is False (checked before training).
        hls.synth.VendorToolNotFoundError: ``synth`` without the vendor tools.
        ValueError / RuntimeError / hls.csim.CsimError: as the steps they come from.
    """
    import keras

    from kappa import datasets
    from kappa.nn import ConvBlockModel, KerasModel, LinearBlockModel
    from kappa.precision import PrecisionDict

    from .compare import compare
    from .convert import convert

    cfg = copy.deepcopy(cfg)
    hls_opts = {**cfg.get("hls", {}), **{k: v for k, v in (overrides or {}).items() if v is not None}}
    unknown = set(hls_opts) - set(HLS_KEYS)
    if unknown:
        raise ValueError(f"unknown hls options {sorted(unknown)}; valid: {', '.join(HLS_KEYS)}")
    out = Path(output) if output else REPO / "vivado_projects" / cfg["name"]
    if out.exists() and not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it")
    if synth or vsynth:
        from .synth import require_tools

        require_tools(hls_opts.get("backend", "Vitis"), vsynth=vsynth)
    say = print if progress else (lambda *a, **k: None)

    ds_cfg = dict(cfg["dataset"])
    ds = datasets.create(ds_cfg.pop("name"), **ds_cfg)
    sp = cfg.get("split") or {}
    X_tr, Y_tr, X_te, Y_te = ds.split(val_fraction=sp.get("val_fraction", 0.25), seed=sp.get("seed", 0))
    precision = PrecisionDict(cfg["precision"])
    history = None
    if weights is not None:
        km = keras.models.load_model(weights, compile=False)
        model = KerasModel(km, dataset=ds)
        say(f"loaded weights from {weights} (training skipped)")
    else:
        mcfg = dict(cfg["model"])
        mtype = mcfg.pop("type", "linear_block")
        if mtype not in MODEL_TYPES:
            raise ValueError(f"model.type {mtype!r} is not known; valid: {', '.join(MODEL_TYPES)}")
        model = (ConvBlockModel if mtype == "conv_block" else LinearBlockModel)(dataset=ds, **mcfg)
        tcfg = dict(cfg.get("training") or {})
        say(f"training {cfg['name']}: {X_tr.shape[0]} samples, PrecisionDict with {len(precision.layers)} entries")
        tcfg.setdefault("io_type", hls_opts.get("io_type", "io_parallel"))
        tcfg.setdefault("layer_options", hls_opts.get("layer_options"))
        history = model.train_instrumented(X_tr, Y_tr, precision_dict=precision, progress=progress, **tcfg)
        s = history.summary()
        say(f"training done: {s}")
        if s.get("diverged_at_step") is not None:
            raise RuntimeError(f"training diverged at step {s['diverged_at_step']}; lower the learning rate in the config")
    km = model.model

    say(f"converting to an hls4ml project in {out}")
    prj = convert(km, precision, out, tb_inputs=X_te, force=force, **hls_opts)
    say("C simulation (g++) ...")
    report = compare(prj, quiet=not progress)

    # Reports beside the project: what a reader of the project wants first.
    extra = {}
    Yq = np.loadtxt(prj / "tb_data" / "tb_output_predictions.dat", ndmin=2)
    if Y_te.ndim == 2 and Y_te.shape[1] > 1:
        Yf = model.predict(X_te).reshape(len(X_te), -1)
        extra["test_accuracy_float"] = float(np.mean(np.argmax(Yf, 1) == np.argmax(Y_te, 1)))
        extra["test_accuracy_quantized"] = float(np.mean(np.argmax(Yq, 1) == np.argmax(Y_te, 1)))
        extra["argmax_agreement_float_vs_firmware"] = float(np.mean(np.argmax(Yq, 1) == np.argmax(Yf, 1)))
    else:
        extra["test_rmse_quantized"] = float(np.sqrt(np.mean((Yq - Y_te.reshape(Yq.shape)) ** 2)))
    payload = {"config": cfg, "hls": hls_opts, "comparison": report.to_dict(), **extra}
    if history is not None:
        payload["training"] = history.summary()
        fig = history.plot_results()
        fig.savefig(prj / "training_curves.png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
    (prj / "report.json").write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    md = report.to_markdown()
    md += "\n" + "\n".join(f"- {k}: {v:.4f}" for k, v in extra.items()) + "\n"
    if history is not None:
        md += "\n![training curves](training_curves.png)\n"
    (prj / "report.md").write_text(md)
    if synth or vsynth:
        from .synth import run_synthesis

        run_synthesis(prj, backend=hls_opts.get("backend", "Vitis"), csynth=True, vsynth=vsynth)
    return JobResult(prj, report, history)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
