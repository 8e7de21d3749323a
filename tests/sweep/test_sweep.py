"""Precision sweeps on Dask (hls.sweep, scripts/sweep.py).

The sweeps here run a tiny affine job (200 samples, 2 epochs) at two weight widths, so each
point trains, converts, C-simulates and compares in seconds. Clusters are a LocalCluster with
2 workers, and a real ``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1 with
ephemeral ports, stopped (by their process ids) at the end of each test.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from hls.sweep import WORKER_ENV, SweepError, check_output, load_sweep, point_id, run
from hls.sweep.point import estimate_bops
from hls.sweep.report import pareto_front

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = ["ap_fixed<8,3,AP_RND_CONV,AP_SAT>", "ap_fixed<14,3,AP_RND_CONV,AP_SAT>"]


def _script():
    spec = importlib.util.spec_from_file_location("sweep_script", REPO / "scripts" / "sweep.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    """A 2-point sweep over dense0's weight width on a tiny affine job."""
    d = tmp_path_factory.mktemp("sweep")
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 200
    (d / "tiny_affine.yaml").write_text(yaml.safe_dump(cfg))
    (d / "sweep.yaml").write_text(yaml.safe_dump({
        "base": "tiny_affine.yaml",
        "overrides": {"training": {"epochs": 2}},
        "grid": {"precision.dense0.weight": WEIGHTS},
    }, sort_keys=False))
    return d / "sweep.yaml"


def _check_rows(rows):
    """The tiny sweep's rows: every point, once, bit-exact, with hand-computed costs."""
    assert [r["precision.dense0.weight"] for r in rows] == WEIGHTS
    assert len({r["id"] for r in rows}) == 2
    for r, w in zip(rows, (8, 14)):
        assert r["status"] == "ok", r["error"]
        assert r["mismatches"] == 0 and r["outputs"] == 50 * 2  # 50 test samples x 2 outputs
        # 4 inputs (ap_ufixed<12,...>) x 2 outputs, weights w bits; 2 biases of 14 bits
        assert r["bops_proxy"] == 4 * 2 * 12 * w
        assert r["total_weight_bits"] == 8 * w + 2 * 14
        assert 0 < r["firmware_rmse"] < 2 and 0 < r["float_rmse"] < 2
        assert r["diverged"] is False


def _csv_rows(out):
    with open(out / "results.csv") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- pure parts


def test_estimate_bops_by_hand():
    man = {"layers": [
        {"layer": "model_input", "key": "result", "type": "ap_ufixed<8,1>"},
        {"layer": "dense0", "key": "weight", "type": "ap_fixed<12,3>"},
        {"layer": "dense0", "key": "bias", "type": "ap_fixed<12,3>"},
        {"layer": "dense0", "key": "accum", "type": "ap_fixed<20,8>"},
        {"layer": "dense0", "key": "result", "type": "ap_fixed<14,6>"},
        {"layer": "activation0", "key": "result", "type": "ap_ufixed<6,4>"},
        {"layer": "dense1", "key": "weight", "type": "ap_fixed<5,2>"},
        {"layer": "dense1", "key": "result", "type": "ap_fixed<14,6>"},
    ]}
    # dense0 sees 8-bit inputs, dense1 the 6-bit ReLU outputs (not dense0's 14-bit result)
    assert estimate_bops(man, {"dense0": 64 * 32, "dense1": 32 * 10}) == 64 * 32 * 8 * 12 + 32 * 10 * 6 * 5
    with pytest.raises(ValueError, match="dense9"):
        estimate_bops(man, {"dense9": 1})


def test_multiplications_dense_and_conv():
    keras = pytest.importorskip("keras")
    from hls.sweep.point import multiplications

    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv0")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool0")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(10, name="dense0")(x)
    km = keras.Model(inp, out)
    # 8x8 output positions x (3x3 kernel x 1 channel) x 8 filters; 4x4x8 inputs x 10 outputs
    assert multiplications(km) == {"conv0": 8 * 8 * 3 * 3 * 1 * 8, "dense0": 4 * 4 * 8 * 10}


