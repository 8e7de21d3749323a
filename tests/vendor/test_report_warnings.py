"""`kappa report` says when a reported design is unusable: a failed co-simulation, a resource over
100 % of the part (a warning; with --strict an error and exit 1); `--plot` of unrelated projects."""

from __future__ import annotations

from pathlib import Path

from hls.cli import main
from hls.cli.commands.report import design_problems
from hls.vendor.reports import Resource, SynthesisReport

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def test_failed_cosim_warns_and_strict_fails(capsys):
    assert main(["report", str(FIX / "vitis-hls-2023.1-cosim-fail")]) == 0
    err = capsys.readouterr().err
    assert "warning: vitis-hls-2023.1-cosim-fail: C/RTL co-simulation (Verilog) reports 'Fail'" in err
    assert main(["report", str(FIX / "vitis-hls-2023.1-cosim-fail"), "--strict"]) == 1
    assert "error: vitis-hls-2023.1-cosim-fail: C/RTL co-simulation" in capsys.readouterr().err
    assert main(["report", str(FIX / "vivado-hls-2019.2-no-project-tcl"), "--strict"]) == 0  # cosim Pass


def test_over_utilisation_is_named():
    r = SynthesisReport(name="big", project_dir="big", top="myproject",
                        resources={"LUT": Resource(1000, 274, 365.0), "FF": Resource(10, 548, 1.82)},
                        post_synth={"DSP": Resource(2600, 2520, 103.17)})
    assert design_problems([r]) == [
        "big: LUT 1000 of 274 (365 % of the part, HLS estimate): the design does not fit",
        "big: DSP 2600 of 2520 (103 % of the part, Vivado synthesis): the design does not fit",
    ]
    r.resources["LUT"] = Resource(274, 274, 100.0)  # exactly full fits
    r.post_synth = None
    assert design_problems([r]) == []


def test_plot_of_unrelated_projects_has_no_joining_lines_and_a_log_latency_axis(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from hls.vendor.reports import plot_reports, read_reports

    reports = [r for d in ("vitis-hls-2023.1-cosim-fail", "vivado-hls-2019.2-no-project-tcl")
               for r in read_reports(FIX / d)]
    calls = []
    from matplotlib.axes import Axes

    orig = Axes.plot

    def spy(self, *args, **kw):
        lines = orig(self, *args, **kw)
        calls.append((self, lines))
        return lines

    Axes.plot = spy
    try:
        plot_reports(reports, x="name", path=tmp_path / "p.png")
    finally:
        Axes.plot = orig
    assert calls and all(ln.get_linestyle() in ("None", "") for _, lines in calls for ln in lines)
    lat_axes = {ax for ax, _ in calls if ax.get_ylabel().startswith("clock cycles")}
    assert len(lat_axes) == 1 and lat_axes.pop().get_yscale() == "log"
