"""Types from data: a PrecisionDict whose integer bits cover the ranges a model reaches on X.

:func:`suggest_precision` walks the firmware steps (:func:`kappa.layers.build_plan`) in
order. Each layer's input is the firmware value of the previous layers under the types
already chosen (kappa's own numpy firmware forward, so the ranges are exact, not estimates
from float); then, per quantization point:

* ``input.value``: the range of X;
* ``weight``, ``bias``: the range of the layer's own weights (known exactly: no headroom);
* ``accumulator`` (Dense, Conv): the largest magnitude of every product ``x_i * w_ij``, the
  bias and every partial sum ``b_j + sum_{i<=k} x_i w_ij`` (input order, as
  ``nnet_dense_latency.h`` adds them), with lossless fractional bits ``F_x + F_w`` (fewer
  only if the accumulator would pass 62 bits) and WRAP (nothing reaches the rails);
* ``activation``: the range of the value cast to the layer's result type (after the
  ReLU for ``relu`` steps, after the slope for LeakyReLU; the pooled value for pooling
  layers, whose accumulator gets the same integer bits plus, for average pooling, the
  window sum's; ``x * scale + bias`` for BatchNormalization);
* ``scale``, ``bias`` (BatchNormalization), ``param`` (LeakyReLU's slope): known exactly
  (the inference affine map, the slope), typed like weights;
* sigmoid/tanh ``table`` and ``activation``: the table's entries lie in (0, 1) or (-1, 1)
  (hls4ml samples the function on [-8, 8)): ``ap_ufixed<bits, 0>`` / ``ap_fixed<bits, 1>``,
  saturating (an entry that rounds to 1.0 stays one LSB below it); the result takes the
  table's type, so the cast of an entry is lossless;
* softmax (``stable``, hls4ml's default), with ``b = log2(table_size)`` (1024 unless
  ``layer_options`` says otherwise) and ``n`` outputs; see :func:`softmax_types`;
* merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate): their one
  type, ``activation`` (hls4ml's ``result_t``, where the exact sum, product, ... is cast),
  from the range of the exact merged values (for Concatenate, of both inputs);
* point-wise Dense (on a (n, features) input): the Dense rule over every position.

Graphs are walked in topological order, each layer reading the firmware values of the layers
it names. A model with several inputs takes ``X`` as a list of arrays, and each input gets its
own ``value`` type under its InputLayer's name (``input.value`` for a single input).

Softmax and argmax agreement (hls4ml issue #1512): the exp table is addressed by the top
``b`` bits of ``inp_norm_t``, so logits closer than one address step tie (the firmware then
reports the first of them). The default ``inp_norm_t`` of a wide input has a step of
2**(I - 1 - b) (0.5 for ``ap_fixed<22,10>`` logits); here ``inp_norm`` gets exactly ``b``
bits (its value is the table address) and the fewest integer bits that reach either the
largest logit gap seen (times 2**headroom) or the gap beyond which ``exp`` rounds to 0 in
the table type, whichever is smaller, with rounding to the nearest address and
saturation (every gap beyond the table reads its last, negligible entry). With 14 bits
and 1024 entries the step is 1/64.

Integer bits: the fewest for which the largest magnitude seen, rounded to the type's grid,
stays inside the signed range, plus ``headroom_bits`` (data-dependent fields only).
Fractional bits: the width budget minus the integer bits (``bits``, or per field
``input_bits``/``weight_bits``/``bias_bits``). Every type is a signed ``ap_fixed`` with
the ``rounding`` and ``overflow`` given (accumulators: TRN, WRAP), except the softmax and
sigmoid types, whose values are non-negative or bounded by construction: unsigned
(``ap_ufixed``) where the values are non-negative, always saturating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fixed_point import FixedPointType, as_type
from .precision import INPUT_LAYER, PrecisionDict
from .quantization import quantize

MAX_ACC_BITS = 62


@dataclass(frozen=True)
class FieldRange:
    """The range one PrecisionDict field reached on the data, and its type.

    Attributes:
        layer, field: the PrecisionDict entry (``input``/``value``, ``dense0``/``accumulator``...).
        lo, hi: smallest and largest value reached (for accumulators: products, bias and
            partial sums; for weights: the float weights).
        type: the suggested type.
    """

    layer: str
    field: str
    lo: float
    hi: float
    type: FixedPointType

    @property
    def margin_bits(self) -> float:
        """``log2(type bound / largest magnitude seen)``: bits of overflow margin (inf for all zeros)."""
        peak = max(abs(self.lo), abs(self.hi))
        if peak == 0:
            return math.inf
        bound = -self.type.min if self.lo < 0 and -self.lo >= self.hi else self.type.max
        return math.log2(bound / peak)


def integer_bits(peak: float, width: int | None = None, rounding: str = "RND_CONV") -> int:
    """Fewest integer bits I (sign included) such that ``peak`` (a magnitude), rounded onto
    ``ap_fixed<width, I>`` with ``rounding``, lies inside ``[-2**(I-1), 2**(I-1) - lsb]``.

    ``width=None``: ``peak`` is already on the type's grid (no rounding). 1 for ``peak == 0``.
    """
    if peak <= 0:
        return 1
    i = math.floor(math.log2(peak)) + 2  # 2**(i-2) <= peak < 2**(i-1)
    while width is not None:
        t = FixedPointType(width, i, True, rounding, "SAT")
        wider = FixedPointType(width + 2, i + 2, True, rounding, "WRAP")  # same LSB, no overflow
        if float(quantize(np.array([peak]), wider)[0]) <= t.max:
            break
        i += 1
    return i


def _fixed(width: int, integer: int, rounding: str, overflow: str) -> FixedPointType:
    return FixedPointType(max(width, 1), integer, True, rounding, overflow)


def _partial_sum_range(cols: np.ndarray, w: np.ndarray, b: np.ndarray | None, chunk: int = 4096):
    """(lo, hi) over every product, the bias and every partial sum of ``cols @ w + b``, and the sums."""
    lo, hi = 0.0, 0.0
    if b is not None:
        lo, hi = min(lo, float(b.min())), max(hi, float(b.max()))
    outs = []
    for s in range(0, cols.shape[0], chunk):
        p = cols[s:s + chunk, :, None] * w[None, :, :]
        part = np.cumsum(p, axis=1) + (b[None, None, :] if b is not None else 0.0)
        lo = min(lo, float(p.min(initial=0.0)), float(part.min(initial=0.0)))
        hi = max(hi, float(p.max(initial=0.0)), float(part.max(initial=0.0)))
        outs.append(part[:, -1, :])
    return lo, hi, np.concatenate(outs)


def _ufixed(width: int, integer: int, rounding: str, overflow: str = "SAT") -> FixedPointType:
    return FixedPointType(max(width, 1), integer, False, rounding, overflow)


def softmax_types(x: np.ndarray, *, bits: int, headroom_bits: int, rounding: str, exp_table_size: int,
                  inv_table_size: int, fused_accumulator: FixedPointType | None = None) -> dict:
    """Types of a ``stable`` softmax over the rows of ``x`` (its firmware input, (N, n)).

    Rules (values bounded by construction get no headroom, see the module docstring):

    * ``exp_table``: ``ap_ufixed<bits, 1>`` (entries ``exp(-d)`` in (0, 1]);
    * ``inp_norm``: ``ap_ufixed<b, I>``, ``b = log2(exp_table_size)`` bits (the address),
      ``I`` the fewest integer bits with ``2**I >= min(g * 2**headroom_bits, d_cut)``, g the
      largest gap ``max(x) - x_i`` seen, ``d_cut = (bits) * ln 2`` the gap beyond which
      ``exp(-d)`` rounds to 0 in ``exp_table_t`` (and I >= 0); rounding ``rounding``, SAT: a
      gap beyond the type reads the last, negligible entry, so its range seen may pass it;
    * ``accumulator``: ``ap_ufixed<I + bits - 1, I>`` with ``2**I > n`` (the sum of n entries
      <= 1; lossless), TRN, WRAP; for a softmax fused into a Dense/Conv that layer's
      accumulator is shared (``fused_accumulator``, sized by the Dense rule);
    * ``inv_inp``: ``ap_ufixed<log2(inv_table_size), I>`` (exactly the address), ``I`` the fewest
      integer bits holding the largest sum of exponentials seen plus ``headroom_bits``, at
      most those holding n; rounding, SAT. The sum is >= 1 (the largest input reads
      ``exp(0) = 1``), so only ``1/x`` of x in [1, n] is read;
    * ``inv_table``: ``ap_ufixed<bits, 1>`` (``1/x`` <= 1; the unread entries below 1 saturate),
      narrowed if ``accumulator x inv_table`` products would pass 62 bits;
    * ``activation``: ``ap_ufixed<bits, 1>``: ``exp_res * inv <= 1``.

    Returns:
        ``{field: (FixedPointType, lo, hi)}`` with the range each field's values take on
        ``x`` (float estimates, for the report).
    """
    n = int(x.shape[1])
    f_exp = bits - 1
    d = x.max(axis=1, keepdims=True) - x
    gap = float(d.max(initial=0.0))
    d_cut = bits * math.log(2.0)  # exp(-d) < 2**-(f_exp + 1): rounds to 0 in exp_table_t
    reach = min(gap * 2.0**headroom_bits, d_cut) if gap > 0 else d_cut
    b_exp = int(exp_table_size).bit_length() - 1
    b_inv = int(inv_table_size).bit_length() - 1
    inp_norm = _ufixed(b_exp, max(math.ceil(math.log2(reach)), 0), rounding)  # at least gaps up to 1
    sums = np.exp(-d).sum(axis=1)
    i_bound = n.bit_length()  # 2**I > n
    i_sum = min(math.floor(math.log2(float(sums.max(initial=1.0)))) + 1 + headroom_bits, i_bound)
    inv_inp = _ufixed(b_inv, max(i_sum, 1), rounding)
    if fused_accumulator is not None:
        acc = fused_accumulator
    else:
        acc = _ufixed(i_bound + min(f_exp, MAX_ACC_BITS - bits - i_bound, 51 - i_bound), i_bound, "TRN", "WRAP")
    inv_w = min(bits, MAX_ACC_BITS - acc.width)
    if inv_w < 2:
        raise ValueError(f"the softmax accumulator {acc} leaves no room for the inversion table within "
                         f"{MAX_ACC_BITS}-bit products; use fewer bits")
    prob = np.exp(-d) / sums[:, None]
    return {"exp_table": (_ufixed(bits, 1, rounding), float(np.exp(-gap)), 1.0),
            "inp_norm": (inp_norm, 0.0, gap),
            "accumulator": (acc, 0.0, float(sums.max(initial=0.0))),
            "inv_inp": (inv_inp, float(sums.min()) if sums.size else 0.0, float(sums.max(initial=0.0))),
            "inv_table": (_ufixed(inv_w, 1, rounding), float(1.0 / sums.max(initial=1.0)), 1.0),
            "activation": (_ufixed(bits, 1, rounding), float(prob.min(initial=0.0)), float(prob.max(initial=0.0)))}


def table_type(kind: str, bits: int, rounding: str) -> FixedPointType:
    """``table`` (and result) type of a sigmoid (``ap_ufixed<bits,0>``) or tanh
    (``ap_fixed<bits,1>``) table, saturating (entries in (0, 1) / (-1, 1))."""
    if kind == "sigmoid":
        return _ufixed(bits, 0, rounding)
    return FixedPointType(bits, 1, True, rounding, "SAT")


def suggest_precision(model, X, *, bits: int = 16, headroom_bits: int = 1, input_bits: int | None = None,
                      weight_bits: int | None = None, bias_bits: int | None = None, rounding: str = "RND_CONV",
                      overflow: str = "SAT", io_type: str = "io_parallel", layer_options=None, path=None,
                      overwrite: bool = False, return_ranges: bool = False, verbose: bool = False):
    """A PrecisionDict whose integer bits cover the ranges ``model`` reaches on ``X``.

    Args:
        model: a Keras 3 model of layers kappa emulates (``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        X: inputs (N, *input_shape), the data the ranges are taken from (a list of arrays
            for a model with several inputs).
        bits: width budget (bits) of every input, weight, bias and result type.
        headroom_bits: integer bits added above the range seen (>= 0), for data-dependent fields.
        input_bits, weight_bits, bias_bits: widths overriding ``bits`` for those fields.
        rounding, overflow: the modes of every type but the accumulators (TRN, WRAP).
        io_type: the firmware I/O mode (io_stream inserts zero-padding steps; same values).
        layer_options: the per-layer firmware options the model will be converted with
            (``{"softmax": {"table_size": 4096}}``): table sizes set the softmax address widths.
        path: optional ``.yaml``/``.json`` file to write (refused if it exists, unless
            ``overwrite``); the user edits it, :meth:`PrecisionDict.validate` checks it.
        return_ranges: also return the per-field :class:`FieldRange` list.
        verbose: print the per-field table (range seen, type, margin in bits).

    Returns:
        PrecisionDict, or ``(PrecisionDict, [FieldRange])`` with ``return_ranges``.

    Raises:
        ValueError: bad widths/headroom, an existing ``path`` without ``overwrite``, a
            ``latency`` softmax (named; its types are given by hand), and whatever
            :func:`kappa.predict_quantized` raises for the model or X.
    """
    from .inputs import check_model_inputs
    from .layers import FirmwareOptions, build_plan, model_graph
    from .layers.conv import as_2d, im2col
    from .layers.merge import merge_value

    for nm, v in (("bits", bits), ("input_bits", input_bits), ("weight_bits", weight_bits), ("bias_bits", bias_bits)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 32):
            raise ValueError(f"{nm}={v!r}: give an integer width from 2 to 32 bits")
    if isinstance(headroom_bits, bool) or not isinstance(headroom_bits, int) or headroom_bits < 0:
        raise ValueError(f"headroom_bits={headroom_bits!r}: give an integer >= 0")
    if path is not None:
        path = Path(path)
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise ValueError(f"path {str(path)!r}: use a .yaml, .yml or .json file")
        if path.exists() and not overwrite:
            raise ValueError(f"{str(path)!r} exists; pass overwrite=True or choose another path")
    opts = FirmwareOptions(io_type, layer_options=dict(layer_options or {}))
    x_all = check_model_inputs(X, model)
    ranges: list[FieldRange] = []

    def data_type(layer, fld, values, width):
        lo, hi = float(np.min(values, initial=0.0)), float(np.max(values, initial=0.0))
        i = integer_bits(max(-lo, hi), width, rounding) + headroom_bits
        t = _fixed(width, i, rounding, overflow)
        ranges.append(FieldRange(layer, fld, lo, hi, t))
        return t

    plan0 = build_plan(model, None, opts, strict=True)
    inputs = model_graph(model).inputs
    spec: dict[str, dict[str, str]] = {}
    values, types = {}, {}  # every step's (and input's) firmware value and type, by name
    for name, xi in zip(inputs, x_all):
        key = INPUT_LAYER if len(inputs) == 1 else name
        first = next((st for st in plan0 if name in st.inputs), None)
        if first is not None and first.family.name == "embedding":  # indices: the widest ap_uint whose values are all rows
            b = max(1, int(first.attrs["vocab"]).bit_length() - 1)
            t = FixedPointType(b, b, False, "TRN", "SAT")
            ranges.append(FieldRange(key, "value", float(np.min(xi)), float(np.max(xi)), t))
        else:
            t = data_type(key, "value", xi, input_bits or bits)
        spec[key] = {"value": str(t)}
        values[name], types[name] = quantize(xi, t), t
    names = []
    for st in plan0:
        if st.keras_name not in names:
            names.append(st.keras_name)
    for name in names:
        steps = [s for s in build_plan(model, PrecisionDict(spec), opts, strict=True) if s.keras_name == name]
        entry: dict[str, str] = {}
        for st in steps:
            fam = st.family.name
            ins = [values[n] for n in st.inputs]
            cur, cur_t = ins[0], types[st.inputs[0]]
            if fam in ("dense", "conv", "depthwise"):
                arrays = {k: a for k, _, a, _ in st.family.weights(st)}
                w = arrays["weight"]
                wb = weight_bits or bits
                w_t = _fixed(wb, integer_bits(float(np.abs(w).max(initial=0.0)), wb, rounding), rounding, overflow)
                ranges.append(FieldRange(name, "weight", float(w.min()), float(w.max()), w_t))
                wq = quantize(w, w_t).reshape(-1, w.shape[-1])
                bq, b_t = None, None
                if "bias" in arrays:
                    b = arrays["bias"]
                    bb = bias_bits or bits
                    b_t = _fixed(bb, integer_bits(float(np.abs(b).max(initial=0.0)), bb, rounding), rounding, overflow)
                    ranges.append(FieldRange(name, "bias", float(b.min()), float(b.max()), b_t))
                    bq = quantize(b, b_t)
                    entry["bias"] = str(b_t)
                entry["weight"] = str(w_t)
                if fam in ("conv", "depthwise"):
                    a = st.attrs
                    cols = im2col(cur.reshape((cur.shape[0], *as_2d(st.in_shape))), a["kernel"], a["strides"], a["pads"])
                    cols = cols.reshape(-1, cols.shape[-1])
                else:  # a point-wise Dense: every position is one Dense
                    cols = cur.reshape(-1, wq.shape[0])
                if fam == "depthwise":  # one Dense per channel: the union of the channels' ranges
                    c = st.in_shape[-1]
                    cols = cols.reshape(len(cols), -1, c)
                    wq = quantize(w, w_t).reshape(-1, c)
                    parts = [_partial_sum_range(cols[:, :, k], wq[:, k:k + 1], None if bq is None else bq[k:k + 1])
                             for k in range(c)]
                    lo, hi = min(p[0] for p in parts), max(p[1] for p in parts)
                    sums = np.concatenate([p[2] for p in parts], axis=1)
                else:
                    lo, hi, sums = _partial_sum_range(cols, wq, bq)
                frac = cur_t.fractional + w_t.fractional
                if b_t is not None:
                    frac = max(frac, b_t.fractional)
                i_acc = integer_bits(max(-lo, hi)) + headroom_bits  # sums lie on the accumulator grid
                cap = MAX_ACC_BITS
                if st.attrs.get("fused") == "softmax":  # the softmax sums its n entries (<= 1) in this type
                    i_acc = max(i_acc, int(w.shape[-1]).bit_length() + 1)
                    cap = min(51, MAX_ACC_BITS - bits)  # room for the accumulator x inv_table products
                frac = min(frac, cap - i_acc)
                acc_t = FixedPointType(i_acc + frac, i_acc, True, "TRN", "WRAP")
                ranges.append(FieldRange(name, "accumulator", lo, hi, acc_t))
                entry["accumulator"] = str(acc_t)
                if st.attrs.get("fused", "linear") == "linear":
                    entry["activation"] = str(data_type(name, "activation", sums, bits))
            elif fam in ("relu", "linear", "activation", "relu6"):
                y = np.maximum(cur, 0) if st.kind == "relu" else np.clip(cur, 0, 6) if st.kind == "relu6" else cur
                entry["activation"] = str(data_type(name, "activation", y, bits))
            elif fam in ("thresholded_relu", "prelu"):
                from .layers.relu_variants import DEFAULT_PARAM_T

                if fam == "prelu":
                    a = np.asarray(st.layer.alpha.numpy(), np.float64)
                    p_t = _fixed(bits, integer_bits(float(np.abs(a).max(initial=0.0)), bits, rounding), rounding,
                                 overflow)
                    ranges.append(FieldRange(name, "param", float(a.min()), float(a.max()), p_t))
                    y = np.where(cur > 0, cur, quantize(a, p_t) * cur)
                else:  # the threshold keeps hls4ml's param type unless it needs more integer bits
                    th = st.attrs["theta"]
                    i = max(DEFAULT_PARAM_T.integer, integer_bits(abs(th), DEFAULT_PARAM_T.width, "TRN"))
                    p_t = FixedPointType(DEFAULT_PARAM_T.width, i, True, "TRN", "WRAP")
                    ranges.append(FieldRange(name, "param", th, th, p_t))
                    y = np.where(cur > float(quantize(np.array(th), p_t)), cur, 0.0)
                entry["param"] = str(p_t)
                entry["activation"] = str(data_type(name, "activation", y, bits))
            elif fam == "embedding":
                e = np.asarray(st.layer.embeddings.numpy(), np.float64)
                wb = weight_bits or bits
                w_t = _fixed(wb, integer_bits(float(np.abs(e).max(initial=0.0)), wb, rounding), rounding, overflow)
                ranges.append(FieldRange(name, "weight", float(e.min()), float(e.max()), w_t))
                entry["weight"] = str(w_t)
                entry["activation"] = str(w_t)  # the looked-up entries: lossless
            elif fam == "pool":
                y = st.family.forward(st, cur, None, opts)  # float pooling: the values before the result cast
                res_t = data_type(name, "activation", y, bits)
                extra = 0
                if st.attrs["op"] == "average":
                    k = st.attrs.get("kernel")
                    extra = math.ceil(math.log2(int(np.prod(k)) if k else int(np.prod(st.in_shape[:-1]))))
                acc_t = FixedPointType(
                    cur_t.width + extra + 1, max(cur_t.integer, res_t.integer) + extra + 1, True, "TRN", "WRAP"
                )
                entry["accumulator"] = str(acc_t)
            elif fam == "leaky_relu":
                a = st.attrs["alpha"]
                p_t = _fixed(bits, integer_bits(abs(a), bits, rounding), rounding, overflow)
                ranges.append(FieldRange(name, "param", a, a, p_t))
                entry["param"] = str(p_t)
                aq = float(quantize(np.array(a), p_t))
                entry["activation"] = str(data_type(name, "activation", np.where(cur > 0, cur, aq * cur), bits))
            elif fam == "batchnorm":
                from .layers.batchnorm import inference_affine

                scale, bias = inference_affine(st.layer)
                for fld, v, wb in (("scale", scale, weight_bits or bits), ("bias", bias, bias_bits or bits)):
                    t = _fixed(wb, integer_bits(float(np.abs(v).max(initial=0.0)), wb, rounding), rounding, overflow)
                    ranges.append(FieldRange(name, fld, float(v.min()), float(v.max()), t))
                    entry[fld] = str(t)
                y = cur * quantize(scale, as_type(entry["scale"])) + quantize(bias, as_type(entry["bias"]))
                entry["activation"] = str(data_type(name, "activation", y, bits))
            elif fam == "table":
                t = table_type(st.attrs["kind"], bits, rounding)
                lo, hi = (0.0, 1.0) if st.attrs["kind"] == "sigmoid" else (-1.0, 1.0)
                for fld in ("table", "activation"):
                    ranges.append(FieldRange(name, fld, lo, hi, t))
                    entry[fld] = str(t)
            elif fam == "softmax":
                impl = st.attrs["implementation"]
                if impl == "latency":
                    raise ValueError(f"layer {name!r}: suggest_precision has no rule for a 'latency' softmax (its exp "
                                     "table is addressed by the input type itself); use implementation 'stable' "
                                     "(hls4ml's default) or give that layer's types by hand")
                if impl == "argmax":
                    t = _ufixed(bits, 1, rounding)
                    ranges.append(FieldRange(name, "activation", 0.0, 1.0, t))
                    entry["activation"] = str(t)
                else:
                    n = st.attrs["table_size"]
                    fused = as_type(entry["accumulator"]) if "accumulator" in entry else None
                    types = softmax_types(cur.reshape(len(cur), -1), bits=bits, headroom_bits=headroom_bits,
                                          rounding=rounding, exp_table_size=n, inv_table_size=n,
                                          fused_accumulator=fused)
                    for fld, (t, lo, hi) in types.items():
                        if fld == "accumulator" and fused is not None:
                            continue
                        ranges.append(FieldRange(name, fld, lo, hi, t))
                        entry[fld] = str(t)
            elif fam == "merge":
                op = st.attrs["op"]
                y = np.concatenate([a.ravel() for a in ins]) if op == "concatenate" else merge_value(op, *ins)
                entry["activation"] = str(data_type(name, "activation", y, bits))
            elif not st.family.passthrough:
                raise ValueError(f"layer {name!r}: suggest_precision has no range rule for a {fam} layer (it covers "
                                 "every layer kind kappa emulates); give that layer's types by hand, or suggest for "
                                 "the model up to the layer before it")
            # advance through this step with the types chosen so far (the firmware's values)
            if entry:
                spec[name] = dict(entry)
            step = next(s for s in build_plan(model, PrecisionDict(spec), opts, strict=True) if s.name == st.name)
            if step.family.multi_input:
                y = step.family.forward(step, ins, [types[n] for n in step.inputs], opts)
            else:
                y = step.family.forward(step, cur, cur_t, opts)
            values[step.name], types[step.name] = y, step.types.get("result") or cur_t
    P = PrecisionDict(spec)
    if verbose:
        print(format_ranges(ranges))
    if path is not None:
        P.save(path)
    return (P, ranges) if return_ranges else P


def format_ranges(ranges: list[FieldRange]) -> str:
    """A Markdown table: layer, field, range seen, type, overflow margin (bits)."""
    lines = ["| layer | field | range seen | type | margin (bits) |", "|---|---|---|---|---|"]
    for r in ranges:
        lines.append(f"| {r.layer} | {r.field} | [{r.lo:.6g}, {r.hi:.6g}] | `{r.type}` | {r.margin_bits:.2f} |")
    return "\n".join(lines)
