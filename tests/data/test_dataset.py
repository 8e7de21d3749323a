"""Tests for kappa.data (datasets, exports, plots) and the kappa.datasets registry."""

import hashlib
import json
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from kappa import datasets  # noqa: E402
from kappa.data import (  # noqa: E402
    AffineDataset,
    BaseDataset,
    DataType,
    DigitsDataset,
    verify_manifest,
)

A_DEFAULT = np.array([[1.25, -0.75, 0.50, 0.20], [-0.40, 0.90, 1.10, -0.60]])
B_DEFAULT = np.array([0.35, -0.25])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    return DigitsDataset()


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------- AffineDataset
def test_affine_defaults_and_exact_targets():
    ds = AffineDataset(seed=0)
    np.testing.assert_array_equal(ds.A, A_DEFAULT)
    np.testing.assert_array_equal(ds.b, B_DEFAULT)
    assert ds.use_bias is True and ds.num_samples == 1000
    X, Y = ds.get()
    assert X.shape == (1000, 4) and Y.shape == (1000, 2)
    assert ds.input_shape == (1000, 4) and ds.output_shape == (1000, 2)
    assert X.min() >= 0.0 and X.max() < 1.0
    np.testing.assert_array_equal(Y, X @ A_DEFAULT.T + B_DEFAULT)
    assert ds.input_type == DataType.D2_FLOAT and ds.output_type == DataType.D2_FLOAT
    assert ds.reference_weight_matrix is ds.A and ds.reference_bias_vector is ds.b
    Xn, Yn = ds.to_numpy()
    assert Xn is X and Yn is Y


def test_affine_uniform_moments():
    X = AffineDataset(num_samples=100_000, seed=3).X
    np.testing.assert_allclose(X.mean(axis=0), 0.5, atol=0.005)
    np.testing.assert_allclose(X.var(axis=0), 1 / 12, rtol=0.02)


def test_affine_no_bias_and_custom_teacher():
    ds = AffineDataset(use_bias=False, seed=0)
    np.testing.assert_array_equal(ds.b, [0.0, 0.0])
    np.testing.assert_array_equal(ds.Y, ds.X @ A_DEFAULT.T)
    A = np.array([[2.0, -1.0]])
    ds2 = AffineDataset(num_samples=50, A=A, b=np.array([0.0]), use_bias=False, seed=1)
    assert ds2.X.shape == (50, 2) and ds2.Y.shape == (50, 1)
    np.testing.assert_array_equal(ds2.Y[:, 0], 2 * ds2.X[:, 0] - ds2.X[:, 1])
    A[0, 0] = 99.0  # the dataset keeps its own copy
    assert ds2.A[0, 0] == 2.0


