"""Validate a whole job config before any work starts (the main job's fail-fast step).

:func:`prepare_job` checks every key, type and value of a job config (dataset, split,
model, training, precision, hls), builds the dataset and the model, checks the
PrecisionDict against the model (layer names, S_RND, every firmware type present, layer
support, layer names usable in C++), the output path (safe name, confinement,
ownership), a ``--weights`` file, and that g++ (and, for synthesis, the vendor tools) are
present. All problems are reported in one :class:`JobConfigError` naming the file and
the key. Numbers written as strings (YAML 1.1 reads ``1e-3`` as a string) are accepted
where a number is expected.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project.options import HLS_DEFAULTS, IO_TYPES, JOB_BACKENDS, RTL_BACKEND, STRATEGIES
from ..safety import (
    as_number,
    check_choice,
    check_clock_period,
    check_layer_name,
    check_name,
    check_part,
    check_replaceable,
    check_reuse_factor,
    confined,
)
from .paths import DEFAULT_CONFIG_NAME, resolve_config, shipped_config
from .schema import (
    HLS_ALIASES,
    HLS_KEYS,
    MODEL_ACTIVATIONS,
    MODEL_TYPES,
    OUTPUT_ACTIVATIONS,
    REQUIRED_KEYS,
    RTL_DEFAULTS,
    RTL_KEYS,
    SPLIT_DEFAULTS,
    SPLIT_KEYS,
    TOP_KEYS,
    canonical_hls_key,
    did_you_mean,
    model_keys,
    training_parameters,
)

DEFAULT_CONFIG = shipped_config(DEFAULT_CONFIG_NAME)
"""The built-in default job (the digits classifier 64 -> 32 ReLU -> 10), shipped as package data."""


def load_config(path: str | Path) -> dict:
    """Read a job YAML file (its content is validated by :func:`run_job`, all at once).

    ``path``: a file (relative to the current directory) or a shipped config's name
    (:func:`hls.jobs.paths.resolve_config`).

    Raises:
        FileNotFoundError: no such file or name (lists the shipped configs). ValueError: malformed
            YAML (names the file, line and column) or a file that does not hold a mapping.
    """
    from kappa.inputs import read_structured_file

    path = resolve_config(path)
    cfg = read_structured_file(path, what="job config")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise ValueError(
            f"job config {str(path)!r} must hold a mapping with keys {', '.join(TOP_KEYS)}, got {type(cfg).__name__}"
        )
    return cfg


class JobConfigError(ValueError):
    """Every problem found in a job config; ``problems`` is a list of ``"key: message"``."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, list(problems)
        n = len(self.problems)
        super().__init__(f"{source}: {n} problem{'s' if n > 1 else ''}: " + "; ".join(self.problems))


@dataclass
class PreparedJob:
    """A validated job: everything the run needs, built once.

    Attributes:
        cfg: the config with numbers normalised. source: file name for messages.
        dataset, X_tr, Y_tr, X_te, Y_te: the dataset and its split (arrays (N, ...)).
        model: the kappa model to train (or the ``--weights`` model wrapped).
        precision: the PrecisionDict. hls: HLS options (validated). training: keyword
            arguments of ``train_instrumented``. output: project directory (absolute).
        weights: the ``--weights`` path or None.
    """

    cfg: dict
    source: str
    dataset: Any
    X_tr: Any
    Y_tr: Any
    X_te: Any
    Y_te: Any
    model: Any
    precision: Any
    hls: dict
    training: dict
    output: Path
    weights: Path | None


class _Problems(list):
    def add(self, key: str, msg: str) -> None:
        self.append(f"{key}: {msg}")


def _as_int(v, key, probs, *, minimum=None, allow_none=False):
    if v is None and allow_none:
        return None
    try:
        x = as_number(v, key)
    except ValueError:
        probs.add(key, f"expected an integer, got {v!r}")
        return None
    if not (math.isfinite(x) and x == int(x)):
        probs.add(key, f"expected an integer, got {v!r}")
        return None
    if minimum is not None and x < minimum:
        probs.add(key, f"must be >= {minimum}, got {v!r}")
        return None
    return int(x)


