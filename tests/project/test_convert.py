"""Converter, testbench data, manifest and C-simulation error paths."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

import hls
from hls.project.convert import read_emitted_typedefs
from hls.sim.csim import CsimError
from kappa import predict_quantized, quantize
from kappa.utils import sha256_file

P = {"default": {"weight": "ap_fixed<8,2,AP_RND,AP_SAT>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
                 "activation": "ap_fixed<12,5,AP_RND,AP_SAT>", "gradient": "ap_fixed<16,4>"},
     "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"}}


def _model(act="relu", extra=None):
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,), name="model_input")
    h = keras.layers.Dense(4, activation=act, name="dense0")(inp)
    if extra is not None:
        h = extra(h)
    out = keras.layers.Dense(3, name="dense1")(h)
    return keras.Model(inp, out)


X = np.random.default_rng(0).uniform(-3, 3, (50, 5))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return hls.convert(_model(), P, tmp_path_factory.mktemp("c") / "prj", tb_inputs=X)


def test_project_contents(project):
    tb_in = np.loadtxt(project / "tb_data" / "tb_input_features.dat", ndmin=2)
    tb_out = np.loadtxt(project / "tb_data" / "tb_output_predictions.dat", ndmin=2)
    assert tb_in.shape == (50, 5) and tb_out.shape == (50, 3)
    # inputs are quantized to the input type and exact in float32 (the testbench parses floats)
    assert np.array_equal(tb_in, quantize(X, "ap_fixed<10,3,AP_RND,AP_SAT>"))
    assert np.array_equal(tb_in.astype(np.float32).astype(np.float64), tb_in)
    assert np.array_equal(tb_out, predict_quantized(_model(), P, X))
    typedefs = read_emitted_typedefs(project)
    assert typedefs["input_t"] == "ap_fixed<10,3,AP_RND,AP_SAT,0>"
    assert "ap_fixed<16,6>" in typedefs.values()
    man = json.loads((project / "manifest.json").read_text())
    assert man["sha256"]["tb_data/tb_input_features.dat"] == sha256_file(project / "tb_data" / "tb_input_features.dat")
    assert man["versions"]["hls4ml"] == "1.3.0"
    assert man["total_weight_bits"] == (5 * 4 + 3 * 4 + 4 + 3) * 8
    # training-only fields are recorded, not exported
    assert "gradient: ap_fixed<16,4>" in (project / "precision.yaml").read_text()
    assert "kappa" in (project / "myproject_test.cpp").read_text()
    assert str(project) in (project / "hls4ml_config.yml").read_text()


def test_csim_bit_exact_and_cached(project):
    rep = hls.compare(project)
    assert (rep.samples, rep.outputs, rep.mismatches) == (50, 150, 0)
    rep2 = hls.compare(project)
    assert rep2.compiled is False and rep2.mismatches == 0


def test_tampered_expectation_is_caught_and_located(project, tmp_path):
    prj = tmp_path / "t"
    shutil.copytree(project, prj)
    f = prj / "tb_data" / "tb_output_predictions.dat"
    rows = f.read_text().splitlines()
    vals = rows[7].split()
    vals[1] = repr(float(vals[1]) + 2 ** -7)  # one LSB of ap_fixed<12,5>
    rows[7] = " ".join(vals)
    f.write_text("\n".join(rows) + "\n")
    rep = hls.compare(prj, trust_modified=True)  # edited on purpose (else ProjectModifiedError)
    assert rep.modified == ["tb_data/tb_output_predictions.dat"]
    assert rep.mismatches == 1
    assert rep.first_mismatches[0]["sample"] == 7 and rep.first_mismatches[0]["output"] == 1
    assert rep.max_abs_diff_lsb == 1.0
    assert rep.per_output_mismatches == [0, 1, 0]


def test_firmware_bug_located_by_trace(project, tmp_path):
    """A weight changed in the firmware only: the trace names the first layer that differs."""
    prj = tmp_path / "bug"
    shutil.copytree(project, prj)
    wfile = sorted((prj / "firmware" / "weights").glob("w*.txt"))[-1]  # the last Dense's kernel
    vals = wfile.read_text().strip().split(",")
    vals[0] = " 1.5"
    wfile.write_text(",".join(vals) + "\n")
    rep = hls.compare(prj, trust_modified=True)
    assert rep.modified == [f"firmware/weights/{wfile.name}"]
    assert rep.mismatches > 0
    assert rep.divergence is not None and rep.divergence.layer == "dense1"


def test_existing_project_not_overwritten(project):
    before = sha256_file(project / "manifest.json")
    with pytest.raises(FileExistsError, match="force"):
        hls.convert(_model(), P, project, tb_inputs=X)
    assert sha256_file(project / "manifest.json") == before


@pytest.mark.parametrize(
    "precision, match",
    [
        ({"default": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>", "activation": "ap_fixed<8,2>"},
          "input": {"value": "ap_fixed<8,2>"}}, r"dense0\.accumulator: no type given"),
        ({**P, "dense0": {"weight": "ap_fixed<8,2,S_RND,AP_SAT>"}}, r"S_RND"),
        ({**P, "nosuchlayer": {"weight": "ap_fixed<8,2>"}}, r"unknown layer 'nosuchlayer'"),
    ],
)
def test_bad_precision_refused_without_output(tmp_path, precision, match):
    with pytest.raises(ValueError, match=match):
        hls.convert(_model(), precision, tmp_path / "p", tb_inputs=X)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "act, extra, match",
    [
        ("elu", None, r"dense0.*fused activation 'elu' is not emulated"),
        ("relu", lambda h: keras.layers.LayerNormalization(name="ln")(h), r"'ln'.*LayerNormalization"),
        ("relu", lambda h: keras.layers.Activation("softplus", name="t")(h), r"'t'.*softplus.*not emulated"),
    ],
)
def test_unsupported_layers_named(tmp_path, act, extra, match):
    with pytest.raises(ValueError, match=match):
        hls.convert(_model(act, extra), P, tmp_path / "p", tb_inputs=X)
    assert list(tmp_path.iterdir()) == []


def test_unnamed_input_converts_and_is_bit_exact(tmp_path):
    """``keras.Input`` without a name: Keras calls the layer ``input_layer``, hls4ml's parser
    names it after the tensor (``keras_tensor...``); the input type must still reach it."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(3, name="dense1")(keras.layers.Dense(4, name="dense0")(inp)))
    assert model.inputs[0].name != model.layers[0].name  # the case: two names for one input
    prj = hls.convert(model, P, tmp_path / "p", tb_inputs=X)
    assert read_emitted_typedefs(prj)["input_t"].startswith("ap_fixed<10,3,AP_RND,AP_SAT")  # the input type
    rep = hls.compare(prj)
    assert rep.outputs == 50 * 3 and rep.mismatches == 0


