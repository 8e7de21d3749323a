"""The compiled training step of ``train_instrumented`` and its per-model cache.

:class:`StepRunner` builds, for one model and one static configuration (loss, curvature
mode, optimizer, batch size, shapes, firmware options), the ``tf.function`` that runs up
to ``steps_per_call`` steps in a ``tf.while_loop`` and records each step's scalars
(:data:`STEP_KEYS`) and vectors (:data:`VECTOR_KEYS`); :func:`get_runner` keeps the last
few runners on the model so a new run with other hyper-parameters does not retrace. The
algorithm of one step is described in :mod:`kappa.training`.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import tensorflow as tf

from .layers import FirmwareOptions
from .quantization import quantize_tensor
from .step_metrics import StepMetrics
from .training_forward import TrainingForward
from .utils import half_mse_batch_loss

F64 = tf.float64

__all__ = ["STEP_KEYS", "BOOL_KEYS", "VECTOR_KEYS", "cross_entropy_loss", "FlatView", "StepRunner",
           "firmware_options_from_key", "get_runner"]

# scalars produced inside the compiled step; the vectors it records (θ_t, θ_{t+1}, g, u and,
# with a PrecisionDict, g_raw) become the diagnostics of kappa.step_metrics after each call;
# the rest is filled in numpy at the end
STEP_KEYS = (
    "loss", "rmse", "curvature_proxy", "curvature_ema", "curvature_skipped", "alpha", "alpha_would",
    "eta_eff", "hessian_lambda_max_batch", "finite",
)
BOOL_KEYS = ("curvature_skipped", "finite")
VECTOR_KEYS = ("theta", "new_theta", "g", "u", "g_raw")
#: Record θ_t and u even where the diagnostics rebuild them from θ_{t+1}, θ_0 and η_eff g
#: (:func:`kappa.metric_kernels.row_stats`; tests compare both).
RECORD_ALL_VECTORS = False


def _nan():
    return tf.constant(math.nan, F64)


def cross_entropy_loss(y, p, floor: float = 1e-7):
    """Mean categorical cross-entropy ``-mean_b sum_k y_bk log(max(p_bk, floor))``.

    Args:
        y: (B, K) one-hot (or probability) targets. p: (B, K) probabilities (a softmax
            output: with a table softmax, the firmware's values forward and the float
            softmax's derivative backward).
        floor: smallest probability inside the log (the output type's LSB in training),
            so a firmware probability of exactly 0 gives a finite loss and gradient.

    Returns:
        scalar tensor (nats).
    """
    y = tf.cast(tf.reshape(y, tf.shape(p)), p.dtype)
    logp = tf.math.log(tf.maximum(p, tf.cast(floor, p.dtype)))
    return -tf.reduce_mean(tf.reduce_sum(y * logp, axis=-1))


class FlatView:
    """Flat float64 view of a list of variables: flatten/unflatten and grouped quantizers
    (one op chain for all variables sharing a type instead of one per variable: the
    compiled step is dominated by per-op overhead)."""

    def __init__(self, variables):
        self.shapes = [tuple(int(d) for d in v.shape) for v in variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)

    def flatten(self, ts):
        return tf.concat([tf.reshape(tf.cast(t, F64), [-1]) for t in ts], axis=0)

    def unflatten(self, v):
        parts = tf.split(v, self.sizes) if len(self.sizes) > 1 else [v]
        return [tf.reshape(p, s) for p, s in zip(parts, self.shapes)]

    def _groups(self, types):
        groups: dict = {}
        for i, t in enumerate(types):
            if t is not None:
                groups.setdefault(t, []).append(i)
        return groups

    def _index(self, var_ids):
        return np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in var_ids]).astype(np.int32)

    def quantizer(self, types, purpose, seed_for):
        """Return ``q(flat_or_list, step) -> flat`` quantizing each variable's slice to its
        type (None: unchanged); variables sharing a type are quantized in one call."""
        groups = self._groups(types)
        if not groups:
            return lambda v, step: self.flatten(v) if isinstance(v, (list, tuple)) else v
        plan = []
        for k, (t, ids) in enumerate(groups.items()):
            plan.append((t, None if len(ids) == len(types) else tf.constant(self._index(ids)), 8 * k + purpose))
        untouched = [i for i, t in enumerate(types) if t is None]
        rest = tf.constant(self._index(untouched)) if untouched else None

        def q(v, step):
            v = self.flatten(v) if isinstance(v, (list, tuple)) else v
            if plan[0][1] is None:  # one type for everything
                t, _, slot = plan[0]
                return quantize_tensor(v, t, ste=False, seed=seed_for(step, slot) if t.stochastic else None)
            idx, data = [], []
            for t, ix, slot in plan:
                idx.append(ix)
                data.append(
                    quantize_tensor(tf.gather(v, ix), t, ste=False, seed=seed_for(step, slot) if t.stochastic else None)
                )
            if rest is not None:
                idx.append(rest)
                data.append(tf.gather(v, rest))
            return tf.dynamic_stitch(idx, data)

        return q


class StepRunner:
    """The compiled training machinery for one model and one static configuration.

    Built once and cached on the model (see :func:`get_runner`): learning rate, χ, ρ,
    eps, α floor, controller switch, optimizer constants and seed are ``tf.Variable``
    hyper-parameters, so new values do not retrace (the teacher matrix lives in
    :class:`kappa.step_metrics.StepMetrics`). ``reset`` clears the
    optimizer and secant state before a run.
    """

    def __init__(
        self,
        model,
        precision,
        *,
        loss_mode,
        curvature_mode,
        optimizer,
        batch_lambda,
        n,
        batch_size,
        x_shape,
        y_shape,
        d_out,
        firmware_options="",
    ):
        kmodel = model.model
        quantized = precision is not None
        self.quantized = quantized
        cdt = F64 if quantized else tf.float32
        # Stored parameters lie on their weight/bias grids: the forward skips those quantizers.
        fwd = TrainingForward(
            kmodel, precision, strict=False, params_on_grid=quantized, opts=firmware_options_from_key(firmware_options)
        )
        plan = fwd.plan
        variables = list(kmodel.trainable_variables)
        self.variables = variables
        self.fwd = fwd
        owners = [model._layer_and_field_for_variable(v) for v in variables]
        nv = len(variables)

        def ty(i, fld):
            return precision.dtype(owners[i][0], fld) if quantized else None

        store_t = [ty(i, owners[i][1]) for i in range(nv)]
        grad_t = [ty(i, "gradient") for i in range(nv)]
        upd_t = [ty(i, "update") for i in range(nv)]
        self.store_t = store_t

        flat = FlatView(variables)
        P = flat.size
        zeros = lambda: tf.Variable(tf.zeros([P], F64), trainable=False)  # noqa: E731
        prev_theta, prev_grad = zeros(), zeros()
        have_prev = tf.Variable(False, trainable=False)
        scalar = lambda v=0.0: tf.Variable(tf.constant(v, F64), trainable=False)  # noqa: E731
        ema, last_c, adam_t = scalar(), scalar(), scalar()
        mom = zeros() if optimizer == "momentum" else None
        adam_m = zeros() if optimizer == "adam" else None
        adam_v = zeros() if optimizer == "adam" else None
        kernels = [s_.var_index["kernel"] for s_ in plan if s_.kind in ("dense", "conv")]
        self._state = [prev_theta, prev_grad, ema, last_c, adam_t] + [v for v in (mom, adam_m, adam_v) if v is not None]
        self._have_prev = have_prev
        self.metrics = StepMetrics(
            [tuple(int(d) for d in v.shape) for v in variables],
            kernels,
            [t if owners[i][1] in ("weight", "bias") else None for i, t in enumerate(store_t)],
            grad_t,
            upd_t,
            quantized,
        )
        # Recorded per step: only what the diagnostics cannot rebuild exactly afterwards.
        # θ_{t+1} is the next step's θ when every variable is stored on a type (its float32
        # variable then holds θ_{t+1} exactly) or in float (θ_{t+1} is read back from the
        # variables); SGD's u is -η_eff g.
        self.theta_recorded = RECORD_ALL_VECTORS or (quantized and any(t is None for t in store_t))
        self.u_recorded = RECORD_ALL_VECTORS or optimizer != "sgd"
        self.vector_keys = tuple(k for k in VECTOR_KEYS if (k != "theta" or self.theta_recorded)
                                 and (k != "u" or self.u_recorded) and (k != "g_raw" or quantized))
        self.vector_bytes = 8 * P * len(self.vector_keys)  # recorded per step
        # a call holds its samples' data side (TrainingForward.prepare), this many bytes each
        self.sample_bytes = fwd.prepare(tf.zeros([1, *x_shape], tf.float32)).bytes_per_sample()

        hp = {k: scalar() for k in ("eta", "chi", "rho", "eps", "alpha_min", "beta", "b1", "b2", "aeps")}
        hp["use_controller"] = tf.Variable(False, trainable=False)
        # throttle_curvature="hessian": the control curvature is the latest λ_max estimate
        hp["use_hessian"] = tf.Variable(False, trainable=False)
        hp["lambda_hat"] = scalar()
        hp["seed"] = tf.Variable(tf.constant(0, tf.int64), trainable=False)
        self.hp = hp
        self._reset_fn = None

        def seed_for(step, slot):
            return tf.stack([hp["seed"], step * 1024 + slot])

        # slot = 8 * type_group + purpose; purposes: 0 gradient, 1 gradient at θ_{t-1},
        # 2 update, 3 storage, 4 momentum, 5 adam_m, 6 adam_v
        q_grad = flat.quantizer(grad_t, 0, seed_for)
        q_grad_prev = flat.quantizer(grad_t, 1, seed_for)
        q_upd = flat.quantizer(upd_t, 2, seed_for)
        q_store = flat.quantizer(store_t, 3, seed_for)
        q_mom = flat.quantizer([ty(i, "momentum") for i in range(nv)], 4, seed_for)
        q_am = flat.quantizer([ty(i, "adam_m") for i in range(nv)], 5, seed_for)
        q_av = flat.quantizer([ty(i, "adam_v") for i in range(nv)], 6, seed_for)
        lam_factor = 1.0 if loss_mode == "half_mse" else 2.0 / d_out
        bias_column = bool(plan[0].layer.use_bias) if batch_lambda else False

        out_t = plan[-1].types.get("result") if plan else None
        ce_floor = max(float(out_t.lsb), 1e-7) if out_t is not None else 1e-7

        def loss_fn(y, pred):
            if loss_mode == "half_mse":
                return half_mse_batch_loss(y, pred)
            if loss_mode == "cross_entropy":
                return cross_entropy_loss(y, pred, ce_floor)
            y = tf.cast(tf.reshape(y, tf.shape(pred)), pred.dtype)
            return tf.reduce_mean(tf.square(pred - y))

        def grads_at(params, x, y, update_stats):
            with tf.GradientTape() as tape:
                tape.watch(params)
                pred = fwd(x, params=params, training=True, update_stats=update_stats)
                loss = loss_fn(tf.cast(y, cdt), pred)
            g = tape.gradient(loss, params)
            g = [tf.zeros_like(p) if gi is None else gi for gi, p in zip(g, params)]
            return loss, pred, flat.flatten(g)

        def step_fn(x, y, step):
            eta, eps = hp["eta"], hp["eps"]
            params = [tf.cast(v, cdt) for v in variables]
            theta = flat.flatten(params)  # θ_t, float64 (P,)
            loss, pred, g_raw = grads_at(params, x, y, True)
            g = q_grad(g_raw, step)
            loss64 = tf.cast(loss, F64)

            # ---- curvature secant
            dtheta = theta - prev_theta
            if curvature_mode == "same_batch":
                _, _, gp = grads_at(flat.unflatten(tf.cast(prev_theta, cdt)), x, y, False)
                g_prev = q_grad_prev(gp, step)
            else:
                g_prev = prev_grad
            ndg, ndth = tf.norm(g - g_prev), tf.norm(dtheta)
            valid = have_prev & (ndth > 0) & tf.math.is_finite(ndg) & tf.math.is_finite(ndth)
            c_raw = tf.where(valid, ndg / (ndth + eps), 0.0)
            ema_new = tf.where(valid, (1.0 - hp["rho"]) * ema + hp["rho"] * c_raw, ema)
            c_last = tf.where(valid, c_raw, last_c)  # skipped secant: the last measurement holds
            c_ctrl = tf.maximum(c_last, ema_new)
            c_ctrl = tf.where(hp["use_hessian"], hp["lambda_hat"], c_ctrl)
            alpha_would = tf.clip_by_value(hp["chi"] / (eta * (c_ctrl + eps)), hp["alpha_min"], 1.0)
            alpha = tf.where(hp["use_controller"], alpha_would, 1.0)
            eta_eff = alpha * eta
            ok = tf.math.is_finite(loss64) & tf.reduce_all(tf.math.is_finite(g))

            # ---- optimizer direction
            if optimizer == "sgd":
                direction = g
            elif optimizer == "momentum":
                direction = q_mom(hp["beta"] * mom + g, step)
                mom.assign(tf.where(ok, direction, mom))
            else:
                b1, b2 = hp["b1"], hp["b2"]
                t_new = adam_t + 1.0
                nm = q_am(b1 * adam_m + (1.0 - b1) * g, step)
                nvv = q_av(b2 * adam_v + (1.0 - b2) * tf.square(g), step)
                adam_t.assign(tf.where(ok, t_new, adam_t))
                adam_m.assign(tf.where(ok, nm, adam_m))
                adam_v.assign(tf.where(ok, nvv, adam_v))
                mhat = nm / (1.0 - tf.pow(b1, t_new))
                vhat = nvv / (1.0 - tf.pow(b2, t_new))
                direction = mhat / (tf.sqrt(tf.maximum(vhat, 0.0)) + hp["aeps"])
            u = -eta_eff * direction  # intended update (P,)

            # ---- apply
            if quantized:
                new = tf.where(ok, q_store(theta + q_upd(u, step), step), theta)
                for var, part in zip(variables, flat.unflatten(new)):
                    var.assign(tf.cast(part, var.dtype))
                # every stored value fits its float32 variable exactly (checked at setup)
                new_theta = new
            else:  # the reference: var.assign_sub(eta_eff * grad)
                safe_u = tf.where(ok, u, tf.zeros_like(u))
                for var, part in zip(variables, flat.unflatten(safe_u)):
                    var.assign_add(tf.cast(part, var.dtype))
                new_theta = flat.flatten([tf.cast(v, F64) for v in variables])
            finite = ok & tf.reduce_all(tf.math.is_finite(new_theta))

            # ---- state for the next secant
            prev_theta.assign(theta)
            if curvature_mode == "cross_batch":
                prev_grad.assign(g)
            have_prev.assign(True)
            ema.assign(ema_new)
            last_c.assign(c_last)

            # ---- the step's scalars; the observing diagnostics come from the vectors
            y64 = tf.cast(tf.reshape(y, tf.shape(pred)), F64)
            if batch_lambda:
                raw = x.raw[0]
                xb = tf.reshape(tf.cast(raw, F64), [tf.shape(raw)[0], -1])
                if bias_column:
                    xb = tf.concat([xb, tf.ones([tf.shape(xb)[0], 1], F64)], axis=1)
                gram_b = tf.matmul(xb, xb, transpose_a=True) / tf.cast(tf.shape(xb)[0], F64)
                lam_b = tf.reduce_max(tf.linalg.eigvalsh(gram_b)) * lam_factor
            else:
                lam_b = _nan()
            out = {
                "loss": loss64,
                "rmse": tf.sqrt(tf.reduce_mean(tf.square(tf.cast(pred, F64) - y64))),
                "curvature_proxy": tf.where(valid, c_raw, _nan()),
                "curvature_ema": ema_new,
                "curvature_skipped": tf.logical_not(valid),
                "alpha": alpha,
                "alpha_would": alpha_would,
                "eta_eff": eta_eff,
                "hessian_lambda_max_batch": lam_b,
                "finite": finite,
            }
            vectors = {"theta": theta, "new_theta": new_theta, "g": g, "u": u, "g_raw": g_raw}
            return out, [vectors[k] for k in vector_keys]

        bs = int(batch_size)
        spe = int(math.ceil(n / bs))
        self.steps_per_epoch = spe

        vector_keys = self.vector_keys

        @tf.function(
            input_signature=[
                tf.TensorSpec([None] + list(x_shape), tf.float32),
                tf.TensorSpec([None] + list(y_shape), tf.float32),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int64),
            ]
        )
        def run_chunk(Xa, Ya, perms, first_batch, n_steps, step0):
            # one (n_steps, len(STEP_KEYS)) float64 record of the scalars (BOOL_KEYS as 0/1: one
            # write per step instead of one per key) and one (n_steps, P) per recorded vector
            tas = [tf.TensorArray(F64, size=n_steps, element_shape=[len(STEP_KEYS)])]
            tas += [tf.TensorArray(F64, size=n_steps, element_shape=[P]) for _ in vector_keys]

            # The call's batches are consecutive and never cross an epoch, so their samples are
            # one stretch of the epochs' orders laid end to end: gather it once, and compute the
            # forward's data side (TrainingForward.prepare) for all of it before the loop.
            def position(b):  # where batch b (counted from epoch e0) starts in the flat orders
                return (b // spe) * n + (b % spe) * bs

            last = first_batch + n_steps - 1
            lo = position(first_batch)
            hi = (last // spe) * n + tf.minimum((last % spe) * bs + bs, n)
            rows = tf.reshape(perms, [-1])[lo:hi]
            data = dataclasses.replace(fwd.prepare(tf.gather(Xa, rows)), extra=[tf.gather(Ya, rows)])

            def cond(i, stop, tas):
                return (i < n_steps) & tf.logical_not(stop)

            def body(i, stop, tas):
                b = first_batch + i
                start = position(b) - lo
                size = tf.minimum(bs, n - (b % spe) * bs)
                batch = data.rows(start, size)
                m, vecs = step_fn(batch, batch.extra[0], step0 + tf.cast(i, tf.int64))
                vals = [tf.stack([tf.cast(m[k], F64) for k in STEP_KEYS])] + vecs
                tas = [ta.write(i, v) for ta, v in zip(tas, vals)]
                return i + 1, tf.logical_not(m["finite"]), tas

            i, _, tas = tf.while_loop(cond, body, [tf.constant(0), tf.constant(False), tas], parallel_iterations=1)
            return i, [ta.stack() for ta in tas]

        # Each runner traces once (fixed input signature); runners built for other models or
        # configurations share run_chunk's code object, which TF's frequent-retracing detector
        # would misreport as retracing.
        run_chunk._omit_frequent_tracing_warning = True
        self.run_chunk = run_chunk

    def flat_values(self) -> np.ndarray:
        """θ now: the trainable variables flattened in order, float64 (P,) (the compiled
        step's ``flat.flatten`` of the float32 variables, the same values)."""
        return np.concatenate([np.asarray(v.numpy(), np.float64).reshape(-1) for v in self.variables])

    def reset(self, **hparams):
        """Zero the secant/optimizer state and set the hyper-parameters for a new run (one
        compiled call instead of some twenty eager assignments).

        Args:
            hparams: values for :attr:`hp` by name (any subset), and ``A``: the teacher
                matrix of the diagnostics (or absent).

        Raises:
            ValueError: a name that is not a hyper-parameter (lists the valid ones).
        """
        unknown = sorted(set(hparams) - set(self.hp) - {"A"})
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) {unknown}; valid: {sorted(self.hp)} and 'A'")
        self.metrics.reset(hparams.get("A"))
        names = tuple(sorted(k for k in hparams if k != "A"))
        values = tuple(tf.constant(hparams[k], self.hp[k].dtype) for k in names)
        if self._reset_fn is None:
            @tf.function
            def reset_fn(names, values):  # retraced only for another set of names
                for v in self._state:
                    v.assign(tf.zeros_like(v))
                self._have_prev.assign(False)
                for k, val in zip(names, values):
                    self.hp[k].assign(val)

            self._reset_fn = reset_fn
        self._reset_fn(names, values)


RUNNER_CACHE_ATTR = "_kappa_runner_cache"
RUNNER_CACHE_SIZE = 4


def firmware_options_from_key(key: str) -> FirmwareOptions:
    """The :class:`FirmwareOptions` of a JSON key (``""``: the defaults), as the runner cache keys them."""
    d = json.loads(key) if key else {}
    return FirmwareOptions(**d)


def get_runner(model, precision, **static) -> StepRunner:
    """The cached :class:`StepRunner` of ``model`` for this static configuration (built and
    traced once; hyper-parameters change without retracing)."""
    kmodel = model.model
    key = (
        id(kmodel),
        tuple(id(v) for v in kmodel.trainable_variables),
        json.dumps(precision.to_dict(), sort_keys=True) if precision is not None else None,
        tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in static.items())),
    )
    cache = model.__dict__.setdefault(RUNNER_CACHE_ATTR, {})
    if key not in cache:
        while len(cache) >= RUNNER_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = StepRunner(model, precision, **static)
    return cache[key]
