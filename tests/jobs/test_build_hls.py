"""The main job, through its command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_hls.py"


def _run(*args, env=None):
    e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=e, cwd=REPO,
                          timeout=900)


@pytest.fixture
def small_affine(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 400
    cfg["training"]["epochs"] = 3
    path = tmp_path / "affine_small.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_affine_job_end_to_end(tmp_path, small_affine):
    out = tmp_path / "prj"
    r = _run("--config", str(small_affine), "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last == "0 mismatches over 200 outputs (100 test samples): bit-exact"
    report = json.loads((out / "report.json").read_text())
    assert report["comparison"]["mismatches"] == 0 and report["comparison"]["outputs"] == 200
    assert report["training"]["n_steps"] == 3 * 10  # 300 training samples / batch 32 -> 10 steps per epoch
    assert (out / "training_curves.png").stat().st_size > 10_000
    assert "0 mismatches over 200 outputs" in (out / "report.md").read_text()
    fw = report["firmware"]  # the firmware report: float vs firmware and per-layer cost (regression: MSE)
    assert fw["metric"] == "mse" and fw["float"] < 1.0 and len(fw["lsb_diff"]) == 2
    assert fw["layers"][0]["layer"] == "input" and (out / "firmware_cost.png").is_file()
    assert "only this layer quantized" in (out / "report.md").read_text()
    # an existing project is never overwritten without --force
    before = (out / "manifest.json").read_bytes()
    r2 = _run("--config", str(small_affine), "--output", str(out), "--quiet")
    assert r2.returncode == 2 and "--force" in r2.stderr
    assert (out / "manifest.json").read_bytes() == before


def test_synth_without_vendor_tools_stops_first(tmp_path, small_affine):
    out = tmp_path / "prj"
    r = _run("--config", str(small_affine), "--output", str(out), "--synth", "--quiet",
             env={"PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"})
    assert r.returncode == 2
    assert "vitis" in r.stderr.lower() and "PATH" in r.stderr
    assert not out.exists()  # stopped before training or writing anything


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: nosuch}\nmodel: {}\nprecision: {}\nbogus: 1\n")
    r = _run("--config", str(bad), "--output", str(tmp_path / "p"))
    assert r.returncode == 2 and "bogus" in r.stderr
    r = _run("--config", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "missing.yaml" in r.stderr
