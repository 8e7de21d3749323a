"""The firmware forward: the numbers hls4ml firmware must reproduce, computed in numpy.

:func:`predict_quantized` converts the input to the ``input.value`` type and runs the
model's firmware steps (:func:`kappa.layers.build_plan`, strict), each with its layer
family's numpy ``forward``: the arithmetic of hls4ml 1.3.0's templates for the chosen
I/O mode and strategy, with the same quantization points, product casts, accumulation
order where overflow can act, and result casts (each family's docstring cites its
templates). Every step is exact: values are float64 on their types' grids and the
dot products run on int64 codes (products up to 62 bits).

What cannot be emulated bit for bit is refused with an error naming the layer, the
reason and what would work instead (for example a saturating accumulator under the
Resource strategy, whose interleaved addition order kappa does not emulate).
"""

from __future__ import annotations

import numpy as np

from .layers import FirmwareOptions, Step, build_plan, fields_by_layer
from .precision import INPUT_LAYER, PrecisionDict, ensure_precision_dict
from .quantization import quantize


def firmware_steps(keras_model, precision: PrecisionDict | None, opts: FirmwareOptions | None = None) -> list[Step]:
    """The hls4ml layers of ``keras_model`` with their types, checked for exact emulation.

    Args:
        keras_model: a Keras 3 model whose layers form one chain of supported layers.
        precision: PrecisionDict (or None: every type floating point).
        opts: firmware options (default: io_parallel, Latency, reuse factor 1).

    Raises:
        ValueError: an unsupported layer or configuration (names the layer, the reason and
            the alternative), several inputs/outputs, or a branching graph.
    """
    opts = opts or FirmwareOptions()
    steps = build_plan(keras_model, precision, opts, strict=True)
    cur_t = None if precision is None else precision.dtype(INPUT_LAYER, "value")
    for st in steps:
        for fld, t in st.types.items():
            if t is not None and t.stochastic:
                raise ValueError(f"{st.keras_name}: the {fld} type {t} uses stochastic rounding (S_RND), which is "
                                 "training-only; firmware types need a deterministic rounding mode (e.g. RND)")
        st.family.check(st, opts, cur_t)
        cur_t = st.types.get("result")
    return steps


def _as_batch(keras_model, X) -> np.ndarray:
    in_shape = tuple(int(d) for d in keras_model.inputs[0].shape[1:])
    x = np.asarray(X, dtype=np.float64)
    if x.ndim == len(in_shape) and tuple(x.shape) == in_shape and len(in_shape) == 1:
        x = x[None, :]  # one sample of a 1-D input
    if tuple(x.shape[1:]) != in_shape or x.ndim != len(in_shape) + 1:
        raise ValueError(f"X has shape {x.shape}; the model expects (N, {', '.join(map(str, in_shape))}) "
                         f"(N samples of shape {in_shape})")
    if not np.all(np.isfinite(x)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"X contains NaN or infinite values (first at index {bad})")
    return x


def layer_outputs(keras_model, precision, X, *, io_type: str = "io_parallel", strategy: str = "Latency",
                  reuse_factor: int = 1, layer_options=None) -> list[tuple[str, np.ndarray]]:
    """Every firmware step's output on ``X``, in network order (hls4ml layer names).

    Args:
        as :func:`predict_quantized`.

    Returns:
        ``[(hls4ml layer name, array (N, *layer output shape))]``; the last entry is
        :func:`predict_quantized`'s result. Used to locate the first layer where firmware
        and Python part.

    Raises:
        ValueError: as :func:`predict_quantized`.
    """
    opts = FirmwareOptions(io_type, strategy, reuse_factor, layer_options or {})
    precision = ensure_precision_dict(precision)
    if precision is not None:
        precision.validate(fields_by_layer(keras_model, strict=True))
    x = _as_batch(keras_model, X)
    steps = firmware_steps(keras_model, precision, opts)
    cur_t = None if precision is None else precision.dtype(INPUT_LAYER, "value")
    if cur_t is not None:
        if cur_t.stochastic:
            raise ValueError(f"input.value = {cur_t}: stochastic rounding (S_RND) is training-only; firmware types "
                             "need a deterministic rounding mode")
        x = quantize(x, cur_t)
    outs = []
    for step in steps:
        x = step.family.forward(step, x, cur_t, opts)
        cur_t = step.types.get("result")
        outs.append((step.name, x))
    return outs


def predict_quantized(keras_model, precision, X, *, io_type: str = "io_parallel", strategy: str = "Latency",
                      reuse_factor: int = 1, layer_options=None) -> np.ndarray:
    """The inference-mode Python firmware forward that the C simulation is compared with.

    Args:
        keras_model: a Keras 3 model of supported layers (``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        precision: PrecisionDict, nested dict, YAML/JSON path, or None (float).
        X: inputs, shape (N, *input_shape) (channels_last); a single sample of a 1-D input
            may be given as shape (n_in,).
        io_type: ``"io_parallel"`` or ``"io_stream"``, as given to ``hls.convert``.
        strategy: ``"Latency"`` or ``"Resource"``; Resource with a saturating accumulator
            is refused. reuse_factor: integer >= 1. layer_options: per-layer options
            (``{layer name: {option: value}}``), as given to ``hls.convert``.

    Returns:
        float64 array, shape (N, *output_shape).

    Raises:
        ValueError: unsupported layer or configuration, bad PrecisionDict, a shape that
            does not match the model, non-finite X, unknown io_type or strategy.
    """
    return layer_outputs(keras_model, precision, X, io_type=io_type, strategy=strategy, reuse_factor=reuse_factor,
                         layer_options=layer_options)[-1][1]
