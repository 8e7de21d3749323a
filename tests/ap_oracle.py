"""Bit-exact oracle for double -> ap_fixed / ap_ufixed / ap_int / ap_uint.

The oracle is the real C++ arithmetic: ``tests/cpp/ap_oracle.cpp`` is compiled
with g++ against the ap_types headers shipped inside the installed hls4ml
package (``<hls4ml>/templates/vivado/ap_types``) and run on batches of
doubles.  This module

* enumerates the types of the sweep (``all_fixed_specs``): W = 1..32,
  I = -4..W+4, signed and unsigned, 7 quantization x 4 overflow modes;
* generates the hard input values for each type (``fixed_cases``,
  ``int_cases``);
* writes the C++ shard units, compiles them in parallel and caches the
  program (``build_oracle``), and runs it (``run_oracle``);
* runs the whole sweep (``run_sweep``) and checks a candidate
  ``quantize(values, type_string)`` against it (``compare_quantize``);
* holds an independent pure-integer model of clean "round by Q, then apply
  O" semantics (``ref_fixed_code``, ``ref_int_code``) and lists where the
  C++ headers depart from it (``quirk_report``, ``KNOWN_QUIRKS``).

How the sweep stays affordable
------------------------------
Instantiating ``ap_fixed<W,I,Q,O>::ap_fixed(double)`` costs g++ about 0.1 s
of CPU per type at -O2 (0.06 s at -O0, the level used), so compiling all 45,696 types literally takes the
better part of an hour on two cores.  The constructor, however, depends on I
and on the input's binary exponent e only through I - e (every branch, shift
amount and bit position in ``ap_fixed_base(double)`` is a function of
``F2 - F`` and ``I - I2``), so converting x to ``ap_fixed<W,I,Q,O>`` yields
the same W-bit pattern as converting ``x * 2**(W+4-I)`` to the *canonical*
type ``ap_fixed<W,W+4,Q,O>``.  The scaling is exact in double arithmetic (an
upward power-of-two scaling by at most 2**40, checked at run time).
Subnormal inputs are the one place where the argument needs a second look
(the header decodes any zero exponent field as 2**-1023, before and after
scaling), but they lie 2**980 below the LSB on both sides, where only their
sign matters.  So the sweep computes every type's bit pattern with the 1,792
canonical instantiations, and its value with the canonical ``to_double()``
scaled back by 2**(I-W-4) (exact; to_double does not depend on the modes).

The shortcut is not trusted blindly: ``literal="sample"`` (the default) also
instantiates 312 types literally -- for W in ``SAMPLE_WIDTHS`` one per
(W, I, signedness), the mode pair rotating so that all 56 (signedness, Q, O)
combinations recur -- and ``check_oracle`` demands bit-identical patterns and
to_double() values on all of their inputs.  ``literal="all"``
(``--literal-all`` on the command line) instantiates all 45,696 types
literally, for a one-off proof of the shortcut on the whole sweep.

Command line: ``python tests/ap_oracle.py --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

#: Quantization modes, in the index order shared with ``apo::kQModes``.
Q_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_INF",
           "AP_RND_MIN_INF", "AP_RND_CONV")
#: Overflow modes, in the index order shared with ``apo::kOModes``.
O_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")

#: Entry kinds, shared with ``apo::Kind``.
KIND_FIXED, KIND_INT, KIND_TODOUBLE, KIND_FIXED_BITS = 0, 1, 2, 3

W_MAX = 32
I_LOW, I_HIGH_OVER_W = -4, 4

CPP_SOURCE = Path(__file__).resolve().parent / "cpp" / "ap_oracle.cpp"
#: -O0: the conversions are the headers' own code at any optimisation level (no floating
#: point is reassociated at -O2 either), and -O0 compiles the 2,232 instantiations of the
#: test sweep in about 55% of the -O2 time (measured: 15.7 s vs 27.8 s per shard), while
#: running them costs seconds.
CXX_FLAGS = ("-O0", "-std=c++14", "-w")
#: Bump when the generated shard code changes shape.
GENERATOR_VERSION = 1
#: Relative g++ cost of one entry of each kind (measured: about 0.1 s of CPU
#: per ap_fixed constructor at -O2); used only to balance the shards.
KIND_COST = {KIND_FIXED_BITS: 1.0, KIND_FIXED: 1.35, KIND_INT: 0.6, KIND_TODOUBLE: 0.65}
#: Target cost per shard (about 30 s of g++ time; each shard also pays about
#: 1 s to parse the headers).
SHARD_COST = 300.0

Entry = tuple[int, int, int, int, int, int]  # (kind, W, I, S, Q, O)


# --------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class FixedSpec:
    """One ap_fixed / ap_ufixed type: width, integer bits, sign, modes."""

    w: int
    i: int
    signed: bool
    q: int  # index into Q_MODES
    o: int  # index into O_MODES

    @property
    def f(self) -> int:
        """Fractional bits (may be negative)."""
        return self.w - self.i

    @property
    def kmin(self) -> int:
        """Smallest integer code (value = code * 2**-F)."""
        return -(1 << (self.w - 1)) if self.signed else 0

    @property
    def kmax(self) -> int:
        """Largest integer code."""
        return (1 << (self.w - 1)) - 1 if self.signed else (1 << self.w) - 1

    @property
    def type_string(self) -> str:
        """C++ spelling, e.g. ``ap_fixed<7,-2,AP_RND_CONV,AP_SAT_SYM>``."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.w},{self.i},{Q_MODES[self.q]},{O_MODES[self.o]}>"

    @property
    def mode_key(self) -> tuple[str, str, str]:
        """(rounding, overflow, signedness) -- the grouping used in reports."""
        return (Q_MODES[self.q], O_MODES[self.o],
                "signed" if self.signed else "unsigned")

    def entry(self, kind: int = KIND_FIXED) -> Entry:
        return (kind, self.w, self.i, int(self.signed), self.q, self.o)


