"""Issue 14: one input policy (shapes, non-finite values, PrecisionDicts, type strings)
for every entry point: predict_quantized, convert, train_instrumented, quantize."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import hls
from kappa import FixedPointType, PrecisionDict, predict_quantized, quantize
from kappa.inputs import check_inputs, read_structured_file

P = {"default": {"weight": "ap_fixed<10,2,AP_RND,AP_SAT>", "bias": "ap_fixed<10,2>", "accumulator": "ap_fixed<20,8>",
                 "activation": "ap_fixed<14,6,AP_RND,AP_SAT>"},
     "input": {"value": "ap_ufixed<8,1,AP_RND,AP_SAT>"}}
RNG = np.random.default_rng(3)
X64 = RNG.uniform(0, 1, (20, 64))


@pytest.fixture(scope="module")
def digits_like():
    keras.utils.set_random_seed(0)
    inp = keras.Input((64,), name="model_input")
    h = keras.layers.Dense(8, activation="relu", name="dense0")(inp)
    return keras.Model(inp, keras.layers.Dense(10, name="dense1")(h))


# ------------------------------------------------------------------ item 4: no broadcasting
def test_single_sample_without_sample_axis_refused(digits_like):
    with pytest.raises(ValueError, match=r"shape \(64,\).*one sample.*\(1, 64\)"):
        predict_quantized(digits_like, P, X64[0])
    y1 = predict_quantized(digits_like, P, X64[:1])  # explicit single sample
    assert y1.shape == (1, 10)
    assert np.array_equal(y1[0], predict_quantized(digits_like, P, X64)[0])


def test_wrong_input_width_names_expected_shape(digits_like):
    with pytest.raises(ValueError, match=r"X has shape \(20, 1\); the model expects \(N, 64\)"):
        predict_quantized(digits_like, P, X64[:, :1])
    with pytest.raises(ValueError, match=r"shape \(20, 63\).*\(N, 64\)"):
        predict_quantized(digits_like, P, X64[:, :63])
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        predict_quantized(digits_like, P, X64[None])


def test_convert_tb_inputs_single_sample_refused(digits_like, tmp_path):
    with pytest.raises(ValueError, match=r"tb_inputs has shape \(64,\).*\(1, 64\)"):
        hls.convert(digits_like, P, tmp_path / "p", tb_inputs=X64[0])
    with pytest.raises(ValueError, match=r"tb_inputs has shape \(20, 1\)"):
        hls.convert(digits_like, P, tmp_path / "p", tb_inputs=X64[:, :1])
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ item 6: non-finite inputs
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_refused_with_index_everywhere(digits_like, tmp_path, bad):
    from kappa.data import AffineDataset
    from kappa.nn import LinearBlockModel

    X = X64.copy()
    X[3, 5] = bad
    with pytest.raises(ValueError, match=r"non-finite value .* at index \(3, 5\)"):
        predict_quantized(digits_like, P, X)
    with pytest.raises(ValueError, match=r"non-finite value .* at index \(3, 5\)"):
        hls.convert(digits_like, P, tmp_path / "p", tb_inputs=X)
    with pytest.raises(ValueError, match=r"non-finite value .* index \(3, 5\)"):
        quantize(X, "ap_fixed<8,2>")
    ds = AffineDataset(num_samples=40, seed=0)
    m = LinearBlockModel(dataset=ds, num_hidden=[], seed=0)
    Xa = ds.X.copy()
    Xa[7, 2] = bad
    prec = {"default": {"weight": "ap_fixed<12,3>", "bias": "ap_fixed<12,3>"}, "input": {"value": "ap_fixed<10,2>"}}
    for p in (prec, None):  # quantized and float training alike
        with pytest.raises(ValueError, match=r"X holds the non-finite value .* at index \(7, 2\)"):
            m.train_instrumented(Xa, ds.Y, epochs=1, precision_dict=p)
    Ya = ds.Y.copy()
    Ya[1, 0] = bad
    with pytest.raises(ValueError, match=r"Y holds the non-finite value .* index \(1, 0\)"):
        m.train_instrumented(ds.X, Ya, epochs=1, precision_dict=prec)
    big = ds.X.copy()
    big[0, 0] = 1e300  # finite in float64, inf once stored as float32 (the training dtype)
    with pytest.raises(ValueError, match=r"float32.*index \(0, 0\)"):
        m.train_instrumented(big, ds.Y, epochs=1, precision_dict=prec)


def test_training_input_width_checked():
    from kappa.data import AffineDataset
    from kappa.nn import LinearBlockModel

    ds = AffineDataset(num_samples=40, seed=0)
    m = LinearBlockModel(dataset=ds, num_hidden=[], seed=0)
    with pytest.raises(ValueError, match=r"X has shape \(40, 3\); the model expects \(N, 4\)"):
        m.train_instrumented(ds.X[:, :3], ds.Y, epochs=1)


# ------------------------------------------------------------------ item 7: unknown layers
def test_predict_quantized_refuses_layers_the_model_lacks(digits_like, tmp_path):
    bad = {**P, "dense7": {"weight": "ap_fixed<4,1>"}}
    with pytest.raises(ValueError, match=r"unknown layer 'dense7'"):
        predict_quantized(digits_like, bad, X64)
    with pytest.raises(ValueError, match=r"unknown layer 'dense7'"):
        hls.convert(digits_like, bad, tmp_path / "p")


def test_stochastic_weight_in_inference_is_named_training_only(digits_like):
    srnd = {**P, "dense0": {"weight": "ap_fixed<10,2,S_RND,AP_SAT>"}}
    with pytest.raises(ValueError, match=r"stochastic rounding is training-only: dense0\.weight"):
        predict_quantized(digits_like, srnd, X64)
    # S_RND in training-only fields is fine for inference
    ok = {**P, "dense0": {"update": "ap_fixed<10,2,S_RND,AP_SAT>"}}
    assert np.array_equal(predict_quantized(digits_like, ok, X64), predict_quantized(digits_like, P, X64))


# ------------------------------------------------------------------ messages
def test_precision_dict_from_a_list_is_a_value_error():
    with pytest.raises(ValueError, match=r"mapping \{layer: \{field: type\}\}, got list \['a'\]"):
        PrecisionDict(["a"])
    with pytest.raises(ValueError, match="layer names must be strings"):
        PrecisionDict({1: {"weight": "ap_fixed<8,2>"}})
    with pytest.raises(ValueError, match=r"dense0\.3: unknown field"):
        PrecisionDict({"dense0": {3: "ap_fixed<8,2>"}})


@pytest.mark.parametrize("s, lo, hi", [("ap_fixed<8,1030>", -503, 511), ("ap_fixed<8,-1100>", -503, 511),
                                       ("ap_ufixed<16,600>", -495, 511), ("fixed<4,-508>", -507, 511)])
def test_type_exponent_out_of_float64_range_refused_at_parse(s, lo, hi):
    with pytest.raises(ValueError, match=rf"exponent range.*\[{lo}, {hi}\]"):
        FixedPointType.from_string(s)


def test_type_exponent_at_the_limits_is_exact():
    t_hi = FixedPointType.from_string("ap_fixed<8,511,AP_RND,AP_SAT>")
    t_lo = FixedPointType.from_string("ap_fixed<8,-503,AP_RND,AP_SAT>")
    assert t_hi.max == 127 * 2.0 ** 503 and t_lo.lsb == 2.0 ** -511
    assert quantize([1e300, -1e300], t_hi).tolist() == [t_hi.max, t_hi.min]
    assert quantize([3 * 2.0 ** -511, 1.0], t_lo).tolist() == [3 * 2.0 ** -511, t_lo.max]


def test_malformed_yaml_and_json_name_the_file(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("default: {weight: [unclosed\n")
    with pytest.raises(ValueError, match=r"p\.yaml' is not valid YAML.*line"):
        PrecisionDict.load(y)
    j = tmp_path / "p.json"
    j.write_text('{"default": ')
    with pytest.raises(ValueError, match=r"p\.json' is not valid JSON.*line 1"):
        PrecisionDict.load(j)
    with pytest.raises(FileNotFoundError, match="nothere.yaml"):
        read_structured_file(tmp_path / "nothere.yaml")
    j.write_text(json.dumps(["a"]))
    with pytest.raises(ValueError, match="must hold a mapping"):
        PrecisionDict.load(j)


def test_check_inputs_contract():
    assert check_inputs([[1, 2]], (2,)).dtype == np.float64
    with pytest.raises(ValueError, match="real numbers"):
        check_inputs(np.array([["a", "b"]]), (2,))
    with pytest.raises(ValueError, match="no samples"):
        check_inputs(np.zeros((0, 2)), (2,))
    with pytest.raises(ValueError, match="real numbers"):
        check_inputs(np.ones((1, 2), complex), (2,))
