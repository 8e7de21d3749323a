"""C-synthesis reports: ``<top>_csynth.xml`` and ``<top>_csynth.rpt`` (and hls4ml's own parser
where it applies)."""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .parse import percent, read_number, read_text, time_ns
from .records import RESOURCES, ReportError, Resource

_XML_REQUIRED = (
    "ReportVersion/Version",
    "UserAssignments/Part",
    "UserAssignments/TargetClockPeriod",
    "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod",
    "PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency",
    "PerformanceEstimates/SummaryOfOverallLatency/Worst-caseLatency",
    "PerformanceEstimates/SummaryOfOverallLatency/Interval-min",
    "PerformanceEstimates/SummaryOfOverallLatency/Interval-max",
)


def check_csynth_xml(path: Path) -> ET.Element:
    """Parse and check the csynth XML; hls4ml's parser would raise a bare ParseError or
    AttributeError ('NoneType' object has no attribute 'text') without naming the file."""
    what = "a Vivado/Vitis HLS csynth report (XML)"
    text = read_text(path, what)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReportError(f"{path}: malformed or truncated XML ({e}); expected {what}") from e
    if root.tag != "profile":
        raise ReportError(f"{path}: root element is <{root.tag}>, expected <profile> of {what}")
    for xpath in _XML_REQUIRED:
        node = root.find(xpath)
        if node is None or not (node.text or "").strip():
            raise ReportError(f"{path}: missing <{xpath}>; expected {what}")
    for group in ("Resources", "AvailableResources"):
        node = root.find(f"AreaEstimates/{group}")
        if node is None:
            raise ReportError(f"{path}: missing <AreaEstimates/{group}>; expected {what}")
        tags = {"DSP" if c.tag == "DSP48E" else c.tag for c in node}
        missing = [r for r in ("BRAM_18K", "DSP", "FF", "LUT") if r not in tags]
        if missing:
            raise ReportError(f"{path}: <AreaEstimates/{group}> has no {', '.join(missing)}; expected {what}")
    return root


def xml_strings(root: ET.Element) -> dict:
    """The csynth XML's summary as strings, under the keys of hls4ml's ``CSynthesisReport``
    (which ``parse_vivado_report`` returns for the layouts it can read)."""
    perf = root.find("PerformanceEstimates")
    out = {
        "TargetClockPeriod": root.findtext("UserAssignments/TargetClockPeriod"),
        "EstimatedClockPeriod": perf.findtext("SummaryOfTimingAnalysis/EstimatedClockPeriod"),
        "BestLatency": perf.findtext("SummaryOfOverallLatency/Best-caseLatency"),
        "WorstLatency": perf.findtext("SummaryOfOverallLatency/Worst-caseLatency"),
        "IntervalMin": perf.findtext("SummaryOfOverallLatency/Interval-min"),
        "IntervalMax": perf.findtext("SummaryOfOverallLatency/Interval-max"),
    }
    for child in root.find("AreaEstimates/Resources"):
        out["DSP" if child.tag == "DSP48E" else child.tag] = child.text
    for child in root.find("AreaEstimates/AvailableResources"):
        out["Available" + ("DSP" if child.tag == "DSP48E" else child.tag)] = child.text
    return out


def csynth_from_xml(path: Path, strings: dict | None = None) -> dict:
    """Typed values of a csynth XML (``strings``: hls4ml's CSynthesisReport for this file)."""
    root = check_csynth_xml(path)
    s = strings if strings is not None else xml_strings(root)
    unc = root.findtext("UserAssignments/ClockUncertainty")
    v = {
        "tool_version": root.findtext("ReportVersion/Version").strip(),
        "part": root.findtext("UserAssignments/Part").strip(),
        "top": (root.findtext("UserAssignments/TopModelName") or "").strip() or None,
        "target_clock_ns": read_number(s["TargetClockPeriod"], path, "TargetClockPeriod", float),
        "clock_uncertainty_ns": read_number(unc, path, "ClockUncertainty", float) if unc and unc.strip() else None,
        "estimated_clock_ns": read_number(s["EstimatedClockPeriod"], path, "EstimatedClockPeriod", float),
        "latency_best_cycles": read_number(s["BestLatency"], path, "BestLatency", int, True),
        "latency_worst_cycles": read_number(s["WorstLatency"], path, "WorstLatency", int, True),
        "interval_min_cycles": read_number(s["IntervalMin"], path, "IntervalMin", int, True),
        "interval_max_cycles": read_number(s["IntervalMax"], path, "IntervalMax", int, True),
    }
    perf = "PerformanceEstimates/SummaryOfOverallLatency/"
    for which in ("best", "worst"):
        text = root.findtext(f"{perf}{which.capitalize()}-caseRealTimeLatency")
        v[f"latency_{which}_ns"] = time_ns(text, path, f"{which.capitalize()}-caseRealTimeLatency")
    v["resources"] = {}
    for r in RESOURCES:
        if r in s or "Available" + r in s:
            used = read_number(s.get(r, 0), path, r)
            avail = read_number(s.get("Available" + r, 0), path, "Available" + r)
            v["resources"][r] = Resource(used, avail, percent(used, avail))
    return v


