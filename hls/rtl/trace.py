"""A kappa model at its PrecisionDict's types -> one da4ml combinational trace.

The trace computes, element for element, what :func:`kappa.predict_quantized` computes
with ``strategy="distributed_arithmetic"`` (io_parallel): every number is a da4ml
``FixedVariable`` whose interval and grid are exact, and every cast is da4ml's
``quantize(k, i, f, overflow, round)`` at the kappa type (``ap_fixed<W,I>`` is
``k=1, i=I-1, f=W-I``; ``ap_ufixed<W,I>`` is ``k=0, i=I, f=W-I``).

Layers (the firmware steps of :func:`kappa.layers.build_plan`):

* Dense, Conv1D/2D (every output pixel one constant-matrix product): ``x @ Wq + bq``
  exact (weights and bias quantized to their types), then cast to the result type: the
  arithmetic of hls4ml 1.3.0's ``distributed_arithmetic`` strategy (the accumulator
  type is not used; see :mod:`kappa.layers.exact_matrix`).
* ReLU: ``max(x, 0)`` then the cast; linear: the cast.
* BatchNormalization (a separate layer, as hls4ml keeps it with explicit types):
  ``x * scale + bias`` exact, then the cast (kappa's ``affine_exact``).
* MaxPooling/GlobalMaxPooling (io_parallel): the window maximum, cast to the
  accumulator type, then to the result type.
* Flatten, Reshape: a relabelling of wires.
* Other elementwise activations (sigmoid/tanh tables, LeakyReLU): one lookup table per
  element whose entries are kappa's own numpy forward of the step evaluated on every
  value the input type can hold (inputs up to :data:`MAX_TABLE_INPUT_BITS` bits).

Refused, naming the layer, the field, the value and what would work: a rounding mode
other than TRN/RND or an overflow mode other than WRAP/SAT/SAT_SYM *where it can act*
(da4ml's ``quantize`` implements only those; a mode that cannot change any value of the
source interval is accepted), average pooling, softmax (unless ``drop_softmax``: the
final softmax is dropped and the design outputs the logits), io_stream-only layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from kappa import FixedPointType, PrecisionDict
from kappa.firmware_forward import firmware_plan
from kappa.layers import FirmwareOptions
from kappa.precision import INPUT_LAYER, ensure_precision_dict

DA_ROUNDING = ("TRN", "RND")
"""Rounding modes da4ml 0.5.2's ``FixedVariable.quantize`` implements."""
DA_OVERFLOW = ("WRAP", "SAT", "SAT_SYM")
"""Overflow modes da4ml 0.5.2's ``FixedVariable.quantize`` implements."""
MAX_TABLE_INPUT_BITS = 12
"""Widest input of a lookup-table activation (the table has 2**bits entries per element)."""
TABLE_FAMILIES = ("table", "leaky_relu")
"""Elementwise kappa families traced as one lookup table per element (kappa's forward)."""
SOLVER_OPTIONS = {"hard_dc": 2}
"""da4ml constant-matrix solver options (hls4ml 1.3.0's default ``DA_HARD_DC`` = 2)."""


@dataclass
class RtlTrace:
    """The traced design.

    Attributes:
        comb: da4ml ``CombLogic`` (inputs: the flattened model input, channels_last order;
            outputs: the flattened result of ``steps[-1]``).
        steps: the kappa firmware steps traced (the dropped softmax excluded).
        input_type, output_type: kappa types of the design's input and output.
        input_shape, output_shape: per-sample shapes.
        precision: the resolved PrecisionDict (every type the design uses written out).
        dropped_softmax: True when a final softmax was left out (the design outputs logits).
        keras_model: the model traced.
    """

    comb: object
    steps: list
    input_type: FixedPointType
    output_type: FixedPointType
    input_shape: tuple
    output_shape: tuple
    precision: PrecisionDict | None = None
    dropped_softmax: bool = False
    keras_model: object = None


def kif(t: FixedPointType) -> tuple[int, int, int]:
    """da4ml's (sign bit, integer bits without sign, fraction bits) of a kappa type."""
    k = int(t.signed)
    return k, t.integer - k, t.width - t.integer


