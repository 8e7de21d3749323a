"""Helpers several layer families share; imports nothing from the families.

* :data:`MAX_PRODUCT_BITS_NUMPY`, :data:`MAX_PRODUCT_BITS_TF` — the widest product of two
  fixed-point codes each forward emulates exactly (int64 in numpy, the float64
  significand in TensorFlow).
* :func:`activation_name` — the name of a Keras activation function.
* :func:`is_ternary` — ``ap_int<2>`` weights (hls4ml's ternary product).

The split of a fused activation into its own step lives in :mod:`kappa.layers.fused`
(it needs the activation families themselves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only
    from ..fixed_point import FixedPointType

__all__ = ["MAX_PRODUCT_BITS_NUMPY", "MAX_PRODUCT_BITS_TF", "activation_name", "is_ternary"]

#: Widest ``in_t.width + w_t.width`` the numpy firmware forward multiplies exactly (int64).
MAX_PRODUCT_BITS_NUMPY = 62
#: Widest ``in_t.width + w_t.width`` the TensorFlow training forward multiplies exactly (float64).
MAX_PRODUCT_BITS_TF = 53


def activation_name(fn) -> str:
    """The name of a Keras activation function (``"relu"``, ``"linear"``, ...)."""
    return getattr(fn, "__name__", type(fn).__name__)


def is_ternary(w_t: FixedPointType | None) -> bool:
    """True for ``ap_int<2>`` weights, which hls4ml multiplies with its ternary product."""
    return w_t is not None and w_t.kind == "int" and w_t.signed and w_t.width == 2
