"""Straight-through helpers of the training forward: the leaf that layer families import.

* :func:`q_ste` — convert to an ap_fixed type forward, identity gradient backward.
* :func:`with_value` — one tensor's value forward, another's gradient backward.
* :func:`numpy_in_tf` — a numpy function inside a TensorFlow graph (no gradient).

Imports only :mod:`kappa.fixed_point` and :mod:`kappa.quantization`; TensorFlow is
imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .fixed_point import FixedPointType
from .quantization import quantize_tensor

__all__ = ["q_ste", "with_value", "numpy_in_tf"]


def q_ste(x, t: Optional[FixedPointType]):
    """Straight-through conversion of an ap_fixed value to ``t`` in float64 (identity when
    ``t`` is None); ``ap_int`` targets convert as from an ap_fixed value
    (:attr:`FixedPointType.value_cast_type`), not as from a double."""
    if t is None:
        return x
    return quantize_tensor(x, t.value_cast_type, ste=True)


def with_value(differentiable, value):
    """``value`` in the forward pass, the gradient of ``differentiable`` backward.

    Unlike ``d + stop_gradient(value - d)`` this is exact: the forward output is ``value``
    bit for bit.
    """
    import tensorflow as tf

    value = tf.stop_gradient(value)

    @tf.custom_gradient
    def f(d):
        def grad(dy):
            return dy

        return tf.identity(value), grad

    return f(differentiable)


def numpy_in_tf(fn, x, dtype):
    """``fn`` (numpy, float64 -> float64) applied to tensor ``x`` inside TensorFlow, no gradient."""
    import tensorflow as tf

    y = tf.numpy_function(lambda a: np.asarray(fn(np.asarray(a, np.float64)), np.float64), [tf.cast(x, tf.float64)],
                          tf.float64, stateful=False)
    y.set_shape(x.shape)
    return tf.cast(y, dtype)