def _interval(v: np.ndarray) -> tuple[Decimal, Decimal, Decimal]:
    """(lowest, highest, finest step) over the FixedVariables of an object array."""
    flat = [x for x in np.ravel(v)]
    return min(x.low for x in flat), max(x.high for x in flat), min(x.step for x in flat)


def cast(v, t: FixedPointType, layer: str, field: str):
    """``(t) v`` for a FixedVariableArray ``v``, with ``t``'s rounding and overflow.

    Raises:
        ValueError: a rounding or overflow mode da4ml cannot express that could change a
            value of ``v``'s interval (names the layer, the field, the mode and the modes
            that would work).
    """
    tc = t.value_cast_type
    k, i, f = kif(t)
    low, high, step = _interval(v._vars)
    lsb = Decimal(2) ** -f
    if tc.rounding not in DA_ROUNDING and step < lsb:
        raise ValueError(f"layer {layer!r}, field {field!r}: type {t} rounds with {tc.rounding}, which the RTL "
                         f"path (da4ml) cannot express; use rounding {' or '.join(DA_ROUNDING)} "
                         f"(e.g. ap_fixed<{t.width},{t.integer},RND,{t.overflow}>)")
    tmin = -(Decimal(2) ** i) * k
    tmax = Decimal(2) ** i - lsb
    if tc.overflow not in DA_OVERFLOW and (low < tmin or high > tmax):
        raise ValueError(f"layer {layer!r}, field {field!r}: type {t} overflows with {tc.overflow}, which the RTL "
                         f"path (da4ml) cannot express; use overflow {', '.join(DA_OVERFLOW)}")
    # a mode checked above to be unable to act is replaced by the da4ml mode it equals here
    rnd = tc.rounding if tc.rounding in DA_ROUNDING else "TRN"
    ovf = tc.overflow if tc.overflow in DA_OVERFLOW else "WRAP"
    return v.quantize(k, i, f, ovf, rnd)


def _result_field(step) -> str:
    if step.family.name in ("dense", "conv") and step.attrs.get("fused", "linear") != "linear":
        return "accumulator"
    return "activation"


