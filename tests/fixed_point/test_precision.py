"""PrecisionDict: lookup with defaults, validation, YAML/JSON round trips."""

from __future__ import annotations

import json

import pytest

from kappa import FixedPointType, PrecisionDict, ensure_precision_dict

SPEC = {
    "default": {
        "weight": "ap_fixed<8,2>",
        "accumulator": "ap_fixed<24,8,AP_TRN,AP_SAT>",
        "update": "ap_fixed<16,2,S_RND,AP_SAT>",
    },
    "input": {"value": "ap_ufixed<10,1,AP_RND,AP_SAT>"},
    "dense0": {"weight": "ap_fixed<6,1,AP_RND_CONV,AP_SAT_SYM>", "activation": "ap_fixed<12,4>"},
}


def test_lookup_with_default_and_float():
    p = PrecisionDict(SPEC)
    assert p.dtype("dense0", "weight") == FixedPointType.from_string("ap_fixed<6,1,AP_RND_CONV,AP_SAT_SYM>")
    assert p.dtype("dense1", "weight") == FixedPointType.from_string("ap_fixed<8,2>")  # from default
    assert p.dtype("dense0", "accumulator").overflow == "SAT"
    assert p.dtype("dense0", "bias") is None  # neither layer nor default: floating point
    assert p.dtype("input", "value").signed is False
    assert p.dtype("dense0", "update").stochastic
    with pytest.raises(ValueError, match="unknown PrecisionDict field 'wieght'"):
        p.dtype("dense0", "wieght")


def test_validate_lists_every_problem():
    p = PrecisionDict({**SPEC, "dense9": {"weight": "ap_fixed<8,2>"}, "dens0": {"bias": "ap_fixed<8,2>"}})
    with pytest.raises(ValueError) as info:
        p.validate(["dense0", "dense1"])
    msg = str(info.value)
    assert "'dense9'" in msg and "'dens0'" in msg and "dense0, dense1" in msg
    PrecisionDict(SPEC).validate(["dense0"])  # valid: no error


def test_bad_entries_named():
    with pytest.raises(ValueError) as info:
        PrecisionDict({"dense0": {"weigth": "ap_fixed<8,2>", "bias": "ap_fixed<8"}})
    msg = str(info.value)
    assert "dense0.weigth: unknown field" in msg and "dense0.bias" in msg and "ap_fixed<8" in msg


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path, suffix):
    p = PrecisionDict(SPEC)
    path = p.save(tmp_path / f"p{suffix}")
    q = ensure_precision_dict(str(path))
    assert q == p
    assert q.to_dict()["dense0"]["weight"] == "ap_fixed<6,1,AP_RND_CONV,AP_SAT_SYM>"
    if suffix == ".json":
        assert json.loads(path.read_text())["default"]["update"] == "ap_fixed<16,2,AP_S_RND,AP_SAT>"


def test_ensure_precision_dict_kinds(tmp_path):
    assert ensure_precision_dict(None) is None
    p = PrecisionDict(SPEC)
    assert ensure_precision_dict(p) is p
    assert ensure_precision_dict(SPEC) == p
    with pytest.raises(TypeError, match="list"):
        ensure_precision_dict([1, 2])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        ensure_precision_dict(tmp_path / "nope.yaml")
    (tmp_path / "p.txt").write_text("x")
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.json"):
        ensure_precision_dict(tmp_path / "p.txt")
