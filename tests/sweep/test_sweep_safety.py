"""Issue 21 (sweeps): nothing cleared through a link, one sweep per output folder, a cap on
the number of points, and hostile grid values refused before any cluster starts."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hls import safety
from hls.sweep import SweepError, load_sweep, run
from hls.sweep.lock import LOCK, acquire, release
from hls.sweep.point import run_point

REPO = Path(__file__).resolve().parents[2]


def _snapshot(root: Path):
    """Every path under ``root`` with its bytes (files) or None (folders, links)."""
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() and not p.is_symlink() else None)
                  for p in root.rglob("*"))


def _user_folder(path: Path) -> Path:
    path.mkdir()
    (path / "thesis.tex").write_text("\\documentclass{article}")
    (path / "sub").mkdir()
    (path / "sub" / "data.csv").write_text("1,2\n")
    return path


@pytest.fixture
def sweep_file(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 200
    d = tmp_path / "spec"
    d.mkdir()
    (d / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    (d / "sweep.yaml").write_text(yaml.safe_dump({
        "base": "tiny.yaml", "grid": {"precision.dense0.weight": ["ap_fixed<8,3,AP_RND_CONV,AP_SAT>"]}}))
    return d / "sweep.yaml"


def _script_main(argv):
    spec = importlib.util.spec_from_file_location("sweep_script", REPO / "scripts" / "sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


# ---------------------------------------------------------------- finding 1: no clearing through a link
def test_point_folder_replaced_by_a_link_is_never_cleared(tmp_path):
    user = _user_folder(tmp_path / "mine")
    before = _snapshot(user)
    out = tmp_path / "out"
    (out / "points").mkdir(parents=True)
    os.symlink(user, out / "points" / "abc")
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        run_point({}, str(out / "points" / "abc"), point_id="abc", owner=str(out))
    # the points folder itself a link: refused as well
    os.rename(out / "points", tmp_path / "real_points")
    os.symlink(user, out / "points")
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        run_point({}, str(out / "points" / "sub"), point_id="sub", owner=str(out))
    assert _snapshot(user) == before


def test_rerun_sweep_with_a_linked_point_folder_is_refused_before_any_cluster(sweep_file, tmp_path, capsys):
    sweep = load_sweep(sweep_file)
    out = tmp_path / "out"
    (out / "points").mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps(sweep.manifest(), indent=1, default=str) + "\n")
    user = _user_folder(tmp_path / "mine")
    os.symlink(user, out / "points" / sweep.points[0].id)
    before, before_out = _snapshot(user), _snapshot(out)
    assert _script_main([str(sweep_file), "--output", str(out), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is a symbolic link" in err and sweep.points[0].id in err
    assert err.count("\n") == 1
    assert _snapshot(user) == before and _snapshot(out) == before_out


def test_clear_dir_checks_every_component(tmp_path):
    user = _user_folder(tmp_path / "mine")
    before = _snapshot(user)
    owner = tmp_path / "owner"
    (owner / "a" / "b").mkdir(parents=True)
    (owner / "a" / "b" / "old.txt").write_text("old")
    os.symlink(user / "thesis.tex", owner / "a" / "b" / "keep")  # a link named like a kept entry is removed
    safety.clear_dir(owner / "a" / "b", owner, keep=("keep",))
    assert list((owner / "a" / "b").iterdir()) == []
    os.symlink(user, owner / "a" / "link")
    for bad, says in ((owner / "a" / "link" / "sub", "symbolic link"), (tmp_path, "not inside"),
                      (owner, "not inside"), (owner / "nothing", "does not exist")):
        with pytest.raises(FileExistsError, match=says):
            safety.clear_dir(bad, owner)
    with pytest.raises(FileExistsError, match="symbolic link"):
        safety.remove_dir(owner / "a" / "link", owner)
    assert _snapshot(user) == before


# ---------------------------------------------------------------- finding 7: locks
def test_second_sweep_on_the_same_output_is_refused_naming_the_holder(sweep_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": 0}  # this live process
    (out / LOCK).write_text(json.dumps(holder))
    before = _snapshot(out)
    assert _script_main([str(sweep_file), "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"another sweep (PID {os.getpid()} on host {socket.gethostname()}" in err
    assert _snapshot(out) == before  # nothing run, the holder's lock left alone
    # held from another host: never taken over
    (out / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}))
    with pytest.raises(SweepError, match="PID 1 on host elsewhere.example"):
        acquire(out)


def test_stale_lock_is_taken_over_with_a_warning(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its PID is no longer alive (reused PIDs are unlikely within this test)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": 0}))
    with pytest.warns(UserWarning, match=f"stale lock .* PID {gone.pid}"):
        lock = acquire(out)
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    with pytest.raises(SweepError, match=f"PID {os.getpid()}"):
        acquire(out)  # held now
    release(lock)
    assert sorted(p.name for p in out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---------------------------------------------------------------- finding 7: cap, before any work
def test_huge_grid_is_refused_with_its_count(sweep_file, tmp_path, capsys):
    base = sweep_file.parent / "tiny.yaml"
    grid = {f"training.{k}": list(range(1, 11)) for k in ("epochs", "batch_size")}
    grid.update({"split.seed": list(range(10)), "dataset.seed": list(range(10)), "model.seed": list(range(10)),
                 "hls.reuse_factor": list(range(1, 11))})
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump({"base": str(base), "grid": grid}))
    with pytest.raises(SweepError, match=r"1,000,000 points \(10 x 10 x 10 x 10 x 10 x 10\), more than the limit "
                                         r"of 10,000"):
        load_sweep(big)
    out = tmp_path / "out"
    assert _script_main([str(big), "--output", str(out), "--quiet"]) == 2
    assert "1,000,000 points" in capsys.readouterr().err
    # the cap can be lowered (and raised) from the command line
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({"base": str(base), "grid": {"model.seed": [0, 1, 2]}}))
    assert _script_main([str(small), "--output", str(out), "--quiet", "--max-points", "2"]) == 2
    assert "3 points (3), more than the limit of 2" in capsys.readouterr().err
    with pytest.raises(SweepError, match="max_points must be a positive integer"):
        run(small, out, max_points=0)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml", "small.yaml", "spec"]


HOSTILE = [
    ({"hls.part": ['xcu250"; exec touch PWNED; "']}, "is not a valid FPGA part number"),
    ({"name": ["../../evil"]}, "name '../../evil' is not allowed"),
    ({"hls.layer_options": [{"dense0": {"ReuseFactor": "[exec touch PWNED]"}}]}, "a dense layer takes no options"),
    ({"hls.layer_options": [{"../x": {"reuse_factor": 2}}]}, "'../x', which is not a layer of the model"),
]


@pytest.mark.parametrize("grid, says", HOSTILE, ids=["part", "name", "layer_option", "layer_name"])
def test_hostile_grid_values_are_refused_before_any_cluster(sweep_file, tmp_path, capsys, grid, says):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": str(sweep_file.parent / "tiny.yaml"), "grid": grid}))
    out = tmp_path / "out"
    assert _script_main([str(bad), "--output", str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "internal error" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "spec"]
    assert not (tmp_path.parent / "evil").exists()
