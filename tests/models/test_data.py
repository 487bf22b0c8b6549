"""Bundled datasets, their regeneration, and the HDF5 loader."""

from __future__ import annotations

import doctest
import os
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph_models.data as data
from tinygraph_models.data import DataError, Dataset, flatten, load_dataset, load_h5
from tinygraph._files import write_atomically
from tinygraph_models.datasets import regenerate as regen

h5py = pytest.importorskip("h5py")

DATASET_DIR = Path(regen.__file__).resolve().parent
EXPECTED = {
    # file, n_features, n_total, n_train, n_test, class names
    "digits": ("digits.npz", 64, 1797, 1348, 449, ("digit 0-4", "digit 5-9")),
    "digits10": ("digits10.npz", 64, 1797, 1347, 450, tuple("0123456789")),
    "breast-cancer": ("breast_cancer.npz", 30, 569, 427, 142, ("benign", "malignant")),
}


def _raw(name):
    with np.load(DATASET_DIR / EXPECTED[name][0], allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# --------------------------------------------------------------------------
# bundled files


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_file_layout_loads_without_pickle(name):
    filename, n_feat, n_total, n_train, n_test, classes = EXPECTED[name]
    raw = _raw(name)
    assert raw["train_x"].shape == (n_feat, n_train)
    assert raw["test_x"].shape == (n_feat, n_test)
    assert raw["train_y"].shape == (1, n_train)
    assert raw["test_y"].shape == (1, n_test)
    assert raw["train_x"].dtype == np.float64
    assert tuple(raw["classes"].tolist()) == classes
    assert raw["classes"].dtype.kind == "U" and raw["feature_names"].dtype.kind == "U"
    assert raw["feature_names"].shape == (n_feat,)
    assert raw["license"].item() == "CC BY 4.0"
    assert "UCI" in raw["source"].item()
    assert raw["seed"].item() == regen.SEED
    for key in ("train_y", "test_y"):
        assert set(np.unique(raw[key]).tolist()) == set(range(len(classes)))
    assert (DATASET_DIR / filename).stat().st_size < 200_000


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_split_is_disjoint_complete_and_stratified(name):
    _, _, n_total, n_train, n_test, _ = EXPECTED[name]
    raw = _raw(name)
    tr, te = raw["train_index"], raw["test_index"]
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n_total))
    # Independent of the stored indices: no feature vector sits in both splits.
    train_rows = {row.tobytes() for row in raw["train_x"].T}
    assert not any(row.tobytes() in train_rows for row in raw["test_x"].T)

    y_all = np.concatenate([raw["train_y"][0], raw["test_y"][0]])
    for label in range(len(raw["classes"])):
        share = np.mean(y_all == label)
        assert abs(np.sum(raw["test_y"] == label) - share * n_test) <= 1
        assert abs(np.sum(raw["train_y"] == label) - share * n_train) <= 1


def test_digits_values_and_task_mapping():
    raw = _raw("digits")
    x = np.concatenate([raw["train_x"], raw["test_x"]], axis=1)
    assert x.min() == 0 and x.max() == 16
    assert np.array_equal(x, np.round(x))
    assert raw["feature_names"][0] == "pixel_0_0"
    # sklearn's digits are 178 zeros .. 180 nines: 0-4 holds 901, 5-9 holds 896.
    y = np.concatenate([raw["train_y"][0], raw["test_y"][0]])
    assert np.bincount(y).tolist() == [901, 896]


def test_digits10_holds_the_same_images_labelled_by_digit():
    binary, ten = _raw("digits"), _raw("digits10")
    # The same 1797 images: reorder both files by scikit-learn's row number.
    order_b = np.argsort(np.concatenate([binary["train_index"], binary["test_index"]]))
    order_t = np.argsort(np.concatenate([ten["train_index"], ten["test_index"]]))
    x_b = np.concatenate([binary["train_x"], binary["test_x"]], axis=1)[:, order_b]
    x_t = np.concatenate([ten["train_x"], ten["test_x"]], axis=1)[:, order_t]
    assert np.array_equal(x_b, x_t)
    y_b = np.concatenate([binary["train_y"][0], binary["test_y"][0]])[order_b]
    y_t = np.concatenate([ten["train_y"][0], ten["test_y"][0]])[order_t]
    assert np.array_equal(y_b, (y_t >= 5).astype(np.uint8))  # digit 5-9 is the binary label 1
    assert np.bincount(y_t).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # Stratified by digit, with the binary file's seed: every digit keeps round(25 %) in test.
    assert np.bincount(ten["test_y"][0]).tolist() == [round(0.25 * n) for n in np.bincount(y_t)]
    assert ten["seed"].item() == binary["seed"].item() == regen.SEED
    assert list(ten["feature_names"]) == list(binary["feature_names"])


