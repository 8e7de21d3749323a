"""The README's Python snippets and commands, run exactly as written from an empty folder.

Every fenced ``python``/``bash`` block carries a marker on the line before it:
``<!-- test: run ... -->`` (run here, in README order, all in one temporary folder holding a
copy of ``tests/fixtures/models/``, the models the README names) or ``<!-- test: skip (why) -->``.
A block without a marker fails the suite, so the README cannot drift unnoticed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK = re.compile(r"(?:^(?P<marker><!-- test: (?P<what>run|skip)[^>]*-->)\n)?^```(?P<lang>python|bash)\n(?P<body>.*?)^```$",
                   re.MULTILINE | re.DOTALL)


def blocks() -> list[dict]:
    out = []
    for m in BLOCK.finditer(README.read_text()):
        out.append({"lang": m["lang"], "body": m["body"], "what": m["what"], "marker": m["marker"],
                    "line": README.read_text()[: m.start("body")].count("\n") + 1})
    return out


def test_every_block_has_a_marker():
    missing = [f"README.md:{b['line']} ({b['lang']})" for b in blocks() if b["what"] is None]
    assert not missing, f"README blocks without <!-- test: run|skip (why) --> before them: {missing}"
    skipped = [b for b in blocks() if b["what"] == "skip"]
    assert all(re.search(r"skip \(.+\)", b["marker"]) for b in skipped)  # every skip says why


def _run_blocks():
    runs = [b for b in blocks() if b["what"] == "run"]
    ids = []
    for b in runs:
        if "kappa.load_model(\"KERAS_3layer.json\"" in b["body"]:
            ids.append("byom-keras")
        elif "qkeras" in b["body"]:
            ids.append("byom-qkeras")
        elif "ConvBlockModel" in b["body"]:
            ids.append("cnn")
        elif b["lang"] == "bash":
            ids.append("kappa-build")
        else:
            ids.append("using-kappa")
    return [pytest.param(b, id=i, marks=pytest.mark.slow) for b, i in zip(runs, ids)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An empty folder elsewhere, with the models the README names (as a reader copies them)."""
    d = tmp_path_factory.mktemp("readme")
    for f in (REPO / "tests" / "fixtures" / "models").iterdir():
        if f.suffix in (".json", ".h5", ".keras"):
            shutil.copy(f, d / f.name)
    return d


def _env():
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize("block", _run_blocks())
def test_readme_block_runs_as_written(block, folder):
    if block["lang"] == "python":
        script = folder / f"readme_{block['line']}.py"
        script.write_text(block["body"])
        r = subprocess.run([sys.executable, script.name], cwd=folder, env=_env(), capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return
    for line in block["body"].splitlines():
        cmd = line.split(" #")[0].strip()
        if not cmd:
            continue
        argv = shlex.split(cmd)
        assert argv[0] == "kappa", f"README command not run by this test: {cmd}"
        r = subprocess.run([sys.executable, "-m", "hls.cli", *argv[1:]], cwd=folder, env=_env(),
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        assert not re.search(r"absl|cudart|cuInit|da4ml|handler used", r.stdout + r.stderr), r.stderr
