"""kappa.load_model: three file formats, real example models, and what is refused (nothing executed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"


def _mlp_numpy(f, x):
    """The KERAS_3layer MLP (Dense+ReLU x3, Dense+softmax) computed from the HDF5 arrays with numpy."""
    h = x
    for name, relu in (("fc1_relu", True), ("fc2_relu", True), ("fc3_relu", True), ("output_softmax", False)):
        g = f[name][name]
        h = h @ np.asarray(g["kernel:0"], np.float64) + np.asarray(g["bias:0"], np.float64)
        if relu:
            h = np.maximum(h, 0)
    e = np.exp(h - h.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_keras2_json_and_weights_match_the_hdf5_arrays():
    import h5py

    from kappa.loading import load_model

    model = load_model(FIXTURES / "KERAS_3layer.json", FIXTURES / "KERAS_3layer_weights.h5")
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer"] + ["Dense"] * 4
    assert model.get_layer("output_softmax").get_config()["activation"] == "softmax"
    X = np.random.default_rng(0).normal(size=(64, 16))
    with h5py.File(FIXTURES / "KERAS_3layer_weights.h5", "r") as f:
        np.testing.assert_array_equal(model.get_layer("fc2_relu").kernel.numpy(),
                                      np.asarray(f["fc2_relu"]["fc2_relu"]["kernel:0"]))
        ref = _mlp_numpy(f, X)
    np.testing.assert_allclose(model.predict(X.astype(np.float32), verbose=0), ref, rtol=1e-4, atol=1e-6)


def test_keras_archive_matches_keras_own_loader_and_the_json_twin():
    import keras
    import qkeras  # noqa: F401  (registers the QKeras classes for Keras's own loader)

    from kappa.loading import load_model

    mine = load_model(FIXTURES / "qkeras-v3_3layer.keras")
    theirs = keras.saving.load_model(FIXTURES / "qkeras-v3_3layer.keras")
    same_json = load_model(FIXTURES / "qkeras_3layer.json", FIXTURES / "qkeras_3layer_weights.h5")
    assert type(mine.get_layer("fc1")).__name__ == "QDense"
    assert str(mine.get_layer("fc1").kernel_quantizer_internal) == "quantized_bits(6,0,0,alpha=1)"
    X = np.random.default_rng(1).normal(size=(128, 16)).astype(np.float32)
    a, b, c = (m.predict(X, verbose=0) for m in (mine, theirs, same_json))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_legacy_whole_model_h5(tmp_path):
    import keras

    from kappa.loading import load_model

    keras.utils.set_random_seed(2)
    inp = keras.Input((6, 6, 2), name="img")
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c0")(inp)
    x = keras.layers.MaxPooling2D(2, name="p0")(x)
    x = keras.layers.Flatten(name="f")(x)
    x = keras.layers.Dense(4, name="d0")(x)
    model = keras.Model(inp, x)
    path = tmp_path / "model.h5"
    model.save(path)
    loaded = load_model(path)
    assert [layer.name for layer in loaded.layers] == ["img", "c0", "p0", "f", "d0"]
    X = np.random.default_rng(3).normal(size=(16, 6, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def _json_with(tmp_path, layer_spec, index=2):
    cfg = json.loads((FIXTURES / "KERAS_3layer.json").read_text())
    cfg["config"]["layers"].insert(index, layer_spec)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize("spec, words", [
    ({"class_name": "Lambda", "config": {"name": "evil", "function": ["4wEAAAAA", None, None]}},
     ["'evil'", "Lambda", "never executes code"]),
    ({"class_name": "MyCustomLayer", "config": {"name": "custom1"}}, ["'custom1'", "MyCustomLayer"]),
    ({"class_name": "Activation", "config": {"name": "act1", "activation": {"class_name": "MyAct", "config": {}}}},
     ["'act1'", "activation"]),
    ({"class_name": "QActivation", "config": {"name": "q1", "activation": "quantized_bits(__import__('os').getpid())"}},
     ["'q1'", "not plain literals"]),
    ({"class_name": "QActivation", "config": {"name": "q2", "activation": "os.system('true')"}},
     ["'q2'", "not one of the QKeras quantizers"]),
    ({"class_name": "Dense", "config": {"name": "d9", "units": 3, "kernel_initializer": {"class_name": "X"},
                                         "activation": {"class_name": "function", "config": "eval"}}},
     ["'d9'", "activation"]),
])
def test_refuses_code_and_unknown_classes_naming_the_layer(tmp_path, spec, words):
    from kappa.loading import load_model

    with pytest.raises(ValueError) as exc:
        load_model(_json_with(tmp_path, spec), FIXTURES / "KERAS_3layer_weights.h5")
    for w in words:
        assert w in str(exc.value)


def test_bad_arguments(tmp_path):
    from kappa.loading import load_model

    with pytest.raises(ValueError, match="pass weights="):
        load_model(FIXTURES / "KERAS_3layer.json")
    with pytest.raises(ValueError, match="only used with a .json"):
        load_model(FIXTURES / "qkeras-v3_3layer.keras", FIXTURES / "KERAS_3layer_weights.h5")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "none.keras")
    with pytest.raises(ValueError, match="holds no model architecture"):
        load_model(FIXTURES / "KERAS_3layer_weights.h5")
    (tmp_path / "m.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="use a .keras archive"):
        load_model(tmp_path / "m.pkl")
    with pytest.raises(ValueError, match="has no weights for layer"):
        load_model(FIXTURES / "KERAS_conv1d_small.json", FIXTURES / "KERAS_3layer_weights.h5")


def _noop_mlp():
    """A Dense chain with every inference no-op kappa drops between its layers."""
    import keras

    keras.utils.set_random_seed(5)
    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu", name="d0")(inp)
    h = keras.layers.Dropout(0.3, name="drop")(h)
    h = keras.layers.GaussianNoise(0.1, name="noise")(h)
    h = keras.layers.GaussianDropout(0.2, name="gdrop")(h)
    h = keras.layers.AlphaDropout(0.1, name="adrop")(h)
    h = keras.layers.ActivityRegularization(l1=0.01, name="areg")(h)
    h = keras.layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model(inp, h)


def _noop_conv():
    import keras

    keras.utils.set_random_seed(6)
    inp = keras.Input((10, 3), name="x")
    h = keras.layers.Conv1D(4, 3, activation="relu", name="c0")(inp)
    h = keras.layers.SpatialDropout1D(0.2, name="sdrop")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dropout(0.5, name="drop")(h)
    h = keras.layers.Dense(4, name="out")(h)
    return keras.Model(inp, h)


@pytest.mark.parametrize("make, list_form", [(_noop_mlp, False), (_noop_mlp, True), (_noop_conv, True)])
def test_inference_noops_are_dropped_in_both_keras2_layouts(tmp_path, make, list_form):
    from keras2_files import write_keras2

    from kappa.loading import load_model

    model = make()
    arch, weights = write_keras2(model, tmp_path, "m", list_form=list_form)
    doc = json.loads(arch.read_text())
    assert isinstance(doc["config"], list) == list_form
    loaded = load_model(arch, weights)
    kept = [layer.name for layer in loaded.layers if type(layer).__name__ != "InputLayer"]
    assert kept == (["d0", "out"] if make is _noop_mlp else ["c0", "flat", "out"])
    X = np.random.default_rng(7).normal(size=(32, *model.inputs[0].shape[1:])).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def _two_input_json(tmp_path, middle_cls):
    layers = [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 4], "name": "input_1"}},
        {"class_name": "InputLayer", "name": "input_2", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 1], "name": "input_2"}},
        {"class_name": middle_cls, "name": "gar_1", "config": {"name": "gar_1", "units": 2},
         "inbound_nodes": [[["input_1", 0, 0, {}], ["input_2", 0, 0, {}]]]},
        {"class_name": "Dense", "name": "dense", "config": {"name": "dense", "units": 2},
         "inbound_nodes": [[["gar_1", 0, 0, {}]]]},
    ]
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"class_name": "Model", "config": {"name": "two", "layers": layers}}))
    return path


def test_refusals_name_the_true_culprit(tmp_path):
    from kappa.loading import load_model, model_from_config

    w = FIXTURES / "KERAS_3layer_weights.h5"
    with pytest.raises(ValueError, match=r"cannot load layer 'gar_1' \(GarNet\): not a layer class"):
        load_model(_two_input_json(tmp_path, "GarNet"), w)  # the GarNet layer, not the second InputLayer
    with pytest.raises(ValueError, match=r"layer 'gar_1' \(Dense\) reads 2 tensors \(input_1, input_2\); only the "
                                         r"merge layers \(Add, .*\) take several inputs"):
        load_model(_two_input_json(tmp_path, "Dense"), w)
    with pytest.raises(ValueError, match=r"layer #0 of the Sequential config is not a layer spec"):
        model_from_config({"class_name": "Sequential", "config": ["Dense"]})
    with pytest.raises(ValueError, match=r"holds a list, not a model config"):
        model_from_config([{"class_name": "Dense"}])


def test_emulator_runs_noops_as_identities_and_convert_names_the_ones_hls4ml_lacks(tmp_path):
    import keras

    import hls
    from kappa import predict_quantized
    from kappa.layers import build_plan

    model = _noop_mlp()
    bare = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="d0"),
                             keras.layers.Dense(3, activation="softmax", name="out")])
    for name in ("d0", "out"):
        bare.get_layer(name).set_weights(model.get_layer(name).get_weights())
    t = "ap_fixed<16,6,AP_RND,AP_SAT>"
    P = {"default": {"weight": t, "bias": t, "accumulator": "ap_fixed<32,12>", "activation": t},
         "input": {"value": "ap_fixed<12,4>"}}
    X = np.random.default_rng(8).normal(size=(64, 6))
    np.testing.assert_array_equal(predict_quantized(model, P, X), predict_quantized(bare, P, X))
    from kappa.training_forward import TrainingForward, predict_tf

    np.testing.assert_array_equal(predict_tf(model, P, X), predict_quantized(model, P, X))
    y = TrainingForward(model, P)(X, training=True).numpy()  # dropout and noise active: random, finite
    assert y.shape == (64, 3) and np.isfinite(y).all() and not np.array_equal(y, predict_quantized(model, P, X))
    kinds = [st.family.name for st in build_plan(model)]
    assert kinds == ["dense", "relu"] + ["noop"] * 5 + ["dense", "softmax"]
    with pytest.raises(ValueError) as exc:
        hls.convert(model, P, tmp_path / "prj")
    assert "'noise' (GaussianNoise): hls4ml 1.3.0 has no converter" in str(exc.value)
    assert "'areg' (ActivityRegularization)" in str(exc.value)
    assert "'drop'" not in str(exc.value) and not (tmp_path / "prj").exists()


def _graph_model():
    """Two inputs, a branch, a skip connection with Add, a Concatenate, two outputs."""
    import keras

    keras.utils.set_random_seed(11)
    a, b = keras.Input((5,), name="in_a"), keras.Input((3,), name="in_b")
    h = keras.layers.Dense(5, activation="relu", name="d0")(a)
    h = keras.layers.Dropout(0.3, name="drop")(h)
    s = keras.layers.Add(name="skip")([h, a])
    c = keras.layers.Concatenate(name="cat")([s, b])
    o1 = keras.layers.Dense(2, name="head1")(c)
    o2 = keras.layers.Maximum(name="mx")([keras.layers.Dense(5, name="d1")(c), s])
    return keras.Model([a, b], [o1, o2])


@pytest.mark.parametrize("fmt", ["keras3", "keras2_json"])
def test_graph_models_load_in_keras3_and_keras2_formats(tmp_path, fmt):
    from keras2_files import write_keras2

    from kappa.loading import load_model

    model = _graph_model()
    if fmt == "keras3":
        model.save(tmp_path / "g.keras")
        loaded = load_model(tmp_path / "g.keras")
    else:
        arch, weights = write_keras2(model, tmp_path, "g", list_form=False)
        loaded = load_model(arch, weights)
    assert [t.name for t in loaded.inputs] == ["in_a", "in_b"] and len(loaded.outputs) == 2
    assert "drop" not in [la.name for la in loaded.layers]  # the inference no-op is dropped inside the graph
    rng = np.random.default_rng(3)
    X = [rng.normal(size=(16, 5)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)]
    for u, v in zip(loaded.predict(X, verbose=0), model.predict(X, verbose=0)):
        np.testing.assert_array_equal(u, v)