def test_breast_cancer_label_is_flipped_to_malignant_one():
    raw = _raw("breast-cancer")
    y = np.concatenate([raw["train_y"][0], raw["test_y"][0]])
    # 212 malignant, 357 benign in the Wisconsin diagnostic data.
    assert np.bincount(y).tolist() == [357, 212]
    x = np.concatenate([raw["train_x"], raw["test_x"]], axis=1)
    radius = list(raw["feature_names"]).index("mean radius")
    # Malignant tumours are the larger ones; a wrong flip would reverse this.
    assert x[radius, y == 1].mean() > x[radius, y == 0].mean() + 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_dataset_shapes_dtypes_readonly(name):
    _, n_feat, _, n_train, n_test, classes = EXPECTED[name]
    ds = load_dataset(name)
    assert isinstance(ds, Dataset)
    assert ds.name == name and ds.classes == classes and ds.n_features == n_feat
    assert (ds.n_train, ds.n_test) == (n_train, n_test)
    for arr, shape in (
        (ds.train_x, (n_feat, n_train)),
        (ds.test_x, (n_feat, n_test)),
        (ds.train_y, (1, n_train)),
        (ds.test_y, (1, n_test)),
    ):
        assert arr.shape == shape and arr.dtype == np.float64
        assert not arr.flags.writeable
    assert set(np.unique(ds.train_y).tolist()) == set(map(float, range(len(classes))))
    assert ds.n_classes == len(classes)
    assert len(ds.feature_names) == n_feat
    assert ds.mean.shape == (n_feat, 1) and ds.std.shape == (n_feat, 1)
    with pytest.raises(AttributeError):
        ds.name = "other"


