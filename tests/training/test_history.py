"""Tests for kappa.history.FitHistory (save/load, summary, stalled, plots)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from kappa.history import METRIC_NAMES, FitHistory  # noqa: E402


def synthetic(n=40, **over):
    """A FitHistory with plausible arrays; ``over`` replaces some of them."""
    arrays = {k: np.full(n, np.nan) for k in METRIC_NAMES}
    arrays.update(step=np.arange(n), epoch=np.arange(n) // 10, loss=np.geomspace(1.0, 1e-3, n),
                  rmse=np.geomspace(1.0, 0.03, n), raw_update_norm=np.full(n, 1e-2),
                  actual_update_norm=np.full(n, 1e-2), update_cosine=np.ones(n), alpha=np.ones(n),
                  alpha_would=np.linspace(1, 0.5, n), eta_eff=np.full(n, 0.1), finite=np.ones(n, bool),
                  divergence=np.zeros(n, bool), curvature_skipped=np.zeros(n, bool),
                  update_underflow_fraction_max=np.zeros(n))
    arrays.update(over)
    return FitHistory(**arrays, config={"eta_max": 1.7, "quantized": True, "learning_rate": 0.1})


@pytest.fixture(scope="module")
def real_history():
    from kappa.data import AffineDataset
    from kappa.nn import LinearBlockModel

    ds = AffineDataset(num_samples=128, use_bias=False, seed=0)
    m = LinearBlockModel(dataset=ds, num_hidden=[], use_bias=False, seed=0)
    return m.train_instrumented(ds.X, ds.Y, epochs=30, batch_size=128, learning_rate=1.0, reference_A=ds.A,
                                precision_dict={"default": {"weight": "ap_fixed<16,4,AP_RND,AP_SAT>",
                                                            "update": "ap_fixed<16,4,S_RND,AP_SAT>"}})


def test_is_a_dataclass_of_arrays(real_history):
    import dataclasses

    assert dataclasses.is_dataclass(FitHistory)
    for k in METRIC_NAMES:
        assert isinstance(getattr(real_history, k), np.ndarray) and getattr(real_history, k).shape == (30,)
    assert real_history.as_dict().keys() == set(METRIC_NAMES)
    with pytest.raises(ValueError, match="n_steps"):
        FitHistory(loss=np.zeros(3), alpha=np.zeros(4))


def test_save_load_roundtrip(tmp_path, real_history):
    p = real_history.save(tmp_path / "run")
    assert p.suffix == ".npz" and p.exists()
    back = FitHistory.load(p)
    for k in METRIC_NAMES:
        np.testing.assert_array_equal(getattr(back, k), getattr(real_history, k))
        assert getattr(back, k).dtype == getattr(real_history, k).dtype
    assert back.config == real_history.config and back.quantized
    with pytest.raises(FileNotFoundError):
        FitHistory.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="FitHistory"):
        FitHistory.load(tmp_path / "other.npz")


def test_summary_numbers(real_history):
    s = real_history.summary()
    assert s["n_steps"] == 30
    assert s["final_loss"] == real_history.loss[-1] and s["initial_loss"] == real_history.loss[0]
    assert s["min_loss"] == np.min(real_history.loss) and s["final_loss"] < s["initial_loss"]
    assert s["diverged"] is False and s["diverged_at_step"] is None and s["stalled"] is False
    assert 0.0 <= s["final_update_underflow_fraction"] <= 1.0


def test_stalled_definition():
    n = 40
    plateau = np.concatenate([np.geomspace(1, 1e-2, 20), np.full(20, 1e-2)])
    # applied updates underflow to zero + loss plateau -> stalled
    dead = synthetic(n, loss=plateau, actual_update_norm=np.zeros(n), update_underflow_fraction_max=np.ones(n))
    assert dead.stalled() and dead.summary()["stalled"]
    # same plateau but updates are applied (converging float run that is slow): not stalled
    assert not synthetic(n, loss=plateau).stalled()
    # updates dead but loss still moving: not stalled
    assert not synthetic(n, actual_update_norm=np.zeros(n), update_underflow_fraction_max=np.ones(n)).stalled()
    # solved problem (loss ~ 0, nothing left to apply): converged, not stalled
    solved = synthetic(n, loss=np.full(n, 1e-15), actual_update_norm=np.zeros(n),
                       update_underflow_fraction_max=np.ones(n))
    assert not solved.stalled()
    # float run without underflow metric: the applied/intended ratio decides
    ratio_dead = synthetic(n, loss=plateau, actual_update_norm=np.full(n, 1e-5),
                           update_underflow_fraction_max=np.full(n, np.nan))
    assert ratio_dead.stalled()


def test_divergence_flags():
    n = 10
    div = np.zeros(n, bool)
    div[-1] = True
    fin = ~div
    loss = np.concatenate([np.geomspace(1, 1e6, n - 1), [np.inf]])
    h = synthetic(n, loss=loss, divergence=div, finite=fin)
    assert h.diverged and h.diverged_at_step == n - 1
    s = h.summary()
    assert s["diverged"] and s["diverged_at_step"] == 9 and not s["stalled"]
    assert s["min_loss"] == 1.0
    assert not synthetic(n).diverged and FitHistory().n_steps == 0


def test_plot_results_returns_figure_with_panels(real_history):
    fig = real_history.plot_results(title="exp")
    assert isinstance(fig, Figure)
    labels = [ax.get_ylabel() for ax in fig.axes]
    for lab in ("loss", "α", "η_eff", "stability", "update norm", "fraction"):
        assert lab in labels
    fig.savefig(os.devnull, format="png")
    # diverged, float-only and empty-quantized-metric histories plot too
    n = 6
    div = np.zeros(n, bool)
    div[-1] = True
    fig2 = synthetic(n, loss=np.array([1, 2, 4, 8, 16, np.nan]), divergence=div, finite=~div).plot_results()
    assert len(fig2.axes) >= 5
