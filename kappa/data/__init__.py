"""Datasets for the fixed-point training ablations, and the name → dataset registry.

Public names (see ``shared/seeds`` "Dataset Module Reference"):

* :class:`DataType` — tags telling plot/export helpers how to read X and Y.
* :class:`BaseDataset` — common interface (``X``, ``Y``, ``get``, ``to_txt``,
  ``to_dat``, ``plot``, ``plot_histogram``, plus ``split`` and ``batches``).
* :class:`AffineDataset` — ``x ~ U[0,1]^d_in``, ``y = A x + b (+ ε)``, with the
  analytic one-layer Hessian.
* :class:`DigitsDataset` — scikit-learn's bundled 8×8 digits (no network).
* :func:`verify_manifest` — check files written by ``to_txt`` / ``to_dat``.
* :mod:`kappa.data.registry` (``kappa.datasets``) — ``register``, ``unregister``,
  ``create``, ``list_datasets``.

Modules, in import order: ``export`` (text files and manifest) and ``plotting``
(figures; matplotlib loads on the first plot) import nothing here; ``base`` (DataType,
BaseDataset) uses both; ``affine`` and ``digits`` define one dataset each; ``registry``
names them. No TensorFlow, no matplotlib and no scikit-learn at import.
"""

from .affine import DEFAULT_A, DEFAULT_B, AffineDataset
from .base import BaseDataset, DataType
from .digits import DIGITS_NUM_SAMPLES, DigitsDataset
from .export import TEXT_FLOAT_FORMAT, verify_manifest
from .registry import create, list_datasets, register, unregister

__all__ = [
    "DataType", "BaseDataset", "AffineDataset", "DigitsDataset", "verify_manifest", "DEFAULT_A", "DEFAULT_B",
    "TEXT_FLOAT_FORMAT", "DIGITS_NUM_SAMPLES", "register", "unregister", "create", "list_datasets",
]
