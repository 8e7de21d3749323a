"""Issue 21 (report trees): `kappa report` reads only inside the tree given, at most a capped
size per file and bounded JSON depth; insane values become warnings naming the file, and
`--json` is strict JSON."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from hls.cli import main as kappa
from hls.vendor.reports import ReportError, read_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
XML = Path("myproject_prj/solution1/syn/report/myproject_csynth.xml")


def _snapshot(root: Path):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


@pytest.fixture
def trees(tmp_path):
    prj = tmp_path / "prj"
    shutil.copytree(FIXTURES / "vitis-hls-2024.1-hls4ml", prj)
    comp = tmp_path / "comp"
    shutil.copytree(FIXTURES / "vitis-unified-2024.2-component", comp)
    sentinel = tmp_path / "elsewhere"
    sentinel.mkdir()
    (sentinel / "other.xml").write_bytes((prj / XML).read_bytes().replace(b"<FF>7123</FF>", b"<FF>1</FF>"))
    (sentinel / "other.cfg").write_text("part=xc7z020clg400-1\n[hls]\nsyn.top=secret_top\n")
    (sentinel / "test" / "hls").mkdir(parents=True)
    return prj, comp, sentinel


def _run(argv, capsys):
    rc = kappa(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_symlink_out_of_the_tree_is_refused(trees, capsys):
    prj, _, sentinel = trees
    before = _snapshot(sentinel)
    (prj / XML).unlink()
    os.symlink(sentinel / "other.xml", prj / XML)
    with pytest.raises(ReportError, match=r"myproject_csynth\.xml: resolves to .*elsewhere/other\.xml, outside the "
                                          r"report tree"):
        read_report(prj)
    rc, out, err = _run(["report", str(prj)], capsys)
    assert rc == 2 and err.startswith("error: ") and "outside the report tree" in err and out == ""
    assert _snapshot(sentinel) == before


def test_absolute_config_paths_out_of_the_tree_are_ignored_with_a_warning(trees):
    _, comp, sentinel = trees
    before = _snapshot(sentinel)
    cj = comp / "hls_component" / "vitis-comp.json"
    data = json.loads(cj.read_text())
    data["configuration"]["configFiles"] = [str(sentinel / "other.cfg"), "../../elsewhere/other.cfg"]
    data["configuration"]["work_dir"] = str(sentinel / "test")
    cj.write_text(json.dumps(data))
    r = read_report(comp / "hls_component")
    assert r.top == "test" and r.part != "xc7z020clg400-1"  # nothing from the outside config
    assert f"{cj}: configFiles entry {str(sentinel / 'other.cfg')!r} leads outside the report tree; ignored" \
        in r.warnings
    assert f"{cj}: configFiles entry '../../elsewhere/other.cfg' leads outside the report tree; ignored" in r.warnings
    assert f"{cj}: work_dir {str(sentinel / 'test')!r} leads outside the report tree; ignored" in r.warnings
    assert _snapshot(sentinel) == before


def test_file_size_cap_and_json_depth(trees, capsys, monkeypatch):
    prj, comp, sentinel = trees
    with pytest.raises(ReportError, match=r"(vivado_synth\.rpt|myproject_csynth\.xml): [0-9,]+ bytes, more than "
                                          r"the 1,000 a report file may have"):
        read_reports_capped(prj, 1000)
    monkeypatch.setenv("KAPPA_REPORT_MAX_BYTES", "1000")
    rc, _, err = _run(["report", str(prj)], capsys)
    assert rc == 2 and "more than the 1,000 a report file may have" in err
    monkeypatch.delenv("KAPPA_REPORT_MAX_BYTES")
    cj = comp / "hls_component" / "vitis-comp.json"
    cj.write_text("[" * 100_000 + "]" * 100_000)
    rc, _, err = _run(["report", str(comp / "hls_component")], capsys)
    assert rc == 2 and err == f"error: {cj}: JSON nested more than 64 levels deep; expected a Vitis component file " \
                              "(JSON)\n"
    assert sorted(p.name for p in sentinel.iterdir()) == ["other.cfg", "other.xml", "test"]


def read_reports_capped(prj, cap):
    from hls.vendor.reports import read_reports

    return read_reports(prj, max_file_bytes=cap)


def test_insane_values_become_warnings_and_json_is_strict(trees, capsys):
    prj, _, sentinel = trees
    before = _snapshot(sentinel)
    xml = prj / XML
    text = xml.read_text()
    text = text.replace("<Worst-caseLatency>395</Worst-caseLatency>", "<Worst-caseLatency>-5</Worst-caseLatency>")
    text = text.replace("<FF>7123</FF>", "<FF>99999999999999999999999999</FF>")
    text = text.replace("<TargetClockPeriod>5.00</TargetClockPeriod>", "<TargetClockPeriod>nan</TargetClockPeriod>")
    xml.write_text(text)
    rpt = prj / XML.with_suffix(".rpt")
    rpt.unlink()  # the XML alone: its values are what is shown
    r = read_report(prj)
    assert r.latency_worst_cycles is None and r.target_clock_ns is None and r.resources["FF"] is None
    assert r.latency_best_cycles == 395 and r.resources["LUT"].used == 17966
    assert f"{xml}: latency_worst_cycles is -5, expected a non-negative integer of at most 64 bits; shown as " \
           "unknown" in r.warnings
    assert any(w.startswith(f"{xml}: FF used is 99999999999999999999999999, expected") for w in r.warnings)
    assert any(w.startswith(f"{xml}: target_clock_ns is nan, expected a finite time > 0") for w in r.warnings)
    rc, out, _ = _run(["report", str(prj), "--json"], capsys)
    assert rc == 0

    def refuse(c):
        raise AssertionError(f"not strict JSON: {c}")

    (d,) = json.loads(out, parse_constant=refuse)
    assert d["target_clock_ns"] is None and d["latency_worst_cycles"] is None and len(d["warnings"]) == 3
    rc, out, _ = _run(["report", str(prj)], capsys)
    assert rc == 0 and f"warning: {xml}: latency_worst_cycles is -5" in out
    assert _snapshot(sentinel) == before
