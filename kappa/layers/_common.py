"""Helpers several layer families share; imports nothing from the families.

* :data:`MAX_PRODUCT_BITS_NUMPY`, :data:`MAX_PRODUCT_BITS_TF` — the widest product of two
  fixed-point codes each forward emulates exactly (int64 in numpy, the float64
  significand in TensorFlow).
* :func:`activation_name` — the name of a Keras activation function.

The split of a fused activation into its own step lives in :mod:`kappa.layers.fused`
(it needs the activation families themselves).
"""

from __future__ import annotations

__all__ = ["MAX_PRODUCT_BITS_NUMPY", "MAX_PRODUCT_BITS_TF", "activation_name"]

#: Widest ``in_t.width + w_t.width`` the numpy firmware forward multiplies exactly (int64).
MAX_PRODUCT_BITS_NUMPY = 62
#: Widest ``in_t.width + w_t.width`` the TensorFlow training forward multiplies exactly (float64).
MAX_PRODUCT_BITS_TF = 53


def activation_name(fn) -> str:
    """The name of a Keras activation function (``"relu"``, ``"linear"``, ...)."""
    return getattr(fn, "__name__", type(fn).__name__)
