"""hls/vendor/synth.py: vendor-tool detection and the synthesis driver, with stub tools on PATH.

The stubs are small shell scripts that append their name, working directory and arguments to
a log; the "producing" ones also drop the real Vivado HLS 2020.1 report files (the fixture of
test_reports.py) where a real csynth_design would, so the driver's whole path is exercised.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import hls4ml
import pytest
import yaml
from report_sets import project_tcl, vitis_xml  # the fixture layout, shared

from hls.vendor.reports import SynthesisReport
from hls.vendor.synth import SynthesisError, VendorToolNotFoundError, find_vendor_tools, run_synthesis

CP, MKDIR = shutil.which("cp"), shutil.which("mkdir")  # resolved before PATH is replaced

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "reports" / "vivado-2020.1-hls4ml-test"
TEMPLATES = Path(hls4ml.__file__).parent / "templates"
VITIS_APP = """<project xmlns="com.autoesl.autopilot.project" name="myproject_prj" top="myproject">
    <files xmlns=""/>
    <solutions xmlns="">
        <solution name="solution1" status="active"/>
    </solutions>
</project>
"""


def hls4ml_project(root: Path, backend: str) -> Path:
    """A project as hls4ml 1.3.0's write() lays it out for Dense(16->5, relu), minus firmware.

    hls4ml_config.yml records OutputDir where the project was first written (here: elsewhere),
    as happens when a project directory is moved or copied.
    """
    prj = root / f"{backend.lower()}_project"
    prj.mkdir(parents=True)
    config = {
        "Backend": backend,
        "ClockPeriod": 5,
        "HLSConfig": {"Model": {"Precision": {"default": "fixed<16,6>"}, "ReuseFactor": 1, "Strategy": "Latency"}},
        "IOType": "io_stream",
        "InputShapes": {"input_layer": [16]},
        "OutputDir": str(root / "where_it_was_written"),
        "OutputShapes": {"layer3_out": [5]},
        "Part": "xc7z020clg400-1",
        "ProjectName": "myproject",
        "Stamp": "620f535f",
        "Version": "1.0.0",
    }
    (prj / "hls4ml_config.yml").write_text(yaml.safe_dump(config))
    (prj / "project.tcl").write_text(project_tcl(backend.lower()))
    tmpl = "vitis" if backend == "Vitis" else "vivado"
    shutil.copy(TEMPLATES / tmpl / "build_prj.tcl", prj / "build_prj.tcl")
    shutil.copy(TEMPLATES / "vivado" / "vivado_synth.tcl", prj / "vivado_synth.tcl")
    return prj


def snapshot(d: Path) -> dict:
    return {
        str(p.relative_to(d)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in d.rglob("*")
    }


@pytest.fixture
def bindir(tmp_path, monkeypatch):
    """An empty directory that is the whole PATH."""
    b = tmp_path / "bin"
    b.mkdir()
    monkeypatch.setenv("PATH", str(b))
    return b


def stub(bindir: Path, name: str, *, produce: str | None = None, vsynth: bool = False, exit_code: int = 0) -> Path:
    """Write bindir/name: logs `tool=`, `cwd=` and one `arg=` line per argument to bindir/calls.log.

    produce="vitis"/"vivado" also writes the csynth reports in that tool's layout (and
    vivado_synth.rpt if vsynth), into the current directory like the real tool.
    """
    src = bindir.parent / "src"
    src.mkdir(exist_ok=True)
    lines = [
        "#!/bin/sh",
        f'{{ printf "tool=%s\\n" "${{0##*/}}"; printf "cwd=%s\\n" "$(pwd -P)"; '
        f'for a in "$@"; do printf "arg=%s\\n" "$a"; done; printf "end\\n"; }} >> "{bindir / "calls.log"}"',
    ]
    if produce:
        if produce == "vitis":
            app = "hls.app"
            (src / app).write_text(VITIS_APP)
            (src / "csynth.xml").write_bytes(vitis_xml())
        else:
            app = "vivado_hls.app"
            (src / app).write_bytes((FIXTURE / app).read_bytes())
            (src / "csynth.xml").write_bytes((FIXTURE / "myproject_csynth.xml").read_bytes())
        lines += [
            f"{MKDIR} -p myproject_prj/solution1/syn/report",
            f"{CP} {src / app} myproject_prj/{app}",
            f"{CP} {src / 'csynth.xml'} myproject_prj/solution1/syn/report/myproject_csynth.xml",
        ]
        if vsynth:
            lines.append(f"{CP} {FIXTURE / 'vivado_synth.rpt'} vivado_synth.rpt")
    lines.append(f"exit {exit_code}")
    path = bindir / name
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


def calls(bindir: Path) -> list[dict]:
    """The stub invocations: [{'tool': ..., 'cwd': ..., 'args': [...]}, ...]."""
    log = bindir / "calls.log"
    out, cur = [], None
    for line in log.read_text().splitlines() if log.exists() else []:
        key, _, val = line.partition("=")
        if key == "tool":
            cur = {"tool": val, "args": []}
        elif key == "cwd":
            cur["cwd"] = val
        elif key == "arg":
            cur["args"].append(val)
        elif line == "end":
            out.append(cur)
    return out


def build_opts(prj: Path) -> dict:
    text = (prj / "build_opt.tcl").read_text()
    return {k: int(v) for k, v in (line.split() for line in text.splitlines()[1:-1])}


def assert_fixture_numbers(r: SynthesisReport):
    assert r.estimated_clock_ns == 4.049
    assert (r.latency_worst_cycles, r.interval_max_cycles) == (10, 8)
    assert (r.resources["DSP"].used, r.resources["DSP"].available) == (73, 220)
    assert (r.resources["FF"].used, r.resources["LUT"].used, r.resources["BRAM_18K"].used) == (7969, 2532, 0)


# ----------------------------------------------------------------------------- detection


def test_find_vendor_tools_nothing_on_path(bindir):
    assert find_vendor_tools("Vitis") == {"vitis-run": None, "vitis_hls": None, "vivado": None}
    assert find_vendor_tools("vivado") == {"vivado_hls": None, "vivado": None}


def test_find_vendor_tools_finds_stubs(bindir):
    run = stub(bindir, "vitis-run")
    viv = stub(bindir, "vivado")
    assert find_vendor_tools("VITIS") == {"vitis-run": str(run), "vitis_hls": None, "vivado": str(viv)}


def test_unknown_backend(tmp_path):
    with pytest.raises(ValueError, match=r"unknown backend 'Quartus'; valid backends: Vitis, Vivado"):
        find_vendor_tools("Quartus")
    with pytest.raises(ValueError, match="valid backends: Vitis, Vivado"):
        run_synthesis(tmp_path, backend="oneAPI")


@pytest.mark.parametrize(
    "backend, present, kwargs, named",
    [
        ("Vitis", [], {}, ["'vitis-run' or 'vitis_hls'", "Vitis/2023.2/settings64.sh"]),
        ("Vivado", [], {}, ["'vivado_hls'", "Vivado/2020.1/settings64.sh"]),
        ("Vivado", ["vivado_hls"], {"vsynth": True}, ["'vivado' (for Vivado logic synthesis"]),
        ("Vitis", ["vitis-run"], {"vsynth": True}, ["'vivado' (for Vivado logic synthesis"]),
    ],
)
def test_missing_tools_raise_before_anything(tmp_path, bindir, backend, present, kwargs, named):
    prj = hls4ml_project(tmp_path, backend)
    for tool in present:
        stub(bindir, tool, produce=backend.lower())
    before = snapshot(prj)
    with pytest.raises(VendorToolNotFoundError) as e:
        run_synthesis(prj, backend=backend, **kwargs)
    msg = str(e.value)
    assert msg.startswith(f"{backend} backend: ")
    for text in named:
        assert text in msg
    assert "not found on PATH" in msg and "source /tools/Xilinx/" in msg
    assert snapshot(prj) == before  # nothing written, not even build_opt.tcl
    assert calls(bindir) == []  # nothing started
    assert isinstance(e.value, RuntimeError)


# ----------------------------------------------------------------------------- Vitis


def test_vitis_run_stub_that_writes_nothing(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vitis")
    stub(bindir, "vitis-run")
    with pytest.raises(SynthesisError, match=r"vitis-run finished but did not write a new myproject_prj/solution1/syn"):
        run_synthesis(prj)
    [call] = calls(bindir)
    assert call == {"tool": "vitis-run", "cwd": str(prj.resolve()), "args": ["--tcl", "build_prj.tcl", "--mode", "hls"]}
    assert build_opts(prj) == {
        "reset": 0,
        "csim": 0,
        "synth": 1,
        "cosim": 0,
        "validation": 0,
        "export": 0,
        "vsynth": 0,
        "fifo_opt": 0,
    }
    assert not (tmp_path / "where_it_was_written").exists()


def test_vitis_run_stub_producing_reports(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vitis")
    stub(bindir, "vitis-run", produce="vitis", vsynth=True)
    stub(bindir, "vivado")
    cwd = os.getcwd()
    r = run_synthesis(prj, backend="Vitis", vsynth=True, cosim=True)
    assert os.getcwd() == cwd
    assert [c["tool"] for c in calls(bindir)] == ["vitis-run"]  # vivado is started by build_prj.tcl, not us
    assert calls(bindir)[0]["cwd"] == str(prj.resolve())
    assert build_opts(prj) == {
        "reset": 0,
        "csim": 0,
        "synth": 1,
        "cosim": 1,
        "validation": 0,
        "export": 0,
        "vsynth": 1,
        "fifo_opt": 0,
    }
    assert (r.tool, r.tool_version) == ("Vitis HLS", "2023.2")
    assert_fixture_numbers(r)
    assert r.post_synth["DSP"].used == 66


def test_vitis_run_stub_failing(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vitis")
    stub(bindir, "vitis-run", exit_code=3)
    with pytest.raises(SynthesisError, match="vitis-run build of .* failed"):
        run_synthesis(prj)


def test_only_vitis_hls_on_path(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vitis")
    stub(bindir, "vitis_hls", produce="vitis")
    r = run_synthesis(prj, reset=True, log_to_stdout=False)
    [call] = calls(bindir)
    assert call == {"tool": "vitis_hls", "cwd": str(prj.resolve()), "args": ["-f", "build_prj.tcl"]}
    assert build_opts(prj) == {
        "reset": 1,
        "csim": 0,
        "synth": 1,
        "cosim": 0,
        "validation": 0,
        "export": 0,
        "vsynth": 0,
        "fifo_opt": 0,
    }
    assert (prj / "build_stdout.log").exists()
    assert_fixture_numbers(r)


def test_only_vitis_hls_failing(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vitis")
    stub(bindir, "vitis_hls", produce="vitis", exit_code=1)
    with pytest.raises(SynthesisError, match="exit code 1"):
        run_synthesis(prj)


# ----------------------------------------------------------------------------- Vivado


def test_vivado_hls_stub_producing_reports(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vivado")
    stub(bindir, "vivado_hls", produce="vivado", vsynth=True)
    stub(bindir, "vivado")
    cwd = os.getcwd()
    r = run_synthesis(prj, backend="Vivado", vsynth=True)
    assert os.getcwd() == cwd  # hls4ml's VivadoBackend.build() chdirs and back
    [call] = calls(bindir)
    assert call["tool"] == "vivado_hls"
    assert call["cwd"] == str(prj.resolve())
    assert call["args"] == [
        "-f",
        "build_prj.tcl",
        "reset=False csim=False synth=True cosim=False validation=False export=False vsynth=True fifo_opt=False",
    ]
    assert (r.tool, r.tool_version) == ("Vivado HLS", "2020.1")
    assert_fixture_numbers(r)
    assert (r.post_synth["DSP"].used, r.post_synth["FF"].used, r.post_synth["LUT"].used) == (66, 2428, 1526)


def test_vivado_hls_failure_leaving_old_report_is_caught(tmp_path, bindir):
    # hls4ml ignores vivado_hls's exit status; an old report from an earlier run must not pass.
    prj = hls4ml_project(tmp_path, "Vivado")
    stub(bindir, "vivado_hls", produce="vivado")
    run_synthesis(prj, backend="Vivado")
    stub(bindir, "vivado_hls", exit_code=1)  # now fails without writing anything
    with pytest.raises(SynthesisError, match="vivado_hls finished but did not write a new"):
        run_synthesis(prj, backend="Vivado")
    assert len(calls(bindir)) == 2


# ----------------------------------------------------------------------------- wrong project


def test_backend_must_match_project(tmp_path, bindir):
    prj = hls4ml_project(tmp_path, "Vivado")
    stub(bindir, "vitis-run")
    before = snapshot(prj)
    with pytest.raises(ValueError, match="written by hls4ml for backend 'vivado', not 'Vitis'"):
        run_synthesis(prj, backend="Vitis")
    assert calls(bindir) == [] and snapshot(prj) == before


def test_not_an_hls4ml_project(tmp_path, bindir):
    stub(bindir, "vitis-run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not an hls4ml project: no project.tcl"):
        run_synthesis(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such project directory"):
        run_synthesis(tmp_path / "missing")
    assert calls(bindir) == []