def table_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def csynth_from_rpt(path: Path) -> dict:
    """Typed values of a csynth text report (``<top>_csynth.rpt``), Vivado HLS 2019.x to
    Vitis HLS 2024.x: header (tool, version, part), timing summary, latency summary and the
    "Total"/"Available" rows of the utilisation summary."""
    what = "a Vivado/Vitis HLS csynth text report"
    text = read_text(path, what).replace("\r\n", "\n")
    head = re.search(r"^== (Vivado HLS|Vitis HLS) Report for '([^']+)'", text, re.M)
    if not head:
        raise ReportError(f"{path}: no '== Vivado HLS Report for' / '== Vitis HLS Report for' header; expected {what}")
    v: dict = {"tool": head.group(1), "top": head.group(2)}
    ver = re.search(r"^\* Version:\s+(\S+)(.*)$", text, re.M)
    dev = re.search(r"^\* Target device:\s+(\S+)", text, re.M)
    if not ver or not dev:
        raise ReportError(f"{path}: header has no '* Version:' or '* Target device:' line; expected {what}")
    v["tool_version"], v["tool_build"], v["part"] = ver.group(1), (ver.group(1) + ver.group(2)).strip(), dev.group(1)

    clock = re.search(r"Clock\s*\|\s*Target\s*\|\s*Estimated\s*\|\s*Uncertainty\s*\|\n.*?\n(\s*\|[^\n]*)", text)
    if not clock:
        raise ReportError(f"{path}: missing section 'Timing' (Clock | Target | Estimated | Uncertainty); expected {what}")
    cells = table_cells(clock.group(1))
    if len(cells) < 4:
        raise ReportError(f"{path}: truncated timing table; expected {what}")
    for key, cell in zip(("target_clock_ns", "estimated_clock_ns", "clock_uncertainty_ns"), cells[1:4]):
        v[key] = time_ns(cell, path, f"timing summary {key.split('_')[0]}") if cell else None

    lat = re.search(
        r"\+ Latency:.*?\|\s*min\s*\|\s*max\s*\|\s*min\s*\|\s*max\s*\|\s*min\s*\|\s*max\s*\|[^\n]*\n[^\n]*\n(\s*\|[^\n]*)",
        text,
        re.S,
    )
    if not lat:
        raise ReportError(f"{path}: missing section 'Latency' summary table; expected {what}")
    cells = table_cells(lat.group(1))
    if len(cells) < 6:
        raise ReportError(f"{path}: truncated latency table; expected {what}")
    v["latency_best_cycles"] = read_number(cells[0], path, "latency min (cycles)", int, True)
    v["latency_worst_cycles"] = read_number(cells[1], path, "latency max (cycles)", int, True)
    v["latency_best_ns"] = time_ns(cells[2], path, "latency min (absolute)")
    v["latency_worst_ns"] = time_ns(cells[3], path, "latency max (absolute)")
    v["interval_min_cycles"] = read_number(cells[4], path, "interval min", int, True)
    v["interval_max_cycles"] = read_number(cells[5], path, "interval max", int, True)

    util = text.find("== Utilization Estimates")
    hdr = re.compile(r"^\|\s*Name\s*\|(.*)\|\s*$", re.M).search(text, util if util >= 0 else 0)
    if util < 0 or not hdr:
        raise ReportError(f"{path}: missing section 'Utilization Estimates'; expected {what}")
    names = ["DSP" if c == "DSP48E" else c for c in table_cells(hdr.group(1))]
    rows = {}
    for m in re.finditer(r"^\|(Total|Available)\s*\|(.*)\|\s*$", text[hdr.end() :], re.M):
        rows.setdefault(m.group(1), table_cells(m.group(2)))
        if len(rows) == 2:
            break
    if set(rows) != {"Total", "Available"}:
        raise ReportError(
            f"{path}: utilisation summary has no 'Total' and 'Available' rows (truncated?); expected {what}"
        )
    v["resources"] = {}
    for r in RESOURCES:
        if r in names:
            i = names.index(r)
            used = read_number(rows["Total"][i], path, f"Total {r}")
            avail = read_number(rows["Available"][i], path, f"Available {r}")
            v["resources"][r] = Resource(used, avail, percent(used, avail))
    return v


def hls4ml_csynth(root: Path) -> dict | None:
    """hls4ml's ``parse_vivado_report(root)['CSynthesisReport']``, its progress messages kept
    out of our output; None where it cannot read the project (notes say why)."""
    from hls4ml.report import parse_vivado_report

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            report = parse_vivado_report(str(root))
        except Exception:  # e.g. KeyError 'RTL' on a cosim report whose rows are all NA
            return None
    return (report or {}).get("CSynthesisReport")