def test_breast_cancer_underscore_alias():
    a = load_dataset("breast_cancer", standardize=False)
    b = load_dataset("breast-cancer", standardize=False)
    assert a.name == b.name == "breast-cancer"
    assert np.array_equal(a.train_x, b.train_x)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_standardisation_uses_training_stats_only(name):
    raw = load_dataset(name, standardize=False)
    ds = load_dataset(name)
    assert raw.mean is None and raw.std is None
    assert np.array_equal(ds.mean, raw.train_x.mean(axis=1, keepdims=True))
    varying = raw.train_x.std(axis=1) > 0
    np.testing.assert_allclose(ds.train_x.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.train_x[varying].std(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds.test_x, (raw.test_x - ds.mean) / ds.std)
    # Test statistics were not used, so they are close to but not exactly 0/1.
    assert not np.allclose(ds.test_x[varying].mean(axis=1), 0.0, atol=1e-6)
    assert not np.allclose(ds.test_x[varying].std(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ds.transform(raw.test_x), ds.test_x)


def test_constant_feature_gets_unit_std():
    ds = load_dataset("digits")
    raw = load_dataset("digits", standardize=False)
    constant = raw.train_x.std(axis=1) == 0
    assert constant.any()  # pixel_0_0 is always blank
    assert np.all(ds.std[constant] == 1.0)
    assert np.all(np.isfinite(ds.train_x)) and np.all(np.isfinite(ds.test_x))


def test_describe_mentions_sizes_and_balance():
    text = load_dataset("breast-cancer").describe()
    assert "\n" not in text
    for piece in ("breast-cancer", "30 features", "train 427", "268 benign", "159 malignant",
                  "test 142", "89 / 53"):
        assert piece in text


def test_transform_rejects_wrong_feature_count():
    ds = load_dataset("breast-cancer")
    with pytest.raises(DataError, match=r"expected shape \(30, n\)"):
        ds.transform(np.zeros((29, 3)))


# --------------------------------------------------------------------------
# regeneration


def test_regeneration_is_byte_identical(tmp_path):
    pytest.importorskip("sklearn")
    written = regen.regenerate(tmp_path)
    assert [p.name for p in written] == list(regen.FILES)
    for path in written:
        assert path.read_bytes() == (DATASET_DIR / path.name).read_bytes(), path.name
    assert sorted(os.listdir(tmp_path)) == sorted(regen.FILES)  # no temp files left behind


def test_regenerated_files_get_the_permissions_of_the_umask(tmp_path):
    # The one permission policy of tinygraph._files; regenerate used to force 0o644.
    pytest.importorskip("sklearn")
    old = os.umask(0o027)
    try:
        written = regen.regenerate(tmp_path)
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o640}


def test_npz_bytes_is_deterministic_and_pinned():
    arrays = {"b": np.arange(6.0).reshape(2, 3), "a": np.array(["x", "yz"]), "s": np.array(3)}
    blob = regen.npz_bytes(arrays)
    assert blob == regen.npz_bytes(dict(arrays))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.npz"
        write_atomically(path, lambda tmp: tmp.write_bytes(blob))
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            assert [i.filename for i in infos] == ["b.npy", "a.npy", "s.npy"]
            assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        with np.load(path, allow_pickle=False) as npz:
            for k, v in arrays.items():
                assert np.array_equal(npz[k], v) and npz[k].dtype == v.dtype


def test_check_reports_a_tampered_file(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    regen.regenerate(tmp_path)
    assert regen.check(tmp_path) is None
    target = tmp_path / "breast_cancer.npz"
    with np.load(target, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["train_x"] = arrays["train_x"].copy()
    arrays["train_x"][0, 0] += 1.0
    target.write_bytes(regen.npz_bytes(arrays))
    message = regen.check(tmp_path)
    assert "breast_cancer.npz differs from a fresh regeneration" in message
    assert "\n" not in message

    monkeypatch.setattr(regen, "HERE", tmp_path)
    assert regen.main(["--check"]) == 1
    assert "differs" in capsys.readouterr().err
    (tmp_path / "digits.npz").unlink()
    assert "digits.npz is missing" in regen.check(tmp_path)


@given(
    counts=st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_stratified_split_properties(counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[np.random.default_rng(seed).permutation(y.size)]
    tr, te = regen.stratified_split(y, 0.25, seed)
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(y.size))
    assert np.intersect1d(tr, te).size == 0
    for label, count in enumerate(counts):
        assert abs(np.sum(y[te] == label) - 0.25 * count) <= 0.5
    again = regen.stratified_split(y, 0.25, seed)
    assert np.array_equal(again[0], tr) and np.array_equal(again[1], te)


# --------------------------------------------------------------------------
# HDF5


def _write_h5(path, **arrays):
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f[key] = value
    return path


def _cat_like(rng, n, shape=(4, 5, 3)):
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    y = np.tile([0, 1], n)[:n]
    return x, y


def test_h5_two_file_layout_like_the_document(tmp_path):
    rng = np.random.default_rng(0)
    trx, try_ = _cat_like(rng, 6)
    tex, tey = _cat_like(rng, 3)
    train = _write_h5(tmp_path / "train_catvnoncat.h5", train_set_x=trx, train_set_y=try_,
                      list_classes=np.array([b"non-cat", b"cat"]))
    _write_h5(tmp_path / "test_catvnoncat.h5", test_set_x=tex, test_set_y=tey[None, :],
              list_classes=np.array([b"non-cat", b"cat"]))
    ds = load_dataset(str(train), standardize=False)
    assert ds.name == "train_catvnoncat" and ds.classes == ("non-cat", "cat")
    assert ds.train_x.shape == (60, 6) and ds.test_x.shape == (60, 3)
    assert ds.scale == 255.0 and ds.feature_names is None
    # Sample 4, image row 2, column 3, channel 1 -> column 4, row (2*5+3)*3+1.
    assert ds.train_x[(2 * 5 + 3) * 3 + 1, 4] == trx[4, 2, 3, 1] / 255.0
    assert ds.test_x[0, 2] == tex[2, 0, 0, 0] / 255.0
    np.testing.assert_array_equal(ds.train_x, trx.reshape(6, -1).T / 255.0)
    np.testing.assert_array_equal(ds.train_y, try_[None, :].astype(float))
    np.testing.assert_array_equal(ds.test_y, tey[None, :].astype(float))
    assert "test_catvnoncat.h5" in ds.source


def test_h5_single_file_layout_and_standardisation(tmp_path):
    rng = np.random.default_rng(1)
    trx = rng.normal(size=(8, 3))
    tex = rng.normal(size=(5, 3))
    path = _write_h5(tmp_path / "all.hdf5", train_set_x=trx, train_set_y=np.array([0, 1] * 4),
                     test_set_x=tex, test_set_y=np.array([[1], [0], [1], [0], [1]]))
    ds = load_h5(Path(path))
    assert ds.classes == ("0", "1") and ds.scale == 1.0
    np.testing.assert_allclose(ds.mean[:, 0], trx.mean(axis=0))
    np.testing.assert_allclose(ds.test_x, ((tex - trx.mean(axis=0)) / trx.std(axis=0)).T)
    np.testing.assert_array_equal(ds.test_y, [[1.0, 0.0, 1.0, 0.0, 1.0]])
    raw = tmp_path / "all.hdf5"
    np.testing.assert_allclose(ds.transform(tex.T), ds.test_x)
    assert load_dataset(raw, standardize=False).mean is None


def test_h5_own_test_keys_win_over_sibling(tmp_path):
    x = np.ones((2, 2), dtype=np.float32)
    _write_h5(tmp_path / "train_a.h5", train_set_x=x, train_set_y=[0, 1],
              test_set_x=x * 2, test_set_y=[1, 0])
    _write_h5(tmp_path / "test_a.h5", test_set_x=x * 7, test_set_y=[1, 1])
    ds = load_h5(tmp_path / "train_a.h5", standardize=False)
    assert np.all(ds.test_x == 2.0)


@given(
    n=st.integers(min_value=1, max_value=5),
    shape=st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=3),
    seed=st.integers(min_value=0, max_value=1000),
)
@settings(max_examples=25, deadline=None)
def test_h5_flatten_matches_document(n, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    y = rng.integers(0, 2, size=n)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_h5(Path(tmp) / "d.h5", train_set_x=x, train_set_y=y,
                         test_set_x=x[::-1], test_set_y=y[::-1])
        ds = load_h5(path, standardize=False)
    document_flatten = np.transpose(x.reshape(x.shape[0], -1))
    np.testing.assert_array_equal(ds.train_x, document_flatten / 255.0)
    np.testing.assert_array_equal(ds.test_x, document_flatten[:, ::-1] / 255.0)
    np.testing.assert_array_equal(flatten(x), document_flatten)


# --------------------------------------------------------------------------
# errors


def _good(n=4, feat=3):
    return dict(
        train_set_x=np.arange(n * feat, dtype=np.float64).reshape(n, feat),
        train_set_y=np.array([0, 1] * (n // 2)),
        test_set_x=np.zeros((2, feat)),
        test_set_y=np.array([1, 0]),
    )


def _error(path):
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_unknown_name():
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    assert "unknown dataset 'mnist'" in str(info.value)
    assert "digits" in str(info.value) and "breast-cancer" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_missing_file(tmp_path):
    assert "file not found" in _error(str(tmp_path / "nope.h5"))
    assert "file not found" in _error(tmp_path / "nope")


def test_error_not_hdf5(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("just text")
    assert _error(bogus) == f"not an HDF5 file: {bogus}"
    assert "not a file" in _error(tmp_path)


def test_error_missing_keys(tmp_path):
    good = _good()
    del good["train_set_y"]
    msg = _error(_write_h5(tmp_path / "one.h5", **good))
    assert "missing keys train_set_y" in msg

    good = _good()
    del good["test_set_x"], good["test_set_y"]
    msg = _error(_write_h5(tmp_path / "lonely.h5", **good))
    assert "missing keys test_set_x, test_set_y" in msg and "sibling" in msg

    # The sibling exists but lacks a key.
    _write_h5(tmp_path / "train_b.h5", **{k: good[k] for k in ("train_set_x", "train_set_y")})
    _write_h5(tmp_path / "test_b.h5", test_set_x=np.zeros((2, 3)))
    assert _error(tmp_path / "train_b.h5") == "test_b.h5: missing keys test_set_y"


def test_error_sample_counts_differ(tmp_path):
    good = _good()
    good["train_set_y"] = np.array([[0, 1, 0]])
    msg = _error(_write_h5(tmp_path / "n.h5", **good))
    assert "train_set_x has shape (4, 3)" in msg and "train_set_y has shape (1, 3)" in msg

    good = _good()
    good["test_set_y"] = np.zeros((2, 2))
    msg = _error(_write_h5(tmp_path / "m.h5", **good))
    assert "test_set_y has shape (2, 2)" in msg


def test_error_feature_shapes_differ(tmp_path):
    good = _good()
    good["test_set_x"] = np.zeros((2, 5))
    msg = _error(_write_h5(tmp_path / "f.h5", **good))
    assert "(4, 3)" in msg and "(2, 5)" in msg


def test_error_labels_not_binary(tmp_path):
    good = _good()
    good["train_set_y"] = np.array([0, 2, 1, -1])
    msg = _error(_write_h5(tmp_path / "l.h5", **good))
    assert msg == (
        "l.h5:train_set_y must hold only 0/1 labels, found -1, 2 "
        "(for more than two classes, name every class in list_classes)"
    )

    good = _good()
    good["test_set_y"] = np.array([0.5, 1.0])
    assert "found 0.5" in _error(_write_h5(tmp_path / "l2.h5", **good))


def test_error_empty_split(tmp_path):
    good = _good()
    good["test_set_x"] = np.zeros((0, 3))
    good["test_set_y"] = np.zeros((0,))
    msg = _error(_write_h5(tmp_path / "e.h5", **good))
    assert "test_set_x is empty" in msg and "no samples" in msg


def test_error_non_finite_and_classes(tmp_path):
    good = _good()
    good["train_set_x"][1, 1] = np.nan
    assert "NaN or infinite" in _error(_write_h5(tmp_path / "nan.h5", **good))

    good = _good()
    good["list_classes"] = np.array([b"a"])
    assert "needs at least 2" in _error(_write_h5(tmp_path / "c.h5", **good))

    good = _good()
    good["list_classes"] = np.array([b"a", b"b", b"a"])
    assert "names a class more than once ('a')" in _error(_write_h5(tmp_path / "c2.h5", **good))


def test_three_named_classes_take_labels_0_to_2(tmp_path):
    good = _good()
    good["list_classes"] = np.array([b"a", b"b", b"c"])
    good["train_set_y"] = np.array([0, 2, 1, 2])
    ds = load_h5(_write_h5(tmp_path / "three.h5", **good))
    assert ds.classes == ("a", "b", "c") and ds.n_classes == 3
    assert ds.train_y.tolist() == [[0.0, 2.0, 1.0, 2.0]]
    assert "3 classes (a, b, c)" in ds.describe()

    good["train_set_y"] = np.array([0, 3, 1, 2.5])
    assert _error(_write_h5(tmp_path / "bad.h5", **good)) == (
        "bad.h5:train_set_y must hold class labels 0..2 (the 3 classes named), found 2.5, 3"
    )


def test_npz_with_ten_class_names_loads_ten_classes(tmp_path):
    path = tmp_path / "ten.npz"
    y = np.arange(20) % 10
    np.savez(path, train_x=np.eye(20)[:5], train_y=y, test_x=np.ones((5, 3)), test_y=[[9, 0, 3]],
             classes=np.array([f"c{k}" for k in range(10)]))
    ds = load_dataset(path)
    assert ds.n_classes == 10 and ds.test_y.tolist() == [[9.0, 0.0, 3.0]]
    np.savez(path, train_x=np.eye(20)[:5], train_y=y, test_x=np.ones((5, 3)), test_y=[[9, 0, 3]])
    with pytest.raises(DataError, match=r"ten.npz:train_y must hold only 0/1 labels, found 2, 3, 4, 5, 6 and 3 more "
                                        r"\(for more than two classes, name every class in classes\)"):
        load_dataset(path)


def test_error_h5py_missing(tmp_path, monkeypatch):
    path = _write_h5(tmp_path / "ok.h5", **_good())
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    assert 'pip install h5py' in _error(path)


def test_error_missing_bundled_file(monkeypatch):
    monkeypatch.setitem(data._BUNDLED_FILES, "digits", "no_such_file.npz")
    with pytest.raises(DataError, match="bundled file no_such_file.npz is missing"):
        load_dataset("digits")


def test_docstring_examples_run():
    result = doctest.testmod(data, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0
    result = doctest.testmod(regen)
    assert result.attempted >= 1 and result.failed == 0
