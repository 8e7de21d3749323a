"""Simulation of a written project: the g++ C simulation (:mod:`.csim`) and its bit-exact
comparison with the Python firmware forward (:mod:`.compare`). An RTL simulation belongs in a
sibling module here (or its own ``hls/rtl/``), at the same level.

May import: ``kappa``, :mod:`hls.project` (the manifest it reads) and :mod:`hls.safety`.
"""
