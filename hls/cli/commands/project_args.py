"""What ``kappa csim`` and ``kappa compare`` share: the project argument and its check."""

from __future__ import annotations

import json
from pathlib import Path

from ..exit_status import UsageError

EPILOG_TEMPLATE = ("example:\n  kappa {name} vivado_projects/digits\n\n"
                   "exit status: 0 all outputs match; 1 some differ; 2 not a project, no compiler, or a compile error")


def add_project_arguments(p) -> None:
    """``PROJECT``, ``--json`` and ``--quiet``."""
    p.add_argument("project", metavar="PROJECT", help="project directory (with manifest.json and tb_data/)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no compile/run progress")


def project_dir(path: str) -> Path:
    """``path`` resolved, if it is a project ``kappa build`` wrote.

    Raises:
        UsageError: no such directory, or no ``manifest.json`` in it.
    """
    p = Path(path).resolve()
    if not p.is_dir():
        raise UsageError(f"{p}: no such project directory")
    if not (p / "manifest.json").is_file():
        raise UsageError(f"{p}: not a kappa project (no manifest.json); write one with `kappa build`")
    return p


def is_rtl_project(prj: Path) -> bool:
    """True for a project the RTL backend wrote (``manifest.json`` with ``kind: rtl``)."""
    try:
        m = json.loads((Path(prj) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("kind") == "rtl"
