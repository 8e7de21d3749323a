"""The main job: dataset -> model + PrecisionDict -> fixed-point training -> HLS project
-> C simulation -> bit-exact comparison report.

A job is described by a YAML file (the shipped ones in ``hls/jobs/configs/``, found by name);
``digits`` is the built-in default (the digits classifier 64 -> 32 ReLU -> 10).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..safety import strict_json
from .config import prepare_job


class TrainingFailedError(RuntimeError):
    """Training diverged or stalled; the project and its report were still written.

    Attributes: status ("diverged" or "stalled"), reason, result (the :class:`JobResult`).
    """

    def __init__(self, status: str, reason: str, result: "JobResult"):
        self.status, self.reason, self.result = status, reason, result
        super().__init__(f"training {status}: {reason}; project and report written to {result.project_dir} "
                         f"(report.md says so in its first line)")


@dataclass
class JobResult:
    """What a job produced: project directory, comparison report, training history (or
    None), the training health (``{"status", "reason", "step"}``, see
    :meth:`kappa.history.FitHistory.health`; ``status`` "ok" when training was skipped),
    the trained model (``kappa.nn.BaseModel``, float weights) and the test split
    ``(X_test, Y_test)`` the testbench was written from."""

    project_dir: Path
    report: object
    history: object | None
    health: dict | None = None
    model: object | None = None
    test_data: tuple | None = None


def run_job(cfg: dict, output: str | Path | None = None, *, force: bool = False, weights: str | Path | None = None,
            overrides: dict | None = None, synth: bool = False, vsynth: bool = False, progress: bool = True,
            source: str = "job config") -> JobResult:
    """Run a job end to end.

    Everything is validated first (:func:`hls.jobs.config.prepare_job`: every config key,
    type and value, the PrecisionDict against the model, the output path, g++ and, with
    ``synth``, the vendor tools); only then does training start. The project is written
    to a hidden staging directory, C-simulated and reported there, and moved into place
    at the end, so an error or an interruption (SIGINT/SIGTERM) leaves the previous state.

    Args:
        cfg: a config dict from :func:`hls.jobs.config.load_config`.
        output: project directory (default ``./vivado_projects/<name>`` in the current directory).
        force: replace an existing project directory (only a kappa project is replaced).
        weights: a ``.keras`` file to use instead of training.
        overrides: HLS options (``backend``, ``part``, ``clock_period``, ``io_type``,
            ``strategy``, ``reuse_factor``) that take precedence over the config.
        synth, vsynth: run HLS (and Vivado logic) synthesis after C simulation.
        progress: show progress bars and messages.
        source: config file name used in error messages.

    Returns:
        JobResult.

    Raises:
        hls.jobs.config.JobConfigError: every config/option/path/tool problem, in one error.
        TrainingFailedError: training diverged or stalled (raised after the project and
            its report, whose first line says so, were written).
        hls.sim.csim.CsimError / RuntimeError: as the steps they come from.
    """
    from ..project.convert import convert
    from ..sim.compare import compare
    from .rtl_job import build_rtl, hls_only, is_rtl

    job = prepare_job(copy.deepcopy(cfg), source=source, output=output, force=force, weights=weights,
                      overrides=overrides, synth=synth, vsynth=vsynth)
    cfg, hls_opts, out = job.cfg, job.hls, job.output
    say = print if progress else (lambda *a, **k: None)

    history = None
    health = {"status": "ok", "reason": None, "step": None}
    if job.weights is not None:
        say(f"loaded weights from {job.weights} (training skipped)")
    else:
        say(
            f"training {cfg['name']}: {job.X_tr.shape[0]} samples, PrecisionDict with {len(job.precision.layers)} entries"
        )
        tcfg = dict(job.training)  # train with the firmware's tables and stream/parallel casts
        tcfg.setdefault("io_type", hls_opts.get("io_type", "io_parallel"))
        tcfg.setdefault("layer_options", hls_opts.get("layer_options"))
        history = job.model.train_instrumented(  # the bar on a terminal only
            job.X_tr, job.Y_tr, precision_dict=job.precision, progress=None if progress else False, **tcfg
        )
        health = history.health()
        say(f"training done: {summary_line(history.summary())}")
        if health["status"] != "ok":
            say(f"WARNING: training {health['status']}: {health['reason']}")
    km = job.model.model
    holder = {}

    def finish(staging: Path) -> None:
        # C simulation and reports inside the staging directory: the project appears
        # complete or not at all.
        say("C simulation (g++) ...")
        report = compare(staging, quiet=not progress)
        report.project = out.name
        fw = _firmware_report(km, job, hls_opts)
        _write_reports(staging, cfg, hls_opts, report, history, health, job.Y_te, job.model.predict(job.X_te), fw,
                       classification=is_classification(job.dataset))
        holder["report"] = report

    if is_rtl(hls_opts):
        if hls_opts.get("strategy_note"):
            say(hls_opts["strategy_note"])

        def rtl_reports(staging: Path, report, rtl) -> None:
            fw = _firmware_report(km, job, hls_opts)
            _write_reports(staging, cfg, hls_opts, report, history, health, job.Y_te, job.model.predict(job.X_te),
                           fw, classification=is_classification(job.dataset), rtl=rtl)

        prj, report, _ = build_rtl(km, job.precision, out, job.X_te, hls_opts, force=force, progress=progress,
                                   write_reports=rtl_reports)
        holder["report"] = report
    else:
        say(f"converting to an hls4ml project in {out}")
        prj = convert(km, job.precision, out, tb_inputs=job.X_te, force=force, before_publish=finish,
                      **hls_only(hls_opts))
    result = JobResult(prj, holder["report"], history, health, job.model, (job.X_te, job.Y_te))
    if synth or vsynth:
        from ..vendor.synth import run_synthesis

        run_synthesis(prj, backend=hls_opts.get("backend", "Vitis"), csynth=True, vsynth=vsynth)
    if health["status"] != "ok":
        raise TrainingFailedError(health["status"], health["reason"], result)
    return result


def _firmware_report(km, job, hls_opts):
    """Float vs firmware on the test split, at the job's firmware options."""
    from kappa.firmware_cost import firmware_report

    return firmware_report(km, job.precision, job.X_te, job.Y_te, io_type=hls_opts["io_type"],
                           strategy=hls_opts["strategy"], reuse_factor=hls_opts["reuse_factor"],
                           layer_options=hls_opts.get("layer_options"))


