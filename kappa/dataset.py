"""Datasets for the fixed-point training ablations.

Public names (see ``shared/seeds`` "Dataset Module Reference"):

* :class:`DataType` — tags telling plot/export helpers how to read X and Y.
* :class:`BaseDataset` — common interface (``X``, ``Y``, ``get``, ``to_txt``,
  ``to_dat``, ``plot``, ``plot_histogram``, plus ``split`` and ``batches``).
* :class:`AffineDataset` — ``x ~ U[0,1]^d_in``, ``y = A x + b (+ ε)``, with the
  analytic one-layer Hessian.
* :class:`DigitsDataset` — scikit-learn's bundled 8×8 digits (no network).
* :func:`verify_manifest` — check files written by ``to_txt`` / ``to_dat``.

Theory references ([FPT]) are to ``shared/reference/fixed-point-training.md``.

Datasets are treated as immutable after construction: cached diagnostics
(the Hessian) are not recomputed if ``X`` is reassigned. The dataclasses use
``eq=False`` (identity equality, hashable) because field-wise ``==`` on NumPy
arrays is ambiguous.
"""

from __future__ import annotations

import functools
import json
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterator, Optional, Tuple

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .utils import analytic_single_dense_hessian, hessian_metrics_np, sha256_file

__all__ = [
    "DataType",
    "BaseDataset",
    "AffineDataset",
    "DigitsDataset",
    "verify_manifest",
    "DEFAULT_A",
    "DEFAULT_B",
    "TEXT_FLOAT_FORMAT",
    "DIGITS_NUM_SAMPLES",
]

#: Default teacher matrix of :class:`AffineDataset`, shape (2, 4) (read-only).
DEFAULT_A = np.array(
    [[1.25, -0.75, 0.50, 0.20], [-0.40, 0.90, 1.10, -0.60]], dtype=np.float64
)
DEFAULT_A.flags.writeable = False
#: Default teacher bias of :class:`AffineDataset`, shape (2,) (read-only).
DEFAULT_B = np.array([0.35, -0.25], dtype=np.float64)
DEFAULT_B.flags.writeable = False

#: ``np.savetxt`` format for exports: 17 significant digits round-trip any
#: float64 exactly through ``np.loadtxt``.
TEXT_FLOAT_FORMAT = "%.17g"
#: Number of samples in scikit-learn's digits set.
DIGITS_NUM_SAMPLES = 1797

_MANIFEST_NAME = "manifest.json"
_MANIFEST_FORMAT = "kappa-dataset-manifest"
_NON_INTERACTIVE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


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


