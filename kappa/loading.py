"""Load a trained model from a file without executing anything the file contains.

:func:`load_model` reads three formats into a Keras 3 model:

* ``.keras`` (Keras 3 zip archive: ``config.json`` + ``model.weights.h5``);
* legacy ``.h5`` holding a whole model (Keras 2: the architecture as JSON in the file's
  ``model_config`` attribute, the weights under ``model_weights``);
* a Keras 2 JSON architecture (``model.to_json()``) plus an HDF5 weights file
  (``save_weights``), the format of hls4ml's example models; both of its layouts: ``config``
  a dict holding ``layers`` (Keras >= 2.2), or ``config`` the plain list of a Sequential
  model's layers (Keras 2.0/2.1).

Functional models are rebuilt as graphs: several inputs (``input_layers``), branches,
merge layers (:data:`MERGE_LAYERS`) and several outputs (``output_layers``), in the
inbound-node formats of Keras 2 and Keras 3.

Layers that are identities at inference (:data:`INFERENCE_NOOPS`: Dropout and its kin,
GaussianNoise, ActivityRegularization) are dropped while the model is rebuilt, as hls4ml
drops them: the returned model is the inference graph, and the next layer takes the
dropped layer's input.

Safety: the architecture is read as JSON and each layer is rebuilt by kappa, by calling the
Keras 3 (or QKeras) constructor of an allow-listed class with allow-listed, literal
arguments. Nothing in the file is imported, evaluated or unpickled: no ``Lambda`` layers,
no custom objects or registered names, no serialized functions (an activation must be one
of :data:`ACTIVATIONS` by name), no QKeras quantizer other than :data:`QUANTIZERS`
(a quantizer written as a string such as ``"quantized_relu(6,0)"`` is parsed with
:func:`ast.literal_eval` of its arguments, never evaluated). Weights are read as plain
arrays (h5py). Anything else is refused with a ValueError naming the layer and its class.
"""

from __future__ import annotations

import ast
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import model_files

KERAS_LAYERS: dict[str, tuple[str, ...]] = {
    "Dense": ("units", "activation", "use_bias"),
    "Conv1D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
               "data_format"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
               "data_format"),
    "MaxPooling1D": ("pool_size", "strides", "padding", "data_format"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling1D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling2D": ("pool_size", "strides", "padding", "data_format"),
    "GlobalMaxPooling1D": ("data_format", "keepdims"),
    "GlobalMaxPooling2D": ("data_format", "keepdims"),
    "GlobalAveragePooling1D": ("data_format", "keepdims"),
    "GlobalAveragePooling2D": ("data_format", "keepdims"),
    "Flatten": (),
    "Reshape": ("target_shape",),
    "Activation": ("activation",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "ZeroPadding1D": ("padding",),
    "ZeroPadding2D": ("padding", "data_format"),
    "Cropping1D": ("cropping",),
    "Cropping2D": ("cropping", "data_format"),
    "UpSampling1D": ("size",),
    "UpSampling2D": ("size", "data_format", "interpolation"),
    "Permute": ("dims",),
    "DepthwiseConv1D": ("kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate", "activation",
                        "use_bias", "data_format"),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate", "activation",
                        "use_bias", "data_format"),
    "SeparableConv1D": ("filters", "kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate",
                        "activation", "use_bias", "data_format"),
    "SeparableConv2D": ("filters", "kernel_size", "strides", "padding", "depth_multiplier", "dilation_rate",
                        "activation", "use_bias", "data_format"),
    "PReLU": ("shared_axes",),
    "Embedding": ("input_dim", "output_dim", "mask_zero"),
    "ThresholdedReLU": ("theta",),
    "Add": (), "Subtract": (), "Multiply": (), "Average": (), "Maximum": (), "Minimum": (),
    "Concatenate": ("axis",),
}
"""Keras layer classes :func:`load_model` rebuilds, with the constructor arguments it reads
(a Keras 2 ``ThresholdedReLU(theta=t)`` becomes Keras 3's ``ReLU(threshold=t)``, the same function)."""

MERGE_LAYERS = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
"""The layers that take several inputs (called on a list of tensors)."""

