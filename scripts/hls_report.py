#!/usr/bin/env python3
"""Show the synthesis results of one or more projects (the same as `kappa report`).

    python scripts/hls_report.py PATH [PATH ...] [--solution S] [--json] [--plot out.png] [--strict]

See `kappa report --help`; the code lives in hls/cli/commands/report.py and hls/vendor/reports/.
"""

import sys

from hls.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main(["report", *sys.argv[1:]]))
    except BrokenPipeError:  # e.g. `... --json | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
