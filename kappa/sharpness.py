"""Sharpness: the top Hessian eigenvalue λ_max of a model's training loss, by Lanczos or
power iteration on exact Hessian-vector products.

Hessian-vector products (HVPs) ``H v = ∇(∇L(θ)·v)`` come from TensorFlow's double
backward (two nested ``tf.GradientTape``s: reverse-over-reverse), exact up to rounding
(Pearlmutter 1994, "Fast Exact Multiplication by the Hessian"). One HVP costs about four
gradient evaluations' worth of arithmetic and never forms H.

* **Lanczos** (default): ``M`` steps build an orthonormal Krylov basis Q (full
  re-orthogonalisation, twice) and the tridiagonal ``T = QᵀHQ``; the estimate is T's largest
  eigenvalue θ (a Ritz value, the *largest algebraic* eigenvalue of H in the limit) and
  its Ritz vector y. The residual ``‖Hy − θy‖ = |β_M s_M|`` comes for free from T
  (Golub & Van Loan, *Matrix Computations*, §10.1); by the Bauer–Fike/Weyl bound some
  eigenvalue of H lies within that residual of θ. It stops once the relative residual
  ``‖Hy − θy‖ / |θ|`` is at most ``tol``.
* **Power iteration**: ``v ← Hv / ‖Hv‖`` with the Rayleigh quotient ``vᵀHv``; it converges
  to the eigenvalue of largest *magnitude* (a large negative curvature would win) at rate
  ``|λ₂/λ₁|`` per HVP. Same stopping rule on the relative residual.

A warm start (the previous Ritz vector, ``v0``) makes the estimates along a training run
cheap: the top eigenvector moves slowly.

The loss is the one ``train_instrumented`` minimises (:data:`LOSS_MODES`, same scaling):
``half_mse`` ``‖Ŷ − Y‖²_F / (2N)``, ``keras_mse`` (mean over all entries, ``2/d_out`` ×
half_mse) and ``cross_entropy`` (``−mean_b Σ_k y_bk log max(p_bk, floor)``), over the
training set or a fixed seeded subset of it, batched in chunks of ``batch_size`` samples
(the loss is a mean over samples, so ``H = Σ_c (n_c/N) H_c`` exactly). It is the loss of
the **float** model: on the fixed-point path, the float network evaluated at the stored
(quantized) weights, not the quantized forward (whose straight-through derivative is
not a Hessian). By default the model is cloned in float64 (every layer's dtype set to
float64; the clone's weights are copied from the model at each :meth:`HessianOperator.sync`);
BatchNormalization uses its moving statistics (``training=False``).

Edge of stability: with full-batch gradient descent of step η, λ_max rises to about
2/η and hovers there (Cohen et al., "Gradient Descent on Neural Networks Typically Occurs
at the Edge of Stability", ICLR 2021); η·λ_max against 2 is the stability margin.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import tensorflow as tf

from .utils import half_mse_batch_loss

#: The training losses (the same names and scaling as :data:`kappa.training.LOSS_MODES`).
LOSS_MODES = ("half_mse", "keras_mse", "cross_entropy")
METHODS = ("lanczos", "power")
DTYPES = ("float64", "float32")
#: Samples per HVP chunk (bounds the activations held for the double backward).
DEFAULT_BATCH = 2048


@dataclass
class SharpnessEstimate:
    """One λ_max estimate.

    Fields:
        lambda_max: the estimate (the loss's units per parameter unit squared; NaN if the
            weights or an HVP were not finite).
        iterations: Lanczos steps / power iterations used (= HVPs of the eigen-solver).
        residual: ``‖Hy − λy‖ / |λ|`` of the returned vector y (relative residual).
        rel_change: ``|λ_k − λ_{k−1}| / |λ_k|`` between the last two iterations (NaN after one).
        converged: ``residual <= tol``.
        seconds: wall time of the estimate (weight copy included).
        hvps: Hessian-vector products computed (each over the whole data set / subset).
        vector: float64 (P,) unit Ritz vector (pass as ``v0`` to warm-start the next estimate).
        n_samples: samples the loss was taken over. method: ``"lanczos"`` or ``"power"``.
    """

    lambda_max: float
    iterations: int
    residual: float
    rel_change: float
    converged: bool
    seconds: float
    hvps: int
    vector: np.ndarray = field(repr=False)
    n_samples: int = 0
    method: str = "lanczos"


def check_loss_mode(loss_mode: str) -> None:
    """Raises ValueError naming ``loss_mode`` and the valid ones if it is unknown."""
    if loss_mode not in LOSS_MODES:
        raise ValueError(f"unknown loss_mode {loss_mode!r}; valid: {', '.join(LOSS_MODES)}")


def training_loss(loss_mode: str, y, pred, ce_floor: float = 1e-7):
    """The training loss of ``train_instrumented`` on one batch (scalar tensor in ``pred``'s dtype).

    Args:
        loss_mode: one of :data:`LOSS_MODES`. y: targets (B, d_out). pred: outputs (B, d_out).
        ce_floor: smallest probability inside the log (cross_entropy).

    Raises:
        ValueError: unknown ``loss_mode``.
    """
    check_loss_mode(loss_mode)
    if loss_mode == "half_mse":
        return half_mse_batch_loss(tf.reshape(tf.cast(y, pred.dtype), tf.shape(pred)), pred)
    y = tf.cast(tf.reshape(y, tf.shape(pred)), pred.dtype)
    if loss_mode == "keras_mse":
        return tf.reduce_mean(tf.square(pred - y))
    logp = tf.math.log(tf.maximum(pred, tf.cast(ce_floor, pred.dtype)))
    return -tf.reduce_mean(tf.reduce_sum(y * logp, axis=-1))


def select_subset(n: int, subset=None, seed: int = 0) -> np.ndarray:
    """Indices of the samples the loss is taken over.

    Args:
        n: number of samples. subset: None (all), an int k in [1, n] (k distinct indices
            drawn with ``np.random.default_rng(seed)``, sorted) or an index array.

    Returns:
        int64 array (k,), sorted for an int.

    Raises:
        ValueError: k out of range, indices out of range or repeated, an empty array.
    """
    if subset is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(subset, (bool, np.bool_)):
        raise ValueError(f"hessian subset must be None, an int in [1, {n}] or an index array, got {subset!r}")
    if isinstance(subset, (int, np.integer)):
        k = int(subset)
        if not 1 <= k <= n:
            raise ValueError(f"hessian subset size must be in [1, {n}] (the number of samples), got {k}")
        return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)).astype(np.int64)
    idx = np.asarray(subset)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"hessian subset must be None, an int in [1, {n}] or a 1-D non-empty integer index "
                         f"array, got {subset!r}")
    if idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != idx.size:
        raise ValueError(f"hessian subset indices must be distinct and in [0, {n}), got min {idx.min()}, "
                         f"max {idx.max()}, {idx.size - len(np.unique(idx))} repeated")
    return idx.astype(np.int64)


def _clone(keras_model, dtype: str):
    """A copy of ``keras_model`` whose layers compute in ``dtype`` (the model itself for float32)."""
    if dtype == "float32":
        return keras_model

    def clone_fn(layer):
        cfg = layer.get_config()
        cfg["dtype"] = dtype
        return layer.__class__.from_config(cfg)

    try:
        clone = tf.keras.models.clone_model(keras_model, clone_function=clone_fn)
    except Exception as exc:  # subclassed models cannot be cloned
        raise ValueError(f"cannot clone model {keras_model.name!r} in {dtype} ({exc}); use dtype='float32'") from exc
    a = [tuple(v.shape) for v in keras_model.trainable_variables]
    b = [tuple(v.shape) for v in clone.trainable_variables]
    if a != b:
        raise ValueError(f"the {dtype} clone of {keras_model.name!r} has trainable variables {b}, the model {a}; "
                         "use dtype='float32'")
    return clone


class HessianOperator:
    """``v ↦ H v`` for the loss ``L(θ) = Σ_c w_c · chunk_loss(x_c, y_c)`` at the current values
    of ``variables`` (flat float64 vectors in, out; the order of ``variables``).

    Build it with :meth:`for_model` (a Keras model, data and a loss mode) or
    :meth:`from_closure` (variables and a zero-argument loss closure).

    Attributes: ``size`` P (parameters), ``hvps`` (products computed so far), ``n_samples``.
    """

    def __init__(self, variables: Sequence[tf.Variable], chunk_loss: Callable, chunks: list, n_samples: int = 0,
                 sync: Optional[Callable[[], None]] = None):
        self.variables = list(variables)
        if not self.variables:
            raise ValueError("HessianOperator needs at least one trainable variable")
        self.shapes = [tuple(int(d) for d in v.shape) for v in self.variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.dtype = self.variables[0].dtype
        self.chunks = chunks
        self.n_samples = int(n_samples)
        self.hvps = 0
        self._sync = sync
        variables = self.variables
        zero = tf.UnconnectedGradients.ZERO

        @tf.function(reduce_retracing=True)
        def hvp_chunk(x, y, vs):
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    loss = chunk_loss(x, y)
                g = inner.gradient(loss, variables, unconnected_gradients=zero)
                gv = tf.add_n([tf.reduce_sum(gi * vi) for gi, vi in zip(g, vs)])
            hv = outer.gradient(gv, variables, unconnected_gradients=zero)
            return loss, tf.concat([tf.reshape(h, [-1]) for h in hv], axis=0)

        self._hvp_chunk = hvp_chunk

    # ------------------------------------------------------------------ builders
    @classmethod
    def for_model(cls, keras_model, X, Y, loss_mode: str = "half_mse", *, subset=None, seed: int = 0,
                  batch_size: int = DEFAULT_BATCH, dtype: str = "float64", ce_floor: float = 1e-7) -> "HessianOperator":
        """The Hessian of the training loss of ``keras_model`` (float forward, ``training=False``).

        Args:
            keras_model: a built Keras model. X: (N, *input_shape). Y: (N, d_out) (or (N,)).
            loss_mode: one of :data:`LOSS_MODES`. subset: see :func:`select_subset`
                (fixed for the operator's life). seed: draws the subset.
            batch_size: samples per HVP chunk (memory bound). dtype: ``"float64"`` (a clone
                of the model in float64; the weights are copied at :meth:`sync`) or
                ``"float32"`` (the model's own variables). ce_floor: see :func:`training_loss`.

        Raises:
            ValueError: unknown loss_mode/dtype, bad subset or batch_size, X/Y sample counts
                that differ, a model that cannot be cloned in float64.
        """
        check_loss_mode(loss_mode)
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        X = np.asarray(X)
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = Y[:, None]
        if len(X) != len(Y) or len(X) < 1:
            raise ValueError(f"X and Y need the same number >= 1 of samples, got {X.shape} and {Y.shape}")
        idx = select_subset(len(X), subset, seed)
        clone = _clone(keras_model, dtype)
        np_dt = np.float64 if dtype == "float64" else np.float32
        xs, ys = X[idx].astype(np_dt), Y[idx].astype(np_dt)
        k = len(idx)
        bs = int(batch_size)
        chunks = [(tf.constant(xs[s:s + bs]), tf.constant(ys[s:s + bs]), min(bs, k - s) / k) for s in range(0, k, bs)]

        def chunk_loss(x, y):
            return training_loss(loss_mode, y, clone(x, training=False), ce_floor)

        def sync():
            if clone is not keras_model:
                for c, o in zip(clone.weights, keras_model.weights):
                    c.assign(tf.cast(o, c.dtype))

        op = cls(clone.trainable_variables, chunk_loss, chunks, n_samples=k, sync=sync)
        op.sync()
        return op

    @classmethod
    def from_closure(cls, variables: Sequence[tf.Variable], loss_fn: Callable[[], tf.Tensor]) -> "HessianOperator":
        """The Hessian of ``loss_fn()`` (a scalar, differentiable in ``variables``) with respect
        to ``variables``; the closure holds its own data (batch it yourself for memory)."""
        return cls(variables, lambda x, y: loss_fn(), [(None, None, 1.0)])

    # ------------------------------------------------------------------ use
    def sync(self) -> None:
        """Copy the model's current weights into the operator's variables (float64 clone)."""
        if self._sync is not None:
            self._sync()

    def flat_weights(self) -> np.ndarray:
        """float64 (P,) of the operator's variables."""
        return np.concatenate([np.asarray(v.numpy(), np.float64).ravel() for v in self.variables])

    def _split(self, v: np.ndarray) -> list:
        parts = np.split(np.asarray(v, np.float64), np.cumsum(self.sizes)[:-1])
        return [tf.constant(p.reshape(s), self.dtype) for p, s in zip(parts, self.shapes)]

    def loss_and_hvp(self, v: np.ndarray) -> tuple[float, np.ndarray]:
        """``(L(θ), H v)``: the loss (float) and float64 (P,) product; ``v`` float (P,).

        Raises:
            ValueError: ``v`` of the wrong shape.
        """
        v = np.asarray(v, np.float64)
        if v.shape != (self.size,):
            raise ValueError(f"v must have shape ({self.size},), got {v.shape}")
        vs = self._split(v)
        total, out = 0.0, np.zeros(self.size)
        for x, y, w in self.chunks:
            loss, hv = self._hvp_chunk(x, y, vs)
            total += w * float(loss)
            out += w * np.asarray(hv.numpy(), np.float64)
        self.hvps += 1
        return total, out

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """float64 (P,) ``H v``."""
        return self.loss_and_hvp(v)[1]

    def dense(self) -> np.ndarray:
        """The dense Hessian (P, P) column by column (P HVPs; for small models and tests)."""
        return np.stack([self(e) for e in np.eye(self.size)], axis=1)


def _check_solver_args(iters, tol, method, v0, size):
    if isinstance(iters, bool) or int(iters) != iters or iters < 1:
        raise ValueError(f"iters must be an integer >= 1, got {iters!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if v0 is not None:
        v0 = np.asarray(v0, np.float64)
        if v0.shape != (size,):
            raise ValueError(f"v0 must have shape ({size},) (one entry per trainable parameter), got {v0.shape}")
        if not (np.all(np.isfinite(v0)) and np.linalg.norm(v0) > 0):
            raise ValueError("v0 must be finite and nonzero")


def _lanczos(matvec, q, iters, tol):
    """Top Ritz pair of M ≤ iters Lanczos steps with full re-orthogonalisation."""
    P = q.size
    Q = [q / np.linalg.norm(q)]
    alphas, betas = [], []
    theta, s, prev, rel, res, it = math.nan, np.ones(1), math.nan, math.nan, math.nan, 0
    for j in range(min(int(iters), P)):
        w = matvec(Q[j])
        it = j + 1
        if not np.all(np.isfinite(w)):
            return math.nan, Q[0], it, math.nan, math.nan
        a = float(Q[j] @ w)
        alphas.append(a)
        Qm = np.asarray(Q)
        w = w - Qm.T @ (Qm @ w)
        w = w - Qm.T @ (Qm @ w)  # twice is enough (Kahan–Parlett)
        b = float(np.linalg.norm(w))
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        evals, evecs = np.linalg.eigh(T)
        theta, s = float(evals[-1]), evecs[:, -1]
        rel = abs(theta - prev) / abs(theta) if theta != 0 and math.isfinite(prev) else math.nan
        prev = theta
        res = abs(b * s[-1]) / abs(theta) if theta != 0 else math.inf
        if res <= tol or b <= 1e-14 * max(abs(a), 1e-300) or j + 1 == P:
            break
        betas.append(b)
        Q.append(w / b)
    y = np.asarray(Q[:len(s)]).T @ s
    return theta, y / np.linalg.norm(y), it, res, rel


def _power(matvec, v, iters, tol):
    """Rayleigh quotient and vector of ≤ iters power iterations."""
    v = v / np.linalg.norm(v)
    lam, prev, rel, res, it = math.nan, math.nan, math.nan, math.nan, 0
    for j in range(int(iters)):
        w = matvec(v)
        it = j + 1
        if not np.all(np.isfinite(w)):
            return math.nan, v, it, math.nan, math.nan
        lam = float(v @ w)
        res = float(np.linalg.norm(w - lam * v)) / abs(lam) if lam != 0 else math.inf
        rel = abs(lam - prev) / abs(lam) if lam != 0 and math.isfinite(prev) else math.nan
        prev = lam
        nw = np.linalg.norm(w)
        if res <= tol or nw == 0:
            break
        v = w / nw
    return lam, v, it, res, rel


def top_eigenvalue(op: HessianOperator, *, iters: int = 20, tol: float = 1e-3, method: str = "lanczos",
                   v0: Optional[np.ndarray] = None, seed: int = 0, sync: bool = True) -> SharpnessEstimate:
    """λ_max of ``op`` by Lanczos or power iteration (see the module doc).

    Args:
        op: a :class:`HessianOperator`. iters: at most this many HVPs (M). tol: stop once the
            relative residual ``‖Hy − λy‖/|λ|`` is at most ``tol`` (0: run all M).
        method: ``"lanczos"`` (largest algebraic eigenvalue) or ``"power"`` (largest |λ|).
        v0: (P,) start vector (warm start), else a seeded standard normal vector.
        sync: copy the model's weights into ``op`` first (see :meth:`HessianOperator.sync`).

    Returns:
        :class:`SharpnessEstimate` (``lambda_max`` NaN if the weights or an HVP are not finite).

    Raises:
        ValueError: iters not an integer >= 1, tol negative or not finite, unknown method,
            ``v0`` of the wrong shape, zero or not finite.
    """
    _check_solver_args(iters, tol, method, v0, op.size)
    t0 = time.perf_counter()
    h0 = op.hvps
    if sync:
        op.sync()
    v = np.asarray(v0, np.float64) if v0 is not None else np.random.default_rng(seed).standard_normal(op.size)
    if not np.all(np.isfinite(op.flat_weights())):
        lam, y, it, res, rel = math.nan, v / np.linalg.norm(v), 0, math.nan, math.nan
    else:
        solver = _lanczos if method == "lanczos" else _power
        lam, y, it, res, rel = solver(op, v, int(iters), float(tol))
    return SharpnessEstimate(lambda_max=lam, iterations=it, residual=res, rel_change=rel,
                             converged=bool(math.isfinite(res) and res <= tol), seconds=time.perf_counter() - t0,
                             hvps=op.hvps - h0, vector=y, n_samples=op.n_samples, method=method)


def estimate_lambda_max(keras_model, X, Y, loss_mode: str = "half_mse", *, iters: int = 20, tol: float = 1e-3,
                        method: str = "lanczos", v0: Optional[np.ndarray] = None, subset=None, seed: int = 0,
                        batch_size: int = DEFAULT_BATCH, dtype: str = "float64",
                        ce_floor: float = 1e-7) -> SharpnessEstimate:
    """One-shot λ_max of the training loss of ``keras_model`` at its current weights.

    Builds a :class:`HessianOperator` (see :meth:`HessianOperator.for_model` for ``X``, ``Y``,
    ``loss_mode``, ``subset``, ``seed``, ``batch_size``, ``dtype``, ``ce_floor``) and runs
    :func:`top_eigenvalue` (``iters``, ``tol``, ``method``, ``v0``). For repeated estimates
    keep the operator (its compiled HVP and float64 clone are built once).

    Raises:
        ValueError: as those two functions.
    """
    op = HessianOperator.for_model(keras_model, X, Y, loss_mode, subset=subset, seed=seed, batch_size=batch_size,
                                   dtype=dtype, ce_floor=ce_floor)
    return top_eigenvalue(op, iters=iters, tol=tol, method=method, v0=v0, seed=seed, sync=False)
