"""A kappa project's ``manifest.json``: what :func:`hls.convert` wrote (options, every
firmware type, traced layers, sha256 sums, tool versions), and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

from ..safety import MANIFEST, is_kappa_project


def read_manifest(project_dir: Path) -> dict:
    """The kappa manifest of a project written by ``hls.convert``.

    Raises:
        FileNotFoundError: no such directory, or a directory that is not a kappa project.
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise FileNotFoundError(f"project directory {str(project_dir)!r} does not exist")
    if not is_kappa_project(project_dir):
        raise FileNotFoundError(f"{project_dir} is not a kappa project (no valid kappa {MANIFEST}); "
                                "pass a directory written by hls.convert / scripts/build_hls.py")
    return json.loads((project_dir / MANIFEST).read_text())


def write_manifest(project_dir: Path, manifest: dict) -> Path:
    """Write ``manifest`` as ``<project_dir>/manifest.json`` (indented JSON); returns the path."""
    path = Path(project_dir) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def tool_versions() -> dict:
    """Versions of kappa, hls4ml, TensorFlow, Keras and numpy (recorded in the manifest)."""
    import hls4ml
    import keras
    import numpy as np
    import tensorflow as tf

    import kappa

    return {"kappa": kappa.__version__, "hls4ml": hls4ml.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__}