def test_affine_shape_validation():
    with pytest.raises(ValueError, match=r"\(4,\)"):
        AffineDataset(A=np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(3,\)"):
        AffineDataset(b=np.zeros(3))
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        AffineDataset(A=np.array([[2.0, -1.0]]))  # default b has 2 entries
    with pytest.raises(ValueError):
        AffineDataset(num_samples=0)
    with pytest.raises(ValueError):
        AffineDataset(noise_std=-0.1)


def test_affine_seed_determinism():
    a, b, c = AffineDataset(seed=7), AffineDataset(seed=7), AffineDataset(seed=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert not np.array_equal(a.X, c.X)


def test_affine_label_noise():
    clean = AffineDataset(num_samples=20_000, seed=5)
    noisy = AffineDataset(num_samples=20_000, seed=5, noise_std=0.1)
    np.testing.assert_array_equal(noisy.X, clean.X)  # noise drawn after X
    resid = noisy.Y - (noisy.X @ noisy.A.T + noisy.b)
    assert resid.std() == pytest.approx(0.1, rel=0.10)
    assert abs(resid.mean()) < 0.01
    assert "noise_std=0.1" in repr(noisy)


# ---------------------------------------------------------------- analytic Hessian
def _bias_gram_lambda_max(d):
    """Independent: largest eigenvalue of [[I/12 + 11^T/4, 1/2 1], [1/2 1^T, 1]]."""
    M = np.empty((d + 1, d + 1))
    M[:d, :d] = np.eye(d) / 12 + np.ones((d, d)) / 4
    M[:d, d] = M[d, :d] = 0.5
    M[d, d] = 1.0
    return np.linalg.eigvalsh(M)[-1]


def test_lambda_max_matches_uniform_theory():
    ds = AffineDataset(num_samples=200_000, seed=0)
    lam_nobias = ds.analytic_hessian_for(use_bias=False)["lambda_max"]
    lam_bias = ds.analytic_hessian["lambda_max"]  # use_bias=True -> ones column
    theory_nobias = 1 / 12 + 4 / 4
    theory_bias = _bias_gram_lambda_max(4)
    assert theory_bias == pytest.approx(2.0425343, rel=1e-6)
    assert lam_nobias == pytest.approx(theory_nobias, rel=0.01)
    assert lam_bias == pytest.approx(theory_bias, rel=0.01)
    no_bias_ds = AffineDataset(num_samples=200_000, seed=0, use_bias=False)
    assert no_bias_ds.analytic_hessian["lambda_max"] == pytest.approx(lam_nobias, rel=1e-12)


def test_hessian_structure_and_eta_max():
    ds = AffineDataset(num_samples=500, seed=2, use_bias=False)
    h = ds.analytic_hessian
    H, X = h["hessian"], ds.X
    assert set(h) >= {"hessian", "lambda_max", "eta_max"}
    assert H.shape == (2 * 4, 2 * 4)
    G = X.T @ X / 500
    np.testing.assert_allclose(H, np.kron(np.eye(2), G), rtol=1e-13, atol=1e-15)
    assert np.all(H[:4, 4:] == 0)
    assert h["lambda_max"] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-12)
    assert h["eta_max"] == pytest.approx(2.0 / h["lambda_max"], rel=1e-15)
    assert ds.analytic_hessian["hessian"] is H  # cached
    hb = AffineDataset(num_samples=500, seed=2).analytic_hessian
    assert hb["hessian"].shape == (2 * 5, 2 * 5) and hb["use_bias"] is True
    Xt = np.hstack([X, np.ones((500, 1))])
    np.testing.assert_allclose(hb["hessian"][:5, :5], Xt.T @ Xt / 500, rtol=1e-13)


def test_affine_repr():
    ds = AffineDataset(seed=0)
    text = repr(ds)
    lam = ds.analytic_hessian["lambda_max"]
    assert text.count("\n") >= 5
    for piece in ["(1000, 4)", "(1000, 2)", "2d-float", "1.25", "0.35", f"{lam:.6g}",
                  f"{2 / lam:.6g}"]:
        assert piece in text


def test_base_dataset_is_abstract():
    with pytest.raises(TypeError):
        BaseDataset()


# ---------------------------------------------------------------- split / batches
def test_split_sizes_disjoint_deterministic():
    ds = AffineDataset(num_samples=1000, seed=0)
    Xtr, Ytr, Xva, Yva = ds.split(0.2, seed=1)
    assert Xtr.shape == (800, 4) and Ytr.shape == (800, 2)
    assert Xva.shape == (200, 4) and Yva.shape == (200, 2)
    tr, va = set(Xtr[:, 0].tolist()), set(Xva[:, 0].tolist())
    assert not tr & va
    assert tr | va == set(ds.X[:, 0].tolist())
    np.testing.assert_array_equal(Ytr, Xtr @ ds.A.T + ds.b)  # rows stay paired
    again = ds.split(0.2, seed=1)
    np.testing.assert_array_equal(again[2], Xva)
    assert not np.array_equal(ds.split(0.2, seed=2)[2], Xva)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError):
            ds.split(bad)


def test_batches_cover_epoch_once_and_deterministic():
    ds = AffineDataset(num_samples=103, seed=0)
    batches = list(ds.batches(10, seed=4))
    assert [len(x) for x, _ in batches] == [10] * 10 + [3]
    xs = np.concatenate([x for x, _ in batches])
    ys = np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(np.sort(xs[:, 0]), np.sort(ds.X[:, 0]))
    assert len(np.unique(xs[:, 0])) == 103
    np.testing.assert_array_equal(ys, xs @ ds.A.T + ds.b)
    assert not np.array_equal(xs, ds.X)  # shuffled
    xs2 = np.concatenate([x for x, _ in ds.batches(10, seed=4)])
    np.testing.assert_array_equal(xs, xs2)
    xs3 = np.concatenate([x for x, _ in ds.batches(10, seed=5)])
    assert not np.array_equal(xs, xs3)
    dropped = list(ds.batches(10, seed=4, drop_remainder=True))
    assert [len(x) for x, _ in dropped] == [10] * 10
    ordered = np.concatenate([x for x, _ in ds.batches(25, shuffle=False)])
    np.testing.assert_array_equal(ordered, ds.X)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            ds.batches(bad)


