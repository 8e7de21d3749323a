"""Write a Keras 3 model the test built as the Keras 2 files hls4ml's example models come in.

Keras 3 cannot write the Keras 2 formats, so the JSON is assembled here in the two layouts
Keras 2 used (``config`` a plain list of a Sequential's layers, as Keras 2.0/2.1 wrote
``KERAS_conv2d_model.json``; ``config`` a dict with ``layers`` and ``inbound_nodes``, as
Keras >= 2.2 wrote the functional ``KERAS_3layer.json``) and the weights with h5py in
``save_weights``' layout (``layer_names``; per layer ``weight_names`` = ``<layer>/kernel:0``
and the arrays at ``<layer>/<layer>/kernel:0``). Only the arguments kappa reads are written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_KEYS = {
    "Dense": ("units", "activation", "use_bias"),
    "Conv1D": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias", "data_format"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "activation", "use_bias", "data_format"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "Dropout": ("rate",),
    "SpatialDropout1D": ("rate",),
    "SpatialDropout2D": ("rate",),
    "GaussianNoise": ("stddev",),
    "GaussianDropout": ("rate",),
    "AlphaDropout": ("rate",),
    "ActivityRegularization": ("l1", "l2"),
    "Flatten": (),
    "Activation": ("activation",),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Add": (), "Subtract": (), "Multiply": (), "Average": (), "Maximum": (), "Minimum": (),
    "Concatenate": ("axis",),
}


def _plain(v):
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dict) and v.get("class_name") == "function":  # Keras 3 writes built-in activations so
        return v["config"]
    return v


def _spec(layer) -> dict:
    cls = type(layer).__name__
    conf = layer.get_config()
    out = {"name": layer.name, "trainable": True}
    for k in _KEYS[cls]:
        if k in conf:
            out[k] = _plain(conf[k])
    return {"class_name": cls, "config": out}


def write_keras2(model, directory: Path, stem: str, *, list_form: bool) -> tuple[Path, Path]:
    """``(<stem>.json, <stem>_weights.h5)`` of ``model`` in Keras 2 form.

    ``list_form``: Keras 2.0's Sequential JSON (``config`` is the list of layers, the first
    carrying ``batch_input_shape``; a single-input chain); else Keras 2.2's functional JSON
    with its InputLayers, every layer's ``inbound_nodes`` (``[[[name, 0, 0, {}], ...]]``, two
    entries for a merge) and ``input_layers``/``output_layers``: any graph.
    """
    import h5py

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    batch_shape = [None, *[int(d) for d in model.inputs[0].shape[1:]]]
    specs = [_spec(layer) for layer in layers]
    if list_form:
        specs[0]["config"]["batch_input_shape"] = batch_shape
        doc = {"class_name": "Sequential", "config": specs, "keras_version": "2.0.0", "backend": "tensorflow"}
    else:
        from kappa.layers import model_graph

        graph = model_graph(model)
        preds = {layer.name: p for layer, p in graph.layers}
        for s in specs:
            s["name"] = s["config"]["name"]
            s["inbound_nodes"] = [[[p, 0, 0, {}] for p in preds[s["name"]]]]
        inps = [{"class_name": "InputLayer", "name": n, "inbound_nodes": [],
                 "config": {"batch_input_shape": [None, *[int(d) for d in t.shape[1:]]], "dtype": "float32",
                            "name": n, "sparse": False}} for n, t in zip(graph.inputs, model.inputs)]
        doc = {"class_name": "Model", "keras_version": "2.2.4", "backend": "tensorflow",
               "config": {"name": stem, "layers": [*inps, *specs], "input_layers": [[n, 0, 0] for n in graph.inputs],
                          "output_layers": [[n, 0, 0] for n in graph.outputs]}}
    arch = Path(directory) / f"{stem}.json"
    arch.write_text(json.dumps(doc, indent=1))
    weights = Path(directory) / f"{stem}_weights.h5"
    with h5py.File(weights, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.0.0"
        for layer in layers:
            g = f.create_group(layer.name)
            names = []
            for var in layer.weights:
                key = var.path.split("/")[-1]
                names.append(f"{layer.name}/{key}:0".encode())
                g.create_dataset(f"{layer.name}/{key}:0", data=np.asarray(var.numpy()))
            g.attrs["weight_names"] = np.array(names, dtype="S") if names else np.array([], dtype=np.float64)
    return arch, weights
