"""QKeras models through kappa's path: from_qkeras -> hls.convert -> C simulation, 0 mismatches.

One QKeras CNN built here (QConv2D, max pooling, QDense, quantized_bits/quantized_relu) and
one real QKeras model no one here wrote (hls4ml's example-models ``qkeras-v3_3layer.keras``),
each in io_parallel and io_stream. Also compared with QKeras's own float ``predict``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kappa import predict_quantized

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "models"


def qkeras_cnn():
    import keras
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 8, 1), name="image")
    x = QConv2D(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1),
                name="qconv")(inp)
    x = QActivation(quantized_relu(6, 2), name="qrelu0")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = QDense(10, kernel_quantizer=quantized_bits(5, 0, symmetric=True, alpha=1),
               bias_quantizer=quantized_bits(8, 3, alpha=1), activation=quantized_relu(8, 3), name="qdense0")(x)
    x = QDense(3, kernel_quantizer="quantized_bits(6,1,alpha=1)", bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="qdense1")(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.uniform(-1, 1, layer.bias.shape).astype(np.float32))
    return model


def _lsb_diff(model, twin_P, fw, X):
    """QKeras ``predict`` vs the firmware: ``(largest |difference| in LSBs of the output type,
    argmax agreement)`` on the inputs already on the firmware input type, and the same on the
    raw float inputs (QKeras leaves its input unquantized)."""
    from kappa.fixed_point import as_type
    from kappa.quantization import quantize

    d = twin_P.to_dict()
    lsb = as_type(d[list(d)[-1]]["activation"]).lsb
    out = []
    for x in (quantize(np.asarray(X, np.float64), as_type(d["input"]["value"])), np.asarray(X, np.float64)):
        ref = model.predict(x.astype(np.float32), verbose=0).astype(np.float64)
        out.append((float(np.abs(fw - ref).max() / lsb), float(np.mean(fw.argmax(1) == ref.argmax(1)))))
    return out


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_qkeras_cnn_built_here(check_bit_exact, io_type):
    from kappa.qkeras import from_qkeras

    model = qkeras_cnn()
    twin, P = from_qkeras(model, input_type="ap_fixed<10,3,AP_RND_CONV,AP_SAT>")
    assert P.to_dict()["qdense0"]["weight"] == "ap_fixed<5,1,AP_RND_CONV,AP_SAT_SYM>"
    X = np.random.default_rng(4).uniform(-3, 3, (200, 8, 8, 1))
    check_bit_exact(f"qkeras_cnn_{io_type}", twin.model, P, X, io_type=io_type)
    fw = predict_quantized(twin.model, P, X, io_type=io_type)
    (lsbs, agree), (raw_lsbs, raw_agree) = _lsb_diff(model, P, fw, X)
    print(f"[qkeras] built CNN {io_type}: vs QKeras predict on the same inputs: argmax agreement {agree:.4f}, "
          f"largest difference {lsbs:.3g} LSB; on the raw float inputs: {raw_agree:.4f}, {raw_lsbs:.3g} LSB")
    assert agree == 1.0 and lsbs < 0.01  # lossless accumulators: only QKeras's float32 rounding differs
    assert raw_agree >= 0.95


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_real_qkeras_model(check_bit_exact, io_type):
    import keras

    from kappa.loading import load_model
    from kappa.qkeras import from_qkeras

    model = load_model(FIXTURES / "qkeras-v3_3layer.keras")
    twin, P = from_qkeras(model, drop_final_softmax=True)
    assert [layer.name for layer in twin.model.layers[1:]] == \
        ["fc1", "relu1", "fc2", "relu2", "fc3", "relu3", "output"]
    X = np.random.default_rng(5).normal(0, 1, (300, 16))
    check_bit_exact(f"qkeras_3layer_{io_type}", twin.model, P, X, io_type=io_type)
    fw = predict_quantized(twin.model, P, X, io_type=io_type)
    logits = keras.Model(model.inputs, model.layers[-2].output)
    (lsbs, agree), (raw_lsbs, raw_agree) = _lsb_diff(logits, P, fw, X)
    print(f"[qkeras] example-models qkeras-v3_3layer {io_type}: vs QKeras predict on the same inputs: argmax "
          f"agreement {agree:.4f}, largest difference {lsbs:.3g} LSB; on the raw float inputs: {raw_agree:.4f}, "
          f"{raw_lsbs:.3g} LSB")
    assert agree == 1.0 and lsbs < 0.01
    assert raw_agree >= 0.95


def test_real_qkeras_model_with_its_softmax(check_bit_exact):
    """The whole example model, softmax included (hls4ml's default tables, result
    ap_ufixed<16,0>): bit-exact, and its argmax against QKeras's float softmax."""
    from kappa.loading import load_model
    from kappa.qkeras import from_qkeras

    model = load_model(FIXTURES / "qkeras-v3_3layer.keras")
    twin, P = from_qkeras(model)
    assert twin.model.layers[-1].name == "softmax"
    X = np.random.default_rng(6).normal(0, 1, (300, 16))
    check_bit_exact("qkeras_3layer_softmax", twin.model, P, X)
    fw = predict_quantized(twin.model, P, X)
    (lsbs, agree), (raw_lsbs, raw_agree) = _lsb_diff(model, P, fw, X)
    print(f"[qkeras] example-models qkeras-v3_3layer with softmax: argmax agreement {agree:.4f} "
          f"(raw inputs {raw_agree:.4f}), largest difference {lsbs:.3g} LSB of ap_ufixed<16,0>")
    assert agree >= 0.97 and raw_agree >= 0.95