def test_pareto_front():
    rows = [{"id": "a", "status": "ok", "bops_proxy": 100, "firmware_accuracy": 0.9},
            {"id": "b", "status": "ok", "bops_proxy": 200, "firmware_accuracy": 0.8},   # dominated by a
            {"id": "c", "status": "ok", "bops_proxy": 300, "firmware_accuracy": 0.95},
            {"id": "d", "status": "mismatch", "bops_proxy": 50, "firmware_accuracy": 0.99}]  # not bit-exact
    assert pareto_front(rows, "bops_proxy", "firmware_accuracy") == ["a", "c"]


def test_synthesis_figures_from_real_reports(tmp_path):
    pytest.importorskip("hls4ml")
    from report_sets import FIXTURE, lay_out  # the fixture layout, shared

    from hls.sweep.point import synthesis_figures

    if not FIXTURE.exists():
        pytest.skip("report fixture not available")
    assert synthesis_figures(tmp_path / "nothing") == {}
    prj = lay_out(tmp_path / "prj")
    # Vivado HLS 2020.1 report of hls4ml's Dense(16->5) test model (see docs/synthesis.md)
    assert synthesis_figures(prj) == {"latency_cycles": 10, "ii_cycles": 8, "dsp": 73, "lut": 2532,
                                      "ff": 7969, "bram_18k": 0}


def test_report_marks_points_that_are_not_bit_exact(tmp_path):
    from types import SimpleNamespace

    from hls.sweep.report import row, write_all

    def result(i, status, acc, bops, **kw):
        return {"id": f"p{i}", "values": {"hls.reuse_factor": i}, "status": status, "error": kw.pop("error", ""),
                "firmware_accuracy": acc, "float_accuracy": acc, "bops_proxy": bops, **kw}

    results = [result(1, "ok", 0.9, 100, mismatches=0, outputs=10, lut=500),
               result(2, "ok", 0.8, 200, mismatches=0, outputs=10, lut=900),
               result(3, "mismatch", 0.95, 50, mismatches=3, outputs=10, lut=300, error="3 mismatches over 10 outputs"),
               result(4, "diverged", None, None, diverged=True, error="training diverged at step 7\nmore"),
               result(5, "failed", None, None, error="CsimError: compile failed")]
    rows = [row(r, ["hls.reuse_factor"]) for r in results]
    sweep = SimpleNamespace(path=tmp_path / "s.yaml", base=tmp_path / "b.yaml", keys=["hls.reuse_factor"])
    files = write_all(tmp_path, rows, sweep)
    md = files["report"].read_text()
    assert "1 mismatch" in md and "2 ok" in md and "1 diverged" in md and "1 failed" in md
    table = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| p")}
    assert table["p1"].endswith("| ★ |") and not table["p2"].endswith("| ★ |")
    assert not table["p3"].endswith("| ★ |")  # cheaper and better, but not bit-exact: never on the front
    assert "training diverged at step 7 |" in table["p4"]  # first line of the error only
    header = files["csv"].read_text().splitlines()[0].split(",")
    assert "lut" in header and "dsp" not in header and "firmware_rmse" not in header
    assert files["plot"].stat().st_size > 10_000


