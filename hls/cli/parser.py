"""The one ``kappa`` argument parser tree: the top-level parser and one subparser per command
of the table (:mod:`hls.cli.commands`), each filled by its command module."""

from __future__ import annotations

import argparse

from .commands import COMMANDS, load_command
from .exit_status import BAD_INPUT

DESCRIPTION = ("kappa: train in exact fixed point, generate the hls4ml firmware, prove they agree bit for bit, "
               "read the synthesis reports.")
EXAMPLES = """\
examples:
  kappa build                                      # the digits default: train, convert, C-simulate, compare
  kappa build --config affine --output out/affine --force
  kappa build --backend rtl --drop-softmax --output out/digits_rtl   # Verilog: Verilator vs Python, Yosys LUT/FF
  kappa report vivado_projects/digits              # synthesis results as a table
  kappa report tests/fixtures/reports/vitis-hls-2024.1-hls4ml --json
  kappa report prj_a prj_b --plot cmp.png          # side by side, plus a plot
  kappa compare vivado_projects/digits             # exit 1 if not bit-exact (an RTL project: Verilator)
  kappa precision show vivado_projects/digits/precision.yaml
  kappa precision convert precision.yaml precision.json
  kappa firmware-report model.keras --precision types.yaml --data test.npz --plot cost.png
  kappa sweep sweep_digits_bits --output sweeps/digits_bits
  kappa <command> --help                           # the options of one command

exit status: 0 ok, 1 mismatch, 2 bad input (message on stderr as 'error: ...'), 3 internal error,
4 project modified since it was written (kappa compare), 130/143 interrupted (SIGINT/SIGTERM)
"""


class KappaParser(argparse.ArgumentParser):
    """argparse with kappa's one error style: ``error: ...`` on stderr, exit status 2."""

    def error(self, message):
        self.exit(BAD_INPUT, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``kappa`` parser: one subparser per command of :data:`hls.cli.commands.COMMANDS`
    (``args.command`` names it, ``args.debug`` asks for tracebacks, ``args.verbose`` for
    TensorFlow's and hls4ml's own output)."""
    fmt = argparse.RawDescriptionHelpFormatter
    ap = KappaParser(prog="kappa", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=fmt)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=KappaParser, title="commands")
    for name in COMMANDS:
        mod = load_command(name)
        p = sub.add_parser(name, help=mod.SUMMARY, description=getattr(mod, "DESCRIPTION", mod.SUMMARY + "."),
                           epilog=getattr(mod, "EPILOG", None), formatter_class=fmt)
        mod.add_arguments(p)
        p.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="show TensorFlow's and hls4ml's own messages (captured by default)")
    return ap
