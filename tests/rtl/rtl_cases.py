"""The small networks and types the RTL tests drive through the three paths (emulation,
hls4ml's distributed_arithmetic C simulation, Verilator), and inputs past both rails."""

from __future__ import annotations

import keras
import numpy as np

P_MLP = {
    "input": {"value": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "d0": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<12,5,AP_RND,AP_WRAP>",
           "activation": "ap_ufixed<7,3,AP_RND,AP_SAT>"},
    "d1": {"weight": "ap_fixed<5,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<16,6>",
           "activation": "ap_fixed<9,3,AP_TRN,AP_WRAP>"},
    "r1": {"activation": "ap_ufixed<6,2,AP_TRN,AP_SAT>"},
    "d2": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<16,6>",
           "activation": "ap_fixed<10,4,AP_RND,AP_SAT_SYM>"},
}
"""Dense (fused ReLU, none), ReLU layer; every rounding and overflow mode da4ml has (the
accumulator types act under Latency only)."""

P_CNN = {
    "input": {"value": "ap_fixed<6,2,AP_RND,AP_SAT>"},
    "c0": {"weight": "ap_fixed<5,1>", "bias": "ap_fixed<5,1>", "accumulator": "ap_fixed<10,4,AP_RND,AP_SAT>",
           "activation": "ap_ufixed<6,2,AP_RND,AP_SAT>"},
    "bn": {"scale": "ap_fixed<6,2>", "bias": "ap_fixed<6,2>", "activation": "ap_fixed<7,3,AP_TRN,AP_WRAP>"},
    "p0": {"accumulator": "ap_fixed<7,3>", "activation": "ap_fixed<6,2,AP_RND,AP_SAT>"},
    "d0": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<14,5>",
           "activation": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "s0": {"table": "ap_ufixed<8,0,AP_RND,AP_SAT>", "activation": "ap_ufixed<8,0,AP_RND,AP_SAT>"},
}
"""Conv2D + fused ReLU, BatchNormalization, MaxPooling2D, Flatten, Dense, sigmoid table."""

P_1D = {
    "input": {"value": "ap_fixed<7,3,AP_RND,AP_SAT>"},
    "c0": {"weight": "ap_fixed<5,1>", "bias": "ap_fixed<5,1>", "accumulator": "ap_fixed<9,4,AP_RND,AP_SAT>",
           "activation": "ap_ufixed<6,2,AP_RND,AP_SAT>"},
    "p0": {"accumulator": "ap_ufixed<6,2>", "activation": "ap_ufixed<6,2>"},
    "c1": {"weight": "ap_fixed<5,1>", "accumulator": "ap_fixed<14,5>", "activation": "ap_fixed<8,3,AP_TRN,AP_SAT>"},
    "lr": {"param": "ap_fixed<8,1>", "activation": "ap_fixed<8,3,AP_RND,AP_SAT>"},
    "d0": {"weight": "ap_fixed<6,1>", "bias": "ap_fixed<6,2>", "accumulator": "ap_fixed<16,6>",
           "activation": "ap_fixed<8,3,AP_RND,AP_WRAP>"},
    "t0": {"table": "ap_fixed<8,1,AP_RND,AP_SAT>", "activation": "ap_fixed<8,1,AP_RND,AP_SAT>"},
}
"""Conv1D (fused ReLU: the product cast to the accumulator type, then the ReLU; no bias), MaxPooling1D, LeakyReLU, Reshape,
Dense, tanh table."""


def mlp():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="d0"),
                             keras.layers.Dense(5, name="d1"), keras.layers.ReLU(name="r1"),
                             keras.layers.Dense(3, name="d2")])


def cnn2d():
    keras.utils.set_random_seed(2)
    m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="c0"),
                          keras.layers.BatchNormalization(name="bn"), keras.layers.MaxPooling2D(2, name="p0"),
                          keras.layers.Flatten(name="f"), keras.layers.Dense(3, name="d0"),
                          keras.layers.Activation("sigmoid", name="s0")])
    bn = m.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.gamma.assign(rng.uniform(-2, 2, 2).astype(np.float32))
    bn.beta.assign(rng.uniform(-1, 1, 2).astype(np.float32))
    bn.moving_mean.assign(rng.uniform(-1, 1, 2).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.2, 3, 2).astype(np.float32))
    return m


def cnn1d():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((8, 2)), keras.layers.Conv1D(3, 3, activation="relu", name="c0"),
                             keras.layers.MaxPooling1D(2, name="p0"),
                             keras.layers.Conv1D(2, 2, use_bias=False, name="c1"),
                             keras.layers.LeakyReLU(negative_slope=0.25, name="lr"),
                             keras.layers.Reshape((4,), name="rs"), keras.layers.Dense(3, name="d0"),
                             keras.layers.Activation("tanh", name="t0")])


CASES = {"mlp": (mlp, P_MLP, (6,), 6.0), "cnn2d": (cnn2d, P_CNN, (6, 6, 1), 3.0), "cnn1d": (cnn1d, P_1D, (8, 2), 5.0)}
"""name -> (model factory, PrecisionDict spec, input shape, input amplitude past the rails)."""


def past_rails(shape, n, amplitude, seed):
    """Inputs spread over ``[-amplitude, amplitude]`` (beyond both rails of the input types
    above), with the two rails themselves in the first two samples."""
    X = np.random.default_rng(seed).uniform(-amplitude, amplitude, (n, *shape))
    X.reshape(n, -1)[0, :] = -amplitude
    X.reshape(n, -1)[1, :] = amplitude
    return X
