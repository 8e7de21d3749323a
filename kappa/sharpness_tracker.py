"""λ_max every K steps of ``train_instrumented``: the schedule, the warm start, the history
columns and the cost record (the estimator itself is :mod:`kappa.sharpness`).

The training loop asks :meth:`SharpnessTracker.due` before each compiled chunk, calls
:meth:`SharpnessTracker.estimate` at steps ``t ≡ 0 (mod K)`` (at θ_t, the weights the
step-t loss and gradient are taken at, outside the compiled step) and caps each chunk at
the next such step (:meth:`SharpnessTracker.cap`). The training arithmetic is untouched:
the estimate only reads the weights (it copies them into a float64 clone).

Columns (each (n_steps,), NaN where no estimate ran):

* ``hessian_lambda_max`` λ̂_t;
* ``stability_margin_lambda_raw`` η·λ̂_t and ``stability_margin_lambda_ctrl`` η_eff,t·λ̂_t
  (full-batch GD on a quadratic is stable iff η·λ_max < 2; Cohen et al., ICLR 2021, find
  full-batch GD on networks hovering at η·λ_max ≈ 2).

The update-map spectral radius ``max_i |1 − ηλ_i|`` needs the whole spectrum (λ_min
too), so it stays NaN outside the analytic one-layer path.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .sharpness import METHODS, HessianOperator, SharpnessEstimate, select_subset, top_eigenvalue

#: ``throttle_curvature`` values: the curvature the throttle divides by.
THROTTLE_CURVATURES = ("secant", "hessian")


def check_hessian_args(hessian_every, hessian_iters, hessian_subset, hessian_tol, hessian_method,
                       throttle_curvature, n_samples: int) -> int:
    """Validate the ``hessian_*`` options of ``train_instrumented``; return K (0 = off).

    Raises:
        ValueError: naming the bad value and what is valid.
    """
    if hessian_every is None:
        hessian_every = 0
    if isinstance(hessian_every, bool) or not isinstance(hessian_every, (int, np.integer)) or hessian_every < 0:
        raise ValueError(f"hessian_every must be an integer >= 0 (0 or None: off), got {hessian_every!r}")
    if isinstance(hessian_iters, bool) or not isinstance(hessian_iters, (int, np.integer)) or hessian_iters < 1:
        raise ValueError(f"hessian_iters must be an integer >= 1, got {hessian_iters!r}")
    if not (isinstance(hessian_tol, (int, float)) and math.isfinite(hessian_tol) and hessian_tol >= 0):
        raise ValueError(f"hessian_tol must be a finite number >= 0, got {hessian_tol!r}")
    if hessian_method not in METHODS:
        raise ValueError(f"unknown hessian_method {hessian_method!r}; valid: {', '.join(METHODS)}")
    if throttle_curvature not in THROTTLE_CURVATURES:
        raise ValueError(f"unknown throttle_curvature {throttle_curvature!r}; valid: {', '.join(THROTTLE_CURVATURES)}")
    if throttle_curvature == "hessian" and not hessian_every:
        raise ValueError("throttle_curvature='hessian' needs hessian_every >= 1 (the throttle uses the latest λ_max "
                         "estimate)")
    if hessian_every:
        select_subset(n_samples, hessian_subset)  # raises on a bad subset
    return int(hessian_every)


class SharpnessTracker:
    """Estimates λ_max of the training loss every ``every`` steps (see the module doc).

    Args:
        keras_model: the model being trained. X, Y: the training arrays (N, …).
        loss_mode, ce_floor: the training loss (see :func:`kappa.sharpness.training_loss`).
        every: K >= 1. iters: HVPs per estimate at most (M). subset: None, a size or indices
            (fixed for the run, drawn with ``seed``). tol: relative-residual stop. method:
            ``"lanczos"`` or ``"power"``.

    Each estimate after the first starts from the previous Ritz vector (warm start).
    """

    def __init__(self, keras_model, X, Y, loss_mode: str, *, every: int, iters: int = 20, subset=None,
                 tol: float = 1e-3, method: str = "lanczos", seed: int = 0, ce_floor: float = 1e-7):
        self.every, self.iters, self.tol, self.method, self.seed = int(every), int(iters), float(tol), method, seed
        self.op = HessianOperator.for_model(keras_model, X, Y, loss_mode, subset=subset, seed=seed,
                                            ce_floor=ce_floor)
        self.estimates: dict[int, SharpnessEstimate] = {}
        self._v: Optional[np.ndarray] = None
        self.last_lambda = math.nan

    def due(self, step: int) -> bool:
        """True if an estimate is scheduled at ``step`` and not done yet."""
        return step % self.every == 0 and step not in self.estimates

    def cap(self, step: int, k: int) -> int:
        """At most ``k`` steps from ``step`` without passing the next scheduled estimate."""
        return max(1, min(k, self.every - step % self.every))

    def estimate(self, step: int) -> SharpnessEstimate:
        """λ_max at the model's current weights, recorded for ``step``."""
        est = top_eigenvalue(self.op, iters=self.iters, tol=self.tol, method=self.method, v0=self._v,
                             seed=self.seed)
        if math.isfinite(est.lambda_max):
            self._v = est.vector
            self.last_lambda = est.lambda_max
        self.estimates[step] = est
        return est

    def columns(self, steps: int, eta: float, eta_eff: np.ndarray) -> dict:
        """``hessian_lambda_max`` and the two stability margins, (steps,) each, NaN off schedule."""
        lam = np.full(steps, np.nan)
        for t, e in self.estimates.items():
            if t < steps:
                lam[t] = e.lambda_max
        return {"hessian_lambda_max": lam, "stability_margin_lambda_raw": float(eta) * lam,
                "stability_margin_lambda_ctrl": np.asarray(eta_eff, np.float64)[:steps] * lam}

    def cost(self) -> dict:
        """JSON-able record: schedule, estimates run, total/mean seconds and HVPs, convergence."""
        es = list(self.estimates.values())
        secs = float(sum(e.seconds for e in es))
        hvps = int(sum(e.hvps for e in es))
        return {"every": self.every, "iters": self.iters, "tol": self.tol, "method": self.method,
                "n_samples": self.op.n_samples, "n_params": self.op.size, "estimates": len(es),
                "seconds": secs, "hvps": hvps,
                "seconds_per_estimate": secs / len(es) if es else math.nan,
                "hvps_per_estimate": hvps / len(es) if es else math.nan,
                "converged": int(sum(e.converged for e in es))}
