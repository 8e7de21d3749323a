"""Read the synthesis reports of an hls4ml project into one normalised record.

The numbers come from hls4ml's own parser, ``hls4ml.report.parse_vivado_report``
(hls4ml 1.3.0), which reads

* ``<project>/project.tcl``                      -- project name and backend (written by hls4ml),
* ``<project>/<name>_prj/{vivado_hls,hls}.app``  -- the list of solutions,
* ``<project>/<name>_prj/<solution>/syn/report/<name>_csynth.xml`` -- the C-synthesis report
  of Vivado HLS (<= 2020.1, DSP resource named ``DSP48E``) or Vitis HLS (>= 2020.2, ``DSP``),
* ``<project>/vivado_synth.rpt``                 -- Vivado ``report_utilization`` after logic
  synthesis (only when the project was built with ``vsynth``).

That parser prints instead of raising when a file is missing, lets ``ParseError``,
``AttributeError`` or ``IndexError`` escape without naming the file when one is broken, and
silently returns partial numbers from a truncated ``vivado_synth.rpt``.  So every file is
checked here first (``xml.etree`` for the XML, the table of contents for the ``.rpt``) and any
problem is raised as a :class:`ReportError` naming the file and what was expected.  hls4ml's
parser is then only called on files known to be complete.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")

_HOW_TO_SYNTH = (
    "run `python scripts/build_hls.py --synth` (needs Vitis HLS or Vivado HLS on PATH, "
    "e.g. `source /tools/Xilinx/Vitis/2023.2/settings64.sh`)"
)


class ReportError(ValueError):
    """A project's synthesis report is missing, truncated or malformed.

    The message is one line and names the offending file (or project directory) and what was
    expected there.
    """


@dataclass
class Resource:
    """Usage of one FPGA resource: ``used`` of ``available`` units on the part.

    ``percent`` is ``100 * used / available`` rounded to 0.01, or ``None`` when the part has
    none of that resource (``available == 0``, e.g. URAM on a Zynq-7000).
    """

    used: int
    available: int
    percent: float | None


@dataclass
class SynthesisReport:
    """One project's synthesis results, normalised over Vivado HLS and Vitis HLS.

    Times are in nanoseconds, latency and interval in clock cycles.  ``latency_*_ns`` are the
    cycle counts times the *target* clock period, as the HLS report's "absolute" latency is.
    ``resources`` are the HLS estimates (``AreaEstimates`` of the csynth XML), keyed by
    ``BRAM_18K``, ``DSP`` (``DSP48E`` in Vivado HLS), ``FF``, ``LUT``, ``URAM``.
    ``post_synth`` is the utilisation after Vivado logic synthesis (``vivado_synth.rpt``) with
    the same keys, percentages taken against the part's resources from the csynth XML, or
    ``None`` when Vivado synthesis was not run.  Its ``BRAM_18K`` is twice the report's
    "Block RAM Tile" count (one tile is one RAMB36 = two RAMB18).  A latency or interval the
    tool could not bound ("undef") is ``None``.
    """

    name: str
    project_dir: str
    top: str
    tool: str
    tool_version: str
    part: str
    target_clock_ns: float
    clock_uncertainty_ns: float | None
    estimated_clock_ns: float
    latency_best_cycles: int | None
    latency_worst_cycles: int | None
    latency_best_ns: float | None
    latency_worst_ns: float | None
    interval_min_cycles: int | None
    interval_max_cycles: int | None
    resources: dict[str, Resource]
    post_synth: dict[str, Resource] | None = None
    total_weight_bits: int | None = None
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as plain JSON-serialisable dicts, lists, numbers and strings."""
        return asdict(self)


# --------------------------------------------------------------------------- locating files


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