def _as_float(v, key, probs):
    try:
        x = as_number(v, key)
    except ValueError:
        probs.add(key, f"expected a number, got {v!r}")
        return None
    if not math.isfinite(x):
        probs.add(key, f"expected a finite number, got {v!r}")
        return None
    return x


def _as_bool(v, key, probs):
    if not isinstance(v, bool):
        probs.add(key, f"expected true or false, got {v!r}")
        return None
    return v


def _coerce_like(default, v, key, probs):
    """Coerce ``v`` to the type of a parameter's default value."""
    if isinstance(default, bool):
        return _as_bool(v, key, probs)
    if isinstance(default, int):
        return _as_int(v, key, probs)
    if isinstance(default, float):
        return _as_float(v, key, probs)
    if isinstance(default, str):
        if not isinstance(v, str):
            probs.add(key, f"expected a string, got {v!r}")
            return None
        return v
    return v


def _section(cfg, name, probs) -> dict:
    sec = cfg.get(name)
    if sec is None:
        return {}
    if not isinstance(sec, dict):
        probs.add(name, f"expected a mapping of keys, got {sec!r}")
        return {}
    bad = [k for k in sec if not isinstance(k, str)]
    for k in bad:
        probs.add(f"{name}.{k!r}", "keys must be strings")
    return {k: v for k, v in sec.items() if isinstance(k, str)}


def _unknown(sec, valid, prefix, probs, aliases=()) -> None:
    for k in sec:
        if k not in valid and k not in aliases:
            probs.add(f"{prefix}.{k}", f"unknown key; {did_you_mean(k, [*valid, *aliases])}valid: {', '.join(valid)}")


def _check_dataset(cfg, probs):
    from kappa import datasets

    sec = _section(cfg, "dataset", probs)
    if "name" not in sec:
        probs.add("dataset.name", f"missing; valid: {', '.join(datasets.list_datasets())}")
        return None, {}
    name = sec["name"]
    if not isinstance(name, str) or name not in datasets.list_datasets():
        probs.add("dataset.name", f"unknown dataset {name!r}; valid: {', '.join(datasets.list_datasets())}")
        return None, {}
    factory = datasets.factory(name)
    params = {
        p.name: p
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not p.name.startswith("_")
    }
    args, n0 = {}, len(probs)
    for k, v in sec.items():
        if k == "name":
            continue
        if k not in params:
            probs.add(f"dataset.{k}", f"unknown argument of dataset {name!r}; {did_you_mean(k, params)}"
                                      f"valid: {', '.join(params)}")
            continue
        d = params[k].default
        if k in ("seed", "num_samples"):
            args[k] = _as_int(v, f"dataset.{k}", probs, allow_none=True)
        else:
            args[k] = _coerce_like(d, v, f"dataset.{k}", probs) if d is not inspect.Parameter.empty else v
    if len(probs) > n0:
        return None, args
    try:
        return factory(**args), args
    except (ValueError, TypeError) as exc:
        probs.add("dataset", str(exc))
        return None, args


def _check_split(cfg, probs) -> dict:
    sec = _section(cfg, "split", probs)
    _unknown(sec, SPLIT_KEYS, "split", probs)
    out = dict(SPLIT_DEFAULTS)
    if "val_fraction" in sec:
        v = _as_float(sec["val_fraction"], "split.val_fraction", probs)
        if v is not None and not 0 < v < 1:
            probs.add("split.val_fraction", f"must be in (0, 1), got {sec['val_fraction']!r}")
        out["val_fraction"] = v
    if "seed" in sec:
        out["seed"] = _as_int(sec["seed"], "split.seed", probs, allow_none=True)
    return out


