"""``train_instrumented``: the instrumented ablation loop (float or exact fixed point).

Implements the "train_instrumented" section of the Models reference
(``shared/seeds/001_…``) with the extensions of issue 3. One step, on a minibatch
``(x, y)`` at parameters θ_t:

1. forward + loss + gradient ``g_t`` (:class:`kappa.training_forward.TrainingForward`:
   straight-through quantizers at input, weight, accumulator, bias and activation when a
   PrecisionDict is given); ``g_t`` cast to the ``gradient`` type (no STE);
2. curvature secant ``C_t = ‖Δg‖ / (‖Δθ‖ + eps)`` with ``Δθ = θ_t − θ_{t−1}`` and
   ``Δg = g_t − g_{t−1}`` (``curvature_mode="cross_batch"``, the reference: the two
   gradients come from different batches) or ``Δg = g_t − ∇L_batch_t(θ_{t−1})``
   (``"same_batch"``: one more gradient, no batch noise). The secant is skipped (logged
   in ``curvature_skipped``) on the first step and when the last applied update was
   exactly zero (Δθ = 0 makes it undefined). ``fixed-point-training.md``, "The secant
   curvature proxy and the throttle";
3. EMA ``c ← (1−ρ)c + ρC`` (from 0, as the reference); control curvature ``max(C, c)``
   (on a skipped step: ``max(C_last, c)`` with C_last the last measured secant, 0 before
   the first one, so the first step has α = 1);
   ``α_would = clip(χ / (η (C_ctrl + eps)), alpha_min, 1)``; ``α = α_would`` if
   ``use_controller`` else 1; ``η_eff = α η``;
4. direction ``d_t``: SGD ``g``; heavy-ball momentum ``v ← Q_momentum(βv + g)``;
   Adam ``m ← Q_adam_m(β1 m + (1−β1) g)``, ``v ← Q_adam_v(β2 v + (1−β2) g²)``,
   ``d = m̂ / (√v̂ + ε)``. Intended update ``u = −η_eff d``;
5. float: ``θ ← θ + u`` (``assign_sub``); fixed point: ``u_q = Q_update(u)`` (no STE,
   stochastic rounding S_RND seeded per step), ``θ ← Q_storage(θ + u_q)`` in float64,
   stored in the float32 variable (exact: see *Storage*). With round-to-nearest every
   ``|u| < LSB/2`` is lost and training can stall while looking stable; stochastic
   rounding keeps the update unbiased (Gupta et al. 2015, "Deep Learning with Limited
   Numerical Precision"; ``fixed-point-training.md``, "Rounding of updates").

Sharpness context: with full-batch GD, non-quadratic networks drift to the edge of
stability, λ_max ≈ 2/η (Cohen et al. 2021); ``hessian_lambda_max`` and the stability
margins are the exact quadratic quantities for the one-layer model, and for any model the
estimate of :mod:`kappa.sharpness` every ``hessian_every`` steps (outside the compiled step).

Storage: trainable variables stay float32 Keras variables. A storage type (Dense
kernel: ``weight``, bias: ``bias``, others: ``value``) must therefore fit a float32
exactly (signed W <= 25 / unsigned W <= 24, and a sane exponent range); a wider type
raises ``ValueError`` at setup naming the layer and type. After every update (and once
at setup) each stored value equals ``kappa.quantize`` of itself.

Performance: steps run inside one ``tf.function`` (a ``tf.while_loop`` over up to
``steps_per_call`` batches, fewer when the recorded vectors of a call would exceed
``RECORD_BUDGET`` bytes or its samples' data side ``PREPARED_BUDGET`` bytes). Before the
loop a call gathers its samples and computes what of the forward depends on the data alone
(the quantized inputs, a first convolution's receptive fields and the residues of its
rounded products: :meth:`kappa.training_forward.TrainingForward.prepare`) for all of them at
once; each step slices its batch from that. The step's scalars and the vectors θ_{t+1}, g (and the raw
gradient; θ_t and u only where numpy cannot rebuild them exactly, see
:class:`kappa.training_step.StepRunner`) are written to ``tf.TensorArray``s and
fetched once per call, and the
diagnostics that only observe the run (norms, update geometry, spectral gain, rail
pressure) are computed from those vectors by :mod:`kappa.step_metrics`, vectorised over the
call's steps; the compiled step keeps only what feeds back into training. A NaN/inf loss
or gradient stops the loop after logging that step; the update of that step is not applied (the model keeps its last finite
parameters); the history is marked diverged; no exception is raised.
The compiled step and its per-model cache are in :mod:`kappa.training_step`.
"""

