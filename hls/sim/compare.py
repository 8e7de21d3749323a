"""Compare C simulation with the Python quantized forward path, bit for bit.

``compare(project_dir)`` runs the C simulation, compares every output with
``tb_output_predictions.dat`` (written by ``hls.convert`` from
``kappa.predict_quantized``) and, on a mismatch, re-runs the first mismatching
sample with layer tracing to name the first layer where firmware and Python part.

A model with several outputs has them concatenated on each line (the top function's order,
as hls4ml's testbench writes them); output indices run over that concatenation and each
output's differences are measured in LSBs of its own type (the manifest's ``outputs``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kappa.fixed_point import FixedPointType

from ..project.integrity import ProjectModifiedError, verify_project
from ..project.manifest import read_manifest
from .csim import run_csim, simulate


@dataclass
class LayerDivergence:
    """First layer whose traced firmware output differs from Python's (one sample)."""

    sample: int
    layer: str
    index: int
    firmware: float
    python: float


@dataclass
class ComparisonReport:
    """Result of comparing C simulation with the Python quantized forward path.

    Attributes:
        samples: N, number of samples simulated.
        outputs: N * n_out, number of output values compared.
        mismatches: number of output values whose bits differ.
        max_abs_diff_lsb: max |firmware - python| in LSBs of the output type (of each
            output's own type, for several outputs).
        per_output_mismatches: length n_out (all outputs' values, concatenated), mismatch
            count per output index.
        first_mismatches: up to 10 ``{"sample", "output", "expected", "got"}`` records.
        output_type: the output ``result_t`` as a string.
        divergence: on a mismatch, the first layer that differs (None if all match or
            the trace could not locate it).
        compile_seconds, run_seconds: simulation build and run timings (s); compiled: False if cached.
        modified: files that differ from the manifest's sha256 values, when compared anyway
            (``trust_modified``); empty for a project as it was written.
        simulator: what produced the firmware outputs ("C simulation", or "Verilator RTL
            simulation" for an RTL project, :func:`hls.rtl.compare_rtl`).
    """

    project: str
    samples: int
    outputs: int
    mismatches: int
    max_abs_diff_lsb: float
    per_output_mismatches: list
    first_mismatches: list = field(default_factory=list)
    output_type: str = ""
    divergence: LayerDivergence | None = None
    compiled: bool = True
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    modified: list = field(default_factory=list)
    simulator: str = "C simulation"

    @property
    def bit_exact(self) -> bool:
        """True when every output matches bit for bit."""
        return self.mismatches == 0 and self.outputs > 0

    def summary_line(self) -> str:
        """One line stating the mismatch count over the outputs compared."""
        verdict = "bit-exact" if self.bit_exact else "MISMATCH"
        note = (f" [project modified since it was written: {', '.join(self.modified)}; compared anyway "
                "(--trust-modified)]") if self.modified else ""
        return (f"{verdict}: {self.mismatches} mismatches over {self.outputs} outputs "
                f"({self.samples} samples) between {self.simulator} and the Python quantized forward path{note}")

    @property
    def _short(self) -> str:
        return "csim" if self.simulator == "C simulation" else "Verilator"

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["bit_exact"] = self.bit_exact
        return d

    def to_markdown(self) -> str:
        """A short Markdown report."""
        lines = [
            f"# {self.simulator} vs Python: {self.project}",
            "",
            self.summary_line(),
            "",
            "| quantity | value |",
            "|---|---|",
            f"| samples | {self.samples} |",
            f"| outputs compared | {self.outputs} |",
            f"| mismatches | {self.mismatches} |",
            f"| max abs difference (LSB of {self.output_type}) | {self.max_abs_diff_lsb:g} |",
            f"| per-output mismatches | {self.per_output_mismatches} |",
            f"| {self._short} build (s) | {self.compile_seconds:.2f}{'' if self.compiled else ' (cached)'} |",
            f"| {self._short} run (s) | {self.run_seconds:.3f} |",
        ]
        if self.first_mismatches:
            lines += ["", "First mismatches:", "", "| sample | output | expected | got |", "|---|---|---|---|"]
            lines += [
                f"| {m['sample']} | {m['output']} | {m['expected']!r} | {m['got']!r} |" for m in self.first_mismatches
            ]
        if self.divergence:
            d = self.divergence
            lines += [
                "",
                f"First divergent layer: `{d.layer}` (sample {d.sample}, element {d.index}: "
                f"firmware {d.firmware!r}, Python {d.python!r})",
            ]
        return "\n".join(lines) + "\n"


def load_tb_inputs(project_dir: Path) -> np.ndarray:
    """``tb_data/tb_input_features.dat`` as float64 (N, n_in).

    Raises:
        FileNotFoundError: no such file. ValueError: a value that is not a number or not
            finite (names the file, line and position).
    """
    path = Path(project_dir) / "tb_data" / "tb_input_features.dat"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: convert the project with tb_inputs")
    try:
        x = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, j = (int(v) for v in bad[0])
        raise ValueError(f"{path}: line {i + 1}, value {j + 1} is {x[i, j]} ({len(bad)} non-finite values); "
                         "testbench inputs must be finite numbers")
    return x


def _load_expected(project_dir: Path) -> np.ndarray:
    path = project_dir / "tb_data" / "tb_output_predictions.dat"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: convert the project with tb_inputs")
    return np.loadtxt(path, dtype=np.float64, ndmin=2)