def _check_model_section(cfg, probs) -> tuple[dict, bool]:
    """Returns the model arguments and whether all their values are valid."""
    sec = dict(_section(cfg, "model", probs))
    mtype = sec.pop("type", "linear_block")
    if mtype not in MODEL_TYPES:
        probs.add("model.type", f"unknown model type {mtype!r}; valid: {', '.join(MODEL_TYPES)}")
        return {}, False
    _unknown(sec, model_keys(mtype), "model", probs)
    n0 = len(probs)  # unknown keys are reported but the known ones still build the model
    out = {"type": mtype}
    for k in ("filters", "dense_hidden"):
        if k in sec:
            v = sec[k]
            if not isinstance(v, list):
                probs.add(f"model.{k}", f"expected a list of positive integers such as [8], got {v!r}")
            else:
                out[k] = [_as_int(u, f"model.{k}[{i}]", probs, minimum=1) for i, u in enumerate(v)]
    for k in ("kernel_size", "strides", "pool_size"):
        if k in sec:
            out[k] = _as_int(sec[k], f"model.{k}", probs, minimum=1)
    if "conv_dims" in sec:
        out["conv_dims"] = _as_int(sec["conv_dims"], "model.conv_dims", probs, allow_none=True)
    for k, valid in (("padding", ("valid", "same")), ("pool", (None, "max", "average"))):
        if k in sec:
            if sec[k] not in valid:
                probs.add(
                    f"model.{k}",
                    f"unsupported value {sec[k]!r}; valid: {', '.join('null' if v is None else v for v in valid)}",
                )
            out[k] = sec[k]
    if "num_hidden" in sec:
        nh = sec["num_hidden"]
        if not isinstance(nh, list):
            probs.add("model.num_hidden", f"expected a list of layer widths such as [32], got {nh!r}")
        else:
            widths = [_as_int(u, f"model.num_hidden[{i}]", probs, minimum=1) for i, u in enumerate(nh)]
            out["num_hidden"] = widths
    if "activation" in sec:
        a = sec["activation"]
        if a not in MODEL_ACTIVATIONS:
            probs.add(
                "model.activation",
                f"unsupported activation {a!r}; valid: null, relu, linear "
                "(others are not emulated bit for bit in firmware)",
            )
        out["activation"] = a
    if "output_activation" in sec:
        a = sec["output_activation"]
        if a not in OUTPUT_ACTIVATIONS:
            probs.add(
                "model.output_activation",
                f"unsupported output activation {a!r}; valid: "
                f"{', '.join('null' if v is None else v for v in OUTPUT_ACTIVATIONS)}",
            )
        out["output_activation"] = a
    for k in ("use_bias", "use_batchnorm"):
        if k in sec:
            out[k] = _as_bool(sec[k], f"model.{k}", probs)
    if "seed" in sec:
        out["seed"] = _as_int(sec["seed"], "model.seed", probs, allow_none=True)
    if "name" in sec:
        if not isinstance(sec["name"], str):
            probs.add("model.name", f"expected a string, got {sec['name']!r}")
        out["name"] = sec["name"]
    return out, len(probs) == n0


def _check_training(cfg, probs) -> dict:
    from kappa import training as tr

    sec = _section(cfg, "training", probs)
    params = training_parameters()
    out, n0 = {}, len(probs)
    for k, v in sec.items():
        if k not in params:
            probs.add(f"training.{k}", f"unknown key; {did_you_mean(k, params)}valid: {', '.join(params)}")
            continue
        d = params[k].default
        if k == "seed":
            out[k] = _as_int(v, "training.seed", probs, allow_none=True)
        elif k in ("epochs", "batch_size", "steps_per_call"):
            out[k] = _as_int(v, f"training.{k}", probs, minimum=0 if k == "epochs" else 1)
        else:
            out[k] = _coerce_like(d, v, f"training.{k}", probs)
    if len(probs) == n0:
        full = {
            k: out.get(k, params[k].default)
            for k in (
                "epochs",
                "batch_size",
                "learning_rate",
                "loss_mode",
                "curvature_mode",
                "optimizer",
                "curvature_ema_rho",
                "chi",
                "alpha_min",
                "beta",
            )
        }
        try:
            tr.check_args(**full)
        except (ValueError, TypeError) as exc:
            probs.add("training", str(exc))
        try:  # the λ_max options (the subset is checked against the data when training starts)
            from kappa.sharpness_tracker import check_hessian_args

            opt = {k: out.get(k, params[k].default) for k in ("hessian_every", "hessian_iters", "hessian_tol",
                                                              "hessian_method", "throttle_curvature")}
            check_hessian_args(opt["hessian_every"], opt["hessian_iters"], None, opt["hessian_tol"],
                               opt["hessian_method"], opt["throttle_curvature"], 1)
        except (ValueError, TypeError) as exc:
            probs.add("training", str(exc))
    return out


