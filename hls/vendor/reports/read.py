"""Assembling one :class:`SynthesisReport` per (solution, top) from every file a set has, and
comparing the values two files both give."""

from __future__ import annotations

from pathlib import Path

from .cosim import read_cosim
from .csynth import csynth_from_rpt, csynth_from_xml, hls4ml_csynth
from .locate import Target, find_targets, top_of_csynth_xml, weight_bits
from .parse import check_file, report_tree, same_part
from .records import HOW_TO_SYNTH, ReportError, SynthesisReport
from .sanity import check_values
from .vivado_synth import read_vivado_synth

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
        return not same_part(a, b)
    if key == "tool_version":  # the text report may add a patch level ("2019.2.1" in both, or not)
        return not (a.startswith(b) or b.startswith(a))
    return a != b


def _read_target(root: Path, t: Target, vsynth: dict | None, vsynth_path: Path, attach_vsynth: bool) -> SynthesisReport:
    r = SynthesisReport(name=root.name, project_dir=str(root), top=t.top, solution=t.solution,
                        synthesised_top=t.synthesised, tool=t.tool, files=dict(t.files), notes=list(t.notes),
                        warnings=list(t.warnings))
    xml = t.report_dir / f"{t.top}_csynth.xml" if t.report_dir else None
    rpt = t.report_dir / f"{t.top}_csynth.rpt" if t.report_dir else None
    if xml is not None and not xml.is_file() and t.report_dir is not None and top_of_csynth_xml(t.report_dir) == t.top:
        xml = t.report_dir / "csynth.xml"  # Vitis writes the top's summary as csynth.xml too
    have_xml = xml is not None and xml.is_file()
    have_rpt = rpt is not None and rpt.is_file()
    from_xml = from_rpt = None
    if have_xml:
        strings = None
        if t.hls4ml_first:
            check_file(xml, "a C-synthesis report (XML)")  # inside the tree, within the size cap
            strings = hls4ml_csynth(root)
            if strings is None:
                r.notes.append("hls4ml's parse_vivado_report could not read this project; csynth XML read directly")
            else:
                r.notes.append("C-synthesis numbers read with hls4ml's parse_vivado_report")
        from_xml = csynth_from_xml(xml, strings)
        r.files["csynth_xml"] = str(xml)
    if have_rpt:
        from_rpt = csynth_from_rpt(rpt)
        r.files["csynth_rpt"] = str(rpt)
    if not have_xml and not have_rpt:
        where = f"{t.top}_csynth.xml"
        if t.report_dir is not None:
            where = (
                str((t.report_dir / where).relative_to(root))
                if t.report_dir.is_relative_to(root)
                else str(t.report_dir / where)
            )
        r.missing.append(f"C-synthesis report ({where})")
    primary, primary_path = (from_xml, xml) if from_xml else (from_rpt, rpt)
    if primary:
        for key in _COMPARED + ("resources",):
            val = primary.get(key)
            src = primary_path
            if (
                val is None
                and key in _OPTIONAL_IN_XML
                and from_rpt
                and from_rpt.get(key) is not None
                and primary is not from_rpt
            ):  # older XML lacks these; "undef" cycles stay None
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
                    r.disagreements.append(
                        f"{res}: {xml.name} says {a.used} of {a.available}, {rpt.name} says {b.used} of {b.available}"
                    )
        app_tool = t.tool
        if from_rpt and app_tool and app_tool != from_rpt["tool"]:
            r.disagreements.append(
                f"tool: {Path(t.files['app']).name} is a {app_tool} project file, {rpt.name} says {from_rpt['tool']}"
            )
        if t.expected_part and r.part and not same_part(t.expected_part[0], r.part):
            r.disagreements.append(
                f"part: {Path(t.expected_part[1]).name} says {t.expected_part[0]}, "
                f"{Path(r.sources['part']).name} says {r.part}"
            )
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
            if ref and ref[0] and not same_part(ref[0], vsynth["part"]):
                r.disagreements.append(
                    f"part: {Path(ref[1]).name} says {ref[0]}, {vsynth_path.name} says {vsynth['part']}"
                )
            if not r.part:
                r.part = vsynth["part"]
                r.sources["part"] = str(vsynth_path)
    else:
        r.missing.append("Vivado synthesis report (vivado_synth.rpt)")

    cosim = t.sim_dir / f"{t.top}_cosim.rpt" if t.sim_dir else None
    if cosim is not None and cosim.is_file():
        r.cosim = read_cosim(cosim)
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
    return check_values(r)


def read_reports(path, solution: str | None = None, max_file_bytes: int | None = None) -> list[SynthesisReport]:
    """Read every report set under ``path``: one :class:`SynthesisReport` per solution and top.

    ``path`` is an hls4ml project, a Vivado/Vitis HLS project folder (with its ``.app``), a
    Vitis Unified component (or a folder holding components), or a folder of loose report
    files (``<top>_csynth.rpt``/``.xml`` and/or ``vivado_synth.rpt``).  ``solution`` keeps only
    that solution.  Files that are absent are listed in each report's ``missing``.

    Only files inside ``path`` are read (a link or a config entry leading out is refused or
    ignored with a warning), each at most ``max_file_bytes`` (default 64 MiB or
    ``$KAPPA_REPORT_MAX_BYTES``); values failing a sanity check (:mod:`.sanity`) are shown
    as unknown with a warning naming the file.

    Raises :class:`ReportError` (one line, naming the file or folder) when ``path`` does not
    exist or holds no report set, when an hls4ml project was never synthesised, when
    ``solution`` does not exist, and when a file is unreadable, truncated or malformed.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise ReportError(f"{root}: no such project directory")
    # a solution's syn/report folder given: its solution (sim/report beside it) is the tree
    tree = root.parent.parent if root.name == "report" and root.parent.name == "syn" else root
    with report_tree(tree, max_file_bytes):
        return _read_reports(root, solution)


def _read_reports(root: Path, solution: str | None) -> list[SynthesisReport]:
    targets = find_targets(root, solution)
    vs_path = root / "vivado_synth.rpt"
    vsynth = read_vivado_synth(vs_path) if vs_path.is_file() else None
    if vsynth and not targets:
        targets = [Target(vsynth["design"] or root.name, None, None, notes=["Vivado logic synthesis report only"])]
    if not targets:
        tcl = root / "project.tcl"
        if tcl.is_file():
            raise ReportError(
                f"{root}: project has not been synthesised (no solution folder beside a "
                f"vivado_hls.app/hls.app, no vivado_synth.rpt); {HOW_TO_SYNTH}"
            )
        raise ReportError(
            f"{root}: not a report set: found no project.tcl, no vivado_hls.app/hls.app, no Vitis component "
            "(vitis-comp.json/hls_config.cfg), no *_csynth.rpt/.xml and no vivado_synth.rpt"
        )
    # vivado_synth.rpt belongs to the design it names (hls4ml synthesises <name>, not <name>_axi)
    design_tops = {t.top for t in targets if vsynth and t.top == vsynth["design"]}
    reports = [
        _read_target(root, t, vsynth, vs_path, vsynth is not None and (not design_tops or t.top in design_tops))
        for t in targets
    ]
    if all(
        "csynth_xml" not in r.files and "csynth_rpt" not in r.files and r.post_synth is None and r.cosim is None
        for r in reports
    ):
        where = targets[0].report_dir or root
        raise ReportError(
            f"{root}: project has not been synthesised (no {targets[0].top}_csynth.xml in "
            f"{Path(where).relative_to(root) if Path(where).is_relative_to(root) else where}); {HOW_TO_SYNTH}"
        )
    bits = weight_bits(root)
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