@dataclass(frozen=True, order=True)
class IntSpec:
    """One ap_int<W> / ap_uint<W> type."""

    w: int
    signed: bool

    @property
    def f(self) -> int:
        return 0

    @property
    def type_string(self) -> str:
        return f"{'ap_int' if self.signed else 'ap_uint'}<{self.w}>"

    def entry(self) -> Entry:
        return (KIND_INT, self.w, 0, int(self.signed), 0, 0)


def i_range(w: int) -> range:
    """Integer-bit counts swept for width ``w``: -4 .. W+4."""
    return range(I_LOW, w + I_HIGH_OVER_W + 1)


def all_fixed_specs() -> list[FixedSpec]:
    """Every type of the sweep, ordered by (W, I, signed, Q, O).

    The 28 mode pairs of one (W, I, signed) are contiguous, in
    ``q * 4 + o`` order.
    """
    return [FixedSpec(w, i, s, q, o)
            for w in range(1, W_MAX + 1) for i in i_range(w)
            for s in (False, True)
            for q in range(len(Q_MODES)) for o in range(len(O_MODES))]


def all_int_specs() -> list[IntSpec]:
    """ap_uint<W> and ap_int<W> for W = 1..32."""
    return [IntSpec(w, s) for w in range(1, W_MAX + 1) for s in (False, True)]


def canonical_i(w: int) -> int:
    """Integer bits of the canonical instantiation used for width ``w``."""
    return w + I_HIGH_OVER_W


#: Widths whose types are sampled for literal instantiation by default.
SAMPLE_WIDTHS = (1, 2, 3, 8, 16, 31, 32)


def literal_sample(specs: Sequence[FixedSpec]) -> list[FixedSpec]:
    """Types instantiated literally by default, to cross-check the canonical
    shortcut: for W in SAMPLE_WIDTHS, one type per (W, I, signedness) -- 312
    types -- whose mode pair rotates with I and W so that all 28 recur for
    both signednesses.  (``literal="all"`` checks every type.)"""
    return [s for s in specs
            if s.w in SAMPLE_WIDTHS
            and s.q * 4 + s.o == (s.i - I_LOW + 5 * s.w + 13 * s.signed) % 28]


# --------------------------------------------------------------------------
# Input values
# --------------------------------------------------------------------------

def _with_neighbours(v: np.ndarray) -> np.ndarray:
    """``v`` and the doubles one ulp below and above each element."""
    return np.concatenate([v, np.nextafter(v, -np.inf), np.nextafter(v, np.inf)])


