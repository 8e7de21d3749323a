"""The dataset interface: :class:`DataType` tags and the :class:`BaseDataset` base class.

Datasets are treated as immutable after construction: cached diagnostics
(the Hessian) are not recomputed if ``X`` is reassigned. The dataclasses use
``eq=False`` (identity equality, hashable) because field-wise ``==`` on NumPy
arrays is ambiguous. Exports and their manifest are in :mod:`kappa.data.export`,
figures in :mod:`kappa.data.plotting` (matplotlib loads on the first plot).
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterator, Optional, Tuple

import numpy as np

from .export import MANIFEST_NAME, text_view, write_export
from .plotting import histogram_grid, image_grid, scatter_grid, show_if_interactive

__all__ = ["DataType", "BaseDataset", "CLASS_TYPES", "FLOAT_TYPES", "positive_int", "class_labels"]


class DataType(Enum):
    """Tag describing how to interpret ``X`` or ``Y``; it never changes the numbers.

    Used by :meth:`BaseDataset.plot`, :meth:`BaseDataset.plot_histogram` and
    the exports' manifest. Subclasses set ``input_type`` / ``output_type`` in
    ``__post_init__``.
    """

    IMAGE_CLASS = "image-class"
    IMAGE_FLOAT = "image-float"
    D1_CLASS = "1d-class"
    D1_FLOAT = "1d-float"
    D2_CLASS = "2d-class"
    D2_FLOAT = "2d-float"


#: Tags of class targets (integer labels or one-hot rows).
CLASS_TYPES = (DataType.IMAGE_CLASS, DataType.D1_CLASS, DataType.D2_CLASS)
#: Tags of real-valued 1-D/2-D data.
FLOAT_TYPES = (DataType.D1_FLOAT, DataType.D2_FLOAT)


def positive_int(value, name: str) -> int:
    """Return ``value`` as int if it is an integer ≥ 1, else raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def class_labels(Y: np.ndarray) -> np.ndarray:
    """Integer labels from one-hot (N, C) or integer (N,) targets."""
    Y = np.asarray(Y)
    if Y.ndim == 2:
        return np.argmax(Y, axis=1)
    return Y.astype(np.int64).reshape(-1)


