"""Where a job reads its config and writes its project.

* Relative paths (``--config``, ``--output``, ``--data``, a sweep's ``base``) are relative to
  the current directory, never to where kappa is installed.
* The shipped job configs (``digits``, ``affine``, ``digits_cnn``, ``sweep_digits_bits``) are
  package data in ``hls/jobs/configs/`` (the checkout's ``configs/`` points there) and are
  found by name: ``--config digits`` works wherever kappa is installed.
* Without ``--output`` a project goes to ``./vivado_projects/<name>`` in the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"
"""The job and sweep configs shipped with kappa (package data)."""
DEFAULT_CONFIG_NAME = "digits"
"""The built-in default job (the digits classifier 64 -> 32 ReLU -> 10)."""
PROJECTS_SUBDIR = "vivado_projects"


def shipped_config_names() -> list[str]:
    """The names of the shipped configs (``--config NAME``), sorted."""
    return sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.yaml"))


def shipped_config(name: str) -> Path | None:
    """The shipped config called ``name`` (``digits`` or ``digits.yaml``), or None."""
    stem = name[:-5] if name.endswith(".yaml") else name
    p = SHIPPED_CONFIGS / f"{stem}.yaml"
    return p if stem in shipped_config_names() else None


def resolve_config(arg: str | os.PathLike | None, what: str = "job config") -> Path:
    """The config file ``arg`` names: an existing file (relative to the current directory),
    else a shipped config by name (a bare name without a directory part); None: the default job.

    Returns:
        An absolute path.

    Raises:
        FileNotFoundError: neither a file nor a shipped name (lists the shipped names and
            says where relative paths are read from).
    """
    if arg is None:
        return shipped_config(DEFAULT_CONFIG_NAME)
    p = Path(arg).expanduser()
    if p.is_file():
        return Path(os.path.abspath(p))
    if p.is_dir():
        raise IsADirectoryError(f"{what} {str(arg)!r} is a directory; give a YAML file or a shipped name")
    found = shipped_config(str(arg)) if len(p.parts) == 1 else None
    if found is not None:
        return found
    hint = ""
    if len(p.parts) > 1 and shipped_config(p.name) is not None:
        hint = f"; the shipped one is found by name: --config {p.stem}"
    raise FileNotFoundError(
        f"{what} {str(arg)!r} does not exist (relative paths are read from {os.getcwd()}){hint}; "
        f"shipped configs by name: {', '.join(shipped_config_names())}"
    )


def default_projects_dir() -> Path:
    """``./vivado_projects`` in the current directory (absolute): where a job without
    ``--output`` writes ``<name>/``."""
    return Path(os.path.abspath(PROJECTS_SUBDIR))
