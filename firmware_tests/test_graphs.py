"""The firmware matrix for graph models: a skip connection with Add, a Concatenate of two
branches, a two-input, two-output model running every other merge (Subtract, Multiply,
Average, Maximum, Minimum), and a Deep Sets block (point-wise Dense -> GlobalAveragePooling1D
-> Dense), each converted with hls4ml, C-simulated with g++ and compared with
``kappa.predict_quantized`` bit for bit in io_parallel and io_stream.

The types are drawn at random (seeded) around narrow WRAP merge results and accumulators, and
each case asserts that its narrow types change the outputs against wide ones, so the
comparison is not vacuous.
"""

from __future__ import annotations

import numpy as np
import pytest

from kappa import predict_quantized

from .harness import LayerCase, expand, run_case, widened

pytestmark = pytest.mark.slow

BOTH = ({"io_type": "io_parallel"}, {"io_type": "io_stream"})
WIDE = "ap_fixed<26,12>"


def _random_types(seed: int, merges: list[str]) -> dict:
    """A PrecisionDict with random widths: saturating inputs, weights and results, WRAP
    accumulators, and narrow WRAP result types (4-6 integer bits fewer than needed) in the merges."""
    rng = np.random.default_rng(seed)

    def fx(w, i, mode="AP_RND", ovf="AP_SAT"):
        return f"ap_fixed<{w},{i},{mode},{ovf}>"

    P = {"input": {"value": fx(int(rng.integers(8, 12)), 3)},
         "default": {"weight": fx(int(rng.integers(6, 9)), 2), "bias": fx(int(rng.integers(6, 9)), 2),
                     "accumulator": fx(int(rng.integers(16, 22)), 7, "AP_TRN", "AP_WRAP"),
                     "activation": fx(int(rng.integers(10, 14)), 5)}}
    for m in merges:
        P[m] = {"activation": fx(int(rng.integers(5, 8)), int(rng.integers(1, 3)),
                                 str(rng.choice(["AP_TRN", "AP_RND"])), "AP_WRAP")}
    return P


def _model(build, seed):
    import keras

    keras.utils.set_random_seed(seed)
    m = build(keras)
    rng = np.random.default_rng(seed)
    for layer in m.layers:
        if getattr(layer, "kernel", None) is not None:
            layer.kernel.assign(layer.kernel.numpy() * 2.0)
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape).astype(np.float32))
    return m


def _skip_add(keras):
    x = keras.Input((6,), name="x")
    h = keras.layers.Dense(6, activation="relu", name="d0")(x)
    h = keras.layers.Dense(6, name="d1")(h)
    s = keras.layers.Add(name="add0")([h, x])
    return keras.Model(x, keras.layers.Dense(3, name="out")(s))


def _concat(keras):
    x = keras.Input((5,), name="x")
    a = keras.layers.Dense(4, activation="relu", name="left")(x)
    b = keras.layers.Dense(3, name="right")(x)
    c = keras.layers.Concatenate(name="cat0")([a, b])
    return keras.Model(x, keras.layers.Dense(3, name="out")(c))


def _two_inputs(keras):
    a, b = keras.Input((4,), name="in_a"), keras.Input((4,), name="in_b")
    ha = keras.layers.Dense(4, name="da")(a)
    sub = keras.layers.Subtract(name="sub0")([ha, b])
    mul = keras.layers.Multiply(name="mul0")([sub, b])
    avg = keras.layers.Average(name="avg0")([mul, ha])
    mx = keras.layers.Maximum(name="max0")([avg, sub])
    mn = keras.layers.Minimum(name="min0")([mx, b])
    return keras.Model([a, b], [keras.layers.Dense(2, name="out")(mn), mul])


def _deep_sets(keras):
    x = keras.Input((6, 3), name="particles")
    h = keras.layers.Dense(5, activation="relu", name="phi")(x)
    g = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    return keras.Model(x, keras.layers.Dense(2, name="rho")(g))


def _inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(-4, 4, (24, *s)) for s in shapes]
    return xs if len(xs) > 1 else xs[0]


def _narrow_matters(fields):
    """The case's narrow merge results / accumulators change the outputs against wide ones."""
    def check(model, P, X, options):
        y = predict_quantized(model, P, X, **options)
        for layer, fld in fields:
            w = predict_quantized(model, widened(P, layer, **{fld: WIDE}), X, **options)
            pairs = zip(y, w) if isinstance(y, list) else [(y, w)]
            assert max(np.mean(u != v) for u, v in pairs) > 0.2, (layer, fld)
    return check


P_DS = _random_types(4, [])
P_DS["phi"] = {"accumulator": "ap_fixed<9,3,AP_RND,AP_WRAP>"}
CASES = [
    LayerCase("graph_skip_add", lambda: _model(_skip_add, 1), _random_types(1, ["add0"]),
              lambda: _inputs([(6,)], 1), BOTH, _narrow_matters([("add0", "activation")])),
    LayerCase("graph_concat", lambda: _model(_concat, 2), _random_types(2, ["cat0"]),
              lambda: _inputs([(5,)], 2), BOTH, _narrow_matters([("cat0", "activation")])),
    LayerCase("graph_two_inputs", lambda: _model(_two_inputs, 3),
              _random_types(3, ["sub0", "mul0", "avg0", "max0", "min0"]),
              lambda: _inputs([(4,), (4,)], 3), BOTH,
              _narrow_matters([("sub0", "activation"), ("mul0", "activation"), ("avg0", "activation"),
                               ("max0", "activation"), ("min0", "activation")])),
    LayerCase("graph_deep_sets", lambda: _model(_deep_sets, 4), P_DS, lambda: _inputs([(6, 3)], 4), BOTH,
              _narrow_matters([("phi", "accumulator")])),
]
PAIRS, IDS = expand(CASES)


@pytest.mark.parametrize("case, options", PAIRS, ids=IDS)
def test_graph_firmware(check_bit_exact, case, options):
    run_case(check_bit_exact, case, options)
