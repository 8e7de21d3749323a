"""One harness for the firmware layer matrix, in the manner of HGQ2's ``tests/base.py``
``LayerTestBase``: a case is a small model, its PrecisionDict, its inputs, the firmware
options to build it with, and a check that it exercises what it claims. Every (case,
options) pair is converted with hls4ml, C-simulated with g++ and must reproduce
``kappa.predict_quantized`` with 0 mismatching bits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Options = dict[str, Any]


@dataclass(frozen=True)
class LayerCase:
    """A firmware case.

    name: the project name stem; model: builds the Keras model; precision: the PrecisionDict
    (as a plain dict); inputs: (N, *input_shape) array, built on demand; options: the
    ``hls.convert`` keyword sets to build it with (io_type, strategy, reuse_factor);
    exercises: ``exercises(model, precision, X, options)`` asserts that the case really reaches
    what it is about (saturation, wrap-around, rounding, padding, ...), so a passing
    comparison is not a vacuous one."""

    name: str
    model: Callable[[], Any]
    precision: dict
    inputs: Callable[[], np.ndarray]
    options: tuple[Options, ...] = ({"io_type": "io_parallel"},)
    exercises: Callable[[Any, dict, np.ndarray, Options], None] | None = field(default=None, compare=False)

    def ids(self) -> list[str]:
        return [self.project_name(o) for o in self.options]

    def project_name(self, options: Options) -> str:
        parts = [self.name, options.get("io_type", "io_parallel")]
        if options.get("strategy", "Latency") != "Latency":
            parts.append(options["strategy"])
        return "_".join(parts)


def expand(cases: list[LayerCase]) -> tuple[list[tuple[LayerCase, Options]], list[str]]:
    """(case, options) pairs and their ids, for ``pytest.mark.parametrize``."""
    pairs = [(c, o) for c in cases for o in c.options]
    return pairs, [c.project_name(o) for c, o in pairs]


def run_case(check_bit_exact, case: LayerCase, options: Options) -> None:
    """Build, C-simulate and compare one case under ``options`` (0 mismatches), then run its
    ``exercises`` check on the same model, types and inputs."""
    model = case.model()
    X = case.inputs()
    check_bit_exact(case.project_name(options), model, case.precision, X, **options)
    if case.exercises is not None:
        case.exercises(model, case.precision, X, options)


def widened(P: dict, layer: str, **fields) -> dict:
    """A copy of P with ``fields`` of ``layer`` replaced (typically by wide, non-overflowing types)."""
    out = {k: dict(v) for k, v in P.items()}
    out.setdefault(layer, {}).update(fields)
    return out
