"""``kappa`` (and ``python -m hls.cli``): parse the command line with the one parser tree and
run the chosen command through the one exit-status wrapper."""

from __future__ import annotations

import os
import sys

from .commands import load_command
from .exit_status import BAD_INPUT, INTERRUPTED, MISMATCH, SUCCESS, run_command
from .parser import build_parser


def main(argv=None) -> int:
    """Run ``kappa`` with ``argv`` (default ``sys.argv[1:]``); return the exit status
    (argparse's own exits for ``--help`` and usage errors are returned too, not raised)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, already printed)
        return e.code if isinstance(e.code, int) else (SUCCESS if e.code is None else BAD_INPUT)
    if args.command is None:
        ap.print_help()
        return SUCCESS
    from ..quiet import import_tensorflow, quiet_environment, set_verbose

    set_verbose(bool(getattr(args, "verbose", False)))
    quiet_environment()  # before anything imports TensorFlow, here and in the processes it starts
    mod = load_command(args.command)
    if getattr(mod, "USES_TENSORFLOW", False):
        import_tensorflow()  # without its import-time absl/oneDNN/cudart lines
    return run_command(mod.run, args, interrupted_note=getattr(mod, "INTERRUPTED_NOTE", ""))


def entry() -> None:
    """Console-script entry point: ``sys.exit(main())``, quiet on a closed pipe (``| head``)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = MISMATCH
    except KeyboardInterrupt:  # during parsing, before a command's own handling
        print("error: interrupted", file=sys.stderr)
        code = INTERRUPTED
    sys.exit(code)