def summary_line(summary: dict) -> str:
    """One human-readable line from :meth:`kappa.history.FitHistory.summary`, e.g.
    ``94 steps, loss 0.524 -> 0.00944 (min 0.00874), validation accuracy 0.953, ok``."""
    def g(v):
        return "nan" if v is None or (isinstance(v, float) and v != v) else f"{v:.3g}"

    parts = [f"{summary['n_steps']} steps", f"loss {g(summary['initial_loss'])} -> {g(summary['final_loss'])} "
                                             f"(min {g(summary['min_loss'])})"]
    if summary.get("final_val_accuracy") == summary.get("final_val_accuracy") and \
            summary.get("final_val_accuracy") is not None:
        parts.append(f"validation accuracy {summary['final_val_accuracy']:.3f}")
    if summary.get("min_alpha", 1.0) < 1.0:
        parts.append(f"learning rate throttled to {g(summary['min_alpha'])}x at most")
    status = summary.get("status", "ok")
    parts.append(status if status == "ok" else f"{status.upper()}: {summary.get('status_reason')}")
    return ", ".join(parts)


def is_classification(dataset) -> bool:
    """True when the dataset's targets are classes (``kappa.data.DataType`` ``*-class``)."""
    return str(getattr(dataset.output_type, "value", "")).endswith("class")


