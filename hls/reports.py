"""Read synthesis reports as users have them into one normalised record per (solution, top).

Layouts read (see ``docs/synthesis.md``; each has a real fixture in ``tests/fixtures/reports``):

* an hls4ml project: ``project.tcl`` (``set project_name``/``set backend`` as hls4ml 1.x
  writes it, or the older ``set myproject "..."`` with or without ``set backend``), and
  ``<name>_prj/{vivado_hls,hls}.app`` with ``<solution>/syn/report/<top>_csynth.{xml,rpt}``;
* a project without ``project.tcl``: the ``.app`` file names the solutions and the top
  function it synthesised (``top="..."``);
* several tops in one solution (hls4ml's ``VivadoAccelerator`` writes ``<name>_axi`` around
  ``<name>``): one record each, ``synthesised_top`` tells which one the ``.app`` names;
* several solutions: one record each, or only the one asked for (``solution=``);
* a Vitis Unified IDE component (2023.2 and later): ``<component>/vitis-comp.json`` and
  ``hls_config.cfg`` (``syn.top``, ``part``) with ``<work_dir>/hls/syn/report/`` (``csynth.xml``,
  ``<top>_csynth.{xml,rpt}``), ``hls/sim/report/`` and ``hls/impl/report/`` when present;
* loose report files in one folder (``<top>_csynth.rpt``/``.xml``, ``vivado_synth.rpt``);
* Vivado logic synthesis only: ``vivado_synth.rpt`` (``report_utilization`` output, in its
  UltraScale "CLB" and 7-series "Slice" forms), with or without C-synthesis reports;
* co-simulation: ``<solution>/sim/report/<top>_cosim.rpt`` (latency and II measured in RTL
  simulation; with and without the "Total Execution Time" column newer Vitis HLS adds).

Every number comes from a file (only the HLS resource percentages are computed, as
100 * used / available of the file's two numbers), and :attr:`SynthesisReport.sources` names
the file each field was read from.  Values that the csynth XML and the csynth text report
both give (version, part, clock, latency, interval, resources) are compared; so are the part
in ``project.tcl`` / ``hls_config.cfg``, the csynth XML and ``vivado_synth.rpt``.  Differences are listed in
:attr:`SynthesisReport.disagreements`, never silently resolved (the XML value is kept).

hls4ml's own parser, ``hls4ml.report.parse_vivado_report`` (hls4ml 1.3.0), is used for the
C-synthesis numbers where it applies: a project whose ``project.tcl`` hls4ml can read, the
first solution and the top hls4ml derives.  It cannot locate the reports in any other layout
(it needs a current ``project.tcl``; an old one makes it raise ``UnboundLocalError``), reads
only the first solution, and from ``vivado_synth.rpt`` only the "Used" column (not the part's
availability), so those parts are read here; ``tests/test_report_layouts.py`` shows each case.
Every file is checked before it is read: a missing section, a truncated or corrupt file raises
:class:`ReportError` naming the file, never a bare ``ParseError``/``AttributeError``.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")

_HOW_TO_SYNTH = (
    "run `kappa build --synth` or `python scripts/build_hls.py --synth` (needs Vitis HLS or "
    "Vivado HLS on PATH, e.g. `source /tools/Xilinx/Vitis/2023.2/settings64.sh`)"
)


class ReportError(ValueError):
    """A report set is missing, truncated or malformed, or the folder is not a report set.

    The message is one line and names the offending file (or directory) and what was expected.
    """


@dataclass
class Resource:
    """Usage of one FPGA resource: ``used`` of ``available`` units on the part.

    For HLS estimates ``percent`` is ``100 * used / available`` rounded to 0.01 (the text
    report prints it only as a whole number or ``~0``), or ``None`` when the part has none of
    that resource (``available == 0``, e.g. URAM on a Zynq-7000).  For ``vivado_synth.rpt``
    all three are the report's "Used", "Available" and "Util%" columns.
    """

    used: int
    available: int | None
    percent: float | None


@dataclass
class CosimResult:
    """C/RTL co-simulation result of one RTL language (``<top>_cosim.rpt``).

    ``status`` is the report's "Pass" or "Fail"; latency, interval and total execution time
    are in clock cycles as measured in RTL simulation, ``None`` where the report says "NA".
    """

    rtl: str
    status: str
    latency_min_cycles: int | None
    latency_avg_cycles: int | None
    latency_max_cycles: int | None
    interval_min_cycles: int | None
    interval_avg_cycles: int | None
    interval_max_cycles: int | None
    total_execution_cycles: int | None = None


@dataclass
class SynthesisReport:
    """The synthesis results of one top function in one solution, normalised over Vivado HLS,
    Vitis HLS and Vitis Unified, plus Vivado logic synthesis and co-simulation when present.

    Times are in nanoseconds, latency and interval in clock cycles; ``latency_*_ns`` is the
    report's own absolute latency ("50.000 ns", "1.975 us", converted to ns).  ``resources``
    are the HLS estimates keyed by ``BRAM_18K``, ``DSP`` (``DSP48E`` in Vivado HLS), ``FF``,
    ``LUT``, ``URAM``.  ``post_synth`` is the utilisation after Vivado logic synthesis
    (``vivado_synth.rpt``) with the same keys; its ``BRAM_18K`` is twice the report's "Block
    RAM Tile" count and availability (one tile is one RAMB36 = two RAMB18).  A latency or
    interval the tool could not bound ("undef", "?") is ``None``; so is every field whose file
    is absent (listed in ``missing``).  ``synthesised_top`` is True for the top the ``.app`` /
    component config names, False for another top found beside it, None when nothing says.
    ``files`` maps a role (``csynth_xml``, ``csynth_rpt``, ``vivado_synth_rpt``, ``cosim_rpt``,
    ``app``, ``project_tcl``, ...) to a path; ``sources`` maps each field to the file it was
    read from; ``disagreements`` lists values two files give differently.
    """

    name: str
    project_dir: str
    top: str
    solution: str | None = None
    synthesised_top: bool | None = None
    tool: str | None = None
    tool_version: str | None = None
    tool_build: str | None = None
    part: str | None = None
    target_clock_ns: float | None = None
    clock_uncertainty_ns: float | None = None
    estimated_clock_ns: float | None = None
    latency_best_cycles: int | None = None
    latency_worst_cycles: int | None = None
    latency_best_ns: float | None = None
    latency_worst_ns: float | None = None
    interval_min_cycles: int | None = None
    interval_max_cycles: int | None = None
    resources: dict[str, Resource] | None = None
    post_synth: dict[str, Resource] | None = None
    post_synth_tool: str | None = None
    post_synth_part: str | None = None
    cosim: CosimResult | None = None
    total_weight_bits: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the report as plain JSON-serialisable dicts, lists, numbers and strings."""
        return asdict(self)


