"""Small checked readers shared by the report parsers: text files, JSON, numbers, times, parts.

Every file is read through :func:`read_text`, which (inside :func:`report_tree`) refuses a
file resolving outside the report tree being read (a symbolic link out, a path from a
config file) and a file over the size cap (:data:`DEFAULT_MAX_FILE_BYTES`, or
``$KAPPA_REPORT_MAX_BYTES``, or ``max_file_bytes=``), before reading it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .records import ReportError

DEFAULT_MAX_FILE_BYTES = 64 * 2**20
"""Largest report file read (64 MiB; real csynth reports are kilobytes to a few MiB)."""
ENV_MAX_FILE_BYTES = "KAPPA_REPORT_MAX_BYTES"
MAX_JSON_DEPTH = 64
"""Deepest nesting accepted in a report's JSON file (``vitis-comp.json`` nests about 4 levels)."""
INT64_MAX = 2**63 - 1

_TREE: contextvars.ContextVar = contextvars.ContextVar("report_tree", default=None)


def max_file_bytes(limit=None) -> int:
    """The per-file size cap: ``limit``, else ``$KAPPA_REPORT_MAX_BYTES``, else 64 MiB.

    Raises:
        ReportError: not a positive integer.
    """
    src = "max_file_bytes"
    if limit is None:
        env = os.environ.get(ENV_MAX_FILE_BYTES)
        if env is None:
            return DEFAULT_MAX_FILE_BYTES
        limit, src = env, ENV_MAX_FILE_BYTES
        with contextlib.suppress(ValueError):
            limit = int(env)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ReportError(f"{src}={limit!r} is not a positive number of bytes")
    return limit


@contextlib.contextmanager
def report_tree(root: Path, limit: int | None = None):
    """While active, :func:`read_text` reads only files resolving inside ``root`` (the tree
    the user named) and at most ``limit`` bytes each."""
    token = _TREE.set((Path(root).resolve(), max_file_bytes(limit)))
    try:
        yield
    finally:
        _TREE.reset(token)


def inside_tree(path: Path) -> bool:
    """True when ``path`` resolves inside the active report tree (or no tree is active)."""
    tree = _TREE.get()
    return tree is None or Path(os.path.realpath(path)).is_relative_to(tree[0])


def check_file(path: Path, what: str) -> None:
    """Refuse a file outside the active report tree or over the size cap (before reading).

    Raises:
        ReportError: naming the file, where it leads, or its size and the cap.
    """
    tree = _TREE.get()
    cap = tree[1] if tree else max_file_bytes()
    if not inside_tree(path):
        raise ReportError(f"{path}: resolves to {os.path.realpath(path)}, outside the report tree {tree[0]} "
                          f"(a symbolic link?); kappa report reads only files inside the folder given: pass that "
                          "folder itself to read it")
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise ReportError(f"{path}: cannot read {what}: {e.strerror}") from e
    if size > cap:
        raise ReportError(f"{path}: {size:,} bytes, more than the {cap:,} a report file may have ({what}); raise the "
                          f"cap with ${ENV_MAX_FILE_BYTES} if the file is genuine")


def load_json(path: Path, what: str):
    """A report tree's JSON file, nesting at most :data:`MAX_JSON_DEPTH` levels.

    Raises:
        ReportError: unreadable, malformed or too deeply nested (names the file).
    """
    text = read_text(path, what)
    depth = deepest = 0
    in_str = esc = False
    for ch in text:  # a bracket count outside strings: no recursion
        if in_str:
            esc, in_str = (False, in_str) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise ReportError(f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep; expected {what}")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except ValueError as e:
        raise ReportError(f"{path}: malformed JSON ({e}); expected {what}") from e


def read_text(path: Path, what: str) -> str:
    check_file(path, what)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReportError(f"{path}: cannot read {what}: {e.strerror}") from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportError(
            f"{path}: corrupted: invalid UTF-8 byte at offset {e.start}; expected {what} (plain text)"
        ) from e


def read_number(value, path: Path, key: str, kind=int, allow_undef=False):
    if allow_undef and str(value).strip() in ("undef", "?", "NA", "-"):
        return None
    if kind is int and isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)  # exactly, however large (checked against 64 bits by the caller)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ReportError(f"{path}: {key} is {value!r}, expected a number") from None
    if kind is int:
        if not x.is_integer():
            raise ReportError(f"{path}: {key} is {value!r}, expected a whole number")
        return int(x)
    return x


_TIME_UNITS = {"ps": Decimal("0.001"), "ns": Decimal(1), "us": Decimal(1000), "ms": Decimal(10**6), "s": Decimal(10**9)}


def time_ns(text: str | None, path: Path, key: str) -> float | None:
    """'61.615 us' -> 61615.0 (ns), exactly as written (decimal scaling, no binary rounding)."""
    if text is None:
        return None
    text = text.strip()
    if text in ("undef", "?", "NA", "-", ""):
        return None
    m = re.fullmatch(r"([0-9.]+)\s*(ps|ns|us|ms|s)", text)
    if not m:
        raise ReportError(f"{path}: {key} is {text!r}, expected a time such as '50.000 ns' or '1.975 us'")
    try:
        return float(Decimal(m.group(1)) * _TIME_UNITS[m.group(2)])
    except InvalidOperation:
        raise ReportError(f"{path}: {key} is {text!r}, expected a time") from None


def percent(used: int, available: int | None) -> float | None:
    return round(100.0 * used / available, 2) if available else None


def _norm_part(part: str) -> str:
    """Part names as the tools spell them differently: 'xc7z020clg400-1' (project.tcl),
    'xc7z020-clg400-1' (csynth XML), '7z020clg400-1' (vivado_synth.rpt, 7-series)."""
    p = part.lower().replace("-", "")
    return p[2:] if re.match(r"x[a-z]", p) else p


def same_part(a: str, b: str) -> bool:
    a, b = _norm_part(a), _norm_part(b)
    return a.startswith(b) or b.startswith(a)  # the report drops the temperature grade ('-e')
