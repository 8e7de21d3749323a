"""Figures of a dataset (drawing only; :class:`kappa.data.base.BaseDataset` picks what to draw).

matplotlib is imported inside each function, so ``import kappa`` does not load it.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

__all__ = ["NON_INTERACTIVE_BACKENDS", "show_if_interactive", "scatter_grid", "image_grid", "histogram_grid"]

#: matplotlib backends on which ``show=None`` does not call ``plt.show()``.
NON_INTERACTIVE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def show_if_interactive(show: Optional[bool]) -> None:
    """Call ``plt.show()`` if asked to, or (``show=None``) if the backend is interactive.

    Non-interactive backends (Agg, PDF, SVG, ...) and the Jupyter inline backend
    are never ``show()``-n implicitly: the caller gets the Figure instead.
    """
    if show is False:
        return
    import matplotlib
    import matplotlib.pyplot as plt

    if show is None:
        backend = str(matplotlib.get_backend()).lower()
        if backend in NON_INTERACTIVE_BACKENDS or "inline" in backend:
            return
    plt.show()


def scatter_grid(X: np.ndarray, Y: np.ndarray, title: str):
    """One scatter panel per (output column i, input column j).

    Args:
        X: (M, d_in) inputs. Y: (M, d_out) targets. title: the figure's title.

    Returns:
        ``matplotlib.figure.Figure`` with a (d_out, d_in) grid of axes.
    """
    import matplotlib.pyplot as plt

    d_in, d_out = X.shape[1], Y.shape[1]
    fig, axes = plt.subplots(
        d_out, d_in, figsize=(2.6 * d_in, 2.2 * d_out), squeeze=False, sharey="row"
    )
    for i in range(d_out):
        for j in range(d_in):
            ax = axes[i, j]
            ax.scatter(X[:, j], Y[:, i], s=6, alpha=0.6)
            if i == d_out - 1:
                ax.set_xlabel(f"x[{j}]")
            if j == 0:
                ax.set_ylabel(f"y[{i}]")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[np.ndarray], labels: np.ndarray, shape: tuple, title: str):
    """Grey-scale images (values in [0, 1]) titled with their labels, five per row.

    Args:
        images: n arrays, each reshaped to ``shape``. labels: (>= n,) titles.
        shape: (rows, cols) of an image. title: the figure's title.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = min(5, n)
    nrows = int(math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(np.asarray(images[k]).reshape(shape), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(str(labels[k]), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram_grid(x_panels: list, y_panels: list, bins, title: str):
    """Two rows of panels: inputs on top, outputs below.

    Args:
        x_panels: ``[(title, values), ...]``, one histogram each.
        y_panels: ``[(title, values), ...]`` histograms, or ``(title, (classes, counts))``
            for a bar chart of class counts.
        bins: ``np.histogram`` bins (an int or ``"auto"``). title: the figure's title.

    Returns:
        ``matplotlib.figure.Figure`` with a (2, max(len(x_panels), len(y_panels))) grid;
        unused axes are hidden.
    """
    import matplotlib.pyplot as plt

    ncols = max(len(x_panels), len(y_panels))
    fig, axes = plt.subplots(2, ncols, figsize=(2.6 * ncols, 4.4), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for j, (name, values) in enumerate(x_panels):
        ax = axes[0, j]
        ax.set_visible(True)
        ax.hist(values, bins=bins)
        ax.set_title(name, fontsize=9)
    for j, (name, values) in enumerate(y_panels):
        ax = axes[1, j]
        ax.set_visible(True)
        if isinstance(values, tuple):
            classes, counts = values
            ax.bar(classes, counts)
            ax.set_xticks(classes)
        else:
            ax.hist(values, bins=bins)
        ax.set_title(name, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
