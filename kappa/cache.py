"""Private, verified on-disk caches (compiled C simulations, activation tables, test oracles).

kappa runs programs it finds in its caches, so a cache must be private to the user and every
entry checked before use:

* :func:`private_dir` -- the cache folder: ``$<ENV_VAR>`` when set, else
  ``$XDG_CACHE_HOME/kappa/<name>`` or ``~/.cache/kappa/<name>`` (never a shared ``/tmp``
  path). It is created with mode 0700; an existing one must be owned by the user and not
  group- or world-writable, else :class:`CacheError` names it and the variable to set.
* :func:`store` puts a finished file in place with its sha256 in a sidecar ``<entry>.sha256``
  (written first, both by atomic renames); :func:`verified` re-hashes an entry before use and,
  on a difference or a missing sidecar, warns ("cache entry ... was modified; rebuilding"),
  removes it and returns False, so the caller rebuilds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import warnings
from pathlib import Path

SIDECAR = ".sha256"


class CacheError(PermissionError):
    """A cache folder kappa must not use (another user's, or writable by others); the
    message names the folder and the environment variable that chooses another."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_root() -> Path:
    """``$XDG_CACHE_HOME/kappa`` or ``~/.cache/kappa``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "kappa"


def private_dir(name: str, env_var: str, *, env_is_root: bool = False) -> Path:
    """The cache folder ``name``: ``$env_var`` if set (``$env_var/name`` when ``env_is_root``),
    else ``default_root() / name``; created with mode 0700 if missing and checked for
    ownership and permissions.

    Raises:
        CacheError: the folder (after resolving links) is not a directory, is owned by
            another user, or is writable by group or others (e.g. ``/tmp`` itself).
    """
    env = os.environ.get(env_var)
    d = (Path(env) / name if env_is_root else Path(env)) if env else default_root() / name
    if not d.exists():
        d.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)
    how = f"set {env_var} to a folder of your own with mode 0700"
    try:
        st = os.stat(d)
    except OSError as exc:
        raise CacheError(f"cache folder {d} cannot be used ({exc.strerror}); {how}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"cache folder {d} is not a directory; {how}")
    if st.st_uid != os.geteuid():
        raise CacheError(f"cache folder {d} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}); kappa runs "
                         f"programs from its cache and never uses another user's: {how}")
    if st.st_mode & 0o022:
        raise CacheError(f"cache folder {d} is writable by others (mode {stat.S_IMODE(st.st_mode):o}); kappa runs "
                         f"programs from its cache: chmod 700 {d}, or {how}")
    return d


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def store(tmp: Path, path: Path) -> Path:
    """Move the finished file ``tmp`` (same folder as ``path``) to ``path`` with its sha256
    in ``<path>.sha256``; returns ``path``."""
    digest = sha256_of(tmp)
    side = _sidecar(path)
    side_tmp = side.with_name(f"{side.name}.{os.getpid()}.tmp")
    side_tmp.write_text(digest + "\n")
    os.replace(side_tmp, side)
    os.replace(tmp, path)
    return path


def recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded for the entry ``path`` (None if there is no readable sidecar)."""
    try:
        text = _sidecar(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def verified(path: Path) -> bool:
    """True when the entry ``path`` is a regular file whose sha256 equals its sidecar's.

    A missing entry returns False silently; an entry that is not a regular file, has no
    valid sidecar or a different hash is removed (with its sidecar) after a warning
    ``cache entry PATH was modified; rebuilding``, and False is returned.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    want = recorded_sha256(path)
    if stat.S_ISREG(st.st_mode) and want is not None and sha256_of(path) == want:
        return True
    why = "has no checksum" if want is None else "was modified"
    warnings.warn(f"cache entry {path} {why}; rebuilding", stacklevel=2)
    for p in (path, _sidecar(path)):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            p.unlink()
    return False
