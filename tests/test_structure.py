"""The shape of the code base: no import cycles among kappa/hls modules (function-local
imports included), no module over 700 lines, one ArgumentParser tree for the command line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kappa", "hls")
MAX_LINES = 700


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            mods[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return mods


def _nearest(name: str, mods) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> modules it imports (anywhere in the file: top level or inside functions).

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``."""
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, (path, is_pkg) in mods.items():
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [_nearest(a.name, mods) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else _nearest(base, mods)
                           for a in node.names]
            edges[mod].update(t for t in targets if t and t != mod)
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module (the cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_checker_finds_a_planted_cycle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    edges = import_graph()
    assert len(edges) > 40
    cycles = strongly_connected(edges)
    detail = ["; ".join(f"{a} -> {b}" for a in c for b in sorted(edges[a] & set(c))) for c in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(detail)


def test_no_module_over_700_lines():
    long = {str(p.relative_to(ROOT)): n for p, _ in _modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_one_argument_parser_tree():
    """One module of the project makes the command line's parser (an ``ArgumentParser``); every
    command only adds its arguments (or its own actions) to the sub-parser it is given."""
    sources = [p for pkg in (*PACKAGES, "scripts") for p in (ROOT / pkg).rglob("*.py")]
    makers = sorted(str(p.relative_to(ROOT)) for p in sources
                    if "ArgumentParser" in p.read_text())
    assert makers == ["hls/cli/parser.py"], makers


# The layers of hls, bottom up (each package's docstring says what it may import): a module may
# import its own layer and the layers below it, never one above. kappa never imports hls.
HLS_LAYERS = {
    "hls.safety": 0, "hls.quiet": 0,
    "hls.project": 1, "hls.vendor": 1, "hls.reports": 1, "hls.synth": 1,
    "hls.sim": 2, "hls.rtl": 2,
    "hls.jobs": 3,
    "hls.sweep": 4,
    "hls.cli": 5,
    "hls": 6,  # the package's public names re-export the layers below
}


def _layer(module: str) -> int | None:
    if module.startswith("kappa"):
        return -1
    if module == "hls":
        return HLS_LAYERS["hls"]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        if ".".join(parts[:n]) in HLS_LAYERS:
            return HLS_LAYERS[".".join(parts[:n])]
    return None


def test_dependencies_run_one_way():
    """cli -> jobs/sweep -> project/sim/vendor -> safety; kappa below all of hls."""
    upward = [f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
              if _layer(a) is not None and _layer(b) is not None and _layer(b) > _layer(a)]
    unplaced = sorted(m for m in import_graph() if _layer(m) is None)
    assert not unplaced, f"modules outside every layer (add them to HLS_LAYERS): {unplaced}"
    assert not upward, "imports that run upward:\n" + "\n".join(upward)
