"""The command table: ``kappa <name>`` -> the module that implements it.

Each command module defines ``SUMMARY`` (one line for ``kappa --help``), ``add_arguments(parser)``
and ``run(args) -> int`` (an exit status of :mod:`hls.cli.exit_status`), and may define
``DESCRIPTION``, ``EPILOG`` and ``INTERRUPTED_NOTE``. A command module imports nothing heavy at
module level (TensorFlow, hls4ml, matplotlib load inside ``run``), so building the parser stays
fast; modules are imported by :func:`load_command` when the parser is built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS = {
    "build": "hls.cli.commands.build",
    "report": "hls.cli.commands.report",
    "csim": "hls.cli.commands.csim",
    "compare": "hls.cli.commands.compare",
    "precision": "hls.cli.commands.precision",
    "firmware-report": "hls.cli.commands.firmware_report",
    "sweep": "hls.cli.commands.sweep",
}
"""Command name -> module, in the order ``kappa --help`` lists them."""


def load_command(name: str) -> ModuleType:
    """The module of command ``name``.

    Raises:
        KeyError: an unknown command (names the valid ones).
    """
    if name not in COMMANDS:
        raise KeyError(f"unknown command {name!r}; valid: {', '.join(COMMANDS)}")
    return importlib.import_module(COMMANDS[name])
