"""The lookup tables of hls4ml's table-based activations, computed by the C++ that fills them.

hls4ml 1.3.0 fills its sigmoid, tanh and softmax tables at run time
(``nnet_activation.h``: ``init_sigmoid_table``, ``init_tanh_table``, ``init_exp_table``,
``init_invert_table``) with C++ ``float`` arithmetic (``std::exp``, ``tanh``, ``1/x``)
and casts each entry to the table type. kappa does not re-derive those entries with
numpy: it compiles a small program that calls hls4ml's own ``init_*`` functions from the
installed ``nnet_utils`` headers with g++ (the same flags as the C simulation,
:data:`hls.sim.csim.CXX_FLAGS`-equivalent ``-O2 -std=c++14``), prints every entry exactly
(``%a``, hexadecimal floating point) and caches the result on disk, keyed by a sha256 of
the program text, the headers and the compiler command.

Cache directory: ``$KAPPA_CACHE_DIR/tables`` or ``$XDG_CACHE_HOME/kappa/tables``
(``~/.cache/kappa/tables``), private (mode 0700, owner checked); every entry is stored with
its sha256 and re-verified before use (:mod:`kappa.cache`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import private_dir, store, verified
from ..fixed_point import FixedPointType

CXX_FLAGS = ("-O2", "-std=c++14", "-fno-gnu-unique", "-w")
FUNCTIONS = ("sigmoid", "tanh")
SOFTMAX_IMPLEMENTATIONS = ("stable", "latency")


def hls4ml_templates() -> Path:
    """``<hls4ml>/templates/vivado`` of the installed hls4ml (``nnet_utils/``, ``ap_types/``).

    Raises:
        FileNotFoundError: hls4ml's headers are not where hls4ml 1.3.0 ships them.
    """
    import importlib.util

    spec = importlib.util.find_spec("hls4ml")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("hls4ml is not installed: its nnet_utils headers are needed to fill the tables")
    d = Path(spec.origin).resolve().parent / "templates" / "vivado"
    if not (d / "nnet_utils" / "nnet_activation.h").exists() or not (d / "ap_types" / "ap_fixed.h").exists():
        raise FileNotFoundError(f"hls4ml's nnet_utils/ap_types headers not found under {d}")
    return d


def cache_dir() -> Path:
    """The private table cache: ``$KAPPA_CACHE_DIR/tables`` when ``$KAPPA_CACHE_DIR`` is set,
    else ``$XDG_CACHE_HOME/kappa/tables`` (``~/.cache/kappa/tables``); created 0700 and checked
    (:func:`kappa.cache.private_dir`).

    Raises:
        kappa.cache.CacheError: a folder of another user or writable by others.
    """
    return private_dir("tables", "KAPPA_CACHE_DIR", env_is_root=True)


def _program(body: str, typedefs: dict[str, FixedPointType], sizes: dict[str, int]) -> str:
    lines = ["#include <cstdio>", '#include "nnet_utils/nnet_activation.h"', "struct cfg : nnet::activ_config {",
             "    static const unsigned n_in = 1;", "    static const unsigned n_slice = 1;",
             "    static constexpr float exp_scale = 1.0;"]
    lines += [f"    static const unsigned {k} = {int(v)};" for k, v in sizes.items()]
    lines += [f"    typedef {t} {name};" for name, t in typedefs.items()]
    lines += ["};", "int main() {", body, "    return 0;", "}", ""]
    return "\n".join(lines)


def _dump(arr: str, size: str) -> str:
    return f'    for (unsigned i = 0; i < {size}; i++) std::printf("%a\\n", {arr}[i].to_double());\n'


def _run_cached(program: str, n_values: int) -> np.ndarray:
    """Compile and run ``program`` (or load its cached output): ``n_values`` float64 values."""
    templates = hls4ml_templates()
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise RuntimeError(f"filling hls4ml's activation tables needs a C++ compiler: {cxx!r} is not on PATH "
                           "(install g++, e.g. apt-get install g++)")
    h = hashlib.sha256()
    h.update(program.encode())
    h.update(" ".join((cxx, *CXX_FLAGS)).encode())
    for name in ("nnet_utils/nnet_activation.h", "nnet_utils/nnet_common.h", "ap_types/ap_fixed_base.h"):
        h.update((templates / name).read_bytes())
    key = h.hexdigest()[:32]
    path = cache_dir() / f"{key}.npy"
    if verified(path):
        vals = np.load(path, allow_pickle=False)
        if vals.shape == (n_values,) and vals.dtype == np.float64:
            return vals
    with tempfile.TemporaryDirectory(prefix="kappa-table-") as tmp:
        src = Path(tmp) / "table.cpp"
        src.write_text(program)
        exe = Path(tmp) / "table"
        cmd = [cxx, *CXX_FLAGS, f"-I{templates}", f"-I{templates / 'ap_types'}", f"-I{templates / 'nnet_utils'}",
               str(src), "-o", str(exe)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"compiling hls4ml's table initialisation failed:\n{res.stderr[:2000]}")
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    vals = np.array([float.fromhex(v) for v in out], dtype=np.float64)
    if vals.shape != (n_values,):
        raise RuntimeError(f"table program printed {vals.size} values, expected {n_values}")
    tmp_path = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp_path, vals)
    store(tmp_path, path)
    return vals


@lru_cache(maxsize=256)
def activation_table(function: str, table_size: int, table_t: FixedPointType) -> np.ndarray:
    """The entries of hls4ml's ``sigmoid`` or ``tanh`` table, exactly as C simulation holds them.

    Args:
        function: ``"sigmoid"`` (``init_sigmoid_table``: entry i is
            ``1.0 / (1 + std::exp(-x))`` at float ``x = 16 * (i - N/2) / N``) or ``"tanh"``
            (``init_tanh_table``: ``tanh(x)`` at ``x = 8 * (i - N/2) / N``).
        table_size: N, the number of entries (>= 1).
        table_t: the table type (``table_t``), each entry cast from the C++ result.

    Returns:
        float64 array (N,) (read-only), the entries' values.

    Raises:
        ValueError: unknown function or table size < 1. RuntimeError: no compiler, or the
            program failed.
    """
    if function not in FUNCTIONS:
        raise ValueError(f"no hls4ml table for {function!r}; valid: {', '.join(FUNCTIONS)}")
    if int(table_size) < 1:
        raise ValueError(f"table_size must be >= 1, got {table_size!r}")
    body = f"    static cfg::table_t t[cfg::table_size];\n    nnet::init_{function}_table<cfg, cfg::table_size>(t);\n"
    prog = _program(body + _dump("t", "cfg::table_size"), {"table_t": table_t}, {"table_size": table_size})
    out = _run_cached(prog, int(table_size))
    out.flags.writeable = False
    return out


@lru_cache(maxsize=256)
def softmax_tables(
    implementation: str,
    exp_table_size: int,
    inv_table_size: int,
    exp_t: FixedPointType,
    inv_t: FixedPointType,
    exp_index_t: FixedPointType,
    inv_inp_t: FixedPointType,
) -> tuple[np.ndarray, np.ndarray]:
    """The exponential and inversion tables of hls4ml's ``softmax_stable``/``softmax_latency``.

    Args:
        implementation: ``"stable"`` (``init_exp_table<inp_norm_t>(…, negative=true)``:
            entry i is ``exp(-x_i)``) or ``"latency"`` (``init_exp_table<data_T>``: ``exp(x_i)``),
            where ``x_i`` is the value of the index type whose top log2(N) bits are i.
        exp_table_size, inv_table_size: the tables' sizes, powers of two.
        exp_t, inv_t: ``exp_table_t``, ``inv_table_t``.
        exp_index_t: the type the exp table is addressed with (``inp_norm_t`` for
            ``stable``, the softmax input type for ``latency``).
        inv_inp_t: the type the inversion table is addressed with (``1/x`` of its values).

    Returns:
        ``(exp_table, inv_table)``: float64 arrays (read-only) of the two sizes.
    """
    if implementation not in SOFTMAX_IMPLEMENTATIONS:
        raise ValueError(
            f"softmax implementation {implementation!r} has no tables here; valid: {', '.join(SOFTMAX_IMPLEMENTATIONS)}"
        )
    neg = "true" if implementation == "stable" else "false"
    body = (
        "    static cfg::exp_table_t e[cfg::exp_table_size];\n"
        "    static cfg::inv_table_t v[cfg::inv_table_size];\n"
        f"    nnet::init_exp_table<cfg::exp_index_t, cfg>(e, {neg});\n"
        "    nnet::init_invert_table<cfg::inv_inp_t, cfg>(v);\n"
    )
    body += _dump("e", "cfg::exp_table_size") + _dump("v", "cfg::inv_table_size")
    prog = _program(
        body,
        {"exp_table_t": exp_t, "inv_table_t": inv_t, "exp_index_t": exp_index_t, "inv_inp_t": inv_inp_t},
        {"exp_table_size": exp_table_size, "inv_table_size": inv_table_size},
    )
    out = _run_cached(prog, int(exp_table_size) + int(inv_table_size))
    e, v = out[:exp_table_size].copy(), out[exp_table_size:].copy()
    e.flags.writeable = False
    v.flags.writeable = False
    return e, v
