"""The vendor flows: running Vitis/Vivado HLS and Vivado synthesis on a project
(:mod:`.synth`) and reading the reports they write, in every layout users have them
(:mod:`.reports`).

May import: :mod:`hls.safety` and hls4ml (its report parser); never ``kappa``'s training side,
:mod:`hls.jobs`, :mod:`hls.sweep` or :mod:`hls.cli`.
"""
