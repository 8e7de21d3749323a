"""Quiet by default: TensorFlow's import-time C++ log lines and hls4ml's prints are captured at
their source, and shown with ``kappa ... -v`` (``set_verbose(True)``).

TensorFlow 2.21 writes absl/oneDNN/cudart lines (``WARNING: All log messages before
absl::InitializeLog() ...``, ``I0000 ... cudart_stub.cc ... Could not find cuda drivers``) to
file descriptor 2 while ``import tensorflow`` runs, before ``TF_CPP_MIN_LOG_LEVEL`` can act:
:func:`import_tensorflow` redirects that descriptor around the import and re-emits what it
caught only if the import fails (or when verbose). hls4ml 1.3.0 ``print``s during conversion
("da4ml not installed ...", "Keras v2 handler used for layer ..."): :func:`captured_output`
collects those and logs them at DEBUG on the ``kappa.hls4ml`` logger.

Shared helper: imports nothing from ``hls``; the command layer, the jobs and the sweep workers use it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile

VERBOSE_ENV = "KAPPA_VERBOSE"
"""Set to ``1`` by ``-v``; inherited by sweep workers started from the command."""
LOG = logging.getLogger("kappa.hls4ml")


def verbose() -> bool:
    """Whether third-party chatter is shown (``KAPPA_VERBOSE=1``)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def set_verbose(on: bool) -> None:
    """Show (True) or capture (False) third-party chatter, here and in processes started later."""
    os.environ[VERBOSE_ENV] = "1" if on else "0"
    if on:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        LOG.setLevel(logging.DEBUG)


def quiet_environment() -> None:
    """Environment for a quiet TensorFlow, set before it is imported (existing values win):
    ``TF_CPP_MIN_LOG_LEVEL=3`` (unless verbose) and ``CUDA_VISIBLE_DEVICES=""`` (kappa's networks
    train on the CPU; without it TensorFlow logs a failed ``cuInit`` on machines without a GPU
    driver)."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@contextlib.contextmanager
def _fd2_captured():
    """Redirect file descriptor 2 (C/C++ stderr) to a temporary file; yields a function that
    returns what was written."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lambda: (tmp.seek(0), tmp.read().decode(errors="replace"))[1]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """``import tensorflow`` without its import-time C++ log lines (see the module docstring).

    Returns:
        The ``tensorflow`` module.

    Raises:
        ImportError: as the import; what TensorFlow wrote to stderr is re-emitted first.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_environment()
    if verbose():
        import tensorflow as tf

        return tf
    text, error = "", None
    with _fd2_captured() as caught:
        try:
            import tensorflow as tf
        except BaseException as exc:  # re-raised below, after stderr is back
            error = exc
        text = caught()
    if error is not None:
        sys.stderr.write(text)
        raise error
    return tf


@contextlib.contextmanager
def captured_output(what: str = "hls4ml"):
    """Collect Python-level stdout/stderr (``print``s) of a third-party call and log them at
    DEBUG on ``kappa.<what>`` (shown with ``-v``); verbose: pass them through."""
    if verbose():
        yield
        return
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield
    logger = logging.getLogger(f"kappa.{what}")
    for line in buf.getvalue().splitlines():
        if line.strip():
            logger.debug(line)
