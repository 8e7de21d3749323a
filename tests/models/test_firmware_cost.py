"""firmware_report: a hand-checked case (every number below worked out on paper), then plumbing."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _identity_model():
    import keras

    inp = keras.Input((2,), name="x")
    out = keras.layers.Dense(2, name="d")(inp)
    model = keras.Model(inp, out)
    model.get_layer("d").kernel.assign(np.eye(2, dtype=np.float32))
    model.get_layer("d").bias.assign(np.array([0.0, 0.3], np.float32))
    return model


# out = (x0, x1 + 0.3). input ap_fixed<6,3,TRN,SAT>: LSB 0.125, range [-4, 3.875].
# bias ap_fixed<3,1,TRN,SAT>: LSB 0.25, so 0.3 -> 0.25. Argmax ties go to output 0.
P = {"input": {"value": "ap_fixed<6,3,AP_TRN,AP_SAT>"},
     "d": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<3,1,AP_TRN,AP_SAT>", "accumulator": "ap_fixed<16,6>",
           "activation": "ap_fixed<16,6>"}}
X = np.array(
    [
        [1.0, 0.75],  # float (1, 1.05)->1; input only ok; d only (1, 1.0) tie->0 wrong; all wrong
        [0.5, 0.3],  # float (.5, .6)->1; input only x1->.25: (.5,.55) ok; d only (.5,.55) ok; all (.5,.5)->0 wrong
        [
            5.0,
            4.0,
        ],  # float (5, 4.3)->0; input only saturates (3.875, 4.175)->1 wrong; d only ok; all (3.875,4.125) wrong
        [2.0, -1.0],  # right everywhere
        [0.3, 0.05],
    ]
)  # float (.3,.35)->1; input only (.25,.3) ok; d only (.3,.3)->0 wrong; all (.25,.25)->0 wrong
Y = np.array([1, 1, 0, 0, 1])


def test_hand_checked_attribution():
    from kappa.firmware_cost import firmware_report

    r = firmware_report(_identity_model(), P, X, Y)
    assert (r.task, r.metric, r.samples) == ("classification", "accuracy", 5)
    assert r.float_metric == 1.0
    assert r.firmware_metric == pytest.approx(1 / 5)
    assert r.flip_rate == pytest.approx(4 / 5)
    costs = {c.layer: (c.only, c.all_but) for c in r.layers}
    assert costs == {
        "input": (pytest.approx(4 / 5), pytest.approx(3 / 5)),
        "d": (pytest.approx(3 / 5), pytest.approx(4 / 5)),
    }
    points = {p.layer: p.out_of_range for p in r.points}
    assert points["input"] == pytest.approx(2 / 10)  # 5.0 and 4.0 lie above 3.875
    assert points["d"] == 0.0
    # largest |firmware - float| per output, in LSBs of ap_fixed<16,6> (2**-10):
    # output 0: sample 3, 5.0 - 3.875 = 1.125 -> 1152; output 1: sample 3, 4.3 - 4.125 = 0.175 -> 179.2
    np.testing.assert_allclose(r.lsb_diff, [1152.0, 179.2], atol=1e-3)
    md = r.to_markdown()
    assert "| input | 0.8000 | 0.6000 |" in md and "| d | 0.6000 | 0.8000 |" in md


def test_regression_and_plot(tmp_path):
    from kappa.firmware_cost import firmware_report

    r = firmware_report(_identity_model(), P, X, task="regression")
    assert r.metric == "mse" and r.float_metric == 0.0
    # firmware - float: (0, -.05), (0, -.1), (-1.125, -.175), (0, -.05), (-.05, -.1)
    expected = np.mean(np.array([0, 0.05, 0, 0.1, 1.125, 0.175, 0, 0.05, 0.05, 0.1]) ** 2)
    assert r.firmware_metric == pytest.approx(expected, rel=1e-6)
    png = r.plot(tmp_path / "cost.png")
    assert png.stat().st_size > 1000
    with pytest.raises(ValueError, match="y has 2 samples"):
        firmware_report(_identity_model(), P, X, Y[:2])