QKERAS_LAYERS: dict[str, tuple[str, ...]] = {
    "QDense": KERAS_LAYERS["Dense"] + ("kernel_quantizer", "bias_quantizer"),
    "QConv1D": KERAS_LAYERS["Conv1D"] + ("kernel_quantizer", "bias_quantizer"),
    "QConv2D": KERAS_LAYERS["Conv2D"] + ("kernel_quantizer", "bias_quantizer"),
    "QActivation": ("activation",),
    "QBatchNormalization": KERAS_LAYERS["BatchNormalization"] + (
        "beta_quantizer", "gamma_quantizer", "mean_quantizer", "variance_quantizer"),
}
"""QKeras layer classes :func:`load_model` rebuilds (needs the ``qkeras`` package, ``qkeras-v3``)."""

ACTIVATIONS = ("linear", "relu", "softmax", "sigmoid", "tanh", "relu6")
"""Activation names accepted in a file (Keras built-ins; whether kappa emulates them is
decided later, by :func:`kappa.layers.build_plan`)."""

INFERENCE_NOOPS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
                   "AlphaDropout", "GaussianNoise", "ActivityRegularization")
"""Keras layer classes that compute the identity at inference; :func:`load_model` drops them.
hls4ml 1.3.0 drops the dropout ones itself (its Keras 3 ``NoOp`` handler becomes a linear
activation that its optimizer removes; the Keras 2 parser skips ``Dropout``) and has no
handler for ``GaussianNoise`` and ``ActivityRegularization``, so a model keeping those two
could not be converted: dropping them here is what makes such a model convertible."""

QUANTIZER_CLASSES = ("FixedPointQuantizer", "HGQ>FixedPointQuantizer")
"""HGQ proxy-model quantizer layers, rebuilt as :func:`kappa.hgq.quantizer_class` (convert the
model with :func:`kappa.from_hgq`)."""

QUANTIZERS = ("quantized_bits", "quantized_relu", "quantized_po2", "binary", "ternary")
"""QKeras quantizer classes accepted in a file."""

_IGNORED = ("name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_shape")


def _refuse(layer: str, cls: str, why: str) -> ValueError:
    return ValueError(f"cannot load layer {layer!r} ({cls}): {why}")


def _literal(value, layer, cls, key):
    """A plain JSON literal (numbers, strings, booleans, None, lists of them)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float)) for v in value):
        return tuple(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (list, tuple)) for v in value):
        return tuple(_literal(v, layer, cls, key) for v in value)  # ((top, bottom), (left, right))
    raise _refuse(layer, cls, f"argument {key}={value!r} is not a plain literal; kappa does not deserialize "
                              "objects from model files")


def _quantizer(spec, layer, cls, key):
    """Build an allow-listed QKeras quantizer from a dict or a call string; refuse anything else."""
    import qkeras.quantizers as qq

    if spec is None:
        return None
    if isinstance(spec, str):
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", spec, flags=re.S)
        if not m or m.group(1) not in QUANTIZERS:
            raise _refuse(layer, cls, f"{key}={spec!r} is not one of the QKeras quantizers kappa reads "
                                      f"({', '.join(QUANTIZERS)})")
        name, args_src = m.group(1), m.group(2) or ""
        try:
            call = ast.parse(f"f({args_src})", mode="eval").body
            args = [ast.literal_eval(a) for a in call.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        except (SyntaxError, ValueError) as exc:
            raise _refuse(layer, cls, f"{key}={spec!r}: the arguments are not plain literals ({exc})") from None
        return getattr(qq, name)(*args, **kwargs)
    if isinstance(spec, dict):
        name = spec.get("class_name")
        if name not in QUANTIZERS:
            raise _refuse(layer, cls, f"{key} is a {name!r}; kappa reads only the QKeras quantizers "
                                      f"{', '.join(QUANTIZERS)}")
        import inspect

        qcls = getattr(qq, name)
        allowed = set(inspect.signature(qcls.__init__).parameters) - {"self", "var_name", "use_variables"}
        conf = {k: _literal(v, layer, cls, f"{key}.{k}") for k, v in (spec.get("config") or {}).items()
                if k in allowed}
        return qcls(**conf)
    raise _refuse(layer, cls, f"{key}={spec!r} is neither a quantizer name nor a quantizer config")


def _activation_arg(value, layer, cls, quantized: bool):
    if isinstance(value, str) and value in ACTIVATIONS:
        return value
    if quantized and (isinstance(value, dict) or isinstance(value, str)):
        return _quantizer(value, layer, cls, "activation")
    if isinstance(value, dict) and value.get("class_name") == "function" and value.get("config") in ACTIVATIONS:
        return value["config"]  # Keras 3 serializes built-in activations this way
    raise _refuse(layer, cls, f"activation {value!r} is not one of {', '.join(ACTIVATIONS)}"
                  + (f" or a QKeras quantizer ({', '.join(QUANTIZERS)})" if quantized else ""))


def _is_json_data(v) -> bool:
    """Plain JSON data: dicts with string keys, lists, strings, numbers, booleans, None."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, list):
        return all(_is_json_data(a) for a in v)
    return isinstance(v, dict) and all(isinstance(k, str) and _is_json_data(a) for k, a in v.items())


