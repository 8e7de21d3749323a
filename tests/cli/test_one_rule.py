"""One rule for an incomplete types file and one set of model formats across ``kappa build
--model``, ``kappa firmware-report`` and ``kappa precision validate --model``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hls.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
MODEL = [str(FIXTURES / "KERAS_3layer.json"), "--weights", str(FIXTURES / "KERAS_3layer_weights.h5")]
# every Dense field but the accumulator; the softmax's fields are left to hls4ml's defaults by design
INCOMPLETE = """\
input: {value: "ap_fixed<16,6>"}
default: {weight: "ap_fixed<12,4>", bias: "ap_fixed<12,4>", activation: "ap_fixed<16,6>"}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "types.yaml").write_text(INCOMPLETE)
    np.savez(tmp_path / "test.npz", X=np.random.default_rng(0).normal(size=(20, 16)))
    return tmp_path / "types.yaml", tmp_path / "test.npz"


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_incomplete_types_refused_alike(files, tmp_path, capsys):
    types, data = files
    errors = {}
    assert main(["precision", "validate", str(types), "--model", *MODEL]) == 2
    errors["validate"] = _err(capsys)
    assert main(["firmware-report", *MODEL, "--precision", str(types), "--data", str(data)]) == 2
    errors["firmware-report"] = _err(capsys)
    assert main(["build", "--model", *MODEL, "--precision", str(types), "--data", str(data), "--quiet",
                 "--output", str(tmp_path / "prj")]) == 2
    errors["build"] = _err(capsys)
    assert not (tmp_path / "prj").exists()
    for cmd, err in errors.items():  # each names the missing field, as build always did
        assert err.startswith("error: ") and "fc1_relu.accumulator: no type given" in err, (cmd, err)


def test_complete_types_validate_against_a_json_model(tmp_path, capsys):
    (tmp_path / "types.yaml").write_text(INCOMPLETE.replace('activation: "ap_fixed<16,6>"}',
                                                            'activation: "ap_fixed<16,6>", accumulator: "ap_fixed<24,8>"}'))
    assert main(["precision", "validate", str(tmp_path / "types.yaml"), "--model", *MODEL]) == 0, capsys.readouterr().err
    assert "matches the 5 layers" in capsys.readouterr().out


def test_model_without_data_needs_data(files, capsys):
    types, _ = files
    assert main(["build", "--model", *MODEL, "--precision", str(types)]) == 2
    assert "--model needs test data: --data FILE.npz" in _err(capsys)
