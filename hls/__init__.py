"""kappa's firmware side: PrecisionDict -> hls4ml project, C simulation, bit-exact comparison,
synthesis and reports.

Attributes are imported lazily, so ``import hls.reports`` (report reading, no TensorFlow)
stays light while ``hls.convert`` / ``hls.compare`` pull in kappa and TensorFlow on first use.
"""

from importlib import import_module

_EXPORTS = {
    "convert": "convert",
    "run_csim": "csim",
    "CsimError": "csim",
    "compare": "compare",
    "ComparisonReport": "compare",
    "read_report": "reports",
    "run_synthesis": "synth",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'hls' has no attribute {name!r}")