def _make_layer(spec: dict):
    """One Keras/QKeras layer from its JSON spec (allow-listed class and arguments only)."""
    import keras

    cls = spec.get("class_name")
    conf = spec.get("config") or {}
    name = conf.get("name") or spec.get("name") or "?"
    if cls in KERAS_LAYERS:
        keys, quantized = KERAS_LAYERS[cls], False
        ctor = getattr(keras.layers, cls) if cls != "ThresholdedReLU" else \
            (lambda name, theta=1.0: keras.layers.ReLU(threshold=theta, name=name))
    elif cls in QKERAS_LAYERS:
        keys, quantized = QKERAS_LAYERS[cls], True
        try:
            import qkeras
        except ImportError:  # pragma: no cover - qkeras-v3 is a dependency
            raise _refuse(name, cls, "QKeras layers need the qkeras-v3 package (pip install qkeras-v3)") from None
        ctor = getattr(qkeras, cls)
    elif cls in QUANTIZER_CLASSES:  # an HGQ proxy model's quantizer: kappa's own rebuild (kappa.hgq)
        from .hgq import quantizer_class

        overrides = conf.get("overrides") or {}
        if not _is_json_data(overrides):
            raise _refuse(name, cls, "its overrides are not plain JSON data")
        return quantizer_class()(RND=conf.get("RND"), SAT=conf.get("SAT"),
                                 shape=_literal(conf.get("shape"), name, cls, "shape"),
                                 overrides=overrides, fusible=bool(conf.get("fusible")), name=name)
    elif cls == "Lambda":
        raise _refuse(name, cls, "a Lambda layer holds Python code, and kappa never executes code from a model "
                                 "file; rebuild the model without it")
    else:
        raise _refuse(name, cls, "not a layer class kappa loads (it would need code from outside Keras or "
                                 f"kappa does not emulate it); loadable: {', '.join([*KERAS_LAYERS, *QKERAS_LAYERS])}; "
                                 f"dropped as inference no-ops: {', '.join(INFERENCE_NOOPS)}")
    kwargs: dict[str, Any] = {"name": name}
    for key in keys:
        if key not in conf:
            continue
        v = conf[key]
        if key == "activation":
            v = _activation_arg(v, name, cls, quantized)
        elif key.endswith("_quantizer"):
            v = _quantizer(v, name, cls, key)
        elif key == "data_format" and v not in (None, "channels_last"):
            raise _refuse(name, cls, f"data_format={v!r}: kappa supports channels_last only")
        else:
            v = _literal(v, name, cls, key)
        kwargs[key] = v
    return ctor(**kwargs)


def _predecessors(spec: dict) -> list[str]:
    """Names of the layers feeding ``spec`` (Keras 2 and Keras 3 inbound-node formats)."""
    names = []
    for node in spec.get("inbound_nodes") or []:
        if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            names += [entry[0] for entry in node]
        elif isinstance(node, dict):  # Keras 3: {"args": [{"class_name": "__keras_tensor__", ...}], ...}
            def walk(obj):
                if isinstance(obj, dict):
                    if obj.get("class_name") == "__keras_tensor__":
                        names.append(obj["config"]["keras_history"][0])  # noqa: B023 (walk runs here)
                    for v in obj.values():
                        walk(v)
                elif isinstance(obj, list):
                    for v in obj:
                        walk(v)
            walk(node.get("args"))
    return names


def _spec_name(spec: dict) -> str:
    conf = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    return str(conf.get("name") or spec.get("name") or "?")


