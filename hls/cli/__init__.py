"""The kappa command: one entry point for what users do with kappa.

    kappa build       the main job: train in fixed point -> hls4ml project -> C simulation -> comparison
    kappa report      synthesis reports (Vivado/Vitis HLS, Vitis Unified, vivado_synth.rpt, co-simulation)
    kappa csim        run the C simulation (g++) of an existing project
    kappa compare     C simulation vs the Python quantized forward path, bit for bit
    kappa precision   show, validate or convert a PrecisionDict (YAML <-> JSON)
    kappa firmware-report  float vs firmware and what each layer's types cost (no HLS project)
    kappa sweep       a precision sweep on Dask: train, convert and C-simulate a grid of configs

One parser tree (:mod:`.parser`), a command table (:mod:`.commands`, one small module per
command) and one wrapper that maps exceptions to exit statuses (:mod:`.exit_status`):
0 ok; 1 mismatch (outputs not bit-exact, a failed sweep point, or with ``report --strict``
report files that disagree); 2 bad input (a missing or malformed file, an unknown option, a
missing tool), with one line ``error: ...`` on stderr; 3 internal error; 130/143 interrupted.

May import every other ``hls`` package; nothing imports it.
"""

from .main import entry, main
from .parser import build_parser

__all__ = ["main", "entry", "build_parser"]
