"""Small checked readers shared by the report parsers: text files, numbers, times, parts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .records import ReportError


def read_text(path: Path, what: str) -> str:
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
