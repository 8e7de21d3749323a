"""Run HLS synthesis on an hls4ml project with the vendor tools, then read its reports.

The vendor tools are looked up on PATH first, and a missing tool is reported before anything
is written.  The build itself is hls4ml's own ``build()`` (``VitisBackend.build`` /
``VivadoBackend.build`` in hls4ml 1.3.0) on the project linked with
``hls4ml.converters.link_existing_project``:

* Vitis:  writes ``build_opt.tcl`` (the ``opt`` array) and runs
  ``vitis-run --tcl build_prj.tcl --mode hls`` in the project directory;
* Vivado: runs ``vivado_hls -f build_prj.tcl "reset=.. csim=.. synth=.. cosim=.. ..."`` there.

``vivado`` itself is only started by ``build_prj.tcl`` for Vivado logic synthesis
(``vsynth``), so it is required only then.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .reports import SynthesisReport, read_report

# Tools each backend's HLS step can use, in order of preference, and the one for vsynth.
_HLS_TOOLS = {"Vitis": ("vitis-run", "vitis_hls"), "Vivado": ("vivado_hls",)}
_VSYNTH_TOOL = "vivado"
_SETTINGS = {
    "Vitis": "source /tools/Xilinx/Vitis/2023.2/settings64.sh",
    "Vivado": "source /tools/Xilinx/Vivado/2020.1/settings64.sh",
}


class VendorToolNotFoundError(RuntimeError):
    """A Xilinx/AMD tool needed for synthesis is not on PATH.

    The message names the backend, the tools looked for and how to put them on PATH.
    """


class SynthesisError(RuntimeError):
    """The vendor tool ran but failed, or finished without writing a new report."""


def _canonical_backend(backend: str) -> str:
    for name in _HLS_TOOLS:
        if str(backend).lower() == name.lower():
            return name
    raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(_HLS_TOOLS)}")


def find_vendor_tools(backend: str) -> dict[str, str | None]:
    """Look up on PATH (``shutil.which``) every tool the backend's synthesis flow may use.

    Returns ``{tool name: absolute path or None}``: for ``"Vitis"`` the keys are
    ``vitis-run`` (Vitis 2023.2+), ``vitis_hls`` and ``vivado``; for ``"Vivado"`` they are
    ``vivado_hls`` and ``vivado``.  ``vivado`` is needed only for Vivado logic synthesis.
    The backend name is case-insensitive; an unknown one raises ValueError naming the valid ones.
    """
    backend = _canonical_backend(backend)
    return {tool: shutil.which(tool) for tool in (*_HLS_TOOLS[backend], _VSYNTH_TOOL)}


def require_tools(backend: str, vsynth: bool = False) -> dict[str, str | None]:
    """Check the vendor tools ``backend`` needs are on PATH, before any work is done.

    Returns:
        ``{tool: path or None}`` as :func:`find_vendor_tools`.

    Raises:
        VendorToolNotFoundError: names the tools looked for and how to put them on PATH.
        ValueError: unknown backend.
    """
    backend = _canonical_backend(backend)
    tools = find_vendor_tools(backend)
    hls = _HLS_TOOLS[backend]
    missing = []
    if not any(tools[t] for t in hls):
        missing.append(" or ".join(f"'{t}'" for t in hls))
    if vsynth and not tools[_VSYNTH_TOOL]:
        missing.append(f"'{_VSYNTH_TOOL}' (for Vivado logic synthesis, vsynth=True)")
    if missing:
        raise VendorToolNotFoundError(
            f"{backend} backend: {' and '.join(missing)} not found on PATH "
            f"(PATH={os.environ.get('PATH', '')}). Put the AMD/Xilinx tools on PATH with their "
            f"settings script, e.g. `{_SETTINGS[backend]}`, then run again. "
            "(C simulation with g++ does not need them.)"
        )
    return tools


def _project_info(project_dir: Path) -> tuple[str, str]:
    """(project name, backend) from hls4ml's project.tcl; checks the files build() needs."""
    for f in ("project.tcl", "build_prj.tcl", "hls4ml_config.yml"):
        if not (project_dir / f).is_file():
            raise FileNotFoundError(
                f"{project_dir} is not an hls4ml project: no {f} (write one with scripts/build_hls.py)"
            )
    text = (project_dir / "project.tcl").read_text()
    name = re.search(r'^\s*set\s+project_name\s+"([^"]+)"', text, re.M)
    backend = re.search(r'^\s*set\s+backend\s+"([^"]+)"', text, re.M)
    if not name or not backend:
        raise ValueError(f'{project_dir / "project.tcl"}: no `set project_name "..."` / `set backend "..."` line')
    return name.group(1), backend.group(1)


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _run_vitis_hls(project_dir: Path, tool: str, opts: dict, log_to_stdout: bool) -> None:
    # Mirrors hls4ml's VitisBackend.build(), which only accepts `vitis-run` (Vitis 2023.2+):
    # with only the older `vitis_hls` on PATH it would refuse, so write the same
    # build_opt.tcl and run the same build_prj.tcl with `vitis_hls -f`.
    lines = "".join(f"    {k:<10} {int(v)}\n" for k, v in opts.items())
    (project_dir / "build_opt.tcl").write_text(f"array set opt {{\n{lines}}}\n")
    out = err = None
    try:
        if not log_to_stdout:
            out = open(project_dir / "build_stdout.log", "w")
            err = open(project_dir / "build_stderr.log", "w")
        proc = subprocess.run([tool, "-f", "build_prj.tcl"], cwd=project_dir, stdout=out, stderr=err)
    finally:
        for f in (out, err):
            if f:
                f.close()
    if proc.returncode != 0:
        raise SynthesisError(f"vitis_hls -f build_prj.tcl failed with exit code {proc.returncode} in {project_dir}")