def _trace_step(step, v, in_t, opts):
    from da4ml.trace import FixedVariableArray

    from kappa.layers.conv import as_2d, im2col

    fam, name = step.family.name, step.name
    res_t = step.types.get("result")
    if step.family.passthrough:  # Flatten, Reshape (zero padding is inserted under io_stream only)
        return v.reshape(step.out_shape)
    if res_t is None:
        raise ValueError(f"layer {name!r}: no result type; the RTL path needs every type explicit")
    if fam == "dense":
        from kappa.quantization import quantize

        w = quantize(np.asarray(step.layer.kernel.numpy(), np.float64), step.types["weight"])
        y = v @ w
        if step.attrs.get("use_bias", True):
            y = y + quantize(np.asarray(step.layer.bias.numpy(), np.float64), step.types["bias"])
        return cast(y, res_t, step.keras_name, _result_field(step))
    if fam == "conv":
        from kappa.quantization import quantize

        a = step.attrs
        w = quantize(np.asarray(step.layer.kernel.numpy(), np.float64), step.types["weight"])
        w = w.reshape(-1, w.shape[-1])
        x4 = v._vars.reshape((1, *as_2d(step.in_shape)))
        cols = im2col(x4, a["kernel"], a["strides"], a["pads"], pad_value=0.0)
        _, oh, ow, kk = cols.shape
        y = FixedVariableArray(cols.reshape(oh * ow, kk), v.solver_options) @ w
        if a.get("use_bias", True):
            y = y + quantize(np.asarray(step.layer.bias.numpy(), np.float64), step.types["bias"])
        return cast(y.reshape(step.out_shape), res_t, step.keras_name, _result_field(step))
    if fam == "relu":
        return cast(v.relu(), res_t, step.keras_name, "activation")
    if fam == "linear":
        return cast(v, res_t, step.keras_name, "activation")
    if fam == "batchnorm":
        scale, bias = step.family.arrays(step)
        return cast(v * scale + bias, res_t, step.keras_name, "activation")
    if fam == "pool":
        from kappa.layers.pooling import pad_value

        a = step.attrs
        if a["op"] != "max":
            raise ValueError(f"layer {name!r}: average pooling is not traced to RTL yet; use MaxPooling or "
                             "the HLS path")
        x4 = v._vars.reshape((1, *as_2d(step.in_shape)))
        c = x4.shape[-1]
        if a["global"]:
            win = x4.reshape(1, -1, c).transpose(0, 2, 1)[0]          # (C, P)
        else:
            cols = im2col(x4, a["kernel"], a["strides"], a["pads"], pad_value=pad_value(in_t))
            _, oh, ow, kk = cols.shape
            win = cols.reshape(oh * ow, kk // c, c).transpose(0, 2, 1).reshape(-1, kk // c)
        m = np.amax(FixedVariableArray(win, v.solver_options), axis=-1)
        m = cast(m, step.types["accumulator"], step.keras_name, "accumulator")
        return cast(m.reshape(step.out_shape), res_t, step.keras_name, "activation")
    if fam == "softmax":
        raise ValueError(f"layer {step.keras_name!r}: softmax is traced to RTL only as the final layer, "
                         "dropped to logits (drop_softmax=True, --drop-softmax)")
    if fam in TABLE_FAMILIES:
        return _table_step(step, v, in_t, opts)
    raise ValueError(f"layer {name!r}: the {fam} family is not traced to RTL; supported: Dense, Conv1D/2D, ReLU, "
                     "linear, BatchNormalization, MaxPooling, Flatten/Reshape, sigmoid/tanh tables, LeakyReLU")


def _table_step(step, v, in_t, opts):
    """An elementwise step as one lookup table per element, filled by kappa's forward."""
    if in_t is None or in_t.width > MAX_TABLE_INPUT_BITS:
        raise ValueError(f"layer {step.name!r}: a lookup-table activation needs an input of at most "
                         f"{MAX_TABLE_INPUT_BITS} bits, got {in_t}; narrow the previous layer's result type")
    size = int(np.prod(step.in_shape))

    def fn(values):
        vals = np.asarray(values, np.float64).ravel()
        n = len(vals)
        rows = -(-n // size)
        x = np.zeros(rows * size)
        x[:n] = vals
        y = step.family.forward(step, x.reshape((rows, *step.in_shape)), in_t, opts)
        return np.asarray(y, np.float64).ravel()[:n]

    from da4ml.trace import FixedVariableArray

    tables: dict = {}
    out = []
    for var in np.ravel(v._vars):
        key = (var.low, var.high, var.step)
        if key not in tables:  # entries for every value of the variable's grid, lowest first
            n = int((var.high - var.low) / var.step) + 1
            grid = np.array([float(var.low + j * var.step) for j in range(n)])
            tables[key] = fn(grid)
        out.append(var.lookup(tables[key]) if var.low != var.high else tables[key][0])
    return FixedVariableArray(np.array(out, dtype=object).reshape(v.shape), v.solver_options)


def _inputs(t: FixedPointType, n: int, offload=None):
    from da4ml.trace import FixedVariableArray, HWConfig

    k, i, f = kif(t)
    options = dict(SOLVER_OPTIONS, **({"offload_fn": offload} if offload is not None else {}))
    return FixedVariableArray.from_kif(np.full(n, k), np.full(n, i), np.full(n, f), HWConfig(1, -1, -1),
                                       solver_options=options)


def first_diverging_step(tr: RtlTrace, x: np.ndarray, got: np.ndarray):
    """Where the RTL of one sample parts from the Python emulation.

    Every step of ``tr`` is traced on its own (its input at the previous result type) and
    evaluated by da4ml's own simulation of that logic (``CombLogic.predict``) on the
    emulation's input to the step; the first step whose output differs from the emulation
    is named. When every step agrees, the difference lies between da4ml's logic and the
    simulated Verilog, and the design's output is named.

    Args:
        tr: the trace of the project's model.
        x: one input sample, shape ``input_shape`` (float, quantized here).
        got: the RTL's output for it (values, flattened).

    Returns:
        ``(layer, element, rtl_value, python_value)`` or None when nothing differs.
    """
    from da4ml.trace import comb_trace

    from kappa.firmware_forward import layer_outputs
    from kappa.quantization import quantize

    by_name = dict(layer_outputs(tr.keras_model, tr.precision, x[None], strategy="distributed_arithmetic"))
    prev, prev_t = quantize(np.asarray(x, np.float64).ravel(), tr.input_type), tr.input_type
    for st in tr.steps:
        want = np.ravel(by_name[st.name])
        try:
            inp = _inputs(prev_t, prev.size)
            out = _trace_step(st, inp.reshape(st.in_shape), prev_t, FirmwareOptions(strategy="distributed_arithmetic"))
            y = np.ravel(comb_trace(inp, out.ravel()).predict(prev[None]))
        except ValueError:  # a mode accepted on the design's narrower interval: this step cannot be isolated
            y = want
        if np.any(y != want):
            j = int(np.flatnonzero(y != want)[0])
            return st.name, j, float(y[j]), float(want[j])
        prev, prev_t = want, st.types.get("result") or prev_t
    want = prev
    got = np.ravel(got)
    if np.any(got != want):
        j = int(np.flatnonzero(got != want)[0])
        return f"{tr.steps[-1].name if tr.steps else 'input'} (Verilog vs da4ml logic)", j, float(got[j]), \
            float(want[j])
    return None


def _offload_all(cm: np.ndarray, v) -> np.ndarray:
    """da4ml ``offload_fn`` sending every weight of a constant matrix to the plain
    multiply-add path (``mmm``): no adder-graph solve, so no numba compilation."""
    return np.ones(cm.shape, bool)


def trace_model(keras_model, precision, *, drop_softmax: bool = False, check_only: bool = False) -> RtlTrace | None:
    """Trace ``keras_model`` at ``precision`` into one da4ml combinational design.

    Args:
        keras_model: Keras 3 chain of supported layers (see the module docstring).
        precision: PrecisionDict (or what ``kappa.ensure_precision_dict`` accepts); every
            type explicit.
        drop_softmax: drop a final softmax layer (the design outputs its input, the logits).
        check_only: run every check of the trace, but compute the constant-matrix products
            as plain sums of products instead of solving their adder graphs (da4ml's
            ``offload_fn``), and build no design: a pre-check before training that costs no
            solver compilation (about 100 s of numba the first time on 2 cores). A sum of
            products bounds its result at least as tightly as the solved graph, so a mode
            refused here is refused by the full trace too; the full trace may refuse a mode
            that acts only on its (wider) interval.

    Returns:
        :class:`RtlTrace`; None with ``check_only``.

    Raises:
        ValueError: no PrecisionDict, an unsupported layer or mode (names the layer, field,
            value and what would work), I/O ports wider than 32 bits per element.
    """
    from da4ml.trace import comb_trace

    precision = ensure_precision_dict(precision)
    if not isinstance(precision, PrecisionDict):
        raise ValueError("the RTL path needs a PrecisionDict with every type explicit, got None")
    plan = firmware_plan(keras_model, precision, FirmwareOptions(strategy="distributed_arithmetic"))
    opts, steps = plan.opts, list(plan.steps)
    dropped = False
    if steps and steps[-1].family.name == "softmax":
        if not drop_softmax:
            raise ValueError(f"layer {steps[-1].keras_name!r}: softmax is not traced to RTL; drop it to logits "
                             "(drop_softmax=True, --drop-softmax), as triggers do")
        steps, dropped = steps[:-1], True
    in_t = precision.dtype(INPUT_LAYER, "value")
    if in_t is None:
        raise ValueError("input.value has no type; the RTL path needs the input type (e.g. ap_fixed<16,6>)")
    out_t = next((st.types["result"] for st in reversed(steps) if st.types.get("result") is not None), in_t)
    for what, t in (("input", in_t), ("output", out_t)):
        if t.width > 32:
            raise ValueError(f"{what} type {t} is wider than 32 bits; the Verilator harness passes each "
                             "element as a 32-bit word: use a narrower type")
    in_shape = tuple(int(d) for d in keras_model.inputs[0].shape[1:])
    inp = _inputs(in_t, int(np.prod(in_shape)), offload=_offload_all if check_only else None)
    v, cur_t = inp.reshape(in_shape), in_t
    for st in steps:
        v = _trace_step(st, v, cur_t, opts)
        cur_t = st.types.get("result") or cur_t
    if check_only:
        return None
    comb = comb_trace(inp, v.ravel())
    return RtlTrace(comb, steps, in_t, out_t, in_shape, tuple(steps[-1].out_shape) if steps else in_shape,
                    plan.resolved_precision(), dropped, keras_model)
