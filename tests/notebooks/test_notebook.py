"""Execute notebooks/experiment_000_global_throttle.ipynb end to end (slow).

The kernel is ``python3`` resolved to *this* interpreter (the project venv): a temporary
kernelspec whose argv is ``sys.executable -m ipykernel_launcher`` is put first on
``JUPYTER_PATH``, so a user- or system-wide ``python3`` kernelspec pointing at another
Python (without TensorFlow/kappa) cannot be picked up. The notebook runs with its own
directory (``notebooks/``) as the working directory and asserts its own conclusions.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "experiment_000_global_throttle.ipynb"


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch):
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (kappa venv)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # kappa importable in the kernel even without an editable install
    repo = str(NOTEBOOK.parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    return "python3"


@pytest.mark.slow
def test_experiment_000_notebook_executes(venv_kernel):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager

    assert KernelSpecManager().get_kernel_spec(venv_kernel).argv[0] == sys.executable

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=venv_kernel, timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError (with the traceback) if any cell fails

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "OK  throttle rescues 1.5 eta_max" in text
    assert "NO " not in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 5  # loss/margin, plot_results x2, minibatch alpha, fixed-point panels


SWEEP_NOTEBOOK = NOTEBOOK.parent / "sweep_digits_bits.ipynb"


@pytest.mark.slow
def test_sweep_notebook_executes(venv_kernel, monkeypatch):
    """The sweep notebook loads the committed results.csv of a real run and plots it."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    results = SWEEP_NOTEBOOK.parent / "sweep_digits_bits_results.csv"
    monkeypatch.setenv("KAPPA_SWEEP_RESULTS", str(results))
    nb = nbformat.read(SWEEP_NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name=venv_kernel, timeout=300,
                            resources={"metadata": {"path": str(SWEEP_NOTEBOOK.parent)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    n_rows = len(results.read_text().strip().splitlines()) - 1
    assert f"{results}: {n_rows} points" in text
    assert "all bit-exact: True" in text and "Pareto front: [" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images == 2


EOS_NOTEBOOK = NOTEBOOK.parent / "edge_of_stability.ipynb"


@pytest.mark.slow
def test_edge_of_stability_notebook_executes(venv_kernel):
    """The short edge-of-stability run (benchmarks/bench_edge_of_stability.py) and its checks."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(EOS_NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name=venv_kernel, timeout=300,
                            resources={"metadata": {"path": str(EOS_NOTEBOOK.parent)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert text.count("OK  ") == 5 and "NO  " not in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images == 2
