"""The training forward: a Keras model run in TensorFlow with the firmware's quantization
points and straight-through gradients (used by ``train_instrumented``).

:class:`TrainingForward` walks the same firmware steps as ``predict_quantized``
(:func:`kappa.layers.build_plan`) and calls each layer family's ``forward_tf``, which
quantizes where hls4ml's firmware converts values (the input to ``input.value``; every
product, partial sum and result of a Dense or convolution; pooling accumulators and
results; activation results). The numbers equal :func:`kappa.predict_quantized` bit for
bit (tested per layer kind); the families' docstrings give each layer's arithmetic.

A missing (None) type means no quantization at that point. With a PrecisionDict every
value is carried in float64 (float32 has a 24-bit significand); without one the pass is
plain float32, numerically the Keras model's own forward.

Exactness: float64 arithmetic is exact whenever a product of an input and a weight fits
53 significant bits (wider pairs raise ``ValueError`` naming the layer, while the numpy
firmware forward goes to 62 bits in int64) and the accumulator is at most 51 bits wide.
The Dense arithmetic uses provably identical fast paths
(:func:`kappa.layers.dense_tf.exact_accumulate`).

Gradients: every quantizer is a straight-through estimator (identity gradient), so the
gradient of a quantized Dense is that of ``x_q @ w_q + b_q`` at the quantized values.
Layers that are not firmware-exact (BatchNormalization, other activations; only with
``strict=False``) run in float and are cast to their ``activation`` type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from .layers import FirmwareOptions, build_plan, fields_by_layer, input_value_type, model_graph, plan_outputs
from .precision import FIRMWARE_FIELDS, INPUT_LAYER, PrecisionDict, ensure_precision_dict
from .quantization import quantize_tensor
from .straight_through import numpy_in_tf, q_ste, with_value  # noqa: F401  (re-exported)

F64 = tf.float64
_GRID_KEEPING = ("relu", "linear", "reshape", "zeropad")


def check_forward_types(precision: Optional[PrecisionDict], layer_names: Sequence[str]) -> None:
    """Refuse stochastic rounding in firmware fields (value/weight/bias/accumulator/activation).

    Raises:
        ValueError: naming the layer, field and type.
    """
    if precision is None:
        return
    for name in list(layer_names) + [INPUT_LAYER]:
        for fld in FIRMWARE_FIELDS:
            t = precision.dtype(name, fld)
            if t is not None and t.stochastic:
                raise ValueError(
                    f"{name}.{fld} = {t} uses stochastic rounding S_RND, which is training-only; "
                    f"firmware fields ({', '.join(FIRMWARE_FIELDS)}) need a deterministic ap_fixed mode. "
                    "Use S_RND in the update/gradient/momentum/adam_m/adam_v fields."
                )


@dataclass
class Prepared:
    """The data side of a forward for N samples (:meth:`TrainingForward.prepare`): pass it to
    the forward in place of ``x``.

    Attributes:
        raw: the model inputs as given (a list, ``model.inputs`` order), each (N, ...).
        inputs: the inputs cast to the forward's dtype and quantized to ``input.value``.
        steps: per step name ``{key: ((N, M/N * width) tensor, width)}``: the step's
            ``data_side_tf`` rows, M/N of them per sample.
        extra: other per-sample tensors carried along (the training loop's targets).
    """

    raw: list
    inputs: list
    steps: dict = field(default_factory=dict)
    extra: list = field(default_factory=list)

    def tensors(self) -> list:
        """Every tensor, in a fixed order: raw, inputs, the steps' entries, extra."""
        return list(self.raw) + list(self.inputs) + [t for d in self.steps.values() for t, _ in d.values()] + \
            list(self.extra)

    def rows(self, start, size) -> "Prepared":
        """Samples ``start .. start + size - 1`` (scalar int tensors or ints); slices along the
        first axis share the buffers (no copy)."""
        cut = lambda t: t[start:start + size]  # noqa: E731
        return Prepared([cut(t) for t in self.raw], [cut(t) for t in self.inputs],
                        {name: {k: (cut(t), w) for k, (t, w) in d.items()} for name, d in self.steps.items()},
                        [cut(t) for t in self.extra])

    def bytes_per_sample(self) -> int:
        """Bytes one sample of these tensors holds (static shapes)."""
        return int(sum(np.prod(t.shape[1:], dtype=np.int64) * t.dtype.size for t in self.tensors()))


class TrainingForward:
    """Callable forward pass of a Keras model with firmware quantization (see module doc).

    Args:
        keras_model: a built Keras 3 model, a chain of layers (see :func:`kappa.layers.build_plan`).
        precision: PrecisionDict / dict / path / None (None: float32, no quantization).
        strict: only accept firmware-exact layers.
        params_on_grid: the caller guarantees every kernel/bias already lies on its
            weight/bias type (the training loop stores them so); their quantizers are then
            skipped (they would be the identity).
        opts: firmware options (io_type, strategy); the same defaults as ``predict_quantized``.

    Call ``fwd(x, params=None, training=False, update_stats=True)``:

    * ``x``: tensor (N, *input_shape); cast to float64 (quantized) or float32 (float); for a
      model with several inputs a list of tensors (``model.inputs`` order); or a
      :class:`Prepared` (:meth:`prepare`) of those samples.
    * ``params``: list of tensors aligned with ``keras_model.trainable_variables``
      (default: the variables themselves). Lets the training loop evaluate the model
      at other parameters (the same-batch curvature secant) and differentiate with
      respect to float64 copies.
    * ``training``: BatchNormalization uses batch statistics (and, when
      ``update_stats``, updates its moving statistics).

    Returns a tensor (N, *output_shape), float64 with a precision, else float32; a list of
    them for a model with several outputs. Graphs run step by step in the plan's
    topological order, each step reading the outputs it names.

    Raises:
        ValueError: unsupported layers, unknown layer names or fields in ``precision``, or
            stochastic rounding in a firmware field.
    """

    def __init__(self, keras_model, precision=None, *, strict: bool = False, params_on_grid: bool = False,
                 opts: FirmwareOptions | None = None):
        self.params_on_grid = bool(params_on_grid)
        self.model = keras_model
        self.precision = ensure_precision_dict(precision)
        self.opts = opts or FirmwareOptions()
        self.plan = build_plan(keras_model, self.precision, self.opts, strict=strict)
        self.inputs = model_graph(keras_model).inputs
        self.outputs = plan_outputs(keras_model, self.plan)
        self.variables = list(keras_model.trainable_variables)
        if self.precision is not None:
            self.precision.validate(fields_by_layer(keras_model))
            check_forward_types(self.precision, [s.keras_name for s in self.plan] + list(self.inputs))
        self.dtype = F64 if self.precision is not None else tf.float32
        self.training = False
        self.update_stats = True
        self._params = self.variables
        self._prepared: Prepared | None = None

    def param(self, step, attr: str):
        """The parameter tensor ``attr`` (kernel/bias/gamma/beta) of ``step`` for this call."""
        return self._params[step.var_index[attr]]

    def _read_inputs(self, x) -> tuple[list, dict, dict]:
        """(raw inputs, values, types) of the model inputs: cast and quantized to ``input.value``."""
        xs = list(x) if len(self.inputs) > 1 else [x]
        values, types = {}, {}
        for name, xi in zip(self.inputs, xs):
            xi = tf.cast(xi, self.dtype)
            t = input_value_type(self.precision, name)
            if t is not None:  # the input is read as a double (text -> float -> input_t)
                xi = quantize_tensor(xi, t, ste=True)
            values[name], types[name] = xi, t
        return xs, values, types

    def prepare(self, x) -> Prepared:
        """The data side of the forward for the samples ``x`` (as ``__call__`` takes them):
        the quantized inputs, and for every step that reads a model input its family's
        ``data_side_tf`` (a convolution's receptive fields and their residues, ...).

        Everything here is a function of each sample alone, so ``prepare(X).rows(s, n)`` in
        place of ``X[s:s+n]`` gives the same forward, value for value, while the training loop
        computes it once per call for all of the call's samples instead of once per step.
        """
        xs, values, types = self._read_inputs(x)
        n = tf.shape(xs[0])[0]
        steps = {}
        for step in self.plan:
            if step.family.multi_input or step.inputs[0] not in self.inputs:
                continue
            side = step.family.data_side_tf(step, values[step.inputs[0]], types[step.inputs[0]], self)
            if side:
                per = int(np.prod(step.out_shape[:-1], dtype=np.int64))  # rows per sample (static)
                steps[step.name] = {k: (tf.reshape(v, tf.stack([n, per * int(v.shape[-1])])), int(v.shape[-1]))
                                    for k, v in side.items()}
        return Prepared(xs, [values[name] for name in self.inputs], steps)

    def prepared(self, step) -> dict | None:
        """The ``data_side_tf`` tensors of ``step`` for this call, (M, width) each, when the call
        was given a :class:`Prepared`; else None."""
        side = self._prepared.steps.get(step.name) if self._prepared is not None else None
        return None if side is None else {k: tf.reshape(t, [-1, w]) for k, (t, w) in side.items()}

    def __call__(self, x, params=None, *, training: bool = False, update_stats: bool = True):
        dt = self.dtype
        self._params = [tf.cast(p, dt) for p in (self.variables if params is None else params)]
        self.training, self.update_stats = training, update_stats
        if isinstance(x, Prepared):
            self._prepared = x
            values = dict(zip(self.inputs, x.inputs))
            types = {name: input_value_type(self.precision, name) for name in self.inputs}
        else:
            self._prepared = None
            _, values, types = self._read_inputs(x)
        for step in self.plan:
            ins, in_ts = [values[s] for s in step.inputs], [types[s] for s in step.inputs]
            if step.family.multi_input:
                y = step.family.forward_tf(step, ins, in_ts, self)
            else:
                y = step.family.forward_tf(step, ins[0], in_ts[0], self)
            res_t = step.types.get("result")
            # a layer without a result type leaves values where they were if it only selects them
            if self.precision is None:
                t = None
            elif res_t is not None or step.family.multi_input or step.kind not in _GRID_KEEPING:
                t = res_t
            else:
                t = in_ts[0]
            values[step.name], types[step.name] = y, t
        outs = [values[o] for o in self.outputs]
        return outs[0] if len(outs) == 1 else outs


def predict_tf(keras_model, precision, X, *, strict: bool = True, **firmware_options) -> np.ndarray:
    """Inference with :class:`TrainingForward` (TF). Same numbers as
    :func:`kappa.predict_quantized` (the numpy firmware forward) for firmware-exact models.

    Args:
        keras_model: Keras model (chain of supported layers).
        precision: PrecisionDict / dict / path / None.
        X: array (N, *input_shape); a list of arrays for several inputs.
        firmware_options: ``io_type``, ``strategy``, ``reuse_factor``, ``layer_options``.

    Returns:
        float64 ndarray (N, *output_shape) (float32 values widened when ``precision`` is None);
        a list of them for several outputs.
    """
    fwd = TrainingForward(keras_model, precision, strict=strict, opts=FirmwareOptions(**firmware_options))
    xs = [tf.convert_to_tensor(np.asarray(x)) for x in X] if len(fwd.inputs) > 1 else tf.convert_to_tensor(np.asarray(X))
    y = fwd(xs, training=False)
    if isinstance(y, list):
        return [np.asarray(v.numpy(), dtype=np.float64) for v in y]
    return np.asarray(y.numpy(), dtype=np.float64)
