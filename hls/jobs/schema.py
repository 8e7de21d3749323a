"""The job config schema: every key of a job YAML file, once.

Used by the job's validation (:mod:`hls.jobs.config`), the sweep file's dotted keys
(:mod:`hls.sweep.spec`) and the error messages of both, so they accept the same keys.
"""

from __future__ import annotations

TOP_KEYS = ("name", "dataset", "split", "model", "training", "precision", "hls")
"""The sections of a job config, in the order messages list them."""
REQUIRED_KEYS = ("name", "dataset", "model", "precision")
RTL_KEYS = ("drop_softmax", "latency_cutoff")
"""``hls`` keys of the RTL backend only (``backend: rtl``): leave out a final softmax (the design
outputs logits), da4ml's delay budget per pipeline stage."""
RTL_DEFAULTS = {"drop_softmax": False, "latency_cutoff": 5.0}
HLS_KEYS = ("backend", "part", "clock_period", "io_type", "strategy", "reuse_factor", "layer_options", *RTL_KEYS)
SPLIT_KEYS = ("val_fraction", "seed")
SPLIT_DEFAULTS = {"val_fraction": 0.25, "seed": 0}
MODEL_TYPES = ("linear_block", "conv_block")
"""``model.type``: ``linear_block`` (:class:`kappa.LinearBlockModel`, the default) or
``conv_block`` (:class:`kappa.ConvBlockModel`)."""
MODEL_KEYS = ("num_hidden", "activation", "use_bias", "use_batchnorm", "output_activation", "seed", "name")
CONV_MODEL_KEYS = ("filters", "kernel_size", "strides", "padding", "pool", "pool_size", "activation", "dense_hidden",
                   "use_bias", "use_batchnorm", "output_activation", "conv_dims", "seed", "name")
OUTPUT_ACTIVATIONS = (None, "linear", "softmax", "sigmoid", "tanh")
MODEL_ACTIVATIONS = (None, "relu", "linear")
TRAINING_RESERVED = ("model", "X", "Y", "precision_dict", "progress", "reference_A")
"""Arguments of ``train_instrumented`` a config may not set: the job supplies them."""


def model_keys(model_type: str) -> tuple[str, ...]:
    """The ``model`` keys valid for ``model_type`` (besides ``type``).

    Raises:
        ValueError: an unknown model type (names it and the valid ones).
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"unknown model type {model_type!r}; valid: {', '.join(MODEL_TYPES)}")
    return CONV_MODEL_KEYS if model_type == "conv_block" else MODEL_KEYS


def training_parameters() -> dict:
    """The ``training`` keys a config may set: ``{name: inspect.Parameter}`` of
    :func:`kappa.training.train_instrumented`, less :data:`TRAINING_RESERVED` (imports TensorFlow)."""
    import inspect

    from kappa import training

    return {p.name: p for p in inspect.signature(training.train_instrumented).parameters.values()
            if p.name not in TRAINING_RESERVED}


def key_depth(section: str) -> int:
    """Parts of a dotted key into ``section``: ``name`` 1, ``precision`` 3
    (``precision.<layer>.<field>``), every other section 2 (``<section>.<key>``)."""
    return 1 if section == "name" else 3 if section == "precision" else 2


HLS_ALIASES = {"IOType": "io_type", "Strategy": "strategy", "ReuseFactor": "reuse_factor", "Part": "part",
               "ClockPeriod": "clock_period", "Backend": "backend"}
"""hls4ml's own spelling of an ``hls`` option (its config and ``convert_from_keras_model``
keywords) -> kappa's key. Accepted in a job file's ``hls:`` section, a sweep's ``hls.*`` keys
and ``--set hls.*``; values of ``strategy`` and ``backend`` are accepted in any case."""
CASE_INSENSITIVE_HLS = ("strategy", "backend")
"""``hls`` options whose values are matched in any case (as hls4ml does: ``latency``, ``vivado``)."""


def canonical_hls_key(key):
    """kappa's name of an ``hls`` option given in kappa's or hls4ml's spelling (else ``key``)."""
    return HLS_ALIASES.get(key, key)


def did_you_mean(key, valid) -> str:
    """``"did you mean 'x'? "`` for the closest of ``valid`` to ``key`` (difflib, case-folded),
    or ``""`` when nothing is close."""
    import difflib

    if not isinstance(key, str):
        return ""
    folded = {str(v).lower(): v for v in valid}
    close = difflib.get_close_matches(key.lower(), list(folded), n=1, cutoff=0.6)
    return f"did you mean {folded[close[0]]!r}? " if close else ""


def set_dotted(cfg: dict, key: str, value) -> None:
    """Set ``cfg[a][b][c] = value`` for the dotted ``key`` ``"a.b.c"`` (sections created as
    needed; the value is deep-copied). Validation is the job's (:func:`hls.jobs.config.prepare_job`).

    Raises:
        ValueError: an empty part (``"a..b"``), or a part that is a value where a section is needed.
    """
    import copy

    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"key {key!r}: empty part; use dotted keys such as training.epochs")
    node = cfg
    for i, part in enumerate(parts[:-1]):
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ValueError(f"key {key!r}: {'.'.join(parts[:i + 1])} is a value ({node[part]!r}), not a section")
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)
