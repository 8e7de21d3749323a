"""Issue 14: nothing lost, nothing injected. Ownership before any delete, names and options
that reach Tcl/C++/paths validated, project modes, and refusals that leave nothing behind."""

from __future__ import annotations

import json
import os
import stat

import keras
import numpy as np
import pytest

import hls
from hls import safety
from kappa.utils import sha256_file

P = {"default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
                 "activation": "ap_fixed<12,5,AP_RND,AP_SAT>"},
     "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}
X = np.random.default_rng(1).uniform(-3, 3, (6, 3))


def _model(name="dense0"):
    keras.utils.set_random_seed(0)
    inp = keras.Input((3,), name="model_input")
    out = keras.layers.Dense(2, name=name)(inp)
    return keras.Model(inp, out)


def _user_folder(path):
    path.mkdir()
    (path / "notes.txt").write_text("my notes")
    (path / "data").mkdir()
    (path / "data" / "x.csv").write_text("1,2\n")
    return path


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return hls.convert(_model(), P, tmp_path_factory.mktemp("s") / "prj", tb_inputs=X)


# ------------------------------------------------------------------ item 1: --force ownership
def test_force_never_deletes_a_folder_kappa_did_not_write(tmp_path):
    user = _user_folder(tmp_path / "mine")
    before = _snapshot(user)
    with pytest.raises(FileExistsError, match=r"not a kappa project.*data, notes\.txt"):
        hls.convert(_model(), P, user, tb_inputs=X, force=True)
    assert _snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging directory left


def test_force_refuses_a_forged_or_broken_manifest_and_files(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "manifest.json").write_text("{not json")
    with pytest.raises(FileExistsError, match="not a kappa project"):
        hls.convert(_model(), P, fake, force=True)
    (fake / "manifest.json").write_text(json.dumps({"project_name": "x"}))  # no kappa version / sums
    with pytest.raises(FileExistsError, match="not a kappa project"):
        hls.convert(_model(), P, fake, force=True)
    f = tmp_path / "file.txt"
    f.write_text("keep")
    with pytest.raises(FileExistsError, match="is a file"):
        hls.convert(_model(), P, f, force=True)
    link = tmp_path / "link"
    link.symlink_to(fake)
    with pytest.raises(FileExistsError, match="symbolic link"):
        hls.convert(_model(), P, link, force=True)
    assert f.read_text() == "keep" and (fake / "manifest.json").exists()


