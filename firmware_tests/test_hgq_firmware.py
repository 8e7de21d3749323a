"""HGQ proxy models: a proxy file written here in HGQ's format (Keras 2 HDF5, ``FixedPointQuantizer``
layers carrying k/b/i arrays, RND/SAT modes and hls4ml overrides), read by ``kappa.load_model``,
converted by ``kappa.from_hgq``, C-simulated: 0 mismatches, and the firmware equals the proxy
model's own output (its quantizers applied to each layer's exact result). A heterogeneous
proxy is refused naming the quantizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _quantizer(name, inbound, shape, k, b, i, rnd="TRN", sat="WRAP", fusible=True):
    spec = {"class_name": "FixedPointQuantizer",
            "config": {"name": name, "trainable": False, "dtype": "float32", "RND": rnd, "SAT": sat,
                       "shape": list(shape), "overrides": {"layers": {name: {"result_t": f"fixed<{b},{i}>"}}},
                       "fusible": fusible},
            "inbound_nodes": [[[inbound, 0, 0, {}]]]}
    arrays = {"keep_negative": np.full(shape, k, np.int8), "bits": np.full(shape, b, np.int8),
              "integers": np.full(shape, i, np.int8)}
    return spec, arrays


def write_hgq_proxy(path, heterogeneous: bool = False, seed: int = 0):
    """An HGQ proxy model file: input(6) -> q -> Dense(5) -> q -> relu -> q -> Dense(3) -> q,
    weights on 2**-4 / 2**-6 grids (HGQ stores them quantized)."""
    import h5py

    rng = np.random.default_rng(seed)
    w0 = np.round(rng.uniform(-2, 2, (6, 5)) * 16) / 16
    b0 = np.round(rng.uniform(-1, 1, 5) * 64) / 64
    w1 = np.round(rng.uniform(-2, 2, (5, 3)) * 16) / 16
    b1 = np.round(rng.uniform(-1, 1, 3) * 64) / 64
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6], "dtype": "float32",
                                                      "name": "inp"}, "inbound_nodes": []}]
    weights = {}
    q, a = _quantizer("inp_quantizer", "inp", (1, 6), 1, 8, 3, rnd="RND", sat="SAT", fusible=False)
    if heterogeneous:
        a["bits"][0, 0] = 5
    layers.append(q)
    weights[q["config"]["name"]] = a

    def dense(name, inbound, units, w, b):
        layers.append({"class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32",
                                                         "units": units, "activation": "linear", "use_bias": True},
                       "inbound_nodes": [[[inbound, 0, 0, {}]]]})
        weights[name] = {"kernel": w, "bias": b}

    dense("dense_1", "inp_quantizer", 5, w0, b0)
    for spec, arr in [_quantizer("dense_1_quantizer", "dense_1", (1,), 1, 7, 3)]:
        layers.append(spec)
        weights[spec["config"]["name"]] = arr
    layers.append({"class_name": "Activation", "config": {"name": "dense_1_relu", "activation": "relu"},
                   "inbound_nodes": [[["dense_1_quantizer", 0, 0, {}]]]})
    for spec, arr in [_quantizer("dense_1_relu_quantizer", "dense_1_relu", (1, 5), 0, 5, 2, rnd="RND", sat="SAT")]:
        layers.append(spec)
        weights[spec["config"]["name"]] = arr
    dense("dense_2", "dense_1_relu_quantizer", 3, w1, b1)
    for spec, arr in [_quantizer("dense_2_quantizer", "dense_2", (1, 3), 1, 9, 4)]:
        layers.append(spec)
        weights[spec["config"]["name"]] = arr
    config = {"class_name": "Functional", "config": {"name": "hgq_proxy", "layers": layers,
                                                     "input_layers": [["inp", 0, 0]],
                                                     "output_layers": [["dense_2_quantizer", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.13.1"
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode() for n in weights]
        for name, arrays in weights.items():
            lg = g.create_group(name)
            lg.attrs["weight_names"] = [f"{name}/{k}:0".encode() for k in arrays]
            for k, v in arrays.items():
                lg.create_dataset(f"{name}/{k}:0", data=v)
    return path


def test_hgq_proxy_converts_bit_exact(tmp_path, check_bit_exact):
    import kappa
    from kappa import predict_quantized

    model = kappa.load_model(write_hgq_proxy(tmp_path / "proxy.h5"))
    twin, P = kappa.from_hgq(model)
    d = P.to_dict()
    assert d["input"]["value"] == "ap_fixed<8,3,AP_RND,AP_SAT>"
    assert d["dense_1"]["activation"] == "ap_fixed<7,3>" and d["dense_1_relu"]["activation"] == \
        "ap_ufixed<5,2,AP_RND,AP_SAT>" and d["dense_2"]["activation"] == "ap_fixed<9,4>"
    assert not any("quantizer" in layer.name for layer in twin.model.layers)
    X = np.random.default_rng(1).normal(0, 2.5, (300, 6))
    fw = predict_quantized(twin.model, P, X)
    proxy = model.predict(X.astype(np.float32), verbose=0).astype(np.float64)
    assert np.array_equal(fw, proxy)  # the firmware computes the proxy model's numbers
    # the quantizers act: the 9-bit WRAP output wraps, the 5-bit relu quantizer rounds and saturates
    assert np.any(fw != predict_quantized(twin.model, dict(d, dense_2=dict(d["dense_2"], activation="ap_fixed<20,10>")),
                                          X))
    check_bit_exact("hgq_proxy_io_parallel", twin.model, P, X)


def test_hgq_heterogeneous_refused(tmp_path):
    import kappa

    model = kappa.load_model(write_hgq_proxy(tmp_path / "het.h5", heterogeneous=True))
    with pytest.raises(ValueError, match=r"'inp_quantizer' gives its 6 elements 2 different types.*heterogeneous.*"
                                         r"quantize this layer homogeneously"):
        kappa.from_hgq(model)
