"""Issue 14: the main job validates the whole config before training, reports every
problem in one ``error:`` line (exit 2) naming file and key, and never shows a traceback
unless ``--debug``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_hls.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("build_hls_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build_hls = _load_script()


@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if any training starts: validation must come first."""
    from kappa.nn import BaseModel

    def boom(self, *a, **k):
        raise AssertionError("training started before validation finished")

    monkeypatch.setattr(BaseModel, "train_instrumented", boom)


def _cfg(tmp_path, **changes):
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 200
    cfg["training"]["epochs"] = 1
    for dotted, value in changes.items():
        sec, _, key = dotted.partition("__")
        if key:
            cfg.setdefault(sec, {})[key] = value
        else:
            cfg[sec] = value
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _main(capsys, *argv):
    code = build_hls.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, [ln for ln in err.splitlines() if ln.strip()]


def _one_error(lines):
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and not any("Traceback" in ln for ln in lines), lines
    return errors[0]


# ------------------------------------------------------------------ item 8: options before training
@pytest.mark.parametrize("change, key, match", [
    ({"hls__reuse_factor": 0}, "hls.reuse_factor", "integer >= 1"),
    ({"hls__backend": "Quartus"}, "hls.backend", "unknown backend 'Quartus'"),
    ({"hls__strategy": "Fastest"}, "hls.strategy", "unknown strategy 'Fastest'"),
    ({"hls__io_type": "io_serial"}, "hls.io_type", "unknown io_type 'io_serial'"),
    ({"hls__clock_period": -5}, "hls.clock_period", "clock_period must be a number of ns"),
    ({"model__activation": "sigmoid"}, "model.activation", "unsupported activation 'sigmoid'"),
    ({"model__output_activation": "elu"}, "model.output_activation", "unsupported output activation 'elu'"),
    ({"hls__part": 'xc"; exec touch FILE; "'}, "hls.part", "not a valid FPGA part"),
])
def test_bad_options_refused_before_training(tmp_path, capsys, no_training, change, key, match):
    out = tmp_path / "prj"
    code, lines = _main(capsys, "--config", _cfg(tmp_path, **change), "--output", out, "--quiet")
    line = _one_error(lines)
    assert code == 2 and "job.yaml" in line and f"{key}: " in line and match in line, line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["job.yaml"]


def test_command_line_options_are_validated_and_named(tmp_path, capsys, no_training):
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", tmp_path / "p", "--reuse-factor", "0",
                        "--clock-period", "fast", "--part", "a b")
    line = _one_error(lines)
    assert code == 2 and "3 problems" in line
    assert "--reuse-factor: " in line and "--clock-period: " in line and "--part: " in line


