"""Issue 14: property-based tests (hypothesis) over type strings, PrecisionDict specs, job
config dicts, HLS options and input arrays. kappa either refuses with a ``ValueError``
naming the bad value, or gives a result that passes the usual exactness checks; it never
raises anything else and never writes outside the target directory.

Each test runs a fixed, derandomized set of generated cases (``max_examples``) so that
``make test`` stays fast and reproducible; the number of cases each test ran is printed
in the terminal summary ("hypothesis cases: ...", see tests/conftest.py).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from kappa import FixedPointType, PrecisionDict, quantize  # noqa: E402
from kappa.fixed_point import MAX_EXPONENT, MAX_WIDTH  # noqa: E402
from kappa.precision import FIELDS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CASES: Counter = Counter()
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])


# ====================================================================== type strings
INTS = st.one_of(st.integers(-3, 60), st.integers(-2000, 2000),
                 st.sampled_from([0, 1, MAX_WIDTH, MAX_WIDTH + 1, MAX_EXPONENT, MAX_EXPONENT + 1, -503, -504, 10**30]))
Q_MODES = st.sampled_from(["AP_TRN", "TRN", "AP_RND", "RND_CONV", "AP_RND_ZERO", "RND_INF", "AP_RND_MIN_INF",
                           "TRN_ZERO", "S_RND", "ap_rnd", "AP_BAD", "", " ", "1"])
O_MODES = st.sampled_from(["AP_WRAP", "AP_SAT", "SAT_ZERO", "AP_SAT_SYM", "WRAP", "AP_SATX", "", "0"])


@st.composite
def type_strings(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=30))
    prefix = draw(st.sampled_from(["ap_", "", "AP_", "hls_", " ap_"]))
    base = draw(st.sampled_from(["fixed", "ufixed", "int", "uint", "float", "FIXED", "fix"]))
    args = [str(draw(INTS)), str(draw(INTS)), draw(Q_MODES), draw(O_MODES), str(draw(INTS))]
    args = args[: draw(st.integers(0, 5))]
    if draw(st.booleans()) and args:
        args[draw(st.integers(0, len(args) - 1))] = draw(st.sampled_from(["", "x", "1.5", "+2", "-0", " 8 "]))
    lb, rb = draw(st.sampled_from([("<", ">"), ("<", ">"), ("<", ">"), ("(", ")"), ("<", ""), ("<<", ">>")]))
    return f"{prefix}{base}{lb}{','.join(args)}{rb}"


def _check_on_grid(q, t):
    assert q.dtype == np.float64 and np.all(np.isfinite(q))
    codes = q / t.lsb
    assert np.array_equal(codes, np.round(codes)), "off the LSB grid"
    assert np.all((codes >= t.qmin) & (codes <= t.qmax)), "outside [qmin, qmax]"
    assert np.array_equal(codes * t.lsb, q)  # the scaling is exact


@settings(max_examples=300, **SETTINGS)
@given(s=type_strings(), seed=st.integers(0, 2**32 - 1))
def test_type_strings_refused_by_name_or_exact(s, seed):
    CASES["type_strings"] += 1
    try:
        t = FixedPointType.from_string(s)
    except ValueError as exc:
        assert repr(s) in str(exc), (s, str(exc))
        return
    assert FixedPointType.from_string(str(t)) == t
    assert -(MAX_EXPONENT) <= t.fractional <= MAX_EXPONENT and t.integer <= MAX_EXPONENT
    rng = np.random.default_rng(seed)
    scale = 2.0 ** min(t.integer + 2, 1000)
    x = np.concatenate([rng.uniform(-1, 1, 64) * scale, rng.uniform(-4, 4, 16) * t.lsb,
                        [0.0, t.max, t.min, t.lsb, -t.lsb, 1e308, -1e308, 5e-324]])
    q = quantize(x, t, rng=seed) if t.stochastic else quantize(x, t)
    _check_on_grid(q, t)
    if not t.stochastic:
        assert np.array_equal(quantize(q, t), q)  # values on the grid and in range are kept


# ====================================================================== PrecisionDict specs
VALID_TYPES = [
    "ap_fixed<8,3,AP_RND,AP_SAT>",
    "ap_fixed<10,2>",
    "ap_fixed<16,6,AP_TRN,AP_WRAP>",
    "ap_ufixed<6,1,AP_RND,AP_SAT>",
    "ap_fixed<12,4,AP_RND_CONV,AP_SAT_SYM>",
    "ap_int<4>",
    "ap_int<2>",
    "ap_fixed<20,8>",
    "ap_fixed<24,10,AP_RND,AP_SAT_ZERO>",
    "fixed<9,3,RND_INF,SAT>",
    "ap_fixed<8,2,S_RND,AP_SAT>",
]
BAD_TYPES = ["ap_fixed<0,1>", "float", "ap_fixed<8,1030>", "ap_fixed<8,3,AP_FOO>", 7, ["ap_fixed<8,3>"], "auto"]
LAYERS = ["default", "input", "dense0", "dense1"]
BASE = {
    "default": {
        "weight": "ap_fixed<10,2,AP_RND,AP_SAT>",
        "bias": "ap_fixed<10,2>",
        "accumulator": "ap_fixed<22,8>",
        "activation": "ap_fixed<14,5,AP_RND,AP_SAT>",
    },
    "input": {"value": "ap_fixed<10,3,AP_RND,AP_SAT>"},
}


@pytest.fixture(scope="module")
def small_model():
    import keras

    keras.utils.set_random_seed(4)
    inp = keras.Input((4,), name="model_input")
    h = keras.layers.Dense(3, activation="relu", name="dense0")(inp)
    return keras.Model(inp, keras.layers.Dense(2, name="dense1")(h))


@st.composite
def precision_specs(draw):
    spec = {k: dict(v) for k, v in BASE.items()}
    bad = []
    for _ in range(draw(st.integers(0, 5))):
        layer = draw(st.sampled_from(LAYERS))
        field = draw(st.sampled_from(FIELDS))
        spec.setdefault(layer, {})[field] = draw(st.sampled_from(VALID_TYPES + [None]))
    kind = draw(st.integers(0, 9))  # 1-5: one bad entry; otherwise valid
    if kind == 1:
        v = draw(st.sampled_from(BAD_TYPES))
        spec.setdefault(draw(st.sampled_from(LAYERS)), {})[draw(st.sampled_from(FIELDS))] = v
        bad.append(repr(v) if not isinstance(v, str) else v)
    elif kind == 2:
        f = draw(st.sampled_from(["weights", "Weight", "act", 3]))
        spec.setdefault("dense0", {})[f] = "ap_fixed<8,3>"
        bad.append(str(f))
    elif kind == 3:
        k = draw(st.sampled_from([5, None, 2.5]))
        spec[k] = {"weight": "ap_fixed<8,3>"}
        bad.append(repr(k))
    elif kind == 4:
        v = draw(st.sampled_from(["ap_fixed<8,3>", 3, ["weight"]]))
        spec["dense1"] = v
        bad.append(repr(v))
    elif kind == 5:
        spec[draw(st.sampled_from(["dense9", "model_inputs", "Dense0"]))] = {"weight": "ap_fixed<8,3>"}
    return spec, bad


X4 = np.random.default_rng(9).uniform(-4, 4, (12, 4))


@settings(max_examples=100, **SETTINGS)
@given(case=precision_specs())
def test_precision_specs_refused_by_name_or_exact(small_model, case):
    from hls.project.convert import firmware_types
    from kappa import predict_quantized
    from kappa.firmware_forward import firmware_plan
    from kappa.training_forward import predict_tf

    spec, bad = case
    CASES["precision_specs"] += 1
    try:
        pd = PrecisionDict(spec)
    except ValueError as exc:
        assert bad and any(b in str(exc) for b in bad), (bad, str(exc))
        return
    assert not bad
    assert PrecisionDict(pd.to_dict()) == pd
    try:
        y = predict_quantized(small_model, pd, X4)
    except ValueError as exc:
        msg = str(exc)
        assert any(
            w in msg for w in ("unknown layer", "training-only", "bits", "only has the field", "has no field")
        ), msg
        return
    assert y.shape == (12, 2) and np.all(np.isfinite(y))
    out_t = pd.dtype("dense1", "activation")
    if out_t is not None:
        _check_on_grid(y, out_t)
    try:
        firmware_types(firmware_plan(small_model, pd))
    except ValueError:
        return  # not exportable (a missing firmware type): no bit-exactness claim
    try:
        y_tf = predict_tf(small_model, pd, X4)
    except ValueError as exc:
        # Known difference: the TF forward also refuses S_RND in a Dense layer's unused
        # 'value' field (inherited from 'default'); the firmware path ignores that field.
        assert ".value = " in str(exc) and "S_RND" in str(exc), str(exc)
        return
    CASES["precision_specs_exact"] += 1
    # two independent implementations of the firmware arithmetic agree bit for bit
    np.testing.assert_array_equal(y_tf, y)


def test_int_accumulator_training_forward_matches_firmware(small_model):
    """Found by the property test above: an ap_int accumulator or result converts ap_fixed
    values (products, sums) by truncation toward zero, not as from a double (where -0.3
    gives +1); both forwards now use FixedPointType.value_cast_type."""
    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    spec = {"default": {**BASE["default"], "accumulator": "ap_int<4>"}, "input": BASE["input"]}
    np.testing.assert_array_equal(predict_tf(small_model, spec, X4), predict_quantized(small_model, spec, X4))


# ====================================================================== input arrays
SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0, 5e-324, 3.999, -4.0])


@st.composite
def input_arrays(draw):
    n = draw(st.integers(0, 6))
    shape = draw(st.sampled_from([(n, 4), (n, 4), (n, 4), (4,), (n, 3), (n, 5), (n, 4, 1), (n,), ()]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int32, np.bool_, np.complex128, np.str_]))
    if dtype is np.str_:
        return np.full(shape, "1")
    elems = (
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), SPECIAL)
        if dtype in (np.float64, np.float32, np.complex128)
        else None
    )
    with np.errstate(over="ignore", invalid="ignore"):
        return draw(hnp.arrays(dtype, shape, elements=elems)) if elems is not None else draw(hnp.arrays(dtype, shape))


@settings(max_examples=120, **SETTINGS)
@given(X=input_arrays())
def test_input_arrays_refused_by_shape_or_value_or_exact(small_model, X):
    from kappa import predict_quantized
    from kappa.training_forward import predict_tf

    CASES["input_arrays"] += 1
    try:
        y = predict_quantized(small_model, BASE, X)
    except ValueError as exc:
        msg = str(exc)
        assert any(w in msg for w in ("shape", "non-finite", "real numbers", "no samples")), msg
        bad_shape = X.ndim != 2 or X.shape[1:] != (4,) or X.shape[0] == 0
        bad_value = X.dtype.kind not in "biuf" or (X.dtype.kind in "fc" and not np.all(np.isfinite(X)))
        assert bad_shape or bad_value, (X, msg)
        if (
            X.ndim == 2
            and X.shape[1:] == (4,)
            and X.shape[0] > 0
            and X.dtype.kind == "f"
            and not np.all(np.isfinite(X))
        ):
            k = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
            assert f"index {k}" in msg
        return
    assert X.ndim == 2 and X.shape[1:] == (4,) and X.shape[0] >= 1 and np.all(np.isfinite(X.astype(np.float64)))
    assert y.shape == (X.shape[0], 2)
    _check_on_grid(y, FixedPointType.from_string(BASE["default"]["activation"]))
    np.testing.assert_array_equal(predict_tf(small_model, BASE, X.astype(np.float64)), y)


# ====================================================================== job config dicts
JUNK = st.sampled_from([None, -1, 0, 1, "1e-3", "abc", [], {}, True, 1e300, "../x", "a b", math.nan, [4, "x"], 2.5])
CFG_PATHS = [
    ("name",),
    ("dataset",),
    ("dataset", "name"),
    ("dataset", "num_samples"),
    ("dataset", "seed"),
    ("dataset", "noise_std"),
    ("split",),
    ("split", "val_fraction"),
    ("model", "num_hidden"),
    ("model", "use_bias"),
    ("model", "activation"),
    ("training", "epochs"),
    ("training", "batch_size"),
    ("training", "learning_rate"),
    ("training", "loss_mode"),
    ("training", "optimizer"),
    ("precision",),
    ("precision", "dense0"),
    ("hls", "part"),
    ("hls", "clock_period"),
    ("hls", "reuse_factor"),
    ("hls", "backend"),
    ("hls", "strategy"),
    ("training", "epochz"),
    ("bogus",),
]
NAMES = st.sampled_from(["affine", "ok-name_1", "../../etc", "..", "a/b", "x y", "", "n\x00", "名前", "a" * 101])


@st.composite
def config_dicts(draw):
    cfg = yaml.safe_load((REPO / "configs" / "affine.yaml").read_text())
    cfg["dataset"]["num_samples"] = 64
    cfg["name"] = draw(st.integers(0, 1).flatmap(lambda k: NAMES if k else st.just("affine")))
    touched = ["name"]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        path = draw(st.sampled_from(CFG_PATHS))
        node = cfg
        for k in path[:-1]:
            node = node.setdefault(k, {}) if isinstance(node.get(k, {}), dict) else {}
        if draw(st.integers(0, 4)) == 0:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = draw(JUNK)
        touched.append(".".join(path))
    return cfg, touched


def _snapshot(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@settings(max_examples=40, **SETTINGS)
@given(case=config_dicts())
def test_config_dicts_refused_with_keys_or_confined(tmp_path_factory, case):
    from hls.jobs.config import JobConfigError, prepare_job

    cfg, touched = case
    CASES["config_dicts"] += 1
    root = tmp_path_factory.getbasetemp() / "cfgprop"
    base = root / "projects"
    base.mkdir(parents=True, exist_ok=True)
    before = _snapshot(root)
    try:
        job = prepare_job(cfg, source="prop.yaml", projects_dir=base)
    except JobConfigError as exc:
        assert str(exc).startswith("prop.yaml: ") and exc.problems
        for p in exc.problems:
            key = p.split(":", 1)[0]
            assert key and " " not in key.strip("'"), p  # every problem starts with its key
        assert isinstance(exc, ValueError)
    else:
        CASES["config_dicts_accepted"] += 1
        assert job.output.parent == base and job.output.name == cfg["name"]
        assert job.X_tr.shape[1:] == (4,) and job.training.get("epochs", 10) >= 0
    assert _snapshot(root) == before  # validation writes nothing, anywhere


# ====================================================================== HLS options -> files
HOSTILE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ['xc"; exec touch PWNED; "', "[exec touch PWNED]", "$x", "xcu250-figd2104-2L-e", "xc7z020clg400-1", "a\nb"]
    ),
)


def _mostly(valid, hostile):
    """About three cases in four valid, so that accepted projects are checked too."""
    return st.integers(0, 3).flatmap(lambda k: hostile if k == 0 else valid)


@settings(max_examples=20, **SETTINGS)
@given(
    part=_mostly(st.sampled_from(["xcu250-figd2104-2L-e", "xc7z020clg400-1"]), HOSTILE),
    clock=_mostly(st.sampled_from([5, "4.5", 3.3]), st.one_of(st.floats(allow_nan=True, allow_infinity=True), HOSTILE)),
    layer=_mostly(
        st.sampled_from(["dense0", "d_1"]), st.one_of(st.sampled_from(["my layer", "d'q", "d-0"]), st.text(max_size=6))
    ),
    rf=_mostly(st.sampled_from([1, 2, "2", 1.0]), st.sampled_from([0, -1, 2.5, True, "x"])),
)
def test_hls_options_refused_or_written_only_inside_target(tmp_path_factory, part, clock, layer, rf):
    import keras

    import hls

    CASES["hls_options"] += 1
    assume(layer not in ("model_input",))
    root = tmp_path_factory.getbasetemp() / "hlsprop"
    root.mkdir(exist_ok=True)
    before = _snapshot(root)
    try:
        keras.utils.set_random_seed(0)
        inp = keras.Input((4,), name="model_input")
        km = keras.Model(inp, keras.layers.Dense(2, name=layer or "x")(inp))
    except ValueError:
        return  # Keras refuses the name itself
    target = root / f"p{CASES['hls_options']}"
    try:
        prj = hls.convert(km, BASE, target, tb_inputs=X4, part=part, clock_period=clock, reuse_factor=rf)
    except ValueError as exc:
        msg = str(exc)
        assert any(w in msg for w in ("part", "clock_period", "layer name", "reuse_factor")), msg
        assert _snapshot(root) == before
        return
    CASES["hls_options_written"] += 1
    after = _snapshot(root)
    assert {a.split(os.sep)[0] for a in after} - {b.split(os.sep)[0] for b in before} == {target.name}
    tcl = (prj / "project.tcl").read_text()
    assert f'set part "{part}"' in tcl and "PWNED" not in tcl
    assert not (Path.cwd() / "PWNED").exists()
