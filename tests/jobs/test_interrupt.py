"""Issue 14: SIGINT/SIGTERM at any phase of the main job leaves either the previous state or
no new directory (no hidden ``.NAME.tmp-*``, no half project)."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_hls.py"

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[str]:
    """Command names of the descendants of ``pid`` (from /proc)."""
    names, todo = [], [pid]
    procs = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
                procs[int(d.name)] = (int(stat[stat.rindex(")") + 2:].split()[1]), comm)
            except (OSError, ValueError, IndexError):
                continue
    while todo:
        p = todo.pop()
        for c, (ppid, comm) in procs.items():
            if ppid == p:
                names.append(comm)
                todo.append(c)
    return names


def _interrupt(cfg, out, sig, marker, *, force=False, wait_for_compiler=False):
    args = [sys.executable, "-u", str(SCRIPT), "--config", str(cfg), "--output", str(out)]
    if force:
        args.append("--force")
    # an empty C-simulation cache of its own, so that g++ really runs (a shared cached binary would skip it)
    cache = tempfile.mkdtemp(prefix="kappa-csim-cache-test-")
    atexit.register(shutil.rmtree, cache, True)
    # restore SIGINT's default action: a pytest-xdist worker ignores SIGINT, and the child would inherit that
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KAPPA_CSIM_CACHE=str(cache)),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if marker in line:
                break
        else:
            pytest.fail(f"the job ended before {marker!r}: {''.join(seen)} {proc.stderr.read()[-2000:]}")
        if wait_for_compiler:
            t0 = time.time()
            while not any(n in ("cc1plus", "g++", "c++") for n in _children(proc.pid)):
                assert time.time() - t0 < 120 and proc.poll() is None, "the compiler never started"
                time.sleep(0.05)
            time.sleep(0.3)
        else:
            time.sleep(0.5)
        assert proc.poll() is None, "the job finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def _config(directory: Path, epochs: int) -> Path:
    c = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    c["dataset"]["num_samples"] = 400
    c["training"].update(epochs=epochs, steps_per_call=64)
    path = directory / f"affine_{epochs}.yaml"
    path.write_text(yaml.safe_dump(c))
    return path


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfg")
    return {"long": _config(d, 150), "short": _config(d, 2)}  # long: seconds of training to interrupt


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# Each run costs a TensorFlow start-up, so the phases and signals are paired rather than
# crossed: every phase and both signals are covered, and SIGINT/SIGTERM go through the same
# handler (SIGTERM is turned into KeyboardInterrupt by scripts/build_hls.py).
@pytest.mark.parametrize("phase, sig, marker, compiler, length", [
    ("training", signal.SIGINT, "training affine", False, "long"),
    ("conversion", signal.SIGTERM, "converting to an hls4ml project", False, "short"),
    ("g++ compile", signal.SIGINT, "C simulation (g++)", True, "short"),
], ids=["training-SIGINT", "conversion-SIGTERM", "gxx-SIGINT"])
def test_interrupt_leaves_no_new_directory(tmp_path, configs, phase, sig, marker, compiler, length):
    out = tmp_path / "prj"
    code, err = _interrupt(configs[length], out, sig, marker, wait_for_compiler=compiler)
    assert code == (130 if sig == signal.SIGINT else 143), err[-2000:]
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: interrupted ({sig.name}); nothing new was left on disk"] and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no project, no hidden .prj.tmp-* / .prj.old-*


def test_interrupted_force_run_keeps_the_previous_project(tmp_path, configs):
    """SIGTERM while g++ compiles the replacement: the previous project stays, byte for byte."""
    import keras

    import hls

    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="model_input")
    km = keras.Model(inp, keras.layers.Dense(2, name="dense0")(inp))
    prec = yaml.safe_load(configs["short"].read_text())["precision"]
    out = hls.convert(km, prec, tmp_path / "prj", tb_inputs=np.random.default_rng(0).uniform(0, 1, (5, 4)))
    before = _tree(out)
    code, err = _interrupt(configs["short"], out, signal.SIGTERM, "C simulation (g++)", force=True,
                           wait_for_compiler=True)
    assert code == 143, err[-2000:]
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["prj"]  # no .prj.tmp-* / .prj.old-*