def _unique_bits(v: np.ndarray) -> np.ndarray:
    """Deduplicate by bit pattern (keeps +0.0 and -0.0 apart)."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    return np.unique(v.view(np.int64)).view(np.float64)


def fixed_cases(w: int, i: int, signed: bool, rng: np.random.Generator) -> np.ndarray:
    """Deterministic hard cases shared by the 28 mode pairs of (W, I, S).

    Grid points k*LSB and exact ties (k+1/2)*LSB for k around kmin, 0 and
    kmax and a few random k in between, each with its two neighbouring
    doubles; the range ends and their neighbours; far-out, tiny, subnormal
    and signed-zero values.
    """
    f = w - i
    lsb = math.ldexp(1.0, -f)
    kmin = -(1 << (w - 1)) if signed else 0
    kmax = (1 << (w - 1)) - 1 if signed else (1 << w) - 1
    ks = set(range(kmin - 2, kmin + 3)) | set(range(-2, 3)) | set(range(kmax - 2, kmax + 3))
    ks |= {int(k) for k in rng.integers(kmin, kmax + 1, size=3)}
    ks_arr = np.array(sorted(ks), dtype=np.float64)
    grid = ks_arr * lsb
    ties = (ks_arr + 0.5) * lsb
    ends = np.array([kmin, kmax, kmin - 1, kmax + 1, -kmax, -kmax - 1],
                    dtype=np.float64) * lsb
    e = float(i + 3)
    special = np.array([
        0.0, -0.0, 1e-30, -1e-30, 5e-324, -5e-324, 2.0 ** -60, -(2.0 ** -60),
        2.0 ** -1022, -(2.0 ** -1022), 2.2250738585072009e-308, -2.2250738585072009e-308,
        2.0 ** e, -(2.0 ** e), 2.0 ** (e + 20), -(2.0 ** (e + 20)),
        1e6, -1e6, 1e30, -1e30, 2.0 ** 53 + 2, -(2.0 ** 53 + 2),
        lsb / 4, -lsb / 4, lsb * 0.75, -lsb * 0.75,
        # all 53 significand bits set, around the LSB and the MSB
        lsb * (1 - 2.0 ** -53), -lsb * (1 - 2.0 ** -53),
        math.ldexp(1 - 2.0 ** -53, i), -math.ldexp(1 - 2.0 ** -53, i),
    ])
    vals = np.concatenate([grid, _with_neighbours(ties), _with_neighbours(ends), special])
    return _unique_bits(vals)


def random_cases(spec: FixedSpec, rng: np.random.Generator, n: int = 8) -> np.ndarray:
    """Per-type random values: uniform over about [2*min, 2*max] (for
    unsigned types [-max, 2*max]) and log-uniform magnitudes of both signs."""
    lsb = math.ldexp(1.0, -spec.f)
    lo, hi = spec.kmin * lsb, spec.kmax * lsb
    lo = 2 * lo if spec.signed else -hi
    half = n // 2
    uni = rng.uniform(lo, 2 * hi, size=half)
    mags = np.exp2(rng.uniform(-spec.f - 6, spec.i + 6, size=n - half))
    logu = mags * rng.choice([-1.0, 1.0], size=n - half)
    return np.concatenate([uni, logu])


def int_cases(w: int, signed: bool, rng: np.random.Generator) -> np.ndarray:
    """Hard cases for ap_int<W> / ap_uint<W>: integers around 0 and the wrap
    points, halves, their neighbours, (-1, 0) and (0, 1) fractions, huge
    magnitudes (including ones whose shift exceeds W), tiny and random."""
    ks = set(range(-3, 4))
    for p in {w - 1, w, w + 1}:
        ks |= {(1 << p) + d for d in (-1, 0, 1)}
        ks |= {-(1 << p) + d for d in (-1, 0, 1)}
    ks_arr = np.array(sorted(ks), dtype=np.float64)
    fracs = np.array([0.5, 0.49999999999999994, 0.3, 0.25, 0.1, 2.0 ** -30,
                      0.75, 0.9999999999999999, 1e-300, 5e-324])
    special = np.concatenate([
        fracs, -fracs, [0.0, -0.0, 1.5, -1.5, 2.5, -2.5, 1e6, -1e6, 1e30, -1e30],
        [s * 2.0 ** p for p in (31, 52, 53, 63, 64, 70, 84, 85, 100) for s in (1, -1)],
        [s * (2.0 ** 53 + 2) for s in (1, -1)],
    ])
    rnd = np.concatenate([
        rng.uniform(-(2.0 ** (w + 1)), 2.0 ** (w + 1), size=16),
        np.exp2(rng.uniform(-8, w + 8, size=16)) * rng.choice([-1.0, 1.0], size=16),
    ])
    vals = np.concatenate([_with_neighbours(ks_arr), _with_neighbours(ks_arr + 0.5),
                           special, rnd])
    return _unique_bits(vals)


# --------------------------------------------------------------------------
# Building the C++ program
# --------------------------------------------------------------------------

def header_dir() -> Path:
    """The ap_types directory shipped inside the installed hls4ml package."""
    import hls4ml

    d = Path(hls4ml.__file__).resolve().parent / "templates" / "vivado" / "ap_types"
    if not (d / "ap_fixed.h").is_file():
        raise FileNotFoundError(f"ap_types headers not found in {d}")
    return d


def cxx() -> str:
    """The C++ compiler (``$CXX`` or g++)."""
    return os.environ.get("CXX", "g++")


def cache_root() -> Path:
    """Where compiled oracles are cached: the private per-user cache
    ``$KAPPA_AP_ORACLE_CACHE`` or ``$XDG_CACHE_HOME/kappa/ap-oracle`` (``~/.cache/kappa/ap-oracle``),
    mode 0700 and owner checked (:func:`kappa.cache.private_dir`)."""
    from kappa.cache import private_dir

    return private_dir("ap-oracle", "KAPPA_AP_ORACLE_CACHE")


def _entry_code(e: Entry) -> str:
    kind, w, i, s, q, o = e
    sb = "true" if s else "false"
    if kind in (KIND_FIXED, KIND_FIXED_BITS):
        name = "conv_fixed" if kind == KIND_FIXED else "conv_fixed_bits"
        fn = f"apo::{name}<{w}, {i}, {sb}, apo::kQModes[{q}], apo::kOModes[{o}]>"
    elif kind == KIND_INT:
        fn = f"apo::conv_int<{w}, {sb}>"
    elif kind == KIND_TODOUBLE:
        fn = f"apo::to_double_fixed<{w}, {i}, {sb}>"
    else:
        raise ValueError(f"unknown entry kind {kind}")
    return f"  {{{kind}, {w}, {i}, {s}, {q}, {o}, &{fn}}},"


def _shard_source(entries: Sequence[Entry], index: int, count: int) -> str:
    body = "\n".join(_entry_code(e) for e in entries)
    return (f"// Generated by tests/ap_oracle.py: shard {index + 1} of {count}.\n"
            '#include "ap_oracle.cpp"\n\nnamespace {\n'
            f"const apo::Entry kEntries[] = {{\n{body}\n}};\n"
            "const apo::Registrar kRegistrar(kEntries, sizeof kEntries / sizeof kEntries[0]);\n"
            "}  // namespace\n")


def _split_shards(entries: Sequence[Entry], jobs: int) -> list[list[Entry]]:
    """Balance entries over shards by estimated compile cost (LPT greedy)."""
    total = sum(KIND_COST[e[0]] for e in entries)
    n = max(1, jobs, math.ceil(total / SHARD_COST))
    shards: list[list[Entry]] = [[] for _ in range(n)]
    load = [0.0] * n
    # Group by width inside a shard where possible: sort by (W, kind) then
    # deal round-robin over the least-loaded shards.
    for e in sorted(entries, key=lambda e: (-e[1], e)):
        k = min(range(n), key=load.__getitem__)
        shards[k].append(e)
        load[k] += KIND_COST[e[0]]
    return [s for s in shards if s]


@dataclass
class BuildInfo:
    """Where the oracle binary is and what building it cost."""

    binary: Path
    cached: bool
    seconds: float  #: wall time of the build (0 when cached)
    shards: int
    entries: int
    cpu_seconds: float = 0.0  #: CPU time of the compiler processes


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def build_oracle(entries: Iterable[Entry], *, jobs: int | None = None,
                 log: Callable[[str], None] | None = None) -> BuildInfo:
    """Compile (or fetch from the cache) an oracle holding ``entries``.

    The cache key hashes the C++ source, the header directory path, the
    compiler and flags and the entry list; the binary lives in
    ``cache_root()/<key>/ap_oracle`` and is installed with an atomic rename,
    so concurrent builds are safe.  Object files are kept in
    ``cache_root()/<key>/objects`` until the link succeeds, so an interrupted
    build resumes where it stopped.
    """
    entries = sorted(set(entries))
    hdr = header_dir()
    compiler = cxx()
    if shutil.which(compiler) is None:
        raise FileNotFoundError(f"C++ compiler {compiler!r} not found")
    cpp = CPP_SOURCE.read_bytes()
    env_key = (str(hdr), compiler, shutil.which(compiler), CXX_FLAGS, GENERATOR_VERSION)
    out_dir = cache_root() / _digest(cpp, env_key, entries)
    binary = out_dir / "ap_oracle"
    from kappa.cache import store, verified

    if verified(binary):  # stored with its sha256 (kappa.cache): a modified binary is rebuilt
        return BuildInfo(binary, True, 0.0, 0, len(entries))

    jobs = jobs or int(os.environ.get("KAPPA_AP_ORACLE_JOBS", 0)) or os.cpu_count() or 2
    shards = _split_shards(entries, jobs)
    obj_dir = out_dir / "objects"
    obj_dir.mkdir(parents=True, exist_ok=True)
    base = [compiler, *CXX_FLAGS, f"-I{hdr}", f"-I{CPP_SOURCE.parent}"]
    # (object path, source text or None for the main unit, extra flags)
    units = [(obj_dir / "main.o", None, ["-DAPO_MAIN"])]
    for k, shard in enumerate(shards):
        text = _shard_source(shard, k, len(shards))
        units.append((obj_dir / f"shard-{_digest(text)}.o", text, []))
    todo = [u for u in units if not u[0].is_file()]
    work = Path(tempfile.mkdtemp(prefix="build-", dir=out_dir))
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if log:
        log(f"ap_oracle: compiling {len(entries)} instantiations in {len(todo)} of "
            f"{len(units)} units with {jobs} parallel g++ jobs (one-off; cached in {out_dir})")

    def compile_unit(unit) -> None:
        obj, text, extra = unit
        if text is None:
            src = CPP_SOURCE
        else:
            src = work / f"{obj.stem}.cpp"
            src.write_text(text)
        tmp = work / obj.name
        res = subprocess.run(base + extra + ["-c", str(src), "-o", str(tmp)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"ap_oracle: compiling {src} failed:\n{res.stderr[-4000:]}")
        os.replace(tmp, obj)

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(compile_unit, u) for u in todo]
            for fut in as_completed(futures):
                if fut.exception() is not None:
                    for other in futures:
                        other.cancel()
                    raise fut.exception()
        tmp_bin = work / "ap_oracle"
        res = subprocess.run([compiler, *CXX_FLAGS, *(str(u[0]) for u in units),
                              "-o", str(tmp_bin)], capture_output=True, text=True)
        if res.returncode == 0:
            os.replace(tmp_bin, out_dir / f".ap_oracle.{os.getpid()}.tmp")
            store(out_dir / f".ap_oracle.{os.getpid()}.tmp", binary)
            shutil.rmtree(obj_dir, ignore_errors=True)
        elif not binary.is_file():  # (else a concurrent build won the race)
            raise RuntimeError(f"ap_oracle: link failed:\n{res.stderr[-4000:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    secs = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    if log:
        log(f"ap_oracle: compiled in {secs:.1f} s ({cpu:.0f} s of compiler CPU time)")
    return BuildInfo(binary, False, secs, len(units), len(entries), cpu)


def run_oracle(binary: Path, records: Sequence[tuple[Entry, np.ndarray]]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Run the oracle on ``records`` = [(entry, payload), ...].

    Payloads are float64 inputs (KIND_FIXED, KIND_INT) or uint64 bit
    patterns (KIND_TODOUBLE).  Returns (bits: uint64, values: float64) for
    all payload elements, concatenated in record order.
    """
    table = np.array([[*e, len(p)] for e, p in records], dtype=np.int64).reshape(-1, 7)
    payload = (np.concatenate([np.ascontiguousarray(p).view(np.uint64) for _, p in records])
               if records else np.zeros(0, np.uint64))
    with tempfile.TemporaryDirectory(prefix="ap-oracle-run-") as d:
        d = Path(d)
        table.tofile(d / "table.bin")
        payload.tofile(d / "payload.bin")
        res = subprocess.run([str(binary), str(d / "table.bin"), str(d / "payload.bin"),
                              str(d / "bits.bin"), str(d / "values.bin")],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"ap_oracle failed ({res.returncode}): {res.stderr[-4000:]}")
        bits = np.fromfile(d / "bits.bin", dtype=np.uint64)
        vals = np.fromfile(d / "values.bin", dtype=np.float64)
    if len(bits) != len(payload) or len(vals) != len(payload):
        raise RuntimeError("ap_oracle: short output")
    return bits, vals