def compare(project_dir, *, quiet: bool = True, trace: bool = True, trust_modified: bool = False) -> ComparisonReport:
    """Run the C simulation of ``project_dir`` and compare it with the expected outputs.

    Args:
        project_dir: a project written by ``hls.convert`` (with testbench data).
        quiet: False prints progress.
        trace: on a mismatch, trace layer outputs to find the first divergent layer.
        trust_modified: compare a project whose files differ from its manifest anyway (the
            differences are listed in the report's ``modified`` and summary line).

    Returns:
        A :class:`ComparisonReport`.

    Raises:
        FileNotFoundError: ``project_dir`` does not exist, is not a kappa project (no
            readable kappa ``manifest.json``), or lacks testbench files.
        hls.project.integrity.ProjectModifiedError: the weights, testbench data, types,
            firmware sources or the manifest itself differ from the sha256 values the
            manifest records (checked first, before anything is compiled or run), unless
            ``trust_modified``.
        hls.sim.csim.CsimError: compile error, crash, or malformed results.
        ValueError: result shape differs from the expected outputs; a testbench input that
            is not a finite number (names the file and line).
    """
    project_dir = Path(project_dir).resolve()
    manifest = read_manifest(project_dir)
    modified = verify_project(project_dir, manifest)
    if modified and not trust_modified:
        raise ProjectModifiedError(project_dir, modified)
    out_t = FixedPointType.from_string(manifest["output_type"])
    load_tb_inputs(project_dir)  # a NaN there is named with its file, before anything runs
    expected = _load_expected(project_dir)
    run = simulate(project_dir, quiet=quiet)
    got = run.results
    if got.shape != expected.shape:
        raise ValueError(f"C simulation produced shape {got.shape}, expected outputs have shape {expected.shape}")
    diff = got != expected
    idx = np.argwhere(diff)
    lsb = np.full(expected.shape[1], out_t.lsb)
    if len(manifest.get("outputs") or []) > 1:  # each output's differences in its own LSBs
        lsb = np.concatenate([np.full(int(o["size"]), FixedPointType.from_string(o["type"]).lsb)
                              for o in manifest["outputs"]])
    first = [
        {"sample": int(i), "output": int(j), "expected": float(expected[i, j]), "got": float(got[i, j])}
        for i, j in idx[:10]
    ]
    report = ComparisonReport(
        project=project_dir.name,
        samples=int(expected.shape[0]),
        outputs=int(expected.size),
        mismatches=int(diff.sum()),
        max_abs_diff_lsb=float(np.max(np.abs(got - expected) / lsb)) if expected.size else 0.0,
        per_output_mismatches=[int(v) for v in diff.sum(axis=0)],
        first_mismatches=first,
        output_type=", ".join(o["type"] for o in manifest["outputs"]) if len(manifest.get("outputs") or []) > 1
        else str(out_t),
        compiled=run.compiled,
        compile_seconds=run.compile_seconds,
        run_seconds=run.run_seconds,
        modified=modified,
    )
    if report.mismatches and trace:
        report.divergence = locate_divergence(project_dir, int(idx[0][0]))
    return report


def locate_divergence(project_dir, sample: int) -> LayerDivergence | None:
    """Trace every layer's firmware output for ``sample`` and compare with Python's.

    Python's per-layer values come from the Keras model and PrecisionDict saved in the
    project (``keras_model.keras``, ``precision.yaml``) through ``kappa.firmware_forward``.

    Returns:
        The first layer (in network order) with a differing element, or None.
    """
    from ..quiet import import_tensorflow

    import_tensorflow()  # quietly, before Keras imports it
    import keras

    from kappa.firmware_forward import layer_outputs
    from kappa.precision import PrecisionDict

    project_dir = Path(project_dir)
    with tempfile.TemporaryDirectory() as td:
        tpath = Path(td) / "trace.txt"
        run_csim(project_dir, extra_args=["--trace", str(tpath), "--first", str(sample), "--count", "1"])
        fw = {}
        for line in tpath.read_text().splitlines():
            parts = line.split()
            fw[parts[1]] = np.array([float(v) for v in parts[2:]])
    km = keras.models.load_model(project_dir / "keras_model.keras", compile=False)
    precision = PrecisionDict.load(project_dir / "precision.yaml")
    manifest = json.loads((project_dir / "manifest.json").read_text())
    row = load_tb_inputs(project_dir)[sample : sample + 1]
    xs, off = [], 0
    for t in km.inputs:  # the inputs, concatenated on the line in model.inputs order
        shape = tuple(int(d) for d in t.shape[1:])
        n = int(np.prod(shape))
        xs.append(row[:, off : off + n].reshape((1, *shape)))
        off += n
    x = xs if len(xs) > 1 else xs[0]
    opts = {k: manifest[k] for k in ("io_type", "strategy", "reuse_factor", "layer_options") if k in manifest}
    for name, out in layer_outputs(km, precision, x, **opts):
        f, p = fw.get(name), out.ravel()
        if f is not None and f.shape == p.shape and np.any(f != p):
            k = int(np.flatnonzero(f != p)[0])
            return LayerDivergence(sample, name, k, float(f[k]), float(p[k]))
    return None
