"""Is a finished project still what kappa wrote? The sha256 of every file a comparison relies
on is recorded in ``manifest.json`` when the project is written (:func:`source_hashes`), and
checked before a comparison (:func:`verify_project`): a project whose weights, testbench
data, types or firmware sources changed since is never reported bit-exact.
"""

from __future__ import annotations

import re
from pathlib import Path

from kappa.utils import sha256_file

REQUIRED = ("tb_data/tb_input_features.dat", "tb_data/tb_output_predictions.dat", "precision.yaml",
            "firmware/myproject.cpp", "myproject_test.cpp")
"""Files whose hash a verifiable manifest must record."""
SOURCES = ("myproject_test.cpp", "keras_model.keras", "hls4ml_config.yml")
"""Files beside ``firmware/`` (every file under it is hashed) that a comparison reads."""


class ProjectModifiedError(Exception):
    """A project whose files differ from the sha256 values in its own manifest (or whose
    manifest is inconsistent). ``files`` lists each difference; the ``kappa`` command
    exits with :data:`hls.cli.exit_status.PROJECT_MODIFIED`."""

    def __init__(self, project: Path, files: list[str]):
        self.project, self.files = Path(project), list(files)
        super().__init__(f"project modified since it was written: {', '.join(self.files)} (in {self.project}; "
                         "rebuild it, or pass --trust-modified to compare it anyway)")


def _hashed_files(project_dir: Path) -> list[str]:
    rel = [f for f in SOURCES if (project_dir / f).is_file()]
    fw = project_dir / "firmware"
    rel += sorted(str(p.relative_to(project_dir)) for p in fw.rglob("*") if p.is_file() or p.is_symlink())
    return rel


def source_hashes(project_dir: Path) -> dict:
    """sha256 of every firmware file (``firmware/**``), the testbench, the Keras model and the
    hls4ml config, keyed by path relative to ``project_dir`` (for ``manifest["sha256"]``)."""
    project_dir = Path(project_dir)
    return {f: sha256_file(project_dir / f) for f in _hashed_files(project_dir)}


def _io_type_written(project_dir: Path) -> str | None:
    cfg = project_dir / "hls4ml_config.yml"
    try:
        m = re.search(r"^IOType:\s*(\S+)", cfg.read_text(), re.M)
    except (OSError, UnicodeDecodeError):
        return None
    return m.group(1) if m else None


def verify_project(project_dir: Path, manifest: dict) -> list[str]:
    """Compare the project's files with the sha256 values its manifest records.

    Returns:
        One entry per problem, naming the file: a file whose hash differs, a recorded file
        that is missing, a firmware file the manifest does not list, a required file
        (:data:`REQUIRED`) without a recorded hash, a recorded path leading outside the
        project, or ``io_type`` differing from the written ``hls4ml_config.yml``. Empty when
        the project is as written.
    """
    project_dir = Path(project_dir)
    sums = manifest.get("sha256")
    if not isinstance(sums, dict):
        return ["manifest.json (no sha256 table)"]
    problems = []
    root = project_dir.resolve()
    for rel, digest in sorted(sums.items()):
        p = project_dir / str(rel)
        if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts \
                or not p.resolve().is_relative_to(root):
            problems.append(f"manifest.json (lists {rel!r}, outside the project)")
        elif not p.is_file():
            problems.append(f"{rel} (missing)")
        elif sha256_file(p) != digest:
            problems.append(rel)
    problems += [f"{f} (no sha256 in manifest.json)" for f in REQUIRED if f not in sums]
    problems += [f"{f} (not in manifest.json)" for f in _hashed_files(project_dir)
                 if f.startswith("firmware/") and f not in sums]
    written = _io_type_written(project_dir)
    if "io_type" in manifest and written is not None and written != manifest["io_type"]:
        problems.append(f"manifest.json (io_type {manifest['io_type']}, hls4ml_config.yml says {written})")
    return problems