def _check_layer_options_shape(v):
    if not isinstance(v, dict) or not all(isinstance(o, dict) for o in v.values()):
        raise ValueError(f"expected a mapping {{layer name: {{option: value}}}}, got {v!r}")
    return v


def _check_flag(v):
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _check_cutoff(v):
    x = as_number(v, "latency_cutoff")
    if not 0 <= x < 1e6:
        raise ValueError(f"latency_cutoff must be >= 0 (da4ml's delay budget per pipeline stage), got {v!r}")
    return x


HLS_CHECKS = {
    "backend": lambda v: check_choice(v, JOB_BACKENDS, "backend", ignore_case=True),
    "part": check_part,
    "clock_period": check_clock_period,
    "io_type": lambda v: check_choice(v, IO_TYPES, "io_type"),
    "strategy": lambda v: check_choice(v, STRATEGIES, "strategy", ignore_case=True),
    "reuse_factor": check_reuse_factor,
    "layer_options": _check_layer_options_shape,
    "drop_softmax": _check_flag,
    "latency_cutoff": _check_cutoff,
}
"""``hls.<key>`` -> its validator (returns the normalised value, raises ValueError)."""


def check_hls_value(key: str, value):
    """Validate one HLS option as the job does (``key`` one of :data:`hls.jobs.schema.HLS_KEYS`
    or hls4ml's spelling of it, :data:`hls.jobs.schema.HLS_ALIASES`).

    Returns:
        The normalised value (e.g. ``"4"`` -> 4 for ``reuse_factor``).

    Raises:
        ValueError: an unknown key or a bad value (names it and what is valid).
    """
    key = canonical_hls_key(key)
    if key not in HLS_CHECKS:
        raise ValueError(f"unknown hls option {key!r}; {did_you_mean(key, [*HLS_KEYS, *HLS_ALIASES])}"
                         f"valid: {', '.join(HLS_KEYS)} (or hls4ml's {', '.join(HLS_ALIASES)})")
    return HLS_CHECKS[key](value)


def _check_hls(cfg, overrides, probs) -> dict:
    sec = _section(cfg, "hls", probs)
    _unknown(sec, HLS_KEYS, "hls", probs, aliases=HLS_ALIASES)
    opts = dict(HLS_DEFAULTS, layer_options={}, **RTL_DEFAULTS)
    src = {k: f"hls.{k}" for k in HLS_KEYS}
    seen = {}
    for k, v in sec.items():
        key = canonical_hls_key(k)
        if key in seen:
            probs.add(f"hls.{k}", f"the same option as hls.{seen[key]}; give it once")
        elif key in HLS_KEYS:
            opts[key], src[key], seen[key] = v, f"hls.{k}", k
    for k, v in (overrides or {}).items():
        if v is not None:
            if k not in HLS_KEYS:
                probs.add(k, f"unknown hls option; valid: {', '.join(HLS_KEYS)}")
                continue
            opts[k], src[k] = v, f"--{k.replace('_', '-')}"
    for k, check in HLS_CHECKS.items():
        try:
            opts[k] = check(opts[k])
        except ValueError as exc:
            probs.add(src[k], str(exc))
    if opts["backend"] == RTL_BACKEND:
        _check_rtl_options(opts, src, probs)
    else:
        for k in RTL_KEYS:
            if opts.get(k) != RTL_DEFAULTS[k]:
                probs.add(src[k], f"applies to the RTL backend only (backend: {RTL_BACKEND}, --backend {RTL_BACKEND})")
    return opts


