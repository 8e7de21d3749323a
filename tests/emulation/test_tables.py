"""Table activations, softmax and BatchNormalization without C simulation: the tables
hls4ml's C++ fills (against the float functions), hls4ml's index arithmetic on chosen
values, the refusals, the PrecisionDict fields, and classifier training (cross-entropy,
validation accuracy per epoch, BatchNorm moving statistics) ending bit-exact with the
firmware forward. The C-simulation proofs are in ``firmware_tests/emulation/test_tables.py``."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kappa import datasets, predict_quantized  # noqa: E402
from kappa.fixed_point import FixedPointType  # noqa: E402
from kappa.history import FitHistory  # noqa: E402
from kappa.layers import fields_by_layer  # noqa: E402
from kappa.layers.activations import table_index  # noqa: E402
from kappa.layers.softmax import default_inp_norm, top_bits, tree_sum  # noqa: E402
from kappa.layers.tables import activation_table, softmax_tables  # noqa: E402
from kappa.nn import LinearBlockModel  # noqa: E402
from kappa.training_forward import predict_tf  # noqa: E402

T18 = FixedPointType.from_string("ap_fixed<18,8>")


def test_sigmoid_and_tanh_tables_are_the_float_functions_cast_to_the_table_type():
    n = 1024
    sig = activation_table("sigmoid", n, T18)
    x = 16.0 * (np.arange(n) - n / 2) / n
    # ap_fixed<18,8> truncates (TRN): each entry is at most one LSB (2**-10) below the function
    err = 1 / (1 + np.exp(-x)) - sig
    assert np.all(err >= -1e-7) and np.all(err < 2**-10 + 1e-7) and np.any(err > 2**-11)
    th = activation_table("tanh", 256, FixedPointType.from_string("ap_fixed<10,2,AP_RND,AP_SAT>"))
    xt = 8.0 * (np.arange(256) - 128) / 256
    assert np.max(np.abs(np.tanh(xt) - th)) <= 2**-8 + 1e-7  # RND: half an LSB (2**-7 / 2)
    assert th[0] == -1.0 and th[-1] == 1.0  # tanh(+-4) rounds to the rails


def test_index_truncates_toward_zero_and_clips():
    t = FixedPointType.from_string("ap_fixed<12,5>")
    x = np.array([-1 / 128, 1 / 128, -3 / 128, -20.0, 15.9921875, 7.9921875, -8.0])
    # sigmoid, N = 1024: trunc(x * 64) + 512; -3/128*64 = -1.5 -> -1 (not floor's -2)
    assert list(table_index(x, t, "sigmoid", 1024)) == [512, 512, 511, 0, 1023, 1023, 0]
    # tanh, N = 100 (not a power of two): trunc(x * 100 / 8) + 4 * 100 / 8 (= 50)
    assert list(table_index(np.array([0.5, -0.5, 3.96875]), t, "tanh", 100)) == [56, 44, 99]


def test_softmax_tables_index_and_adder_tree():
    norm = default_inp_norm(FixedPointType.from_string("ap_fixed<10,4>"))
    assert str(norm) == "ap_ufixed<9,3>"
    r18 = FixedPointType.from_string("ap_fixed<18,8,AP_RND,AP_SAT>")
    e, v = softmax_tables("stable", 512, 1024, r18, r18, norm, r18)
    # entry i: exp(-value whose top 9 bits are i) = exp(-i/64); the inverse table: 1/x of
    # the ap_fixed<18,8> value whose top 10 bits are i (i * 2**-2; negative from i = 512)
    assert e[0] == 1.0 and abs(e[64] - np.exp(-1.0)) < 2**-10
    assert v[4] == 1.0 and v[8] == 0.5 and v[1023] == -4.0
    assert list(top_bits(np.array([0.0, 1.0, 7.984375]), norm, 512)) == [0, 64, 511]
    acc = FixedPointType.from_string("ap_fixed<6,3,AP_TRN,AP_SAT>")  # max 3.875
    cols = [np.array([2.0]), np.array([2.0]), np.array([-2.0])]
    # reduce over 3: (x0 + x1) saturates to 3.875, then + x2 -> 1.875 (a flat sum would give 2)
    assert tree_sum(cols, acc)[0] == 1.875


def test_softmax_and_table_options_and_refusals():
    m = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3, activation="softmax", name="d")])
    P = {
        "input": {"value": "ap_fixed<10,4>"},
        "default": {
            "weight": "ap_fixed<8,2>",
            "bias": "ap_fixed<8,2>",
            "accumulator": "ap_fixed<16,6>",
            "activation": "ap_fixed<16,6>",
        },
    }
    X = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"\['d'\]\['table_size'\] = 1000: .*power of two"):
        predict_quantized(m, P, X, layer_options={"d": {"table_size": 1000}})
    with pytest.raises(ValueError, match=r"'legacy'; valid: stable, latency, argmax"):
        predict_quantized(m, P, X, layer_options={"d": {"implementation": "legacy"}})
    with pytest.raises(ValueError, match=r"inv_inp type ap_fixed<8,4> has fewer than log2\(table_size\) = 10 bits"):
        predict_quantized(m, {**P, "d": {"inv_inp": "ap_fixed<8,4>"}}, X)
    with pytest.raises(ValueError, match=r"a dense layer takes the options table_size, implementation"):
        predict_quantized(m, P, X, layer_options={"d": {"reuse": 2}})
    assert {"exp_table", "inv_table", "inv_inp", "inp_norm", "weight"} <= set(fields_by_layer(m)["d"])
    with pytest.raises(ValueError, match=r"d.table: layer 'd' has no field 'table'"):
        predict_quantized(m, {**P, "d": {"table": "ap_fixed<8,2>"}}, X)
    sig = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Activation("sigmoid", name="s")])
    assert fields_by_layer(sig)["s"] == ("activation", "table")
    y512 = predict_quantized(
        sig, {"input": {"value": "ap_fixed<12,5>"}}, np.full((1, 4), 0.3), layer_options={"s": {"table_size": 64}}
    )
    assert np.all(
        y512
        == activation_table("sigmoid", 64, T18)[
            table_index(np.array([0.296875]), FixedPointType.from_string("ap_fixed<12,5>"), "sigmoid", 64)
        ]
    )


@pytest.fixture(scope="module")
def digits():
    ds = datasets.create("digits", seed=0, one_hot=True)
    X_tr, Y_tr, X_te, Y_te = ds.split(val_fraction=0.25, seed=0)
    return ds, X_tr[:600], Y_tr[:600]


P_CLS = {
    "input": {"value": "ap_ufixed<8,1,AP_RND,AP_SAT>"},
    "default": {
        "weight": "ap_fixed<12,3,AP_RND_CONV,AP_SAT>",
        "bias": "ap_fixed<12,3,AP_RND_CONV,AP_SAT>",
        "accumulator": "ap_fixed<20,8>",
        "activation": "ap_fixed<14,6,AP_RND,AP_SAT>",
    },
    "batchnorm0": {"scale": "ap_fixed<12,4,AP_RND,AP_SAT>", "bias": "ap_fixed<12,4,AP_RND,AP_SAT>"},
    "output_activation": {"activation": "ap_ufixed<16,0,AP_RND,AP_SAT>", "exp_table": "ap_fixed<16,6,AP_RND,AP_SAT>"},
}


def test_classifier_with_batchnorm_and_softmax_trains_with_cross_entropy(digits, tmp_path):
    ds, X, Y = digits
    m = LinearBlockModel(
        dataset=ds, num_hidden=[16], activation="relu", use_batchnorm=True, output_activation="softmax", seed=0
    )
    m.model.get_layer("batchnorm0").momentum = 0.9  # moving statistics settle within the short run
    mean0 = m.model.get_layer("batchnorm0").moving_mean.numpy().copy()
    opts = {"output_activation": {"table_size": 512}}
    h = m.train_instrumented(
        X,
        Y,
        epochs=8,
        batch_size=32,
        learning_rate=0.1,
        loss_mode="cross_entropy",
        precision_dict=P_CLS,
        compute_analytic_hessian=False,
        validation_split=0.25,
        layer_options=opts,
    )
    assert h.val_accuracy.shape == (8,) and h.val_loss.shape == (8,)
    assert h.val_accuracy[-1] > 0.75 and h.val_loss[-1] < 0.5 * h.val_loss[0]
    assert h.loss[-20:].mean() < 0.5 * h.loss[:5].mean()
    assert not np.allclose(m.model.get_layer("batchnorm0").moving_mean.numpy(), mean0)  # moving statistics kept
    # the validation accuracy is the firmware's: the held-out quarter through predict_quantized
    Xv, Yv = X[-150:], Y[-150:]
    fw = predict_quantized(m.model, P_CLS, Xv, layer_options=opts)
    assert h.val_accuracy[-1] == np.mean(np.argmax(fw, 1) == np.argmax(Yv, 1))
    np.testing.assert_array_equal(predict_tf(m.model, P_CLS, Xv, layer_options=opts), fw)
    assert np.all(fw >= 0) and np.all(fw.sum(1) > 0.9)
    h.save(tmp_path / "h.npz")
    h2 = FitHistory.load(tmp_path / "h.npz")
    np.testing.assert_array_equal(h2.val_accuracy, h.val_accuracy)
    assert h.summary()["final_val_accuracy"] == h.val_accuracy[-1]
    fig = h.plot_results()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("nothing to show" in t for t in texts)
    assert "validation accuracy" in [line.get_label() for ax in fig.axes for line in ax.lines]


def test_validation_arguments_are_checked(digits):
    ds, X, Y = digits
    m = LinearBlockModel(dataset=ds, num_hidden=[], seed=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got 1.5"):
        m.train_instrumented(X, Y, epochs=1, validation_split=1.5)
    with pytest.raises(ValueError, match="unknown loss_mode 'xent'; valid: half_mse, keras_mse, cross_entropy"):
        m.train_instrumented(X, Y, epochs=1, loss_mode="xent")