from __future__ import annotations

import json
import math
from typing import Optional

import numpy as np
import tensorflow as tf

from .fixed_point import FixedPointType
from .history import METRIC_NAMES, FitHistory
from .inputs import check_training_arrays, model_input_shape
from .precision import ensure_precision_dict
from .quantization import quantize
from .sharpness_tracker import SharpnessTracker, check_hessian_args
from .step_metrics import KEYS as STEP_METRIC_KEYS
from .training_forward import TrainingForward
from .training_step import (
    BOOL_KEYS,
    STEP_KEYS,
    cross_entropy_loss,  # noqa: F401  (public here since it began)
    firmware_options_from_key,
    get_runner,
)
from .utils import analytic_single_dense_hessian, hessian_metrics_np

LOSS_MODES = ("half_mse", "keras_mse", "cross_entropy")
CURVATURE_MODES = ("cross_batch", "same_batch")
OPTIMIZERS = ("sgd", "momentum", "adam")

#: Bytes of recorded per-step vectors one compiled call may hold (bounds steps_per_call for
#: models with many parameters).
RECORD_BUDGET = 1 << 26
#: Bytes of the forward's data side (quantized inputs, first-layer receptive fields and their
#: residues; :meth:`kappa.training_forward.TrainingForward.prepare`) one compiled call may hold.
PREPARED_BUDGET = 1 << 28


def fits_float32(t: FixedPointType) -> bool:
    """True if every value of ``t`` is exactly representable in float32."""
    return max(abs(t.qmin), t.qmax) <= 2**24 and t.fractional <= 149 and t.integer <= 127


def update_map_radius(eta, eigs, optimizer="sgd", beta=0.9):
    """Spectral radius of the linear update map of GD on a quadratic with Hessian
    eigenvalues ``eigs`` (``fixed-point-training.md``).

    Args:
        eta: array (n,) of step sizes. eigs: array (P,) of eigenvalues.
        optimizer: ``"sgd"``: ``max_i |1 − η λ_i|``; ``"momentum"``: heavy ball, the
            largest root modulus of ``z² − (1 + β − ηλ) z + β`` over λ_i (stable iff
            ``ηλ < 2 + 2β``); ``"adam"``: NaN (no fixed linear map).

    Returns:
        float64 array (n,).
    """
    eta = np.asarray(eta, np.float64)[:, None]
    lam = np.asarray(eigs, np.float64)[None, :]
    if optimizer == "sgd":
        return np.max(np.abs(1.0 - eta * lam), axis=1)
    if optimizer == "momentum":
        a = 1.0 + beta - eta * lam
        disc = a * a - 4.0 * beta
        sq = np.sqrt(np.abs(disc))
        real = np.maximum(np.abs(a + sq), np.abs(a - sq)) / 2.0
        return np.max(np.where(disc >= 0, real, math.sqrt(beta)), axis=1)
    return np.full(eta.shape[0], np.nan)