def _check_rtl_options(opts: dict, src: dict, probs) -> None:
    """The RTL backend builds one fully parallel pipeline computing the ``distributed_arithmetic``
    arithmetic: io_parallel, reuse factor 1; the strategy becomes ``distributed_arithmetic``
    (recorded in ``opts["strategy_note"]``, printed by the job, when another was set)."""
    if opts.get("io_type") != "io_parallel":
        probs.add(src["io_type"], f"the RTL backend builds one fully parallel pipeline: use io_parallel, "
                                  f"not {opts.get('io_type')!r}")
    if opts.get("reuse_factor") != 1:
        probs.add(src["reuse_factor"], f"the RTL backend needs reuse_factor 1, got {opts.get('reuse_factor')!r}")
    if opts.get("strategy") != "distributed_arithmetic":
        opts["strategy_note"] = (f"backend {RTL_BACKEND}: the design computes the distributed_arithmetic arithmetic "
                                 f"(exact matrix products, accumulator types unused); strategy "
                                 f"{opts.get('strategy')!r} ({src['strategy']}) replaced")
        opts["strategy"] = "distributed_arithmetic"


def prepare_job(
    cfg: Any,
    *,
    source: str = "job config",
    output=None,
    force: bool = False,
    weights=None,
    overrides: dict | None = None,
    synth: bool = False,
    vsynth: bool = False,
    projects_dir: Path | None = None,
    check_output: bool = True,
) -> PreparedJob:
    """Validate the whole job and build its dataset and model (no training, nothing written).

    Args:
        cfg: the config mapping (from :func:`hls.jobs.config.load_config`).
        source: config file name used in messages.
        output: project directory (default ``<projects_dir>/<name>``, confined to
            ``projects_dir``). force: allow replacing an existing kappa project there.
        weights: a ``.keras`` file to convert instead of training.
        overrides: HLS options from the command line (None values ignored).
        synth, vsynth: check the vendor tools too.
        projects_dir: where ``output=None`` puts the project (default ``./vivado_projects``
            in the current directory).
        check_output: False skips the output path checks (a sweep validates its points
            before their folders exist).

    Returns:
        :class:`PreparedJob`.

    Raises:
        JobConfigError: every problem found, each as ``key: message``, in one error.
    """
    from kappa.precision import PrecisionDict

    probs = _Problems()
    if projects_dir is None:
        from .paths import default_projects_dir

        projects_dir = default_projects_dir()
    if not isinstance(cfg, dict):
        raise JobConfigError(source, [f"(top level): expected a mapping of {', '.join(TOP_KEYS)}, got {cfg!r:.100}"])
    for k in cfg:
        if k not in TOP_KEYS:
            probs.add(str(k), f"unknown key; {did_you_mean(k, TOP_KEYS)}valid: {', '.join(TOP_KEYS)}")
    for k in REQUIRED_KEYS:
        if k not in cfg:
            probs.add(k, "missing")

    # ---- name and output path
    out = None
    name = cfg.get("name")
    if "name" in cfg:
        try:
            if output is None and check_output:
                out = confined(projects_dir, name, "name")
            else:
                check_name(name, "name")
        except ValueError as exc:
            probs.add("name", str(exc))
    if output is not None:
        out = Path(output)
    if out is not None and check_output:
        try:
            out = check_replaceable(out, force)
        except FileExistsError as exc:
            probs.add("output", str(exc))

    ds, _ = _check_dataset(cfg, probs) if "dataset" in cfg else (None, {})
    split = _check_split(cfg, probs)
    mcfg, model_ok = _check_model_section(cfg, probs)
    tcfg = _check_training(cfg, probs)
    hls_opts = _check_hls(cfg, overrides, probs)

    precision = None
    if "precision" in cfg:
        spec = cfg["precision"]
        try:
            precision = PrecisionDict(spec if spec is not None else {})
        except ValueError as exc:
            probs.add("precision", str(exc))

    # ---- the model (built, not trained) and everything checked against it
    model = None
    wpath = Path(weights) if weights is not None else None
    if wpath is not None:
        model = _load_weights(wpath, ds, probs)
    elif ds is not None and model_ok:
        from kappa.nn import ConvBlockModel, LinearBlockModel

        margs = dict(mcfg)
        cls = ConvBlockModel if margs.pop("type", "linear_block") == "conv_block" else LinearBlockModel
        try:
            model = cls(dataset=ds, **margs)
        except (ValueError, TypeError) as exc:
            probs.add("model", str(exc))
    if model is not None:
        _check_against_model(model.model, precision, hls_opts, probs)

    # ---- tools
    from ..sim.csim import CsimError, find_compiler

    try:
        find_compiler()
    except CsimError as exc:
        probs.add("tools", str(exc))
    if hls_opts.get("backend") == RTL_BACKEND:
        from .rtl_job import missing_rtl_tools

        for msg in missing_rtl_tools():
            probs.add("tools", msg)
        if synth or vsynth:
            probs.add("--synth", f"vendor synthesis runs on HLS projects; the {RTL_BACKEND} backend runs Yosys itself")
    elif synth or vsynth:
        from ..vendor.synth import VendorToolNotFoundError, require_tools

        try:
            require_tools(hls_opts.get("backend", "Vitis"), vsynth=vsynth)
        except (VendorToolNotFoundError, ValueError) as exc:
            probs.add("tools", str(exc))

    if probs:
        raise JobConfigError(source, probs)
    X_tr, Y_tr, X_te, Y_te = ds.split(val_fraction=split["val_fraction"], seed=split["seed"])
    norm = dict(cfg, split=split, training=tcfg, hls=hls_opts)
    return PreparedJob(norm, source, ds, X_tr, Y_tr, X_te, Y_te, model, precision, hls_opts, tcfg, out, wpath)


