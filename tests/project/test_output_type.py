"""The compared output type is the LAST layer's result type, for every final layer kind."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import hls
from kappa.firmware_forward import firmware_plan
from kappa.fixed_point import FixedPointType
from kappa.layers import FirmwareOptions

ACT = "ap_fixed<12,5,AP_RND,AP_SAT>"
P = {"default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
                 "activation": ACT, "scale": "ap_fixed<10,3>"},
     "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
     "last": {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>"}}
LAST = "ap_ufixed<16,0,AP_RND,AP_SAT>"


def _mlp(last):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,), name="model_input")
    h = keras.layers.Dense(4, name="dense0")(inp)
    return keras.Model(inp, last(h))


def _cnn(last):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4, 1), name="model_input")
    h = keras.layers.Conv2D(2, 3, padding="same", name="conv0")(inp)
    return keras.Model(inp, last(h))


# (model, the result type the last layer has under P)
CASES = {
    "dense": (lambda: _mlp(lambda h: keras.layers.Dense(3, name="last")(h)), LAST),
    "relu": (lambda: _mlp(lambda h: keras.layers.ReLU(name="last")(h)), LAST),
    "softmax": (lambda: _mlp(lambda h: keras.layers.Softmax(name="last")(h)), LAST),
    "sigmoid": (lambda: _mlp(lambda h: keras.layers.Activation("sigmoid", name="last")(h)), LAST),
    "tanh": (lambda: _mlp(lambda h: keras.layers.Activation("tanh", name="last")(h)), LAST),
    "batchnorm": (lambda: _mlp(lambda h: keras.layers.BatchNormalization(name="last")(h)), LAST),
    "maxpool": (lambda: _cnn(lambda h: keras.layers.MaxPooling2D(2, name="last")(h)), LAST),
    "global_avgpool": (lambda: _cnn(lambda h: keras.layers.GlobalAveragePooling2D(name="last")(h)), LAST),
    # Flatten has no type of its own: the output is the convolution's result type (its activation)
    "flatten": (lambda: _cnn(lambda h: keras.layers.Flatten(name="last")(h)), ACT),
}


def _precision(kind):
    if kind != "flatten":
        return P
    return {k: v for k, v in P.items() if k != "last"}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_plan_output_type_is_last_result_type(kind):
    make, expected = CASES[kind]
    plan = firmware_plan(make(), _precision(kind), FirmwareOptions())
    assert plan.output_type == FixedPointType.from_string(expected)


def test_softmax_manifest_and_lsb(tmp_path):
    """A softmax's inp_norm/exp/inv types are not the output: the manifest, the comparison
    report and the firmware report name the softmax's result type, and LSBs are its LSBs."""
    model = CASES["softmax"][0]()
    X = np.random.default_rng(0).uniform(-2, 2, (20, 6))
    prj = hls.convert(model, P, tmp_path / "prj", tb_inputs=X)
    man = json.loads((prj / "manifest.json").read_text())
    assert man["output_type"] == LAST
    inp_norm = [e["type"] for e in man["layers"] if e["key"] == "inp_norm"]
    assert inp_norm and inp_norm[0] != LAST  # the type the old manifest reported
    from kappa import firmware_report

    rep = firmware_report(model, P, X, None)
    assert rep.output_type == LAST
    assert FixedPointType.from_string(LAST).lsb == 2.0 ** -16