def check_args(
    epochs, batch_size, learning_rate, loss_mode, curvature_mode, optimizer, curvature_ema_rho, chi, alpha_min, beta
) -> None:
    """Check the scalar arguments of :func:`train_instrumented` (before any model work).

    Raises:
        ValueError: naming the first bad argument, its value and the valid range or options.
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate!r}")
    for val, name, options in (
        (loss_mode, "loss_mode", LOSS_MODES),
        (curvature_mode, "curvature_mode", CURVATURE_MODES),
        (optimizer, "optimizer", OPTIMIZERS),
    ):
        if val not in options:
            raise ValueError(f"unknown {name} {val!r}; valid: {', '.join(options)}")
    if not 0.0 <= curvature_ema_rho <= 1.0:
        raise ValueError(f"curvature_ema_rho must be in [0, 1], got {curvature_ema_rho!r}")
    if not chi > 0:
        raise ValueError(f"chi must be > 0, got {chi!r}")
    if not 0.0 <= alpha_min <= 1.0:
        raise ValueError(f"alpha_min must be in [0, 1], got {alpha_min!r}")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")


def train_instrumented(
    model,
    X,
    Y,
    epochs=10,
    batch_size=32,
    learning_rate=0.05,
    shuffle=True,
    loss_mode="half_mse",
    curvature_ema_rho=0.05,
    chi=1.5,
    eps=1e-12,
    use_controller=False,
    compute_analytic_hessian=True,
    reference_A=None,
    precision_dict=None,
    *,
    curvature_mode: str = "cross_batch",
    alpha_min: float = 0.0,
    optimizer: str = "sgd",
    beta: float = 0.9,
    adam_beta1: float = 0.9,
    adam_beta2: float = 0.999,
    adam_eps: float = 1e-8,
    seed: Optional[int] = None,
    progress: bool | None = None,
    steps_per_call: int = 256,
    validation_split: float = 0.0,
    validation_data=None,
    io_type: str = "io_parallel",
    layer_options=None,
    hessian_every: Optional[int] = 0,
    hessian_iters: int = 20,
    hessian_subset=None,
    hessian_tol: float = 1e-3,
    hessian_method: str = "lanczos",
    throttle_curvature: str = "secant",
) -> FitHistory:
    """Train ``model`` (a :class:`kappa.nn.BaseModel`) with full control over each update.

    Args:
        model: BaseModel (its Keras model is trained in place).
        X, Y: arrays (N, d_in) and (N, d_out) (cast to float32, as the reference).
        epochs, batch_size: passes over the data and samples per step (the last batch of
            an epoch may be smaller; ``batch_size >= N`` is full-batch GD).
        learning_rate: base step size η.
        shuffle: new permutation each epoch (seeded by ``seed``).
        loss_mode: ``"half_mse"`` ``‖Ŷ−Y‖²_F/(2B)`` (Hessian ``I ⊗ XᵀX/N`` for one layer),
            ``"keras_mse"`` (mean over all entries = ``2/d_out`` × half_mse) or
            ``"cross_entropy"`` (:func:`cross_entropy_loss`; Y one-hot, the model ending
            in a softmax).
        curvature_ema_rho: ρ of the curvature EMA. chi: target margin χ (stable iff χ < 2
            for a quadratic once C → λ_max). eps: regulariser of the secant and of α.
        use_controller: apply α (else only log ``alpha_would``).
        compute_analytic_hessian: log λ_max, stability margins and spectral radii for the
            one-layer linear model (Hessian from X, [FPT]); NaN for other models.
        reference_A: teacher matrix (d_out, d_in) for ``weight_error_fro`` (one-layer model).
        precision_dict: PrecisionDict / dict / path; None keeps floating point.
        curvature_mode: ``"cross_batch"`` (reference) or ``"same_batch"`` (see module doc).
        alpha_min: floor on α (0.0 = reference behaviour).
        optimizer: ``"sgd"``, ``"momentum"`` (heavy ball, ``beta``) or ``"adam"``
            (``adam_beta1``, ``adam_beta2``, ``adam_eps``); state quantized through the
            ``momentum`` / ``adam_m`` / ``adam_v`` fields.
        seed: seeds shuffling and stochastic rounding (default: ``model.seed`` or 0).
        progress: a tqdm progress bar over steps: True always, False never, None (default) only
            when stderr is a terminal.
        steps_per_call: steps per compiled call (metrics fetched once per call).
        validation_split: fraction in [0, 1) of the samples (the last ones, before any
            shuffling, as Keras does) held out for validation.
        validation_data: ``(X_val, Y_val)`` instead of a split. With either, the history
            gets ``val_loss`` and ``val_accuracy`` (argmax agreement with Y) per epoch,
            computed with the inference forward (the firmware's numbers when quantized).
        io_type, layer_options: the firmware options the model will be converted with
            (table sizes, softmax implementation), so training computes the same tables.
        hessian_every: K >= 1 estimates λ_max of the training loss at θ_t for every step
            t ≡ 0 (mod K), between compiled chunks (:mod:`kappa.sharpness_tracker`; Lanczos on
            exact Hessian-vector products, :mod:`kappa.sharpness`): ``hessian_lambda_max``,
            ``stability_margin_lambda_raw`` (η·λ̂) and ``_ctrl`` (η_eff·λ̂) at those steps,
            NaN elsewhere (replacing the analytic one-layer λ_max and margins). With a
            PrecisionDict it is the Hessian of the *float* model's loss at the stored
            (quantized) weights. 0 or None (default): off; training is bit-identical
            either way. The cost goes to ``history.config["hessian"]`` and the summary.
        hessian_iters: HVPs per estimate at most (M). hessian_subset: None (the training
            set), a sample count or an index array (fixed for the run, drawn with ``seed``).
        hessian_tol: stop an estimate at relative residual ``‖Hy − λy‖/|λ| <= tol``.
        hessian_method: ``"lanczos"`` (largest eigenvalue) or ``"power"`` (largest |λ|).
        throttle_curvature: ``"secant"`` (the proxy above) or ``"hessian"``: the control
            curvature is the latest estimate λ̂, so ``α = clip(χ / (η λ̂), alpha_min, 1)``
            (needs ``hessian_every``; λ̂ < 0 counts as 0, a non-finite estimate keeps the last).

    Returns:
        :class:`kappa.history.FitHistory` with every metric of ``METRIC_NAMES`` per step;
        ``history.config`` records the settings, λ_max and η_max.

    Raises:
        ValueError: bad arguments, shapes that do not match the model, a PrecisionDict
            naming unknown layers, S_RND in a firmware field, a storage type wider than
            float32 can hold, or ``reference_A`` for a model that is not one Dense layer.
    """
    check_args(
        epochs, batch_size, learning_rate, loss_mode, curvature_mode, optimizer, curvature_ema_rho, chi, alpha_min, beta
    )
    check_hessian_args(
        hessian_every, hessian_iters, hessian_subset, hessian_tol, hessian_method, throttle_curvature, len(np.asarray(X))
    )
    kmodel = model.model
    if len(kmodel.inputs) != 1 or len(kmodel.outputs) != 1:
        raise ValueError(f"model {kmodel.name!r} has {len(kmodel.inputs)} inputs and {len(kmodel.outputs)} outputs; "
                         "train_instrumented trains models with one input and one output (graphs with branches and "
                         "merges inside are fine); predict_quantized and hls.convert take several")
    precision = ensure_precision_dict(precision_dict)
    quantized = precision is not None
    fw_key = json.dumps({"io_type": io_type, "layer_options": dict(layer_options or {})}, sort_keys=True)
    plan = TrainingForward(kmodel, precision, strict=False, opts=firmware_options_from_key(fw_key)).plan  # validates

    X = check_training_arrays(X, Y, model_input_shape(kmodel))  # (N, *input) finite, also as float32
    Y = np.asarray(Y, np.float32)
    if Y.ndim == 1:
        Y = Y[:, None]
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    if validation_data is not None and validation_split:
        raise ValueError("give validation_split or validation_data, not both")
    Xv = Yv = None
    if validation_data is not None:
        Xv, Yv = (np.asarray(a, np.float32) for a in validation_data)
        Yv = Yv[:, None] if Yv.ndim == 1 else Yv
        if Xv.shape[1:] != X.shape[1:] or Yv.shape[1:] != Y.shape[1:] or len(Xv) != len(Yv) or len(Xv) < 1:
            raise ValueError(f"validation_data shapes {Xv.shape}, {Yv.shape} do not match X {X.shape}, Y {Y.shape}")
    elif validation_split:
        n_val = int(round(len(X) * float(validation_split)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"validation_split {validation_split} of {len(X)} samples leaves {n_val} for validation "
                f"and {len(X) - n_val} for training; both need at least 1"
            )
        X, Xv, Y, Yv = X[:-n_val], X[-n_val:], Y[:-n_val], Y[-n_val:]
    n = X.shape[0]
    if n < 1 or Y.shape[0] != n:
        raise ValueError(f"X and Y need the same number >= 1 of samples, got {X.shape} and {Y.shape}")
    in_shape = tuple(int(d) for d in kmodel.inputs[0].shape[1:])
    if tuple(X.shape[1:]) != in_shape:
        raise ValueError(f"X has per-sample shape {X.shape[1:]}, the model expects {in_shape}")
    d_out = int(np.prod(kmodel.outputs[0].shape[1:]))
    if int(np.prod(Y.shape[1:])) != d_out:
        raise ValueError(f"Y has per-sample shape {Y.shape[1:]}, the model outputs {d_out} values")

    # ------------------------------------------------------------- storage types
    variables = list(kmodel.trainable_variables)
    for v in variables:
        layer, fld = model._layer_and_field_for_variable(v)
        t = precision.dtype(layer, fld) if quantized else None
        if t is None:
            continue
        if not fits_float32(t):
            raise ValueError(
                f"{layer}.{fld} = {t}: kappa stores trained parameters in float32 variables, which hold "
                f"at most 24 significant bits; use a type with W <= 25 (signed) / W <= 24 (unsigned)"
            )
        if t.stochastic:
            raise ValueError(f"{layer}.{fld} = {t}: storage types cannot use S_RND (use it in 'update')")

    # ------------------------------------------------------------- analytic Hessian
    one_layer = len(plan) == 1 and plan[0].kind == "dense" and plan[0].attrs["fused"] == "linear"
    eigs = None
    if one_layer and compute_analytic_hessian:
        loss_factor = 1.0 if loss_mode == "half_mse" else 2.0 / d_out
        gram = analytic_single_dense_hessian(
            X.reshape(n, -1).astype(np.float64), 1, use_bias=bool(plan[0].layer.use_bias)
        )
        eigs = hessian_metrics_np(gram)["eigenvalues"] * loss_factor
    if reference_A is not None:
        if not one_layer:
            raise ValueError("reference_A (weight_error_fro) needs a one-layer linear model (a single Dense)")
        A = np.asarray(reference_A, np.float64)
        kshape = tuple(int(d) for d in plan[0].layer.kernel.shape)
        if A.shape != (kshape[1], kshape[0]):
            raise ValueError(f"reference_A must have shape (d_out, d_in) = {(kshape[1], kshape[0])}, got {A.shape}")

    runner = get_runner(
        model,
        precision,
        loss_mode=loss_mode,
        curvature_mode=curvature_mode,
        optimizer=optimizer,
        batch_lambda=eigs is not None,
        n=n,
        batch_size=int(batch_size),
        x_shape=tuple(X.shape[1:]),
        y_shape=tuple(Y.shape[1:]),
        d_out=d_out,
        firmware_options=fw_key,
    )
    base_seed = int(seed if seed is not None else (model.seed if model.seed is not None else 0))
    hparams = dict(
        eta=float(learning_rate),
        chi=float(chi),
        rho=float(curvature_ema_rho),
        eps=float(eps),
        alpha_min=float(alpha_min),
        beta=float(beta),
        b1=float(adam_beta1),
        b2=float(adam_beta2),
        aeps=float(adam_eps),
        use_controller=bool(use_controller),
        seed=base_seed,
        use_hessian=throttle_curvature == "hessian",
        lambda_hat=0.0,
    )
    if reference_A is not None:
        hparams["A"] = reference_A
    runner.reset(**hparams)
    # Initial storage quantization: parameters lie on their grids from step 0.
    for v, t in zip(runner.variables, runner.store_t):
        if t is not None:
            v.assign(quantize(np.asarray(v), t).astype(np.float32))

    # ------------------------------------------------------------------- run
    from tqdm import tqdm  # plain text bar (tqdm.auto needs ipywidgets in notebooks)

    spe = runner.steps_per_epoch
    total = int(epochs) * spe
    Xt, Yt = tf.constant(X), tf.constant(Y)

    def perm(e):
        order = np.random.default_rng([base_seed, e]).permutation(n) if shuffle else np.arange(n)
        return order.astype(np.int32)

    chunks: list = []
    done = 0
    per_call = max(1, min(int(steps_per_call), RECORD_BUDGET // runner.vector_bytes,
                          PREPARED_BUDGET // (int(batch_size) * runner.sample_bytes)))
    val_loss, val_acc = [], []
    eval_fwd = (
        TrainingForward(kmodel, precision, strict=False, opts=firmware_options_from_key(fw_key))
        if Xv is not None
        else None
    )

    def evaluate():
        pred = np.asarray(eval_fwd(tf.constant(Xv), training=False).numpy(), np.float64).reshape(len(Xv), -1)
        yv = Yv.reshape(len(Yv), -1).astype(np.float64)
        if loss_mode == "cross_entropy":
            floor = runner_floor
            val_loss.append(float(-np.mean(np.sum(yv * np.log(np.maximum(pred, floor)), axis=1))))
        else:
            val_loss.append(float(np.mean((pred - yv) ** 2) * (1.0 if loss_mode == "keras_mse" else yv.shape[1] / 2)))
        val_acc.append(float(np.mean(np.argmax(pred, 1) == np.argmax(yv, 1))))

    out_t = eval_fwd.plan[-1].types.get("result") if eval_fwd is not None and eval_fwd.plan else None
    runner_floor = max(float(out_t.lsb), 1e-7) if out_t is not None else 1e-7
    # ---- λ_max every K steps, outside the compiled step (kappa.sharpness_tracker)
    tracker = None
    if hessian_every:
        res_t = plan[-1].types.get("result") if plan else None
        tracker = SharpnessTracker(kmodel, X, Y, loss_mode, every=int(hessian_every), iters=int(hessian_iters),
                                   subset=hessian_subset, tol=float(hessian_tol), method=hessian_method,
                                   seed=base_seed, ce_floor=max(float(res_t.lsb), 1e-7) if res_t is not None else 1e-7)
    with tqdm(total=total, disable=None if progress is None else not progress, desc="train_instrumented",
              unit="step") as bar:
        while done < total:
            k = min(per_call, total - done)
            if eval_fwd is not None:
                k = min(k, spe - done % spe)  # stop at the epoch's end to validate
            if tracker is not None:
                if tracker.due(done):
                    tracker.estimate(done)
                    if throttle_curvature == "hessian" and math.isfinite(tracker.last_lambda):
                        runner.hp["lambda_hat"].assign(max(tracker.last_lambda, 0.0))
                k = tracker.cap(done, k)
            e0, e1 = done // spe, (done + k - 1) // spe
            perms = np.stack([perm(e) for e in range(e0, e1 + 1)])
            theta0 = None if runner.theta_recorded else runner.flat_values()
            n_done, out = runner.run_chunk(
                Xt,
                Yt,
                perms,
                tf.constant(done - e0 * spe, tf.int32),
                tf.constant(k, tf.int32),
                tf.constant(done, tf.int64),
            )
            n_done = int(n_done)
            scalars = list(np.asarray(out[0])[:n_done].T)  # one float64 column per STEP_KEYS entry
            vecs = dict(zip(runner.vector_keys, (np.asarray(o)[:n_done] for o in out[1:])))
            diag = runner.metrics(vecs.get("theta"), vecs["new_theta"], vecs["g"], vecs.get("u"), vecs.get("g_raw"),
                                  theta0=theta0, eta_eff=scalars[STEP_KEYS.index("eta_eff")])
            chunks.append(scalars + [diag[k] for k in STEP_METRIC_KEYS])
            done += n_done
            bar.update(n_done)
            if eval_fwd is not None and n_done == k and done % spe == 0:
                evaluate()
            if n_done < k or (n_done and not bool(chunks[-1][STEP_KEYS.index("finite")][-1])):
                break

    # --------------------------------------------------------------- assemble
    cols = {
        k: (np.concatenate([c[j] for c in chunks]) if chunks else np.zeros(0))
        for j, k in enumerate(STEP_KEYS + STEP_METRIC_KEYS)
    }
    steps = len(cols["loss"])
    for k in BOOL_KEYS:
        cols[k] = cols[k].astype(bool)
    cols["step"] = np.arange(steps, dtype=np.int64)
    cols["epoch"] = cols["step"] // spe
    cols["update_angle_rad"] = np.arccos(np.clip(cols["update_cosine"], -1.0, 1.0))
    eta_eff = cols["eta_eff"]
    lam_max = float(np.max(eigs)) if eigs is not None else None
    if eigs is not None:
        cols["hessian_lambda_max"] = np.full(steps, lam_max)
        cols["stability_margin_lambda_raw"] = np.full(steps, float(learning_rate) * lam_max)
        cols["stability_margin_lambda_ctrl"] = eta_eff * lam_max
        cols["spectral_radius_raw"] = update_map_radius(np.full(steps, float(learning_rate)), eigs, optimizer, beta)
        cols["spectral_radius_ctrl"] = update_map_radius(eta_eff, eigs, optimizer, beta)
    else:
        for k in (
            "hessian_lambda_max",
            "stability_margin_lambda_raw",
            "stability_margin_lambda_ctrl",
            "spectral_radius_raw",
            "spectral_radius_ctrl",
        ):
            cols[k] = np.full(steps, np.nan)
    if tracker is not None:
        cols.update(tracker.columns(steps, float(learning_rate), eta_eff))
    cols["divergence"] = np.logical_or.accumulate(~cols["finite"]) if steps else np.zeros(0, bool)
    config = {
        "model": model.name,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "n_samples": int(n),
        "steps_per_epoch": spe,
        "learning_rate": float(learning_rate),
        "shuffle": bool(shuffle),
        "loss_mode": loss_mode,
        "curvature_ema_rho": float(curvature_ema_rho),
        "chi": float(chi),
        "eps": float(eps),
        "use_controller": bool(use_controller),
        "curvature_mode": curvature_mode,
        "alpha_min": float(alpha_min),
        "optimizer": optimizer,
        "beta": float(beta),
        "adam_beta1": float(adam_beta1),
        "adam_beta2": float(adam_beta2),
        "adam_eps": float(adam_eps),
        "seed": base_seed,
        "quantized": quantized,
        "precision": precision.to_dict() if quantized else None,
        "lambda_max": lam_max,
        "eta_max": (2.0 / lam_max) if lam_max else None,
        "validation_samples": 0 if Xv is None else int(len(Xv)),
        "throttle_curvature": throttle_curvature,
        "hessian": tracker.cost() if tracker is not None else None,
    }
    return FitHistory(
        **{k: np.asarray(cols[k]) for k in METRIC_NAMES},
        config=config,
        val_loss=np.asarray(val_loss, np.float64),
        val_accuracy=np.asarray(val_acc, np.float64),
    )