def _load_weights(path: Path, ds, probs):
    import keras

    from kappa.nn import KerasModel

    if not path.is_file():
        probs.add("--weights", f"{str(path)!r} does not exist" if not path.exists() else f"{str(path)!r} is not a file")
        return None
    import zipfile

    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        probs.add(
            "--weights",
            f"{str(path)!r} is not a Keras model archive (a .keras file is a zip archive; this "
            "one is corrupt or of another format); pass a .keras file saved with model.save()",
        )
        return None
    from kappa import model_files

    try:  # member sizes and compression ratio checked before Keras extracts anything
        model_files.open_archive(path, model_files.weight_budget()).close()
    except ValueError as exc:
        probs.add("--weights", str(exc))
        return None
    try:
        km = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for corrupt archives
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        probs.add(
            "--weights",
            f"cannot read Keras model file {str(path)!r} ({type(exc).__name__}: {first[:200]}); "
            "pass a .keras file saved with model.save()",
        )
        return None
    try:
        return KerasModel(km, dataset=ds)
    except ValueError as exc:
        probs.add("--weights", f"{path}: {exc}")
        return None


def _check_against_model(km, precision, hls_opts, probs) -> None:
    from kappa.firmware_forward import firmware_plan
    from kappa.layers import FirmwareOptions, build_plan

    from ..project.convert import firmware_types

    for layer in km.layers:
        try:
            check_layer_name(layer.name)
        except ValueError as exc:
            probs.add("model", str(exc))
    try:
        opts = FirmwareOptions(
            *(
                hls_opts.get(k, d)
                for k, d in (("io_type", "io_parallel"), ("strategy", "Latency"), ("reuse_factor", 1))
            ),
            hls_opts.get("layer_options") or {},
        )
    except ValueError:
        opts = FirmwareOptions()  # the bad option itself is reported by _check_hls
    try:
        build_plan(km, strict=True, opts=opts)  # layers the firmware supports, with these options
    except ValueError as exc:
        probs.add("model", str(exc))
        return
    if precision is None:
        return
    try:
        firmware_types(firmware_plan(km, precision, opts))  # the conversion's own checks, nothing written
    except ValueError as exc:
        probs.add("precision", str(exc).replace("\n  ", " ").replace("\n", " "))
        return
    if hls_opts.get("backend") == RTL_BACKEND:
        from .rtl_job import check_rtl_model

        try:
            check_rtl_model(km, precision, hls_opts)  # the untrained model, traced as the RTL backend will
        except ImportError as exc:
            probs.add("tools", f"the RTL backend needs da4ml: {exc}")
        except ValueError as exc:
            probs.add("model", f"RTL backend: {exc}")
