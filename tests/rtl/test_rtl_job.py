"""``kappa build --backend rtl`` end to end on a tiny job (the affine regression, 3 epochs): the
RTL project with its report (``rtl`` section), ``kappa compare``/``report``/``csim`` on it, and
the options refused before training starts."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from hls.cli import main
from hls.jobs.paths import SHIPPED_CONFIGS


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtljob")
    cfg = yaml.safe_load((SHIPPED_CONFIGS / "affine.yaml").read_text())
    cfg["training"]["epochs"] = 3
    cfg["dataset"]["num_samples"] = 400
    (d / "affine.yaml").write_text(yaml.safe_dump(cfg))
    status = main(["build", "--config", str(d / "affine.yaml"), "--backend", "rtl", "--output", str(d / "prj"),
                   "--quiet"])
    return d, status


def test_build_backend_rtl_writes_report(job, capsys):
    d, status = job
    assert status == 0
    rep = json.loads((d / "prj" / "report.json").read_text())
    rtl = rep["rtl"]
    assert (rtl["outputs"], rtl["mismatches"]) == (200, 0)  # 100 test samples, two outputs each
    assert rep["hls"]["strategy"] == "distributed_arithmetic" and "replaced" in rep["hls"]["strategy_note"]
    assert set(rtl["estimate"]) == {"LUT", "FF"} and rtl["estimate"]["LUT"] > 0
    assert rtl["latency_cycles"] >= 1 and rtl["clock_period_ns"] == 5.0
    if shutil.which("yosys"):
        assert all(rtl["yosys"][k] >= 0 for k in ("LUT", "FF", "CARRY", "DSP", "BRAM")) and rtl["yosys"]["LUT"] > 0
        assert rtl["yosys"]["FF"] <= rtl["register_bits"] == rtl["estimate"]["FF"]
    md = (d / "prj" / "report.md").read_text()
    assert "Verilator RTL simulation" in md and "| LUT |" in md and "not a Vivado result" in md


def test_compare_report_csim_on_an_rtl_project(job, capsys):
    d, _ = job
    capsys.readouterr()
    assert main(["compare", str(d / "prj")]) == 0  # the built library is reused
    assert "bit-exact: 0 mismatches over 200 outputs" in capsys.readouterr().out
    assert main(["report", str(d / "prj")]) == 0
    out = capsys.readouterr().out
    assert "RTL (da4ml Verilog)" in out and "Yosys LUT (da4ml est.)" in out
    assert main(["csim", str(d / "prj")]) == 2
    assert "is an RTL project" in capsys.readouterr().err


@pytest.mark.parametrize("args,says", [
    (["--io-type", "io_stream"], "use io_parallel"),
    (["--reuse-factor", "2"], "needs reuse_factor 1"),
    (["--latency-cutoff", "-1"], "latency_cutoff must be >= 0"),
])
def test_rtl_options_refused_before_training(job, tmp_path, capsys, args, says):
    d, _ = job
    capsys.readouterr()
    assert main(["build", "--config", str(d / "affine.yaml"), "--backend", "rtl", "--output",
                 str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and says in err and "training" not in capsys.readouterr().out
    assert not (tmp_path / "x").exists()


def test_drop_softmax_needs_the_rtl_backend(job, tmp_path, capsys):
    d, _ = job
    assert main(["build", "--config", str(d / "affine.yaml"), "--drop-softmax", "--output", str(tmp_path / "x")]) == 2
    assert "applies to the RTL backend only" in capsys.readouterr().err
