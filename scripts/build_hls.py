#!/usr/bin/env python3
"""kappa's main job (the same as `kappa build`): train in fixed point, write the hls4ml
project, C-simulate, compare. See `python scripts/build_hls.py --help`; the options and the
code live in hls/cli_build.py.
"""

import sys

from hls.cli_build import main

if __name__ == "__main__":
    sys.exit(main())