def test_force_replaces_a_kappa_project(project, tmp_path):
    import shutil

    prj = tmp_path / "prj"
    shutil.copytree(project, prj)
    (prj / "stale.txt").write_text("from the old project")
    hls.convert(_model(), P, prj, tb_inputs=X[:3], force=True)
    assert not (prj / "stale.txt").exists()
    assert json.loads((prj / "manifest.json").read_text())["tb_samples"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["prj"]  # old copy and staging removed


# ------------------------------------------------------------------ item 2: names confined
@pytest.mark.parametrize("name", ["../../../some/dir", "..", ".", "a/b", "", "x y", "a;b", "name\n", 7, None])
def test_config_names_confined_to_base(tmp_path, name):
    with pytest.raises(ValueError, match="not allowed"):
        safety.confined(tmp_path / "vivado_projects", name)


def test_confined_accepts_safe_names(tmp_path):
    assert safety.confined(tmp_path, "digits_v2-a") == tmp_path / "digits_v2-a"


# ------------------------------------------------------------------ item 3: Tcl injection
HOSTILE_PARTS = ['xc"; exec touch FILE; "', "xc[exec touch FILE]", "xc$env(HOME)", "xc u250", "xc\nexec rm", "",
                 "x" * 65, 5]


@pytest.mark.parametrize("part", HOSTILE_PARTS)
def test_hostile_part_refused_before_writing(tmp_path, part):
    with pytest.raises(ValueError, match="part"):
        hls.convert(_model(), P, tmp_path / "p", part=part)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("clock", ["5; exec touch FILE", "[exec x]", -1.0, 0, float("nan"), float("inf"), True, None])
def test_hostile_clock_period_refused(tmp_path, clock):
    with pytest.raises(ValueError, match="clock_period"):
        hls.convert(_model(), P, tmp_path / "p", clock_period=clock)
    assert list(tmp_path.iterdir()) == []


def test_emitted_tcl_holds_only_validated_values(project, tmp_path):
    prj = hls.convert(_model(), P, tmp_path / "p", part="xc7z020clg400-1", clock_period="4.5")
    tcl = (prj / "project.tcl").read_text()
    assert 'set part "xc7z020clg400-1"' in tcl and "set clock_period 4.5\n" in tcl
    # every string value in project.tcl is plain: no Tcl substitution characters
    for line in tcl.splitlines():
        if line.startswith("set "):
            assert not any(c in line.split(None, 2)[2] for c in "[]$;\\"), line
    assert json.loads((prj / "manifest.json").read_text())["clock_period_ns"] == 4.5


@pytest.mark.parametrize("layer", ["my dense", 'd"q', "d'q", "dense-0", "0dense", "a;b"])
def test_layer_names_that_are_not_cpp_identifiers_refused(tmp_path, layer):
    with pytest.raises(ValueError, match=r"not allowed.*C\+\+ identifiers"):
        hls.convert(_model(layer), P, tmp_path / "p", tb_inputs=X)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kw, match", [({"reuse_factor": 0}, "reuse_factor"), ({"reuse_factor": 2.5}, "reuse_factor"),
                                       ({"reuse_factor": True}, "reuse_factor"), ({"backend": "Quartus"}, "backend"),
                                       ({"strategy": "Fast"}, "strategy"), ({"io_type": "io_serial"}, "io_type")])
def test_every_option_validated(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        hls.convert(_model(), P, tmp_path / "p", **kw)


# ------------------------------------------------------------------ modes and leftovers
def test_project_directory_mode_follows_umask(project):
    mode = stat.S_IMODE(os.stat(project).st_mode)
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o777 & ~mask
    assert mode != 0o700 or mask == 0o077


def test_failure_leaves_no_hidden_directory(tmp_path):
    seen = []

    def boom(staging):
        seen.append(sorted(p.name for p in staging.iterdir()))
        raise RuntimeError("late step failed")

    with pytest.raises(RuntimeError, match="late step failed"):
        hls.convert(_model(), P, tmp_path / "p", tb_inputs=X, before_publish=boom)
    assert "manifest.json" in seen[0]  # the hook saw the finished project in its staging directory
    assert list(tmp_path.iterdir()) == []


def test_compare_on_a_folder_that_is_not_a_project(tmp_path):
    user = _user_folder(tmp_path / "mine")
    with pytest.raises(FileNotFoundError, match=r"is not a kappa project \(no valid kappa manifest.json\)"):
        hls.compare(user)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hls.compare(tmp_path / "nothing")


def test_is_kappa_project(project, tmp_path):
    assert safety.is_kappa_project(project)
    assert not safety.is_kappa_project(_user_folder(tmp_path / "u"))
    assert sha256_file(project / "manifest.json")  # untouched by the checks


def test_sigterm_during_library_convert_leaves_nothing(tmp_path):
    """hls.convert used as a library: SIGTERM mid-way removes the staging directory."""
    import signal

    def terminate(staging):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM was not turned into an interruption")

    old = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        hls.convert(_model(), P, tmp_path / "p", tb_inputs=X, before_publish=terminate)
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is old  # the previous handler is restored


def test_failed_convert_removes_the_folders_it_created(tmp_path):
    def fail(staging):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        hls.convert(_model(), P, tmp_path / "a" / "b" / "prj", tb_inputs=X, before_publish=fail)
    assert list(tmp_path.iterdir()) == []
