"""One point of a sweep, as it runs on a Dask worker: the main job in its own folder, then the
figures a sweep compares (accuracy or RMSE in float and in firmware, weight bits, a bit-operation
cost proxy, synthesis results), written atomically to ``<point>/result.json``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from ..safety import strict_json

ATTEMPTS = "attempts.jsonl"
RESULT = "result.json"
PROJECT = "project"


def multiplications(keras_model) -> dict:
    """Products of input by weight per inference, per Keras layer with a ``kernel``.

    Dense: n_in · n_out. Conv1D/Conv2D: output positions (H_out · W_out) · kernel size ·
    input channels · filters, i.e. ``prod(kernel.shape) · prod(output.shape[1:-1])``.

    Returns:
        layer name -> number of multiplications (int).
    """
    out = {}
    for layer in keras_model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        positions = int(np.prod([int(d) for d in layer.output.shape[1:-1]])) if len(layer.output.shape) > 2 else 1
        out[layer.name] = int(np.prod([int(d) for d in kernel.shape])) * positions
    return out


def estimate_bops(manifest: dict, products: dict) -> int:
    """Estimated multiplier cost in bit operations (a proxy, not a synthesis result).

    BOPs = Σ over layers with weights of (number of products) · b_in · b_w: every product of
    an input of ``b_in`` bits with a weight of ``b_w`` bits counted as ``b_in · b_w`` bit
    operations (the multiplier term of the BOPs of Baskin et al., "UNIQ", ACM TOCS 37 (2021),
    as used in the quantized-network literature). Adders, the accumulator and zero weights
    are ignored. ``b_in`` is the width of the last result type before the layer's weights in
    the manifest (the previous layer's output as the firmware stores it).

    Args:
        manifest: a project's ``manifest.json`` (``layers``: hls4ml layers in network order,
            each with ``key`` (result / weight / bias / accum) and ``type``).
        products: layer name -> products per inference (:func:`multiplications`).

    Returns:
        The estimate (bit operations per inference).

    Raises:
        ValueError: a layer of ``products`` with no weight type in the manifest, or a weight
            type with no preceding result type (no input width).
    """
    from kappa.fixed_point import FixedPointType

    width_in = None
    weight_bits = {}
    input_bits = {}
    for entry in manifest["layers"]:
        t = FixedPointType.from_string(entry["type"])
        if entry["key"] == "weight":
            if width_in is None:
                raise ValueError(f"layer {entry['layer']!r}: no input type precedes its weights in the manifest")
            weight_bits[entry["layer"]] = t.width
            input_bits[entry["layer"]] = width_in
        elif entry["key"] == "result":
            width_in = t.width
    total = 0
    for name, n in products.items():
        if name not in weight_bits:
            raise ValueError(f"layer {name!r} has no weight type in the manifest (layers: "
                             f"{sorted({e['layer'] for e in manifest['layers']})})")
        total += int(n) * input_bits[name] * weight_bits[name]
    return total


def score(Y_pred: np.ndarray, Y_true: np.ndarray, classification: bool) -> float:
    """Accuracy (argmax of (N, n_classes) predictions vs one-hot or label targets) or RMSE
    over every output value (regression, same units as the targets)."""
    Y_pred = np.asarray(Y_pred, dtype=np.float64).reshape(len(Y_true), -1)
    if classification:
        labels = np.argmax(Y_true, 1) if Y_true.ndim == 2 and Y_true.shape[1] > 1 else np.asarray(Y_true).ravel()
        return float(np.mean(np.argmax(Y_pred, 1) == labels))
    return float(np.sqrt(np.mean((Y_pred - np.asarray(Y_true, dtype=np.float64).reshape(Y_pred.shape)) ** 2)))


def synthesis_figures(project_dir: Path) -> dict:
    """Latency, initiation interval and HLS resource estimates of a synthesised project
    (via :func:`hls.vendor.reports.read_report`); empty when the project was not synthesised."""
    from ..vendor.reports import ReportError, read_report

    try:
        r = read_report(project_dir)
    except ReportError:
        return {}
    res = r.resources

    def used(k):
        return res[k].used if k in res and res[k] is not None else None

    return {"latency_cycles": r.latency_worst_cycles, "ii_cycles": r.interval_max_cycles,
            "dsp": used("DSP"), "lut": used("LUT"), "ff": used("FF"), "bram_18k": used("BRAM_18K")}


def rtl_figures(project_dir: Path) -> dict:
    """An RTL point's columns from its ``report.json`` ``rtl`` section: Yosys ``rtl_lut``,
    ``rtl_ff``, ``rtl_carry``, ``rtl_dsp``, da4ml's ``rtl_estimate_lut``/``rtl_estimate_ff`` and
    the pipeline depth ``rtl_latency_cycles``."""
    sec = json.loads((Path(project_dir) / "report.json").read_text())["rtl"]
    y = sec.get("yosys") or {}
    return {"rtl_lut": y.get("LUT"), "rtl_ff": y.get("FF"), "rtl_carry": y.get("CARRY"), "rtl_dsp": y.get("DSP"),
            "rtl_estimate_lut": sec["estimate"]["LUT"], "rtl_estimate_ff": sec["estimate"]["FF"],
            "rtl_latency_cycles": sec["latency_cycles"]}


def run_point(
    config: dict, point_dir: str, synth: bool = False, point_id: str = "", values: dict | None = None,
    owner: str | None = None,
) -> dict:
    """Run one point: the main job into ``point_dir/project``, then ``point_dir/result.json``.

    Anything left by an earlier attempt in ``point_dir`` (a worker lost mid-point) is
    removed first (:func:`hls.safety.clear_dir`: only if ``point_dir`` is a real directory
    inside ``owner``, the sweep's output, default the folder above ``point_dir``'s parent,
    reached through no symbolic link; else FileExistsError), except ``attempts.jsonl``, which
    gets one line per attempt (host, pid, start time). A job error is recorded (status ``failed``, ``error``, ``traceback``),
    training divergence as status ``diverged``; neither is raised. ``result.json`` is
    written to a temporary name and renamed, so it is either absent or complete.

    Returns:
        The result dict (also in ``result.json``): ``id``, ``values``, ``status`` (``ok``:
        bit-exact; ``mismatch``; ``diverged`` or ``stalled`` training; ``failed``), ``error``, ``mismatches``,
        ``outputs``, ``float_accuracy``/``firmware_accuracy`` (classification) or
        ``float_rmse``/``firmware_rmse`` (regression), ``diverged``, ``stalled``,
        ``total_weight_bits``, ``bops_proxy`` (None for an RTL point), ``wall_seconds``,
        synthesis figures when synthesised, the RTL columns (:func:`rtl_figures`) for an RTL
        point (``hls.backend: rtl``), plus ``training`` and ``comparison`` details.
    """
    from ..quiet import import_tensorflow

    import_tensorflow()  # before the job's imports: no absl/cudart lines from the worker (remote ones too)
    from ..jobs.job import TrainingFailedError, json_default, run_job
    from ..safety import check_owned_dir, clear_dir

    t0 = time.perf_counter()
    d = Path(point_dir)
    owner = Path(owner) if owner is not None else d.parent.parent
    if not (d.exists() or d.is_symlink()):
        if d.parent != owner:
            check_owned_dir(d.parent, owner)
        d.mkdir(parents=True)
    d = clear_dir(d, owner, keep=(ATTEMPTS,))
    with open(d / ATTEMPTS, "a") as f:
        f.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}) + "\n")
    import yaml

    (d / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = {"id": point_id, "values": values or {}, "status": "failed", "error": "", "worker_pid": os.getpid()}
    try:
        job = run_job(config, d / PROJECT, force=True, synth=synth, vsynth=False, progress=False)
        result.update(_figures(job))
    except TrainingFailedError as exc:  # the project was written; the training is not usable
        result.update(_figures(exc.result))
        result.update(
            status=exc.status, error=str(exc), diverged=exc.status == "diverged", stalled=exc.status == "stalled"
        )
    except Exception as exc:  # recorded, the sweep goes on
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-4000:])
    result["wall_seconds"] = time.perf_counter() - t0
    tmp = d / f".{RESULT}.{os.getpid()}.tmp"
    tmp.write_text(strict_json(result, indent=1, default=json_default) + "\n")
    os.replace(tmp, d / RESULT)
    return result


def _figures(job) -> dict:
    """The comparable figures of a finished job."""
    import hashlib

    prj = Path(job.project_dir)
    rep = job.report
    manifest = json.loads((prj / "manifest.json").read_text())
    km = job.model.model
    X_te, Y_te = job.test_data
    from ..jobs.job import is_classification

    classification = is_classification(job.model.dataset)
    rtl = manifest.get("kind") == "rtl"
    Y_fw = np.loadtxt(prj / "tb_data" / ("rtl_results.log" if rtl else "csim_results.log"), ndmin=2)
    Y_float = job.model.predict(X_te)  # the float Keras model (trained weights, no quantization)
    metric = "accuracy" if classification else "rmse"
    s = job.history.summary() if job.history is not None else {}
    # the firmware and its data; not the Keras archive (it holds its save date) nor the hls4ml
    # config (it holds the output path), which the manifest also hashes
    fw = {k: v for k, v in manifest["sha256"].items() if k not in ("keras_model.keras", "hls4ml_config.yml")}
    digest = hashlib.sha256(json.dumps(fw, sort_keys=True).encode()).hexdigest()[:16]
    out = {
        "status": "ok" if rep.bit_exact else "mismatch",
        "error": "" if rep.bit_exact else f"{rep.mismatches} mismatches over {rep.outputs} outputs",
        "mismatches": rep.mismatches,
        "outputs": rep.outputs,
        "samples": rep.samples,
        f"float_{metric}": score(Y_float, Y_te, classification),
        f"firmware_{metric}": score(Y_fw, Y_te, classification),
        "diverged": s.get("status") == "diverged" or bool(s.get("diverged", False)),
        "stalled": s.get("status") == "stalled" or bool(s.get("stalled", False)),
        "total_weight_bits": manifest["total_weight_bits"],
        "bops_proxy": None if rtl else estimate_bops(manifest, multiplications(km)),
        "firmware_sha256": digest,
        "training": s,
        "comparison": rep.to_dict(),
    }
    out.update(rtl_figures(prj) if rtl else synthesis_figures(prj))
    if any(isinstance(v, float) and math.isnan(v) for v in (out[f"float_{metric}"], out[f"firmware_{metric}"])):
        out["error"] = (out["error"] + "; " if out["error"] else "") + "NaN metric"
    return out
