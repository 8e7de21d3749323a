"""Compiled (numba) passes behind :mod:`kappa.step_metrics`: one pass over a chunk's recorded
vectors instead of some twenty whole-array numpy passes, and the warm-started power
iteration without a Python loop per step.

* :func:`row_stats`: per step, the squared norms of θ_t, g, u and θ_{t+1} − θ_t, their dot
  product ⟨θ_{t+1} − θ_t, u⟩, and per variable the rail and underflow counts;
* :func:`power_gain`: per step, the warm-started power-iteration estimate of a kernel's
  largest singular value (the algorithm of :meth:`kappa.step_metrics.StepMetrics._spectral`).

Both only observe the run (nothing feeds back into training). Sums run in index order, so
they can differ from numpy's pairwise sums in the last bits;
``tests/training/test_step_metrics.py`` compares them with the numpy definitions.
numba is imported, and the kernels compiled, on first use (numba caches the machine code
next to this module).
"""

from __future__ import annotations

import functools

import numpy as np

#: The count columns of :func:`row_stats`, in order.
COUNTS = ("w_sat", "w_near", "g_sat", "g_near", "u_sat", "u_nonzero", "u_lost")


@functools.cache
def _kernels() -> dict:
    return _build()


def row_stats(theta: np.ndarray | None, new_theta: np.ndarray, g: np.ndarray, u: np.ndarray | None,
              g_rail: np.ndarray, offsets: np.ndarray, rails: np.ndarray, *, theta0: np.ndarray | None = None,
              eta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Norms and rail counts of S recorded steps in one pass.

    Args:
        theta, new_theta, g, u, g_rail: float64 (S, P) arrays: θ_t, θ_{t+1}, the quantized
            gradient, the intended update, and the vectors whose gradient rails are counted
            (``g_raw``, or ``g``). ``theta`` None: θ_t is ``theta0`` (P,) for the first step and
            θ_{t+1} of the step before for the others; ``u`` None: SGD's ``-eta[s] * g`` with
            ``eta`` (S,) the steps' η_eff (the same float64 product numpy forms), so neither
            (S, P) array is built.
        offsets: int64 (n_vars + 1,): variable ``i`` holds parameters ``offsets[i]:offsets[i+1]``.
        rails: float64 (n_vars, 10): per variable the weight rails ``hi, lo, near_hi, near_lo``,
            the gradient rails in the same order, and the update's ``hi, lo`` (+inf / -inf
            where a variable is untyped or a rail absent: nothing counts).

    Returns:
        ``(sums, counts)``: float64 (S, 5) ‖θ_t‖², ‖g‖², ‖u‖², ‖θ_{t+1} − θ_t‖², ⟨θ_{t+1} − θ_t, u⟩;
        float64 (S, n_vars, 7) counts in :data:`COUNTS` order: weights at or past a rail
        (``v >= hi or v <= lo``) and within the near-rail band, the same for the gradient,
        updates at or past a rail, nonzero updates, and nonzero updates that left the stored
        value unchanged.
    """
    S, n = new_theta.shape[0], len(offsets) - 1
    if (theta is None and theta0 is None) or (u is None and eta is None):
        raise ValueError("row_stats needs theta or theta0, and u or eta")
    sums, counts = np.zeros((S, 5)), np.zeros((S, n, len(COUNTS)))
    f64 = lambda a: np.ascontiguousarray(a, np.float64)  # noqa: E731
    none = np.zeros((1, 1))
    _kernels()["rows"](none if theta is None else f64(theta), np.zeros(1) if theta0 is None else f64(theta0),
                       theta is None, f64(new_theta), f64(g), none if u is None else f64(u),
                       np.zeros(1) if eta is None else f64(eta), u is None, f64(g_rail),
                       np.ascontiguousarray(offsets, np.int64), f64(rails), sums, counts)
    return sums, counts


def power_gain(theta: np.ndarray, start: int, rows: int, cols: int, v: np.ndarray,
               iterations: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Warm-started power iteration on WᵀW for every recorded step.

    Args:
        theta: float64 (S, P); step ``i``'s kernel W is ``theta[i, start:start + rows*cols]``
            as a row-major (rows, cols) matrix.
        v: float64 (cols,): the vector carried over from the previous step (not modified).
        iterations: power iterations per step.

    Returns:
        ``(gain, v)``: float64 (S,) ‖W v‖ after the step's iterations (a lower bound on the
        largest singular value), and the last vector. An iteration whose ‖WᵀW v‖ is 0 or not
        finite keeps the previous vector, as the numpy loop does.
    """
    out = np.empty(theta.shape[0])
    v = np.array(v, np.float64)
    _kernels()["power"](np.ascontiguousarray(theta, np.float64), int(start), int(rows), int(cols), v,
                        int(iterations), out)
    return out, v


