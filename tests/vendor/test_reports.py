"""hls/vendor/reports/ and scripts/hls_report.py on real Vivado HLS 2020.1 report files.

The fixture (../shared/fixtures/reports/vivado-2020.1-hls4ml-test, from hls4ml's own test
data) is laid out as a project the way hls4ml's test_report.py does it, plus the project.tcl
that hls4ml's writer puts in every project (hls4ml's parser finds the project through it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_sets import FIXTURE, VITIS_APP, lay_out, project_tcl, vitis_rpt, vitis_xml, xml_of  # noqa: F401

from hls.vendor.reports import ReportError, SynthesisReport, format_table, plot_reports, read_report

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "scripts" / "hls_report.py"

@pytest.fixture
def prj(tmp_path):
    return lay_out(tmp_path / "dense16x5")


def test_fixture_is_there():
    assert (FIXTURE / "myproject_csynth.xml").is_file(), f"fixture missing at {FIXTURE}"


def test_every_number_of_the_vivado_2020_1_fixture(prj):
    r = read_report(prj)
    assert isinstance(r, SynthesisReport)
    assert (r.name, r.top, r.project_dir) == ("dense16x5", "myproject", str(prj.resolve()))
    assert (r.tool, r.tool_version) == ("Vivado HLS", "2020.1")
    assert r.part == "xc7z020-clg400-1"  # as <Part> in the XML ("xc7z020clg400-1" in project.tcl)
    assert r.target_clock_ns == 5.0
    assert r.clock_uncertainty_ns == 0.62
    assert r.estimated_clock_ns == 4.049
    assert (r.latency_best_cycles, r.latency_worst_cycles) == (10, 10)
    assert (r.latency_best_ns, r.latency_worst_ns) == (50.0, 50.0)  # the report's "50.000 ns"
    assert (r.interval_min_cycles, r.interval_max_cycles) == (8, 8)
    res = {k: (v.used, v.available, v.percent) for k, v in r.resources.items()}
    assert res == {
        "BRAM_18K": (0, 280, 0.0),
        "DSP": (73, 220, 33.18),
        "FF": (7969, 106400, 7.49),
        "LUT": (2532, 53200, 4.76),
        "URAM": (0, 0, None),
    }
    post = {k: (v.used, v.available, v.percent) for k, v in r.post_synth.items()}
    assert post == {
        "BRAM_18K": (0, 280, 0.0),
        "DSP": (66, 220, 30.0),
        "FF": (2428, 106400, 2.28),
        "LUT": (1526, 53200, 2.87),
    }
    assert r.total_weight_bits is None
    assert r.files["csynth_xml"] == str(xml_of(prj.resolve()))


def test_to_dict_is_json_with_the_numbers(prj):
    d = json.loads(json.dumps(read_report(prj).to_dict()))
    assert d["estimated_clock_ns"] == 4.049
    assert d["latency_worst_cycles"] == 10
    assert d["interval_max_cycles"] == 8
    assert d["resources"]["DSP"] == {"used": 73, "available": 220, "percent": 33.18}
    assert d["post_synth"]["LUT"]["used"] == 1526


def test_without_vivado_synth_rpt_post_synth_is_none(tmp_path):
    r = read_report(lay_out(tmp_path / "p", vivado_synth=False))
    assert r.post_synth is None
    assert r.resources["DSP"].used == 73
    assert "| Vivado synth" not in format_table(r)
    assert "missing: Vivado synthesis report (vivado_synth.rpt)" in format_table(r)


def test_vitis_format(tmp_path):
    p = lay_out(tmp_path / "vitis_prj", vitis=True)
    assert b"DSP48E" not in xml_of(p).read_bytes()
    assert not (p / "myproject_prj" / "vivado_hls.app").exists()
    r = read_report(p)
    assert (r.tool, r.tool_version) == ("Vitis HLS", "2023.2")
    assert (r.resources["DSP"].used, r.resources["DSP"].available) == (73, 220)
    assert r.resources["LUT"].used == 2532
    assert r.estimated_clock_ns == 4.049
    assert r.post_synth["DSP"].used == 66


def test_weight_bits_from_manifest(prj):
    (prj / "manifest.json").write_text(json.dumps({"total_weight_bits": 1280, "other": 1}))
    assert read_report(prj).total_weight_bits == 1280
    (prj / "manifest.json").write_text("{not json")
    with pytest.raises(ReportError, match="manifest.json"):
        read_report(prj)


# ----------------------------------------------------------------------------- broken files


def _truncate(b: bytes) -> bytes:
    return b[: len(b) // 2]


def _garbage(b: bytes) -> bytes:  # not UTF-8 at all in the middle
    mid = len(b) // 2
    return b[:mid] + bytes(range(128, 256)) * 4 + b[mid + 512 :]


def _mangle(b: bytes) -> bytes:  # valid UTF-8 but no longer XML / no longer the table
    mid = len(b) // 3
    return b[:mid] + b"<<@@ \x01 &&&" + b[mid:]


@pytest.mark.parametrize("damage", [_truncate, _garbage, _mangle], ids=["truncated", "garbage", "mangled"])
def test_broken_csynth_xml_names_the_file(prj, damage):
    xml = xml_of(prj)
    xml.write_bytes(damage(xml.read_bytes()))
    with pytest.raises(ReportError) as e:
        read_report(prj)
    msg = str(e.value)
    assert str(xml.resolve()) in msg
    assert "csynth report (XML)" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("damage", [_truncate, _garbage], ids=["truncated", "garbage"])
def test_broken_vivado_synth_rpt_names_the_file(prj, damage):
    rpt = prj / "vivado_synth.rpt"
    rpt.write_bytes(damage(rpt.read_bytes()))
    with pytest.raises(ReportError) as e:
        read_report(prj)
    msg = str(e.value)
    assert str(rpt.resolve()) in msg
    assert "report_utilization" in msg
    assert ("truncated" if damage is _truncate else "corrupted") in msg


def test_rpt_cut_inside_the_dsp_table_is_caught(prj):
    # hls4ml's parser still reads DSP=66 from this half file; it must not pass as complete.
    rpt = prj / "vivado_synth.rpt"
    half = _truncate(rpt.read_bytes())
    assert b"| DSPs           |   66 |" in half
    rpt.write_bytes(half)
    with pytest.raises(ReportError, match=r"truncated: section '4\. IO and GT Specific'"):
        read_report(prj)


@pytest.mark.parametrize(
    "old, new, expect",
    [
        (b"<DSP48E>73</DSP48E>", b"", "<AreaEstimates/Resources> has no DSP"),
        (b"<EstimatedClockPeriod>4.049</EstimatedClockPeriod>", b"", "missing <PerformanceEstimates/SummaryOfTiming"),
        (
            b"<Best-caseLatency>10</Best-caseLatency>",
            b"<Best-caseLatency>ten</Best-caseLatency>",
            "BestLatency is 'ten'",
        ),
        (b"<profile>", b"<report>", "root element is <report>"),
    ],
)
def test_csynth_xml_missing_or_bad_fields(prj, old, new, expect):
    xml = xml_of(prj)
    text = xml.read_bytes()
    assert old in text
    if old == b"<profile>":
        text = text.replace(b"</profile>", b"</report>")
    xml.write_bytes(text.replace(old, new, 1))
    with pytest.raises(ReportError, match=r"myproject_csynth\.xml") as e:
        read_report(prj)
    assert expect in str(e.value)


def test_undef_latency_is_none(prj):
    xml = xml_of(prj)
    xml.write_bytes(xml.read_bytes().replace(b"<Worst-caseLatency>10<", b"<Worst-caseLatency>undef<"))
    r = read_report(prj)
    assert (r.latency_best_cycles, r.latency_worst_cycles, r.latency_worst_ns) == (10, None, None)
    assert r.disagreements == ["latency_worst_cycles: myproject_csynth.xml says None, myproject_csynth.rpt says 10"]
    assert "undef" in format_table(r)


# ----------------------------------------------------------------------------- not synthesised


def _written_only(p: Path) -> None:  # what hls4ml's write() leaves before any build
    p.mkdir()
    (p / "project.tcl").write_text(project_tcl())
    (p / "firmware").mkdir()


def _app_no_solution(p: Path) -> None:
    _written_only(p)
    (p / "myproject_prj").mkdir()
    (p / "myproject_prj" / "vivado_hls.app").write_bytes((FIXTURE / "vivado_hls.app").read_bytes())


def _solution_no_csynth(p: Path) -> None:  # e.g. only csim was run
    _app_no_solution(p)
    (p / "myproject_prj" / "solution1" / "csim" / "report").mkdir(parents=True)


@pytest.mark.parametrize("make", [_written_only, _app_no_solution, _solution_no_csynth])
def test_never_synthesised(tmp_path, make):
    p = tmp_path / "fresh"
    make(p)
    with pytest.raises(ReportError) as e:
        read_report(p)
    msg = str(e.value)
    assert "has not been synthesised" in msg
    assert "scripts/build_hls.py --synth" in msg
    assert "on PATH" in msg


def test_not_a_project(tmp_path):
    with pytest.raises(ReportError, match="no such project directory"):
        read_report(tmp_path / "nope")
    (tmp_path / "bare").mkdir()
    with pytest.raises(ReportError, match="no project.tcl"):
        read_report(tmp_path / "bare")


# ----------------------------------------------------------------------------- table and plot


def test_format_table_single(prj):
    table = format_table(read_report(prj))
    lines = table.splitlines()
    assert all(line.count("|") == 3 for line in lines if line.startswith("|"))  # two columns
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines if line.startswith("|")}
    assert rows["Project"] == "dense16x5"
    assert rows["Tool"] == "Vivado HLS 2020.1"
    assert rows["Part"] == "xc7z020-clg400-1"
    assert rows["Target clock"] == "5.000 ns"
    assert rows["Estimated clock"] == "4.049 ns"
    assert rows["Latency (worst)"] == "10 cycles (50.0 ns)"
    assert rows["Interval (II)"] == "8 cycles"
    assert rows["HLS DSP"] == "73 / 220 (33.2%)"
    assert rows["HLS FF"] == "7969 / 106400 (7.5%)"
    assert rows["HLS LUT"] == "2532 / 53200 (4.8%)"
    assert rows["HLS BRAM_18K"] == "0 / 280 (0.0%)"
    assert rows["Vivado synth DSP"] == "66 / 220 (30.0%)"
    assert rows["Vivado synth FF"] == "2428 / 106400 (2.3%)"
    assert rows["Vivado synth LUT"] == "1526 / 53200 (2.9%)"


def test_format_table_side_by_side(tmp_path):
    a = read_report(lay_out(tmp_path / "vivado_a"))
    b = read_report(lay_out(tmp_path / "vitis_b", vitis=True, vivado_synth=False))
    lines = format_table([a, b]).splitlines()
    header = [c.strip() for c in lines[1].split("|")[1:-1]]
    assert header == ["Project", "vivado_a", "vitis_b"]
    dsp = [c.strip() for c in next(line for line in lines if "Vivado synth DSP" in line).split("|")[1:-1]]
    assert dsp == ["Vivado synth DSP", "66 / 220 (30.0%)", "-"]
    tool = [c.strip() for c in next(line for line in lines if "| Tool" in line).split("|")[1:-1]]
    assert tool == ["Tool", "Vivado HLS 2020.1", "Vitis HLS 2023.2"]


@pytest.mark.parametrize("with_bits", [True, False])
def test_plot_reports_writes_png(tmp_path, with_bits):
    reports = []
    for name, bits in (("w8", 1280), ("w4", 640)):
        p = lay_out(tmp_path / name)
        if with_bits:
            (p / "manifest.json").write_text(json.dumps({"total_weight_bits": bits}))
        reports.append(read_report(p))
    out = plot_reports(reports, x="weight_bits", path=tmp_path / "plot.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 1024
    with pytest.raises(ValueError, match="x must be"):
        plot_reports(reports, x="bits", path=tmp_path / "x.png")


# ----------------------------------------------------------------------------- CLI


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(CLI), *map(str, args)], cwd=cwd, capture_output=True, text=True)


def test_cli_table(prj):
    # run as `python scripts/hls_report.py` from the repo root, and from elsewhere
    for cwd in (REPO, prj.parent):
        out = run_cli(prj, cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert "4.049 ns" in out.stdout
        assert "73 / 220 (33.2%)" in out.stdout
        assert "1526 / 53200" in out.stdout


def test_cli_json(prj):
    out = run_cli(prj, "--json")
    assert out.returncode == 0, out.stderr
    [d] = json.loads(out.stdout)
    assert d["estimated_clock_ns"] == 4.049
    assert (d["latency_best_cycles"], d["interval_min_cycles"]) == (10, 8)
    assert d["resources"]["DSP"]["used"] == 73
    assert d["resources"]["FF"]["used"] == 7969
    assert d["post_synth"]["DSP"]["used"] == 66


def test_cli_two_projects_and_plot(tmp_path):
    a, b = lay_out(tmp_path / "prj_a"), lay_out(tmp_path / "prj_b", vitis=True)
    png = tmp_path / "out" / "cmp.png"
    png.parent.mkdir()
    out = run_cli(a, b, "--plot", png)
    assert out.returncode == 0, out.stderr
    assert "prj_a" in out.stdout.splitlines()[1] and "prj_b" in out.stdout.splitlines()[1]
    assert out.stdout.count("73 / 220") == 2
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1024


def test_cli_error_exit_2_one_line(prj, tmp_path):
    xml = xml_of(prj)
    xml.write_bytes(_truncate(xml.read_bytes()))
    out = run_cli(prj)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "myproject_csynth.xml" in lines[0]

    _written_only(tmp_path / "fresh")
    out = run_cli(tmp_path / "fresh")
    assert out.returncode == 2
    assert "has not been synthesised" in out.stderr
