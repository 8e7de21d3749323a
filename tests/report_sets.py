"""The real Vivado HLS 2020.1 report set (../shared/fixtures/reports/vivado-2020.1-hls4ml-test,
from hls4ml's own test data) laid out as a synthesised hls4ml project, the way hls4ml's
test_report.py does it; shared by the report, synthesis and sweep tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "reports" / "vivado-2020.1-hls4ml-test"

VITIS_APP = """<project xmlns="com.autoesl.autopilot.project" name="myproject_prj" top="myproject" projectType="C/C++">
    <includePaths/>
    <libraryPaths/>
    <Simulation argv="">
        <SimFlow name="csim" csimMode="0" lastCsimMode="0"/>
    </Simulation>
    <files xmlns="">
        <file name="firmware/myproject.cpp" sc="0" tb="false" cflags="-std=c++0x" csimflags="" blackbox="false"/>
    </files>
    <solutions xmlns="">
        <solution name="solution1" status="active"/>
    </solutions>
</project>
"""


def project_tcl(backend: str = "vivado") -> str:
    """project.tcl as hls4ml 1.3.0's writer produces it for this fixture's model."""
    return (
        'variable project_name\nset project_name "myproject"\n'
        f'variable backend\nset backend "{backend}"\n'
        'variable part\nset part "xc7z020clg400-1"\n'
        "variable clock_period\nset clock_period 5\n"
    )


def vitis_xml() -> bytes:
    """The fixture's csynth XML as Vitis HLS 2023.2 names things (DSP, not DSP48E)."""
    xml = (FIXTURE / "myproject_csynth.xml").read_bytes()
    xml = xml.replace(b"<DSP48E>", b"<DSP>").replace(b"</DSP48E>", b"</DSP>")
    return xml.replace(b"<Version>2020.1</Version>", b"<Version>2023.2</Version>")


def vitis_rpt() -> bytes:
    """The fixture's csynth text report as Vitis HLS 2023.2 heads it (consistent with vitis_xml)."""
    rpt = (FIXTURE / "myproject_csynth.rpt").read_bytes()
    rpt = rpt.replace(b"== Vivado HLS Report for", b"== Vitis HLS Report for").replace(b"DSP48E", b"DSP   ")
    return rpt.replace(b"* Version:        2020.1 (", b"* Version:        2023.2 (")


def lay_out(prj: Path, vitis: bool = False, vivado_synth: bool = True) -> Path:
    """Write the fixture files into prj/ as a synthesised hls4ml project; returns prj."""
    report = prj / "myproject_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True)
    (prj / "project.tcl").write_text(project_tcl("vitis" if vitis else "vivado"))
    if vitis:
        (prj / "myproject_prj" / "hls.app").write_text(VITIS_APP)
        (report / "myproject_csynth.xml").write_bytes(vitis_xml())
    else:
        (prj / "myproject_prj" / "vivado_hls.app").write_bytes((FIXTURE / "vivado_hls.app").read_bytes())
        (report / "myproject_csynth.xml").write_bytes((FIXTURE / "myproject_csynth.xml").read_bytes())
    rpt = vitis_rpt() if vitis else (FIXTURE / "myproject_csynth.rpt").read_bytes()
    (report / "myproject_csynth.rpt").write_bytes(rpt)
    if vivado_synth:
        (prj / "vivado_synth.rpt").write_bytes((FIXTURE / "vivado_synth.rpt").read_bytes())
    return prj


def xml_of(prj: Path) -> Path:
    return prj / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