def _layer_specs(config) -> tuple[str, dict, list]:
    """``(kind, body, layer specs)`` of a model config, in both Keras 2 layouts.

    Raises:
        ValueError: not a Sequential/functional model, or no list of layers.
    """
    if not isinstance(config, dict):
        raise ValueError(f"the model file holds a {type(config).__name__}, not a model config (a JSON object with "
                         "'class_name' and 'config')")
    kind = config.get("class_name")
    if kind not in ("Sequential", "Model", "Functional"):
        raise ValueError(f"the file describes a {kind!r}; kappa loads Sequential and functional models")
    body = config.get("config")
    if isinstance(body, list):  # Keras 2.0/2.1 Sequential: config is the list of layers
        body = {"layers": body}
    if not isinstance(body, dict) or not isinstance(body.get("layers", []), list):
        raise ValueError(f"the {kind} config has no list of layers (config.layers or a config that is the list)")
    specs = list(body.get("layers") or [])
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
            raise ValueError(f"layer #{i} of the {kind} config is not a layer spec (an object with 'class_name')")
    return kind, body, specs


def _check_classes(specs: list) -> None:
    """Name the true culprit first: the first layer of a class kappa does not load (before
    any refusal of the model's shape)."""
    for spec in specs:
        cls = spec["class_name"]
        if cls != "InputLayer" and cls not in INFERENCE_NOOPS and cls not in QUANTIZER_CLASSES:
            if cls not in KERAS_LAYERS and cls not in QKERAS_LAYERS:
                _make_layer(spec)  # raises the class refusal, naming the layer


def _endpoints(body: dict, key: str) -> list[str] | None:
    """Layer names of ``input_layers``/``output_layers`` (``[[name, 0, 0], ...]``, or one
    ``[name, 0, 0]``), or None when absent."""
    v = body.get(key)
    if not v:
        return None
    if isinstance(v, list) and v and isinstance(v[0], str):
        v = [v]
    return [str(e[0]) for e in v]


def _input_shape(spec: dict) -> tuple:
    c = spec.get("config") or {}
    shape = c.get("batch_shape") or c.get("batch_input_shape")
    if not shape:
        raise ValueError(f"input {_spec_name(spec)!r} gives no shape (batch_shape)")
    shape = tuple(shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"input {_spec_name(spec)!r} has the shape {shape} with unknown dimensions; kappa needs a "
                         "fixed shape")
    return shape


def _functional_from_specs(kind: str, body: dict, specs: list, budget: int):
    """A functional ``keras.Model`` rebuilt as a graph from its layer specs; every layer's
    weights and output are sized (:func:`kappa.model_files.check_layer`) against ``budget``
    bytes before the layer is called, so nothing over it is ever allocated."""
    import keras

    tensors: dict = {}
    alias: dict[str, str] = {}  # dropped no-op layer -> the layer whose output it passed on
    inputs = []
    total = 0  # weight values declared so far
    for spec in specs:
        if spec["class_name"] == "InputLayer":
            shape = _input_shape(spec)
            model_files.check_input(shape, "the model", budget)
            t = keras.Input(shape, name=_spec_name(spec))
            tensors[_spec_name(spec)] = t
            inputs.append(_spec_name(spec))
    pending = [s for s in specs if s["class_name"] != "InputLayer"]
    # every layer's class and arguments are checked before the wiring, so a bad one is named first
    built = {_spec_name(s): _make_layer(s) for s in pending if s["class_name"] not in INFERENCE_NOOPS}
    while pending:
        progressed = False
        for spec in list(pending):
            name, cls = _spec_name(spec), spec["class_name"]
            if len(spec.get("inbound_nodes") or []) > 1:
                raise ValueError(f"layer {name!r} ({cls}) is called {len(spec['inbound_nodes'])} times; kappa loads "
                                 "each layer once")
            preds = [alias.get(p, p) for p in _predecessors(spec)]
            if not all(p in tensors for p in preds):
                continue
            pending.remove(spec)
            progressed = True
            if not preds:
                raise ValueError(f"layer {name!r} ({cls}) of the {kind} model reads no tensor")
            if cls in INFERENCE_NOOPS:
                alias[name] = preds[0]
                continue
            if len(preds) > 1 and cls not in MERGE_LAYERS:
                raise ValueError(f"layer {name!r} ({cls}) reads {len(preds)} tensors ({', '.join(preds)}); only the "
                                 f"merge layers ({', '.join(MERGE_LAYERS)}) take several inputs")
            arg = [tensors[p] for p in preds] if cls in MERGE_LAYERS else tensors[preds[0]]
            in_shape = [tuple(a.shape) for a in arg] if isinstance(arg, list) else tuple(arg.shape)
            total = model_files.check_layer(built[name], in_shape, total, "the model", budget)
            tensors[name] = built[name](arg)
        if not progressed:
            spec = pending[0]
            missing = [p for p in _predecessors(spec) if alias.get(p, p) not in tensors]
            raise ValueError(f"layer {_spec_name(spec)!r} ({spec['class_name']}) reads {', '.join(missing)}, which no "
                             "layer of the model produces")
    names = [_spec_name(s) for s in specs if s["class_name"] != "InputLayer"]
    ins = _endpoints(body, "input_layers") or inputs
    outs = [alias.get(n, n) for n in (_endpoints(body, "output_layers") or names[-1:])]
    for n in ins + outs:
        if n not in tensors:
            raise ValueError(f"the {kind} model names {n!r} as an input or output, which is not one of its layers")
    model_in = [tensors[n] for n in ins]
    model_out = [tensors[n] for n in outs]
    return keras.Model(model_in if len(model_in) > 1 else model_in[0],
                       model_out if len(model_out) > 1 else model_out[0], name=body.get("name"))


