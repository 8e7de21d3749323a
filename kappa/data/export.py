"""Text exports of a dataset and their manifest: writing (``to_txt``/``to_dat``) and checking.

* :func:`write_export` — write ``X``/``Y`` with ``np.savetxt`` and a JSON manifest that
  records each file's shape, dtype, size and SHA-256.
* :func:`verify_manifest` — check exported files against their manifest.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..utils import sha256_file

__all__ = ["TEXT_FLOAT_FORMAT", "MANIFEST_NAME", "MANIFEST_FORMAT", "text_view", "resolve_manifest",
           "verify_manifest", "write_export"]

#: ``np.savetxt`` format for exports: 17 significant digits round-trip any
#: float64 exactly through ``np.loadtxt``.
TEXT_FLOAT_FORMAT = "%.17g"
#: File name of the manifest of a ``to_dat`` directory (``<prefix>_manifest.json`` for ``to_txt``).
MANIFEST_NAME = "manifest.json"
#: The ``format`` field of every kappa dataset manifest.
MANIFEST_FORMAT = "kappa-dataset-manifest"


def text_view(a: np.ndarray) -> np.ndarray:
    """View an array as ≤ 2-D for ``np.savetxt``: (N,) stays, (N, ...) -> (N, -1)."""
    a = np.asarray(a)
    if a.ndim <= 2:
        return a
    return a.reshape(a.shape[0], -1)


def resolve_manifest(directory_or_prefix: str) -> str:
    """Manifest path for a ``to_dat`` directory, a ``to_txt`` prefix or a .json path."""
    p = os.fspath(directory_or_prefix)
    in_dir = os.path.join(p, MANIFEST_NAME)
    beside_prefix = f"{p}_{MANIFEST_NAME}"
    if os.path.isdir(p) and os.path.isfile(in_dir):
        return in_dir
    if os.path.isfile(beside_prefix):
        return beside_prefix
    if p.endswith(".json") and os.path.isfile(p):
        return p
    expected = in_dir if os.path.isdir(p) else beside_prefix
    raise FileNotFoundError(f"no manifest found for {p!r} (looked for {expected})")


def verify_manifest(directory_or_prefix: str) -> None:
    """Check that files exported by ``to_dat`` / ``to_txt`` still match their manifest.

    Args:
        directory_or_prefix: the directory given to :meth:`BaseDataset.to_dat`
            (manifest ``<dir>/manifest.json``), the prefix given to
            :meth:`BaseDataset.to_txt` (manifest ``<prefix>_manifest.json``), or
            the path of a manifest ``.json`` file.

    Returns:
        None when every listed file exists and its SHA-256 matches.

    Raises:
        FileNotFoundError: no manifest at the resolved location.
        ValueError: the manifest is not a kappa manifest, or one or more listed
            files are missing or stale/corrupted; the message names every such
            file with the expected and actual SHA-256.
    """
    manifest_path = resolve_manifest(directory_or_prefix)
    try:
        with open(manifest_path, "r", encoding="utf-8") as f:
            manifest = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{manifest_path} is not valid JSON: {e}") from e
    if manifest.get("format") != MANIFEST_FORMAT or "files" not in manifest:
        raise ValueError(f"{manifest_path} is not a {MANIFEST_FORMAT} file")
    base = os.path.dirname(os.path.abspath(manifest_path))
    problems = []
    for entry in manifest["files"]:
        path = os.path.join(base, entry["name"])
        if not os.path.isfile(path):
            problems.append(f"{path} is missing")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(
                f"{path} is stale or corrupted (sha256 {actual} != manifest {entry['sha256']})"
            )
    if problems:
        raise ValueError(f"manifest check failed for {manifest_path}: " + "; ".join(problems))


def write_export(dataset, targets, manifest_path: str, overwrite: bool, kind: str) -> str:
    """Write ``dataset``'s arrays as text and a manifest beside them.

    Args:
        dataset: a :class:`kappa.data.base.BaseDataset` (its ``X``, ``Y``, tags and seed).
        targets: ``[(path, "X" | "Y"), ...]``, the files to write.
        manifest_path: where the manifest goes (file paths in it are relative to its directory).
        overwrite: replace existing files; otherwise refuse before writing anything.
        kind: ``"txt"`` or ``"dat"``, recorded in the manifest.

    Returns:
        The manifest's path.

    Raises:
        FileExistsError: a target exists and ``overwrite`` is False (names the file).
    """
    for path in [p for p, _ in targets] + [manifest_path]:
        if not overwrite and os.path.exists(path):
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it"
            )
    base = os.path.dirname(os.path.abspath(manifest_path))
    os.makedirs(base, exist_ok=True)
    entries = []
    for path, which in targets:
        arr = np.asarray(getattr(dataset, which))
        text = text_view(arr)
        np.savetxt(path, text, fmt=TEXT_FLOAT_FORMAT)
        entries.append(
            {
                "name": os.path.relpath(os.path.abspath(path), base),
                "array": which,
                "shape": list(arr.shape),
                "text_shape": list(text.shape),
                "dtype": str(arr.dtype),
                "bytes": os.path.getsize(path),
                "sha256": sha256_file(path),
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "kind": kind,
        "dataset": type(dataset).__name__,
        "num_samples": int(len(dataset.X)),
        "input_type": dataset.input_type.value,
        "output_type": dataset.output_type.value,
        "seed": dataset.seed,
        "text_format": TEXT_FLOAT_FORMAT,
        "delimiter": " ",
        "files": entries,
    }
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest_path
