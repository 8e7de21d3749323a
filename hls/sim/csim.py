"""C simulation with plain g++: compile the project's testbench and firmware against its
own ``firmware/ap_types`` headers (as hls4ml's ``build_lib.sh`` does), run, parse.

No vendor tool is needed. The binary is cached by a sha256 of every source file and the
compiler command in the private per-user cache (:func:`_shared_cache`, stored with its own
sha256 and re-verified before use) and copied to ``<project>/.kappa_build/``; a binary there is
run only when its hash equals the cache's, so an unchanged project is not recompiled and a
binary planted in a project or a cache is never run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kappa.cache import private_dir, recorded_sha256, sha256_of, store, verified

from ..safety import clear_dir
from .units import compile_units, plan_units

CXX_FLAGS = ["-std=c++14", "-fno-gnu-unique", "-w"]
#: The firmware and the testbench compiled as one translation unit, read from standard input
#: in the project directory: the ap_types and nnet headers (about half of a project's
#: compile time) are parsed once instead of twice (measured: 4.4 s instead of 7.1 s at -O0
#: for a two-Dense project). Each file still includes its headers in its own order.
UNITY_SOURCE = '#include "firmware/myproject.cpp"\n#include "myproject_test.cpp"\n'
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3")
DEFAULT_OPT = "-O1"  # runs as fast as -O2 on hls4ml projects and compiles ~20% quicker


def _opt_level() -> str:
    """The g++ optimisation level: ``$KAPPA_CSIM_OPT`` or ``-O1``. ``-O0`` compiles ~30%
    quicker and runs ~10x slower (the test suite uses it: many small projects, few samples).

    Raises:
        CsimError: a value other than -O0, -O1, -O2, -O3.
    """
    opt = os.environ.get("KAPPA_CSIM_OPT", DEFAULT_OPT)
    if opt not in OPT_LEVELS:
        raise CsimError(
            f"KAPPA_CSIM_OPT={opt!r} is not a g++ optimisation level kappa uses; valid: {', '.join(OPT_LEVELS)}"
        )
    return opt


class CsimError(RuntimeError):
    """C simulation could not produce results (no compiler, compile error, crash, bad output)."""


@dataclass
class CsimRun:
    """One C-simulation run.

    Attributes:
        results: firmware outputs, shape (N, n_out), float64 (exact).
        returncode: testbench exit code (0 all match, 1 mismatches, 2 bad data).
        stdout: testbench standard output (summary and first mismatches).
        compiled: False when the cached binary was reused.
        compile_seconds, run_seconds: wall-clock times (s).
    """

    results: np.ndarray
    returncode: int
    stdout: str
    compiled: bool
    compile_seconds: float
    run_seconds: float


def _sources(project_dir: Path) -> list[Path]:
    fw = project_dir / "firmware"
    files = [project_dir / "myproject_test.cpp"]
    files += sorted(p for p in fw.rglob("*") if p.is_file() and p.suffix in (".h", ".cpp", ".hpp", ".txt"))
    return files


def find_compiler() -> str:
    """The C++ compiler C simulation uses: ``$CXX`` or ``g++``.

    Raises:
        CsimError: it is not on PATH (says how to install g++).
    """
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise CsimError(
            f"C simulation needs a C++ compiler: {cxx!r} is not on PATH (install g++, e.g. apt-get install g++)"
        )
    return cxx


def build(project_dir, *, quiet: bool = True) -> tuple[Path, bool, float]:
    """Compile the testbench + firmware (or reuse the cached binary).

    Returns:
        ``(binary path, compiled?, seconds spent compiling)``.

    Raises:
        FileNotFoundError: not an hls4ml project. CsimError: no compiler or a compile
            error (the message holds the compiler's first error lines).
    """
    project_dir = Path(project_dir).resolve()
    if not (project_dir / "firmware" / "myproject.cpp").exists() or not (project_dir / "myproject_test.cpp").exists():
        raise FileNotFoundError(
            f"{project_dir} is not an hls4ml project (no firmware/myproject.cpp or myproject_test.cpp)"
        )
    cxx = find_compiler()
    jobs = _jobs()
    cmd = [
        cxx,
        _opt_level(),
        *CXX_FLAGS,
        "-Ifirmware/ap_types",
        "-Ifirmware",
        '-DWEIGHTS_DIR="firmware/weights"',
        "-x",
        "c++",
        "-",
    ]
    units = plan_units(project_dir, UNITY_SOURCE)
    key = compile_key(project_dir, cmd + [u.source + " ".join(u.flags) for u in units])
    build_dir = project_dir / ".kappa_build"
    binary = build_dir / f"csim-{key[:16]}"
    cache = _shared_cache()
    shared = cache / f"csim-{key}"
    if verified(shared):  # the same firmware was compiled before (weights are read at run time)
        want = recorded_sha256(shared)
        if binary.is_file() and not binary.is_symlink() and sha256_of(binary) == want:
            return binary, False, 0.0
        _clear_build_dir(project_dir, build_dir)
        tmp_copy = binary.with_suffix(".partial")
        shutil.copyfile(shared, tmp_copy)
        os.chmod(tmp_copy, 0o700)
        tmp_copy.rename(binary)
        return binary, False, 0.0
    _clear_build_dir(project_dir, build_dir)
    if not quiet:
        print(f"compiling C simulation of {project_dir.name} with {cxx} ...", flush=True)
    t0 = time.perf_counter()
    tmp_out = binary.with_suffix(".partial")
    try:
        if len(units) == 1:
            proc = subprocess.run(
                cmd + ["-o", str(tmp_out)], cwd=project_dir, input=UNITY_SOURCE, capture_output=True, text=True
            )
        else:
            proc = compile_units(cmd, units, project_dir, build_dir, tmp_out, jobs=jobs)
    except BaseException:  # Ctrl-C / SIGTERM: the compilers were killed; leave no partial binary
        tmp_out.unlink(missing_ok=True)
        raise
    if proc.returncode != 0:
        tmp_out.unlink(missing_ok=True)
        errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()][:15] or proc.stderr.splitlines()[:15]
        raise CsimError(f"compiling {project_dir} failed ({' '.join(cmd)}):\n" + "\n".join(errors))
    tmp_out.rename(binary)
    try:  # share with other projects of the same firmware; a failure here only costs a rebuild later
        part = shared.with_name(f"{shared.name}.{os.getpid()}.partial")
        shutil.copyfile(binary, part)
        os.chmod(part, 0o700)
        store(part, shared)
    except OSError:
        pass
    return binary, True, time.perf_counter() - t0


def _clear_build_dir(project_dir: Path, build_dir: Path) -> None:
    """An empty ``.kappa_build`` (a real directory inside the project: never a link)."""
    if not (build_dir.exists() or build_dir.is_symlink()):
        build_dir.mkdir()
    try:
        clear_dir(build_dir, project_dir)
    except FileExistsError as exc:
        raise CsimError(f"{exc}") from None


def _jobs() -> int:
    """Compilers run at once for a project split into units: ``$KAPPA_CSIM_JOBS`` or 1.

    One at a time by default: a unit holding a large generated convolution peaks at
    1-2 GB, and two of them side by side would double the peak.

    Raises:
        CsimError: not an integer from 1 to 64.
    """
    raw = os.environ.get("KAPPA_CSIM_JOBS", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise CsimError(f"KAPPA_CSIM_JOBS={raw!r} is not a number of compiler processes; valid: an integer from 1 to 64")
    return int(raw)


def _shared_cache() -> Path:
    """Compiled C simulations shared between projects, keyed by :func:`compile_key`: the
    private per-user cache ``$KAPPA_CSIM_CACHE`` or ``$XDG_CACHE_HOME/kappa/csim``
    (``~/.cache/kappa/csim``); see :func:`kappa.cache.private_dir`. Every binary is stored
    with its sha256 and re-verified before it is run or copied.

    Raises:
        kappa.cache.CacheError: a cache folder of another user or writable by others.
    """
    return private_dir("csim", "KAPPA_CSIM_CACHE")


_SYNTHESIS_ONLY = re.compile(r"#else\b.*?#endif", re.S)


def compile_key(project_dir: Path, cmd: list[str]) -> str:
    """sha256 of what the C simulation binary depends on: the compile command and every
    source the compiler reads. Weight values are not part of it: in C simulation hls4ml
    loads them from ``firmware/weights/*.txt`` at run time (``load_weights_from_txt``), and
    the ``weights/*.h`` headers hold them only in their ``#else`` (``__SYNTHESIS__``) branch
    and in comments; so projects that differ only in weights share one binary."""
    h = hashlib.sha256(" ".join(cmd).encode())
    for f in _sources(project_dir):
        rel = f.relative_to(project_dir)
        data = f.read_bytes()
        if rel.parts[:2] == ("firmware", "weights"):
            if f.suffix == ".txt":
                continue
            text = _SYNTHESIS_ONLY.sub("", data.decode(errors="replace"))
            data = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("//")).encode()
        h.update(str(rel).encode())
        h.update(data)
    return h.hexdigest()


def simulate(project_dir, *, quiet: bool = True, extra_args: list[str] | None = None) -> CsimRun:
    """Compile (if needed) and run the C simulation; parse ``tb_data/csim_results.log``.

    Args:
        project_dir: project written by ``hls.convert``.
        quiet: False prints compile/run progress.
        extra_args: testbench arguments (``--trace FILE``, ``--first N``, ``--count M``).

    Returns:
        :class:`CsimRun` (its ``results``: float64 array (N, n_out) of firmware outputs).

    Raises:
        FileNotFoundError: not an hls4ml project, or no testbench inputs.
        CsimError: no compiler, compile error, crash (signal), bad testbench data (exit 2),
            or a results file whose row count or width does not match the inputs.
    """
    project_dir = Path(project_dir).resolve()
    binary, compiled, t_compile = build(project_dir, quiet=quiet)
    n_expected = _count_lines(project_dir / "tb_data" / "tb_input_features.dat")
    if not quiet:
        print(f"running C simulation on {n_expected} samples ...", flush=True)
    log = project_dir / "tb_data" / "csim_results.log"
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run([str(binary), *(extra_args or [])], cwd=project_dir, capture_output=True, text=True)
    t_run = time.perf_counter() - t0
    if proc.returncode < 0:
        raise CsimError(f"C simulation of {project_dir} crashed with signal {-proc.returncode}:\n{proc.stderr[-2000:]}")
    if proc.returncode == 2:
        raise CsimError(f"C simulation of {project_dir} rejected its testbench data:\n{proc.stderr.strip()}")
    if proc.returncode not in (0, 1):
        raise CsimError(f"C simulation of {project_dir} exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    results = _read_results(log)
    if extra_args is None or not any(a in ("--first", "--count") for a in extra_args):
        if results.shape[0] != n_expected:
            raise CsimError(f"{log} has {results.shape[0]} result rows, expected {n_expected} (one per input sample)")
    return CsimRun(results, proc.returncode, proc.stdout, compiled, t_compile, t_run)


def run_csim(project_dir, *, quiet: bool = True, extra_args: list[str] | None = None) -> np.ndarray:
    """The firmware outputs of the C simulation: :func:`simulate`'s ``results``.

    Returns:
        float64 array (N, n_out).

    Raises:
        as :func:`simulate`.
    """
    return simulate(project_dir, quiet=quiet, extra_args=extra_args).results


def _count_lines(path: Path) -> int:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: convert the project with tb_inputs")
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def _read_results(path: Path) -> np.ndarray:
    if not path.exists():
        raise CsimError(f"the testbench wrote no {path}")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return np.zeros((0, 0))
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise CsimError(f"{path}: rows have different numbers of values {sorted(widths)}")
    return np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