def _build() -> dict:
    from numba import njit

    # Serial on purpose: numba's parallel layers are either not fork-safe (OpenMP) or abort
    # when two threads launch kernels at once (workqueue, its fallback), and a training run
    # may be in a forked worker or share its process with others; prange halved this pass
    # (6.3 -> 3.3 ms for 256 steps of 6,000 parameters), about 2 % of a run.
    @njit(cache=True, nogil=True)
    def rows_kernel(th, th0, shifted, nt, g, u, eta, from_eta, gr, off, rails, sums, counts):
        S = nt.shape[0]
        for s in range(S):
            a0 = a1 = a2 = a3 = a4 = 0.0
            for k in range(off.shape[0] - 1):
                whi, wlo, wnh, wnl = rails[k, 0], rails[k, 1], rails[k, 2], rails[k, 3]
                ghi, glo, gnh, gnl = rails[k, 4], rails[k, 5], rails[k, 6], rails[k, 7]
                uhi, ulo = rails[k, 8], rails[k, 9]
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = 0.0
                for p in range(off[k], off[k + 1]):
                    t1, gg, rr = nt[s, p], g[s, p], gr[s, p]
                    if shifted:
                        t0 = th0[p] if s == 0 else nt[s - 1, p]
                    else:
                        t0 = th[s, p]
                    uu = (-eta[s]) * gg if from_eta else u[s, p]
                    d = t1 - t0
                    a0 += t0 * t0
                    a1 += gg * gg
                    a2 += uu * uu
                    a3 += d * d
                    a4 += d * uu
                    if t1 >= whi or t1 <= wlo:
                        c0 += 1.0
                    if t1 >= wnh or t1 <= wnl:
                        c1 += 1.0
                    if rr >= ghi or rr <= glo:
                        c2 += 1.0
                    if rr >= gnh or rr <= gnl:
                        c3 += 1.0
                    if uu >= uhi or uu <= ulo:
                        c4 += 1.0
                    if uu != 0.0:
                        c5 += 1.0
                        if t1 == t0:
                            c6 += 1.0
                counts[s, k, 0], counts[s, k, 1], counts[s, k, 2], counts[s, k, 3] = c0, c1, c2, c3
                counts[s, k, 4], counts[s, k, 5], counts[s, k, 6] = c4, c5, c6
            sums[s, 0], sums[s, 1], sums[s, 2], sums[s, 3], sums[s, 4] = a0, a1, a2, a3, a4

    @njit(cache=True, nogil=True)
    def power_kernel(th, start, rows, cols, v, iters, out):
        wv = np.empty(rows)
        vn = np.empty(cols)
        for s in range(th.shape[0]):
            for _ in range(iters):
                for r in range(rows):
                    acc = 0.0
                    base = start + r * cols
                    for c in range(cols):
                        acc += th[s, base + c] * v[c]
                    wv[r] = acc
                for c in range(cols):
                    vn[c] = 0.0
                for r in range(rows):
                    base = start + r * cols
                    x = wv[r]
                    for c in range(cols):
                        vn[c] += th[s, base + c] * x
                nrm = 0.0
                for c in range(cols):
                    nrm += vn[c] * vn[c]
                nrm = np.sqrt(nrm)
                if nrm > 0.0 and np.isfinite(nrm):
                    for c in range(cols):
                        v[c] = vn[c] / nrm
            nrm = 0.0
            for r in range(rows):
                acc = 0.0
                base = start + r * cols
                for c in range(cols):
                    acc += th[s, base + c] * v[c]
                nrm += acc * acc
            out[s] = np.sqrt(nrm)

    return {"rows": rows_kernel, "power": power_kernel}
