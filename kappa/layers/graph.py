"""A Keras model as a graph: its inputs, its layers in topological order with the layers
that feed each one, and its outputs.

hls4ml converts functional models with branches, several inputs and several outputs (its
Keras 3 parser walks the graph; under io_stream its ``clone`` pass duplicates a stream that
feeds two layers, which copies values and changes no bit). :func:`model_graph` is what
:func:`kappa.layers.build_plan` reads: each Keras layer once, after every layer it reads
from. A chain is the special case of one input per layer.

Refused (ValueError naming the layer): a layer called more than once (shared weights), a
layer with several output tensors, a model output that is a model input.

No TensorFlow import here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelGraph:
    """The graph of a built Keras model.

    Attributes:
        inputs: the names of the model's InputLayers, in ``model.inputs`` order (the order
            of the arrays in a multi-input ``X`` and of hls4ml's top-function arguments).
        layers: ``[(layer, (names of the layers it reads, in argument order))]`` in
            topological order, InputLayers excluded; a name is an InputLayer's or a layer's.
        outputs: the names of the layers producing ``model.outputs``, in order.
    """

    inputs: tuple
    layers: tuple
    outputs: tuple


def _producer(tensor) -> str:
    return tensor._keras_history[0].name


def model_graph(keras_model) -> ModelGraph:
    """The graph of ``keras_model`` (functional or Sequential, built).

    Raises:
        ValueError: a layer used more than once, a layer with several outputs, a model
            output that is one of its inputs, or a layer reading a tensor from outside the
            model.
    """
    import keras

    inputs = tuple(_producer(t) for t in (getattr(keras_model, "inputs", None) or []))
    outputs = tuple(_producer(t) for t in (getattr(keras_model, "outputs", None) or []))
    entries = []
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        nodes = getattr(layer, "_inbound_nodes", [])
        if len(nodes) > 1:
            raise ValueError(f"layer {layer.name!r} is used {len(nodes)} times; kappa supports each layer once "
                             "(hls4ml gives every call its own weights)")
        if nodes and len(nodes[0].output_tensors) > 1:
            raise ValueError(f"layer {layer.name!r} has {len(nodes[0].output_tensors)} outputs; kappa supports "
                             "layers with one output")
        preds = tuple(_producer(t) for t in nodes[0].input_tensors) if nodes else ()
        entries.append((layer, preds))
    if not inputs and entries:  # a model that is not built through symbolic inputs: a plain chain
        entries = [(layer, (entries[i - 1][0].name,) if i else ()) for i, (layer, _) in enumerate(entries)]
    known = set(inputs)
    order, pending = [], list(entries)
    while pending:  # topological order, keeping the model's own order among ready layers
        ready = [e for e in pending if all(p in known for p in e[1])]
        if not ready:
            layer, preds = pending[0]
            missing = [p for p in preds if p not in known]
            raise ValueError(f"layer {layer.name!r} reads {', '.join(map(repr, missing))}, which is not a layer or "
                             "input of the model")
        for e in ready:
            order.append(e)
            known.add(e[0].name)
        pending = [e for e in pending if e not in ready]
    for name in outputs:
        if name in inputs:
            raise ValueError(f"the model output {name!r} is one of its inputs; kappa needs every output computed by "
                             "a layer")
    return ModelGraph(inputs, tuple(order), outputs)


def is_chain(graph: ModelGraph) -> bool:
    """True when the graph is one input, one output and every layer reads the one before."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return False
    prev = graph.inputs[0]
    for layer, preds in graph.layers:
        if preds and preds != (prev,):
            return False
        prev = layer.name
    return not graph.layers or graph.outputs[0] == prev