def _project_script(project_dir: Path) -> tuple[str, str]:
    """(project directory name, top function) from hls4ml's project.tcl, read the way
    hls4ml's parser does."""
    tcl = project_dir / "project.tcl"
    if not tcl.is_file():
        raise ReportError(
            f"{project_dir}: not an hls4ml project: no project.tcl (hls4ml writes it with the "
            "project name; hls4ml's report parser needs it)"
        )
    text = _read_text(tcl, "hls4ml's project.tcl")
    name = re.search(r'^\s*set\s+project_name\s+"([^"]+)"', text, re.M)
    backend = re.search(r'^\s*set\s+backend\s+"([^"]+)"', text, re.M)
    # hls4ml's _parse_project_script raises UnboundLocalError without a `set backend` line.
    if not name or not backend:
        raise ReportError(f'{tcl}: expected `set project_name "..."` and `set backend "..."` lines')
    top = name.group(1)
    if "accelerator" in backend.group(1):  # same rule as hls4ml: the top becomes <name>_axi
        top += "_axi"
    return f"{name.group(1)}_prj", top


def _solution(prj_dir: Path) -> tuple[Path, str]:
    """(first solution directory, tool name) as hls4ml's _find_solutions picks it."""
    for app_name, tool in (("vivado_hls.app", "Vivado HLS"), ("hls.app", "Vitis HLS")):
        app = prj_dir / app_name
        if app.is_file():
            break
    else:
        raise ReportError(
            f"{prj_dir}: project has not been synthesised (no vivado_hls.app or hls.app); {_HOW_TO_SYNTH}"
        )
    # Same namespace workaround as hls4ml: Vitis writes <project xmlns="...">.
    text = re.sub(' xmlns="[^"]+"', "", _read_text(app, "an HLS project file (XML)"), count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReportError(f"{app}: malformed XML ({e}); expected an HLS project file") from e
    for sol in root.findall("solutions/solution"):
        name = sol.get("name")
        if name and (prj_dir / name).is_dir():
            return prj_dir / name, tool
    raise ReportError(f"{prj_dir}: project has not been synthesised (no solution directory); {_HOW_TO_SYNTH}")


# --------------------------------------------------------------------------- checking files

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


def _check_vivado_synth_rpt(path: Path) -> None:
    """Check vivado_synth.rpt is a complete report_utilization output.

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


# --------------------------------------------------------------------------- reading


def _num(value, path: Path, key: str, kind=int, allow_undef=False):
    if allow_undef and str(value).strip() in ("undef", "?"):
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


def _resource(used: int, available: int) -> Resource:
    pct = round(100.0 * used / available, 2) if available else None
    return Resource(used, available, pct)


def _hls4ml_report(project_dir: Path) -> dict:
    """Call hls4ml's parser, keeping its progress messages ('Cosim report not found.')
    out of our output."""
    from hls4ml.report import parse_vivado_report

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            report = parse_vivado_report(str(project_dir))
    except Exception as e:  # e.g. a cosim report it cannot split; the files we need were checked
        raise ReportError(f"{project_dir}: hls4ml's parse_vivado_report failed ({type(e).__name__}: {e})") from e
    if not report or "CSynthesisReport" not in report:
        said = " ".join(out.getvalue().split())
        raise ReportError(f"{project_dir}: hls4ml's parse_vivado_report found no C-synthesis report: {said}")
    return report


def _weight_bits(project_dir: Path) -> int | None:
    manifest = project_dir / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        bits = json.loads(_read_text(manifest, "a JSON manifest")).get("total_weight_bits")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ReportError(f"{manifest}: malformed JSON ({e}); expected a JSON object") from e
    return None if bits is None else _num(bits, manifest, "total_weight_bits")


def read_report(project_dir) -> SynthesisReport:
    """Read the synthesis reports of the hls4ml project in ``project_dir``.

    Returns a :class:`SynthesisReport` (clock periods in ns, latency and interval in cycles,
    latency also in ns at the target clock, resources with used/available/percent, and the
    post-synthesis utilisation from ``vivado_synth.rpt`` when that file exists).  Values are
    taken from ``hls4ml.report.parse_vivado_report``; tool version and part come from the
    csynth XML, which that parser does not extract.  ``total_weight_bits`` is read from
    ``<project_dir>/manifest.json`` when present.

    Raises :class:`ReportError` when the directory does not exist or is not an hls4ml project,
    when the project has not been synthesised (no solution directory or no csynth XML), and
    when a report file is unreadable, truncated or malformed (the message names the file).
    """
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise ReportError(f"{project_dir}: no such project directory")
    prj_name, top = _project_script(project_dir)
    prj_dir = project_dir / prj_name
    if not prj_dir.is_dir():
        raise ReportError(f"{project_dir}: project has not been synthesised (no {prj_dir.name}/); {_HOW_TO_SYNTH}")
    sol_dir, tool = _solution(prj_dir)
    xml_path = sol_dir / "syn" / "report" / f"{top}_csynth.xml"
    if not xml_path.is_file():
        raise ReportError(
            f"{project_dir}: project has not been synthesised (no {xml_path.relative_to(project_dir)}); {_HOW_TO_SYNTH}"
        )
    root = _check_csynth_xml(xml_path)
    rpt_path = project_dir / "vivado_synth.rpt"
    if rpt_path.exists():
        _check_vivado_synth_rpt(rpt_path)

    report = _hls4ml_report(project_dir)
    cs = report["CSynthesisReport"]  # hls4ml already renamed DSP48E -> DSP here
    target = _num(cs["TargetClockPeriod"], xml_path, "TargetClockPeriod", float)
    lat = {k: _num(cs[k], xml_path, k, int, allow_undef=True) for k in ("BestLatency", "WorstLatency")}
    ii = {k: _num(cs[k], xml_path, k, int, allow_undef=True) for k in ("IntervalMin", "IntervalMax")}
    avail = {r: _num(cs.get("Available" + r, 0), xml_path, "Available" + r) for r in RESOURCES}
    resources = {r: _resource(_num(cs.get(r, 0), xml_path, r), avail[r]) for r in RESOURCES}
    uncertainty = root.findtext("UserAssignments/ClockUncertainty")

    post = None
    if "VivadoSynthReport" in report:
        vs = report["VivadoSynthReport"]
        # hls4ml keys the DSP row as 'DSP48E' (also for Vitis) and stores the "Block RAM Tile"
        # count (RAMB36 tiles, may be fractional, e.g. 0.5) under 'BRAM_18K'.
        names = {"LUT": "Slice/CLB LUTs", "FF": "Slice/CLB Registers", "DSP48E": "DSPs", "BRAM_18K": "Block RAM Tile"}
        for key, row in names.items():
            if key not in vs:
                raise ReportError(f"{rpt_path}: no '{row}' row found; expected Vivado report_utilization output")
        post = {
            "BRAM_18K": _resource(round(2 * _num(vs["BRAM_18K"], rpt_path, "Block RAM Tile", float)),
                                  avail["BRAM_18K"]),
            "DSP": _resource(_num(vs["DSP48E"], rpt_path, "DSPs"), avail["DSP"]),
            "FF": _resource(_num(vs["FF"], rpt_path, "Registers"), avail["FF"]),
            "LUT": _resource(_num(vs["LUT"], rpt_path, "LUTs"), avail["LUT"]),
        }
        if "URAM" in vs:
            post["URAM"] = _resource(_num(vs["URAM"], rpt_path, "URAM"), avail["URAM"])

    def ns(cycles):
        return None if cycles is None else round(cycles * target, 3)

    return SynthesisReport(
        name=project_dir.name,
        project_dir=str(project_dir),
        top=top,
        tool=tool,
        tool_version=root.findtext("ReportVersion/Version").strip(),
        part=root.findtext("UserAssignments/Part").strip(),
        target_clock_ns=target,
        clock_uncertainty_ns=_num(uncertainty, xml_path, "ClockUncertainty", float) if uncertainty else None,
        estimated_clock_ns=_num(cs["EstimatedClockPeriod"], xml_path, "EstimatedClockPeriod", float),
        latency_best_cycles=lat["BestLatency"],
        latency_worst_cycles=lat["WorstLatency"],
        latency_best_ns=ns(lat["BestLatency"]),
        latency_worst_ns=ns(lat["WorstLatency"]),
        interval_min_cycles=ii["IntervalMin"],
        interval_max_cycles=ii["IntervalMax"],
        resources=resources,
        post_synth=post,
        total_weight_bits=_weight_bits(project_dir),
        files={"csynth_xml": str(xml_path), **({"vivado_synth_rpt": str(rpt_path)} if post else {})},
    )


# --------------------------------------------------------------------------- presenting


def _fmt_res(r: Resource | None) -> str:
    if r is None:
        return "-"
    pct = "n/a" if r.percent is None else f"{r.percent:.1f}%"
    return f"{r.used} / {r.available} ({pct})"


def _fmt_cycles(cycles, ns_) -> str:
    return "undef" if cycles is None else f"{cycles} cycles ({ns_:.1f} ns)"


def _rows(r: SynthesisReport) -> list[tuple[str, str]]:
    ii = "undef" if r.interval_min_cycles is None else f"{r.interval_min_cycles}"
    if r.interval_max_cycles != r.interval_min_cycles:
        ii += f" - {r.interval_max_cycles}"
    rows = [
        ("Tool", f"{r.tool} {r.tool_version}"),
        ("Part", r.part),
        ("Target clock", f"{r.target_clock_ns:.3f} ns"),
        ("Estimated clock", f"{r.estimated_clock_ns:.3f} ns"),
        ("Latency (best)", _fmt_cycles(r.latency_best_cycles, r.latency_best_ns)),
        ("Latency (worst)", _fmt_cycles(r.latency_worst_cycles, r.latency_worst_ns)),
        ("Interval (II)", f"{ii} cycles"),
    ]
    if r.total_weight_bits is not None:
        rows.append(("Total weight bits", str(r.total_weight_bits)))
    rows += [(f"HLS {k}", _fmt_res(r.resources[k])) for k in RESOURCES]
    post = r.post_synth or {}
    rows += [(f"Vivado synth {k}", _fmt_res(post[k])) for k in RESOURCES if k in post]
    return rows


def format_table(reports) -> str:
    """Return a plain-text table of one or several :class:`SynthesisReport`.

    One report gives a two-column table (quantity, value); several give one column per
    project, side by side, with the union of their rows.  Latency is shown in cycles and in ns
    at the target clock; resources as ``used / available (percent)``.
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

    return "\n".join([line, fmt(header), line] + [fmt(row) for row in body] + [line])


def plot_reports(reports, x: str = "weight_bits", path="hls_reports.png") -> Path:
    """Plot resources (percent of the part) and latency/II (cycles) of several projects.

    ``x="weight_bits"`` puts ``total_weight_bits`` (from each project's manifest.json) on the
    x axis; if any report lacks it, falls back to ``x="name"`` (projects by name, in the given
    order).  Draws with matplotlib's Agg canvas directly (no pyplot, so no global backend
    change) and writes a PNG (or whatever ``path``'s suffix says).  Returns the written path.
    Raises ValueError for an unknown ``x`` or an empty list.
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

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_res, ax_lat = fig.subplots(1, 2)
    for k, colour in zip(("DSP", "LUT", "FF", "BRAM_18K"), ("C0", "C1", "C2", "C3")):
        ys = [r.resources[k].percent for r in reports]
        ax_res.plot(xs, [float("nan") if y is None else y for y in ys], "o-", color=colour, label=f"{k} (HLS)")
        if any(r.post_synth and k in r.post_synth for r in reports):
            ys = [r.post_synth[k].percent if r.post_synth and k in r.post_synth else None for r in reports]
            ax_res.plot(xs, [float("nan") if y is None else y for y in ys], "s--", color=colour, mfc="none",
                        label=f"{k} (Vivado synth)")
    ax_res.set_ylabel("% of part")
    ax_res.set_title("Resources")
    for attr, style, label in (("latency_worst_cycles", "o-", "latency (worst)"),
                               ("interval_max_cycles", "s--", "II (max)")):
        ys = [getattr(r, attr) for r in reports]
        ax_lat.plot(xs, [float("nan") if y is None else y for y in ys], style, label=label)
    ax_lat.set_ylabel("clock cycles")
    ax_lat.yaxis.get_major_locator().set_params(integer=True)
    ax_res.set_ylim(bottom=0)
    ax_lat.set_ylim(bottom=0)
    ax_lat.set_title(f"Latency / interval ({reports[0].target_clock_ns:g} ns target clock)")
    for ax in (ax_res, ax_lat):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if not by_bits:
            ax.set_xticks(xs, [r.name for r in reports], rotation=20, ha="right")
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
