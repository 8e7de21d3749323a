"""The firmware forward: the numbers hls4ml firmware must reproduce, computed in numpy.

:func:`predict_quantized` converts the input to the ``input.value`` type and runs the
model's firmware steps (:func:`kappa.layers.build_plan`, strict), each with its layer
family's numpy ``forward``: the arithmetic of hls4ml 1.3.0's templates for the chosen
I/O mode and strategy, with the same quantization points, product casts, accumulation
order where overflow can act, and result casts (each family's docstring cites its
templates). Every step is exact: values are float64 on their types' grids and the
dot products run on int64 codes (products up to 62 bits). The convolutions, Dense layers,
BatchNormalization and max pooling run fused compiled passes (:mod:`kappa.fused_kernels`,
:mod:`kappa.layers.fastpath`) that compute the numbers of their numpy definitions (tested
against them mode by mode).

What cannot be emulated bit for bit is refused with an error naming the layer, the
reason and what would work instead (for example a saturating accumulator under the
Resource strategy, whose interleaved addition order kappa does not emulate).

One conversion validates and resolves the PrecisionDict once: :func:`firmware_plan` returns a
:class:`FirmwarePlan` (the checked steps with their resolved types), and the emulator
(:func:`run_plan`), the HLS writer and the testbench all read that plan.

Graphs: the plan is a DAG in topological order (every step names the steps or model inputs it
reads). A model with several inputs takes ``X`` as a list of arrays (one per input, in
``model.inputs`` order, each cast to its input type); one with several outputs returns a
list of arrays (``model.outputs`` order), as Keras ``predict`` does. A chain is run as
before, step after step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .fixed_point import FixedPointType
from .inputs import check_inference_precision, check_model_inputs
from .layers import FirmwareOptions, Step, build_plan, fields_by_layer, input_value_type, model_graph, plan_outputs
from .precision import PrecisionDict, ensure_precision_dict
from .quantization import quantize


@dataclass(frozen=True)
class FirmwarePlan:
    """A model's firmware, validated once: what the emulator, the HLS writer and the
    testbench all read.

    Attributes:
        keras_model: the Keras 3 model. precision: the validated PrecisionDict (or None:
            every type floating point). opts: the firmware options.
        steps: the hls4ml layers in topological order with their resolved types
            (:class:`kappa.layers.Step`; ``steps[i].types``: field -> FixedPointType or None;
            ``steps[i].inputs``: the steps or model inputs it reads).
        input_type: the first input's type (None: float input).
        inputs: the model inputs' (InputLayer) names, in ``model.inputs`` order.
        input_types: their types (``input.value``, or the input's own ``value`` entry).
        outputs: the names of the steps holding the model's outputs, in order.
    """

    keras_model: Any
    precision: PrecisionDict | None
    opts: FirmwareOptions
    steps: tuple
    input_type: FixedPointType | None
    inputs: tuple = ()
    input_types: tuple = ()
    outputs: tuple = ()

    @property
    def output_types(self) -> tuple:
        """The result types of the output steps (None: float)."""
        by_name = {st.name: st for st in self.steps}
        return tuple(by_name[o].result_type if o in by_name else self.input_type for o in self.outputs)

    @property
    def output_type(self) -> FixedPointType | None:
        """The type of the network's output: the LAST step's result type (a passthrough
        Flatten/Reshape at the end carries its input's type; a softmax's is its ``activation``,
        never one of its table or ``inp_norm`` types); the input type for a model without
        steps; None for a floating-point plan."""
        if self.outputs:
            return self.output_types[0]
        return self.steps[-1].result_type if self.steps else self.input_type

    def resolved_precision(self) -> PrecisionDict:
        """The PrecisionDict with every firmware type the plan uses written out: fields the
        user left to hls4ml's own explicit defaults (a ``table`` of ``ap_fixed<18,8>``, the
        softmax tables, ``inp_norm`` derived from the input type, a LeakyReLU ``param``) are
        added under their layer, so a project's ``precision.yaml`` records the resolved types.

        Raises:
            ValueError: a plan without a PrecisionDict (nothing to resolve).
        """
        if self.precision is None:
            raise ValueError("a floating-point plan (precision None) has no PrecisionDict to resolve")
        fields = fields_by_layer(self.keras_model, strict=True)
        spec = self.precision.to_dict()
        for st in self.steps:
            for key, t in st.types.items():
                fld = "activation" if key == "result" else key
                if t is None or fld not in fields.get(st.keras_name, ()) or \
                        self.precision.dtype(st.keras_name, fld) is not None:
                    continue
                spec.setdefault(st.keras_name, {})[fld] = str(t)
        return PrecisionDict(spec)


def firmware_plan(keras_model, precision, opts: FirmwareOptions | None = None) -> FirmwarePlan:
    """Validate ``precision`` against ``keras_model`` and resolve it into the firmware plan.

    Args:
        keras_model: a Keras 3 model of supported layers (``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        precision: PrecisionDict, nested dict, YAML/JSON path, or None (float).
        opts: firmware options (default: io_parallel, Latency, reuse factor 1).

    Returns:
        :class:`FirmwarePlan`.

    Raises:
        ValueError: a PrecisionDict naming a layer the model lacks, a field its kind does not
            have, S_RND in a firmware field; an unsupported layer or configuration.
    """
    opts = opts or FirmwareOptions()
    precision = ensure_precision_dict(precision)
    check_inference_precision(keras_model, precision)  # layers the model has, no S_RND in firmware
    if precision is not None:
        precision.validate(fields_by_layer(keras_model, strict=True))
    steps = firmware_steps(keras_model, precision, opts)
    inputs = model_graph(keras_model).inputs
    in_types = tuple(input_value_type(precision, name) for name in inputs)
    for name, in_t in zip(inputs, in_types):
        if in_t is not None and in_t.stochastic:
            raise ValueError(f"input {name!r}: value type {in_t} uses stochastic rounding (S_RND), which is "
                             "training-only; firmware types need a deterministic rounding mode")
    return FirmwarePlan(keras_model, precision, opts, tuple(steps), in_types[0] if in_types else None, inputs,
                        in_types, plan_outputs(keras_model, steps))


def run_plan(plan: FirmwarePlan, X, *, chunk_samples: int | None = None):
    """The firmware forward of ``plan`` on ``X`` (what :func:`predict_quantized` returns).

    Args:
        plan: from :func:`firmware_plan`. X: inputs (N, *input_shape), finite; a list of
            such arrays for a model with several inputs.
        chunk_samples: as :func:`predict_quantized`.

    Returns:
        float64 array, shape (N, *output_shape); a list of them for several outputs.

    Raises:
        ValueError: X of another shape or non-finite; a bad chunk_samples.
    """
    outs = [a for _, a in _run_plan(plan, X, chunk_samples, keep_all=False)]
    return outs[0] if len(outs) == 1 else outs


def plan_layer_outputs(plan: FirmwarePlan, X, *, chunk_samples: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Every step's output of ``plan`` on ``X``: ``[(hls4ml layer name, array (N, ...))]``
    in the plan's (topological) order (see :func:`layer_outputs`)."""
    return _run_plan(plan, X, chunk_samples, keep_all=True)


def firmware_steps(keras_model, precision: PrecisionDict | None, opts: FirmwareOptions | None = None) -> list[Step]:
    """The hls4ml layers of ``keras_model`` with their types, checked for exact emulation.

    Args:
        keras_model: a Keras 3 model of supported layers (a chain or a graph).
        precision: PrecisionDict (or None: every type floating point).
        opts: firmware options (default: io_parallel, Latency, reuse factor 1).

    Raises:
        ValueError: an unsupported layer or configuration (names the layer, the reason and
            the alternative), a layer used twice.
    """
    opts = opts or FirmwareOptions()
    steps = build_plan(keras_model, precision, opts, strict=True)
    types = {name: input_value_type(precision, name) for name in model_graph(keras_model).inputs}
    for st in steps:
        for fld, t in st.types.items():
            if t is not None and t.stochastic:
                raise ValueError(f"{st.keras_name}: the {fld} type {t} uses stochastic rounding (S_RND), which is "
                                 "training-only; firmware types need a deterministic rounding mode (e.g. RND)")
        in_ts = [types[n] for n in st.inputs]
        st.family.check(st, opts, in_ts if st.family.multi_input else (in_ts[0] if in_ts else None))
        types[st.name] = st.types.get("result")
    return steps


def layer_outputs(keras_model, precision, X, *, io_type: str = "io_parallel", strategy: str = "Latency",
                  reuse_factor: int = 1, layer_options=None,
                  chunk_samples: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Every firmware step's output on ``X``, in network order (hls4ml layer names).

    Args:
        as :func:`predict_quantized`.

    Returns:
        ``[(hls4ml layer name, array (N, *layer output shape))]`` (computed chunk by chunk,
        then concatenated), in the plan's topological order; for a chain the last entry is
        :func:`predict_quantized`'s result. Used to locate the first layer where firmware
        and Python part.

    Raises:
        ValueError: as :func:`predict_quantized`.
    """
    return _forward(keras_model, precision, X, io_type, strategy, reuse_factor, layer_options, chunk_samples,
                    keep_all=True)


def _forward(keras_model, precision, X, io_type, strategy, reuse_factor, layer_options, chunk_samples, *,
             keep_all: bool) -> list[tuple[str, np.ndarray]]:
    _check_chunk(chunk_samples)
    plan = firmware_plan(keras_model, precision, FirmwareOptions(io_type, strategy, reuse_factor, layer_options or {}))
    return _run_plan(plan, X, chunk_samples, keep_all=keep_all)


def _check_chunk(chunk_samples) -> None:
    if chunk_samples is not None and (
        isinstance(chunk_samples, bool) or not isinstance(chunk_samples, (int, np.integer)) or chunk_samples < 1
    ):
        raise ValueError(f"chunk_samples must be an integer >= 1 (or None for the default), got {chunk_samples!r}")


def _run_plan(plan: FirmwarePlan, X, chunk_samples, *, keep_all: bool) -> list[tuple[str, np.ndarray]]:
    _check_chunk(chunk_samples)
    xs = check_model_inputs(X, plan.keras_model, what="X")
    steps = list(plan.steps)
    inputs = plan.inputs or model_graph(plan.keras_model).inputs
    in_types = plan.input_types or (plan.input_type,)
    outputs = plan.outputs or plan_outputs(plan.keras_model, steps)
    arrays = _run_chunks(steps, xs, inputs, in_types, outputs, plan.opts, chunk_samples or default_chunk(steps),
                         keep_all=keep_all)
    names = [st.name for st in steps] if keep_all else list(outputs)
    return list(zip(names, arrays))


CHUNK_ELEMENTS = 1 << 21
"""Default chunk: about this many float64 values in the widest per-sample array of the
network (im2col columns included), i.e. ~16 MiB, so memory does not grow with N."""


def default_chunk(steps: list[Step]) -> int:
    """Samples per chunk: :data:`CHUNK_ELEMENTS` over the widest per-sample array."""
    widest = 1
    for st in steps:
        per = max(int(np.prod(st.in_shape or (1,))), int(np.prod(st.out_shape or (1,))))
        k = st.attrs.get("kernel")
        if k is not None:  # im2col: one receptive field per output pixel
            per = max(per, int(np.prod(st.out_shape[:-1])) * int(np.prod(k)) * int((st.in_shape or (1,))[-1]))
        widest = max(widest, per)
    return max(1, CHUNK_ELEMENTS // widest)


def _run_chunks(steps, xs, inputs, in_types, outputs, opts, chunk_samples, *, keep_all):
    """The steps on ``chunk_samples`` samples at a time (each input cast to its type first);
    returns every step's output (``keep_all``) or the outputs', concatenated over chunks.
    A value is dropped after its last reader, so a chain holds one array at a time."""
    n = xs[0].shape[0]
    last_use = {}
    for i, st in enumerate(steps):
        for src in st.inputs:
            last_use[src] = i
    for o in outputs:
        last_use[o] = len(steps)
    parts = []
    for lo in range(0, max(n, 1), chunk_samples):
        values, types, outs = {}, {}, []
        for name, x, t in zip(inputs, xs, in_types):
            xc = x[lo : lo + chunk_samples]
            values[name], types[name] = (xc if t is None else quantize(xc, t)), t
        for i, step in enumerate(steps):
            if step.family.multi_input:
                x, t = [values[s] for s in step.inputs], [types[s] for s in step.inputs]
            else:
                x, t = values[step.inputs[0]], types[step.inputs[0]]
            y = step.family.forward(step, x, t, opts)
            values[step.name], types[step.name] = y, step.types.get("result")
            for src in step.inputs:
                if last_use.get(src) == i:
                    del values[src]
            if keep_all:
                outs.append(y)
        parts.append(outs if keep_all else [values[o] for o in outputs])
    if len(parts) == 1:
        return parts[0]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def predict_quantized(
    keras_model,
    precision,
    X,
    *,
    io_type: str = "io_parallel",
    strategy: str = "Latency",
    reuse_factor: int = 1,
    layer_options=None,
    chunk_samples: int | None = None,
):
    """The inference-mode Python firmware forward that the C simulation is compared with.

    Args:
        keras_model: a Keras 3 model of supported layers (``kappa.layers.SUPPORTED_LAYERS_STRICT``):
            a chain, or a functional graph with branches, several inputs and outputs.
        precision: PrecisionDict, nested dict, YAML/JSON path, or None (float).
        X: inputs, shape (N, *input_shape) (channels_last), finite; a single sample as
            shape (1, *input_shape) (never broadcast); for several inputs a list of such
            arrays (``model.inputs`` order, the same N).
        io_type: ``"io_parallel"`` or ``"io_stream"``, as given to ``hls.convert``.
        strategy: ``"Latency"`` or ``"Resource"``; Resource with a saturating accumulator
            is refused. reuse_factor: integer >= 1. layer_options: per-layer options
            (``{layer name: {option: value}}``), as given to ``hls.convert``.
        chunk_samples: samples computed at a time (None: :func:`default_chunk`, about
            16 MiB of values in the widest layer), so memory stays bounded for any N
            (1,000,000 samples of a 16-64-32-32-5 network peak well under 2 GiB); the
            result does not depend on it (no arithmetic crosses samples).

    Returns:
        float64 array, shape (N, *output_shape); a list of them (``model.outputs`` order)
        for a model with several outputs.

    Raises:
        ValueError: unsupported layer or configuration, bad PrecisionDict (a layer the
            model lacks, a field its kind does not have, S_RND in a firmware field), X of
            another shape (says which was expected), non-finite X (names the index), unknown
            io_type or strategy, a chunk_samples that is not an integer >= 1.
    """
    outs = [a for _, a in _forward(keras_model, precision, X, io_type, strategy, reuse_factor, layer_options,
                                   chunk_samples, keep_all=False)]
    return outs[0] if len(outs) == 1 else outs