def test_missing_compiler_found_before_training_and_leaves_nothing(tmp_path, capsys, no_training, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-kappa")
    out = tmp_path / "prj"
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", out, "--quiet")
    line = _one_error(lines)
    assert code == 2 and "tools: " in line and "no-such-compiler-kappa" in line
    assert not out.exists()


def test_all_problems_in_one_error_with_file_and_key(tmp_path, capsys, no_training):
    cfg = _cfg(tmp_path, training__epochz=3, model__num_hiden=[4], dataset__colour="red",
               precision__nosuch={"weight": "ap_fixed<8,2>"}, name="../../../etc")
    code, lines = _main(capsys, "--config", cfg, "--quiet")
    line = _one_error(lines)
    assert code == 2 and line.startswith(f"error: {cfg}: ")
    for part in ("training.epochz: unknown key", "dataset.colour: unknown argument of dataset 'affine'",
                 "name: name '../../../etc' is not allowed"):
        assert part in line, (part, line)
    # the model section is checked too (its key typo is reported; the dataset error stops the model build)
    cfg2 = _cfg(tmp_path, model__num_hiden=[4], precision__nosuch={"weight": "ap_fixed<8,2>"})
    code, lines = _main(capsys, "--config", cfg2, "--output", tmp_path / "p", "--quiet")
    line = _one_error(lines)
    assert "model.num_hiden: unknown key" in line and "unknown layer 'nosuch'" in line and "2 problems" in line


def test_numbers_written_as_yaml_strings_are_numbers(tmp_path):
    from hls.jobs.config import prepare_job

    path = tmp_path / "j.yaml"
    text = _cfg(tmp_path).read_text().replace("learning_rate: 0.2", "learning_rate: 1e-3")
    path.write_text(text)
    cfg = yaml.safe_load(text)
    assert cfg["training"]["learning_rate"] == "1e-3"  # PyYAML (YAML 1.1) reads it as a string
    job = prepare_job(cfg, source=str(path), output=tmp_path / "p", projects_dir=tmp_path)
    assert job.training["learning_rate"] == 0.001 and isinstance(job.training["learning_rate"], float)
    assert job.training["epochs"] == 1 and job.X_tr.shape == (150, 4)
    bad = dict(cfg, training={**cfg["training"], "learning_rate": "fast", "batch_size": "3.5"})
    from hls.jobs.config import JobConfigError

    with pytest.raises(JobConfigError) as ei:
        prepare_job(bad, source="j.yaml", output=tmp_path / "p", projects_dir=tmp_path)
    assert sorted(ei.value.problems) == ["training.batch_size: expected an integer, got '3.5'",
                                         "training.learning_rate: expected a number, got 'fast'"]


def test_malformed_config_names_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\ndataset: {name: affine\n")
    code, lines = _main(capsys, "--config", bad)
    line = _one_error(lines)
    assert code == 2 and "broken.yaml' is not valid YAML" in line and "line" in line
    bad.write_text("- just\n- a list\n")
    code, lines = _main(capsys, "--config", bad)
    assert code == 2 and "must hold a mapping" in _one_error(lines)


def test_corrupt_keras_file_is_not_file_not_found(tmp_path, capsys, no_training):
    w = tmp_path / "model.keras"
    w.write_bytes(b"this is not a zip archive")
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", tmp_path / "p", "--weights", w)
    line = _one_error(lines)
    assert code == 2 and "--weights: " in line and "model.keras' is not a Keras model archive" in line
    assert "not found" not in line.lower()
    import zipfile

    with zipfile.ZipFile(w, "w") as z:  # a zip, but not a Keras model
        z.writestr("hello.txt", "hi")
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", tmp_path / "p", "--weights", w)
    line = _one_error(lines)
    assert code == 2 and "cannot read Keras model file" in line and "not found" not in line.lower()
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", tmp_path / "p", "--weights", tmp_path / "no.keras")
    assert code == 2 and "no.keras' does not exist" in _one_error(lines)


def test_existing_user_folder_refused_with_force(tmp_path, capsys, no_training):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", user, "--force")
    line = _one_error(lines)
    assert code == 2 and "not a kappa project" in line and "notes.txt" in line
    assert (user / "notes.txt").read_text() == "keep"


def test_debug_shows_the_traceback(tmp_path, capsys):
    code = build_hls.main(["--config", str(tmp_path / "missing.yaml"), "--debug"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback (most recent call last)" in err and "error: job config" in err


def test_training_failure_reported_as_error(tmp_path, capsys, monkeypatch):
    """A diverged float/fixed-point run ends as one error line (no uncaught RuntimeError)."""
    from kappa.history import METRIC_NAMES, FitHistory
    from kappa.nn import BaseModel

    def nan_run(self, X, Y, **kw):
        n = 5
        arr = {k: np.zeros(n) for k in METRIC_NAMES}
        arr.update(
            loss=np.array([1.0, 2.0, 50.0, 1e30, np.inf]),
            finite=np.array([1, 1, 1, 1, 0], bool),
            divergence=np.array([0, 0, 0, 0, 1], bool),
        )
        return FitHistory(**arr, config={"quantized": False})

    monkeypatch.setattr(BaseModel, "train_instrumented", nan_run)
    out = tmp_path / "prj"
    code, lines = _main(capsys, "--config", _cfg(tmp_path), "--output", out, "--quiet")
    line = _one_error(lines)
    assert code == 2 and "training diverged: the loss or the parameters became NaN/inf at step 4" in line
    assert (out / "report.md").read_text().startswith("# TRAINING DIVERGED at step 4")


def test_no_traceback_on_the_terminal(tmp_path):
    """The real command: one error line on stderr, exit 2."""
    cfg = _cfg(tmp_path, training__epochz=3)
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--config", str(cfg), "--output", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=600,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [
        f"error: {cfg}: 1 problem: training.epochz: unknown key; did you mean 'epochs'? valid: "
        + errors[0].split("valid: ", 1)[1]
    ]


def test_hls_report_bad_plot_path_before_the_table(tmp_path):
    fixtures = REPO.parent / "shared" / "fixtures" / "reports"
    projects = sorted(p for p in fixtures.iterdir() if p.is_dir()) if fixtures.is_dir() else []
    target = str(projects[0]) if projects else str(tmp_path)
    for plot, match in (
        (tmp_path / "no" / "dir" / "x.png", "does not exist"),
        (tmp_path / "x.nosuch", "suffix"),
        (tmp_path, "is a directory"),
    ):
        r = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "hls_report.py"), target, "--plot", str(plot)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
        assert r.stderr.startswith("error: --plot") and match in r.stderr, r.stderr
