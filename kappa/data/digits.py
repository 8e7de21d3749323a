"""scikit-learn's bundled 8×8 handwritten digits (no network access)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .base import BaseDataset, DataType, class_labels, positive_int

__all__ = ["DigitsDataset", "DIGITS_NUM_SAMPLES"]

#: Number of samples in scikit-learn's digits set.
DIGITS_NUM_SAMPLES = 1797


@functools.lru_cache(maxsize=1)
def _load_digits_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: (1797, 64) pixel values 0..16, (1797,) labels."""
    from sklearn.datasets import load_digits  # lazy: sklearn import is slow

    bunch = load_digits()
    data = np.asarray(bunch.data, dtype=np.float64)
    target = np.asarray(bunch.target, dtype=np.int64)
    data.flags.writeable = False
    target.flags.writeable = False
    return data, target


@dataclass(eq=False)
class DigitsDataset(BaseDataset):
    """The 8×8 handwritten digits bundled with scikit-learn (no network access).

    1,797 grey-scale images of the digits 0–9 (UCI optical recognition set,
    as shipped by ``sklearn.datasets.load_digits``).

    Fields:
        num_samples: number of samples to keep; ``None`` (default) keeps all
            1,797. Taken from the front after the optional shuffle.
        seed: ``None`` keeps scikit-learn's order; an integer shuffles with
            ``np.random.default_rng(seed).permutation`` (deterministic).
        one_hot: ``True`` → Y float64 of shape ``(N, 10)`` with one 1.0 per row,
            ``output_type = D1_CLASS``; ``False`` → Y int64 labels of shape
            ``(N,)``, ``output_type = IMAGE_CLASS``.
        flatten: ``True`` → X of shape ``(N, 64)`` (ready for Dense layers);
            ``False`` → ``(N, 8, 8)``.
        images: ``True`` → X of shape ``(N, 8, 8, 1)``, channels_last images for
            ``Conv2D`` (``flatten`` is then ignored).

    Scaling: pixel values v ∈ {0, …, 16} become ``x = v / 16 ∈ [0, 1]``
    (float64, ``input_type = IMAGE_FLOAT``). Note the closed interval:
    16/16 = 1.0 exactly occurs, so a signed ``ap_fixed<W, 1>`` input
    (range [-1, 1)) cannot hold it — use ``ap_fixed<W, 2>`` or
    ``ap_ufixed<W, 1>``. Every x is a multiple of 1/16, hence exact with ≥ 4
    fractional bits.

    Real data has no teacher: ``reference_weight_matrix`` and
    ``reference_bias_vector`` return ``None``.

    Raises:
        ValueError: ``num_samples`` not an integer ≥ 1 or larger than 1797
            (the message names 1797).
    """

    num_samples: Optional[int] = None
    one_hot: bool = True
    flatten: bool = True
    images: bool = False

    def __post_init__(self):
        data, target = _load_digits_arrays()
        total = data.shape[0]
        if self.num_samples is None:
            n = total
        else:
            n = positive_int(self.num_samples, "num_samples")
            if n > total:
                raise ValueError(
                    f"num_samples={n} exceeds the {total} samples of the scikit-learn digits set"
                )
        order = np.arange(total) if self.seed is None else np.random.default_rng(self.seed).permutation(total)
        idx = order[:n]
        self.num_samples = n
        X = data[idx] / 16.0
        if self.images:
            self.X = X.reshape(n, 8, 8, 1)
        else:
            self.X = X if self.flatten else X.reshape(n, 8, 8)
        labels = target[idx].copy()
        if self.one_hot:
            self.Y = np.eye(self.num_classes, dtype=np.float64)[labels]
            self.output_type = DataType.D1_CLASS
        else:
            self.Y = labels
            self.output_type = DataType.IMAGE_CLASS
        self.input_type = DataType.IMAGE_FLOAT

    @property
    def num_classes(self) -> int:
        """10 (digits 0–9)."""
        return 10

    @property
    def image_shape(self) -> Tuple[int, int]:
        """(8, 8)."""
        return (8, 8)

    @property
    def labels(self) -> np.ndarray:
        """Integer class of each sample, shape ``(N,)`` (whatever ``one_hot`` is)."""
        return class_labels(self.Y)

    @property
    def reference_weight_matrix(self) -> None:
        """``None``: real data has no teacher matrix."""
        return None

    @property
    def reference_bias_vector(self) -> None:
        """``None``: real data has no teacher bias."""
        return None

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return (
            f"DigitsDataset(num_samples={self.num_samples}, seed={self.seed}, "
            f"one_hot={self.one_hot}, flatten={self.flatten})\n"
            f"  input:  X {self.input_shape} {self.input_type.value}, x = pixel/16 in [0, 1]\n"
            f"  output: Y {self.output_shape} {self.output_type.value}, "
            f"{self.num_classes} classes\n"
            f"  class counts: {counts.tolist()}\n"
            f"  teacher: none (real data)"
        )
