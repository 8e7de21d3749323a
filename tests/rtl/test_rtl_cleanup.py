"""The Verilator build's clean-up never deletes through a link out of the project."""

from __future__ import annotations

import pytest

from hls.rtl.verilator import _remove_objects


def _outside(tmp_path):
    out = tmp_path / "users_folder"
    (out / "sub").mkdir(parents=True)
    (out / "thesis.tex").write_text("mine")
    (out / "sub" / "data.txt").write_text("mine too")
    return out


def test_linked_obj_dir_is_left_alone(tmp_path):
    out = _outside(tmp_path)
    prj = tmp_path / "prj"
    (prj / "sim").mkdir(parents=True)
    (prj / "sim" / "obj_dir").symlink_to(out, target_is_directory=True)
    with pytest.raises(FileExistsError, match="symbolic link"):
        _remove_objects(prj)
    assert sorted(p.name for p in out.rglob("*")) == ["data.txt", "sub", "thesis.tex"]


def test_obj_dir_behind_a_linked_sim_folder_is_left_alone(tmp_path):
    out = _outside(tmp_path)
    (out / "obj_dir").mkdir()
    (out / "obj_dir" / "keep.o").write_text("x")
    prj = tmp_path / "prj"
    prj.mkdir()
    (prj / "sim").symlink_to(out, target_is_directory=True)
    with pytest.raises(FileExistsError, match="symbolic link"):
        _remove_objects(prj)
    assert (out / "obj_dir" / "keep.o").read_text() == "x"


def test_real_obj_dir_is_removed(tmp_path):
    prj = tmp_path / "prj"
    (prj / "sim" / "obj_dir").mkdir(parents=True)
    (prj / "sim" / "obj_dir" / "a.o").write_text("x")
    (prj / "sim" / "keep.v").write_text("module m; endmodule")
    _remove_objects(prj)
    assert not (prj / "sim" / "obj_dir").exists() and (prj / "sim" / "keep.v").is_file()
