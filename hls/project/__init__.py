"""HLS project generation: a Keras model and its firmware plan -> an hls4ml HLS C++ project
with kappa's self-checking testbench, testbench data and manifest.

Owns: :mod:`.convert` (the converter and the type read-back), :mod:`.testbench` (the C++
testbench), :mod:`.manifest` (``manifest.json``: writing and reading it back),
:mod:`.options` (backends, part, clock and their defaults).
May import: ``kappa`` and :mod:`hls.safety`; nothing else of ``hls``.
"""
