"""Installing da4ml changes no project: hls4ml 1.3.0's Keras 3 parser would try a da4ml
fallback first for layers without a Keras 3 handler (BatchNormalization) once da4ml is
importable; ``hls.convert`` passes ``allow_da_fallback=False``. Converted twice, with da4ml
hidden and with it importable, a BatchNorm project is byte for byte the same."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys

import keras
import numpy as np
import pytest

import kappa
from hls.project.convert import convert

P = {"input": {"value": "ap_fixed<8,3,AP_RND,AP_SAT>"},
     "d0": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>", "accumulator": "ap_fixed<16,6>",
            "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"},
     "bn": {"scale": "ap_fixed<8,3>", "bias": "ap_fixed<8,3>", "activation": "ap_fixed<10,4,AP_RND,AP_SAT>"}}


def _model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((5,), name="x"), keras.layers.Dense(4, name="d0"),
                          keras.layers.BatchNormalization(name="bn")])
    m.get_layer("bn").moving_variance.assign(np.array([0.5, 1.5, 2.0, 0.8], np.float32))
    return m


def _files(d):
    """Every file's bytes, less what differs between any two conversions: hls4ml's random
    ``LIB_STAMP`` in build_lib.sh and ``Stamp`` in hls4ml_config.yml, the zip timestamps of
    keras_model.keras (the input model)."""
    out = {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    out["build_lib.sh"] = re.sub(rb"LIB_STAMP=\w+", b"LIB_STAMP=", out["build_lib.sh"])
    out["hls4ml_config.yml"] = re.sub(rb"Stamp: \w+", b"Stamp:", out["hls4ml_config.yml"])
    del out["keras_model.keras"]
    manifest = json.loads(out.pop("manifest.json"))  # its hashes of the two stamped files above differ too
    for name in ("keras_model.keras", "hls4ml_config.yml", "build_lib.sh"):
        manifest.get("sha256", {}).pop(name, None)
    out["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return out


def test_batchnorm_project_is_the_same_with_and_without_da4ml(tmp_path, monkeypatch, caplog):
    if importlib.util.find_spec("da4ml") is None:
        pytest.skip("da4ml is not installed (pip install 'da4ml>=0.5.2,<0.6'; make setup does)")
    caplog.set_level("DEBUG", logger="kappa.hls4ml")  # hls4ml's prints, captured by the converter
    X = np.random.default_rng(0).normal(size=(20, 5))
    out = tmp_path / "prj"
    with monkeypatch.context() as mp:  # da4ml hidden: importing it raises ImportError
        for name in [n for n in sys.modules if n == "da4ml" or n.startswith("da4ml.")] + ["da4ml"]:
            mp.setitem(sys.modules, name, None)
        convert(_model(), kappa.PrecisionDict(P), out, tb_inputs=X)
    without = _files(out)
    shutil.rmtree(out)
    import da4ml  # noqa: F401 - importable again

    convert(_model(), kappa.PrecisionDict(P), out, tb_inputs=X)
    with_da4ml = _files(out)
    printed = "\n".join(r.getMessage() for r in caplog.records)  # both conversions: no DA fallback attempted
    assert "Keras v2 handler used for layer bn" in printed
    assert "DA handler used" not in printed and "da4ml not installed" not in printed, printed
    assert sorted(without) == sorted(with_da4ml) and len(without) > 20
    differ = [k for k in without if without[k] != with_da4ml[k]]
    assert differ == [], differ
