"""How a project's C simulation is split into translation units for g++.

Small projects compile as one unit (the firmware and the testbench read once, see
``csim.UNITY_SOURCE``). A project whose io_parallel convolutions use hls4ml's generated
im2col code (``firmware/nnet_utils/nnet_code_gen.h``: one ``fill_buffer_<n>`` class per
convolution, a straight-line function of one ``buffer[i][j] = ...`` assignment per element
of every receptive field, e.g. 128,000 for a Conv1D of 32 channels, width 100 and kernel
40) spends nearly all of its compile in those functions: hls4ml's ``KERAS_conv1d`` example
model took 8.3 minutes and 4.9 GB at ``-O1`` in one unit, 3.3 GB at ``-O0`` (measured with
``-ftime-report``: template instantiation 30 %, code generation 55 % of the memory, all of
it in the three ``fill_buffer`` functions). For such projects:

* every convolution that uses a generated ``fill_buffer`` is explicitly instantiated in a
  unit of its own (``template void nnet::conv_1d_cl<...>(...)``) and declared
  ``extern template`` in the main unit, so each ``fill_buffer`` is instantiated once, in
  one process, and the processes' peaks do not add up;
* the generated header is compiled at ``-Og`` inside those units (``#pragma GCC
  optimize`` around its ``#include``; the headers it includes first keep the project's
  level): copying a receptive field costs microseconds per sample at any level, while
  optimising a 128,000-statement function at ``-O1`` costs minutes and gigabytes. The
  multiplications keep the project's level;
* those units run with a tighter garbage collector in the compiler
  (:data:`LAYER_UNIT_FLAGS`).

Measured on ``KERAS_conv1d``'s second convolution (32 channels, kernel 40, width 100; one
g++ 12 process, peak resident memory): ``-O1`` 162 s, 3.6 GiB; ``-O0`` 18 s, 2.24 GiB;
``-Og`` 23 s, 2.02 GiB; ``-Og`` with :data:`LAYER_UNIT_FLAGS` 25 s, 1.83 GiB. Parsing and
instantiating the unit (``-fsyntax-only``) takes 0.68 GiB; the rest is code generation of
the one straight-line function (gimplification, RTL expansion, register allocation). None of
these flags changes what the code computes: they choose how hard g++ optimises a data copy
and how often it frees its own memory.

The units include the project's own headers, unmodified and in their own order, so the
binary computes what the one-unit build computes (the bit-exact comparisons check it);
only where g++ instantiates templates and how hard it optimises a data copy change. The
duplicate definitions the units share (``config<n>::pixels``, the weight arrays, which
C simulation loads at run time) are merged by the linker (``--allow-multiple-definition``:
identical definitions from the same headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CODE_GEN = "nnet_utils/nnet_code_gen.h"
_CONV_CALL = re.compile(r"^\s*nnet::(conv_[12]d_cl)<\s*([\w:]+)\s*,\s*([\w:]+)\s*,\s*(\w+)\s*>\s*\(", re.M)
_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
_NAME = re.compile(r"^[A-Za-z_]\w*(::[A-Za-z_]\w*)*$")
LINK_FLAGS = ["-Wl,--allow-multiple-definition"]
#: Extra flags of the units holding a generated ``fill_buffer``: collect the compiler's
#: garbage when its heap has grown 20 % (default: 100 % on machines with >= 1 GiB) and from
#: 64 MiB on (GCC's ``ggc-min-expand`` / ``ggc-min-heapsize`` parameters); about 10 % more
#: compile time for about 10 % less peak memory on those units.
LAYER_UNIT_FLAGS = ("--param", "ggc-min-expand=20", "--param", "ggc-min-heapsize=65536")


@dataclass(frozen=True)
class Unit:
    """One translation unit: its source text (compiled from the project directory) and
    whether it is the main unit (the firmware's top function and the testbench), and the
    compiler flags it adds to the project's command."""

    name: str
    source: str
    main: bool
    flags: tuple[str, ...] = ()


def _generated_fill_buffers(project_dir: Path) -> set[str]:
    """Config struct names whose ``fill_buffer`` is a class of the generated header."""
    params = (project_dir / "firmware" / "parameters.h").read_text(errors="replace")
    out, current = set(), None
    for line in params.splitlines():
        m = re.match(r"\s*struct\s+(\w+)\s*:", line)
        if m:
            current = m.group(1)
        elif current and re.search(r"using\s+fill_buffer\s*=\s*nnet::fill_buffer_\d+\s*<", line):
            out.add(current)
    return out


def plan_units(project_dir: Path, unity_source: str) -> list[Unit]:
    """The translation units of ``project_dir``'s C simulation.

    Returns:
        ``[Unit(main)]`` holding ``unity_source`` when no convolution uses generated
        im2col code (or the project is not in the expected hls4ml layout); otherwise the
        main unit (``unity_source`` after ``extern template`` declarations of those
        convolutions) followed by one unit per convolution.
    """
    fw = project_dir / "firmware"
    code_gen = fw / CODE_GEN
    top = fw / "myproject.cpp"
    if not code_gen.is_file() or not top.is_file():
        return [Unit("main", unity_source, True)]
    generated = _generated_fill_buffers(project_dir)
    calls = []
    for func, data_t, res_t, cfg in _CONV_CALL.findall(top.read_text(errors="replace")):
        if cfg in generated and all(_NAME.match(n) for n in (data_t, res_t, cfg)):
            calls.append((func, data_t, res_t, cfg))
    if not calls:
        return [Unit("main", unity_source, True)]
    headers = "#include <iostream>\n#include \"myproject.h\"\n"
    decls = [f"template void nnet::{f}<{d}, {r}, {c}>({d}*, {r}*, {c}::weight_t*, {c}::bias_t*);"
             for f, d, r, c in calls]
    main = headers + '#include "parameters.h"\n' + "".join(f"extern {d}\n" for d in decls) + unity_source
    # the generated header's own includes first (at the project's level), then its body at -Og
    deps = "".join(f'#include "nnet_utils/{h}"\n' if (fw / "nnet_utils" / h).is_file() else f"#include <{h}>\n"
                   for h in _INCLUDE.findall(code_gen.read_text(errors="replace")))
    layer_head = (headers + deps + "#pragma GCC push_options\n#pragma GCC optimize(\"Og\")\n"
                  f'#include "{CODE_GEN}"\n#pragma GCC pop_options\n#include "parameters.h"\n')
    units = [Unit("main", main, True)]
    units += [Unit(f"layer_{c}", layer_head + d + "\n", False, LAYER_UNIT_FLAGS) for (_, _, _, c), d in zip(calls, decls)]
    return units


@dataclass
class UnitsResult:
    """Outcome of :func:`compile_units`: 0 or the first failing compiler's exit code, and
    its standard error."""

    returncode: int
    stderr: str


def compile_units(cmd: list[str], units: list[Unit], project_dir: Path, build_dir: Path, out: Path, *,
                  jobs: int = 1) -> UnitsResult:
    """Compile ``units`` to objects under ``build_dir/units`` and link them into ``out``.

    Args:
        cmd: the one-unit compile command, ending in ``-x c++ -`` (source on standard
            input, run in ``project_dir``); every unit is compiled with it plus ``-c``.
        units: from :func:`plan_units` (the main unit is linked first).
        jobs: compilers run at once (the largest units start first).

    Returns:
        :class:`UnitsResult`; the objects are removed whatever the outcome.
    """
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    obj_dir = build_dir / "units"
    obj_dir.mkdir(parents=True, exist_ok=True)
    objs = {u.name: obj_dir / f"{u.name}.o" for u in units}
    procs: list = []

    def one(u: Unit):
        p = subprocess.Popen(cmd + [*u.flags, "-c", "-o", str(objs[u.name])], cwd=project_dir, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        _, err = p.communicate(u.source)
        return p.returncode, err

    order = [u for u in units if not u.main] + [u for u in units if u.main]
    try:
        if jobs <= 1:
            results = [one(u) for u in order]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(one, order))
        for rc, err in results:
            if rc != 0:
                return UnitsResult(rc, err)
        main = [objs[u.name] for u in units if u.main] + [objs[u.name] for u in units if not u.main]
        link = subprocess.run([cmd[0], *(str(o) for o in main), "-o", str(out), *LINK_FLAGS], cwd=project_dir,
                              capture_output=True, text=True)
        return UnitsResult(link.returncode, link.stderr)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for o in objs.values():
            o.unlink(missing_ok=True)
