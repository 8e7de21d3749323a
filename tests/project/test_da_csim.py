"""hls4ml's own ``distributed_arithmetic`` project (C simulation, g++) against kappa's
emulation of the strategy, on the inputs the RTL test drives through Verilator.

Needs da4ml (``da4ml>=0.5.2,<0.6``), which hls4ml's DA pass imports.
"""

from __future__ import annotations

import kappa
from hls.sim.compare import compare
from hls.project.convert import convert
from test_rtl import P_MLP, _mlp, _past_rails


def test_hls4ml_distributed_arithmetic_csim_equals_emulation(tmp_path):
    spec = {k: dict(v) for k, v in P_MLP.items()}
    spec["d1"]["accumulator"] = spec["d2"]["accumulator"] = "ap_fixed<16,6>"  # required by hls.convert, unused by DA
    X = _past_rails((6,), 1000, -6.0, 6.0, 0)
    d = convert(_mlp(), kappa.PrecisionDict(spec), tmp_path / "da", tb_inputs=X, strategy="distributed_arithmetic")
    assert (d / "firmware" / "myproject.cpp").read_text().count("dense_da_") == 3  # hls4ml's DA kernels, one per Dense
    r = compare(d)
    assert (r.outputs, r.mismatches) == (3000, 0)