# --------------------------------------------------------------------------- small readers


def _read_text(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReportError(f"{path}: cannot read {what}: {e.strerror}") from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportError(
            f"{path}: corrupted: invalid UTF-8 byte at offset {e.start}; expected {what} (plain text)"
        ) from e


def _num(value, path: Path, key: str, kind=int, allow_undef=False):
    if allow_undef and str(value).strip() in ("undef", "?", "NA", "-"):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ReportError(f"{path}: {key} is {value!r}, expected a number") from None
    if kind is int:
        if not x.is_integer():
            raise ReportError(f"{path}: {key} is {value!r}, expected a whole number")
        return int(x)
    return x


_TIME_UNITS = {"ps": Decimal("0.001"), "ns": Decimal(1), "us": Decimal(1000), "ms": Decimal(10**6), "s": Decimal(10**9)}


def _time_ns(text: str | None, path: Path, key: str) -> float | None:
    """'61.615 us' -> 61615.0 (ns), exactly as written (decimal scaling, no binary rounding)."""
    if text is None:
        return None
    text = text.strip()
    if text in ("undef", "?", "NA", "-", ""):
        return None
    m = re.fullmatch(r"([0-9.]+)\s*(ps|ns|us|ms|s)", text)
    if not m:
        raise ReportError(f"{path}: {key} is {text!r}, expected a time such as '50.000 ns' or '1.975 us'")
    try:
        return float(Decimal(m.group(1)) * _TIME_UNITS[m.group(2)])
    except InvalidOperation:
        raise ReportError(f"{path}: {key} is {text!r}, expected a time") from None


def _percent(used: int, available: int | None) -> float | None:
    return round(100.0 * used / available, 2) if available else None


def _norm_part(part: str) -> str:
    """Part names as the tools spell them differently: 'xc7z020clg400-1' (project.tcl),
    'xc7z020-clg400-1' (csynth XML), '7z020clg400-1' (vivado_synth.rpt, 7-series)."""
    p = part.lower().replace("-", "")
    return p[2:] if re.match(r"x[a-z]", p) else p


def _same_part(a: str, b: str) -> bool:
    a, b = _norm_part(a), _norm_part(b)
    return a.startswith(b) or b.startswith(a)  # the report drops the temperature grade ('-e')


# --------------------------------------------------------------------------- project files


@dataclass
class _ProjectTcl:
    path: Path
    name: str | None
    backend: str | None
    part: str | None
    clock_period: str | None
    hls4ml_readable: bool  # hls4ml's _parse_project_script works on it
    old_variable: str | None  # the variable naming the project in a format hls4ml cannot read


def _project_tcl(root: Path) -> _ProjectTcl | None:
    tcl = root / "project.tcl"
    if not tcl.is_file():
        return None
    text = _read_text(tcl, "hls4ml's project.tcl")

    def get(var):
        m = re.search(rf'^\s*set\s+{var}\s+"?([^"\s]+)"?', text, re.M)
        return m.group(1) if m else None

    name = get("project_name")
    old_name = get("myproject")  # hls4ml <= 0.6: `set myproject "myproject"`

    def quoted(var):  # hls4ml's _parse_project_script takes line.split('"')[-2]
        return re.search(rf'^\s*set\s+{var}\s+"[^"]+"', text, re.M) is not None

    readable = quoted("project_name") and quoted("backend")
    return _ProjectTcl(tcl, name or old_name, get("backend"), get("part"), get("clock_period"), readable,
                       None if readable else ("project_name" if name else "myproject" if old_name else None))


@dataclass
class _App:
    path: Path
    tool: str
    top: str | None
    solutions: list[str]


def _read_app(path: Path) -> _App:
    # Vitis writes <project xmlns="...">, older tools <AutoPilot:project xmlns:AutoPilot="...">;
    # hls4ml drops the default namespace the same way.
    text = re.sub(' xmlns="[^"]+"', "", _read_text(path, "an HLS project file (XML)"), count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReportError(f"{path}: malformed XML ({e}); expected an HLS project file") from e
    if root.tag.rsplit("}", 1)[-1] != "project":
        raise ReportError(f"{path}: root element is <{root.tag}>, expected <project> of an HLS project file")
    sols = [s.get("name") for s in root.findall("solutions/solution") if s.get("name")]
    tool = "Vivado HLS" if path.name == "vivado_hls.app" else "Vitis HLS"
    return _App(path, tool, root.get("top"), sols)


def _component(dir_: Path) -> tuple[Path, str | None, str | None, list[Path]] | None:
    """A Vitis Unified component: (config file, syn.top, part, work directories with hls/)."""
    comp, cfg = dir_ / "vitis-comp.json", dir_ / "hls_config.cfg"
    if not comp.is_file() and not cfg.is_file():
        return None
    work = []
    cfg_files = [cfg] if cfg.is_file() else []
    if comp.is_file():
        try:
            data = json.loads(_read_text(comp, "a Vitis component file (JSON)"))
            conf = data.get("configuration", {})
            wd = conf.get("work_dir")
            cfg_files = [dir_ / c for c in conf.get("configFiles", [])] or cfg_files
        except (json.JSONDecodeError, AttributeError) as e:
            raise ReportError(f"{comp}: malformed JSON ({e}); expected a Vitis component file") from e
        if wd and (dir_ / wd / "hls").is_dir():
            work.append(dir_ / wd)
    work += [d.parent for d in sorted(dir_.glob("*/hls")) if d.is_dir() and d.parent not in work]
    top = part = None
    used_cfg = None
    for c in cfg_files:
        if not c.is_file():
            continue
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string("[__top__]\n" + _read_text(c, "a Vitis HLS config file"))
        except configparser.Error as e:
            raise ReportError(f"{c}: malformed config ({e.message.splitlines()[0]}); expected key=value lines") from e
        used_cfg = c
        part = part or parser.get("__top__", "part", fallback=None)
        top = top or parser.get("hls", "syn.top", fallback=None)
    return (used_cfg or comp), top, part, work


# --------------------------------------------------------------------------- csynth reports

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


def _check_csynth_xml(path: Path) -> ET.Element:
    """Parse and check the csynth XML; hls4ml's parser would raise a bare ParseError or
    AttributeError ('NoneType' object has no attribute 'text') without naming the file."""
    what = "a Vivado/Vitis HLS csynth report (XML)"
    text = _read_text(path, what)
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


def _xml_strings(root: ET.Element) -> dict:
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


def _csynth_from_xml(path: Path, strings: dict | None = None) -> dict:
    """Typed values of a csynth XML (``strings``: hls4ml's CSynthesisReport for this file)."""
    root = _check_csynth_xml(path)
    s = strings if strings is not None else _xml_strings(root)
    unc = root.findtext("UserAssignments/ClockUncertainty")
    v = {
        "tool_version": root.findtext("ReportVersion/Version").strip(),
        "part": root.findtext("UserAssignments/Part").strip(),
        "top": (root.findtext("UserAssignments/TopModelName") or "").strip() or None,
        "target_clock_ns": _num(s["TargetClockPeriod"], path, "TargetClockPeriod", float),
        "clock_uncertainty_ns": _num(unc, path, "ClockUncertainty", float) if unc and unc.strip() else None,
        "estimated_clock_ns": _num(s["EstimatedClockPeriod"], path, "EstimatedClockPeriod", float),
        "latency_best_cycles": _num(s["BestLatency"], path, "BestLatency", int, True),
        "latency_worst_cycles": _num(s["WorstLatency"], path, "WorstLatency", int, True),
        "interval_min_cycles": _num(s["IntervalMin"], path, "IntervalMin", int, True),
        "interval_max_cycles": _num(s["IntervalMax"], path, "IntervalMax", int, True),
    }
    perf = "PerformanceEstimates/SummaryOfOverallLatency/"
    for which in ("best", "worst"):
        text = root.findtext(f"{perf}{which.capitalize()}-caseRealTimeLatency")
        v[f"latency_{which}_ns"] = _time_ns(text, path, f"{which.capitalize()}-caseRealTimeLatency")
    v["resources"] = {}
    for r in RESOURCES:
        if r in s or "Available" + r in s:
            used = _num(s.get(r, 0), path, r)
            avail = _num(s.get("Available" + r, 0), path, "Available" + r)
            v["resources"][r] = Resource(used, avail, _percent(used, avail))
    return v


def _table_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _csynth_from_rpt(path: Path) -> dict:
    """Typed values of a csynth text report (``<top>_csynth.rpt``), Vivado HLS 2019.x to
    Vitis HLS 2024.x: header (tool, version, part), timing summary, latency summary and the
    "Total"/"Available" rows of the utilisation summary."""
    what = "a Vivado/Vitis HLS csynth text report"
    text = _read_text(path, what).replace("\r\n", "\n")
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
    cells = _table_cells(clock.group(1))
    if len(cells) < 4:
        raise ReportError(f"{path}: truncated timing table; expected {what}")
    for key, cell in zip(("target_clock_ns", "estimated_clock_ns", "clock_uncertainty_ns"), cells[1:4]):
        v[key] = _time_ns(cell, path, f"timing summary {key.split('_')[0]}") if cell else None

    lat = re.search(r"\+ Latency:.*?\|\s*min\s*\|\s*max\s*\|\s*min\s*\|\s*max\s*\|\s*min\s*\|\s*max\s*\|[^\n]*\n[^\n]*\n(\s*\|[^\n]*)", text, re.S)
    if not lat:
        raise ReportError(f"{path}: missing section 'Latency' summary table; expected {what}")
    cells = _table_cells(lat.group(1))
    if len(cells) < 6:
        raise ReportError(f"{path}: truncated latency table; expected {what}")
    v["latency_best_cycles"] = _num(cells[0], path, "latency min (cycles)", int, True)
    v["latency_worst_cycles"] = _num(cells[1], path, "latency max (cycles)", int, True)
    v["latency_best_ns"] = _time_ns(cells[2], path, "latency min (absolute)")
    v["latency_worst_ns"] = _time_ns(cells[3], path, "latency max (absolute)")
    v["interval_min_cycles"] = _num(cells[4], path, "interval min", int, True)
    v["interval_max_cycles"] = _num(cells[5], path, "interval max", int, True)

    util = text.find("== Utilization Estimates")
    hdr = re.compile(r"^\|\s*Name\s*\|(.*)\|\s*$", re.M).search(text, util if util >= 0 else 0)
    if util < 0 or not hdr:
        raise ReportError(f"{path}: missing section 'Utilization Estimates'; expected {what}")
    names = ["DSP" if c == "DSP48E" else c for c in _table_cells(hdr.group(1))]
    rows = {}
    for m in re.finditer(r"^\|(Total|Available)\s*\|(.*)\|\s*$", text[hdr.end():], re.M):
        rows.setdefault(m.group(1), _table_cells(m.group(2)))
        if len(rows) == 2:
            break
    if set(rows) != {"Total", "Available"}:
        raise ReportError(f"{path}: utilisation summary has no 'Total' and 'Available' rows (truncated?); expected {what}")
    v["resources"] = {}
    for r in RESOURCES:
        if r in names:
            i = names.index(r)
            used = _num(rows["Total"][i], path, f"Total {r}")
            avail = _num(rows["Available"][i], path, f"Available {r}")
            v["resources"][r] = Resource(used, avail, _percent(used, avail))
    return v


# --------------------------------------------------------------------------- other reports


def _check_vivado_synth_rpt(path: Path) -> str:
    """Check vivado_synth.rpt is a complete report_utilization output; return its text.

    hls4ml's parser scans it line by line and keeps whatever rows it meets, so a file cut in
    half (e.g. inside the DSP table) still yields numbers.  Completeness is checked here:
    every section named in the report's own "Table of Contents" must appear again as a heading.
    """
    what = "Vivado report_utilization output"
    text = _read_text(path, what).replace("\r\n", "\n")
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


def _vivado_synth(path: Path) -> dict:
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
        cells = _table_cells(line)
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
                    raise ReportError(f"{path}: row '{name}' is cut short; expected Vivado report_utilization output") from None
                if key == "BRAM_18K":  # tiles are RAMB36 = 2 x RAMB18; 0.5 tile = one RAMB18
                    used = round(2 * _num(used_s, path, name, float))
                    avail = round(2 * _num(avail_s, path, f"{name} Available", float))
                else:
                    used, avail = _num(used_s, path, name), _num(avail_s, path, f"{name} Available")
                found[key] = Resource(used, avail, _num(pct_s, path, f"{name} Util%", float) if pct_s else _percent(used, avail))
    for key in ("LUT", "FF", "BRAM_18K", "DSP"):
        if key not in found:
            raise ReportError(f"{path}: no '{_VSYNTH_ROWS[key][0]}' row found; expected Vivado report_utilization output")
    return {
        "resources": {k: found[k] for k in RESOURCES if k in found},
        "tool": tool.group(1) if tool else None,
        "part": dev.group(1) if dev else None,
        "design": design.group(1) if design else None,
    }


def _cosim(path: Path) -> CosimResult | None:
    """The first RTL row with a status other than NA in ``<top>_cosim.rpt``; None if all NA."""
    what = "a C/RTL co-simulation report"
    text = _read_text(path, what)
    rows = [_table_cells(m.group(0)) for m in re.finditer(r"^\|\s*(VHDL|Verilog|SystemC)\s*\|.*$", text, re.M)]
    if not rows:
        raise ReportError(f"{path}: no VHDL/Verilog result rows; expected {what}")
    for cells in rows:
        if len(cells) < 8:
            raise ReportError(f"{path}: result row for {cells[0]} is cut short; expected {what}")
        if cells[1] == "NA":
            continue
        n = [_num(c, path, f"{cells[0]} column {i + 3}", int, True) for i, c in enumerate(cells[2:])]
        return CosimResult(cells[0], cells[1], *n[:6], n[6] if len(n) > 6 else None)
    return None


def _hls4ml_csynth(root: Path) -> dict | None:
    """hls4ml's ``parse_vivado_report(root)['CSynthesisReport']``, its progress messages kept
    out of our output; None where it cannot read the project (notes say why)."""
    from hls4ml.report import parse_vivado_report

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            report = parse_vivado_report(str(root))
        except Exception:  # e.g. KeyError 'RTL' on a cosim report whose rows are all NA
            return None
    return (report or {}).get("CSynthesisReport")


def _weight_bits(project_dir: Path) -> int | None:
    manifest = project_dir / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        bits = json.loads(_read_text(manifest, "a JSON manifest")).get("total_weight_bits")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ReportError(f"{manifest}: malformed JSON ({e}); expected a JSON object") from e
    return None if bits is None else _num(bits, manifest, "total_weight_bits")


# --------------------------------------------------------------------------- locating


@dataclass
class _Target:
    """One (solution, top) to read."""

    top: str
    solution: str | None
    report_dir: Path | None
    sim_dir: Path | None = None
    impl_dir: Path | None = None
    synthesised: bool | None = None
    tool: str | None = None
    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    expected_part: tuple | None = None  # (part, file) from project.tcl / hls_config.cfg
    hls4ml_first: bool = False  # the project, solution and top hls4ml's parser reads


def _tops_in(report_dir: Path) -> list[str]:
    return sorted({p.name[: -len("_csynth.xml")] for p in report_dir.glob("*_csynth.xml")}
                  | {p.name[: -len("_csynth.rpt")] for p in report_dir.glob("*_csynth.rpt")})


def _has_csynth(report_dir: Path | None, top: str) -> bool:
    return report_dir is not None and any((report_dir / f"{top}_csynth.{e}").is_file() for e in ("xml", "rpt"))


def _top_of_csynth_xml(report_dir: Path) -> str | None:
    x = report_dir / "csynth.xml"
    if not x.is_file():
        return None
    root = _check_csynth_xml(x)
    return (root.findtext("UserAssignments/TopModelName") or "").strip() or None


def _targets(root: Path, solution: str | None) -> list[_Target]:
    tcl = _project_tcl(root)
    found: list[_Target] = []
    notes = []
    if tcl and not tcl.name:
        notes.append(f"{tcl.path.name} names no project (no `set project_name` or `set myproject` line)")
    if tcl and tcl.name and not tcl.hls4ml_readable:
        notes.append(f"{tcl.path.name} is in an older hls4ml format (`set {tcl.old_variable}`"
                     f"{'' if tcl.backend else ', no `set backend`'}); project name {tcl.name!r} read from it")
    part = (tcl.part, str(tcl.path)) if tcl and tcl.part else None

    # classic HLS projects: <root>/<x>/*.app, or root itself is the <name>_prj folder
    prj_dirs = []
    if tcl and tcl.name and (root / f"{tcl.name}_prj").is_dir():
        prj_dirs.append(root / f"{tcl.name}_prj")
    for app in sorted(root.glob("*/vivado_hls.app")) + sorted(root.glob("*/hls.app")) + [
            p for p in (root / "vivado_hls.app", root / "hls.app") if p.is_file()]:
        if app.parent not in prj_dirs:
            prj_dirs.append(app.parent)
    for prj in prj_dirs:
        apps = [prj / "vivado_hls.app", prj / "hls.app"]
        app_path = next((a for a in apps if a.is_file()), None)
        if app_path is None:
            continue
        app = _read_app(app_path)
        sols = app.solutions
        if solution is not None:
            if solution not in sols:
                raise ReportError(f"{app_path}: no solution {solution!r}; solutions: {', '.join(sols) or 'none'}")
            sols = [solution]
        candidates = []
        for c in [app.top] + ([tcl.name, tcl.name + "_axi"] if tcl and tcl.name else []):
            if c and c not in candidates:
                candidates.append(c)
        for sol in sols:
            rdir = prj / sol / "syn" / "report"
            tops = [t for t in candidates if _has_csynth(rdir, t)]
            if not tops:
                tops = [candidates[0]] if candidates else _tops_in(rdir)[:1]
            for top in tops:
                t = _Target(top, sol, rdir, prj / sol / "sim" / "report", prj / sol / "impl" / "report",
                            synthesised=(top == app.top) if app.top else None, tool=app.tool,
                            files={"app": str(app_path)}, notes=list(notes), expected_part=part)
                if not (prj / sol).is_dir():
                    t.notes.append(f"{app_path.name} lists solution {sol!r}, which has no folder")
                if tcl:
                    t.files["project_tcl"] = str(tcl.path)
                else:
                    t.notes.append(f"no project.tcl: solution and top read from {app_path.name}")
                if tcl and tcl.hls4ml_readable and sol == app.solutions[0] and prj.name == f"{tcl.name}_prj":
                    hls4ml_top = tcl.name + ("_axi" if "accelerator" in tcl.backend.lower() else "")
                    t.hls4ml_first = top == hls4ml_top
                found.append(t)

    # Vitis Unified components: root is the component, or holds components
    for comp_dir in [root] + sorted(d for d in root.iterdir() if d.is_dir()):
        comp = _component(comp_dir)
        if comp is None:
            continue
        cfg, cfg_top, cfg_part, work = comp
        for wd in work:
            hls_dir = wd / "hls"
            rdir = hls_dir / "syn" / "report"
            top = cfg_top or (_top_of_csynth_xml(rdir) if rdir.is_dir() else None)
            tops = [top] if top else (_tops_in(rdir) if rdir.is_dir() else [])
            for tp in tops or [wd.name]:
                t = _Target(tp, None, rdir, hls_dir / "sim" / "report", hls_dir / "impl" / "report",
                            synthesised=(tp == cfg_top) if cfg_top else None, tool="Vitis HLS",
                            files={"component_config": str(cfg)},
                            notes=[f"Vitis Unified component {comp_dir.name!r}, work directory {wd.name!r}"],
                            expected_part=(cfg_part, str(cfg)) if cfg_part else None)
                found.append(t)

    # loose report files: root holds <top>_csynth.rpt/.xml, or root is a solution, its report
    # folder, or a Vitis Unified work directory (<work_dir>/hls/syn/report)
    if not found:
        for rdir in (root, root / "syn" / "report", root / "report", root / "hls" / "syn" / "report"):
            if rdir.is_dir() and _tops_in(rdir):
                synth_top = _top_of_csynth_xml(rdir)
                tops = [synth_top] if synth_top else _tops_in(rdir)
                for top in tops:
                    sol_dir = rdir.parent.parent if rdir.name == "report" and rdir.parent.name == "syn" else None
                    found.append(_Target(top, sol_dir.name if sol_dir and sol_dir.name != "hls" else None, rdir,
                                         sol_dir / "sim" / "report" if sol_dir else None,
                                         synthesised=True if synth_top else None,
                                         notes=notes + ["report files without an HLS project file (.app)"],
                                         expected_part=part))
                break
    return found


# --------------------------------------------------------------------------- assembling

_COMPARED = ("tool_version", "part", "target_clock_ns", "estimated_clock_ns", "clock_uncertainty_ns",
             "latency_best_cycles", "latency_worst_cycles", "latency_best_ns", "latency_worst_ns",
             "interval_min_cycles", "interval_max_cycles")


_OPTIONAL_IN_XML = ("clock_uncertainty_ns", "latency_best_ns", "latency_worst_ns")


def _differ(key, a, b) -> bool:
    if a is None and b is None:
        return False
    if a is None or b is None:  # "undef" in one file, a number in the other; or a field one lacks
        return key.endswith("_cycles")
    if key == "part":
        return not _same_part(a, b)
    if key == "tool_version":  # the text report may add a patch level ("2019.2.1" in both, or not)
        return not (a.startswith(b) or b.startswith(a))
    return a != b


def _read_target(root: Path, t: _Target, vsynth: dict | None, vsynth_path: Path, attach_vsynth: bool) -> SynthesisReport:
    r = SynthesisReport(name=root.name, project_dir=str(root), top=t.top, solution=t.solution,
                        synthesised_top=t.synthesised, tool=t.tool, files=dict(t.files), notes=list(t.notes))
    xml = t.report_dir / f"{t.top}_csynth.xml" if t.report_dir else None
    rpt = t.report_dir / f"{t.top}_csynth.rpt" if t.report_dir else None
    if xml is not None and not xml.is_file() and t.report_dir is not None and _top_of_csynth_xml(t.report_dir) == t.top:
        xml = t.report_dir / "csynth.xml"  # Vitis writes the top's summary as csynth.xml too
    have_xml = xml is not None and xml.is_file()
    have_rpt = rpt is not None and rpt.is_file()
    from_xml = from_rpt = None
    if have_xml:
        strings = None
        if t.hls4ml_first:
            strings = _hls4ml_csynth(root)
            if strings is None:
                r.notes.append("hls4ml's parse_vivado_report could not read this project; csynth XML read directly")
            else:
                r.notes.append("C-synthesis numbers read with hls4ml's parse_vivado_report")
        from_xml = _csynth_from_xml(xml, strings)
        r.files["csynth_xml"] = str(xml)
    if have_rpt:
        from_rpt = _csynth_from_rpt(rpt)
        r.files["csynth_rpt"] = str(rpt)
    if not have_xml and not have_rpt:
        where = f"{t.top}_csynth.xml"
        if t.report_dir is not None:
            where = str((t.report_dir / where).relative_to(root)) if t.report_dir.is_relative_to(root) else str(t.report_dir / where)
        r.missing.append(f"C-synthesis report ({where})")
    primary, primary_path = (from_xml, xml) if from_xml else (from_rpt, rpt)
    if primary:
        for key in _COMPARED + ("resources",):
            val = primary.get(key)
            src = primary_path
            if (val is None and key in _OPTIONAL_IN_XML and from_rpt and from_rpt.get(key) is not None
                    and primary is not from_rpt):  # older XML lacks these; "undef" cycles stay None
                val, src = from_rpt[key], rpt
            if val is not None:
                setattr(r, key, val)
                r.sources[key] = str(src)
        if r.latency_best_cycles is None:
            r.latency_best_ns = None
        if r.latency_worst_cycles is None:
            r.latency_worst_ns = None
        if from_rpt:
            r.tool = from_rpt["tool"]
            r.tool_build = from_rpt["tool_build"]
            r.sources["tool"] = r.sources["tool_build"] = str(rpt)
        elif r.tool:
            r.sources["tool"] = t.files.get("app") or t.files.get("component_config")
        if from_xml and from_rpt:
            for key in _COMPARED:
                if _differ(key, from_xml.get(key), from_rpt.get(key)):
                    r.disagreements.append(f"{key}: {xml.name} says {from_xml[key]}, {rpt.name} says {from_rpt[key]}")
            for res, a in from_xml["resources"].items():
                b = from_rpt["resources"].get(res)
                if b and (a.used, a.available) != (b.used, b.available):
                    r.disagreements.append(f"{res}: {xml.name} says {a.used} of {a.available}, "
                                           f"{rpt.name} says {b.used} of {b.available}")
        app_tool = t.tool
        if from_rpt and app_tool and app_tool != from_rpt["tool"]:
            r.disagreements.append(f"tool: {Path(t.files['app']).name} is a {app_tool} project file, "
                                   f"{rpt.name} says {from_rpt['tool']}")
        if t.expected_part and r.part and not _same_part(t.expected_part[0], r.part):
            r.disagreements.append(f"part: {Path(t.expected_part[1]).name} says {t.expected_part[0]}, "
                                   f"{Path(r.sources['part']).name} says {r.part}")
        if t.synthesised is False:
            r.notes.append(f"{t.top} is not the top the project file names")
    elif t.tool:
        r.sources["tool"] = t.files.get("app") or t.files.get("component_config")

    if vsynth is not None and attach_vsynth:
        r.post_synth = vsynth["resources"]
        r.post_synth_tool, r.post_synth_part = vsynth["tool"], vsynth["part"]
        r.files["vivado_synth_rpt"] = str(vsynth_path)
        for k in ("post_synth", "post_synth_tool", "post_synth_part"):
            r.sources[k] = str(vsynth_path)
        if vsynth["part"]:
            ref = (r.part, r.sources.get("part")) if r.part else t.expected_part
            if ref and ref[0] and not _same_part(ref[0], vsynth["part"]):
                r.disagreements.append(f"part: {Path(ref[1]).name} says {ref[0]}, {vsynth_path.name} says {vsynth['part']}")
            if not r.part:
                r.part = vsynth["part"]
                r.sources["part"] = str(vsynth_path)
    else:
        r.missing.append("Vivado synthesis report (vivado_synth.rpt)")

    cosim = t.sim_dir / f"{t.top}_cosim.rpt" if t.sim_dir else None
    if cosim is not None and cosim.is_file():
        r.cosim = _cosim(cosim)
        r.files["cosim_rpt"] = str(cosim)
        r.sources["cosim"] = str(cosim)
        if r.cosim is None:
            r.notes.append(f"{cosim.name}: no RTL was simulated (all rows NA)")
    else:
        r.missing.append("co-simulation report" + (f" ({t.top}_cosim.rpt)" if t.sim_dir else ""))
    if t.impl_dir is not None and t.impl_dir.is_dir():
        present = sorted(str(p.relative_to(t.impl_dir)) for p in t.impl_dir.rglob("*") if p.is_file())
        if present:
            r.files["impl_report_dir"] = str(t.impl_dir)
            r.notes.append(f"implementation reports present, not read: {', '.join(present[:4])}")
    return r


def read_reports(path, solution: str | None = None) -> list[SynthesisReport]:
    """Read every report set under ``path``: one :class:`SynthesisReport` per solution and top.

    ``path`` is an hls4ml project, a Vivado/Vitis HLS project folder (with its ``.app``), a
    Vitis Unified component (or a folder holding components), or a folder of loose report
    files (``<top>_csynth.rpt``/``.xml`` and/or ``vivado_synth.rpt``).  ``solution`` keeps only
    that solution.  Files that are absent are listed in each report's ``missing``.

    Raises :class:`ReportError` (one line, naming the file or folder) when ``path`` does not
    exist or holds no report set, when an hls4ml project was never synthesised, when
    ``solution`` does not exist, and when a file is unreadable, truncated or malformed.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise ReportError(f"{root}: no such project directory")
    targets = _targets(root, solution)
    vs_path = root / "vivado_synth.rpt"
    vsynth = _vivado_synth(vs_path) if vs_path.is_file() else None
    if vsynth and not targets:
        targets = [_Target(vsynth["design"] or root.name, None, None,
                           notes=["Vivado logic synthesis report only"])]
    if not targets:
        tcl = root / "project.tcl"
        if tcl.is_file():
            raise ReportError(f"{root}: project has not been synthesised (no solution folder beside a "
                              f"vivado_hls.app/hls.app, no vivado_synth.rpt); {_HOW_TO_SYNTH}")
        raise ReportError(
            f"{root}: not a report set: found no project.tcl, no vivado_hls.app/hls.app, no Vitis component "
            "(vitis-comp.json/hls_config.cfg), no *_csynth.rpt/.xml and no vivado_synth.rpt")
    # vivado_synth.rpt belongs to the design it names (hls4ml synthesises <name>, not <name>_axi)
    design_tops = {t.top for t in targets if vsynth and t.top == vsynth["design"]}
    reports = [_read_target(root, t, vsynth, vs_path, vsynth is not None and (not design_tops or t.top in design_tops))
               for t in targets]
    if all("csynth_xml" not in r.files and "csynth_rpt" not in r.files and r.post_synth is None
           and r.cosim is None for r in reports):
        where = targets[0].report_dir or root
        raise ReportError(
            f"{root}: project has not been synthesised (no {targets[0].top}_csynth.xml in "
            f"{Path(where).relative_to(root) if Path(where).is_relative_to(root) else where}); {_HOW_TO_SYNTH}")
    bits = _weight_bits(root)
    for r in reports:
        r.total_weight_bits = bits
        if len(reports) > 1:
            r.name = f"{root.name}:{r.solution + '/' if r.solution else ''}{r.top}"
    return reports


def read_report(project_dir, solution: str | None = None) -> SynthesisReport:
    """Read the report of the top the project synthesised, in its first (or the given) solution.

    The same as ``read_reports(project_dir, solution)[0]`` after putting the synthesised top
    (the one the ``.app`` or component config names) first; see :func:`read_reports` for the
    layouts read and the errors raised (:class:`ReportError`).
    """
    reports = read_reports(project_dir, solution)
    chosen = next((r for r in reports if r.synthesised_top), reports[0])
    if chosen.solution is not None:
        first_sol = [r for r in reports if r.solution == reports[0].solution]
        chosen = next((r for r in first_sol if r.synthesised_top), first_sol[0])
    chosen.name = Path(chosen.project_dir).name
    return chosen


# --------------------------------------------------------------------------- presenting


def _fmt_res(r: Resource | None) -> str:
    if r is None:
        return "-"
    pct = "n/a" if r.percent is None else f"{r.percent:.1f}%"
    return f"{r.used} / {r.available} ({pct})"


def _fmt_cycles(cycles, ns_) -> str:
    if cycles is None:
        return "undef"
    return f"{cycles} cycles" + ("" if ns_ is None else f" ({ns_:.1f} ns)")


def _fmt_ns(x) -> str:
    return "-" if x is None else f"{x:.3f} ns"


def _fmt_range(lo, avg, hi) -> str:
    if lo is None and hi is None:
        return "NA"
    if lo == hi:
        return f"{lo} cycles"
    return f"{lo} - {hi} cycles" + ("" if avg is None else f" (avg {avg})")


def _rows(r: SynthesisReport) -> list[tuple[str, str]]:
    rows = []
    if r.solution is not None:
        rows.append(("Solution", r.solution))
    top = r.top + {True: " (synthesised top)", False: " (not the synthesised top)", None: ""}[r.synthesised_top]
    rows.append(("Top", top))
    if r.tool_version:  # only when a C-synthesis report was read
        rows.append(("Tool", f"{r.tool} {r.tool_version}"))
    rows.append(("Part", r.part or "-"))
    if r.resources is not None:
        ii = "undef" if r.interval_min_cycles is None else f"{r.interval_min_cycles}"
        if r.interval_max_cycles != r.interval_min_cycles:
            ii += f" - {'undef' if r.interval_max_cycles is None else r.interval_max_cycles}"
        rows += [
            ("Target clock", _fmt_ns(r.target_clock_ns)),
            ("Clock uncertainty", _fmt_ns(r.clock_uncertainty_ns)),
            ("Estimated clock", _fmt_ns(r.estimated_clock_ns)),
            ("Latency (best)", _fmt_cycles(r.latency_best_cycles, r.latency_best_ns)),
            ("Latency (worst)", _fmt_cycles(r.latency_worst_cycles, r.latency_worst_ns)),
            ("Interval (II)", f"{ii} cycles"),
        ]
    if r.total_weight_bits is not None:
        rows.append(("Total weight bits", str(r.total_weight_bits)))
    if r.resources is not None:
        rows += [(f"HLS {k}", _fmt_res(r.resources.get(k))) for k in RESOURCES if k in r.resources]
    post = r.post_synth or {}
    if r.post_synth_tool:
        rows.append(("Vivado synth tool", r.post_synth_tool))
    rows += [(f"Vivado synth {k}", _fmt_res(post[k])) for k in RESOURCES if k in post]
    if r.cosim is not None:
        c = r.cosim
        rows.append(("Co-sim", f"{c.status} ({c.rtl})"))
        rows.append(("Co-sim latency", _fmt_range(c.latency_min_cycles, c.latency_avg_cycles, c.latency_max_cycles)))
        rows.append(("Co-sim II", _fmt_range(c.interval_min_cycles, c.interval_avg_cycles, c.interval_max_cycles)))
    return rows


def format_table(reports) -> str:
    """Return a plain-text table of one or several :class:`SynthesisReport`.

    One report gives a two-column table (quantity, value); several give one column per
    report, side by side, with the union of their rows.  Latency is shown in cycles and in ns
    as the report gives it; resources as ``used / available (percent)``.  Below the table:
    one ``warning:`` line per disagreement between files, then ``missing:`` and ``note:`` lines.
    """
    if isinstance(reports, SynthesisReport):
        reports = [reports]
    reports = list(reports)
    if not reports:
        raise ValueError("format_table needs at least one report")
    per = [dict(_rows(r)) for r in reports]
    labels = []
    for r in reports:
        labels += [k for k, _ in _rows(r) if k not in labels]
    header = ["Project"] + [r.name for r in reports]
    body = [[k] + [p.get(k, "-") for p in per] for k in labels]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    out = [line, fmt(header), line] + [fmt(row) for row in body] + [line]
    shared = [n for n in reports[0].notes if all(n in r.notes for r in reports)] if len(reports) > 1 else []
    for r in reports:
        who = f"{r.name}: " if len(reports) > 1 else ""
        out += [f"warning: {who}files disagree: {d}" for d in r.disagreements]
        if r.missing:
            out.append(f"missing: {who}{'; '.join(r.missing)}")
        out += [f"note: {who}{n}" for n in r.notes if n not in shared]
    out += [f"note: {n}" for n in shared]
    return "\n".join(out)


def plot_reports(reports, x: str = "weight_bits", path="hls_reports.png") -> Path:
    """Plot resources (percent of the part) and latency/II (cycles) of several reports.

    ``x="weight_bits"`` puts ``total_weight_bits`` (from each project's manifest.json) on the
    x axis; if any report lacks it, falls back to ``x="name"`` (reports by name, in the given
    order).  Reports without a C-synthesis part are drawn as gaps.  Draws with matplotlib's
    Agg canvas directly (no pyplot, so no global backend change) and writes a PNG (or whatever
    ``path``'s suffix says).  Returns the written path.  Raises ValueError for an unknown
    ``x`` or an empty list.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(reports, SynthesisReport):
        reports = [reports]
    reports = list(reports)
    if x not in ("weight_bits", "name"):
        raise ValueError(f"x must be 'weight_bits' or 'name', not {x!r}")
    if not reports:
        raise ValueError("plot_reports needs at least one report")
    by_bits = x == "weight_bits" and all(r.total_weight_bits is not None for r in reports)
    if by_bits:
        reports = sorted(reports, key=lambda r: r.total_weight_bits)
        xs, xlabel = [r.total_weight_bits for r in reports], "total weight bits"
    else:
        xs, xlabel = list(range(len(reports))), "project"

    def val(y):
        return float("nan") if y is None else y

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_res, ax_lat = fig.subplots(1, 2)
    for k, colour in zip(("DSP", "LUT", "FF", "BRAM_18K"), ("C0", "C1", "C2", "C3")):
        ys = [r.resources[k].percent if r.resources and k in r.resources else None for r in reports]
        ax_res.plot(xs, [val(y) for y in ys], "o-", color=colour, label=f"{k} (HLS)")
        if any(r.post_synth and k in r.post_synth for r in reports):
            ys = [r.post_synth[k].percent if r.post_synth and k in r.post_synth else None for r in reports]
            ax_res.plot(xs, [val(y) for y in ys], "s--", color=colour, mfc="none", label=f"{k} (Vivado synth)")
    ax_res.set_ylabel("% of part")
    ax_res.set_title("Resources")
    for attr, style, label in (("latency_worst_cycles", "o-", "latency (worst)"),
                               ("interval_max_cycles", "s--", "II (max)")):
        ax_lat.plot(xs, [val(getattr(r, attr)) for r in reports], style, label=label)
    ax_lat.set_ylabel("clock cycles")
    ax_lat.yaxis.get_major_locator().set_params(integer=True)
    ax_res.set_ylim(bottom=0)
    ax_lat.set_ylim(bottom=0)
    clocks = {r.target_clock_ns for r in reports if r.target_clock_ns is not None}
    ax_lat.set_title("Latency / interval" + (f" ({clocks.pop():g} ns target clock)" if len(clocks) == 1 else ""))
    for ax in (ax_res, ax_lat):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if not by_bits:
            ax.set_xticks(xs, [r.name for r in reports], rotation=20, ha="right")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
