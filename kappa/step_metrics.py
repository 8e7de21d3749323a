"""The per-step diagnostics of ``train_instrumented`` that only observe the run.

The compiled training step (:mod:`kappa.training`) records, for every step t, the flat
float64 parameter vectors θ_t (before) and θ_{t+1} (after the update and storage
quantization), the raw gradient ``g_raw``, the quantized gradient ``g`` and the intended
update ``u``. After each compiled chunk this module turns those (S, P) arrays (S steps,
P parameters) into the history's columns: one compiled pass over the chunk
(:mod:`kappa.metric_kernels`: norms, dot product, rail and underflow counts per variable; the
power iteration) and small numpy reductions; θ_t and SGD's u, where the step does not record
them, are rebuilt inside that pass from θ_0, θ_{t+1} and η_eff g. Keeping the diagnostics out
of the step removes about a third of its operations; the training dynamics (loss, curvature
secant, controller, update) stay inside the step because they feed back.

Columns (each shape (S,)), definitions of the Models reference (``001_…``,
"Metric Block" and "Update Geometry Diagnostics"):

* ``theta_norm`` ‖θ_t‖, ``grad_norm`` ‖g‖, ``raw_update_norm`` ‖u‖,
  ``actual_update_norm`` ‖θ_{t+1} − θ_t‖ (after storage quantization);
* ``update_cosine`` cos∠(θ_{t+1} − θ_t, u) (NaN when either norm is 0 or not finite),
  ``update_radius_ratio`` ‖θ_{t+1} − θ_t‖ / ‖u‖ (NaN when ‖u‖ = 0);
* ``forward_gain_spectral``: the product over Dense and convolution kernels (a
  convolution kernel as its (kh·kw·C, F) matrix) of their largest singular value at
  θ_{t+1}; exact (LAPACK) for kernels whose smaller side is at most
  :data:`EXACT_SVD_MAX`, else two warm-started power iterations on WᵀW per step (the
  vector carries over from step to step and chunk to chunk; a lower bound that
  tightens as training moves slowly);
* ``weight_error_fro`` ‖W_{t+1} − Aᵀ‖_F against a teacher matrix A (one-layer model);
* with a PrecisionDict, the rail pressure of :func:`kappa.quantization.rail_stats`
  (rails ``t.min``/``t.max``, near-rail band ``margin·(max − min)``, unsigned types: upper
  rail only), each the maximum over typed variables of the per-variable fraction:
  ``weight_*`` on θ_{t+1} (kernels and biases), ``gradient_*`` on ``g_raw``,
  ``update_saturation_fraction_max`` on ``u``; and ``update_underflow_fraction_max``, the
  largest per-variable fraction of nonzero intended updates that left the stored value
  unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from . import metric_kernels
from .fixed_point import FixedPointType
from .quantization import NEAR_RAIL_MARGIN

#: Kernels whose smaller side is at most this get an exact SVD per step (cheap, batched).
EXACT_SVD_MAX = 16

QUANT_KEYS = ("weight_saturation_fraction_max", "weight_near_rail_fraction_max",
              "gradient_saturation_fraction_max", "gradient_near_rail_fraction_max",
              "update_saturation_fraction_max", "update_underflow_fraction_max")
KEYS = ("theta_norm", "grad_norm", "raw_update_norm", "actual_update_norm", "update_cosine",
        "update_radius_ratio", "forward_gain_spectral", "weight_error_fro") + QUANT_KEYS


@dataclass
class StepMetrics:
    """Diagnostics from recorded per-step vectors (see the module doc).

    Args:
        shapes: the trainable variables' shapes, in flat order.
        kernels: indices (into ``shapes``) of the Dense/convolution kernels.
        weight_t, grad_t, upd_t: per-variable types for the weight, gradient and update
            rails (None: untyped, not counted); all None without a PrecisionDict.
        quantized: a PrecisionDict is in use (else the rail columns are NaN).
        margin: the near-rail band as a fraction of the type's range.
    """

    shapes: Sequence[tuple]
    kernels: Sequence[int]
    weight_t: Sequence[Optional[FixedPointType]]
    grad_t: Sequence[Optional[FixedPointType]]
    upd_t: Sequence[Optional[FixedPointType]]
    quantized: bool
    margin: float = NEAR_RAIL_MARGIN
    reference_T: Optional[np.ndarray] = None  # Aᵀ, (d_in, d_out)
    _gain: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sizes = np.array([int(np.prod(s)) for s in self.shapes], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.size = int(self.offsets[-1])
        self._bounds()
        self.reset()

    def _bounds(self) -> None:
        """Per-variable rails for :func:`kappa.metric_kernels.row_stats` (n_vars, 10) and the
        typed masks (n_vars,) of the weight, gradient and update rails."""
        n = len(self.shapes)
        self._rail_table = np.tile(np.array([np.inf, -np.inf] * 5), (n, 1))
        self._typed = {}
        for col, key, types in ((0, "w", self.weight_t), (4, "g", self.grad_t), (8, "u", self.upd_t)):
            self._typed[key] = np.array([t is not None for t in types], bool)
            for i, t in enumerate(types):
                if t is None:
                    continue
                band = self.margin * (t.max - t.min)
                row = self._rail_table[i]
                row[col] = t.max
                if col < 8:
                    row[col + 2] = t.max - band
                if t.signed:
                    row[col + 1] = t.min
                    if col < 8:
                        row[col + 3] = t.min + band

    def reset(self, reference_A=None) -> None:
        """Start a new run: power-iteration vectors back to their fixed initial values
        (seeded, so runs are reproducible) and the teacher matrix set (or cleared)."""
        rng = np.random.default_rng(12345)
        self._gain = {}
        for k in self.kernels:
            rows, cols = int(np.prod(self.shapes[k][:-1])), int(self.shapes[k][-1])
            if min(rows, cols) > EXACT_SVD_MAX:
                self._gain[k] = rng.normal(size=cols)
        self.reference_T = None if reference_A is None else np.asarray(reference_A, np.float64).T

    def _rail_max(self, counts: np.ndarray, key: str) -> np.ndarray:
        """(S, n_vars) counts -> (S,) the largest per-variable fraction over typed variables
        (0 when none is typed)."""
        return np.where(self._typed[key], counts / self.sizes, 0.0).max(axis=1)

    def _kernel(self, theta: np.ndarray, k: int) -> np.ndarray:
        """(S, rows, cols) kernel matrices of variable ``k`` from (S, P) vectors."""
        a = theta[:, self.offsets[k]:self.offsets[k + 1]]
        return a.reshape(len(theta), -1, int(self.shapes[k][-1]))

    def _spectral(self, theta: np.ndarray) -> np.ndarray:
        S = len(theta)
        gain = np.ones(S)
        for k in self.kernels:
            W = self._kernel(theta, k)
            if k not in self._gain:
                with np.errstate(invalid="ignore"):
                    ok = np.isfinite(W).all(axis=(1, 2))
                    s = np.full(S, np.nan)
                    if ok.any():
                        s[ok] = np.linalg.svd(W[ok], compute_uv=False)[:, 0]
                gain = gain * s
                continue
            # warm-started: each step continues from the last vector (compiled loop)
            out, self._gain[k] = metric_kernels.power_gain(theta, int(self.offsets[k]), W.shape[1], W.shape[2],
                                                           self._gain[k], iterations=2)
            gain = gain * out
        return gain

    def __call__(self, theta: Optional[np.ndarray], new_theta: np.ndarray, g: np.ndarray, u: Optional[np.ndarray],
                 g_raw: Optional[np.ndarray] = None, *, theta0: Optional[np.ndarray] = None,
                 eta_eff: Optional[np.ndarray] = None) -> dict:
        """The columns for S recorded steps.

        Args:
            theta, new_theta, g, u: float64 (S, P): θ_t, θ_{t+1}, quantized gradient,
                intended update. g_raw: (S, P) raw gradient (the gradient rails; only with
                a PrecisionDict).
            theta0, eta_eff: where the step did not record them, θ_t comes from ``theta0``
                (P,) (θ before the first step) and the θ_{t+1} before, and SGD's u is
                ``-eta_eff[t] g`` (``theta`` / ``u`` None; see
                :func:`kappa.metric_kernels.row_stats`).

        Returns:
            dict of the :data:`KEYS` columns, float64 (S,).

        Raises:
            ValueError: ``theta`` and ``theta0``, or ``u`` and ``eta_eff``, both None.
        """
        S = len(new_theta)
        sums, counts = metric_kernels.row_stats(theta, new_theta, g, u, g if g_raw is None else g_raw,
                                                self.offsets, self._rail_table, theta0=theta0, eta=eta_eff)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            norms = np.sqrt(sums[:, :4])
            n_raw, n_act = norms[:, 2], norms[:, 3]
            both = (n_raw > 0) & (n_act > 0) & np.isfinite(n_raw) & np.isfinite(n_act)
            cos = sums[:, 4] / np.where(both, n_act * n_raw, 1.0)
            out = {
                "theta_norm": norms[:, 0], "grad_norm": norms[:, 1],
                "raw_update_norm": n_raw, "actual_update_norm": n_act,
                "update_cosine": np.where(both, np.clip(cos, -1.0, 1.0), np.nan),
                "update_radius_ratio": np.where(n_raw > 0, n_act / np.where(n_raw > 0, n_raw, 1.0), np.nan),
                "forward_gain_spectral": self._spectral(new_theta),
                "weight_error_fro": (np.linalg.norm(self._kernel(new_theta, self.kernels[0]) - self.reference_T,
                                                    axis=(1, 2))
                                     if self.reference_T is not None else np.full(S, np.nan)),
            }
            if not self.quantized:
                out.update({k: np.full(S, np.nan) for k in QUANT_KEYS})
                return out
            c = {name: counts[:, :, i] for i, name in enumerate(metric_kernels.COUNTS)}
            n_nz = c["u_nonzero"]
            under = np.where(n_nz > 0, c["u_lost"] / np.maximum(n_nz, 1.0), 0.0).max(axis=1)
        out.update({"weight_saturation_fraction_max": self._rail_max(c["w_sat"], "w"),
                    "weight_near_rail_fraction_max": self._rail_max(c["w_near"], "w"),
                    "gradient_saturation_fraction_max": self._rail_max(c["g_sat"], "g"),
                    "gradient_near_rail_fraction_max": self._rail_max(c["g_near"], "g"),
                    "update_saturation_fraction_max": self._rail_max(c["u_sat"], "u"),
                    "update_underflow_fraction_max": under})
        return out
