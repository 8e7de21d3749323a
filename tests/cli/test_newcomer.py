"""A new user's first commands, from an empty folder: paths relative to the current directory,
shipped configs by name, hls4ml's own option spellings, ``--set``, and a quiet terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from hls.cli import main
from hls.cli.commands.build import parse_set
from hls.jobs.config import JobConfigError, load_config, prepare_job
from hls.jobs.paths import resolve_config, shipped_config_names

CHATTER = re.compile(r"absl|InitializeLog|^[IWEF]\d{4} |cudart|cuInit|cuda|oneDNN|tensorflow/|da4ml|handler used|"
                     r"Interpreting|Topology:|Writing HLS project", re.IGNORECASE | re.MULTILINE)
"""What TensorFlow, absl, CUDA and hls4ml print on their own."""


def kappa(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES")}
    return subprocess.run([sys.executable, "-m", "hls.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=900)


@pytest.mark.slow
def test_build_then_compare_from_an_empty_folder(tmp_path):
    """No --output: the project lands in ./vivado_projects/<name> of the current directory, the
    README's next command finds it there, hls4ml's spellings are accepted, nothing chatters."""
    out = kappa("build", "--config", "affine", "--set", "training.epochs=1", "--strategy", "latency",
                "--backend", "vivado", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    prj = tmp_path / "vivado_projects" / "affine"
    assert (prj / "manifest.json").is_file()
    assert f"project: {prj}" in out.stdout  # the resolved output path is printed
    man = json.loads((prj / "manifest.json").read_text())
    assert (man["strategy"], man["backend"]) == ("Latency", "Vivado")
    assert not CHATTER.search(out.stdout + out.stderr), out.stdout + out.stderr
    assert "training done: " in out.stdout and "{" not in out.stdout  # a sentence, not a dict
    cmp = kappa("compare", "vivado_projects/affine", cwd=tmp_path)
    assert cmp.returncode == 0 and "bit-exact" in cmp.stdout, cmp.stderr
    assert not CHATTER.search(cmp.stdout + cmp.stderr), cmp.stdout + cmp.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vivado_projects"]  # nothing else written


def test_shipped_configs_by_name_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert {"affine", "digits", "digits_cnn", "sweep_digits_bits"} <= set(shipped_config_names())
    assert resolve_config("digits").name == "digits.yaml" and resolve_config(None).name == "digits.yaml"
    assert load_config("affine")["name"] == "affine"
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    assert resolve_config("mine.yaml") == tmp_path / "mine.yaml"  # a file here wins
    with pytest.raises(FileNotFoundError, match=r"--config affine"):
        resolve_config("configs/affine.yaml")  # no configs/ folder here: the name is suggested
    with pytest.raises(FileNotFoundError, match=f"relative paths are read from {re.escape(str(tmp_path))}.*digits_cnn"):
        resolve_config("digitz")


def _affine(**hls):
    cfg = load_config("affine")
    cfg["hls"] = hls
    return cfg


def test_hls4ml_spellings_in_the_hls_section():
    job = prepare_job(_affine(IOType="io_parallel", Strategy="LATENCY", ReuseFactor=2, Part="xcu250-figd2104-2L-e",
                              ClockPeriod=4, Backend="vivado"), check_output=False)
    assert {k: job.hls[k] for k in ("io_type", "strategy", "reuse_factor", "clock_period", "backend")} == \
        {"io_type": "io_parallel", "strategy": "Latency", "reuse_factor": 2, "clock_period": 4.0, "backend": "Vivado"}


def test_near_miss_keys_get_a_hint():
    with pytest.raises(JobConfigError) as e:
        prepare_job(_affine(Stratgy="Latency", reuse_factr=2), check_output=False)
    msg = str(e.value)
    assert "hls.Stratgy: unknown key; did you mean 'Strategy'?" in msg
    assert "hls.reuse_factr: unknown key; did you mean 'reuse_factor'?" in msg
    with pytest.raises(JobConfigError, match="the same option as hls.strategy"):
        prepare_job(_affine(strategy="Latency", Strategy="Resource"), check_output=False)


def test_set_values_are_yaml_scalars():
    assert parse_set(["training.epochs=3", "training.learning_rate=0.5", "model.use_bias=false", "hls.Part=xc7",
                      "precision.default.weight=ap_fixed<8,2,AP_RND_CONV,AP_SAT>", "split.seed=null"]) == [
        ("training.epochs", 3), ("training.learning_rate", 0.5), ("model.use_bias", False), ("hls.Part", "xc7"),
        ("precision.default.weight", "ap_fixed<8,2,AP_RND_CONV,AP_SAT>"), ("split.seed", None)]


@pytest.mark.parametrize("item, message", [
    ("training.epochz=3", "training.epochz: unknown key; did you mean 'epochs'?"),
    ("training.epochs=-1", "training.epochs: must be >= 0"),
    ("epochs", "expected KEY=VALUE"),
    ("name.x=1", "name is a value ('affine'), not a section"),
])
def test_set_is_validated_like_the_file(tmp_path, capsys, item, message):
    rc = main(["build", "--config", "affine", "--set", item, "--output", str(tmp_path / "prj"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert not (tmp_path / "prj").exists()