def test_linear_activation_type_must_be_identity(tmp_path):
    model = _model("relu", lambda h: keras.layers.Activation("linear", name="lin")(h))
    bad = {**P, "lin": {"activation": "ap_fixed<6,2>"}}
    with pytest.raises(ValueError, match=r"lin.*removes linear Activation"):
        hls.convert(model, bad, tmp_path / "p", tb_inputs=X)


def test_input_type_wider_than_float32_refused(tmp_path):
    wide = {**P, "input": {"value": "ap_fixed<30,3>"}}
    with pytest.raises(ValueError, match="float32"):
        hls.convert(_model(), wide, tmp_path / "p", tb_inputs=X)


def test_bad_options(tmp_path):
    with pytest.raises(ValueError, match="backend 'Quartus'"):
        hls.convert(_model(), P, tmp_path / "p", backend="Quartus")
    with pytest.raises(ValueError, match="reuse_factor"):
        hls.convert(_model(), P, tmp_path / "p", reuse_factor=0)
    with pytest.raises(ValueError, match="unknown io_type 'io_serial'; valid: io_parallel, io_stream"):
        hls.convert(_model(), P, tmp_path / "p", io_type="io_serial")
    with pytest.raises(ValueError, match="unknown strategy 'Fast'; valid: Latency, Resource"):
        hls.convert(_model(), P, tmp_path / "p", strategy="Fast")
    assert not (tmp_path / "p").exists()


def test_csim_errors(project, tmp_path, monkeypatch):
    # wrong number of values in a line -> the testbench rejects the data
    prj = tmp_path / "rows"
    shutil.copytree(project, prj)
    f = prj / "tb_data" / "tb_output_predictions.dat"
    f.write_text("\n".join(line.rsplit(" ", 1)[0] for line in f.read_text().splitlines()) + "\n")
    with pytest.raises(CsimError, match="expected 3 predictions, got 2"):
        hls.run_csim(prj)
    # compile error: the compiler's first errors are shown
    prj2 = tmp_path / "cerr"
    shutil.copytree(project, prj2)
    (prj2 / "firmware" / "myproject.cpp").write_text("this is not C++;\n")
    with pytest.raises(CsimError, match="error"):
        hls.run_csim(prj2)
    # no compiler
    monkeypatch.setenv("CXX", "no-such-compiler-kappa")
    with pytest.raises(CsimError, match="no-such-compiler-kappa"):
        hls.run_csim(prj2)
