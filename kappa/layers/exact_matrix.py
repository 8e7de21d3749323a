"""The ``distributed_arithmetic`` strategy's matrix arithmetic: exact product, then one cast.

hls4ml 1.3.0 implements ``strategy: distributed_arithmetic`` for Dense and Conv1D/2D
(``backends/vivado/passes/distributed_arithmetic.py``, ``DistributedArithmeticCodegen``)
by tracing ``inp @ kernel + bias`` with da4ml: the constant-matrix product and the bias
addition are computed at full precision (every adder is as wide as its operands need;
the accumulator type is not used, and neither are the weight and bias types: the kernel
is the float array of the converted model, which kappa has quantized to the weight and
bias types beforehand, so no ternary product either), and the exact sum is assigned to
the layer's ``result_t`` with that type's rounding and overflow. The same function is the
kernel of every convolution pixel (``nnet_da_wrappers.h``).

So: ``res[j] = (result_t)(sum_i x[i] * w[i][j] + b[j])``, computed here on int64 codes.
Reuse factor must be 1 (hls4ml raises otherwise).
"""

from __future__ import annotations

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, requantize_codes, to_codes

DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"
"""hls4ml's strategy name (lower case, as hls4ml spells it)."""

MAX_EXACT_BITS = 62


def _bits(max_abs: int) -> int:
    return int(max_abs).bit_length()


def exact_matrix_arith(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: dict,
                       in_t: FixedPointType | None, name: str) -> np.ndarray:
    """One Dense (or one convolution pixel) under ``distributed_arithmetic``, numpy.

    Args:
        x: float64 (M, n_in), values on ``in_t``.
        w: float64 (n_in, n_out) Keras-order weights (quantized here to the weight type).
        b: float64 (n_out,) or None.
        types: ``weight``, ``bias``, ``result`` (``accumulator`` is ignored, as in hls4ml).
        in_t: the type of ``x``.
        name: the layer name, for messages.

    Returns:
        float64 (M, n_out): ``(result_t)(x @ w + b)`` with the sum exact.

    Raises:
        ValueError: a missing type (names the layer and field), or an exact sum wider than
            62 bits (int64), naming the layer, the bits needed and narrower types as the fix.
    """
    w_t, b_t, res_t = types.get("weight"), types.get("bias"), types.get("result")
    for fld, t in (("input", in_t), ("weight", w_t), ("result", res_t)) + ((("bias", b_t),) if b is not None else ()):
        if t is None:
            raise ValueError(f"layer {name!r}: the distributed_arithmetic strategy needs an explicit {fld} type "
                             "(it is computed exactly and cast once to the result type)")
    wq = quantize(w, w_t)
    xc, wc = to_codes(x, in_t), to_codes(wq, w_t)
    fx, fw = in_t.fractional, w_t.fractional
    F = fx + fw if b is None else max(fx + fw, b_t.fractional)
    bc = np.zeros(wq.shape[1], np.int64) if b is None else to_codes(quantize(b, b_t), b_t)
    bshift = 0 if b is None else F - b_t.fractional
    pshift = F - fx - fw
    xmax = max(abs(in_t.qmin), abs(in_t.qmax))
    bound = xmax * int(np.abs(wc).sum(axis=0).max(initial=0)) * (1 << pshift) \
        + int(np.abs(bc).max(initial=0)) * (1 << bshift)
    if _bits(bound) + 1 > MAX_EXACT_BITS:
        raise ValueError(f"layer {name!r}: the exact distributed_arithmetic sum needs {_bits(bound) + 1} bits "
                         f"({in_t} inputs, {w_t} weights); kappa's int64 emulation supports {MAX_EXACT_BITS}: "
                         "use narrower input, weight or bias types")
    acc = (xc @ wc) << np.int64(pshift)
    acc = acc + (bc << np.int64(bshift))[None, :]
    return requantize_codes(acc, F, res_t.value_cast_type) * res_t.lsb
