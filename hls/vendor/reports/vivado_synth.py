"""Vivado logic synthesis: ``vivado_synth.rpt`` (``report_utilization``, UltraScale "CLB" and
7-series "Slice" forms)."""

from __future__ import annotations

import re
from pathlib import Path

from .csynth import table_cells
from .parse import percent, read_number, read_text
from .records import RESOURCES, ReportError, Resource


def _check_vivado_synth_rpt(path: Path) -> str:
    """Check vivado_synth.rpt is a complete report_utilization output; return its text.

    hls4ml's parser scans it line by line and keeps whatever rows it meets, so a file cut in
    half (e.g. inside the DSP table) still yields numbers.  Completeness is checked here:
    every section named in the report's own "Table of Contents" must appear again as a heading.
    """
    what = "Vivado report_utilization output"
    text = read_text(path, what).replace("\r\n", "\n")
    if "Utilization Design Information" not in text:
        raise ReportError(f"{path}: no 'Utilization Design Information' header; expected {what}")
    toc = re.search(r"Table of Contents\n-+\n(.*?)\n\s*\n", text, re.S)
    if not toc:
        raise ReportError(f"{path}: no table of contents; expected {what}")
    for entry in (line.strip() for line in toc.group(1).splitlines()):
        if entry and text.count(entry) < 2:
            raise ReportError(
                f"{path}: truncated: section '{entry}' listed in the table of contents is missing; expected {what}"
            )
    return text


# report_utilization row names: 7-series ("Slice ...", "DSP48E1") and UltraScale ("CLB ...").
_VSYNTH_ROWS = {
    "LUT": ("CLB LUTs", "Slice LUTs"),
    "FF": ("CLB Registers", "Slice Registers"),
    "BRAM_18K": ("Block RAM Tile",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}


def read_vivado_synth(path: Path) -> dict:
    """Used/Available/Util% of LUT, FF, Block RAM Tile (as RAMB18), URAM and DSP from a
    report_utilization file, plus its tool version and device."""
    text = _check_vivado_synth_rpt(path)
    tool = re.search(r"^\|\s*Tool Version\s*:\s*(Vivado v\.\S+)", text, re.M)
    dev = re.search(r"^\|\s*Device\s*:\s*(\S+)", text, re.M)
    design = re.search(r"^\|\s*Design\s*:\s*(\S+)", text, re.M)
    found: dict[str, Resource] = {}
    header = None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = table_cells(line)
        if cells and cells[0] == "Site Type":
            header = cells
            continue
        if header is None or "Used" not in header or "Available" not in header:
            continue
        name = cells[0].rstrip("*").strip()
        for key, names in _VSYNTH_ROWS.items():
            if name in names and key not in found:
                try:
                    used_s, avail_s = cells[header.index("Used")], cells[header.index("Available")]
                    pct_s = cells[header.index("Util%")] if "Util%" in header else ""
                except IndexError:
                    raise ReportError(
                        f"{path}: row '{name}' is cut short; expected Vivado report_utilization output"
                    ) from None
                if key == "BRAM_18K":  # tiles are RAMB36 = 2 x RAMB18; 0.5 tile = one RAMB18
                    used = round(2 * read_number(used_s, path, name, float))
                    avail = round(2 * read_number(avail_s, path, f"{name} Available", float))
                else:
                    used, avail = read_number(used_s, path, name), read_number(avail_s, path, f"{name} Available")
                found[key] = Resource(
                    used, avail, read_number(pct_s, path, f"{name} Util%", float) if pct_s else percent(used, avail)
                )
    for key in ("LUT", "FF", "BRAM_18K", "DSP"):
        if key not in found:
            raise ReportError(
                f"{path}: no '{_VSYNTH_ROWS[key][0]}' row found; expected Vivado report_utilization output"
            )
    return {
        "resources": {k: found[k] for k in RESOURCES if k in found},
        "tool": tool.group(1) if tool else None,
        "part": dev.group(1) if dev else None,
        "design": design.group(1) if design else None,
    }
