"""The ``kappa`` command's exit statuses and the one wrapper that maps what a command raises
to them, printing one ``error: ...`` line on stderr.

Every command returns one of the named statuses; the wrapper (:func:`run_command`) turns
exceptions into statuses: bad input 2, internal error 3, a project modified since it was
written 4 (:class:`hls.project.integrity.ProjectModifiedError`), interrupted 130 (SIGINT) / 143
(SIGTERM). A traceback is printed only with ``--debug``.
"""

from __future__ import annotations

import errno
import functools
import signal
import sys
import threading
import traceback

SUCCESS = 0
MISMATCH = 1
"""Outputs not bit-exact, a failed sweep point, or report files that disagree (``--strict``)."""
BAD_INPUT = 2
"""A missing or malformed file, a bad option or value, a missing tool, failed training."""
INTERNAL_ERROR = 3
"""A bug in kappa (an exception no input explains)."""
PROJECT_MODIFIED = 4
"""``kappa compare``: the project's files differ from the sha256 values in its manifest
(``project modified since it was written: FILE``); nothing was compared."""
INTERRUPTED = 130
"""SIGINT (Ctrl-C)."""
TERMINATED = 143
"""SIGTERM."""


class UsageError(Exception):
    """Bad input found by a command: printed as ``error: ...``, exit status 2."""


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (its lines joined by ``; ``), or its type's name.

    A ``shutil.Error`` (a list of ``(source, destination, reason)``) gives its first reason
    and the number of files; a full disk (``ENOSPC``) gives one short line naming the path."""
    if isinstance(exc, OSError):
        errs = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], list) else None
        if errs and all(isinstance(e, tuple) and len(e) == 3 for e in errs):
            _, dst, why = errs[0]
            return f"{why} (writing {dst}; {len(errs)} file(s) failed)"
        if exc.errno == errno.ENOSPC:
            where = exc.filename or "a file"
            return f"no space left on the device writing {where}: free some space or choose another output folder"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) or type(exc).__name__


def bad_input_types() -> tuple:
    """Exception types a user can cause: bad files, options and values, missing tools,
    a C simulation that cannot run, failed synthesis, an RTL tool missing or failing, training that
    diverged or stalled.
    (Imported when needed: only on the error path.)"""
    from hls.jobs.job import TrainingFailedError
    from hls.rtl.verilator import RtlToolError
    from hls.sim.csim import CsimError
    from hls.vendor.synth import SynthesisError, VendorToolNotFoundError

    return (UsageError, ValueError, OSError, CsimError, VendorToolNotFoundError, SynthesisError, TrainingFailedError,
            RtlToolError)


#: How often an interrupt that has not reached :func:`run_command` yet is delivered again (s).
REDELIVER_SECONDS = 0.2

_pending: dict = {"signum": None}


def _redeliver(signum: int) -> None:
    """Send ``signum`` to this process again until :func:`run_command` has seen the interrupt.

    Python runs a signal handler in the main thread at the next bytecode, which may be
    inside a ctypes callback (numba's compiler notifying its object cache, for one); an
    exception raised there is printed as "Exception ignored" and lost, and the job would run
    on to the end. Delivered again, the handler raises where the exception propagates."""
    import os
    import time

    while _pending["signum"] == signum:
        time.sleep(REDELIVER_SECONDS)
        if _pending["signum"] == signum:
            os.kill(os.getpid(), signum)


def _quiet_lost_interrupt(previous, unraisable) -> None:
    """``sys.unraisablehook`` while :func:`run_command` runs (with ``previous`` bound): an
    interrupt of ours raised where Python cannot propagate it (a ``__del__``, a ctypes
    callback) is not printed, since it is delivered again (:func:`_redeliver`); everything
    else goes to ``previous``, the hook that was installed."""
    if _pending["signum"] is not None and isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    previous(unraisable)


def _interrupt(signum, frame):
    """SIGINT/SIGTERM handler: ``KeyboardInterrupt`` (naming SIGTERM), delivered again if lost.
    A delivery while that interrupt is being handled (cleanup in ``except``/``finally`` blocks)
    does nothing, so cleanup is never cut short."""
    if _pending["signum"] is not None and isinstance(sys.exc_info()[1], KeyboardInterrupt):
        return
    if _pending["signum"] is None:
        _pending["signum"] = signum
        threading.Thread(target=_redeliver, args=(signum,), daemon=True, name="kappa-interrupt").start()
    raise KeyboardInterrupt("SIGTERM" if signum == signal.SIGTERM else "")


def run_command(run, args, *, interrupted_note: str = "") -> int:
    """Run ``run(args)`` (a command's ``run``) and return its exit status.

    SIGTERM is turned into ``KeyboardInterrupt`` while it runs (in the main thread), so
    cleanup code runs on both signals; an interrupt that an extension swallowed (raised inside
    a ctypes callback) is delivered again every :data:`REDELIVER_SECONDS` until it arrives
    here, and is not printed where it was lost (:func:`_quiet_lost_interrupt`). Exceptions
    become one ``error:`` line on stderr:
    :func:`bad_input_types` -> :data:`BAD_INPUT`; ``ProjectModifiedError`` -> :data:`PROJECT_MODIFIED`;
    ``KeyboardInterrupt`` -> :data:`INTERRUPTED`
    or :data:`TERMINATED` (with ``interrupted_note`` after the signal name); anything else
    -> :data:`INTERNAL_ERROR`. ``args.debug`` (when the command has it) prints the traceback.
    """
    debug = getattr(args, "debug", False)
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        _pending["signum"] = None
        old_term = signal.signal(signal.SIGTERM, _interrupt)
        old_int = signal.signal(signal.SIGINT, _interrupt) if signal.getsignal(signal.SIGINT) is \
            signal.default_int_handler else None
        old_hook = sys.unraisablehook
        sys.unraisablehook = functools.partial(_quiet_lost_interrupt, old_hook)
    try:
        return run(args)
    except KeyboardInterrupt as exc:
        _pending["signum"] = None  # arrived: no more deliveries
        if debug:
            traceback.print_exc()
        sig = "SIGTERM" if "SIGTERM" in str(exc) else "SIGINT"
        print(f"error: interrupted ({sig}){'; ' + interrupted_note if interrupted_note else ''}", file=sys.stderr)
        return TERMINATED if sig == "SIGTERM" else INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every error ends as one line and a status
        if debug:
            traceback.print_exc()
        from hls.project.integrity import ProjectModifiedError

        if isinstance(exc, ProjectModifiedError):
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return PROJECT_MODIFIED
        if isinstance(exc, bad_input_types()):
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return BAD_INPUT
        print(f"error: internal error {type(exc).__name__}: {one_line(exc)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return INTERNAL_ERROR
    finally:
        if main_thread:
            _pending["signum"] = None
            signal.signal(signal.SIGTERM, old_term)
            sys.unraisablehook = old_hook
            if old_int is not None:
                signal.signal(signal.SIGINT, old_int)
