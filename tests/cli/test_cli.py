"""The kappa command (hls/cli/): subcommands, exit codes (0 ok, 1 mismatch, 2 bad input),
one error style, --json. Run as `python -m hls.cli` (what the console script calls) or through
main(argv) in-process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest

from hls.cli import main

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "reports"


def kappa(*args, cwd=REPO):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "hls.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


TF_IMPORT_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} )")


def one_error_line(out):
    """The one line kappa prints (TensorFlow's own import-time log lines, which it writes
    before honouring TF_CPP_MIN_LOG_LEVEL, are not kappa's and are skipped)."""
    lines = [ln for ln in out.stderr.strip().splitlines() if not TF_IMPORT_NOISE.match(ln)]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def test_console_script_is_declared():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"kappa": "hls.cli:entry"}
    import hls.cli

    assert callable(hls.cli.entry)


def test_help_lists_commands_examples_and_exit_codes():
    out = kappa("--help")
    assert out.returncode == 0
    for cmd in ("build", "report", "csim", "compare", "precision", "sweep"):
        assert f"\n    {cmd}" in out.stdout
    assert "examples:" in out.stdout and "exit status: 0 ok, 1 mismatch, 2 bad input" in out.stdout



@pytest.mark.parametrize("cmd", ["report", "csim", "compare", "precision"])
def test_each_command_has_help_with_examples_and_exit_status(cmd, capsys):
    assert main([cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: kappa {cmd}") and "exit status" in out and "example" in out


def test_unknown_command_and_option_are_bad_input():
    line = one_error_line(out := kappa("frobnicate"))
    assert out.returncode == 2 and "invalid choice: 'frobnicate'" in line and "kappa --help" in line
    line = one_error_line(out := kappa("report", FIX / "vitis-hls-2024.1-hls4ml", "--bogus"))
    assert out.returncode == 2 and "--bogus" in line


# ----------------------------------------------------------------------------- report


def test_report_table_on_a_fixture():
    out = kappa("report", FIX / "vivado-hls-2019.2-no-project-tcl")
    assert out.returncode == 0, out.stderr
    rows = {ln.split("|")[1].strip(): ln.split("|")[2].strip() for ln in out.stdout.splitlines() if ln.startswith("| ")}
    assert rows["Tool"] == "Vivado HLS 2019.2"
    assert rows["Latency (worst)"] == "12323 cycles (61615.0 ns)"
    assert rows["HLS LUT"] == "1737 / 274080 (0.6%)"
    assert rows["Co-sim"] == "Pass (Verilog)"
    assert "note: no project.tcl: solution and top read from vivado_hls.app" in out.stdout


def test_report_json_names_files_and_covers_every_top():
    d = FIX / "vivado-hls-old-project-tcl-axi"
    out = kappa("report", d, "--json")
    assert out.returncode == 0, out.stderr
    axi, core = json.loads(out.stdout)
    assert (axi["top"], axi["synthesised_top"], core["top"]) == ("myproject_axi", True, "myproject")
    assert axi["latency_worst_cycles"] == 2885133 and core["latency_worst_cycles"] == 2885127
    assert axi["sources"]["latency_worst_cycles"] == str(
        d / "myproject_prj/solution1/syn/report/myproject_axi_csynth.xml"
    )
    assert axi["files"]["project_tcl"] == str(d / "project.tcl")


def test_report_strict_exits_1_when_files_disagree():
    d = FIX / "vivado-2022.2-synth-only-ultrascale"
    assert kappa("report", d).returncode == 0
    out = kappa("report", d, "--strict")
    assert out.returncode == 1
    assert one_error_line(out) == (
        "error: files disagree: vivado-2022.2-synth-only-ultrascale: part: project.tcl says "
        "xcu250-figd2104-2L-e, vivado_synth.rpt says xcu50-fsvh2104-2L-e"
    )


def test_report_solution_option(tmp_path):
    out = kappa("report", FIX / "vivado-hls-2019.2-no-project-tcl", "--solution", "solution9")
    assert out.returncode == 2
    assert "no solution 'solution9'; solutions: solution1" in one_error_line(out)


def test_report_bad_input_names_the_file(tmp_path):
    d = tmp_path / "set"
    shutil.copytree(FIX / "vitis-hls-2023.1-cosim-fail", d)
    xml = d / "myproject_prj/solution1/syn/report/myproject_csynth.xml"
    xml.write_bytes(xml.read_bytes()[:900])
    out = kappa("report", d)
    assert out.returncode == 2 and out.stdout == ""
    assert one_error_line(out).startswith(f"error: {xml}: malformed or truncated XML")


def test_hls_report_script_is_a_wrapper():
    text = (REPO / "scripts" / "hls_report.py").read_text()
    assert "sys.path" not in text and "from hls.cli import main" in text
    assert "sys.path" not in (REPO / "scripts" / "build_hls.py").read_text()
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "hls_report.py"), FIX / "vitis-unified-2024.2-component", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    [r] = json.loads(out.stdout)
    assert (r["top"], r["tool_version"], r["estimated_clock_ns"]) == ("test", "2024.2.2", 5.893)


# ----------------------------------------------------------------------------- precision

SPEC = """default: {weight: "ap_fixed<8,2>", accumulator: "ap_fixed<24,8>"}
input: {value: "ap_fixed<10,1,AP_RND,AP_SAT>"}
dense0: {activation: "ap_fixed<12,4,AP_RND,AP_SAT>"}
"""


def test_precision_show_and_convert_round_trip(tmp_path, capsys):
    y = tmp_path / "p.yaml"
    y.write_text(SPEC)
    assert main(["precision", "show", str(y)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["layer", "field", "type"]
    assert lines[1:] == [
        "default  weight       ap_fixed<8,2>",
        "default  accumulator  ap_fixed<24,8>",
        "input    value        ap_fixed<10,1,AP_RND,AP_SAT>",
        "dense0   activation   ap_fixed<12,4,AP_RND,AP_SAT>",
    ]
    j = tmp_path / "p.json"
    assert main(["precision", "convert", str(y), str(j)]) == 0
    assert json.loads(j.read_text()) == {
        "default": {"weight": "ap_fixed<8,2>", "accumulator": "ap_fixed<24,8>"},
        "input": {"value": "ap_fixed<10,1,AP_RND,AP_SAT>"},
        "dense0": {"activation": "ap_fixed<12,4,AP_RND,AP_SAT>"},
    }
    back = tmp_path / "back.yml"
    assert main(["precision", "convert", str(j), str(back)]) == 0
    assert main(["precision", "show", "--json", str(back)]) == 0
    capsys.readouterr()
    from kappa.precision import PrecisionDict

    assert PrecisionDict.load(back) == PrecisionDict.load(y)
    # never overwrite without --force; same format is not a conversion
    before = j.read_text()
    assert main(["precision", "convert", str(y), str(j)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert j.read_text() == before
    assert main(["precision", "convert", str(y), str(tmp_path / "q.yaml")]) == 2
    assert "same format" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, expect",
    [
        ('dense0: {activation: "ap_fixed<8>"}\n', "dense0.activation: malformed fixed-point type 'ap_fixed<8>'"),
        ('dense0: {bogus: "ap_fixed<8,2>"}\n', "dense0.bogus: unknown field"),
        ("dense0: {activation: [unclosed\n", "is not valid YAML: expected ',' or ']'"),
    ],
)
def test_precision_validate_bad_files(tmp_path, capsys, text, expect):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    assert main(["precision", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {f}: ") and expect in err


def test_precision_validate_against_a_saved_model(tmp_path, capsys):
    import keras

    inp = keras.Input((4,), name="x")
    out = keras.layers.Dense(2, name="dense0")(keras.layers.Dense(3, name="hidden")(inp))
    model_path = tmp_path / "m.keras"
    keras.Model(inp, out).save(model_path)
    ok, bad = tmp_path / "ok.yaml", tmp_path / "bad.yaml"
    complete = SPEC.replace('accumulator: "ap_fixed<24,8>"}', 'accumulator: "ap_fixed<24,8>", bias: "ap_fixed<8,2>", '
                                                             'activation: "ap_fixed<12,4>"}')
    ok.write_text(complete)
    bad.write_text(complete + 'dense9: {weight: "ap_fixed<8,2>"}\n')
    assert main(["precision", "validate", str(ok), "--model", str(model_path)]) == 0
    assert "matches the 3 layers of" in capsys.readouterr().out
    incomplete = tmp_path / "incomplete.yaml"  # SPEC gives no bias and no hidden activation: refused, as by build
    incomplete.write_text(SPEC)
    assert main(["precision", "validate", str(incomplete), "--model", str(model_path)]) == 2
    assert "hidden.bias: no type given" in capsys.readouterr().err
    assert main(["precision", "validate", str(bad), "--model", str(model_path)]) == 2
    assert "unknown layer 'dense9'" in capsys.readouterr().err
    assert main(["precision", "validate", str(ok), "--model", str(tmp_path / "none.keras")]) == 2
    assert "no such model file" in capsys.readouterr().err


# ----------------------------------------------------------------------------- csim / compare


@pytest.mark.parametrize("cmd", ["csim", "compare"])
def test_csim_compare_on_a_folder_that_is_not_a_project(tmp_path, cmd):
    out = kappa(cmd, tmp_path)
    assert out.returncode == 2
    assert (
        one_error_line(out)
        == f"error: {tmp_path}: not a kappa project (no manifest.json); write one with `kappa build`"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import keras

    import hls
    from kappa.precision import PrecisionDict

    inp = keras.Input((3,), name="input_layer")
    out = keras.layers.Dense(2, name="dense0")(inp)
    model = keras.Model(inp, out)
    model.layers[1].set_weights([np.array([[0.5, -0.25], [0.125, 1.0], [-1.0, 0.75]]), np.array([0.25, -0.5])])
    pd = PrecisionDict(
        {
            "default": {
                "weight": "ap_fixed<8,2>",
                "bias": "ap_fixed<8,2>",
                "accumulator": "ap_fixed<16,6>",
                "activation": "ap_fixed<16,6>",
            },
            "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
        }
    )
    X = np.random.default_rng(1).uniform(-2, 2, (20, 3))
    return hls.convert(model, pd, tmp_path_factory.mktemp("cli") / "prj", tb_inputs=X)


@pytest.mark.slow
def test_csim_and_compare_on_a_project(project, capsys):
    assert main(["csim", str(project), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["samples"], info["outputs_per_sample"], info["testbench_exit"]) == (20, 2, 0)
    assert main(["compare", str(project), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert (rep["bit_exact"], rep["mismatches"], rep["outputs"]) == (True, 0, 40)
    # a changed expected value: the project no longer matches its manifest (exit status 4);
    # compared anyway (--trust-modified), it is a mismatch: exit status 1
    exp = project / "tb_data" / "tb_output_predictions.dat"
    rows = exp.read_text().splitlines()
    first = rows[0].split()
    first[1] = repr(float(first[1]) + 1.0)
    exp.write_text("\n".join([" ".join(first)] + rows[1:]) + "\n")
    assert main(["compare", str(project), "--no-trace", "--quiet"]) == 4
    assert "project modified since it was written: tb_data/tb_output_predictions.dat" in capsys.readouterr().err
    assert main(["compare", str(project), "--no-trace", "--quiet", "--trust-modified"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("MISMATCH: 1 mismatches over 40 outputs (20 samples)")
    assert "sample 0 output 1:" in out


# ----------------------------------------------------------------------------- build / sweep


def test_build_forwards_to_the_main_job(tmp_path):
    out = kappa("build", "--help")
    assert out.returncode == 0 and out.stdout.startswith("usage: kappa build") and "--reuse-factor" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: nosuch}\nmodel: {}\nprecision: {}\nbogus: 1\n")
    out = kappa("build", "--config", bad, "--output", tmp_path / "p")
    assert out.returncode == 2
    assert (
        one_error_line(out) == f"error: {bad}: 2 problems: bogus: unknown key; valid: name, dataset, split, "
        "model, training, precision, hls; dataset.name: unknown dataset 'nosuch'; valid: affine, digits"
    )
    assert not (tmp_path / "p").exists()


def test_sweep_is_an_ordinary_subcommand(monkeypatch, capsys):
    """``kappa sweep`` parses its options in the one parser tree and calls hls.sweep.run."""
    import hls.sweep
    from hls.sweep import SweepResult

    seen = []

    def fake_run(sweep, output, **kw):
        seen.append((sweep, output, kw))
        rows = [{"id": "a1", "status": "ok", "error": ""}, {"id": "b2", "status": "mismatch", "error": "3 differ"}]
        return SweepResult(
            Path(output),
            rows,
            ran=2,
            skipped=0,
            wall_seconds=1.0,
            files={"csv": "o/results.csv", "report": "o/report.md"},
        )

    monkeypatch.setattr(hls.sweep, "run", fake_run)
    assert main(["sweep", "s.yaml", "--output", "o", "--workers", "2", "--quiet"]) == 1
    assert seen == [("s.yaml", "o", {"workers": 2, "scheduler": None, "force": False, "progress": False,
                                          "max_points": 10_000})]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 points (2 run, 0 read back) in 1.0 s: 1 mismatch, 1 ok"
    assert out[2] == "  b2 mismatch: 3 differ"
    assert main(["sweep", "s.yaml", "--output", "o", "--workers", "2", "--scheduler", "tcp://h:1"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_exit_status_wrapper_maps_exceptions():
    from hls.cli.exit_status import BAD_INPUT, INTERNAL_ERROR, INTERRUPTED, TERMINATED, UsageError, run_command
    from hls.sim.csim import CsimError

    def raising(exc):
        def run(args):
            raise exc

        return run

    args = types.SimpleNamespace()
    assert run_command(raising(UsageError("bad")), args) == BAD_INPUT == 2
    assert run_command(raising(CsimError("no g++")), args) == 2
    assert run_command(raising(ZeroDivisionError("bug")), args) == INTERNAL_ERROR == 3
    assert run_command(raising(KeyboardInterrupt()), args) == INTERRUPTED == 130
    assert run_command(raising(KeyboardInterrupt("SIGTERM")), args) == TERMINATED == 143


def test_readme_shows_what_kappa_report_prints(capsys):
    readme = (REPO / "README.md").read_text()
    cmd = "$ kappa report tests/fixtures/reports/vivado-hls-2019.2-no-project-tcl\n"
    shown = readme[readme.index(cmd) + len(cmd) :].split("```")[0]
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        assert main(["report", "tests/fixtures/reports/vivado-hls-2019.2-no-project-tcl"]) == 0
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out == shown
    assert "| Latency (worst)   | 12323 cycles (61615.0 ns)        |" in shown


@pytest.mark.parametrize("where", ["ctypes callback", "__del__"])
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupt_swallowed_by_a_callback_is_delivered_again(signum, status, where):
    """A signal whose handler runs inside a ctypes callback (as numba's compiler calls back
    into Python) or a ``__del__`` (llvmlite's) raises there, and Python prints and drops the
    exception; the wrapper must still end the command with the interrupt's status, not cut
    its cleanup short, and not print the lost exception (other unraisable exceptions still
    reach the hook that was installed)."""
    import ctypes

    from hls.cli.exit_status import REDELIVER_SECONDS, run_command

    events, unraisable = [], []

    def signal_here():
        os.kill(os.getpid(), signum)
        for _ in range(1000):  # the handler runs between these bytecodes, where it cannot propagate
            pass

    callback = ctypes.CFUNCTYPE(None)(signal_here)

    class Dropped:
        def __del__(self):
            signal_here()

    class Broken:
        def __del__(self):
            raise ValueError("a real unraisable error")

    def run(args):
        try:
            if where == "__del__":
                Dropped()
            else:
                ctypes.CFUNCTYPE(None)(ctypes.cast(callback, ctypes.c_void_p).value)()
            events.append("callback returned")  # the first KeyboardInterrupt was lost
            Broken()
            deadline = time.monotonic() + 20 * REDELIVER_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.01)
            events.append("ran to the end")
            return 0
        finally:
            time.sleep(3 * REDELIVER_SECONDS)  # cleanup longer than a redelivery period
            events.append("cleanup finished")

    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # a test worker may ignore SIGINT
    old_hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(u.exc_type)
    recorder = sys.unraisablehook
    try:
        assert run_command(run, types.SimpleNamespace()) == status
        assert sys.unraisablehook is recorder  # restored
    finally:
        signal.signal(signal.SIGINT, old)
        sys.unraisablehook = old_hook
    assert events == ["callback returned", "cleanup finished"]
    assert unraisable == [ValueError]
