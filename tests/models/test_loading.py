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