# ---------------------------------------------------------------- DigitsDataset
def test_digits_basic(digits):
    X, Y = digits.get()
    assert X.shape == (1797, 64) and Y.shape == (1797, 10)
    assert digits.num_samples == 1797 and digits.num_classes == 10
    np.testing.assert_array_equal(Y.sum(axis=1), np.ones(1797))
    assert set(np.unique(Y).tolist()) == {0.0, 1.0}
    assert X.min() == 0.0 and X.max() == 1.0  # 16/16 occurs
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # multiples of 1/16
    assert len(np.unique(digits.labels)) == 10
    assert digits.input_type == DataType.IMAGE_FLOAT
    assert digits.output_type == DataType.D1_CLASS
    assert digits.reference_weight_matrix is None and digits.reference_bias_vector is None
    assert "1797" in repr(digits) and "10 classes" in repr(digits)


def test_digits_options(digits):
    lab = DigitsDataset(one_hot=False)
    assert lab.Y.shape == (1797,) and lab.Y.dtype.kind == "i"
    assert lab.output_type == DataType.IMAGE_CLASS
    np.testing.assert_array_equal(lab.Y, np.argmax(digits.Y, axis=1))
    img = DigitsDataset(num_samples=20, flatten=False)
    assert img.X.shape == (20, 8, 8)
    np.testing.assert_array_equal(img.X.reshape(20, 64), digits.X[:20])
    s1, s2 = DigitsDataset(num_samples=100, seed=3), DigitsDataset(num_samples=100, seed=3)
    np.testing.assert_array_equal(s1.X, s2.X)
    assert not np.array_equal(s1.X, digits.X[:100])
    with pytest.raises(ValueError, match="1797"):
        DigitsDataset(num_samples=1798)
    with pytest.raises(ValueError):
        DigitsDataset(num_samples=0)
    Xtr, Ytr, Xva, Yva = digits.split(0.25, seed=0)
    assert len(Xva) == round(0.25 * 1797) and len(Xtr) + len(Xva) == 1797


# ---------------------------------------------------------------- exports
def test_to_txt_manifest_roundtrip(tmp_path):
    ds = AffineDataset(num_samples=30, seed=0, noise_std=0.05)
    prefix = str(tmp_path / "affine_nominal")
    manifest_path = ds.to_txt(prefix)
    fx, fy = prefix + "_X.txt", prefix + "_Y.txt"
    assert manifest_path == prefix + "_manifest.json"
    assert os.path.isfile(fx) and os.path.isfile(fy)
    np.testing.assert_array_equal(np.loadtxt(fx), ds.X)  # %.17g round-trips exactly
    np.testing.assert_array_equal(np.loadtxt(fy), ds.Y)
    with open(manifest_path) as f:
        man = json.load(f)
    by_name = {e["name"]: e for e in man["files"]}
    assert by_name["affine_nominal_X.txt"]["sha256"] == _sha(fx)
    assert by_name["affine_nominal_Y.txt"]["sha256"] == _sha(fy)
    assert by_name["affine_nominal_X.txt"]["shape"] == [30, 4]
    assert by_name["affine_nominal_Y.txt"]["dtype"] == "float64"
    verify_manifest(prefix)
    with pytest.raises(FileExistsError, match="affine_nominal_X.txt"):
        ds.to_txt(prefix)
    ds.to_txt(prefix, overwrite=True)
    with open(fy, "a") as f:
        f.write("0 0\n")
    with pytest.raises(ValueError, match="affine_nominal_Y.txt"):
        verify_manifest(prefix)


def test_to_dat_manifest(tmp_path, digits):
    ds = DigitsDataset(num_samples=12, one_hot=False)
    out = str(tmp_path / "tb")
    ds.to_dat(out)
    fx = os.path.join(out, "tb_input_features.dat")
    fy = os.path.join(out, "tb_output_predictions.dat")
    np.testing.assert_array_equal(np.loadtxt(fx), ds.X)
    np.testing.assert_array_equal(np.loadtxt(fy).astype(int), ds.Y)
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    shas = {e["name"]: e["sha256"] for e in man["files"]}
    assert shas == {"tb_input_features.dat": _sha(fx), "tb_output_predictions.dat": _sha(fy)}
    assert man["input_type"] == "image-float" and man["output_type"] == "image-class"
    verify_manifest(out)
    with pytest.raises(FileExistsError, match="tb_input_features.dat"):
        ds.to_dat(out)
    with open(fx, "r+") as f:  # same length, different content
        first = f.read(1)
        f.seek(0)
        f.write("1" if first != "1" else "2")
    with pytest.raises(ValueError, match="tb_input_features.dat"):
        verify_manifest(out)
    os.remove(fy)
    with pytest.raises(ValueError, match="tb_output_predictions.dat"):
        verify_manifest(out)
    with pytest.raises(FileNotFoundError):
        verify_manifest(str(tmp_path / "nothing_here"))