def model_from_config(config: dict, max_weight_bytes: int | None = None):
    """A Keras 3 model rebuilt from a Keras 2 or Keras 3 model config (weights not set).

    Args:
        config: the parsed JSON of ``model.to_json()`` / ``config.json``: ``{"class_name":
            "Sequential"|"Model"|"Functional", "config": {"layers": [...], ...}}``, or a
            Keras 2.0 Sequential ``{"class_name": "Sequential", "config": [layer, ...]}``.
        max_weight_bytes: weight budget (:func:`kappa.model_files.weight_budget`), checked
            on the unbuilt layers before anything is allocated.

    Returns:
        ``keras.Sequential`` for a Sequential config, else a functional ``keras.Model`` (a
        graph: several inputs and outputs, branches, merge layers); layers keep their
        names; :data:`INFERENCE_NOOPS` layers are dropped (their successors take their input).

    Raises:
        ValueError: a layer class or argument outside the allow-lists (names the layer and
            class; checked over every layer first, so that class is named even in a model
            refused for its shape too), a layer other than a merge reading several tensors,
            a layer called more than once, a tensor no layer produces, no input shape, or an
            architecture over the weight budget (names the layer and the size).
    """
    import keras

    kind, body, specs = _layer_specs(config)
    _check_classes(specs)
    if kind != "Sequential":
        return _functional_from_specs(kind, body, specs, model_files.weight_budget(max_weight_bytes))
    shape = None
    if specs and specs[0].get("class_name") == "InputLayer":
        c = specs[0].get("config") or {}
        shape = c.get("batch_shape") or c.get("batch_input_shape")
        input_name = c.get("name")
        specs = specs[1:]
    else:
        input_name = None
        for spec in specs[:1]:
            shape = spec.get("config", {}).get("batch_input_shape") or spec.get("config", {}).get("batch_shape")
        shape = shape or (body.get("build_input_shape"))
    if not shape:
        raise ValueError("the model config gives no input shape (no InputLayer and no batch_input_shape)")
    shape = tuple(shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"the model input shape {shape} has unknown dimensions; kappa needs a fixed shape")
    layers = [_make_layer(spec) for spec in specs if spec["class_name"] not in INFERENCE_NOOPS]
    # -- defensive reading (kappa.model_files): sizes checked before Keras allocates anything
    model_files.check_architecture(shape, layers, "the model", model_files.weight_budget(max_weight_bytes))
    # --
    inp = keras.Input(shape, name=input_name) if input_name else keras.Input(shape)
    return keras.Sequential([inp, *layers], name=body.get("name"))


def _set_keras2_weights(model, group, where: str) -> None:
    """Assign weights from a Keras 2 HDF5 group (``save_weights`` layout) by layer name."""
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
    have = set(names)
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in have:
            raise ValueError(f"{where} has no weights for layer {layer.name!r} (it has: {', '.join(names)})")
        g = group[layer.name]
        wnames = [n.decode() if isinstance(n, bytes) else n for n in g.attrs.get("weight_names", [])]
        arrays = {n.split("/")[-1].split(":")[0]: g[n] for n in wnames}  # shapes checked before reading
        if "depthwise_kernel" in arrays and not hasattr(layer, "depthwise_kernel"):
            arrays.setdefault("kernel", arrays["depthwise_kernel"])  # Keras 3 DepthwiseConv: 'kernel'
        for var in layer.weights:
            key = var.name.split("/")[-1].split(":")[0]
            if key not in arrays:
                raise ValueError(f"{where}: layer {layer.name!r} has no weight {key!r} (it has {sorted(arrays)})")
            if tuple(arrays[key].shape) != tuple(var.shape):
                raise ValueError(f"{where}: layer {layer.name!r} weight {key!r} has shape {arrays[key].shape}, "
                                 f"the model expects {tuple(var.shape)}")
            var.assign(np.asarray(arrays[key]))


