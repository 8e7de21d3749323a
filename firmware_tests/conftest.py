"""Shared helpers for the firmware matrix: build a project, C-simulate it, demand 0 mismatches."""

from __future__ import annotations

import os

# Many small C-simulation projects with few samples: compile quicker (-O0), run slower.
os.environ.setdefault("KAPPA_CSIM_OPT", "-O0")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS: list[tuple[str, int, int, int]] = []


def dense_chain(n_in, layers, name="model_input", seed=0, weight_scale=1.0):
    """A Keras model: ``layers`` = list of (kind, arg): ("dense", (units, activation, use_bias)) or ("act", "relu")."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((n_in,), name=name)
    h = inp
    d = a = 0
    for kind, arg in layers:
        if kind == "dense":
            units, act, use_bias = arg
            h = keras.layers.Dense(units, activation=act, use_bias=use_bias, name=f"dense{d}",
                                   bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + d))(h)
            d += 1
        else:
            h = keras.layers.Activation(arg, name=f"activation{a}")(h)
            a += 1
    model = keras.Model(inp, h)
    if weight_scale != 1.0:
        model.set_weights([w * weight_scale for w in model.get_weights()])
    return model


def chain(input_shape, layers, name="model_input", seed=0, weight_scale=1.0):
    """A Keras model: the ``layers`` applied in order to an input of ``input_shape``;
    biases drawn from U(-0.5, 0.5) (seeded), kernels scaled by ``weight_scale``."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(tuple(input_shape), name=name)
    h = inp
    for layer in layers:
        h = layer(h)
    model = keras.Model(inp, h)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if getattr(layer, "kernel", None) is not None:
            layer.kernel.assign(layer.kernel.numpy() * weight_scale)
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.uniform(-0.5, 0.5, layer.bias.shape).astype(np.float32))
    return model


@pytest.fixture
def check_bit_exact(tmp_path):
    """Convert, C-simulate and compare; assert 0 mismatches and record the counts."""
    import hls

    def run(case, model, precision, X, **kw):
        prj = hls.convert(model, precision, tmp_path / case, tb_inputs=X, **kw)
        report = hls.compare(prj)
        RESULTS.append((case, report.samples, report.outputs, report.mismatches))
        print(f"[firmware] {case}: {report.summary_line()}", file=sys.stderr)
        n = len(X[0]) if isinstance(X, (list, tuple)) else X.shape[0]  # several inputs: a list of arrays
        assert report.outputs == n * sum(int(np.prod(t.shape[1:])) for t in model.outputs)
        assert report.mismatches == 0, (report.first_mismatches, report.divergence)
        return prj, report

    return run


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)
    if out is not None:  # a pytest-xdist worker: hand its projects to the controller
        out["firmware_results"] = json.dumps(RESULTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    RESULTS.extend(tuple(r) for r in json.loads(getattr(node, "workeroutput", {}).get("firmware_results", "[]")))


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        total = sum(r[2] for r in RESULTS)
        bad = sum(r[3] for r in RESULTS)
        for case, samples, outputs, mismatches in RESULTS:
            terminalreporter.write_line(f"  {case}: {outputs} outputs ({samples} samples), {mismatches} mismatching")
        terminalreporter.write_line(
            f"firmware matrix: {len(RESULTS)} projects C-simulated, {total} outputs compared, {bad} mismatching"
        )


def uniform(n, d, lo, hi, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, (n, d))