def run_synthesis(
    project_dir,
    backend: str = "Vitis",
    csynth: bool = True,
    vsynth: bool = False,
    cosim: bool = False,
    *,
    csim: bool = False,
    export: bool = False,
    reset: bool = False,
    log_to_stdout: bool = True,
) -> SynthesisReport:
    """Synthesise the hls4ml project in ``project_dir`` and return its parsed report.

    ``csynth`` runs C synthesis (``csynth_design``), ``vsynth`` Vivado logic synthesis
    (writes ``vivado_synth.rpt``), ``cosim`` C/RTL co-simulation, ``csim`` HLS C simulation,
    ``export`` IP export; ``reset`` recreates the HLS project.  The build is hls4ml's own
    ``build()`` on ``link_existing_project(project_dir)`` (Vitis: ``vitis-run --tcl
    build_prj.tcl --mode hls``; Vivado: ``vivado_hls -f build_prj.tcl "..."``), run in
    ``project_dir``.  For Vitis with only ``vitis_hls`` on PATH the same build is run as
    ``vitis_hls -f build_prj.tcl``.  With ``log_to_stdout=False`` (Vitis only) the tool's
    output goes to ``build_stdout.log``/``build_stderr.log`` in the project.

    Returns :func:`hls.vendor.reports.read_report` of the project (cycles, ns, resources).

    Raises, before touching the project: ValueError for an unknown backend or one that does
    not match the project's ``project.tcl``; :class:`VendorToolNotFoundError` naming the
    missing tools and how to put them on PATH; FileNotFoundError if ``project_dir`` is not an
    hls4ml project.  Afterwards: :class:`SynthesisError` if the tool fails or finishes without
    writing a new report; :class:`hls.vendor.reports.ReportError` if the report is malformed.
    """
    backend = _canonical_backend(backend)
    tools = require_tools(backend, vsynth)
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise FileNotFoundError(f"{project_dir}: no such project directory")
    name, prj_backend = _project_info(project_dir)
    if prj_backend.lower() != backend.lower():
        raise ValueError(
            f"{project_dir} was written by hls4ml for backend {prj_backend!r}, not {backend!r}; "
            "its build_prj.tcl only works with that backend's tool"
        )

    csynth_xml = project_dir / f"{name}_prj" / "solution1" / "syn" / "report" / f"{name}_csynth.xml"
    vsynth_rpt = project_dir / "vivado_synth.rpt"
    before = {csynth_xml: _mtime(csynth_xml), vsynth_rpt: _mtime(vsynth_rpt)}
    opts = dict(reset=reset, csim=csim, synth=csynth, cosim=cosim, validation=False, export=export,
                vsynth=vsynth, fifo_opt=False)

    if backend == "Vitis" and not tools["vitis-run"]:
        tool = "vitis_hls"
        _run_vitis_hls(project_dir, tools["vitis_hls"], opts, log_to_stdout)
    else:
        import hls4ml

        tool = "vitis-run" if backend == "Vitis" else "vivado_hls"
        model = hls4ml.converters.link_existing_project(str(project_dir))
        # hls4ml builds in the OutputDir recorded in hls4ml_config.yml (absolute, or relative
        # to wherever the project was written from), not in the linked directory: point it
        # here so a moved or copied project builds where it is.
        model.config.config["OutputDir"] = str(project_dir)
        if backend == "Vitis":
            opts["log_to_stdout"] = log_to_stdout
        try:
            model.build(**opts)  # hls4ml then parses the report itself; we re-read it below
        except Exception as e:  # hls4ml raises a bare Exception('Build failed for ...')
            raise SynthesisError(
                f"{tool} build of {project_dir} failed ({type(e).__name__}: {e}); see the tool's log there"
            ) from e

    # VivadoBackend.build() ignores vivado_hls's exit status (os.system), and a failed
    # csynth_design leaves an old report in place: insist on a newly written one.
    for path, wanted in ((csynth_xml, csynth), (vsynth_rpt, vsynth)):
        if wanted and (not path.exists() or _mtime(path) == before[path]):
            raise SynthesisError(
                f"{tool} finished but did not write a new {path.relative_to(project_dir)}; "
                f"see the tool's log ({'vitis_hls.log' if backend == 'Vitis' else 'vivado_hls.log'}) in {project_dir}"
            )
    return read_report(project_dir)
