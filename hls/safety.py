"""What may reach Tcl, C++ and the file system, and what kappa may delete.

* Names (job/project names, Keras layer names) become directory names, C++ identifiers
  and Tcl strings: they must match a strict pattern (:func:`check_name`,
  :func:`check_layer_name`). The FPGA part, clock period and every enumerated option are
  validated before anything is written (:func:`check_hls_options`), because hls4ml
  pastes them into ``project.tcl`` unquoted or in double quotes.
* Ownership: kappa only deletes or replaces a directory it can prove it wrote, i.e. one
  holding kappa's ``manifest.json`` (:func:`check_replaceable`); anything else is
  refused even with ``force``, naming what is there.
* Paths derived from config values are confined to their base folder (:func:`confined`).
* Clearing: every folder kappa empties or deletes goes through :func:`clear_dir` /
  :func:`remove_dir`, which first check (:func:`check_owned_dir`) that it is a real directory
  inside the output kappa owns, reached through no symbolic link.
* Publishing: a project is built in a hidden sibling directory and moved into place
  with SIGINT/SIGTERM blocked (:func:`publish`); :func:`interruptible` turns SIGTERM into
  ``KeyboardInterrupt`` so that cleanup code runs, leaving the previous state or nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from pathlib import Path

SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
"""Job/project names: letters, digits, ``_`` and ``-`` (1 to 100 characters)."""
CPP_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
"""Layer names: they become C++ identifiers and file names in the hls4ml project."""
PART_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""FPGA part numbers, e.g. ``xcu250-figd2104-2L-e`` (pasted into ``project.tcl``)."""
MANIFEST = "manifest.json"


def check_name(name, what: str = "name") -> str:
    """Return ``name`` if it matches :data:`SAFE_NAME`.

    Raises:
        ValueError: any other value (names it and the allowed characters).
    """
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{what} {name!r} is not allowed: use 1-100 letters, digits, '_' or '-' "
                         "(it becomes a directory name and part of generated code)")
    return name


def check_layer_name(name, what: str = "layer name") -> str:
    """Return ``name`` if it is a C++ identifier (:data:`CPP_IDENTIFIER`).

    Raises:
        ValueError: names with spaces, quotes, ``-`` etc. (hls4ml makes C++ identifiers
            and file names of them).
    """
    if not isinstance(name, str) or not CPP_IDENTIFIER.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not allowed: hls4ml turns layer names into C++ identifiers and "
                         "file names, so use a letter or '_' followed by letters, digits or '_' (at most 100); "
                         "rename the layer (keras.layers.Dense(..., name='dense0'))")
    return name


def check_choice(value, options, what: str, *, ignore_case: bool = False):
    """Return ``value`` if it is one of ``options`` (with ``ignore_case``: the option's own
    spelling of a value that matches one in any case, e.g. ``latency`` -> ``Latency``).

    Raises:
        ValueError: naming the value and the valid options.
    """
    if ignore_case and isinstance(value, str):
        value = next((o for o in options if o.lower() == value.lower()), value)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(options)}")
    return value


def check_part(part) -> str:
    """Return ``part`` if it matches :data:`PART_PATTERN`.

    Raises:
        ValueError: e.g. a part holding quotes, spaces, ``;``, ``$`` or brackets, which would
            be interpreted by Tcl in ``project.tcl``.
    """
    if not isinstance(part, str) or not PART_PATTERN.fullmatch(part):
        raise ValueError(f"part {part!r} is not a valid FPGA part number: use letters, digits, '_', '.', '-' "
                         "(at most 64 characters, e.g. 'xcu250-figd2104-2L-e')")
    return part


def check_clock_period(value) -> float:
    """Clock period in ns as a finite float > 0 (strings such as ``"5"`` or ``"1e1"`` accepted).

    Raises:
        ValueError: anything else (bools, NaN, inf, <= 0, non-numeric strings).
    """
    v = as_number(value, "clock_period")
    if not (math.isfinite(v) and 0 < v <= 1e6):
        raise ValueError(f"clock_period must be a number of ns in (0, 1e6], got {value!r}")
    return float(v)


def check_reuse_factor(value) -> int:
    """Reuse factor as an int >= 1 (integral floats/strings such as ``4.0``/``"4"`` accepted).

    Raises:
        ValueError: anything else.
    """
    v = as_number(value, "reuse_factor")
    if not (math.isfinite(v) and v == int(v) and 1 <= v <= 1_000_000):
        raise ValueError(f"reuse_factor must be an integer >= 1, got {value!r}")
    return int(v)