# --------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------

@dataclass
class Block:
    """A family of types with their inputs and oracle results.

    Type ``k`` (``specs[k]``) owns the slice ``offsets[k]:offsets[k+1]`` of
    ``inputs``, ``bits`` (the W-bit pattern of the result, zero-extended to
    uint64) and ``values`` (``to_double()`` of the result).
    """

    specs: list  # list[FixedSpec] or list[IntSpec]
    offsets: np.ndarray
    inputs: np.ndarray
    bits: np.ndarray
    values: np.ndarray

    def segment(self, k: int) -> slice:
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def per_element(self, per_type: Sequence[int]) -> np.ndarray:
        """Broadcast one number per type to one per element."""
        return np.repeat(np.asarray(per_type, dtype=np.int64), np.diff(self.offsets))

    @property
    def type_index(self) -> np.ndarray:
        """Index into ``specs`` of every element."""
        return self.per_element(range(len(self.specs)))

    @property
    def widths(self) -> np.ndarray:
        return self.per_element([s.w for s in self.specs])

    @property
    def frac_bits(self) -> np.ndarray:
        return self.per_element([s.f for s in self.specs])

    def __repr__(self) -> str:
        return f"Block({len(self.specs):,} types, {len(self.inputs):,} conversions)"


@dataclass
class Sweep:
    """The oracle's results: every ap_fixed/ap_ufixed type (``fixed``) and
    every ap_int/ap_uint type (``ints``), plus the literal cross-check."""

    fixed: Block
    ints: Block
    #: Literally instantiated types: index into fixed.specs -> (bits, values).
    literal: dict[int, tuple[np.ndarray, np.ndarray]]
    build: BuildInfo
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def conversions(self) -> int:
        return len(self.fixed.inputs)

    def __repr__(self) -> str:
        return (f"Sweep(fixed={self.fixed!r}, ints={self.ints!r}, "
                f"literal={len(self.literal):,} types, cached build={self.build.cached})")


