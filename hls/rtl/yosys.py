"""Open synthesis of an RTL project with Yosys (``synth_xilinx``), resources from its ``stat``.

These are an open-source technology mapping (Yosys + ABC onto Xilinx primitives), not
Vivado's figures: Vivado's synthesis and placement optimise differently (LUT packing,
retiming, carry-chain mapping), so treat them as a reproducible cost axis, not a
prediction of a Vivado report.

Two Yosys runs over the same files (``src/static/*.v`` without the lookup-table module
when the design has no tables, the stage files and the top module):

1. ``hierarchy; proc; flatten; stat -width``: the register bits the RTL declares (sum
   of the widths of its ``$dff`` cells), which is da4ml's ``reg_bits`` by construction;
2. ``synth_xilinx -family <family> -flatten -top <top>; stat``: ``LUT`` (LUT1-LUT6),
   ``FF`` (FD* cells), ``CARRY`` (CARRY4/CARRY8), ``DSP`` (DSP48*), ``BRAM`` (RAMB*),
   plus ``INV`` and ``MUXF`` (MUXF7-9) as Yosys reports them. Synthesis removes
   registers holding constants or duplicates, so ``FF <= register bits``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from .verilator import RtlToolError, load_manifest
from .verilog import MANIFEST as MANIFEST_NAME

FAMILIES = (("xc7", "xc7"), ("xczu", "xcup"), ("xcau", "xcup"), ("xcvu", None), ("xcku", None), ("xcu", "xcup"))


def family_of_part(part: str) -> str:
    """Yosys ``synth_xilinx -family`` for a Xilinx part: 7-series ``xc7``; UltraScale+
    (``xczu``, ``xcau``, ``xcvu…p``, ``xcku…p``, the Alveo ``xcu…`` parts) ``xcup``; UltraScale (``xcvu``/``xcku``
    without ``p``) ``xcu``.

    Raises:
        ValueError: a part of another vendor or family (names it and the known prefixes).
    """
    p = part.lower()
    for prefix, fam in FAMILIES:
        if p.startswith(prefix):
            if fam is not None:
                return fam
            m = re.match(r"^xc[vk]u(\d+)(p?)", p)
            return "xcup" if m and m.group(2) == "p" else "xcu"
    raise ValueError(f"part {part!r}: Yosys synth_xilinx needs a Xilinx 7-series or UltraScale(+) part "
                     "(xc7…, xcku…, xcvu…, xczu…, xcau…)")


def _sources(d: Path, top: str, tables: bool) -> list[str]:
    static = sorted(p for p in (d / "src" / "static").glob("*.v") if tables or p.name != "lookup_table.v")
    stages = sorted((d / "src").glob(f"{top}_stage*.v"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    return [p.relative_to(d).as_posix() for p in (*static, *stages, d / "src" / f"{top}.v")]


def parse_stat(text: str) -> dict:
    """Cell counts from Yosys ``stat`` text (the last module block): ``{cell type: count}``."""
    cells = {}
    for m in re.finditer(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$", text, re.M):
        cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
    return cells


def resources(cells: dict) -> dict:
    """``LUT``, ``FF``, ``CARRY``, ``DSP``, ``BRAM``, ``INV``, ``MUXF`` from ``stat`` cell counts."""
    def total(pattern):
        return sum(n for c, n in cells.items() if re.fullmatch(pattern, c))

    return {"LUT": total(r"LUT[1-6]"), "FF": total(r"FD\w*"), "CARRY": total(r"CARRY[48]"),
            "DSP": total(r"DSP48\w*"), "BRAM": total(r"RAMB\w*"), "INV": total(r"INV"),
            "MUXF": total(r"MUXF[789]")}


def register_bits(cells: dict) -> int:
    """Sum of ``$dff``/``$adff`` widths from ``stat -width`` cell names (``$dff_207``)."""
    return sum(int(c.rsplit("_", 1)[1]) * n for c, n in cells.items() if re.fullmatch(r"\$a?dff(e)?_\d+", c))


def _yosys(script: str, cwd: Path, timeout_s: float) -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise RtlToolError("yosys not found: install the Debian package `yosys` (apt-get install yosys, as root; "
                           "`make setup` does when run as root)")
    try:
        r = subprocess.run([exe, "-q", "-p", script], cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RtlToolError(f"yosys took longer than {timeout_s:.0f} s on {cwd}") from None
    if r.returncode != 0:
        raise RtlToolError(f"yosys failed:\n{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout


def synth_rtl(project_dir, *, timeout_s: float = 3600) -> dict:
    """Run Yosys on the project; returns the ``rtl`` report section.

    Returns:
        ``{"yosys": {LUT, FF, CARRY, DSP, BRAM, INV, MUXF}, "register_bits": RTL register
        bits, "estimate": da4ml {LUT, FF}, "latency_cycles", "clock_period_ns",
        "latency_cutoff", "family", "synth_s", "tool": "yosys <version>"}``.

    Raises:
        FileNotFoundError: not an RTL project. ValueError: a part Yosys cannot target.
        RtlToolError: yosys missing or failing.
    """
    d = Path(project_dir).resolve()
    m = load_manifest(d)
    top, fam = m["top"], family_of_part(m["part"])
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(top)):
        raise ValueError(f"{MANIFEST_NAME}: top {top!r} is not a Verilog identifier")
    files = " ".join(_sources(d, top, m.get("uses_lookup_tables", False)))
    stat0, stat1 = "yosys_rtl_stat.txt", "yosys_synth_stat.txt"  # relative: the script runs in d
    t0 = time.perf_counter()
    _yosys(f"read_verilog {files}; hierarchy -top {top}; proc; flatten; tee -q -o {stat0} stat -width", d, timeout_s)
    _yosys(f"read_verilog {files}; synth_xilinx -family {fam} -flatten -top {top}; tee -q -o {stat1} stat", d,
           timeout_s)
    synth_s = time.perf_counter() - t0
    version = subprocess.run([shutil.which("yosys"), "-V"], capture_output=True, text=True).stdout.strip()
    return {"yosys": resources(parse_stat((d / stat1).read_text())),
            "register_bits": register_bits(parse_stat((d / stat0).read_text())),
            "estimate": m["estimate"], "latency_cycles": m["latency_cycles"],
            "clock_period_ns": m["clock_period_ns"], "latency_cutoff": m["latency_cutoff"],
            "family": fam, "synth_s": round(synth_s, 2), "tool": version}