# ---------------------------------------------------------------- plotting
def test_plots_return_figures(digits):
    ds = AffineDataset(num_samples=300, seed=0)
    fig = ds.plot(max_points=50)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 4  # d_out x d_in scatter grid
    assert len(fig.axes[0].collections[0].get_offsets()) == 50
    assert isinstance(ds.plot_histogram(bins=20), Figure)
    assert isinstance(digits.plot(max_points=10), Figure)
    assert isinstance(digits.plot_histogram(), Figure)
    assert isinstance(DigitsDataset(num_samples=20, one_hot=False, flatten=False).plot(), Figure)


def test_histogram_panels(digits):
    fig = AffineDataset(num_samples=300, seed=0).plot_histogram(bins=20)
    assert len(fig.axes) == 2 * 4  # 4 input features on top, 2 outputs below, 2 hidden
    assert sum(ax.get_visible() for ax in fig.axes) == 4 + 2
    assert sum(p.get_height() for p in fig.axes[0].patches) == 300
    fig = digits.plot_histogram()
    assert len(fig.axes) == 2  # pooled pixels; class counts
    bars = [p.get_height() for p in fig.axes[1].patches]
    assert len(bars) == 10 and sum(bars) == 1797 and bars[0] == 178
    assert sum(p.get_height() for p in fig.axes[0].patches) == 1797 * 64
    grid = digits.plot(max_points=7)
    assert len(grid.axes) == 10 and [ax.get_title() for ax in grid.axes[:7]] == [str(k) for k in digits.labels[:7]]


def _run_python(code: str) -> None:
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_import_kappa_loads_no_matplotlib_nor_tensorflow():
    _run_python("import sys, kappa; kappa.DigitsDataset; kappa.datasets.list_datasets(); "
                "loaded = {'matplotlib', 'tensorflow', 'sklearn'} & set(sys.modules); assert not loaded, loaded")


def test_old_module_paths_reexport_the_same_objects():
    from importlib import import_module

    import kappa
    import kappa.data.registry as registry

    assert kappa.datasets is registry or kappa.datasets is import_module("kappa.datasets")
    old_dataset, old_registry = import_module("kappa.dataset"), import_module("kappa.datasets")
    assert old_registry.__name__ == "kappa.datasets"  # the shim, not the registry itself

    assert old_dataset.AffineDataset is AffineDataset and old_dataset.verify_manifest is verify_manifest
    assert old_dataset.DataType is DataType and old_dataset.BaseDataset is BaseDataset
    assert old_registry.create is registry.create and old_registry._REGISTRY is registry._REGISTRY
    assert kappa.datasets.list_datasets() == registry.list_datasets()
    assert "deprecated" in old_dataset.__doc__.lower() and "deprecated" in old_registry.__doc__.lower()


# ---------------------------------------------------------------- registry
def test_registry():
    assert {"affine", "digits"} <= set(datasets.list_datasets())
    ds = datasets.create("affine", num_samples=10, seed=0, use_bias=False)
    assert isinstance(ds, AffineDataset) and ds.X.shape == (10, 4)
    assert isinstance(datasets.create("digits", num_samples=5), DigitsDataset)
    with pytest.raises(ValueError, match="affine.*digits"):
        datasets.create("nope")

    @datasets.register("tiny-affine")
    def _tiny(**kw):
        return AffineDataset(num_samples=3, **kw)

    try:
        assert "tiny-affine" in datasets.list_datasets()
        assert datasets.create("tiny-affine", seed=1).X.shape == (3, 4)
        with pytest.raises(ValueError):
            datasets.register("tiny-affine")(lambda: None)
    finally:
        datasets.unregister("tiny-affine")
    assert "tiny-affine" not in datasets.list_datasets()