def as_number(value, what: str) -> float:
    """A real number from a number or a numeric string (YAML reads ``1e-3`` as a string).

    Raises:
        ValueError: bools, None, non-numeric strings, other types.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{what} must be a number, got {value!r}")


def check_hls_options(*, backends, io_types, strategies, backend, part, clock_period, io_type, strategy,
                      reuse_factor) -> dict:
    """Validate every HLS option at once.

    Returns:
        The normalised options (clock period float, reuse factor int).

    Raises:
        ValueError: one error listing every bad option.
    """
    out, problems = {}, []
    checks = {
        "backend": lambda: check_choice(backend, backends, "backend", ignore_case=True),
        "part": lambda: check_part(part),
        "clock_period": lambda: check_clock_period(clock_period),
        "io_type": lambda: check_choice(io_type, io_types, "io_type"),
        "strategy": lambda: check_choice(strategy, strategies, "strategy", ignore_case=True),
        "reuse_factor": lambda: check_reuse_factor(reuse_factor),
    }
    for key, check in checks.items():
        try:
            out[key] = check()
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return out


# --------------------------------------------------------------------- ownership
def is_kappa_project(path) -> bool:
    """True if ``path`` is a real directory holding a manifest kappa wrote."""
    p = Path(path)
    if p.is_symlink() or not p.is_dir():
        return False
    try:
        m = json.loads((p / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(m, dict) and isinstance(m.get("versions"), dict) and "kappa" in m["versions"]
            and isinstance(m.get("sha256"), dict) and "project_name" in m)


def _describe(p: Path) -> str:
    try:
        names = sorted(os.listdir(p))
    except OSError as exc:
        return f"(unreadable: {exc.strerror})"
    shown = ", ".join(names[:8]) + (f", ... ({len(names)} entries)" if len(names) > 8 else "")
    return f"it holds {shown}" if names else "it is empty"


def check_replaceable(path, force: bool) -> Path:
    """May kappa write a new project at ``path``?

    Returns:
        The absolute path (not resolved through a final symlink).

    Raises:
        FileExistsError: ``path`` exists and ``force`` is False; or it exists and is not
            a kappa project (no kappa ``manifest.json``), a file or a symlink, which kappa
            never deletes, even with ``force`` (the message names what is there).
    """
    p = Path(os.path.abspath(path))
    if not (p.exists() or p.is_symlink()):
        return p
    if p.is_symlink() or not p.is_dir():
        kind = "a symbolic link" if p.is_symlink() else "a file"
        raise FileExistsError(f"{p} is {kind}, not a kappa project; kappa never replaces it, even with --force: "
                              "choose another output directory")
    empty = not any(p.iterdir())
    if not force:
        raise FileExistsError(f"{p} already exists; pass force=True (--force) to replace it")
    if not empty and not is_kappa_project(p):
        raise FileExistsError(
            f"{p} is not a kappa project (no kappa {MANIFEST}; {_describe(p)}); kappa only replaces directories "
            "it wrote, even with --force: choose another output directory or remove it yourself"
        )
    return p


def confined(base, name: str, what: str = "name") -> Path:
    """``base / name`` after checking ``name`` (:func:`check_name`) and that the result lies
    directly inside ``base``.

    Raises:
        ValueError: an unsafe name or a path that leaves ``base``.
    """
    check_name(name, what)
    base = Path(os.path.abspath(base))
    out = base / name
    if os.path.realpath(out.parent) != os.path.realpath(base):
        raise ValueError(f"{what} {name!r} leads outside {base}")
    return out


# -------------------------------------------------------------- staging and publishing
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_CREATED_PARENTS: dict = {}


def staging_dir(final: Path) -> Path:
    """A new hidden sibling ``.<name>.tmp-XXXX`` of ``final`` with the mode a plain
    ``mkdir`` would give (0777 minus the umask; ``tempfile.mkdtemp`` makes it 0700).
    Missing parent folders are created (and removed again by :func:`remove_staging`)."""
    missing, p = [], final.parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    _CREATED_PARENTS[tmp] = missing
    return tmp


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_blocked():
    """Defer SIGINT/SIGTERM (delivered when the block ends) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