@dataclass(eq=False)
class BaseDataset(ABC):
    """Common interface expected by the models.

    Fields:
        X: inputs, shape ``(N, ...)`` (set by the subclass, not an init arg).
        Y: targets, shape ``(N, ...)`` (set by the subclass, not an init arg).
        num_samples: N, number of samples to generate (default 1000).
        input_type, output_type: :class:`DataType` tags (set by the subclass).
        seed: seed of the subclass's ``np.random.default_rng``; ``None`` means
            fresh OS entropy (non-reproducible).

    Subclasses must set ``X``, ``Y``, ``input_type`` and ``output_type`` in
    ``__post_init__`` and implement ``reference_weight_matrix``,
    ``reference_bias_vector`` and ``__repr__``. The class is abstract:
    ``BaseDataset()`` raises ``TypeError``.
    """

    X: np.ndarray = field(init=False)
    Y: np.ndarray = field(init=False)
    num_samples: int = 1000
    input_type: DataType = field(init=False)
    output_type: DataType = field(init=False)
    seed: Optional[int] = None

    # ---- shapes ----------------------------------------------------------
    @property
    def input_shape(self) -> Tuple[int, ...]:
        """``X.shape`` including the sample axis, e.g. ``(1000, 4)``."""
        return self.X.shape

    @property
    def output_shape(self) -> Tuple[int, ...]:
        """``Y.shape`` including the sample axis, e.g. ``(1000, 2)``."""
        return self.Y.shape

    # ---- teacher ---------------------------------------------------------
    @property
    @abstractmethod
    def reference_weight_matrix(self) -> Optional[np.ndarray]:
        """Teacher matrix used to generate targets, shape ``(d_out, d_in)``."""

    @property
    @abstractmethod
    def reference_bias_vector(self) -> Optional[np.ndarray]:
        """Teacher bias, shape ``(d_out,)`` (zeros for no-bias data)."""

    # ---- access ----------------------------------------------------------
    def get(self) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(X, Y)`` (the arrays themselves, not copies)."""
        return self.X, self.Y

    def to_numpy(self) -> Tuple[np.ndarray, np.ndarray]:
        """Alias of :meth:`get`."""
        return self.get()

    def split(
        self, val_fraction: float = 0.2, seed: Optional[int] = None
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Random train/validation split.

        Args:
            val_fraction: fraction of samples in the validation part,
                ``0 < val_fraction < 1``; the validation size is
                ``round(val_fraction · N)`` and both parts must be non-empty.
            seed: seed of the permutation (``np.random.default_rng(seed)``);
                the same seed gives the same split. ``None``: fresh entropy.

        Returns:
            ``(X_train, Y_train, X_val, Y_val)`` — copies, shapes
            ``(N − n_val, ...)`` and ``(n_val, ...)``; disjoint, and together
            a permutation of the dataset.

        Raises:
            ValueError: ``val_fraction`` outside (0, 1) or an empty part.
        """
        vf = float(val_fraction)
        if not (0.0 < vf < 1.0):
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        n = len(self.X)
        n_val = int(round(vf * n))
        if n_val < 1 or n_val > n - 1:
            raise ValueError(
                f"val_fraction={vf} of {n} samples gives an empty train or validation part"
            )
        order = np.random.default_rng(seed).permutation(n)
        val_idx, train_idx = order[:n_val], order[n_val:]
        return self.X[train_idx], self.Y[train_idx], self.X[val_idx], self.Y[val_idx]

    def batches(
        self,
        batch_size: int,
        shuffle: bool = True,
        seed: Optional[int] = None,
        drop_remainder: bool = False,
    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Iterate over one epoch of minibatches.

        Args:
            batch_size: samples per batch (integer ≥ 1; validated immediately,
                not at the first ``next``).
            shuffle: visit samples in a random permutation (else in order).
            seed: seed of that permutation; the same seed gives the same
                batches. ``None``: fresh entropy (pass e.g. ``seed=epoch`` for
                a reproducible, epoch-varying order).
            drop_remainder: drop the last batch if it has fewer than
                ``batch_size`` samples.

        Returns:
            Iterator of ``(x, y)`` NumPy batches with shapes
            ``(B, ...)`` where ``B = batch_size`` except possibly the last.
            Without ``drop_remainder`` every sample appears exactly once.

        Raises:
            ValueError: ``batch_size`` not an integer ≥ 1.
        """
        bs = positive_int(batch_size, "batch_size")
        X, Y = self.X, self.Y
        n = len(X)
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        stop = n - (n % bs) if drop_remainder else n

        def _gen():
            for start in range(0, stop, bs):
                idx = order[start : start + bs]
                yield X[idx], Y[idx]

        return _gen()

    # ---- export ----------------------------------------------------------
    def to_txt(self, prefix: str = "dataset", overwrite: bool = False) -> str:
        """Write ``<prefix>_X.txt``, ``<prefix>_Y.txt`` and ``<prefix>_manifest.json``.

        Values are written with ``np.savetxt(fmt="%.17g")`` (space-separated,
        one sample per line), which round-trips float64 exactly through
        ``np.loadtxt``. Arrays of rank > 2 are written as ``(N, -1)``; the
        manifest records the original ``shape``, the written ``text_shape``,
        ``dtype``, byte size and SHA-256 of each file (check with
        :func:`verify_manifest` ``(prefix)``). The manifest is named after the
        prefix so several exports can share a directory. Missing parent
        directories are created.

        Args:
            prefix: path prefix, e.g. ``"out/affine_nominal"``.
            overwrite: replace existing files; otherwise refuse.

        Returns:
            Path of the manifest.

        Raises:
            FileExistsError: a target file exists and ``overwrite`` is False
                (nothing is written; the message names the file).
        """
        prefix = os.fspath(prefix)
        targets = [(f"{prefix}_X.txt", "X"), (f"{prefix}_Y.txt", "Y")]
        return write_export(self, targets, f"{prefix}_{MANIFEST_NAME}", overwrite, "txt")

    def to_dat(self, prefix: str = "dataset", overwrite: bool = False) -> str:
        """Write hls4ml-style testbench files into directory ``prefix``.

        Files: ``tb_input_features.dat`` (X) and ``tb_output_predictions.dat``
        (Y), same text format as :meth:`to_txt`, plus ``manifest.json`` (check
        with :func:`verify_manifest` ``(prefix)``). The directory is created if
        needed.

        Args:
            prefix: output directory.
            overwrite: replace existing files; otherwise refuse.

        Returns:
            Path of the manifest.

        Raises:
            FileExistsError: a target file exists and ``overwrite`` is False
                (nothing is written; the message names the file).
        """
        prefix = os.fspath(prefix)
        targets = [
            (os.path.join(prefix, "tb_input_features.dat"), "X"),
            (os.path.join(prefix, "tb_output_predictions.dat"), "Y"),
        ]
        return write_export(self, targets, os.path.join(prefix, MANIFEST_NAME), overwrite, "dat")

    # ---- plotting --------------------------------------------------------
    def plot(self, max_points: int = 100, show: Optional[bool] = None):
        """Plot the data according to ``input_type`` → ``output_type``.

        Branches:

        * ``D2_FLOAT → D2_FLOAT`` (or ``D1_FLOAT``): pairwise scatter grid,
          one panel per (output target i, input feature j), first
          ``max_points`` samples.
        * ``IMAGE_FLOAT → IMAGE_CLASS / D1_CLASS``: grid of the first
          ``min(max_points, 25)`` images titled with their class.

        Args:
            max_points: number of samples to draw (≥ 1).
            show: ``True`` calls ``plt.show()``; ``None`` (default) calls it only
                on an interactive backend (never under Agg/inline); ``False``
                never.

        Returns:
            ``matplotlib.figure.Figure``.

        Raises:
            ValueError: ``max_points`` < 1.
            NotImplementedError: no branch for this pair of tags.
        """
        m = positive_int(max_points, "max_points")
        it, ot = self.input_type, self.output_type
        if it == DataType.D2_FLOAT and ot in FLOAT_TYPES:
            fig = self._plot_pairwise(m)
        elif it == DataType.IMAGE_FLOAT and ot in (DataType.IMAGE_CLASS, DataType.D1_CLASS):
            fig = self._plot_images(min(m, 25))
        else:
            raise NotImplementedError(f"plot() has no branch for {it.value} -> {ot.value}")
        show_if_interactive(show)
        return fig

    def _plot_pairwise(self, m: int):
        X = text_view(self.X)[:m]
        Y = np.asarray(self.Y)[:m]
        Y = Y.reshape(len(Y), -1)
        return scatter_grid(X.reshape(len(X), -1), Y, f"{type(self).__name__}: {len(X)} samples")

    def _plot_images(self, m: int):
        n = min(m, len(self.X))
        shape = getattr(self, "image_shape", None)
        if shape is None:
            side = int(round(math.sqrt(text_view(self.X)[0].size)))
            shape = (side, side)
        return image_grid(self.X[:n], class_labels(self.Y), shape, f"{type(self).__name__}: first {n} samples")

    def plot_histogram(self, bins: Optional[int] = None, show: Optional[bool] = None):
        """Marginal histograms, e.g. to check value ranges before quantization.

        Top row: inputs — one histogram per feature for float inputs (at most
        16 features shown), or one pooled histogram of all pixel values for
        ``IMAGE_FLOAT``. Bottom row: one histogram per output column for float
        targets, or a bar chart of class counts for class targets.

        Args:
            bins: histogram bins (``None`` → NumPy's ``"auto"`` rule).
            show: as in :meth:`plot`.

        Returns:
            ``matplotlib.figure.Figure``.
        """
        b = "auto" if bins is None else positive_int(bins, "bins")
        X2 = text_view(self.X)
        X2 = X2.reshape(len(X2), -1)
        if self.input_type == DataType.IMAGE_FLOAT:
            x_panels = [("all pixels", X2.ravel())]
        else:
            x_panels = [(f"x[{j}]", X2[:, j]) for j in range(min(X2.shape[1], 16))]
        if self.output_type in CLASS_TYPES:
            y_panels = [("class counts", tuple(np.unique(class_labels(self.Y), return_counts=True)))]
        else:
            Y2 = np.asarray(self.Y).reshape(len(self.Y), -1)
            y_panels = [(f"y[{i}]", Y2[:, i]) for i in range(min(Y2.shape[1], 16))]
        fig = histogram_grid(x_panels, y_panels, b, f"{type(self).__name__}: marginal histograms")
        show_if_interactive(show)
        return fig

    @abstractmethod
    def __repr__(self) -> str:
        """Compact, multi-line, experiment-readable summary."""
