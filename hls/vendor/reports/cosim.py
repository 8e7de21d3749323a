"""Co-simulation: ``<solution>/sim/report/<top>_cosim.rpt``."""

from __future__ import annotations

import re
from pathlib import Path

from .csynth import table_cells
from .parse import read_number, read_text
from .records import CosimResult, ReportError


def read_cosim(path: Path) -> CosimResult | None:
    """The first RTL row with a status other than NA in ``<top>_cosim.rpt``; None if all NA."""
    what = "a C/RTL co-simulation report"
    text = read_text(path, what)
    rows = [table_cells(m.group(0)) for m in re.finditer(r"^\|\s*(VHDL|Verilog|SystemC)\s*\|.*$", text, re.M)]
    if not rows:
        raise ReportError(f"{path}: no VHDL/Verilog result rows; expected {what}")
    for cells in rows:
        if len(cells) < 8:
            raise ReportError(f"{path}: result row for {cells[0]} is cut short; expected {what}")
        if cells[1] == "NA":
            continue
        n = [read_number(c, path, f"{cells[0]} column {i + 3}", int, True) for i, c in enumerate(cells[2:])]
        return CosimResult(cells[0], cells[1], *n[:6], n[6] if len(n) > 6 else None)
    return None