_CLASS_TYPES = (DataType.IMAGE_CLASS, DataType.D1_CLASS, DataType.D2_CLASS)
_FLOAT_TYPES = (DataType.D1_FLOAT, DataType.D2_FLOAT)


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #
def _positive_int(value, name: str) -> int:
    """Return ``value`` as int if it is an integer ≥ 1, else raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _text_view(a: np.ndarray) -> np.ndarray:
    """View an array as ≤ 2-D for ``np.savetxt``: (N,) stays, (N, ...) -> (N, -1)."""
    a = np.asarray(a)
    if a.ndim <= 2:
        return a
    return a.reshape(a.shape[0], -1)


def _show_if_interactive(show: Optional[bool]) -> None:
    """Call ``plt.show()`` if asked to, or (``show=None``) if the backend is interactive.

    Non-interactive backends (Agg, PDF, SVG, ...) and the Jupyter inline backend
    are never ``show()``-n implicitly: the caller gets the Figure instead.
    """
    if show is False:
        return
    if show is None:
        backend = str(matplotlib.get_backend()).lower()
        if backend in _NON_INTERACTIVE_BACKENDS or "inline" in backend:
            return
    plt.show()


def _class_labels(Y: np.ndarray) -> np.ndarray:
    """Integer labels from one-hot (N, C) or integer (N,) targets."""
    Y = np.asarray(Y)
    if Y.ndim == 2:
        return np.argmax(Y, axis=1)
    return Y.astype(np.int64).reshape(-1)


def _resolve_manifest(directory_or_prefix: str) -> str:
    """Manifest path for a ``to_dat`` directory, a ``to_txt`` prefix or a .json path."""
    p = os.fspath(directory_or_prefix)
    in_dir = os.path.join(p, _MANIFEST_NAME)
    beside_prefix = f"{p}_{_MANIFEST_NAME}"
    if os.path.isdir(p) and os.path.isfile(in_dir):
        return in_dir
    if os.path.isfile(beside_prefix):
        return beside_prefix
    if p.endswith(".json") and os.path.isfile(p):
        return p
    expected = in_dir if os.path.isdir(p) else beside_prefix
    raise FileNotFoundError(f"no manifest found for {p!r} (looked for {expected})")


def verify_manifest(directory_or_prefix: str) -> None:
    """Check that files exported by ``to_dat`` / ``to_txt`` still match their manifest.

    Args:
        directory_or_prefix: the directory given to :meth:`BaseDataset.to_dat`
            (manifest ``<dir>/manifest.json``), the prefix given to
            :meth:`BaseDataset.to_txt` (manifest ``<prefix>_manifest.json``), or
            the path of a manifest ``.json`` file.

    Returns:
        None when every listed file exists and its SHA-256 matches.

    Raises:
        FileNotFoundError: no manifest at the resolved location.
        ValueError: the manifest is not a kappa manifest, or one or more listed
            files are missing or stale/corrupted; the message names every such
            file with the expected and actual SHA-256.
    """
    manifest_path = _resolve_manifest(directory_or_prefix)
    try:
        with open(manifest_path, "r", encoding="utf-8") as f:
            manifest = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{manifest_path} is not valid JSON: {e}") from e
    if manifest.get("format") != _MANIFEST_FORMAT or "files" not in manifest:
        raise ValueError(f"{manifest_path} is not a {_MANIFEST_FORMAT} file")
    base = os.path.dirname(os.path.abspath(manifest_path))
    problems = []
    for entry in manifest["files"]:
        path = os.path.join(base, entry["name"])
        if not os.path.isfile(path):
            problems.append(f"{path} is missing")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(
                f"{path} is stale or corrupted (sha256 {actual} != manifest {entry['sha256']})"
            )
    if problems:
        raise ValueError(f"manifest check failed for {manifest_path}: " + "; ".join(problems))


# --------------------------------------------------------------------------- #
# BaseDataset
# --------------------------------------------------------------------------- #
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
        bs = _positive_int(batch_size, "batch_size")
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
    def _export(self, targets, manifest_path: str, overwrite: bool, kind: str) -> str:
        """Write ``targets`` = [(path, "X"|"Y"), ...] and a manifest; return its path."""
        for path in [p for p, _ in targets] + [manifest_path]:
            if not overwrite and os.path.exists(path):
                raise FileExistsError(
                    f"{path} already exists; pass overwrite=True to replace it"
                )
        base = os.path.dirname(os.path.abspath(manifest_path))
        os.makedirs(base, exist_ok=True)
        entries = []
        for path, which in targets:
            arr = np.asarray(getattr(self, which))
            text = _text_view(arr)
            np.savetxt(path, text, fmt=TEXT_FLOAT_FORMAT)
            entries.append(
                {
                    "name": os.path.relpath(os.path.abspath(path), base),
                    "array": which,
                    "shape": list(arr.shape),
                    "text_shape": list(text.shape),
                    "dtype": str(arr.dtype),
                    "bytes": os.path.getsize(path),
                    "sha256": sha256_file(path),
                }
            )
        manifest = {
            "format": _MANIFEST_FORMAT,
            "version": 1,
            "kind": kind,
            "dataset": type(self).__name__,
            "num_samples": int(len(self.X)),
            "input_type": self.input_type.value,
            "output_type": self.output_type.value,
            "seed": self.seed,
            "text_format": TEXT_FLOAT_FORMAT,
            "delimiter": " ",
            "files": entries,
        }
        with open(manifest_path, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        return manifest_path

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
        return self._export(targets, f"{prefix}_{_MANIFEST_NAME}", overwrite, "txt")

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
        return self._export(targets, os.path.join(prefix, _MANIFEST_NAME), overwrite, "dat")

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
        m = _positive_int(max_points, "max_points")
        it, ot = self.input_type, self.output_type
        if it == DataType.D2_FLOAT and ot in _FLOAT_TYPES:
            fig = self._plot_pairwise(m)
        elif it == DataType.IMAGE_FLOAT and ot in (DataType.IMAGE_CLASS, DataType.D1_CLASS):
            fig = self._plot_images(min(m, 25))
        else:
            raise NotImplementedError(f"plot() has no branch for {it.value} -> {ot.value}")
        _show_if_interactive(show)
        return fig

    def _plot_pairwise(self, m: int):
        X = _text_view(self.X)[:m]
        Y = np.asarray(self.Y)[:m]
        Y = Y.reshape(len(Y), -1)
        d_in, d_out = X.reshape(len(X), -1).shape[1], Y.shape[1]
        fig, axes = plt.subplots(
            d_out, d_in, figsize=(2.6 * d_in, 2.2 * d_out), squeeze=False, sharey="row"
        )
        for i in range(d_out):
            for j in range(d_in):
                ax = axes[i, j]
                ax.scatter(X[:, j], Y[:, i], s=6, alpha=0.6)
                if i == d_out - 1:
                    ax.set_xlabel(f"x[{j}]")
                if j == 0:
                    ax.set_ylabel(f"y[{i}]")
        fig.suptitle(f"{type(self).__name__}: {len(X)} samples")
        fig.tight_layout()
        return fig

    def _plot_images(self, m: int):
        n = min(m, len(self.X))
        shape = getattr(self, "image_shape", None)
        if shape is None:
            side = int(round(math.sqrt(_text_view(self.X)[0].size)))
            shape = (side, side)
        labels = _class_labels(self.Y)
        ncols = min(5, n)
        nrows = int(math.ceil(n / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.axis("off")
            if k < n:
                ax.imshow(np.asarray(self.X[k]).reshape(shape), cmap="gray_r", vmin=0, vmax=1)
                ax.set_title(str(labels[k]), fontsize=9)
        fig.suptitle(f"{type(self).__name__}: first {n} samples")
        fig.tight_layout()
        return fig

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
        b = "auto" if bins is None else _positive_int(bins, "bins")
        X2 = _text_view(self.X)
        X2 = X2.reshape(len(X2), -1)
        if self.input_type == DataType.IMAGE_FLOAT:
            x_panels = [("all pixels", X2.ravel())]
        else:
            x_panels = [(f"x[{j}]", X2[:, j]) for j in range(min(X2.shape[1], 16))]
        if self.output_type in _CLASS_TYPES:
            y_panels = [("class counts", None)]
        else:
            Y2 = np.asarray(self.Y).reshape(len(self.Y), -1)
            y_panels = [(f"y[{i}]", Y2[:, i]) for i in range(min(Y2.shape[1], 16))]
        ncols = max(len(x_panels), len(y_panels))
        fig, axes = plt.subplots(2, ncols, figsize=(2.6 * ncols, 4.4), squeeze=False)
        for ax in axes.flat:
            ax.set_visible(False)
        for j, (title, values) in enumerate(x_panels):
            ax = axes[0, j]
            ax.set_visible(True)
            ax.hist(values, bins=b)
            ax.set_title(title, fontsize=9)
        for j, (title, values) in enumerate(y_panels):
            ax = axes[1, j]
            ax.set_visible(True)
            if values is None:
                labels = _class_labels(self.Y)
                classes, counts = np.unique(labels, return_counts=True)
                ax.bar(classes, counts)
                ax.set_xticks(classes)
            else:
                ax.hist(values, bins=b)
            ax.set_title(title, fontsize=9)
        fig.suptitle(f"{type(self).__name__}: marginal histograms")
        fig.tight_layout()
        _show_if_interactive(show)
        return fig

    @abstractmethod
    def __repr__(self) -> str:
        """Compact, multi-line, experiment-readable summary."""


# --------------------------------------------------------------------------- #
# AffineDataset
# --------------------------------------------------------------------------- #
@dataclass(eq=False)
class AffineDataset(BaseDataset):
    """Synthetic affine regression: ``x ~ U([0,1]^d_in)``, ``y = A x + b + ε``.

    Fields (besides ``num_samples`` = N and ``seed``):
        A: teacher matrix, shape ``(d_out, d_in)``; default :data:`DEFAULT_A`
            ``[[1.25, -0.75, 0.50, 0.20], [-0.40, 0.90, 1.10, -0.60]]``.
            ``None`` also means the default. Copied to float64.
        b: teacher bias, shape ``(d_out,)``; default :data:`DEFAULT_B`
            ``[0.35, -0.25]``. Replaced by zeros when ``use_bias=False``.
        use_bias: whether the teacher (and the analytic Hessian) has a bias.
        noise_std: standard deviation σ ≥ 0 of i.i.d. Gaussian label noise
            ε ~ N(0, σ²) added to every entry of Y (as in d2l's synthetic
            regression data, ``y = Xw + b + ε``). Default 0: noiseless.

    Generated (float64):
        X: shape ``(N, d_in)``, ``np.random.default_rng(seed).uniform(0, 1)``.
        Y: shape ``(N, d_out)``, ``X @ A.T + b`` (+ noise drawn from the same
           generator *after* X, so X does not depend on ``noise_std``).
        input_type = output_type = ``DataType.D2_FLOAT``.

    Raises:
        ValueError: A not a non-empty 2-D array; b not of shape
            ``(A.shape[0],)`` (message names both shapes); non-finite A or b;
            ``num_samples`` not an integer ≥ 1; ``noise_std`` negative or
            non-finite.
    """

    A: Optional[np.ndarray] = field(default_factory=lambda: DEFAULT_A.copy())
    b: Optional[np.ndarray] = field(default_factory=lambda: DEFAULT_B.copy())
    use_bias: bool = True
    noise_std: float = 0.0
    _hessian_cache: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        # 1. defaults  2. zero bias  3. validation
        A = DEFAULT_A if self.A is None else self.A
        A = np.array(A, dtype=np.float64)  # always a private copy
        if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
            raise ValueError(f"A must be a non-empty 2-D array (d_out, d_in), got shape {A.shape}")
        if not self.use_bias:
            b = np.zeros(A.shape[0], dtype=np.float64)
        else:
            b = np.array(DEFAULT_B if self.b is None else self.b, dtype=np.float64)
            if b.ndim != 1 or b.shape[0] != A.shape[0]:
                raise ValueError(
                    f"b must have shape ({A.shape[0]},) to match A of shape {A.shape}, "
                    f"got b of shape {b.shape}"
                )
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise ValueError("A and b must be finite")
        self.num_samples = _positive_int(self.num_samples, "num_samples")
        sigma = float(self.noise_std)
        if not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"noise_std must be finite and >= 0, got {self.noise_std!r}")
        self.A, self.b, self.noise_std = A, b, sigma
        # 4.-6. seeded generation
        rng = np.random.default_rng(self.seed)
        self.X = rng.uniform(0.0, 1.0, size=(self.num_samples, A.shape[1]))
        self.Y = self.X @ A.T + b
        if sigma > 0:
            self.Y = self.Y + rng.normal(0.0, sigma, size=self.Y.shape)
        # 7. tags  8. cache
        self.input_type = DataType.D2_FLOAT
        self.output_type = DataType.D2_FLOAT
        self._hessian_cache = {}

    @property
    def reference_weight_matrix(self) -> np.ndarray:
        """Teacher matrix ``A``, shape ``(d_out, d_in)``."""
        return self.A

    @property
    def reference_bias_vector(self) -> np.ndarray:
        """Teacher bias ``b``, shape ``(d_out,)`` (zeros when ``use_bias=False``)."""
        return self.b

    def analytic_hessian_for(self, use_bias: bool = False, layout: str = "output_major") -> dict:
        """Exact half-MSE Hessian of a one-layer linear model fitted to this X.

        ``L = ‖Ŷ − Y‖²_F / (2N)`` with ``Ŷ = X Wᵀ`` (``use_bias=False``) or
        ``Ŷ = X Wᵀ + 1 bᵀ`` (``use_bias=True``, a ones column appended to X)::

            H = I_{d_out} ⊗ X̃ᵀX̃ / N        ([FPT]; X̃ = X or [X, 1])

        The Hessian does not depend on Y (so not on A, b or the noise). Its
        eigenvalues are those of ``X̃ᵀX̃/N``, each repeated d_out times; for
        ``x ~ U[0,1]^d`` λ_max → ``1/12 + d/4`` (no bias) as N grows, see
        :func:`kappa.utils.uniform_input_lambda_max`.

        Args:
            use_bias: whether the model being analysed has a bias.
            layout: parameter ordering, ``"output_major"`` (``I ⊗ G``) or
                ``"keras"`` (``G ⊗ I``, matches flattening a Keras Dense
                ``[kernel, bias]``); see
                :func:`kappa.utils.analytic_single_dense_hessian`.

        Returns:
            dict (cached; the array is read-only):
            ``"hessian"`` float64 ``(d_out·p, d_out·p)`` with ``p = d_in + use_bias``,
            ``"lambda_max"``, ``"lambda_min"``, ``"eta_max"`` (= 2/λ_max) floats,
            ``"use_bias"`` bool.
        """
        key = (bool(use_bias), layout)
        if key not in self._hessian_cache:
            d_out = self.A.shape[0]
            gram = analytic_single_dense_hessian(self.X, 1, use_bias=bool(use_bias))
            metrics = hessian_metrics_np(gram)  # same spectrum as H, P/d_out in size
            H = analytic_single_dense_hessian(self.X, d_out, use_bias=bool(use_bias), layout=layout)
            H.flags.writeable = False
            self._hessian_cache[key] = {
                "hessian": H,
                "lambda_max": metrics["lambda_max"],
                "lambda_min": metrics["lambda_min"],
                "eta_max": metrics["eta_max"],
                "use_bias": bool(use_bias),
            }
        return dict(self._hessian_cache[key])

    @property
    def analytic_hessian(self) -> dict:
        """Analytic Hessian diagnostics for the model matching this dataset.

        Follows the reference (``H = I_{d_out} ⊗ XᵀX/N``, no bias, X only) when
        ``use_bias=False``; when ``use_bias=True`` the model is taken to have a
        bias too, so a ones column is appended (``X̃ = [X, 1]``), which raises
        λ_max (d_in = 4: ≈ 1.083 → ≈ 2.043 in the large-N limit). For the other
        case call :meth:`analytic_hessian_for` with ``use_bias`` explicitly.

        Returns:
            ``{"hessian", "lambda_max", "eta_max", "lambda_min", "use_bias"}``,
            see :meth:`analytic_hessian_for`.
        """
        return self.analytic_hessian_for(use_bias=self.use_bias)

    def __repr__(self) -> str:
        h = self.analytic_hessian
        fmt = dict(precision=4, suppress_small=True, separator=", ")
        a_str = np.array2string(self.A, prefix="  A = ", **fmt)
        b_str = np.array2string(self.b, **fmt)
        bias_note = "with bias column" if self.use_bias else "no bias"
        return (
            f"AffineDataset(num_samples={self.num_samples}, seed={self.seed}, "
            f"use_bias={self.use_bias}, noise_std={self.noise_std:g})\n"
            f"  input:  X {self.input_shape} {self.input_type.value}, x ~ U[0,1]\n"
            f"  output: Y {self.output_shape} {self.output_type.value}, y = A x + b"
            f"{' + eps' if self.noise_std > 0 else ''}\n"
            f"  A = {a_str}\n"
            f"  b = {b_str}\n"
            f"  analytic Hessian ({bias_note}): lambda_max = {h['lambda_max']:.6g}, "
            f"eta_max = 2/lambda_max = {h['eta_max']:.6g}"
        )


# --------------------------------------------------------------------------- #
# DigitsDataset
# --------------------------------------------------------------------------- #
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
            n = _positive_int(self.num_samples, "num_samples")
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
        return _class_labels(self.Y)

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