def generate_inputs(specs: Sequence[FixedSpec], seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for ``specs`` (ordered as ``all_fixed_specs``): the shared hard
    cases of each (W, I, S) plus per-type random values.  Deterministic."""
    rng = np.random.default_rng(seed)
    chunks, offsets = [], [0]
    pool_key, pool = None, None
    for s in specs:
        key = (s.w, s.i, s.signed)
        if key != pool_key:
            pool_key, pool = key, fixed_cases(s.w, s.i, s.signed, rng)
        vals = np.concatenate([pool, random_cases(s, rng)])
        chunks.append(vals)
        offsets.append(offsets[-1] + len(vals))
    return np.concatenate(chunks), np.array(offsets, dtype=np.int64)


def sweep_entries(specs: Sequence[FixedSpec], literal: str) -> tuple[list[Entry], list[int]]:
    """Oracle entries for the sweep, and the indices of the specs that are
    instantiated literally (``literal`` is 'sample', 'all' or 'none')."""
    if literal == "all":
        lit = list(range(len(specs)))
    elif literal == "sample":
        chosen = set(literal_sample(specs))
        lit = [k for k, s in enumerate(specs) if s in chosen]
    elif literal == "none":
        lit = []
    else:
        raise ValueError(f"literal must be 'all', 'sample' or 'none', not {literal!r}")
    entries = {(KIND_FIXED_BITS, w, canonical_i(w), s, q, o)
               for w in range(1, W_MAX + 1) for s in (0, 1)
               for q in range(len(Q_MODES)) for o in range(len(O_MODES))}
    entries |= {(KIND_TODOUBLE, w, canonical_i(w), s, 0, 0)
                for w in range(1, W_MAX + 1) for s in (0, 1)}
    kind = literal_kind(literal)
    entries |= {specs[k].entry(kind) for k in lit}
    if kind == KIND_FIXED_BITS:
        entries |= {(KIND_TODOUBLE, specs[k].w, specs[k].i, int(specs[k].signed), 0, 0)
                    for k in lit}
    entries |= {s.entry() for s in all_int_specs()}
    return sorted(entries), lit


def literal_kind(literal: str) -> int:
    """Entry kind of the literal instantiations: constructor + to_double()
    for the sample (one type per (W, I, S) there), bit patterns only for
    'all', whose values then come from one KIND_TODOUBLE per (W, I, S)
    (cheaper to compile than 28 to_double() instantiations)."""
    return KIND_FIXED_BITS if literal == "all" else KIND_FIXED


def run_sweep(literal: str = "sample", *, jobs: int | None = None,
              log: Callable[[str], None] | None = None) -> Sweep:
    """Build (or reuse) the oracle and run it on the whole sweep.

    Bit patterns come from the canonical instantiations on inputs scaled by
    2**(W+4-I); values from the canonical ``to_double()`` scaled back by
    2**(I-W-4) (exact); literal types are run on the unscaled inputs and kept
    apart in ``Sweep.literal`` for ``check_oracle``.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    specs = all_fixed_specs()
    inputs, offsets = generate_inputs(specs)
    int_specs = all_int_specs()
    rng = np.random.default_rng(3)
    int_chunks = [int_cases(s.w, s.signed, rng) for s in int_specs]
    int_offsets = np.concatenate([[0], np.cumsum([len(c) for c in int_chunks])]).astype(np.int64)
    int_inputs = np.concatenate(int_chunks)
    timings["generate"] = time.perf_counter() - t0

    entries, lit = sweep_entries(specs, literal)
    build = build_oracle(entries, jobs=jobs, log=log)
    timings["compile"] = build.seconds

    # Pass 1: canonical bit patterns of every type; literal types; ap_int.
    t1 = time.perf_counter()
    lengths = np.diff(offsets)
    # Per element: canonical I minus the type's I (>= 0: upward scaling only).
    shift = np.repeat(np.array([canonical_i(s.w) - s.i for s in specs]), lengths)
    scaled = np.ldexp(inputs, shift)
    if not np.array_equal(np.ldexp(scaled, -shift).view(np.int64), inputs.view(np.int64)):
        raise RuntimeError("ap_oracle: input scaling is not exact")
    groups: dict[tuple, list[int]] = defaultdict(list)
    for k, s in enumerate(specs):
        groups[(s.w, int(s.signed), s.q, s.o)].append(k)
    canon: list[tuple[tuple, np.ndarray]] = []
    records: list[tuple[Entry, np.ndarray]] = []
    for (w, sg, q, o), ks in groups.items():
        idx = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in ks])
        canon.append(((w, sg), idx))
        records.append(((KIND_FIXED_BITS, w, canonical_i(w), sg, q, o), scaled[idx]))
    lkind = literal_kind(literal)
    for k in lit:
        records.append((specs[k].entry(lkind), inputs[offsets[k]:offsets[k + 1]]))
    for s, c in zip(int_specs, int_chunks):
        records.append((s.entry(), c))
    out_bits, out_vals = run_oracle(build.binary, records)

    bits = np.empty(len(inputs), dtype=np.uint64)
    pos = 0
    for _, idx in canon:
        bits[idx] = out_bits[pos:pos + len(idx)]
        pos += len(idx)
    literal_res = {}
    for k in lit:
        n = int(lengths[k])
        literal_res[k] = (out_bits[pos:pos + n], out_vals[pos:pos + n])
        pos += n
    int_bits, int_vals = out_bits[pos:], out_vals[pos:]

    # Pass 2: values = canonical to_double() of each pattern, scaled back.
    records = [((KIND_TODOUBLE, w, canonical_i(w), sg, 0, 0), bits[idx]) for (w, sg), idx in canon]
    back_bits, canon_vals = run_oracle(build.binary, records)
    values = np.empty(len(inputs), dtype=np.float64)
    pos = 0
    for _, idx in canon:
        values[idx] = canon_vals[pos:pos + len(idx)]
        pos += len(idx)
    if not np.array_equal(back_bits, np.concatenate([bits[idx] for _, idx in canon])):
        raise RuntimeError("ap_oracle: to_double pass did not round-trip the bit patterns")
    values = np.ldexp(values, -shift)
    if lkind == KIND_FIXED_BITS and lit:
        # Literal values: literal ap_(u)fixed<W,I>::to_double() of literal bits.
        _, lv = run_oracle(build.binary, [((KIND_TODOUBLE, specs[k].w, specs[k].i,
                                            int(specs[k].signed), 0, 0), literal_res[k][0])
                                          for k in lit])
        pos = 0
        for k in lit:
            n = len(literal_res[k][0])
            literal_res[k] = (literal_res[k][0], lv[pos:pos + n])
            pos += n
    timings["run"] = time.perf_counter() - t1
    return Sweep(Block(specs, offsets, inputs, bits, values),
                 Block(int_specs, int_offsets, int_inputs, int_bits, int_vals),
                 literal_res, build, timings)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

