"""hls/vendor/reports/ on real report sets in the layouts users have (tests/fixtures/reports/*).

Each fixture's SOURCE.md names the public repository, commit and licence it comes from.  The
expected numbers below are copied by hand from the report files themselves (the summary
tables of the ``*_csynth.rpt`` files, the ``<profile>`` XML, the rows of
``vivado_synth.rpt`` and ``*_cosim.rpt``); percentages of HLS estimates are
100 * used / available rounded to 0.01, those of vivado_synth.rpt its own Util% column.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from hls.vendor.reports import CosimResult, ReportError, format_table, read_report, read_reports

HERE = Path(__file__).resolve().parents[1]  # tests/
FIX = HERE / "fixtures" / "reports"
SHARED = HERE.parents[1] / "shared" / "fixtures" / "reports" / "vivado-2020.1-hls4ml-test"


def res(r):
    return {k: (v.used, v.available, v.percent) for k, v in r.items()}


def copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst)
    return dst


def hls_numbers(r):
    return (r.target_clock_ns, r.clock_uncertainty_ns, r.estimated_clock_ns,
            r.latency_best_cycles, r.latency_worst_cycles, r.latency_best_ns, r.latency_worst_ns,
            r.interval_min_cycles, r.interval_max_cycles)


# ----------------------------------------------------------------------------- each layout


def test_vivado_hls_2019_2_without_project_tcl_with_cosim():
    d = FIX / "vivado-hls-2019.2-no-project-tcl"
    assert not (d / "project.tcl").exists()
    [r] = read_reports(d)
    assert (r.name, r.top, r.solution, r.synthesised_top) == (d.name, "myproject", "solution1", True)
    assert (r.tool, r.tool_version) == ("Vivado HLS", "2019.2")
    assert r.tool_build == "2019.2 (Build 2704478 on Wed Nov 06 22:10:23 MST 2019)"
    assert r.part == "xczu9eg-ffvb1156-2-e"
    assert hls_numbers(r) == (5.0, 0.62, 0.785, 12323, 12323, 61615.0, 61615.0, 12324, 12324)
    assert res(r.resources) == {
        "BRAM_18K": (0, 1824, 0.0), "DSP": (0, 2520, 0.0), "FF": (823, 548160, 0.15),
        "LUT": (1737, 274080, 0.63), "URAM": (0, 0, None),
    }
    assert r.cosim == CosimResult("Verilog", "Pass", 12323, 12323, 12323, None, None, None, None)
    assert r.post_synth is None
    rep = d / "myproject_prj" / "solution1"
    assert r.files == {
        "app": str(d / "myproject_prj" / "vivado_hls.app"),
        "csynth_xml": str(rep / "syn" / "report" / "myproject_csynth.xml"),
        "csynth_rpt": str(rep / "syn" / "report" / "myproject_csynth.rpt"),
        "cosim_rpt": str(rep / "sim" / "report" / "myproject_cosim.rpt"),
    }
    assert r.sources["estimated_clock_ns"] == r.files["csynth_xml"]
    assert r.sources["tool_build"] == r.files["csynth_rpt"]
    assert r.sources["cosim"] == r.files["cosim_rpt"]
    assert r.disagreements == []
    assert r.missing == ["Vivado synthesis report (vivado_synth.rpt)"]
    assert "no project.tcl: solution and top read from vivado_hls.app" in r.notes


def test_old_project_tcl_and_two_tops_axi_wrapper_and_core():
    d = FIX / "vivado-hls-old-project-tcl-axi"
    assert 'set myproject "myproject"' in (d / "project.tcl").read_text()
    axi, core = read_reports(d)
    assert (axi.top, axi.synthesised_top, core.top, core.synthesised_top) == ("myproject_axi", True, "myproject", False)
    for r in (axi, core):
        assert (r.tool, r.tool_version, r.part, r.solution) == (
            "Vivado HLS",
            "2019.2.1",
            "xc7z020-clg400-1",
            "solution1",
        )
        assert r.disagreements == []
        assert any("older hls4ml format (`set myproject`, no `set backend`)" in n for n in r.notes)
    assert hls_numbers(axi) == (5.0, 0.62, 4.974, 2883526, 2885133, 14418000.0, 14426000.0, 30802, 2885101)
    assert hls_numbers(core) == (5.0, 0.62, 4.974, 2883520, 2885127, 14418000.0, 14426000.0, 30802, 2885101)
    assert res(axi.resources) == {
        "BRAM_18K": (94, 280, 33.57),
        "DSP": (22, 220, 10.0),
        "FF": (211149, 106400, 198.45),
        "LUT": (194636, 53200, 365.86),
        "URAM": (0, 0, None),
    }
    assert res(core.resources) == {
        "BRAM_18K": (86, 280, 30.71),
        "DSP": (22, 220, 10.0),
        "FF": (209378, 106400, 196.78),
        "LUT": (192359, 53200, 361.58),
        "URAM": (0, 0, None),
    }
    assert axi.files["csynth_xml"].endswith("myproject_axi_csynth.xml")
    assert core.files["csynth_rpt"].endswith("myproject_csynth.rpt")
    assert (axi.name, core.name) == (f"{d.name}:solution1/myproject_axi", f"{d.name}:solution1/myproject")
    # read_report: the top the .app synthesised
    assert read_report(d).top == "myproject_axi"
    table = format_table([axi, core])
    assert "myproject_axi (synthesised top)" in table and "myproject (not the synthesised top)" in table


def test_vitis_hls_2024_1_hls4ml_project_with_vivado_synth_clb():
    d = FIX / "vitis-hls-2024.1-hls4ml"
    [r] = read_reports(d)
    assert (r.top, r.solution, r.synthesised_top) == ("myproject", "solution1", True)
    assert (r.tool, r.tool_version, r.part) == ("Vitis HLS", "2024.1", "xcu250-figd2104-2L-e")
    assert r.tool_build == "2024.1 (Build 5069499 on May 21 2024)"
    assert hls_numbers(r) == (5.0, 1.35, 3.53, 395, 395, 1975.0, 1975.0, 390, 390)
    assert res(r.resources) == {
        "BRAM_18K": (29, 5376, 0.54),
        "DSP": (467, 12288, 3.8),
        "FF": (7123, 3456000, 0.21),
        "LUT": (17966, 1728000, 1.04),
        "URAM": (0, 1280, 0.0),
    }
    # vivado_synth.rpt rows: CLB LUTs 8565/1728000 0.50, CLB Registers 4864/3456000 0.14,
    # Block RAM Tile 12/2688 0.45 (= 24/5376 RAMB18), URAM 0/1280, DSPs 467/12288 3.80
    assert res(r.post_synth) == {
        "BRAM_18K": (24, 5376, 0.45),
        "DSP": (467, 12288, 3.8),
        "FF": (4864, 3456000, 0.14),
        "LUT": (8565, 1728000, 0.5),
        "URAM": (0, 1280, 0.0),
    }
    assert (r.post_synth_tool, r.post_synth_part) == ("Vivado v.2024.1", "xcu250-figd2104-2L-e")
    assert r.files["vivado_synth_rpt"] == str(d / "vivado_synth.rpt")
    assert r.sources["post_synth"] == str(d / "vivado_synth.rpt")
    assert "C-synthesis numbers read with hls4ml's parse_vivado_report" in r.notes
    assert r.disagreements == [] and r.cosim is None


def test_vitis_hls_2023_1_without_project_tcl_failed_cosim():
    d = FIX / "vitis-hls-2023.1-cosim-fail"
    [r] = read_reports(d)
    assert (r.tool, r.tool_version, r.part) == ("Vitis HLS", "2023.1", "xczu49dr-ffvf1760-2-e")
    assert hls_numbers(r) == (5.0, 1.35, 3.649, 695, 695, 3475.0, 3475.0, 578, 578)
    assert res(r.resources) == {
        "BRAM_18K": (332, 2160, 15.37),
        "DSP": (29, 4272, 0.68),
        "FF": (65881, 850560, 7.75),
        "LUT": (339116, 425280, 79.74),
        "URAM": (0, 80, 0.0),
    }
    assert r.cosim == CosimResult("Verilog", "Fail", None, None, None, None, None, None, None)
    assert "| Co-sim            | Fail (Verilog)" in format_table(r)


def test_vitis_unified_component():
    d = FIX / "vitis-unified-2024.2-component"
    for path in (d, d / "hls_component"):  # the workspace or the component itself
        [r] = read_reports(path)
        assert (r.top, r.solution, r.synthesised_top) == ("test", None, True)
        assert (r.tool, r.tool_version, r.part) == ("Vitis HLS", "2024.2.2", "xa7a100t-csg324-1I")
        assert r.tool_build == "2024.2.2 (Build 6049644 on Mar  5 2025)"
        assert hls_numbers(r) == (10.0, 2.0, 5.893, 12, 12, 120.0, 120.0, 11, 11)
        assert res(r.resources) == {
            "BRAM_18K": (0, 270, 0.0),
            "DSP": (0, 240, 0.0),
            "FF": (21, 126800, 0.02),
            "LUT": (94, 63400, 0.15),
            "URAM": (0, 0, None),
        }
        rep = d / "hls_component" / "test" / "hls" / "syn" / "report"
        assert (r.files["csynth_xml"], r.files["csynth_rpt"]) == (
            str(rep / "test_csynth.xml"),
            str(rep / "test_csynth.rpt"),
        )
        assert r.files["component_config"] == str(d / "hls_component" / "hls_config.cfg")
        assert r.disagreements == []
        assert "Vitis Unified component 'hls_component', work directory 'test'" in r.notes


@pytest.mark.parametrize("sub", ["myproject_prj", "myproject_prj/solution1", "myproject_prj/solution1/syn/report"])
def test_pointing_inside_a_project(sub):
    [r] = read_reports(FIX / "vivado-hls-2019.2-no-project-tcl" / sub)
    assert (r.top, r.solution, r.latency_worst_cycles, r.cosim.status) == ("myproject", "solution1", 12323, "Pass")


def test_pointing_at_a_vitis_unified_work_directory():
    [r] = read_reports(FIX / "vitis-unified-2024.2-component" / "hls_component" / "test")
    assert (r.top, r.solution, r.estimated_clock_ns, r.resources["FF"].used) == ("test", None, 5.893, 21)


def test_vitis_unified_component_with_only_csynth_xml(tmp_path):
    d = copy("vitis-unified-2024.2-component", tmp_path)
    rep = d / "hls_component" / "test" / "hls" / "syn" / "report"
    for f in ("test_csynth.xml", "test_csynth.rpt"):
        (rep / f).unlink()
    (d / "hls_component" / "hls_config.cfg").write_text("part=xa7a100tcsg324-1I\n[hls]\nflow_target=vivado\n")
    [r] = read_reports(d)
    assert (r.top, r.synthesised_top) == ("test", None)  # top from csynth.xml's <TopModelName>
    assert r.files["csynth_xml"] == str(rep / "csynth.xml")
    assert (r.estimated_clock_ns, r.latency_worst_cycles, r.resources["LUT"].used) == (5.893, 12, 94)


def test_vivado_synth_only_ultrascale_clb_and_part_disagreement():
    d = FIX / "vivado-2022.2-synth-only-ultrascale"
    [r] = read_reports(d)
    assert r.top == "myproject" and r.resources is None and r.latency_worst_cycles is None
    assert res(r.post_synth) == {
        "BRAM_18K": (502, 2688, 18.68),
        "DSP": (2058, 5952, 34.58),
        "FF": (227971, 1743360, 13.08),
        "LUT": (179437, 871680, 20.59),
        "URAM": (0, 640, 0.0),
    }
    assert (r.post_synth_tool, r.post_synth_part, r.part) == (
        "Vivado v.2022.2",
        "xcu50-fsvh2104-2L-e",
        "xcu50-fsvh2104-2L-e",
    )
    assert r.disagreements == ["part: project.tcl says xcu250-figd2104-2L-e, vivado_synth.rpt says xcu50-fsvh2104-2L-e"]
    assert r.missing[0] == "C-synthesis report (myproject_prj/solution1/syn/report/myproject_csynth.xml)"
    table = format_table(r)
    assert "| Vivado synth DSP      | 2058 / 5952 (34.6%)" in table
    assert "warning: files disagree: part: project.tcl says xcu250-figd2104-2L-e" in table


def test_vivado_synth_only_7_series_slice_form(tmp_path):
    d = tmp_path / "only_rpt"
    d.mkdir()
    shutil.copy(SHARED / "vivado_synth.rpt", d)
    [r] = read_reports(d)
    assert r.top == "myproject" and r.solution is None and r.resources is None
    assert res(r.post_synth) == {  # Slice LUTs, Slice Registers, Block RAM Tile 0/140, DSPs 66/220
        "BRAM_18K": (0, 280, 0.0),
        "DSP": (66, 220, 30.0),
        "FF": (2428, 106400, 2.28),
        "LUT": (1526, 53200, 2.87),
    }
    assert (r.post_synth_tool, r.part) == ("Vivado v.2020.1", "7z020clg400-1")
    assert "Vivado logic synthesis report only" in r.notes


def test_loose_text_reports_only():
    d = FIX / "vivado-hls-2020.1-text-only"
    [r] = read_reports(d)
    assert (r.top, r.solution, r.synthesised_top) == ("myproject", None, None)
    assert (r.tool, r.tool_version, r.part) == ("Vivado HLS", "2020.1", "xczu9eg-ffvb1156-2-e")
    assert hls_numbers(r) == (5.0, 0.62, 4.218, 5, 5, 25.0, 25.0, 1, 1)
    assert res(r.resources) == {
        "BRAM_18K": (1, 1824, 0.05),
        "DSP": (0, 2520, 0.0),
        "FF": (4561, 548160, 0.83),
        "LUT": (59561, 274080, 21.73),
        "URAM": (0, 0, None),
    }
    # Block RAM Tile 0.5 of 912 -> one RAMB18 of 1824
    assert res(r.post_synth) == {
        "BRAM_18K": (1, 1824, 0.05),
        "DSP": (0, 2520, 0.0),
        "FF": (4555, 548160, 0.83),
        "LUT": (31277, 274080, 11.41),
    }
    assert set(r.sources.values()) == {str(d / "myproject_csynth.rpt"), str(d / "vivado_synth.rpt")}
    assert "csynth_xml" not in r.files


def test_several_solutions_and_choosing_one(tmp_path):
    d = copy("vivado-hls-2019.2-no-project-tcl", tmp_path)
    prj = d / "myproject_prj"
    shutil.copytree(prj / "solution1", prj / "solution2")
    app = prj / "vivado_hls.app"
    app.write_text(
        app.read_text().replace(
            '<solution name="solution1" status=""/>',
            '<solution name="solution1" status=""/>\n        <solution name="solution2" status=""/>',
        )
    )
    for f, old, new in (
        ("myproject_csynth.xml", "<EstimatedClockPeriod>0.785<", "<EstimatedClockPeriod>0.901<"),
        ("myproject_csynth.rpt", "| 0.785 ns |", "| 0.901 ns |"),
    ):
        p = prj / "solution2" / "syn" / "report" / f
        assert old in p.read_text()
        p.write_text(p.read_text().replace(old, new))
    one, two = read_reports(d)
    assert (one.solution, two.solution) == ("solution1", "solution2")
    assert (one.estimated_clock_ns, two.estimated_clock_ns) == (0.785, 0.901)
    assert two.name == f"{d.name}:solution2/myproject" and two.disagreements == []
    [only] = read_reports(d, solution="solution2")
    assert only.estimated_clock_ns == 0.901 and only.name == d.name
    assert read_report(d).solution == "solution1"
    with pytest.raises(ReportError, match=r"vivado_hls\.app: no solution 'solution3'; solutions: solution1, solution2"):
        read_reports(d, solution="solution3")


# ----------------------------------------------------------------------------- files that disagree


def test_xml_and_text_report_that_disagree_are_named(tmp_path):
    d = copy("vitis-hls-2024.1-hls4ml", tmp_path)
    rpt = d / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.rpt"
    text = rpt.read_text()
    assert "|  3.530 ns|" in text and "|Total                |       29|    467|" in text
    rpt.write_text(
        text.replace("|  3.530 ns|", "|  3.600 ns|").replace(
            "|Total                |       29|    467|", "|Total                |       29|    466|"
        )
    )
    [r] = read_reports(d)
    assert r.estimated_clock_ns == 3.53  # the XML's value is kept, the difference reported
    assert r.disagreements == [
        "estimated_clock_ns: myproject_csynth.xml says 3.53, myproject_csynth.rpt says 3.6",
        "DSP: myproject_csynth.xml says 467 of 12288, myproject_csynth.rpt says 466 of 12288",
    ]


# ----------------------------------------------------------------------------- hls4ml's parser


def _hls4ml(path: Path):
    from hls4ml.report import parse_vivado_report

    with contextlib.redirect_stdout(io.StringIO()):
        return parse_vivado_report(str(path))


@pytest.mark.parametrize(
    "name",
    [
        "vivado-hls-2019.2-no-project-tcl",
        "vitis-hls-2023.1-cosim-fail",
        "vitis-unified-2024.2-component",
        "vivado-hls-2020.1-text-only",
    ],
)
def test_hls4ml_parser_cannot_find_these(name):
    assert _hls4ml(FIX / name) is None  # "Unable to read project data. Exiting."
    assert read_reports(FIX / name)


def test_hls4ml_parser_raises_on_old_project_tcl():
    with pytest.raises(UnboundLocalError):  # `backend_name` never assigned without `set backend`
        _hls4ml(FIX / "vivado-hls-old-project-tcl-axi")


def test_hls4ml_parser_on_synth_only_and_without_solution_folder(tmp_path):
    # It reads no C synthesis (right), and from vivado_synth.rpt only the "Used" column, with
    # the Block RAM Tile count under 'BRAM_18K' and the DSPs under 'DSP48E': no availability.
    rep = _hls4ml(FIX / "vivado-2022.2-synth-only-ultrascale")
    assert rep == {
        "VivadoSynthReport": {"LUT": "179437", "FF": "227971", "BRAM_18K": "251", "URAM": "0", "DSP48E": "2058"}
    }
    # Without the solution folder it raises IndexError (solutions[0] of an empty list).
    d = copy("vivado-2022.2-synth-only-ultrascale", tmp_path)
    shutil.rmtree(d / "myproject_prj" / "solution1")
    with pytest.raises(IndexError):
        _hls4ml(d)
    [r] = read_reports(d)
    assert r.post_synth["DSP"].used == 2058
    assert "hls.app lists solution 'solution1', which has no folder" in r.notes


def test_our_xml_reading_equals_hls4ml_where_it_reads():
    from hls.vendor.reports.csynth import check_csynth_xml, xml_strings

    d = FIX / "vitis-hls-2024.1-hls4ml"
    xml = d / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    assert xml_strings(check_csynth_xml(xml)) == _hls4ml(d)["CSynthesisReport"]


# ----------------------------------------------------------------------------- bad input


def test_folder_that_is_not_a_report_set(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ReportError) as e:
        read_reports(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path}: not a report set: found no project.tcl")
    assert "vitis-comp.json" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "rel, expect",
    [
        ("myproject_prj/solution1/syn/report/myproject_csynth.rpt", "missing section 'Utilization Estimates'"),
        ("myproject_prj/solution1/sim/report/myproject_cosim.rpt", "no VHDL/Verilog result rows"),
        ("myproject_prj/vivado_hls.app", "malformed XML"),
    ],
)
def test_truncated_files_are_named(tmp_path, rel, expect):
    d = copy("vivado-hls-2019.2-no-project-tcl", tmp_path)
    p = d / rel
    data = p.read_bytes()
    marker = {"myproject_csynth.rpt": b"== Utilization Estimates", "myproject_cosim.rpt": b"|      VHDL|"}.get(p.name)
    cut = data.index(marker) if marker else len(data) // 2
    p.write_bytes(data[:cut])
    with pytest.raises(ReportError) as e:
        read_reports(d)
    assert str(e.value).startswith(f"{p}: ") and expect in str(e.value)


def test_text_report_timing_row_cut(tmp_path):
    d = copy("vivado-hls-2020.1-text-only", tmp_path)
    p = d / "myproject_csynth.rpt"
    p.write_text(p.read_text().replace("|ap_clk  | 5.00 ns | 4.218 ns |   0.62 ns  |", "|ap_clk  | 5.00 ns | 4.2"))
    with pytest.raises(ReportError, match=r"myproject_csynth\.rpt: .*timing"):
        read_reports(d)


def test_malformed_vitis_component_json(tmp_path):
    d = copy("vitis-unified-2024.2-component", tmp_path)
    comp = d / "hls_component" / "vitis-comp.json"
    comp.write_text(comp.read_text()[:40])
    with pytest.raises(ReportError, match=r"vitis-comp\.json: malformed JSON"):
        read_reports(d)


def test_damaged_files_never_escape_as_anything_but_report_error(tmp_path):
    """Every fixture file cut or garbled at several points: a ReportError or a report, never
    a traceback of another kind."""
    n = 0
    for fx in sorted(p for p in FIX.iterdir() if p.is_dir()):
        for f in sorted(p for p in fx.rglob("*") if p.is_file() and p.name != "SOURCE.md"):
            data = f.read_bytes()
            for frac in (0.1, 0.4, 0.7, 0.95):
                cut = int(len(data) * frac)
                for damaged in (data[:cut], data[:cut] + b"|x|?|" + data[cut + 7 :]):
                    d = tmp_path / f"{n}"
                    shutil.copytree(fx, d)
                    (d / f.relative_to(fx)).write_bytes(damaged)
                    n += 1
                    try:
                        read_reports(d)
                    except ReportError as e:
                        assert "\n" not in str(e) and str(d) in str(e)
                    shutil.rmtree(d)
    assert n == 248


def test_json_names_the_files():
    d = FIX / "vitis-hls-2023.1-cosim-fail"
    data = json.loads(json.dumps([r.to_dict() for r in read_reports(d)]))
    [r] = data
    assert r["files"]["cosim_rpt"].endswith("sim/report/myproject_cosim.rpt")
    assert r["sources"]["latency_worst_cycles"].endswith("syn/report/myproject_csynth.xml")
    assert r["cosim"]["status"] == "Fail"
    assert r["resources"]["LUT"] == {"used": 339116, "available": 425280, "percent": 79.74}
