"""The ``rtl`` section of a project's ``report.json`` / ``report.md``, and reading it back.

Keys (``report.json`` under ``rtl``): ``outputs``, ``mismatches`` (Verilator vs the Python
emulation), ``yosys`` {``LUT``, ``FF``, ``CARRY``, ``DSP``, ``BRAM``, ``INV``, ``MUXF``}
(None when Yosys was not run), ``estimate`` {``LUT``, ``FF``} (da4ml's own), ``register_bits``
(the flip-flop bits the RTL declares), ``latency_cycles``, ``clock_period_ns``,
``latency_cutoff``, ``family`` (Yosys ``synth_xilinx -family``), ``build_s``, ``sim_s``,
``synth_s``, ``tool`` and ``label``. The figures are an open-source technology mapping (Yosys
and ABC onto Xilinx primitives), not Vivado's; ``docs/rtl.md`` says how they relate.
"""

from __future__ import annotations

import json
from pathlib import Path

LABEL = "open-source mapping (Yosys synth_xilinx + ABC), not a Vivado result"
RESOURCE_KEYS = ("LUT", "FF", "CARRY", "DSP", "BRAM")


def rtl_section(manifest: dict, comparison=None, synth: dict | None = None) -> dict:
    """The ``rtl`` report section.

    Args:
        manifest: the RTL project's manifest (pipeline depth, clock, da4ml's estimate).
        comparison: a :class:`hls.sim.compare.ComparisonReport` from
            :func:`hls.rtl.compare_rtl`, or None (not simulated).
        synth: :func:`hls.rtl.synth_rtl`'s result, or None (Yosys not run).

    Returns:
        A JSON-ready dict with the keys of the module docstring.
    """
    sec = {
        "outputs": None if comparison is None else comparison.outputs,
        "mismatches": None if comparison is None else comparison.mismatches,
        "yosys": None if synth is None else {k: synth["yosys"][k] for k in (*RESOURCE_KEYS, "INV", "MUXF")},
        "estimate": dict(manifest["estimate"]),
        "register_bits": None if synth is None else synth["register_bits"],
        "latency_cycles": manifest["latency_cycles"],
        "clock_period_ns": manifest["clock_period_ns"],
        "latency_cutoff": manifest["latency_cutoff"],
        "part": manifest["part"],
        "family": None if synth is None else synth["family"],
        "build_s": None if comparison is None else comparison.compile_seconds,
        "sim_s": None if comparison is None else comparison.run_seconds,
        "synth_s": None if synth is None else synth["synth_s"],
        "tool": None if synth is None else synth["tool"],
        "label": LABEL,
    }
    return sec


def rtl_markdown(sec: dict) -> str:
    """``report.md``'s RTL part: the verdict and a LUT/FF table, Yosys next to da4ml's estimate."""
    lines = ["## RTL (da4ml Verilog, Verilator, Yosys)", ""]
    if sec.get("outputs") is not None:
        verdict = "bit-exact" if sec["mismatches"] == 0 else "MISMATCH"
        lines += [f"Verilator vs Python (distributed_arithmetic): {sec['mismatches']} mismatches over "
                  f"{sec['outputs']} outputs: {verdict}", ""]
    y = sec.get("yosys") or {}
    est = sec.get("estimate") or {}
    lines += [f"Resources: {LABEL}.", "", "| resource | Yosys | da4ml estimate |", "|---|---|---|"]
    for k in RESOURCE_KEYS:
        e = est.get(k)
        lines.append(f"| {k} | {y.get(k, 'not run') if y else 'not run'} | {'' if e is None else f'{e:g}'} |")
    lines += ["", f"- pipeline: {sec['latency_cycles']} cycles at {sec['clock_period_ns']:g} ns "
                  f"(latency cutoff {sec['latency_cutoff']:g}), part {sec.get('part')}"]
    if sec.get("register_bits") is not None:
        lines.append(f"- register bits in the RTL: {sec['register_bits']} (Yosys keeps {y.get('FF')} flip-flops)")
    times = [f"{k} {sec[k]:.1f} s" for k in ("build_s", "sim_s", "synth_s") if sec.get(k) is not None]
    if times:
        lines.append(f"- times: {', '.join(times)} (Verilator build, simulation, Yosys)")
    if sec.get("tool"):
        lines.append(f"- {sec['tool']}, synth_xilinx -family {sec.get('family')}")
    return "\n".join(lines) + "\n"


def read_rtl_report(project_dir) -> dict:
    """The ``rtl`` section of an RTL project's ``report.json`` or, when the project has no
    report (written by :func:`hls.rtl.write_rtl` alone), the manifest's figures.

    Raises:
        FileNotFoundError: not an RTL project. ValueError: a ``report.json`` that is not JSON
            (names the file).
    """
    from .verilator import load_manifest

    d = Path(project_dir)
    m = load_manifest(d)
    rj = d / "report.json"
    if rj.is_file():
        try:
            rep = json.loads(rj.read_text())
        except ValueError as exc:
            raise ValueError(f"{rj}: not valid JSON ({exc})") from None
        if isinstance(rep, dict) and isinstance(rep.get("rtl"), dict):
            return rep["rtl"]
    return rtl_section(m)


def rtl_table_rows(project: str, sec: dict) -> list[tuple[str, str]]:
    """(quantity, value) rows for ``kappa report``'s table of an RTL project."""
    y = sec.get("yosys") or {}
    est = sec.get("estimate") or {}
    rows = [("Project", project), ("Kind", "RTL (da4ml Verilog)"), ("Part", str(sec.get("part"))),
            ("Target clock", f"{sec['clock_period_ns']:.3f} ns"),
            ("Latency", f"{sec['latency_cycles']} cycles ({sec['latency_cycles'] * sec['clock_period_ns']:.1f} ns)")]
    if sec.get("outputs") is not None:
        rows.append(("Verilator vs Python", f"{sec['mismatches']} mismatches / {sec['outputs']} outputs"))
    for k in RESOURCE_KEYS:
        e = est.get(k)
        rows.append((f"Yosys {k}", str(y[k]) if y else "not run")
                    if e is None else (f"Yosys {k} (da4ml est.)", f"{y[k] if y else 'not run'} ({e:g})"))
    return rows