#: Marker for "not a valid pattern" in ``bits_from_values`` (never equal to a
#: W-bit pattern with W <= 32).
INVALID_BITS = np.uint64(1 << 63)


def bits_from_values(values: np.ndarray, w, f) -> np.ndarray:
    """The W-bit two's-complement pattern of ``values * 2**f``, as uint64
    (``w`` and ``f`` are ints or per-element arrays).

    Elements for which ``values * 2**f`` is not an integer of magnitude below
    2**62 give ``INVALID_BITS``.
    """
    scaled = np.ldexp(np.asarray(values, dtype=np.float64), f)
    ok = np.isfinite(scaled) & (np.abs(scaled) < 2.0 ** 62)
    ints = np.where(ok, scaled, 0.0).astype(np.int64)
    ok &= ints.astype(np.float64) == scaled
    mask = np.left_shift(np.uint64(1), np.asarray(w, dtype=np.uint64)) - np.uint64(1)
    return np.where(ok, ints.view(np.uint64) & mask, INVALID_BITS)


def _group(spec) -> tuple[str, ...]:
    """Report grouping: (rounding, overflow, signedness), or the int family."""
    if isinstance(spec, FixedSpec):
        return spec.mode_key
    return ("ap_int" if spec.signed else "ap_uint",)


@dataclass
class Mismatch:
    """One disagreement with the oracle."""

    type_string: str
    group: tuple[str, ...]
    x: float
    expected: float
    got: float
    expected_bits: int
    got_bits: int | None  #: None when got * 2**F is not a W-bit code
    note: str = ""

    def format(self) -> str:
        if math.isnan(self.x):  # not about one value (e.g. a bad result shape)
            return f"{self.type_string}: {self.note}"
        gb = "-" if self.got_bits is None else f"0x{self.got_bits:x}"
        return (f"{self.type_string}  x={self.x!r} ({self.x.hex()})  "
                f"expected={self.expected!r} (0x{self.expected_bits:x})  "
                f"got={self.got!r} ({gb}){'  ' + self.note if self.note else ''}")


