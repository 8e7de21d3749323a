"""Numerical helpers shared by the dataset, model and experiment code.

Two families live here:

* TensorFlow helpers used inside the training loop (:func:`flatten_tensors`,
  :func:`half_mse_batch_loss`, :func:`tensor_l2_norm`). TensorFlow is imported
  lazily on first use, so ``import kappa.utils`` (and ``kappa.data``) does not
  pay TensorFlow's import time.
* NumPy helpers for the quadratic-stability theory (:func:`safe_cosine`,
  :func:`analytic_single_dense_hessian`, :func:`stability_metrics_from_hessian`,
  :func:`hessian_metrics_np`, :func:`uniform_input_lambda_max`). They work in
  float64 and return NumPy arrays / Python floats.

Formulas are those of ``shared/reference/fixed-point-training.md``
("Stability of gradient descent on a quadratic"), cited below as [FPT].
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any, Iterable

import numpy as np

__all__ = [
    "flatten_tensors",
    "half_mse_batch_loss",
    "tensor_l2_norm",
    "safe_cosine",
    "analytic_single_dense_hessian",
    "stability_metrics_from_hessian",
    "hessian_metrics_np",
    "uniform_input_lambda_max",
]


def _tf():
    """Import TensorFlow on demand (keeps ``import kappa.data`` cheap)."""
    import tensorflow as tf

    return tf


# --------------------------------------------------------------------------- #
# TensorFlow helpers
# --------------------------------------------------------------------------- #
def flatten_tensors(tensors: Iterable[Any], dtype: Any = None):
    """Concatenate tensors into one 1-D ``tf.Tensor`` (the global parameter vector).

    Used to turn ``model.trainable_variables`` or the matching list of gradients
    into a single vector θ (or g) of length ``sum(t.size)``.

    Args:
        tensors: iterable of ``tf.Variable`` / ``tf.Tensor`` / NumPy arrays /
            Python scalars, any shapes. ``None`` entries (e.g. the gradient of a
            variable that does not influence the loss) are skipped. A single
            tensor (not a list) is accepted and simply flattened.
        dtype: dtype of the result. ``None``: the common dtype of the inputs;
            when the inputs disagree, NumPy's promotion rule is used
            (``np.result_type``; e.g. float32 + float64 -> float64).

    Returns:
        ``tf.Tensor`` of shape ``(sum of sizes,)``. Each input is flattened in
        row-major (C) order, in the order given; e.g. a Keras Dense kernel of
        shape ``(d_in, d_out)`` contributes ``kernel[i, j]`` at offset
        ``i * d_out + j``. With no non-``None`` input the result has shape
        ``(0,)`` and dtype float32 (or ``dtype``).
    """
    tf = _tf()
    if tensors is None:
        items = []
    elif isinstance(tensors, (list, tuple)):
        items = [t for t in tensors if t is not None]
    elif isinstance(tensors, (np.ndarray, tf.Tensor, tf.Variable)) or np.isscalar(tensors):
        items = [tensors]
    else:
        items = [t for t in tensors if t is not None]

    converted = [tf.convert_to_tensor(t) for t in items]
    if dtype is None:
        if not converted:
            dtype = tf.float32
        else:
            np_dtype = np.result_type(*[t.dtype.as_numpy_dtype for t in converted])
            dtype = tf.as_dtype(np_dtype)
    else:
        dtype = tf.as_dtype(dtype)
    if not converted:
        return tf.zeros((0,), dtype=dtype)
    flat = [tf.reshape(tf.cast(t, dtype), [-1]) for t in converted]
    return tf.concat(flat, axis=0)


def half_mse_batch_loss(y_true, y_pred):
    """Half mean-squared error summed over outputs: ``‖Ŷ − Y‖²_F / (2N)``.

    This is the loss of [FPT] for which one-layer regression has Hessian
    ``I_{d_out} ⊗ XᵀX/N``. Note the difference from Keras ``"mse"``, which
    averages over outputs too: ``keras_mse = 2 · half_mse / d_out``.

    Args:
        y_true: targets, shape ``(N, ...)`` (usually ``(N, d_out)``).
        y_pred: predictions, same shape as ``y_true``.

    Returns:
        Scalar ``tf.Tensor`` in ``y_pred``'s float dtype (``y_true`` is cast to
        it). Differentiable; safe inside ``tf.GradientTape`` / ``tf.function``.
        N is the dynamic batch size ``tf.shape(y_pred)[0]``.
    """
    tf = _tf()
    y_pred = tf.convert_to_tensor(y_pred)
    if not y_pred.dtype.is_floating:
        y_pred = tf.cast(y_pred, tf.float32)
    y_true = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)
    if not y_true.shape.is_compatible_with(y_pred.shape):
        # e.g. (N,) vs (N, 1) would silently broadcast to (N, N)
        raise ValueError(f"y_true shape {y_true.shape} does not match y_pred shape {y_pred.shape}")
    n = tf.cast(tf.shape(y_pred)[0], y_pred.dtype)
    return tf.reduce_sum(tf.square(y_pred - y_true)) / (2.0 * n)


def tensor_l2_norm(t):
    """Euclidean (Frobenius) norm of a tensor, safe from overflow/underflow.

    Computed as ``m · ‖t / m‖₂`` with ``m = max|t|`` so that squaring cannot
    overflow (values above ~1.8e19 in float32) or underflow; returns exactly 0
    for an all-zero or empty tensor.

    Args:
        t: ``tf.Tensor`` / ``tf.Variable`` / NumPy array of any shape, or a
            list/tuple of them (then the norm of their concatenation, ``None``
            entries skipped, see :func:`flatten_tensors`).

    Returns:
        Scalar ``tf.Tensor`` in the input's float dtype (integer inputs are
        cast to float32). NaN if any entry is NaN, ``inf`` if any entry is
        infinite (so divergence stays visible). Use ``float(...)`` for logging.
    """
    tf = _tf()
    if isinstance(t, (list, tuple)):
        t = flatten_tensors(t)
    t = tf.convert_to_tensor(t)
    if not t.dtype.is_floating:
        t = tf.cast(t, tf.float32)
    t = tf.reshape(t, [-1])
    # reduce_max of an empty tensor is -inf, which falls into the "zero" branch.
    m = tf.reduce_max(tf.abs(t))
    finite_pos = tf.logical_and(m > 0, tf.math.is_finite(m))
    safe_m = tf.where(finite_pos, m, tf.ones_like(m))
    scaled = safe_m * tf.sqrt(tf.reduce_sum(tf.square(t / safe_m)))
    has_nan = tf.reduce_any(tf.math.is_nan(t))
    nan = tf.constant(float("nan"), t.dtype)
    inf = tf.constant(float("inf"), t.dtype)
    # NaN anywhere -> NaN; an infinite entry -> inf; all zeros / empty -> 0.
    out = tf.where(finite_pos, scaled, tf.where(tf.math.is_inf(m) & (m > 0), inf, tf.zeros_like(m)))
    return tf.where(has_nan, nan, out)


# --------------------------------------------------------------------------- #
# NumPy helpers (float64)
# --------------------------------------------------------------------------- #
def _to_float64_vector(x: Any) -> np.ndarray:
    """Flatten a tensor / array / list of those into a float64 1-D array."""
    if isinstance(x, (list, tuple)):
        parts = [_to_float64_vector(p) for p in x if p is not None]
        return np.concatenate(parts) if parts else np.zeros(0)
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def safe_cosine(a: Any, b: Any, eps: float = 1e-12) -> float:
    """Cosine of the angle between two vectors, ``⟨a, b⟩ / (‖a‖ ‖b‖)``.

    Used as the update-direction diagnostic (applied vs. intended update).

    Args:
        a, b: tensors / arrays (any shape, flattened; lists of tensors are
            concatenated) with the same number of elements.
        eps: norm threshold. If ``‖a‖ <= eps`` or ``‖b‖ <= eps`` the angle is
            undefined and **``float('nan')`` is returned** (not 0): a zero
            applied update (e.g. every step underflowed in fixed point) must not
            look like an orthogonal one. Test with ``math.isnan``.

    Returns:
        Python float in ``[-1, 1]`` (clipped against rounding), or NaN as above.
        Computed eagerly in float64 NumPy.

    Raises:
        ValueError: if ``a`` and ``b`` have different numbers of elements.
    """
    va, vb = _to_float64_vector(a), _to_float64_vector(b)
    if va.shape != vb.shape:
        raise ValueError(f"safe_cosine: size mismatch {va.size} vs {vb.size}")
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if not (na > eps and nb > eps) or not (math.isfinite(na) and math.isfinite(nb)):
        return float("nan")
    # Normalise first so the dot product cannot overflow.
    c = float(np.dot(va / na, vb / nb))
    return float(min(1.0, max(-1.0, c)))


def analytic_single_dense_hessian(
    X: Any, d_out: int, use_bias: bool = False, *, layout: str = "output_major"
) -> np.ndarray:
    """Exact Hessian of half-MSE for a single linear Dense layer.

    Model ``ŷ = W x (+ b)``, loss ``L = ‖Ŷ − Y‖²_F / (2N)``. L is quadratic in the
    parameters, so the Hessian is constant ([FPT], "Stability of gradient
    descent on a quadratic")::

        H = I_{d_out} ⊗ XᵀX / N          (layout="output_major")

    With ``use_bias=True`` a ones column is appended to X (``X̃ = [X, 1]``) and
    the bias is treated as the weight of that constant input, so the Gram matrix
    becomes ``X̃ᵀX̃/N = [[XᵀX/N, x̄], [x̄ᵀ, 1]]`` (x̄ = column means).

    Parameter ordering (eigenvalues do not depend on it, products with θ do):

    * ``"output_major"`` — θ = (W[0, :], [b_0], W[1, :], [b_1], ...): one block
      per output row. This is the ``I ⊗ G`` form written in [FPT].
    * ``"keras"`` — θ = ``flatten_tensors([kernel, bias])`` for a Keras ``Dense``
      whose kernel has shape ``(d_in, d_out)``; then ``H = G ⊗ I_{d_out}`` (with
      bias, the bias entries come last, exactly as the ones column does).

    Args:
        X: inputs, shape ``(N, d_in)`` (higher-rank inputs are reshaped to
            ``(N, -1)``), converted to float64.
        d_out: number of outputs (≥ 1).
        use_bias: include the bias parameters (ones column), see above.
        layout: ``"output_major"`` (default) or ``"keras"``.

    Returns:
        float64 array of shape ``(d_out·p, d_out·p)`` with ``p = d_in + use_bias``.

    Raises:
        ValueError: on an empty / non-finite X, ``d_out < 1`` or unknown layout.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, d_in) with N >= 1, got {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains non-finite values")
    if int(d_out) != d_out or d_out < 1:
        raise ValueError(f"d_out must be a positive integer, got {d_out!r}")
    if use_bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    gram = X.T @ X / X.shape[0]
    gram = 0.5 * (gram + gram.T)  # exact symmetry despite rounding
    eye = np.eye(int(d_out))
    if layout == "output_major":
        return np.kron(eye, gram)
    if layout == "keras":
        return np.kron(gram, eye)
    raise ValueError(f"layout must be 'output_major' or 'keras', got {layout!r}")


def _eigenvalues(H_or_eigs: Any) -> np.ndarray:
    """Eigenvalues (ascending, float64) of a symmetric matrix or a 1-D list of them."""
    a = np.asarray(H_or_eigs, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim == 1:
        eigs = np.sort(a)
    elif a.ndim == 2:
        eigs = hessian_metrics_np(a)["eigenvalues"]
    else:
        raise ValueError(f"expected a square matrix or a 1-D array of eigenvalues, got shape {a.shape}")
    if eigs.size == 0:
        raise ValueError("no eigenvalues (empty input)")
    if not np.all(np.isfinite(eigs)):
        raise ValueError("eigenvalues contain non-finite values")
    return eigs


def _eta_max(lam_max: float) -> float:
    return 2.0 / lam_max if lam_max > 0 else math.inf


def stability_metrics_from_hessian(H_or_eigs: Any, eta: float) -> dict:
    """Stability of full-batch gradient descent ``θ ← θ − η H θ`` on a quadratic.

    From [FPT]: GD is stable iff ``0 < η λ_i < 2`` for every eigenvalue λ_i; the
    update map ``I − ηH`` has spectral radius ``ρ = max_i |1 − η λ_i|``, and
    ``η_max = 2 / λ_max``.

    Args:
        H_or_eigs: symmetric Hessian of shape ``(P, P)``, or its eigenvalues as
            a 1-D array of shape ``(P,)``.
        eta: learning rate η (≥ 0, finite).

    Returns:
        dict with Python floats:

        * ``"stability_margin"``: ``η · λ_max`` (stable iff < 2),
        * ``"spectral_radius"``: ``max_i |1 − η λ_i|`` of the update map,
        * ``"lambda_max"``, ``"lambda_min"``: extreme eigenvalues of H,
        * ``"eta_max"``: ``2 / λ_max`` (``inf`` if ``λ_max <= 0``),
        * ``"stable"`` (bool): ``spectral_radius < 1``. A zero eigenvalue gives
          ρ = 1 (that direction is flat: neither converges nor diverges), which
          counts as not strictly stable.

    Raises:
        ValueError: negative / non-finite eta, non-square or asymmetric H,
            non-finite eigenvalues.
    """
    eta = float(eta)
    if not math.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be finite and >= 0, got {eta}")
    eigs = _eigenvalues(H_or_eigs)
    lam_max, lam_min = float(eigs[-1]), float(eigs[0])
    radius = float(np.max(np.abs(1.0 - eta * eigs)))
    return {
        "stability_margin": eta * lam_max,
        "spectral_radius": radius,
        "lambda_max": lam_max,
        "lambda_min": lam_min,
        "eta_max": _eta_max(lam_max),
        "stable": bool(radius < 1.0),
    }


def hessian_metrics_np(H: Any, *, symmetry_rtol: float = 1e-6) -> dict:
    """Spectrum summary of a symmetric Hessian (float64, ``np.linalg.eigvalsh``).

    Args:
        H: array of shape ``(P, P)``. It is symmetrised as ``(H + Hᵀ)/2`` before
            ``eigvalsh`` (which would otherwise read only one triangle).
        symmetry_rtol: allowed asymmetry ``max|H − Hᵀ| <= rtol · max(1, max|H|)``;
            larger asymmetry means H is not a Hessian and raises.

    Returns:
        dict with

        * ``"eigenvalues"``: float64 array of shape ``(P,)``, ascending,
        * ``"lambda_max"``, ``"lambda_min"``: Python floats,
        * ``"eta_max"``: ``2 / λ_max`` ([FPT]; ``inf`` if ``λ_max <= 0``),
        * ``"condition_number"``: ``λ_max / λ_min`` if ``λ_min > 0`` else ``inf``.

    Raises:
        ValueError: H not square 2-D, empty, non-finite or asymmetric.
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"H must be a non-empty square matrix, got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("H contains non-finite values")
    asym = float(np.max(np.abs(H - H.T)))
    if asym > symmetry_rtol * max(1.0, float(np.max(np.abs(H)))):
        raise ValueError(f"H is not symmetric (max |H - H^T| = {asym:.3g})")
    eigs = np.linalg.eigvalsh(0.5 * (H + H.T))
    lam_max, lam_min = float(eigs[-1]), float(eigs[0])
    return {
        "eigenvalues": eigs,
        "lambda_max": lam_max,
        "lambda_min": lam_min,
        "eta_max": _eta_max(lam_max),
        "condition_number": lam_max / lam_min if lam_min > 0 else math.inf,
    }


def uniform_input_lambda_max(d_in: int, use_bias: bool = False) -> float:
    """Population λ_max of the Gram matrix E[x̃ x̃ᵀ] for ``x ~ U[0,1]^d_in``.

    From [FPT]: ``E[xxᵀ] = I/12 + 11ᵀ/4`` with largest eigenvalue ``1/12 + d/4``
    (no bias). With a bias column the matrix is
    ``M = [[I/12 + 11ᵀ/4, ½·1], [½·1ᵀ, 1]]``. On vectors orthogonal to
    ``(1, 0)`` and ``(0, 1)`` M acts as ``1/12``; on ``span{(1/√d, 0), (0, 1)}``
    it is the 2×2 matrix ``[[a, √d/2], [√d/2, 1]]`` with ``a = 1/12 + d/4``, so::

        λ_max = (a + 1 + sqrt((a − 1)² + d)) / 2.

    (d = 4: 13/12 no bias; ≈ 2.042535 with bias.) The empirical λ_max of
    ``XᵀX/N`` converges to this as N grows; by [FPT] it is also λ_max of the
    one-layer Hessian for any d_out.

    Args:
        d_in: input dimension (≥ 1).
        use_bias: include the ones column.

    Returns:
        float.
    """
    if int(d_in) != d_in or d_in < 1:
        raise ValueError(f"d_in must be a positive integer, got {d_in!r}")
    a = 1.0 / 12.0 + d_in / 4.0
    if not use_bias:
        return a
    return 0.5 * (a + 1.0 + math.sqrt((a - 1.0) ** 2 + d_in))


def sha256_file(path: "str | os.PathLike") -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks).

    Raises:
        FileNotFoundError: no such file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
