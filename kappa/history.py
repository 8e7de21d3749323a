"""FitHistory: the per-step record returned by ``train_instrumented``.

Every metric is a numpy array of shape ``(n_steps,)`` (one entry per optimizer step,
i.e. per minibatch). Metrics that do not apply to a run are NaN (e.g. the analytic
Hessian of a multi-layer model, rail pressure without a PrecisionDict).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METRIC_NAMES = (
    "step", "epoch",
    "loss", "rmse", "theta_norm", "grad_norm",
    "raw_update_norm", "actual_update_norm", "update_cosine", "update_angle_rad", "update_radius_ratio",
    "curvature_proxy", "curvature_ema", "curvature_skipped",
    "alpha", "alpha_would", "eta_eff",
    "forward_gain_spectral", "hessian_lambda_max", "hessian_lambda_max_batch",
    "stability_margin_lambda_raw", "stability_margin_lambda_ctrl",
    "spectral_radius_raw", "spectral_radius_ctrl",
    "weight_error_fro", "finite", "divergence",
    "weight_saturation_fraction_max", "weight_near_rail_fraction_max",
    "gradient_saturation_fraction_max", "gradient_near_rail_fraction_max",
    "update_saturation_fraction_max", "update_underflow_fraction_max",
)
"""Names of the per-step arrays, in order."""

DIVERGENCE_LOSS_FACTOR = 10.0
"""A loss settling this many times above its best (and above its start) is a blow-up."""
PINNED_RAIL_FRACTION = 0.5
"""Mean saturated fraction of weights and of updates that counts as pinned at the rails."""

_EMPTY = lambda: np.zeros(0)  # noqa: E731
_CONFIG_KEY = "__config_json__"


@dataclass
class FitHistory:
    """Per-step training record (all arrays shape ``(n_steps,)``).

    Arrays (units: the loss's units; norms are Euclidean over all trainable parameters
    flattened into one vector θ):

    * ``step`` (int), ``epoch`` (int); ``loss``: batch loss at θ_t before the update;
      ``rmse``: sqrt(mean((ŷ − y)²)) on the batch; ``theta_norm`` ‖θ_t‖; ``grad_norm`` ‖g_t‖
      (the gradient used, after gradient quantization).
    * update geometry: ``raw_update_norm`` ‖u_t‖ of the intended update
      ``u_t = −η_eff·d_t``; ``actual_update_norm`` ‖θ_{t+1} − θ_t‖ after update and storage
      quantization; ``update_cosine`` cos(u_t, θ_{t+1} − θ_t) (NaN if either is 0);
      ``update_angle_rad`` β_t = arccos(cosine); ``update_radius_ratio`` r_t = actual/raw.
    * throttle: ``curvature_proxy`` C_t = ‖Δg‖/(‖Δθ‖ + eps) (NaN when skipped),
      ``curvature_ema``, ``curvature_skipped`` (bool: no secant this step: first step or
      Δθ = 0), ``alpha``, ``alpha_would``, ``eta_eff`` = α·η.
    * ``forward_gain_spectral``: product over Dense and convolution kernels (a convolution
      kernel as its (kh·kw·C, F) matrix) of their spectral norms (an upper bound on the
      network's Lipschitz gain for linear/ReLU layers; BatchNorm is not included). Exact SVD
      for matrices whose smaller side is <= 16, else two warm-started power iterations per
      step (converges as the weights change slowly); see :mod:`kappa.step_metrics`.
    * analytic quadratic (one-layer linear model only, else NaN): ``hessian_lambda_max``
      (full training set), ``hessian_lambda_max_batch`` (this batch),
      ``stability_margin_lambda_raw`` η·λ_max, ``stability_margin_lambda_ctrl`` η_eff·λ_max,
      ``spectral_radius_raw``/``_ctrl``: spectral radius of the update map with η / η_eff
      (SGD: max|1 − ηλ_i|; heavy-ball momentum: the 2×2 companion map; Adam: NaN).
    * estimated sharpness (any model, with ``hessian_every=K``): ``hessian_lambda_max`` and
      the two margins are the estimate of :mod:`kappa.sharpness` at steps t ≡ 0 (mod K),
      NaN elsewhere; the spectral radii stay analytic-only (they need the whole spectrum).
    * ``weight_error_fro``: ‖W − A‖_F against the teacher (one-layer model with
      ``reference_A``, else NaN).
    * ``finite`` (bool): loss and parameters finite; ``divergence`` (bool): True from the
      step whose loss was NaN/inf (the last step of a diverged run).
    * with a PrecisionDict (else NaN): ``weight_saturation_fraction_max``,
      ``weight_near_rail_fraction_max`` (stored weights/biases vs their types, after the
      update), ``gradient_saturation_fraction_max``, ``gradient_near_rail_fraction_max``
      (raw gradient vs the gradient type), ``update_saturation_fraction_max`` (intended
      update vs the update type), ``update_underflow_fraction_max`` (of the parameters
      with a nonzero intended update, the fraction whose stored value did not change).
      Each is the max over variables; see :func:`kappa.quantization.rail_stats`.

    ``val_loss``, ``val_accuracy``: per epoch (shape (n_epochs,), empty without validation
    data): the loss and the argmax agreement with the targets on the validation samples.

    ``config``: JSON-serialisable run settings (learning rate, eta_max, precision, …).
    """

    step: np.ndarray = field(default_factory=_EMPTY)
    epoch: np.ndarray = field(default_factory=_EMPTY)
    loss: np.ndarray = field(default_factory=_EMPTY)
    rmse: np.ndarray = field(default_factory=_EMPTY)
    theta_norm: np.ndarray = field(default_factory=_EMPTY)
    grad_norm: np.ndarray = field(default_factory=_EMPTY)
    raw_update_norm: np.ndarray = field(default_factory=_EMPTY)
    actual_update_norm: np.ndarray = field(default_factory=_EMPTY)
    update_cosine: np.ndarray = field(default_factory=_EMPTY)
    update_angle_rad: np.ndarray = field(default_factory=_EMPTY)
    update_radius_ratio: np.ndarray = field(default_factory=_EMPTY)
    curvature_proxy: np.ndarray = field(default_factory=_EMPTY)
    curvature_ema: np.ndarray = field(default_factory=_EMPTY)
    curvature_skipped: np.ndarray = field(default_factory=_EMPTY)
    alpha: np.ndarray = field(default_factory=_EMPTY)
    alpha_would: np.ndarray = field(default_factory=_EMPTY)
    eta_eff: np.ndarray = field(default_factory=_EMPTY)
    forward_gain_spectral: np.ndarray = field(default_factory=_EMPTY)
    hessian_lambda_max: np.ndarray = field(default_factory=_EMPTY)
    hessian_lambda_max_batch: np.ndarray = field(default_factory=_EMPTY)
    stability_margin_lambda_raw: np.ndarray = field(default_factory=_EMPTY)
    stability_margin_lambda_ctrl: np.ndarray = field(default_factory=_EMPTY)
    spectral_radius_raw: np.ndarray = field(default_factory=_EMPTY)
    spectral_radius_ctrl: np.ndarray = field(default_factory=_EMPTY)
    weight_error_fro: np.ndarray = field(default_factory=_EMPTY)
    finite: np.ndarray = field(default_factory=_EMPTY)
    divergence: np.ndarray = field(default_factory=_EMPTY)
    weight_saturation_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    weight_near_rail_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    gradient_saturation_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    gradient_near_rail_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    update_saturation_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    update_underflow_fraction_max: np.ndarray = field(default_factory=_EMPTY)
    config: dict = field(default_factory=dict)
    val_loss: np.ndarray = field(default_factory=_EMPTY)
    val_accuracy: np.ndarray = field(default_factory=_EMPTY)

    def __post_init__(self):
        for name in METRIC_NAMES:
            setattr(self, name, np.asarray(getattr(self, name)))
        self.val_loss = np.asarray(self.val_loss, np.float64)
        self.val_accuracy = np.asarray(self.val_accuracy, np.float64)
        if self.val_loss.shape != self.val_accuracy.shape:
            raise ValueError(f"val_loss and val_accuracy need the same shape (n_epochs,), got "
                             f"{self.val_loss.shape} and {self.val_accuracy.shape}")
        n = {name: getattr(self, name).shape for name in METRIC_NAMES}
        lengths = {s[0] if s else None for s in n.values()}
        if len(lengths) > 1:
            raise ValueError(f"FitHistory arrays must all have shape (n_steps,); got {n}")
        self.config = dict(self.config or {})

    # --------------------------------------------------------------- queries
    @property
    def n_steps(self) -> int:
        """Number of logged steps."""
        return int(self.loss.shape[0])

    @property
    def diverged(self) -> bool:
        """True if the run diverged: a NaN/inf loss (or parameter) ended it, or the logged
        metrics show a blow-up that saturation hid (see :meth:`health`)."""
        return self.health()["status"] == "diverged"

    @property
    def diverged_at_step(self) -> int | None:
        """Index (into the arrays) of the first non-finite step, else of the first step
        of a detected blow-up (see :meth:`health`), or None."""
        return self.health()["step"] if self.diverged else None

    def health(self, *, loss_factor: float = DIVERGENCE_LOSS_FACTOR,
               rail_fraction: float = PINNED_RAIL_FRACTION, window: int | None = None) -> dict:
        """Did the run diverge or stall, judged only from what was logged?

        In fixed point a blow-up rarely gives NaN: updates and weights saturate at their
        types' rails and the loss settles far above where it was. A run is *diverged* if

        1. a NaN/inf loss or parameter ended it (``divergence``); or
        2. *loss blow-up*: the mean loss of the last ``window`` steps (default
           ``max(3, n_steps // 20)``) is at least ``loss_factor`` (10) times the best
           logged batch loss and above the first step's loss; or it is at least twice the
           first step's loss and twice the best (a bounded loss such as cross-entropy cannot
           rise 10x); or
        3. *pinned at the rails* (quantized runs): over the last ``window`` steps the mean
           ``weight_saturation_fraction_max`` and the mean
           ``update_saturation_fraction_max`` are both ``>= rail_fraction`` (0.5): weights
           sit on their rails while the intended updates overflow the update type.

        Otherwise it is *stalled* if :meth:`stalled` holds, else *ok*.

        Returns:
            ``{"status": "ok" | "diverged" | "stalled", "reason": str or None, "step": int
            or None}`` (``step``: first step of the divergence).
        """
        n = self.n_steps
        if n and self.divergence.size and np.any(self.divergence):
            k = int(np.argmax(self.divergence))
            return {"status": "diverged", "step": k,
                    "reason": f"the loss or the parameters became NaN/inf at step {k}"}
        if n >= 2:
            w = max(1, min(n, window if window is not None else max(3, n // 20)))
            loss = np.asarray(self.loss, np.float64)
            best = float(np.min(loss))
            tail = float(np.mean(loss[-w:]))
            if tail >= loss_factor * best and tail > float(loss[0]) and tail > 0:
                running = np.minimum.accumulate(loss)
                above = np.flatnonzero(loss > np.maximum(loss[0], loss_factor * running))
                k = int(above[0]) if above.size else n - 1
                return {"status": "diverged", "step": k,
                        "reason": f"the loss rose to {tail:.4g} (mean of the last {w} steps), {tail / best:.3g} times "
                                  f"its best {best:.4g} and above its initial {float(loss[0]):.4g}; saturation hid "
                                  f"the blow-up (lower the learning rate)"}
            first = float(loss[0])
            if first > 0 and tail >= 2.0 * first and tail >= 2.0 * best:
                # a bounded loss (cross-entropy on a saturating softmax) cannot rise 10x, but a
                # run that ends at twice its initial loss has not trained: it blew up
                k = int(np.flatnonzero(loss >= 2.0 * first)[0])
                return {
                    "status": "diverged",
                    "step": k,
                    "reason": f"the loss ended at {tail:.4g} (mean of the last {w} steps), {tail / first:.3g} times "
                    f"its initial {first:.4g}; saturation hid the blow-up (lower the learning rate)",
                }
            ws = np.asarray(self.weight_saturation_fraction_max, np.float64)
            us = np.asarray(self.update_saturation_fraction_max, np.float64)
            if ws.size == n and us.size == n and np.all(np.isfinite(ws[-w:])) and np.all(np.isfinite(us[-w:])):
                if float(np.mean(ws[-w:])) >= rail_fraction and float(np.mean(us[-w:])) >= rail_fraction:
                    pinned = np.flatnonzero((ws >= rail_fraction) & (us >= rail_fraction))
                    k = int(pinned[0]) if pinned.size else n - w
                    return {
                        "status": "diverged",
                        "step": k,
                        "reason": f"weights pinned at their rails (mean saturated fraction "
                        f"{float(np.mean(ws[-w:])):.2f}) and updates overflowing their type (mean "
                        f"{float(np.mean(us[-w:])):.2f}) over the last {w} steps (lower the "
                        f"learning rate or widen the types)",
                    }
        if self.stalled():
            return {
                "status": "stalled",
                "step": None,
                "reason": "the updates no longer change the stored parameters and the loss is flat "
                "(updates underflow the weight grid: use S_RND updates or more fractional bits)",
            }
        return {"status": "ok", "step": None, "reason": None}

    @property
    def quantized(self) -> bool:
        """True if the run used a PrecisionDict."""
        return bool(self.config.get("quantized", False))

    def as_dict(self) -> dict:
        """``{name: array}`` of the per-step metrics."""
        return {name: getattr(self, name) for name in METRIC_NAMES}

    # ----------------------------------------------------------------- summary
    def stalled(
        self,
        window: int | None = None,
        update_ratio_tol: float = 0.1,
        underflow_tol: float = 0.9,
        plateau_rtol: float = 1e-3,
    ) -> bool:
        """Did learning stop because updates are not applied (not because it converged)?

        Definition (over the last ``window`` steps, default ``max(5, n_steps // 10)``;
        needs at least 2 steps and a finite run):

        * *updates dead*: the mean ``update_underflow_fraction_max`` is ``>= underflow_tol``
          (quantized runs), or the median ratio ``actual_update_norm / raw_update_norm`` is
          ``< update_ratio_tol``, and
        * *loss plateau*: ``|L_first − L_last| <= plateau_rtol · max(|L_first|, 1e-30)``
          with L the window's first and last batch losses, and the loss is not ~0
          (``L_last > 1e-12``: a solved problem is converged, not stalled).

        Steps whose intended update is exactly zero do not count as dead. Returns False
        for diverged runs (see ``diverged``).
        """
        n = self.n_steps
        if n < 2 or (self.divergence.size and np.any(self.divergence)):
            return False
        w = max(2, min(n, window if window is not None else max(5, n // 10)))
        loss = self.loss[-w:]
        raw, act = self.raw_update_norm[-w:], self.actual_update_norm[-w:]
        moving = raw > 0
        dead = False
        uf = self.update_underflow_fraction_max[-w:] if self.update_underflow_fraction_max.size else np.zeros(0)
        if uf.size and np.all(np.isfinite(uf)) and float(np.mean(uf)) >= underflow_tol:
            dead = True
        if moving.any():
            ratio = float(np.median(act[moving] / raw[moving]))
            dead = dead or ratio < update_ratio_tol
        l0, l1 = float(loss[0]), float(loss[-1])
        plateau = abs(l0 - l1) <= plateau_rtol * max(abs(l0), 1e-30) and l1 > 1e-12
        return bool(dead and plateau)

    def summary(self) -> dict:
        """Headline numbers of the run.

        Returns:
            dict with ``n_steps``, ``initial_loss``, ``final_loss``, ``min_loss``,
            ``diverged`` (bool), ``diverged_at_step`` (int or None), ``stalled`` (bool, see
            :meth:`stalled`), ``status`` and ``status_reason`` (see :meth:`health`), ``final_alpha``,
            ``min_alpha``, ``final_eta_eff``,
            ``final_update_underflow_fraction`` (NaN if not quantized),
            ``final_weight_error_fro``; with ``hessian_every`` (else absent):
            ``hessian_estimates``, ``hessian_seconds``, ``hessian_hvps`` (the cost of the
            λ_max estimates) and ``final_hessian_lambda_max`` (the last estimate).
        """

        def last(a):
            return float(a[-1]) if a.size else math.nan

        finite_loss = self.loss[np.isfinite(self.loss)] if self.loss.size else self.loss
        health = self.health()
        return {
            "n_steps": self.n_steps,
            "initial_loss": float(self.loss[0]) if self.loss.size else math.nan,
            "final_loss": last(self.loss),
            "min_loss": float(np.min(finite_loss)) if finite_loss.size else math.nan,
            "diverged": health["status"] == "diverged",
            "diverged_at_step": health["step"] if health["status"] == "diverged" else None,
            "stalled": health["status"] == "stalled",
            "status": health["status"],
            "status_reason": health["reason"],
            "final_alpha": last(self.alpha),
            "min_alpha": float(np.nanmin(self.alpha)) if self.alpha.size else math.nan,
            "final_eta_eff": last(self.eta_eff),
            "final_update_underflow_fraction": last(self.update_underflow_fraction_max),
            "final_weight_error_fro": last(self.weight_error_fro),
            "final_val_accuracy": last(self.val_accuracy),
            **_hessian_summary(self.config.get("hessian"), self.hessian_lambda_max),
        }

    # -------------------------------------------------------------- save/load
    def save(self, path) -> Path:
        """Write all arrays and the config to a ``.npz`` file (``np.savez_compressed``).

        Returns:
            The path written (``.npz`` appended by numpy if missing).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = self.as_dict()
        arrays.update(val_loss=self.val_loss, val_accuracy=self.val_accuracy)
        arrays[_CONFIG_KEY] = np.array(json.dumps(self.config, default=_json_default))
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "FitHistory":
        """Read a FitHistory written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file. ValueError: not a FitHistory archive.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"FitHistory file {str(path)!r} does not exist")
        with np.load(path, allow_pickle=False) as z:
            if "loss" not in z.files:
                raise ValueError(f"{str(path)!r} is not a FitHistory archive (no 'loss' array)")
            kwargs = {name: z[name] for name in METRIC_NAMES if name in z.files}
            n = kwargs["loss"].shape[0]
            for name in METRIC_NAMES:
                kwargs.setdefault(name, np.full(n, np.nan))
            config = json.loads(str(z[_CONFIG_KEY])) if _CONFIG_KEY in z.files else {}
            val = {k: z[k] for k in ("val_loss", "val_accuracy") if k in z.files}
        return cls(**kwargs, config=config, **val)

    # ------------------------------------------------------------------- plot
    def plot_results(self, title: str | None = None):
        """Five panels: loss; α, α_would and η_eff; stability margins and spectral radii;
        update geometry; rail pressure.

        Returns:
            ``matplotlib.figure.Figure`` (not shown; call ``fig.show()`` or display it).
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 13), layout="constrained")
        axes = fig.subplots(5, 1, sharex=True)
        x = self.step if self.step.size else np.arange(self.n_steps)

        ax = axes[0]
        ax.plot(x, self.loss, label="loss", color="C0")
        if np.any(np.isfinite(self.rmse)):
            ax.plot(x, self.rmse, label="rmse", color="C1", alpha=0.7)
        if np.all(self.loss[np.isfinite(self.loss)] > 0) and np.any(np.isfinite(self.loss)):
            ax.set_yscale("log")
        if self.diverged:
            ax.axvline(x[self.diverged_at_step], color="red", ls="--", label="diverged")
        ax.set_ylabel("loss")
        if self.val_accuracy.size:
            spe = int(self.config.get("steps_per_epoch") or max(1, self.n_steps // self.val_accuracy.size))
            xe = (np.arange(1, self.val_accuracy.size + 1) * spe) - 1
            ax.plot(xe, self.val_loss, "o-", color="C2", ms=3, label="validation loss")
            axa = ax.twinx()
            axa.plot(xe, self.val_accuracy, "s-", color="C4", ms=3, label="validation accuracy")
            axa.set_ylim(-0.02, 1.02)
            axa.set_ylabel("validation accuracy")
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = axa.get_legend_handles_labels()
            # outside the data, right of the accuracy axis: inside it covered the accuracy curve
            ax.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(1.07, 1.0), borderaxespad=0,
                      fontsize="small")
        else:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize="small")
        ax.set_title(title or "training")

        ax = axes[1]
        ax.plot(x, self.alpha, label="α (applied)", color="C0")
        ax.plot(x, self.alpha_would, label="α would", color="C0", ls=":")
        ax.set_ylabel("α")
        ax.set_ylim(-0.05, 1.05)
        ax2 = ax.twinx()
        ax2.plot(x, self.eta_eff, label="η_eff", color="C3", alpha=0.7)
        eta_max = self.config.get("eta_max")
        if eta_max is not None and np.isfinite(eta_max):
            ax2.axhline(eta_max, color="C3", ls="--", lw=0.8, label="η_max = 2/λ_max")
        ax2.set_ylabel("η_eff")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="lower left")

        ax = axes[2]
        sparse = _sparse(self.hessian_lambda_max)  # estimated every K steps: draw points, joined
        for ys, lab, ls in ((self.stability_margin_lambda_raw, "η·λ_max", ":"),
                            (self.stability_margin_lambda_ctrl, "η_eff·λ_max", "-")):
            ok = np.isfinite(ys) if sparse else slice(None)
            ax.plot(x[ok], ys[ok], label=lab, color="C0", ls=ls, marker="." if sparse else None)
        ax.plot(x, self.spectral_radius_raw, label="ρ raw", color="C2", ls=":")
        ax.plot(x, self.spectral_radius_ctrl, label="ρ controlled", color="C2")
        ax.axhline(2.0, color="red", lw=0.8, ls="--", label="η·λ = 2")
        ax.axhline(1.0, color="gray", lw=0.8, ls="--", label="ρ = 1")
        ax.set_ylabel("stability")
        ax.legend(loc="upper right", ncol=3, fontsize="small")
        if not np.any(np.isfinite(self.stability_margin_lambda_raw)) and not np.any(
            np.isfinite(self.spectral_radius_raw)
        ):
            ax.text(
                0.5,
                0.5,
                "nothing to show: λ_max (and so the stability margins) is analytic only for a "
                "one-layer linear model; train with hessian_every=K to estimate it",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="gray",
                wrap=True,
            )

        ax = axes[3]
        ax.plot(x, self.raw_update_norm, label="‖intended update‖", color="C0", ls=":")
        ax.plot(x, self.actual_update_norm, label="‖applied update‖", color="C0")
        pos = np.concatenate([self.raw_update_norm, self.actual_update_norm])
        pos = pos[np.isfinite(pos) & (pos > 0)]
        if pos.size:
            ax.set_yscale("log")
        ax.set_ylabel("update norm")
        ax2 = ax.twinx()
        ax2.plot(x, self.update_cosine, label="cos(applied, intended)", color="C1", alpha=0.7)
        ax2.set_ylim(-1.05, 1.05)
        ax2.set_ylabel("cosine")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="lower left", fontsize="small")

        ax = axes[4]
        for name, lab in (
            ("weight_saturation_fraction_max", "weight saturated"),
            ("weight_near_rail_fraction_max", "weight near rail"),
            ("gradient_saturation_fraction_max", "gradient saturated"),
            ("update_saturation_fraction_max", "update saturated"),
            ("update_underflow_fraction_max", "update underflow"),
        ):
            ax.plot(x, getattr(self, name), label=lab)
        if not self.quantized:
            ax.text(
                0.5,
                0.5,
                "floating point (no rail pressure)",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="gray",
            )
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("fraction")
        ax.set_xlabel("step")
        ax.legend(loc="upper right", ncol=2, fontsize="small")
        return fig


def _sparse(a: np.ndarray) -> bool:
    """True if ``a`` has finite entries but not everywhere (an every-K-steps column)."""
    fin = np.isfinite(np.asarray(a, np.float64))
    return bool(fin.any() and not fin.all())


def _hessian_summary(cost: dict | None, lam: np.ndarray) -> dict:
    if not cost:
        return {}
    fin = np.asarray(lam, np.float64)
    fin = fin[np.isfinite(fin)]
    return {"hessian_estimates": int(cost.get("estimates", 0)), "hessian_seconds": float(cost.get("seconds", 0.0)),
            "hessian_hvps": int(cost.get("hvps", 0)),
            "final_hessian_lambda_max": float(fin[-1]) if fin.size else math.nan}


def _json_default(o: Any):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