def test_metrics(Y_te, Y_float, Y_firmware, classification: bool) -> dict:
    """The report's test metrics: accuracy (float, firmware) and their argmax agreement for a
    classifier; RMSE and MSE (float, firmware, in the targets' units) for a regression, which
    has no accuracy. Arrays are (N, n_out)-shaped (any trailing shape is flattened)."""
    Yf = np.asarray(Y_float, np.float64).reshape(len(Y_float), -1)
    Yq = np.asarray(Y_firmware, np.float64).reshape(len(Y_firmware), -1)
    if classification:
        labels = np.argmax(Y_te, 1) if Y_te.ndim == 2 and Y_te.shape[1] > 1 else np.asarray(Y_te).ravel()
        return {"test_accuracy_float": float(np.mean(np.argmax(Yf, 1) == labels)),
                "test_accuracy_quantized": float(np.mean(np.argmax(Yq, 1) == labels)),
                "argmax_agreement_float_vs_firmware": float(np.mean(np.argmax(Yq, 1) == np.argmax(Yf, 1)))}
    T = np.asarray(Y_te, np.float64).reshape(Yq.shape)
    mse_f, mse_q = float(np.mean((Yf - T) ** 2)), float(np.mean((Yq - T) ** 2))
    return {"test_rmse_float": float(np.sqrt(mse_f)), "test_rmse_quantized": float(np.sqrt(mse_q)),
            "test_mse_float": mse_f, "test_mse_quantized": mse_q}


def _write_reports(prj: Path, cfg, hls_opts, report, history, health, Y_te, Y_float, firmware=None,
                   classification: bool = True, rtl=None) -> None:
    """``report.json`` (strict JSON: NaN and infinities as null), ``report.md`` (first line: the
    verdict), ``training_curves.png`` and, with ``firmware`` (a :class:`kappa.FirmwareReport`),
    its table and ``firmware_cost.png``; with ``rtl`` (:func:`hls.rtl.report.rtl_section`), the
    ``rtl`` section and its LUT/FF table.

    ``Y_float``: the float Keras model's outputs on the test inputs (N, n_out);
    ``classification``: accuracy and argmax agreement, else RMSE/MSE (:func:`test_metrics`)."""
    Yq = np.loadtxt(prj / "tb_data" / "tb_output_predictions.dat", ndmin=2)
    extra = test_metrics(Y_te, Y_float, Yq, classification)
    payload = {"config": cfg, "hls": hls_opts, "comparison": report.to_dict(), **extra}
    if rtl is not None:
        payload["rtl"] = rtl
    if history is not None:
        payload["training"] = history.summary()
        payload["training_health"] = health
        fig = history.plot_results()
        fig.savefig(prj / "training_curves.png", dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
    if firmware is not None:
        payload["firmware"] = {
            "metric": firmware.metric,
            "float": firmware.float_metric,
            "firmware": firmware.firmware_metric,
            "flip_rate": firmware.flip_rate,
            "lsb_diff": np.ravel(firmware.lsb_diff).tolist(),
            "output_type": firmware.output_type,
            "layers": [vars(c) for c in firmware.layers],
            "points": [vars(p) for p in firmware.points],
        }
        firmware.plot(prj / "firmware_cost.png")
    (prj / "report.json").write_text(strict_json(payload, indent=2, default=json_default) + "\n")
    md = report.to_markdown()
    if health and health["status"] != "ok":
        step = f" at step {health['step']}" if health.get("step") is not None else ""
        md = (
            f"# TRAINING {health['status'].upper()}{step}: {health['reason']}. The firmware below matches "
            f"Python bit for bit, but the trained network is not usable.\n\n"
        ) + md
    md += "\n" + "\n".join(f"- {k}: {v:.4f}" for k, v in extra.items()) + "\n"
    if rtl is not None:
        from ..rtl.report import rtl_markdown

        md += "\n" + rtl_markdown(rtl)
    if history is not None:
        md += "\n![training curves](training_curves.png)\n"
    if firmware is not None:
        md += "\n" + firmware.to_markdown() + "\n![what each layer's types cost](firmware_cost.png)\n"
    (prj / "report.md").write_text(md)



def json_default(o):
    """``json.dumps`` ``default=`` for job results: numpy integers, floats and arrays as
    Python numbers and lists, anything else as ``str``."""
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