@contextlib.contextmanager
def interruptible():
    """While active (main thread only), SIGTERM raises ``KeyboardInterrupt`` like SIGINT, so
    ``finally``/``except`` cleanup runs instead of the process dying mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGTERM)
    if old not in (signal.SIG_DFL, None):  # someone (e.g. the main job) already handles it
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def remove_staging(tmp: Path) -> None:
    """Delete a staging directory and the parent folders :func:`staging_dir` created
    (signals deferred so that everything is removed)."""
    with signals_blocked():
        with contextlib.suppress(OSError):
            remove_dir(tmp, tmp.parent, ignore_errors=True)
        for parent in _CREATED_PARENTS.pop(tmp, []):  # deepest first
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if still empty


def publish(tmp: Path, final: Path) -> None:
    """Move the finished ``tmp`` to ``final``, replacing a previous kappa project there.

    The previous project is first renamed aside, then ``tmp`` renamed into place, then the
    old one deleted, all with SIGINT/SIGTERM deferred: an interruption leaves either the
    previous project or the new one.

    Raises:
        FileExistsError: ``final`` appeared meanwhile and is not a kappa project.
    """
    with signals_blocked():
        old = None
        if final.exists() or final.is_symlink():
            check_replaceable(final, force=True)
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            old.rmdir()
            final.rename(old)
        _CREATED_PARENTS.pop(tmp, None)
        try:
            tmp.rename(final)
        except BaseException:
            if old is not None:
                old.rename(final)
            raise
        if old is not None:
            with contextlib.suppress(OSError):
                remove_dir(old, final.parent, ignore_errors=True)


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and a rename, so ``path`` is
    either absent (or its previous content) or complete; returns ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ clearing owned folders
def check_owned_dir(path, owner) -> Path:
    """Check that ``path`` may be emptied or deleted by kappa: a real directory inside the
    folder ``owner`` (which kappa owns, e.g. a sweep's output), reached from ``owner`` through
    no symbolic link (every component checked with ``lstat``), and resolving inside the
    resolved ``owner`` (``owner`` itself may be reached through a link the user made).

    Returns:
        The absolute path (``os.path.abspath``; not resolved).

    Raises:
        FileExistsError: ``path`` is outside ``owner``, or it or a folder between ``owner``
            and it is a symbolic link or not a directory (the message names it); a missing
            ``path`` is refused too (there is nothing to clear).
    """
    root, p = Path(os.path.abspath(owner)), Path(os.path.abspath(path))
    if p == root or not p.is_relative_to(root):
        raise FileExistsError(f"{p} is not inside {root}, the folder kappa owns; kappa never clears it")
    cur = root
    for part in p.relative_to(root).parts:
        cur = cur / part
        try:
            mode = os.lstat(cur).st_mode
        except FileNotFoundError:
            raise FileExistsError(f"{cur} does not exist; nothing to clear") from None
        if stat.S_ISLNK(mode):
            raise FileExistsError(f"{cur} is a symbolic link (to {os.path.realpath(cur)}); kappa never clears or "
                                  f"replaces a folder through a link: remove the link")
        if not stat.S_ISDIR(mode):
            raise FileExistsError(f"{cur} is not a directory; kappa never clears it")
    if not Path(os.path.realpath(p)).is_relative_to(os.path.realpath(root)):
        raise FileExistsError(f"{p} resolves to {os.path.realpath(p)}, outside {root}; kappa never clears it")
    return p


def clear_dir(path, owner, keep: tuple = ()) -> Path:
    """Remove everything in ``path`` except the names in ``keep`` (kept only when they
    are not symbolic links), after :func:`check_owned_dir`. Links inside it are removed as links (never followed);
    subfolders are removed with ``shutil.rmtree`` (which does not follow links either).

    Raises:
        FileExistsError: as :func:`check_owned_dir`. OSError: a file cannot be removed.
    """
    p = check_owned_dir(path, owner)
    for child in p.iterdir():
        if child.name in keep and not child.is_symlink():
            continue
        if stat.S_ISDIR(os.lstat(child).st_mode):
            shutil.rmtree(child)
        else:
            child.unlink()
    return p


def remove_dir(path, owner, ignore_errors: bool = False) -> None:
    """Delete the folder ``path`` and everything in it, after :func:`check_owned_dir`.

    Raises:
        FileExistsError: as :func:`check_owned_dir` (also with ``ignore_errors``, which
            only skips files that cannot be removed). OSError: it cannot be removed.
    """
    shutil.rmtree(check_owned_dir(path, owner), ignore_errors=ignore_errors)


# ------------------------------------------------------------------ strict JSON
def finite(obj):
    """``obj`` with every NaN/inf float (in nested dicts, lists, tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def strict_json(obj, *, default=None, **kwargs) -> str:
    """``json.dumps`` that always gives strict JSON: values are first converted with
    ``default`` (e.g. numpy scalars), then every NaN/inf becomes ``null``, then dumped
    with ``allow_nan=False``; ``kwargs`` go to the final ``json.dumps`` (``indent`` ...)."""
    plain = json.loads(json.dumps(obj, default=default)) if default is not None else obj
    return json.dumps(finite(plain), allow_nan=False, **kwargs)
