"""The residue form of the training forward's rounded products (``kappa.layers.dense_tf._residue_units``)
equals rounding every product on its own (``kappa.quantize`` on the exact product), for every
shift-invariant rounding mode and every number of dropped bits it is used for."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import kappa  # noqa: E402
from kappa.fixed_point import FixedPointType  # noqa: E402
from kappa.layers import dense_tf  # noqa: E402
from kappa.layers.dense_tf import SHIFT_INVARIANT_MODES, input_residues, rounded_product_units  # noqa: E402


def _on_grid(rng, t, shape):
    """Random values of type ``t``, rails and zero included."""
    codes = rng.integers(int(t.min * 2**t.fractional), int(t.max * 2**t.fractional) + 1, size=shape)
    flat = codes.reshape(-1)
    flat[:4] = [int(t.min * 2**t.fractional), int(t.max * 2**t.fractional), 0, -1 if t.signed else 1]
    return codes * 2.0**-t.fractional


def _reference(x, w, acc_t):
    """sum_i quantize(x[n, i] * w[i, j]) to the accumulator grid, in LSB units (numpy, exact)."""
    wide = FixedPointType(50, 50 - acc_t.fractional, rounding=acc_t.rounding, overflow="WRAP")
    p = x[:, :, None] * w[None, :, :]  # exact: at most 24-bit codes
    return (kappa.quantize(p, wide) * 2.0**acc_t.fractional).sum(axis=1)


@pytest.mark.parametrize("mode", SHIFT_INVARIANT_MODES)
@pytest.mark.parametrize("dropped", [1, 2, 3, 4])  # 4: past RESIDUE_MAX_BITS, the product tensor
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("hot", [None, tf.int32])  # the one-hot product in float64, and in int32
def test_residue_form_equals_rounding_each_product(mode, dropped, signed, hot):
    rng = np.random.default_rng(dropped * 7 + len(mode) + signed)
    x_t = FixedPointType(10, 3, signed=signed)   # F_x = 7
    w_t = FixedPointType(9, 2)                   # F_w = 7
    acc_t = FixedPointType(30, 30 - (14 - dropped), rounding=mode)
    x, w = _on_grid(rng, x_t, (40, 13)), _on_grid(rng, w_t, (13, 6))
    kk = dense_tf.residue_bits(x_t, w_t, acc_t, 13)
    assert (kk is None) == (dropped + (mode == "RND_CONV") > 3)  # past RESIDUE_MAX_BITS
    xr = input_residues(tf.constant(x), x_t, kk, hot) if hot is not None and kk is not None else None
    got = rounded_product_units(tf.constant(x), tf.constant(w), x_t, w_t, acc_t, xr).numpy()
    np.testing.assert_array_equal(got, _reference(x, w, acc_t))


def test_residue_form_sees_ties():
    """Products exactly half an LSB away (ties) round by the mode: RND up, RND_MIN_INF down,
    RND_CONV to even, so the residue tables must differ between them."""
    x_t, w_t = FixedPointType(8, 4), FixedPointType(8, 4)  # F_x = F_w = 4
    x = np.array([[0.0625, -0.0625, 0.1875]])              # codes 1, -1, 3
    w = np.array([[0.0625], [0.0625], [0.0625]])           # code 1: products 1, -1, 3 at 2**-8
    outs = {}
    for mode in ("RND", "RND_MIN_INF", "RND_CONV", "TRN"):
        acc_t = FixedPointType(20, 13, rounding=mode)      # F = 7: 1 dropped bit, products 0.5, -0.5, 1.5 LSB
        outs[mode] = rounded_product_units(tf.constant(x), tf.constant(w), x_t, w_t, acc_t).numpy()[0, 0]
        assert outs[mode] == _reference(x, w, acc_t)[0, 0]
    # 0.5 - 0.5 + 1.5 LSB: RND 1 + 0 + 2 = 3; RND_MIN_INF 0 - 1 + 1 = 0; RND_CONV 0 + 0 + 2 = 2; TRN 0 - 1 + 1 = 0
    assert outs == {"RND": 3.0, "RND_MIN_INF": 0.0, "RND_CONV": 2.0, "TRN": 0.0}


def test_training_is_bit_identical_with_and_without_the_residue_form(monkeypatch):
    """The same run (seeded model, S_RND updates) with the residue form and with the
    (N, n_in, n_out) product tensor: the same losses at every step and the same final weights."""
    import kappa.layers.dense_tf as dense
    from kappa.data import AffineDataset
    from kappa.nn import LinearBlockModel

    ds = AffineDataset(num_samples=256, use_bias=True, seed=0)
    X, Y = (a.astype(np.float32) for a in ds.get())
    P = {"input": {"value": "ap_fixed<12,4,AP_RND,AP_SAT>"},
         "default": {"weight": "ap_fixed<10,2,AP_RND,AP_SAT>", "bias": "ap_fixed<10,2,AP_RND,AP_SAT>",
                     "accumulator": "ap_fixed<24,10,AP_RND,AP_SAT>",  # F 14 < 8 + 8: 2 bits rounded off
                     "activation": "ap_fixed<14,6,AP_RND,AP_SAT>", "gradient": "ap_fixed<20,6,AP_RND,AP_SAT>",
                     "update": "ap_fixed<14,2,S_RND,AP_SAT>"}}
    runs = []
    for residue_bits in (dense.RESIDUE_MAX_BITS, 0):
        monkeypatch.setattr(dense, "RESIDUE_MAX_BITS", residue_bits)
        m = LinearBlockModel(dataset=ds, num_hidden=[12, 8], activation="relu", seed=3)
        h = m.train_instrumented(X, Y, epochs=3, batch_size=32, learning_rate=0.05, precision_dict=P,
                                 compute_analytic_hessian=False)
        runs.append((np.asarray(h.loss), [v.numpy() for v in m.model.trainable_variables]))
    (loss_a, w_a), (loss_b, w_b) = runs
    assert len(loss_a) == 3 * 8 and np.all(np.isfinite(loss_a))
    np.testing.assert_array_equal(loss_a, loss_b)
    for a, b in zip(w_a, w_b):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(w_a[0], LinearBlockModel(dataset=ds, num_hidden=[12, 8], activation="relu",
                                                      seed=3).model.trainable_variables[0].numpy())  # it trained
