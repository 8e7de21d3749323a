"""What each layer's types cost: float vs firmware, and a per-layer attribution.

:func:`firmware_report` compares kappa's float forward (every type floating point, numpy
float64) with the firmware forward (:func:`kappa.predict_quantized`, bit-exact with the C
simulation), and attributes the difference to layers: for each entry of the PrecisionDict
(the model input and each Keras layer with types) the metric when *only* that entry is
quantized (every other type floating point) and when *every entry but* that one is
quantized. At each quantization point (each firmware step's result, and the input) it
gives the fraction of values outside the type's range before the cast (saturated under
SAT, wrapped under WRAP). Unlike hls4ml's profiling (weight histograms against types), the
numbers are what the firmware computes.

Metric: with integer labels ``y`` (or one-hot, or ``task="classification"``) the accuracy
(higher is better); with real targets the mean squared error; without ``y`` the argmax
agreement with the float model (classification) or the MSE against it (regression).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .precision import FIRMWARE_FIELDS, INPUT_LAYER, PrecisionDict, ensure_precision_dict
from .quantization import quantize


@dataclass
class QuantPoint:
    """One quantization point: a firmware step's result (or the input) and its type.

    Attributes:
        layer: hls4ml layer name (``input`` for the model input). type: its type (string).
        out_of_range: fraction of values outside ``[type.min, type.max]`` before the cast
            (saturated under SAT, wrapped under WRAP).
    """

    layer: str
    type: str
    out_of_range: float


@dataclass
class LayerCost:
    """The metric with only this entry quantized, and with every entry but this one."""

    layer: str
    only: float
    all_but: float


@dataclass
class FirmwareReport:
    """The result of :func:`firmware_report` (see its docstring for the fields' meaning)."""

    task: str
    metric: str
    samples: int
    float_metric: float
    firmware_metric: float
    flip_rate: float
    lsb_diff: np.ndarray
    output_type: str | None
    layers: list[LayerCost] = field(default_factory=list)
    points: list[QuantPoint] = field(default_factory=list)
    reference: str = "float"
    """What the firmware is compared with: ``float`` (kappa's float forward) or the name of a
    given reference (``QKeras predict``)."""

    def to_markdown(self) -> str:
        """The summary and the per-layer table as Markdown."""
        ref = self.reference
        lines = [f"## Firmware vs {ref} ({self.samples} samples, {self.task})", "",
                 f"- {self.metric}: {ref} {self.float_metric:.4f}, firmware {self.firmware_metric:.4f}",
                 *([f"- argmax flip rate (firmware vs {ref}): {self.flip_rate:.4f}"]
                   if self.task == "classification" else []),
                 f"- largest difference per output, in LSBs of `{self.output_type}`: "
                 + ", ".join(f"{v:.4g}" for v in np.ravel(self.lsb_diff)), "",
                 f"| layer | {self.metric}, only this layer quantized | {self.metric}, all but this layer |",
                 "|---|---|---|"]
        lines += [f"| {c.layer} | {c.only:.4f} | {c.all_but:.4f} |" for c in self.layers]
        lines += ["", "| quantization point | type | out of range before the cast |", "|---|---|---|"]
        lines += [f"| {p.layer} | `{p.type}` | {p.out_of_range:.4f} |" for p in self.points]
        return "\n".join(lines) + "\n"

    def plot(self, path) -> Path:
        """Bar chart of the per-layer attribution (with float and firmware lines) to ``path`` (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        names = [c.layer for c in self.layers]
        idx = np.arange(len(names))
        # a delta axis: every value minus the reference's, so differences of 0.001 are visible
        # (on a 0-1 accuracy axis equal-looking bars hid them)
        base = self.float_metric
        only = np.array([c.only for c in self.layers]) - base
        rest = np.array([c.all_but for c in self.layers]) - base
        fw = self.firmware_metric - base
        span = float(np.nanmax(np.abs(np.concatenate([only, rest, [fw]])))) if len(names) else abs(fw)
        span = span if np.isfinite(span) and span > 0 else 1e-3
        fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(names) + 3.5), 3.6))
        ax.bar(idx - 0.2, only, 0.4, label="only this layer quantized")
        ax.bar(idx + 0.2, rest, 0.4, label="all but this layer")
        ax.axhline(0.0, color="k", ls="--", lw=1, label=f"{self.reference} ({base:.4g})")
        ax.axhline(fw, color="r", ls=":", lw=1.2, label=f"firmware ({self.firmware_metric:.4g})")
        ax.set_ylim(-1.15 * span, 1.15 * span)
        ax.set_xticks(idx, names, rotation=30, ha="right")
        ax.set_ylabel(f"{self.metric} − {self.reference}")
        ax.set_title(f"What each layer's types cost ({self.metric} relative to {self.reference})")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def explicit_entries(model, precision: PrecisionDict) -> dict[str, dict[str, str]]:
    """``{layer: {field: type}}`` with ``default`` resolved, for the input and every model layer."""
    from .layers import fields_by_layer

    out = {}
    t = precision.dtype(INPUT_LAYER, "value")
    if t is not None:
        out[INPUT_LAYER] = {"value": str(t)}
    for name, fields in fields_by_layer(model, strict=True).items():
        entry = {f: str(precision.dtype(name, f)) for f in fields
                 if f in FIRMWARE_FIELDS and precision.dtype(name, f) is not None}
        if entry:
            out[name] = entry
    return out


def _task(y, out, task):
    if task is not None:
        if task not in ("classification", "regression"):
            raise ValueError(f"task={task!r}: use 'classification' or 'regression'")
        return task
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
            return "classification"
        if y.shape == out.shape and set(np.unique(y)) <= {0, 1} and np.all(y.sum(axis=-1) == 1):
            return "classification"
        return "regression"
    return "classification" if out.ndim == 2 and out.shape[1] > 1 else "regression"


def firmware_report(model, precision, X, y=None, *, task: str | None = None, io_type: str = "io_parallel",
                    strategy: str = "Latency", reuse_factor: int = 1, layer_options=None, reference=None,
                    reference_name: str = "float") -> FirmwareReport:
    """Float vs firmware and what each layer's types cost.

    Args:
        model: a Keras 3 model of layers kappa emulates.
        precision: PrecisionDict (or dict / YAML path) of the firmware types.
        X: inputs (N, *input_shape).
        y: optional targets: integer labels (N,), one-hot (N, C), or real values shaped
            like the output.
        task: ``"classification"`` or ``"regression"``; default: inferred from ``y``
            (integer or one-hot -> classification), else from the output (several
            outputs -> classification).
        io_type, strategy, reuse_factor, layer_options: the firmware options (as ``hls.convert``).
        reference: outputs (shaped like the model's, N first) to compare the firmware with
            instead of kappa's float forward, e.g. a QKeras model's own ``predict`` (which the
            firmware of its quantizers matches); ``reference_name`` names it in the report.

    Returns:
        :class:`FirmwareReport`: metric name (``accuracy``, ``argmax agreement``, ``mse``),
        float and firmware metric, argmax flip rate (fraction of samples whose argmax
        differs; 0 for one output or a regression), per-output largest |firmware - float| in LSBs of the
        output type (shape (n_out,)), per-layer :class:`LayerCost` and per-step
        :class:`QuantPoint`.

    Raises:
        ValueError: as :func:`kappa.predict_quantized`; ``y`` whose length differs from X; a
            model that is not a chain of layers (a graph).
    """
    from .firmware_forward import firmware_steps, layer_outputs
    from .layers import FirmwareOptions, is_chain, model_graph

    if not is_chain(model_graph(model)):
        raise ValueError(f"model {model.name!r} is a graph (branches, merges, several inputs or outputs); "
                         "firmware_report attributes costs along a chain of layers: compare "
                         "kappa.predict_quantized with the model's float predict for a graph")
    P = ensure_precision_dict(precision)
    if P is None:
        raise ValueError("precision is None: give the firmware types (a PrecisionDict, dict or YAML path)")
    kw = dict(io_type=io_type, strategy=strategy, reuse_factor=reuse_factor, layer_options=layer_options)
    X = np.asarray(X, dtype=np.float64)
    f_out = layer_outputs(model, None, X, **kw)[-1][1]
    outs = layer_outputs(model, P, X, **kw)
    fw = outs[-1][1]
    if reference is not None:
        reference = np.asarray(reference, np.float64)
        if reference.size != f_out.size or len(reference) != len(f_out):
            raise ValueError(f"reference has shape {reference.shape}; the model's outputs are {f_out.shape}")
        f_out = reference.reshape(f_out.shape)
    if y is not None and len(y) != len(X):
        raise ValueError(f"y has {len(y)} samples, X has {len(X)}")
    task = _task(y, f_out, task)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731

    if task == "classification":
        if y is None:
            labels, metric = flat(f_out).argmax(1), "argmax agreement"
        else:
            y = np.asarray(y)
            labels, metric = (y.argmax(1) if y.ndim == 2 else y.astype(int)), "accuracy"
        score = lambda out: float(np.mean(flat(out).argmax(1) == labels))  # noqa: E731
    else:
        target = flat(f_out) if y is None else flat(np.asarray(y, np.float64))
        metric = "mse"
        score = lambda out: float(np.mean((flat(out) - target) ** 2))  # noqa: E731

    entries = explicit_entries(model, P)
    layers = []
    for name in entries:
        only = layer_outputs(model, PrecisionDict({name: entries[name]}), X, **kw)[-1][1]
        rest = layer_outputs(model, PrecisionDict({k: v for k, v in entries.items() if k != name}), X, **kw)[-1][1]
        layers.append(LayerCost(name, score(only), score(rest)))

    opts = FirmwareOptions(io_type, strategy, reuse_factor, layer_options or {})
    steps = firmware_steps(model, P, opts)
    points = []
    in_t = P.dtype(INPUT_LAYER, "value")
    if in_t is not None:
        points.append(QuantPoint(INPUT_LAYER, str(in_t), float(np.mean((X < in_t.min) | (X > in_t.max)))))
    prev, prev_t = (quantize(X, in_t) if in_t is not None else X), in_t
    for st, (name, out) in zip(steps, outs):
        res_t = st.types.get("result")
        if res_t is not None and not st.family.passthrough:
            pre = st.family.forward(dataclasses.replace(st, types={**st.types, "result": None}), prev, prev_t, opts)
            points.append(QuantPoint(name, str(res_t), float(np.mean((pre < res_t.min) | (pre > res_t.max)))))
        prev, prev_t = out, (res_t or prev_t)
    out_t = steps[-1].types.get("result") if steps else None
    diff = np.abs(flat(fw) - flat(f_out)).max(axis=0)
    lsb_diff = diff / out_t.lsb if out_t is not None else diff
    flips = float(np.mean(flat(fw).argmax(1) != flat(f_out).argmax(1))) \
        if task == "classification" and flat(fw).shape[1] > 1 else 0.0
    return FirmwareReport(task, metric, len(X), score(f_out), score(fw), flips, lsb_diff,
                          None if out_t is None else str(out_t), layers, points, reference_name)