@dataclass
class Comparison:
    """Result of comparing something with the oracle over a Block."""

    total: int  #: number of mismatching elements
    group_counts: Counter  #: mismatches per _group()
    first: list[Mismatch]  #: the first few of every group, in sweep order

    def format(self, limit: int = 20) -> str:
        """Mismatch counts by (rounding, overflow, signedness) group, with
        the first mismatches of each group: ``limit`` lines in all."""
        lines = [f"{self.total:,} mismatches:"]
        by_group: dict[tuple, list[Mismatch]] = defaultdict(list)
        for m in self.first:
            by_group[m.group].append(m)
        per_group = max(1, -(-limit // max(1, len(self.group_counts))))
        shown = 0
        for g, n in self.group_counts.most_common():
            lines.append(f"  [{', '.join(g)}] {n:,}")
            for m in by_group.get(g, [])[:min(per_group, limit - shown)]:
                lines.append("    " + m.format())
                shown += 1
        return "\n".join(lines)


def _compare(block: Block, got: np.ndarray, got_bits: np.ndarray, note: str,
             per_group: int = 20) -> Comparison:
    """Elementwise comparison of (got, got_bits) with a block's oracle
    results: values bit for bit as float64, and patterns.  Keeps the first
    ``per_group`` mismatches of every group."""
    bad = (got.view(np.int64) != block.values.view(np.int64)) | (got_bits != block.bits)
    where = np.nonzero(bad)[0]
    tidx = block.type_index
    counts = Counter()
    for k, n in zip(*np.unique(tidx[where], return_counts=True)):
        counts[_group(block.specs[k])] += int(n)
    first = []
    kept = Counter()
    full = 0
    for j in where:
        if full == len(counts):
            break
        spec = block.specs[tidx[j]]
        g = _group(spec)
        if kept[g] >= per_group:
            continue
        kept[g] += 1
        full += kept[g] == per_group
        gb = int(got_bits[j])
        first.append(Mismatch(spec.type_string, g, float(block.inputs[j]),
                              float(block.values[j]), float(got[j]), int(block.bits[j]),
                              None if gb == int(INVALID_BITS) else gb, note))
    return Comparison(len(where), counts, first)


def check_oracle(sweep: Sweep) -> Comparison:
    """Oracle self-consistency.

    * Each literally instantiated type gives, on every input, the same bit
      pattern and to_double() as the canonical shortcut stored in the sweep.
    * Every value times 2**F, reduced to W bits, is the oracle's pattern
      (to_double() agrees with the raw bits), for ap_fixed and ap_int.
    """
    fx = sweep.fixed
    parts = []
    for k, (lb, lv) in sweep.literal.items():
        seg = fx.segment(k)
        view = Block([fx.specs[k]], np.array([0, len(lb)]), fx.inputs[seg],
                     fx.bits[seg], fx.values[seg])
        parts.append(_compare(view, lv, lb, "literal instantiation != canonical shortcut"))
    for blk in (fx, sweep.ints):
        vb = bits_from_values(blk.values, blk.widths, blk.frac_bits)
        parts.append(_compare(blk, blk.values, vb, "to_double() != bit pattern"))
    counts = Counter()
    for c in parts:
        counts.update(c.group_counts)
    first = [m for c in parts for m in c.first]
    return Comparison(sum(c.total for c in parts), counts, first)


def compare_quantize(block: Block, quantize: Callable[[np.ndarray, str], np.ndarray]
                     ) -> Comparison:
    """Compare ``quantize(inputs, type_string)`` with the oracle over every
    type of ``block`` (``sweep.fixed`` or ``sweep.ints``).

    The float64 results must equal ``to_double()`` of the C++ result bit for
    bit (so -0.0 is not +0.0), and ``result * 2**F`` reduced to W bits must
    equal the raw C++ bit pattern.  A result of the wrong shape or dtype
    counts every element of that type as a mismatch.
    """
    got = np.empty_like(block.values)
    notes = []
    for k, spec in enumerate(block.specs):
        seg = block.segment(k)
        x = block.inputs[seg]
        r = np.asarray(quantize(x.copy(), spec.type_string))
        if r.shape != x.shape or r.dtype != np.float64:
            notes.append(f"{spec.type_string}: result shape/dtype {r.shape}/{r.dtype}, "
                         f"expected {x.shape}/float64")
            got[seg] = np.nan
        else:
            got[seg] = r
    gbits = bits_from_values(got, block.widths, block.frac_bits)
    cmp = _compare(block, got, gbits, "")
    if notes:
        cmp.group_counts[("bad result",)] = len(notes)
        cmp.first[:0] = [Mismatch(n.split(":")[0], ("bad result",), float("nan"), float("nan"),
                                  float("nan"), 0, None, n) for n in notes[:5]]
    return cmp


# --------------------------------------------------------------------------
# Independent model: clean "round, then overflow" semantics
# --------------------------------------------------------------------------

def _round_code(x: float, f: int, q: str) -> int:
    """x * 2**f rounded to an integer by quantization mode ``q`` (exact)."""
    num, den = x.as_integer_ratio()
    if f >= 0:
        num <<= f
    else:
        den <<= -f
    fl, rem = divmod(num, den)  # den > 0, so 0 <= rem < den and fl = floor
    if rem == 0 or q == "AP_TRN":
        return fl
    if q == "AP_TRN_ZERO":
        return fl if x > 0 else fl + 1
    if 2 * rem > den:
        return fl + 1
    if 2 * rem < den:
        return fl
    # exact tie between fl and fl + 1
    return {"AP_RND": fl + 1,
            "AP_RND_ZERO": fl if x > 0 else fl + 1,
            "AP_RND_INF": fl + 1 if x > 0 else fl,
            "AP_RND_MIN_INF": fl,
            "AP_RND_CONV": fl + (fl & 1)}[q]


def ref_fixed_code(x: float, spec: FixedSpec) -> int:
    """Clean semantics: the integer code (value * 2**F) of ``x`` converted to
    ``spec``: round by Q, then apply O to the rounded code.  AP_SAT_SYM
    clamps signed codes to [-kmax, kmax] (so kmin itself maps to -kmax)."""
    k = _round_code(x, spec.f, Q_MODES[spec.q])
    lo, hi = spec.kmin, spec.kmax
    o = O_MODES[spec.o]
    if o == "AP_SAT_SYM" and spec.signed:
        lo = -hi
    if lo <= k <= hi:
        return k
    if o == "AP_WRAP":
        k &= (1 << spec.w) - 1
        if spec.signed and k >> (spec.w - 1):
            k -= 1 << spec.w
        return k
    if o == "AP_SAT_ZERO":
        return 0
    return lo if k < lo else hi  # AP_SAT, AP_SAT_SYM


def ref_int_code(x: float, spec: IntSpec) -> int:
    """Clean semantics for ap_int/ap_uint: C truncation toward zero, then
    wrap to W bits."""
    k = int(x)  # exact truncation toward zero for finite doubles
    k &= (1 << spec.w) - 1
    if spec.signed and k >> (spec.w - 1):
        k -= 1 << spec.w
    return k


def _code_of(bits: int, w: int, signed: bool) -> int:
    """Integer code of a W-bit pattern."""
    if signed and bits >> (w - 1):
        return bits - (1 << w)
    return bits


def _wrap(k: int, w: int, signed: bool) -> int:
    return _code_of(k & ((1 << w) - 1), w, signed)


#: Where the C++ headers depart from clean "round, then overflow" semantics
#: (ref_fixed_code / ref_int_code), found by ``quirk_report`` over the sweep.
KNOWN_QUIRKS = {
    "sat_sym_w1": (
        "signed W=1 with AP_SAT_SYM behaves as AP_SAT: an input that rounds to a "
        "negative code gives code -1 (value -LSB); symmetric saturation to "
        "[-kmax, kmax] = [0, 0] would give 0"),
    "ap_int_neg_fraction": (
        "ap_int<W>/ap_uint<W> from a double in (-0.5, 0) (incl. subnormals) gives "
        "+1 wrapped to W bits (-1 for ap_int<1>), not trunc(x) = 0: "
        "ap_int_base(double) shifts the magnitude out and sets -1 before negating"),
}


def known_quirk(spec: FixedSpec | IntSpec, x: float, code: int) -> str | None:
    """The KNOWN_QUIRKS key explaining the C++ ``code`` for ``x``, or None."""
    if isinstance(spec, FixedSpec):
        if (spec.signed and spec.w == 1 and O_MODES[spec.o] == "AP_SAT_SYM"
                and code == ref_fixed_code(x, FixedSpec(spec.w, spec.i, True, spec.q,
                                                        O_MODES.index("AP_SAT")))):
            return "sat_sym_w1"
    elif -0.5 < x < 0 and code == _wrap(1, spec.w, spec.signed):
        return "ap_int_neg_fraction"
    return None


def _describe(x: float, spec: FixedSpec | IntSpec) -> tuple[str, ...]:
    """Coarse feature tags of an unexplained case, used to group them."""
    tags = []
    if isinstance(spec, FixedSpec):
        tags += [Q_MODES[spec.q], O_MODES[spec.o], "W=1" if spec.w == 1 else "W>1",
                 "I<0" if spec.i < 0 else ("I>W" if spec.i > spec.w else "0<=I<=W")]
    tags.append("x<0" if x < 0 else ("x>0" if x > 0 else "x=0"))
    if 0 < abs(x) < 2.0 ** -1022:
        tags.append("subnormal")
    elif x != 0 and abs(x) < math.ldexp(1.0, -spec.f):
        tags.append("|x|<LSB")
    return tuple(tags)


@dataclass
class QuirkClass:
    """Disagreements between the C++ oracle and the clean model of one kind."""

    name: str
    count: int = 0
    types: set = field(default_factory=set)
    example: str = ""
    rank: tuple = field(default=(), repr=False)  #: simplicity of the example

    def add(self, spec, x: float, code: int, ref: int) -> None:
        self.count += 1
        self.types.add(spec.type_string)
        # Keep the simplest example: narrowest type, then shortest repr(x).
        rank = (spec.w, len(repr(x)), abs(getattr(spec, "i", 0)))
        if not self.example or rank < self.rank:
            self.rank = rank
            self.example = (f"{spec.type_string}({x!r} = {x.hex()}): C++ "
                            f"{math.ldexp(code, -spec.f)!r} (code {code}), clean "
                            f"{math.ldexp(ref, -spec.f)!r} (code {ref})")


def quirk_report(sweep: Sweep) -> tuple[dict[str, QuirkClass], dict[tuple, QuirkClass]]:
    """Compare every oracle result of the sweep with the clean model.

    Returns (known, unexplained): disagreements explained by KNOWN_QUIRKS, by
    key, and the others grouped by family and feature tags.  Types are
    visited in order of increasing width, so examples are minimal.
    """
    known: dict[str, QuirkClass] = {}
    unexplained: dict[tuple, QuirkClass] = {}

    def record(spec, x, code, ref):
        name = known_quirk(spec, x, code)
        if name:
            known.setdefault(name, QuirkClass(name)).add(spec, x, code, ref)
        else:
            key = (spec.type_string.split("<")[0],) + _describe(x, spec)
            unexplained.setdefault(key, QuirkClass(" ".join(key))).add(spec, x, code, ref)

    for blk, ref_code in ((sweep.fixed, ref_fixed_code), (sweep.ints, ref_int_code)):
        for k, s in enumerate(blk.specs):
            seg = blk.segment(k)
            for x, b in zip(blk.inputs[seg].tolist(), blk.bits[seg].tolist()):
                code = _code_of(b, s.w, s.signed)
                ref = ref_code(x, s)
                if ref != code:
                    record(s, x, code, ref)
    return known, unexplained


def format_quirks(known: dict[str, QuirkClass], unexplained: dict[tuple, QuirkClass]) -> str:
    """Human-readable quirk report."""
    n = sum(q.count for q in known.values()) + sum(q.count for q in unexplained.values())
    lines = [f"C++ vs clean round-then-overflow semantics: {n:,} disagreements, "
             f"{len(known)} known quirk classes, {len(unexplained)} unexplained classes"]
    for name, q in known.items():
        lines.append(f"  [{name}] {q.count:,} cases in {len(q.types):,} types: {KNOWN_QUIRKS[name]}")
        lines.append(f"      e.g. {q.example}")
    for q in unexplained.values():
        lines.append(f"  [UNEXPLAINED {q.name}] {q.count:,} cases in {len(q.types):,} types")
        lines.append(f"      e.g. {q.example}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _load_quantize():
    try:
        import kappa
        return kappa.quantize
    except (ImportError, AttributeError):
        return None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--literal-all", action="store_true",
                   help="instantiate all 45,696 types literally (slow one-off build)")
    p.add_argument("--no-literal", action="store_true",
                   help="skip the literal cross-check instantiations")
    p.add_argument("--reference", action="store_true",
                   help="compare the oracle with the clean Python model and list quirk classes")
    p.add_argument("--kappa", action="store_true", help="compare kappa.quantize with the oracle")
    p.add_argument("--jobs", type=int, default=None, help="parallel g++ jobs")
    a = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    literal = "all" if a.literal_all else ("none" if a.no_literal else "sample")
    sweep = run_sweep(literal, jobs=a.jobs, log=log)
    t, b = sweep.timings, sweep.build
    print(f"ap_types oracle: {sweep.conversions:,} conversions over {len(sweep.fixed.specs):,} "
          f"types (+{len(sweep.ints.inputs):,} over {len(sweep.ints.specs)} ap_int/ap_uint "
          f"types); {len(sweep.literal):,} types instantiated literally")
    print(f"  generate {t['generate']:.1f} s, compile {t['compile']:.1f} s"
          f"{' (cached)' if b.cached else f' ({b.cpu_seconds:.0f} s CPU, {b.shards} shards)'}"
          f", oracle run {t['run']:.1f} s")
    t0 = time.perf_counter()
    bad = check_oracle(sweep)
    print(f"oracle self-consistency: {bad.total:,} mismatches "
          f"({time.perf_counter() - t0:.1f} s)")
    if bad.total:
        print(bad.format())
    rc = 1 if bad.total else 0
    if a.kappa:
        q = _load_quantize()
        if q is None:
            print("kappa.quantize is not available")
            rc = 1
        else:
            for name, blk in (("ap_fixed/ap_ufixed", sweep.fixed), ("ap_int/ap_uint", sweep.ints)):
                t0 = time.perf_counter()
                c = compare_quantize(blk, q)
                print(f"kappa.quantize vs oracle, {name}: {len(blk.inputs):,} conversions over "
                      f"{len(blk.specs):,} types: {c.total:,} mismatches "
                      f"({time.perf_counter() - t0:.1f} s)")
                if c.total:
                    print(c.format())
                    rc = 1
    if a.reference:
        t0 = time.perf_counter()
        known, unexplained = quirk_report(sweep)
        print(format_quirks(known, unexplained))
        print(f"  ({time.perf_counter() - t0:.0f} s)")
        rc |= 1 if unexplained else 0
    return rc


if __name__ == "__main__":
    sys.exit(main())