def test_points_ids_and_canonical_types(sweep_file, tmp_path):
    sw = load_sweep(sweep_file)
    assert sw.keys == ["precision.dense0.weight"] and len(sw.points) == 2
    assert sw.points[0].config["training"]["epochs"] == 2  # override applied
    assert sw.points[0].config["precision"]["dense0"]["weight"] == WEIGHTS[0]
    assert sw.points[0].id == point_id(sw.points[0].config) != sw.points[1].id
    # the same type spelled differently is the same point
    spec = yaml.safe_load(sweep_file.read_text())
    spec["grid"]["precision.dense0.weight"] = ["ap_fixed< 8, 3, AP_RND_CONV, AP_SAT >", WEIGHTS[1]]
    spec["base"] = str(sweep_file.parent / "tiny_affine.yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    assert [p.id for p in load_sweep(tmp_path / "s.yaml").points] == [p.id for p in sw.points]
    # zip: keys that vary together multiply the grid by the zip length, not its square
    spec["zip"] = {"model.seed": [0, 1, 2], "split.seed": [5, 6, 7]}
    (tmp_path / "z.yaml").write_text(yaml.safe_dump(spec))
    z = load_sweep(tmp_path / "z.yaml")
    assert len(z.points) == 6
    assert {(p.values["model.seed"], p.values["split.seed"]) for p in z.points} == {(0, 5), (1, 6), (2, 7)}


BAD = [
    ({"grid": {"precision.dense0.wieght": WEIGHTS}}, "precision.dense0.wieght", "unknown PrecisionDict field"),
    ({"grid": {"trainin.epochs": [1, 2]}}, "trainin.epochs", "unknown job-config section"),
    ({"grid": {"training.epoch": [1, 2]}}, "training.epoch", "unknown training option"),
    ({"grid": {"hls.reuse": [1, 2]}}, "hls.reuse", "reuse_factor"),
    ({"grid": {"precision.dense0.weight": ["ap_fixed<8,3>", "ap_fixd<8,3>"]}}, "ap_fixd<8,3>", "does not parse"),
    ({"grid": {"precision.dense0.weight": ["ap_fixed<0,3>"]}}, "ap_fixed<0,3>", "does not parse"),
    ({"grid": {"precision.dense7.weight": WEIGHTS}}, "dense7", "unknown layer"),
    ({"grid": {}}, "empty grid", "grid"),
    ({"grid": {"model.seed": []}}, "model.seed", "non-empty list"),
    ({"grid": {"model.seed": [0]}, "bogus": 1}, "bogus", "unknown sweep key"),
    ({"grid": {"model.seed": [0]}, "zip": {"split.seed": [0, 1], "dataset.seed": [0]}}, "different lengths", "zip"),
]


@pytest.mark.parametrize("change, named, says", BAD, ids=[b[1] for b in BAD])
def test_bad_sweep_files_touch_nothing(sweep_file, tmp_path, capsys, change, named, says):
    spec = {"base": str(sweep_file.parent / "tiny_affine.yaml"), **change}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    with pytest.raises(SweepError) as exc:
        load_sweep(bad)
    assert named in str(exc.value) and says in str(exc.value)
    assert _script().main([str(bad), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and named in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_kappa_sweep_command_is_this_cli(sweep_file, tmp_path, capsys):
    from hls.cli import main as kappa

    spec = {"base": str(sweep_file.parent / "tiny_affine.yaml"), "grid": {"hls.strategy": ["Latency", "Fast"]}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    assert kappa(["sweep", str(tmp_path / "bad.yaml"), "--output", str(tmp_path / "out")]) == 2
    assert "'hls.strategy': unknown strategy 'Fast'; valid: Latency, Resource" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_output_holding_another_sweep_is_refused(sweep_file, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "points").mkdir(parents=True)
    point = {"id": "0123456789ab", "values": {"model.seed": 0}}
    other = {"kappa_sweep": 1, "keys": ["model.seed"], "synth": False, "points": [point]}
    (out / "sweep.json").write_text(json.dumps(other))
    (out / "results.csv").write_text("id\n0123456789ab\n")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(SweepError, match="different sweep"):
        check_output(load_sweep(sweep_file), out)
    assert _script().main([str(sweep_file), "--output", str(out)]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    # a non-empty directory that is not a sweep is refused too
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert _script().main([str(sweep_file), "--output", str(mine)]) == 2
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_unreachable_scheduler_touches_nothing(sweep_file, tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out"
    with pytest.raises(SweepError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        run(sweep_file, out, scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2, progress=False)
    assert not out.exists()
    assert _script().main([str(sweep_file), "--output", str(out), "--scheduler", "127.0.0.1:8786"]) == 2
    assert "is not an address such as tcp://host:8786" in capsys.readouterr().err
    assert not out.exists()


# ----------------------------------------------------------------------------- on Dask


@pytest.fixture(scope="module")
def local_run(sweep_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    return run(sweep_file, out, workers=2, progress=False)


@pytest.mark.slow
def test_local_cluster_two_workers(local_run):
    res = local_run
    assert res.ran == 2 and res.skipped == 0 and res.workers == 2
    _check_rows(res.rows)
    csv_rows = _csv_rows(res.output)
    assert [r["id"] for r in csv_rows] == [r["id"] for r in res.rows]
    assert [int(r["mismatches"]) for r in csv_rows] == [0, 0]
    import pyarrow.parquet as pq

    table = pq.read_table(res.output / "results.parquet").to_pylist()
    assert [t["bops_proxy"] for t in table] == [768, 1344]
    md = (res.output / "report.md").read_text()
    assert "![Pareto plot](pareto.png)" in md and md.count("| ok |") == 2
    assert (res.output / "pareto.png").stat().st_size > 10_000
    for r in res.rows:  # each point's project is a complete job
        prj = res.output / "points" / r["id"] / "project"
        assert json.loads((prj / "report.json").read_text())["comparison"]["mismatches"] == 0


@pytest.mark.slow
def test_resume_does_no_work_and_gives_identical_rows(local_run, sweep_file):
    out = local_run.output
    stamps = {p: p.stat().st_mtime_ns for p in (out / "points").rglob("*")}
    again = run(sweep_file, out, workers=2, progress=False)
    assert again.ran == 0 and again.skipped == 2 and again.workers == 0  # no cluster was even started
    assert again.rows == local_run.rows
    assert {p: p.stat().st_mtime_ns for p in (out / "points").rglob("*")} == stamps
    for r in again.rows:
        assert len((out / "points" / r["id"] / "attempts.jsonl").read_text().splitlines()) == 1


class _Cluster:
    """``dask scheduler`` + ``dask worker`` processes on 127.0.0.1 with ephemeral ports."""

    def __init__(self, tmp: Path, n_workers: int):
        self.tmp, self.procs, self.workers = tmp, [], []
        self.env = dict(
            os.environ,
            **WORKER_ENV,
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        )
        sched_file = tmp / "scheduler.json"
        self._start(
            "scheduler",
            [
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
        )
        t0 = time.time()
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert time.time() - t0 < 60, "dask scheduler did not start: " + (tmp / "scheduler.log").read_text()[-2000:]
            time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for i in range(n_workers):
            self.workers.append(
                self._start(
                    f"worker{i}",
                    [
                        "distributed.cli.dask_worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--name",
                        f"w{i}",
                    ],
                )
            )
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            c.wait_for_workers(n_workers, timeout=60)

    def _start(self, name, args):
        log = open(self.tmp / f"{name}.log", "w")
        p = subprocess.Popen(
            [sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        self.procs.append(p)
        return p

    def kill(self, proc):
        """SIGKILL a process group we started (the worker and its compiler children)."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self):
        """Workers first, then the scheduler: SIGTERM, and SIGKILL after 5 s."""
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """One scheduler + two workers for the tests below (the fault test, last, kills one)."""
    cluster = _Cluster(tmp_path_factory.mktemp("cluster"), 2)
    yield cluster
    cluster.stop()


@pytest.mark.slow
def test_scheduler_address_and_bit_identical_rerun(sweep_file, tmp_path, local_run, dask_cluster):
    res = run(sweep_file, tmp_path / "out", scheduler=dask_cluster.address, progress=False)
    assert res.ran == 2 and res.workers == 2
    _check_rows(res.rows)
    # a fresh computation on other processes reproduces the LocalCluster run bit for bit
    keep = [k for k in res.rows[0] if k != "wall_seconds"]
    assert [[r[k] for k in keep] for r in res.rows] == [[r[k] for k in keep] for r in local_run.rows]
    sha = [
        json.loads((o / "points" / r["id"] / "result.json").read_text())["firmware_sha256"]
        for o, rows in ((res.output, res.rows), (local_run.output, local_run.rows))
        for r in rows
    ]
    assert sha[:2] == sha[2:]


@pytest.mark.slow
def test_failed_point_is_rerun_and_reproduced(local_run, sweep_file, tmp_path, dask_cluster):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(local_run.output, out)
    second = out / "points" / local_run.rows[1]["id"] / "result.json"
    second.write_text(json.dumps({"id": local_run.rows[1]["id"], "status": "failed", "error": "OSError: disk full"}))
    first_stamp = (out / "points" / local_run.rows[0]["id"] / "result.json").stat().st_mtime_ns
    again = run(sweep_file, out, scheduler=dask_cluster.address, progress=False)
    assert again.ran == 1 and again.skipped == 1  # only the failed point ran
    assert (out / "points" / local_run.rows[0]["id"] / "result.json").stat().st_mtime_ns == first_stamp
    # recomputed in another process, bit for bit the same figures
    strip = [{k: v for k, v in r.items() if k != "wall_seconds"} for r in again.rows]
    assert strip == [{k: v for k, v in r.items() if k != "wall_seconds"} for r in local_run.rows]


@pytest.mark.slow
def test_worker_killed_mid_point(sweep_file, tmp_path, dask_cluster):
    cluster = dask_cluster
    victim = cluster.workers[0]
    out = tmp_path / "out"
    box = {}
    th = threading.Thread(
        target=lambda: box.update(res=run(sweep_file, out, scheduler=cluster.address, progress=False))
    )
    try:
        th.start()
        t0, hit = time.time(), None
        while hit is None:
            assert time.time() - t0 < 180 and th.is_alive(), "no point started on the worker to kill"
            for f in out.glob("points/*/attempts.jsonl"):
                if any(json.loads(line)["pid"] == victim.pid for line in f.read_text().splitlines()):
                    hit = f.parent
            time.sleep(0.2)
        time.sleep(1.0)  # mid-point: the job is training
        assert not (hit / "result.json").exists()
        cluster.kill(victim)
    finally:
        th.join(timeout=400)
    assert not th.is_alive()
    res = box["res"]
    _check_rows(res.rows)  # every row, once, bit-exact
    assert res.ran == 2
    attempts = [json.loads(line)["pid"] for line in (hit / "attempts.jsonl").read_text().splitlines()]
    survivor = cluster.workers[1].pid
    assert attempts == [victim.pid, survivor]  # retried once, on the other worker
    assert json.loads((hit / "result.json").read_text())["worker_pid"] == survivor
    assert sorted(p.name for p in (out / "points").iterdir()) == sorted(r["id"] for r in res.rows)
    assert len(_csv_rows(out)) == 2


def test_rtl_sweep_prices_points_in_luts(sweep_file, tmp_path):
    """``rtl: true`` puts every point on the RTL backend; with Yosys LUTs on every priced point the
    Pareto front is taken over them (the BOPs proxy would pick another point here)."""
    from types import SimpleNamespace

    from hls.sweep.report import cost_axis, row, write_all

    spec = yaml.safe_load(sweep_file.read_text())
    (sweep_file.parent / "rtl.yaml").write_text(yaml.safe_dump({**spec, "rtl": True}))
    sw = load_sweep(sweep_file.parent / "rtl.yaml")
    assert {p.config["hls"]["backend"] for p in sw.points} == {"rtl"}
    with pytest.raises(SweepError, match=r"'rtl' must be true or false"):
        (sweep_file.parent / "bad.yaml").write_text(yaml.safe_dump({**spec, "rtl": "yes"}))
        load_sweep(sweep_file.parent / "bad.yaml")

    def result(i, acc, lut, bops):
        return {"id": f"p{i}", "values": {"k": i}, "status": "ok", "error": "", "mismatches": 0, "outputs": 10,
                "firmware_accuracy": acc, "float_accuracy": acc, "bops_proxy": bops, "rtl_lut": lut,
                "rtl_ff": 10 * i, "rtl_estimate_lut": lut + 5.5}

    rows = [row(r, ["k"]) for r in (result(1, 0.9, 800, 100), result(2, 0.9, 300, 200))]
    assert cost_axis(rows) == "rtl_lut"
    files = write_all(tmp_path, rows, SimpleNamespace(path=tmp_path / "s.yaml", base=tmp_path / "b.yaml", keys=["k"]))
    md = files["report"].read_text()
    table = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| p")}
    assert table["p2"].endswith("| ★ |") and not table["p1"].endswith("| ★ |")  # 300 LUTs beat 800 at equal accuracy
    assert "Cost axis: `rtl_lut`" in md
    assert {"rtl_lut", "rtl_ff", "rtl_estimate_lut"} <= set(files["csv"].read_text().splitlines()[0].split(","))