def load_model(path, weights=None, max_weight_bytes: int | None = None):
    """Load a trained model from a file into Keras 3, executing nothing from the file.

    Args:
        path: a ``.keras`` archive, a legacy whole-model ``.h5``/``.hdf5`` file, or a Keras 2
            JSON architecture (``.json``, then ``weights`` is required).
        weights: the HDF5 weights file (Keras 2 ``save_weights`` layout) of a ``.json``
            architecture; must be None for the other formats.
        max_weight_bytes: weight budget in bytes (default ``$KAPPA_MAX_WEIGHT_BYTES`` or
            2 GiB): the architecture, declared dataset sizes and archive members are checked
            against it before anything is read (:mod:`kappa.model_files`).

    Returns:
        a Keras 3 model (``keras.Sequential`` or functional ``keras.Model``) with the file's
        layer names and weights, without the inference no-ops (:data:`INFERENCE_NOOPS`:
        Dropout, GaussianNoise, ..., dropped as hls4ml drops them); QKeras layers stay
        QKeras layers (convert them with :func:`kappa.from_qkeras`); an HGQ proxy model's
        ``FixedPointQuantizer`` layers become :func:`kappa.hgq.quantizer_class` layers
        (convert the model with :func:`kappa.from_hgq`).

    Raises:
        FileNotFoundError: a missing file. ValueError: an unknown suffix, a missing or
        superfluous ``weights``, a layer or argument outside the allow-lists (Lambda
        layers, custom objects, serialized functions: the message names the layer and its
        class), a branching model, weights that do not match the architecture, HDF5
        external storage or links, sizes over the budget, a compression bomb, a file that
        is not what its suffix says, or NaN/inf weights (names the layer and index).

    Security: see the module docstring: the file's architecture is interpreted, never
    executed or unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    budget = model_files.weight_budget(max_weight_bytes)
    suffix = path.suffix.lower()
    if suffix != ".json" and weights is not None:
        raise ValueError(f"weights={str(weights)!r} is only used with a .json architecture; {path.name} holds "
                         "its own weights")
    if suffix == ".json":
        if weights is None:
            raise ValueError(f"{path.name} is an architecture only: pass weights=<the HDF5 weights file>")
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"weights file {str(weights)!r} does not exist")
        model = model_from_config(model_files.read_json(path.read_bytes(), path.name), budget)
        with _h5(weights) as f:
            model_files.check_h5(f, weights.name, model, budget)
            _set_keras2_weights(model, f["model_weights"] if "model_weights" in f else f, weights.name)
        model_files.check_finite(model, weights.name)
        return model
    if suffix in (".h5", ".hdf5"):
        with _h5(path) as f:
            if "model_config" not in f.attrs:
                raise ValueError(f"{path.name} holds no model architecture (a weights-only file?): load the "
                                 "architecture (.json) and pass this file as weights=")
            cfg = f.attrs["model_config"]
            model = model_from_config(model_files.read_json(cfg, path.name), budget)
            model_files.check_h5(f, path.name, model, budget)
            _set_keras2_weights(model, f["model_weights"], path.name)
        model_files.check_finite(model, path.name)
        return model
    if suffix == ".keras":
        with model_files.open_archive(path, budget) as z:
            names = set(z.namelist())
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ValueError(f"{path.name} is not a Keras 3 archive (no config.json/model.weights.h5)")
            model = model_from_config(model_files.read_json(z.read("config.json"), path.name), budget)
            with tempfile.TemporaryDirectory() as tmp:
                wpath = model_files.extract_member(z, "model.weights.h5", Path(tmp) / "model.weights.h5")
                with _h5(wpath) as f:
                    model_files.check_h5(f, f"{path.name}/model.weights.h5", model, budget)
                model.load_weights(wpath)
        model_files.check_finite(model, path.name)
        return model
    raise ValueError(f"cannot load {path.name!r}: use a .keras archive, a whole-model .h5/.hdf5 file, or a Keras 2 "
                     ".json architecture with weights=<.h5 file>")


def _h5(path: Path):
    """``h5py.File(path, "r")``; a file that is not HDF5 -> ValueError naming it."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path.name} is not an HDF5 file ({exc})") from None
