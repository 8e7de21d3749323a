#!/usr/bin/env python3
"""kappa's main job (the same as `kappa build`): train in fixed point, write the hls4ml
project, C-simulate, compare. See `python scripts/build_hls.py --help`; the options and the
code live in hls/cli/commands/build.py.
"""

import sys

from hls.cli import main as kappa


def main(argv=None) -> int:
    """``kappa build ARGV``: returns the exit status."""
    return kappa(["build", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
