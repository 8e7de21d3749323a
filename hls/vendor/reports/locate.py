"""Locating report sets: ``project.tcl``, the ``.app`` file, Vitis Unified components, loose
report folders; one :class:`Target` per (solution, top) to read."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .csynth import check_csynth_xml
from .parse import inside_tree, load_json, read_number, read_text
from .records import ReportError


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
    text = read_text(tcl, "hls4ml's project.tcl")

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
    text = re.sub(' xmlns="[^"]+"', "", read_text(path, "an HLS project file (XML)"), count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ReportError(f"{path}: malformed XML ({e}); expected an HLS project file") from e
    if root.tag.rsplit("}", 1)[-1] != "project":
        raise ReportError(f"{path}: root element is <{root.tag}>, expected <project> of an HLS project file")
    sols = [s.get("name") for s in root.findall("solutions/solution") if s.get("name")]
    tool = "Vivado HLS" if path.name == "vivado_hls.app" else "Vitis HLS"
    return _App(path, tool, root.get("top"), sols)


def _component(dir_: Path) -> tuple[Path, str | None, str | None, list[Path], list[str]] | None:
    """A Vitis Unified component: (config file, syn.top, part, work directories with hls/,
    warnings). ``configFiles``/``work_dir`` entries leading outside the report tree (absolute
    paths, ``..``, links) are ignored with a warning naming ``vitis-comp.json``."""
    comp, cfg = dir_ / "vitis-comp.json", dir_ / "hls_config.cfg"
    if not comp.is_file() and not cfg.is_file():
        return None
    work, warns = [], []
    cfg_files = [cfg] if cfg.is_file() else []
    if comp.is_file():
        data = load_json(comp, "a Vitis component file (JSON)")
        conf = data.get("configuration", {}) if isinstance(data, dict) else None
        if not isinstance(conf, dict):
            raise ReportError(f"{comp}: 'configuration' is not an object; expected a Vitis component file")
        wd = conf.get("work_dir")
        listed = conf.get("configFiles", [])
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise ReportError(f"{comp}: 'configFiles' is not a list of file names; expected a Vitis component file")
        inside = [c for c in listed if inside_tree(dir_ / c)]
        warns += [f"{comp}: configFiles entry {c!r} leads outside the report tree; ignored" for c in listed
                  if c not in inside]
        cfg_files = [dir_ / c for c in inside] or cfg_files
        if wd is not None and not isinstance(wd, str):
            raise ReportError(f"{comp}: 'work_dir' is {wd!r}, expected a folder name")
        if wd and not inside_tree(dir_ / wd):
            warns.append(f"{comp}: work_dir {wd!r} leads outside the report tree; ignored")
        elif wd and (dir_ / wd / "hls").is_dir():
            work.append(dir_ / wd)
    work += [d.parent for d in sorted(dir_.glob("*/hls")) if d.is_dir() and d.parent not in work
             and inside_tree(d)]
    top = part = None
    used_cfg = None
    for c in cfg_files:
        if not c.is_file():
            continue
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string("[__top__]\n" + read_text(c, "a Vitis HLS config file"))
        except configparser.Error as e:
            raise ReportError(f"{c}: malformed config ({e.message.splitlines()[0]}); expected key=value lines") from e
        used_cfg = c
        part = part or parser.get("__top__", "part", fallback=None)
        top = top or parser.get("hls", "syn.top", fallback=None)
    return (used_cfg or comp), top, part, work, warns


def weight_bits(project_dir: Path) -> int | None:
    manifest = project_dir / "manifest.json"
    if not manifest.is_file():
        return None
    data = load_json(manifest, "a JSON manifest")
    if not isinstance(data, dict):
        raise ReportError(f"{manifest}: expected a JSON object")
    bits = data.get("total_weight_bits")
    return None if bits is None else read_number(bits, manifest, "total_weight_bits")




@dataclass
class Target:
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
    warnings: list = field(default_factory=list)  # findings about the files (named)


def _tops_in(report_dir: Path) -> list[str]:
    return sorted({p.name[: -len("_csynth.xml")] for p in report_dir.glob("*_csynth.xml")}
                  | {p.name[: -len("_csynth.rpt")] for p in report_dir.glob("*_csynth.rpt")})


def _has_csynth(report_dir: Path | None, top: str) -> bool:
    return report_dir is not None and any((report_dir / f"{top}_csynth.{e}").is_file() for e in ("xml", "rpt"))


def top_of_csynth_xml(report_dir: Path) -> str | None:
    x = report_dir / "csynth.xml"
    if not x.is_file():
        return None
    root = check_csynth_xml(x)
    return (root.findtext("UserAssignments/TopModelName") or "").strip() or None


def find_targets(root: Path, solution: str | None) -> list[Target]:
    tcl = _project_tcl(root)
    found: list[Target] = []
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
                t = Target(top, sol, rdir, prj / sol / "sim" / "report", prj / sol / "impl" / "report",
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
        cfg, cfg_top, cfg_part, work, warns = comp
        for wd in work:
            hls_dir = wd / "hls"
            rdir = hls_dir / "syn" / "report"
            top = cfg_top or (top_of_csynth_xml(rdir) if rdir.is_dir() else None)
            tops = [top] if top else (_tops_in(rdir) if rdir.is_dir() else [])
            for tp in tops or [wd.name]:
                t = Target(tp, None, rdir, hls_dir / "sim" / "report", hls_dir / "impl" / "report",
                            synthesised=(tp == cfg_top) if cfg_top else None, tool="Vitis HLS",
                            files={"component_config": str(cfg)},
                            notes=[f"Vitis Unified component {comp_dir.name!r}, work directory {wd.name!r}"],
                            warnings=list(warns),
                            expected_part=(cfg_part, str(cfg)) if cfg_part else None)
                found.append(t)

    # loose report files: root holds <top>_csynth.rpt/.xml, or root is a solution, its report
    # folder, or a Vitis Unified work directory (<work_dir>/hls/syn/report)
    if not found:
        for rdir in (root, root / "syn" / "report", root / "report", root / "hls" / "syn" / "report"):
            if rdir.is_dir() and _tops_in(rdir):
                synth_top = top_of_csynth_xml(rdir)
                tops = [synth_top] if synth_top else _tops_in(rdir)
                for top in tops:
                    sol_dir = rdir.parent.parent if rdir.name == "report" and rdir.parent.name == "syn" else None
                    found.append(Target(top, sol_dir.name if sol_dir and sol_dir.name != "hls" else None, rdir,
                                         sol_dir / "sim" / "report" if sol_dir else None,
                                         synthesised=True if synth_top else None,
                                         notes=notes + ["report files without an HLS project file (.app)"],
                                         expected_part=part))
                break
    return found
