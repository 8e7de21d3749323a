"""Synthetic affine regression data with the analytic one-layer Hessian ([FPT]).

Theory references ([FPT]) are to ``shared/reference/fixed-point-training.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..utils import analytic_single_dense_hessian, hessian_metrics_np
from .base import BaseDataset, DataType, positive_int

__all__ = ["AffineDataset", "DEFAULT_A", "DEFAULT_B"]

#: Default teacher matrix of :class:`AffineDataset`, shape (2, 4) (read-only).
DEFAULT_A = np.array(
    [[1.25, -0.75, 0.50, 0.20], [-0.40, 0.90, 1.10, -0.60]], dtype=np.float64
)
DEFAULT_A.flags.writeable = False
#: Default teacher bias of :class:`AffineDataset`, shape (2,) (read-only).
DEFAULT_B = np.array([0.35, -0.25], dtype=np.float64)
DEFAULT_B.flags.writeable = False


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
        self.num_samples = positive_int(self.num_samples, "num_samples")
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
