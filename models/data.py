"""Datasets for the classifiers: three bundled real sets, .npz files and HDF5 files.

Everything here returns data in the document's convention: ``X`` has one
column per sample, shape (features, N), and ``Y`` is a row, shape (1, N),
holding 0.0/1.0 (for ten classes: the class label 0.0..9.0).

Bundled (numpy only, no extra dependency): ``"digits"`` (handwritten digits
0-4 vs 5-9), ``"digits10"`` (the same digits, ten classes) and
``"breast-cancer"`` (benign vs malignant). A ``.npz`` file in
the bundled files' layout (``train_x`` (features, n), ``train_y`` (1, n),
``test_x``, ``test_y``) loads with numpy alone too. HDF5 files in the
layout of the document's cat/non-cat data need ``h5py``
(``pip install h5py``, or ``pip install -e ".[h5]"`` in a checkout). Details and provenance are in
``docs/datasets.md``.

Any input problem (a missing, truncated, damaged or mis-shaped file) raises
:class:`DataError` with a one-line message naming the file and what is wrong.
Files are always read with ``allow_pickle=False``: a dataset never runs code.
"""

from __future__ import annotations

import importlib.resources
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BUNDLED",
    "DataError",
    "Dataset",
    "flatten",
    "load_bundled",
    "load_dataset",
    "load_h5",
    "load_npz",
]

#: Names accepted by :func:`load_dataset` for the bundled sets.
BUNDLED = ("digits", "digits10", "breast-cancer")

_BUNDLED_FILES = {
    "digits": "digits.npz",
    "digits10": "digits10.npz",
    "breast-cancer": "breast_cancer.npz",
    "breast_cancer": "breast_cancer.npz",
}
_H5_TRAIN_KEYS = ("train_set_x", "train_set_y")
_H5_TEST_KEYS = ("test_set_x", "test_set_y")
_H5_CLASSES_KEY = "list_classes"
_H5_SUFFIXES = (".h5", ".hdf5", ".he5")
_NPZ_KEYS = ("train_x", "train_y", "test_x", "test_y")
_NPZ_LAYOUT = "train_x (features, n_train), train_y (1, n_train), test_x (features, n_test), test_y (1, n_test)"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NPY_SIGNATURE = b"\x93NUMPY"


class DataError(ValueError):
    """A dataset could not be found, read or understood.

    The message is one line naming the problem, meant to be shown as is.
    """


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset split into train and test parts.

    Attributes
    ----------
    train_x, test_x : ndarray of float64, shape (n_features, n_train / n_test)
        One column per sample. Read-only.
    train_y, test_y : ndarray of float64, shape (1, n_train / n_test)
        Labels: 0.0 or 1.0 for two classes, the class index 0.0..K-1 for K.
        Read-only.
    classes : tuple of str
        ``classes[k]`` names label k; two names for a binary task.
    feature_names : tuple of str or None
        One name per row of ``train_x`` when the source provides them.
    name : str
        Short name (bundled name, or the HDF5 file's stem).
    mean, std : ndarray of float64, shape (n_features, 1), or None
        The standardisation applied to both splits, computed on the training
        split only; None when the data were not standardised.
    scale : float
        Raw file values were divided by this before standardising (255.0 for
        uint8 images, else 1.0).
    source : str
        Where the data came from.

    Examples
    --------
    >>> ds = load_dataset("breast-cancer")
    >>> ds.n_features, ds.train_x.shape[1] + ds.test_x.shape[1]
    (30, 569)
    >>> ds.classes
    ('benign', 'malignant')
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple
    feature_names: tuple | None
    name: str
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    scale: float = 1.0
    source: str = ""

    @property
    def n_features(self) -> int:
        """Number of input features (rows of ``train_x``)."""
        return int(self.train_x.shape[0])

    @property
    def n_classes(self) -> int:
        """Number of classes K (2 for a binary task)."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.train_x.shape[1])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.test_x.shape[1])

    @property
    def standardized(self) -> bool:
        """Whether ``mean``/``std`` were applied to the splits."""
        return self.mean is not None

    def transform(self, x) -> np.ndarray:
        """Prepare new raw samples exactly like this dataset's splits.

        Parameters
        ----------
        x : array_like, shape (n_features, n)
            Raw values as stored in the source file, one column per sample
            (use :func:`flatten` first for samples-first images).

        Returns
        -------
        ndarray of float64, shape (n_features, n)
            ``x / scale``, then standardised with the training ``mean`` and
            ``std`` if this dataset was standardised.

        Examples
        --------
        >>> ds = load_dataset("digits")
        >>> raw = load_dataset("digits", standardize=False)
        >>> bool(np.allclose(ds.transform(raw.test_x), ds.test_x))
        True
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_features:
            raise DataError(
                f"expected shape ({self.n_features}, n) for {self.name}, got {x.shape}"
            )
        x = x / self.scale
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def describe(self) -> str:
        """One line summarising sizes, classes and class balance.

        Examples
        --------
        >>> print(load_dataset("digits").describe())  # doctest: +NORMALIZE_WHITESPACE
        digits: 64 features, train 1348 (676 digit 0-4 / 672 digit 5-9),
        test 449 (225 / 224), standardised with train mean/std
        >>> print(load_dataset("digits10").describe())  # doctest: +NORMALIZE_WHITESPACE
        digits10: 64 features, 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
        train 1347 (130 to 137 per class), test 450 (44 to 46 per class),
        standardised with train mean/std
        """
        prep = "standardised with train mean/std" if self.standardized else "raw features"
        if self.scale != 1.0:
            prep = f"divided by {self.scale:g}, " + prep
        if self.n_classes > 2:
            counts = [np.bincount(y.astype(np.int64).ravel(), minlength=self.n_classes) for y in (self.train_y, self.test_y)]
            shown = ", ".join(self.classes[:12]) + (", ..." if self.n_classes > 12 else "")
            spread = [f"{c.min()} to {c.max()} per class" if c.min() != c.max() else f"{c.min()} per class" for c in counts]
            return (
                f"{self.name}: {self.n_features} features, {self.n_classes} classes ({shown}), "
                f"train {self.n_train} ({spread[0]}), test {self.n_test} ({spread[1]}), {prep}"
            )
        n1_train = int(self.train_y.sum())
        n1_test = int(self.test_y.sum())
        return (
            f"{self.name}: {self.n_features} features, "
            f"train {self.n_train} ({self.n_train - n1_train} {self.classes[0]} / "
            f"{n1_train} {self.classes[1]}), "
            f"test {self.n_test} ({self.n_test - n1_test} / {n1_test}), {prep}"
        )


def flatten(x) -> np.ndarray:
    """Turn samples-first data (N, ...) into one column per sample.

    This is the document's ``flatten``: each sample is unrolled in C order
    (for an image (N, h, w, c): row by row, pixel by pixel, channel fastest)
    and becomes a column, giving shape (h*w*c, N).

    Parameters
    ----------
    x : array_like, shape (N, ...)

    Returns
    -------
    ndarray, shape (prod(x.shape[1:]), N)

    Examples
    --------
    >>> images = np.arange(2 * 2 * 2 * 3).reshape(2, 2, 2, 3)
    >>> flatten(images).shape
    (12, 2)
    >>> int(flatten(images)[5, 1]) == int(images[1, 0, 1, 2])
    True
    """
    x = np.asarray(x)
    return np.transpose(x.reshape(x.shape[0], -1))


def _dataset(
    name,
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    x_names,
    y_names,
    classes,
    feature_names,
    standardize,
    source,
    classes_key="classes",
):
    """Validate samples-first arrays and build a :class:`Dataset`.

    ``x_names``/``y_names`` name the (train, test) arrays in error messages so
    the user sees the key they need to fix. Labels must be whole numbers in
    ``[0, len(classes))``: 0/1 unless more than two classes are named (in the
    file's ``classes_key``).
    """
    n_classes = len(classes)
    splits = []
    for x, y, xn, yn in zip((train_x, test_x), (train_y, test_y), x_names, y_names):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim == 0:
            raise DataError(f"{xn} is a scalar; expected an array shaped (samples, ...)")
        if x.shape[0] == 0:
            raise DataError(f"{xn} is empty (shape {x.shape}): the split has no samples")
        # (N,), (1, N) and (N, 1) all name N labels unambiguously.
        if y.ndim == 2 and 1 in y.shape:
            y_flat = y.reshape(-1)
        elif y.ndim == 1:
            y_flat = y
        else:
            y_flat = None
        if y_flat is None or y_flat.shape[0] != x.shape[0]:
            raise DataError(
                f"{xn} has shape {x.shape} but {yn} has shape {y.shape}: "
                f"expected {x.shape[0]} labels shaped ({x.shape[0]},) or (1, {x.shape[0]})"
            )
        if x.dtype.kind not in "biuf":
            raise DataError(f"{xn} has non-numeric dtype {x.dtype}")
        if y_flat.dtype.kind not in "biuf":
            raise DataError(f"{yn} has non-numeric dtype {y_flat.dtype}")
        labels = np.unique(y_flat)
        bad = labels[~((labels >= 0) & (labels < n_classes) & (labels == np.floor(labels)))]
        if bad.size:
            shown = ", ".join(f"{v:g}" for v in bad[:5].astype(np.float64))
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            if n_classes == 2:
                raise DataError(
                    f"{yn} must hold only 0/1 labels, found {shown}{more} "
                    f"(for more than two classes, name every class in {classes_key})"
                )
            raise DataError(
                f"{yn} must hold class labels 0..{n_classes - 1} (the {n_classes} classes named), found {shown}{more}"
            )
        splits.append((x, y_flat))

    (tr_x, tr_y), (te_x, te_y) = splits
    if tr_x.shape[1:] != te_x.shape[1:]:
        raise DataError(
            f"{x_names[0]} has shape {tr_x.shape} but {x_names[1]} has shape {te_x.shape}: "
            "samples differ in shape"
        )
    # uint8 is how images are stored; /255 is the document's scaling to [0, 1].
    # The training dtype decides for both splits so they stay in one unit.
    scale = 255.0 if tr_x.dtype == np.uint8 else 1.0
    tr_x = flatten(tr_x).astype(np.float64) / scale
    te_x = flatten(te_x).astype(np.float64) / scale
    if tr_x.shape[0] == 0:
        raise DataError(f"{x_names[0]} has shape {splits[0][0].shape}: samples have no features")
    for x, xn in ((tr_x, x_names[0]), (te_x, x_names[1])):
        if not np.isfinite(x).all():
            raise DataError(f"{xn} contains NaN or infinite values")

    mean = std = None
    if standardize:
        mean = tr_x.mean(axis=1, keepdims=True)
        std = tr_x.std(axis=1, keepdims=True)
        # A feature constant in the training split carries no information and
        # would divide by zero (or by rounding noise when the constant is not
        # exactly representable); leave it centred but unscaled.
        std[std <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        tr_x = (tr_x - mean) / std
        te_x = (te_x - mean) / std

    arrays = [tr_x, tr_y.astype(np.float64)[None, :], te_x, te_y.astype(np.float64)[None, :]]
    for extra in (mean, std):
        if extra is not None:
            arrays.append(extra)
    for arr in arrays:
        arr.setflags(write=False)
    return Dataset(
        train_x=arrays[0],
        train_y=arrays[1],
        test_x=arrays[2],
        test_y=arrays[3],
        classes=tuple(classes),
        feature_names=None if feature_names is None else tuple(feature_names),
        name=name,
        mean=mean,
        std=std,
        scale=scale,
        source=source,
    )


def _check_classes(classes, where):
    classes = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in classes]
    if len(classes) < 2:
        raise DataError(
            f"{where} lists {len(classes)} class(es) {classes}; a classification task needs at least 2"
        )
    if len(set(classes)) != len(classes):
        twice = sorted({c for c in classes if classes.count(c) > 1})
        raise DataError(f"{where} names a class more than once ({', '.join(map(repr, twice))}); each label needs its own name")
    return classes


def load_bundled(name: str, *, standardize: bool = True) -> Dataset:
    """Load one of the datasets shipped with tinygraph.

    Parameters
    ----------
    name : {"digits", "digits10", "breast-cancer", "breast_cancer"}
    standardize : bool
        Standardise every feature with the training split's mean and std.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Unknown name, or the bundled file is missing or damaged.

    Examples
    --------
    >>> ds = load_bundled("digits", standardize=False)
    >>> ds.train_x.shape, ds.test_y.shape
    ((64, 1348), (1, 449))
    >>> float(ds.train_x.max())
    16.0
    """
    key = str(name).strip().lower()
    if key not in _BUNDLED_FILES:
        raise DataError(
            f"unknown dataset {name!r}; valid names are {', '.join(BUNDLED)} "
            "or a path to a .npz, .h5 or .hdf5 file"
        )
    filename = _BUNDLED_FILES[key]
    resource = importlib.resources.files("tinygraph_models.datasets").joinpath(filename)
    rebuild = "rebuild it with python -m tinygraph_models.datasets.regenerate"
    if not resource.is_file():
        raise DataError(f"bundled file {filename} is missing; {rebuild}")
    with importlib.resources.as_file(resource) as path:
        try:
            arrays = _read_npz(path, f"bundled file {path}")
        except DataError as err:
            raise DataError(f"{err}; {rebuild}") from None
        canonical = "breast-cancer" if key == "breast_cancer" else key
        return _npz_dataset(canonical, arrays, path, standardize=standardize)


def load_npz(path, *, standardize: bool = True) -> Dataset:
    """Load a ``.npz`` file laid out like the bundled datasets.

    Expected arrays: ``train_x`` (features, n_train) and ``train_y`` (1, n_train)
    or (n_train,) with 0/1 labels, the same for ``test_x``/``test_y``;
    optionally ``classes`` (two names; K names for K classes, whose labels are
    then 0..K-1), ``feature_names`` (one per feature) and ``source``. ``np.savez(path, train_x=..., train_y=..., test_x=...,
    test_y=...)`` writes one. The file is read with ``allow_pickle=False``.

    Parameters
    ----------
    path : str or os.PathLike
    standardize : bool
        Standardise every feature with the training split's mean and std.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        One line naming the file and what is wrong: missing, empty, not a .npz
        archive (text, a single .npy array, an HDF5 file), truncated or damaged,
        an array missing or mis-shaped, labels other than 0/1 (0..K-1 when K
        classes are named), Python objects.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, train_x=np.eye(3), train_y=[[0, 1, 1]], test_x=np.ones((3, 2)), test_y=[[1, 0]])
    >>> ds = load_npz(path, standardize=False)
    >>> ds.name, ds.train_x.shape, ds.test_y.tolist(), ds.classes
    ('toy', (3, 3), [[1.0, 0.0]], ('0', '1'))
    >>> np.savez(path, train_x=np.eye(3), train_y=[[0, 1, 1]])
    >>> load_npz(path)
    Traceback (most recent call last):
    ...
    tinygraph_models.data.DataError: toy.npz: missing test_x, test_y (a dataset .npz holds train_x (features, n_train), ...; this one holds train_x, train_y)
    """
    path = Path(os.fspath(path))
    return _npz_dataset(path.stem, _read_npz(path, str(path)), path, standardize=standardize)


def _describe_start(head: bytes) -> str:
    """What a file that is not the expected kind looks like, from its first bytes."""
    if head.startswith(_HDF5_SIGNATURE):
        return "it is an HDF5 file; give it an .h5 or .hdf5 name"
    if head.startswith(_NPY_SIGNATURE):
        return "it holds a single numpy array (.npy), not an archive of arrays"
    if head.startswith(b"PK"):
        return "it is a zip archive"
    text = head.decode("utf-8", "ignore")  # "ignore": the 64 bytes may end inside a character
    if text and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "it holds text"
    return f"it starts with the bytes {head[:8]!r}"


def _head(path: Path, size: int = 64) -> bytes:
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if not path.is_file():
        raise DataError(f"not a file: {path}")
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def _read_npz(path: Path, shown: str) -> dict:
    """Every array of the .npz at ``path``; problems as one-line DataErrors about ``shown``."""
    head = _head(path)
    if not head:
        raise DataError(f"{shown}: the file is empty (0 bytes), not a .npz archive")
    if not head.startswith(b"PK"):
        raise DataError(f"{shown}: not a .npz archive; {_describe_start(head)}")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    value = npz[key]
                except ValueError as err:
                    if "pickle" in str(err) or "Object arrays" in str(err):
                        raise DataError(
                            f"{shown}: {key} holds Python objects, which tinygraph never loads (they could run "
                            "code); store numbers, or strings as a numpy string array"
                        ) from None
                    raise DataError(f"{shown}: {key} is damaged ({_one_line(err)})") from None
                except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
                    raise DataError(f"{shown}: {key} is damaged ({_one_line(err)}); the file may be truncated") from None
                if not isinstance(value, np.ndarray):
                    raise DataError(f"{shown}: member {key} is not a numpy array (.npy)")
                arrays[key] = value
    except DataError:
        raise
    except zipfile.BadZipFile as err:
        raise DataError(f"{shown}: damaged .npz archive ({_one_line(err)}); the file is truncated or corrupt") from None
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise DataError(f"{shown}: unreadable .npz archive ({_one_line(err)})") from None
    return arrays


def _one_line(err) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _npz_dataset(name: str, arrays: dict, path: Path, *, standardize: bool) -> Dataset:
    """Check the bundled layout in the file's own terms, then build the Dataset."""
    where = path.name
    missing = [k for k in _NPZ_KEYS if k not in arrays]
    if missing:
        found = ", ".join(arrays) or "no arrays"
        raise DataError(f"{where}: missing {', '.join(missing)} (a dataset .npz holds {_NPZ_LAYOUT}; this one holds {found})")
    for x_key, y_key in (("train_x", "train_y"), ("test_x", "test_y")):
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim != 2:
            raise DataError(f"{where}: {x_key} has shape {x.shape}; expected (features, samples), one column per sample")
        n = x.shape[1]
        if not (y.shape == (n,) or y.shape == (1, n)):
            raise DataError(
                f"{where}: {y_key} has shape {y.shape} but {x_key} has shape {x.shape}: "
                f"expected (1, {n}), one label per column"
            )
        if n == 0:
            raise DataError(f"{where}: {x_key} is empty (shape {x.shape}): the split has no samples")
    if arrays["train_x"].shape[0] != arrays["test_x"].shape[0]:
        raise DataError(
            f"{where}: train_x has shape {arrays['train_x'].shape} but test_x has shape {arrays['test_x'].shape}: "
            "the splits have different numbers of features (rows)"
        )
    n_features = arrays["train_x"].shape[0]
    classes = ["0", "1"]
    if "classes" in arrays:
        if arrays["classes"].ndim != 1 or arrays["classes"].dtype.kind not in "US":
            raise DataError(
                f"{where}: classes has shape {arrays['classes'].shape} and dtype {arrays['classes'].dtype}; "
                "expected a list of names, one per class"
            )
        classes = _check_classes(arrays["classes"].tolist(), f"{where}:classes")
    feature_names = None
    if "feature_names" in arrays:
        names = arrays["feature_names"]
        if names.shape != (n_features,):
            raise DataError(f"{where}: feature_names has shape {names.shape}; expected ({n_features},), one per row of train_x")
        feature_names = [str(f) for f in names]
    source = str(arrays["source"]) if "source" in arrays and arrays["source"].ndim == 0 else str(path)
    return _dataset(
        name,
        # The files store (features, N); _dataset takes samples first.
        arrays["train_x"].T,
        arrays["train_y"],
        arrays["test_x"].T,
        arrays["test_y"],
        x_names=(f"{where}:train_x", f"{where}:test_x"),
        y_names=(f"{where}:train_y", f"{where}:test_y"),
        classes=classes,
        feature_names=feature_names,
        standardize=standardize,
        source=source,
    )


def _sibling_test_file(path: Path) -> Path | None:
    """``train_catvnoncat.h5`` -> ``test_catvnoncat.h5`` (the document's pair)."""
    if "train" not in path.name:
        return None
    candidate = path.with_name(path.name.replace("train", "test", 1))
    return candidate if candidate.is_file() else None


def _require_h5py():
    try:
        import h5py
    except ImportError:
        raise DataError(
            'reading HDF5 files needs h5py: pip install h5py (or pip install -e ".[h5]" in a tinygraph checkout)'
        ) from None
    return h5py


def _open_h5(h5py, path: Path):
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if not path.is_file():
        raise DataError(f"not a file: {path}")
    try:
        if not h5py.is_hdf5(str(path)):
            raise DataError(f"not an HDF5 file: {path}")
        return h5py.File(str(path), "r")
    except OSError as exc:
        raise DataError(f"cannot read HDF5 file {path}: {_one_line(exc)}; the file may be truncated or damaged") from None


def _read_keys(h5py, handle, path: Path, keys):
    out = {}
    for key in keys:
        try:
            obj = handle[key]
            if not isinstance(obj, h5py.Dataset):
                raise DataError(f"{path.name}: {key} is an HDF5 group, expected an array")
            out[key] = obj[()]
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: {key} is unreadable ({_one_line(exc)}); the file may be truncated or damaged") from None
    return out


def _h5_keys(handle, path: Path) -> set:
    try:
        return set(handle.keys())
    except (OSError, KeyError, RuntimeError) as exc:
        raise DataError(f"{path}: cannot list its arrays ({_one_line(exc)}); the file may be truncated or damaged") from None


def load_h5(path, *, standardize: bool = True) -> Dataset:
    """Load an HDF5 file laid out like the document's cat/non-cat data.

    Expected keys: ``train_set_x`` (N, ...) and ``train_set_y`` (N,) or
    (1, N) with 0/1 labels, the same for ``test_set_x``/``test_set_y``, and
    optionally ``list_classes`` (the class names, bytes or str: two, or K for labels 0..K-1; defaults to
    ``("0", "1")``).

    Two layouts work:

    * one file holding all four arrays;
    * the document's pair: ``path`` holds the train arrays and a sibling
      file, named like ``path`` with the first ``train`` replaced by ``test``
      (``train_catvnoncat.h5`` -> ``test_catvnoncat.h5``), holds the test
      arrays. Test arrays inside ``path`` itself take precedence.

    Samples are flattened to (features, N) as in the document (see
    :func:`flatten`); uint8 images are divided by 255.

    Parameters
    ----------
    path : str or os.PathLike
    standardize : bool
        Standardise every feature with the training split's mean and std.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        h5py missing, file missing or not HDF5, keys missing, shapes that do
        not agree, labels other than 0/1 (0..K-1 for K class names), empty splits.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> tmp = tempfile.mkdtemp()
    >>> with h5py.File(os.path.join(tmp, "train_toy.h5"), "w") as f:
    ...     f["train_set_x"] = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    ...     f["train_set_y"] = np.array([0, 1, 0, 1])
    ...     f["list_classes"] = np.array([b"non-toy", b"toy"])
    >>> with h5py.File(os.path.join(tmp, "test_toy.h5"), "w") as f:
    ...     f["test_set_x"] = np.full((2, 2, 2, 3), 255, dtype=np.uint8)
    ...     f["test_set_y"] = np.array([[1, 0]])
    >>> ds = load_h5(os.path.join(tmp, "train_toy.h5"), standardize=False)
    >>> ds.train_x.shape, ds.test_x.shape, float(ds.test_x.max()), ds.classes
    ((12, 4), (12, 2), 1.0, ('non-toy', 'toy'))
    """
    h5py = _require_h5py()
    path = Path(os.fspath(path))
    with _open_h5(h5py, path) as handle:
        present = _h5_keys(handle, path)
        missing_train = [k for k in _H5_TRAIN_KEYS if k not in present]
        if missing_train:
            raise DataError(
                f"{path.name}: missing keys {', '.join(missing_train)} "
                f"(expected {', '.join(_H5_TRAIN_KEYS + _H5_TEST_KEYS)})"
            )
        arrays = _read_keys(h5py, handle, path, _H5_TRAIN_KEYS)
        classes_raw = _read_keys(h5py, handle, path, [_H5_CLASSES_KEY])[_H5_CLASSES_KEY] if _H5_CLASSES_KEY in present else None
        test_from = path
        missing_test = [k for k in _H5_TEST_KEYS if k not in present]
        if not missing_test:
            arrays.update(_read_keys(h5py, handle, path, _H5_TEST_KEYS))

    if missing_test:
        sibling = _sibling_test_file(path)
        if sibling is None:
            raise DataError(
                f"{path.name}: missing keys {', '.join(missing_test)} and no sibling "
                "test file (e.g. train_x.h5 -> test_x.h5) next to it"
            )
        test_from = sibling
        with _open_h5(h5py, sibling) as handle:
            present = _h5_keys(handle, sibling)
            still_missing = [k for k in _H5_TEST_KEYS if k not in present]
            if still_missing:
                raise DataError(f"{sibling.name}: missing keys {', '.join(still_missing)}")
            arrays.update(_read_keys(h5py, handle, sibling, _H5_TEST_KEYS))
            if classes_raw is None and _H5_CLASSES_KEY in present:
                classes_raw = _read_keys(h5py, handle, sibling, [_H5_CLASSES_KEY])[_H5_CLASSES_KEY]

    classes = (
        ["0", "1"]
        if classes_raw is None
        else _check_classes(np.atleast_1d(classes_raw), f"{path.name}:{_H5_CLASSES_KEY}")
    )
    source = str(path) if test_from == path else f"{path} + {test_from}"
    return _dataset(
        path.stem,
        arrays["train_set_x"],
        arrays["train_set_y"],
        arrays["test_set_x"],
        arrays["test_set_y"],
        x_names=(f"{path.name}:train_set_x", f"{test_from.name}:test_set_x"),
        y_names=(f"{path.name}:train_set_y", f"{test_from.name}:test_set_y"),
        classes=classes,
        feature_names=None,
        standardize=standardize,
        source=source,
        classes_key=_H5_CLASSES_KEY,
    )


def load_dataset(name_or_path, *, standardize: bool = True) -> Dataset:
    """Load a bundled dataset by name, or a .npz or HDF5 file by path.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        ``"digits"``, ``"digits10"``, ``"breast-cancer"`` (or ``"breast_cancer"``), the path
        of a ``.npz`` file in the bundled layout (see :func:`load_npz`) or of
        an HDF5 file in the document's layout (see :func:`load_h5`). A file
        named otherwise is recognised by its content.
    standardize : bool, default True
        Standardise every feature with the mean and std of the training
        split (features constant in training are only centred); the stats
        are kept on the result as ``mean``/``std``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        For any unknown name or unusable file; the message is one line.

    Examples
    --------
    >>> ds = load_dataset("digits")
    >>> ds.train_x.shape, ds.train_y.shape, ds.train_x.dtype.name
    ((64, 1348), (1, 1348), 'float64')
    >>> sorted(set(ds.train_y.ravel().tolist()))
    [0.0, 1.0]
    >>> load_dataset("mnist")
    Traceback (most recent call last):
    ...
    tinygraph_models.data.DataError: unknown dataset 'mnist'; valid names are digits, digits10, breast-cancer or a path to a .npz, .h5 or .hdf5 file
    """
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in _BUNDLED_FILES:
        return load_bundled(name_or_path, standardize=standardize)
    try:
        path = Path(os.fspath(name_or_path))
    except TypeError:
        raise DataError(
            f"expected a dataset name or a path, got {type(name_or_path).__name__}"
        ) from None
    suffix = path.suffix.lower()
    looks_like_path = (
        not isinstance(name_or_path, str)
        or path.exists()
        or suffix in _H5_SUFFIXES + (".npz",)
        or os.sep in str(name_or_path)
        or (os.altsep is not None and os.altsep in str(name_or_path))
    )
    if not looks_like_path:
        return load_bundled(name_or_path, standardize=standardize)
    if suffix == ".npz":
        return load_npz(path, standardize=standardize)
    if suffix in _H5_SUFFIXES:
        return load_h5(path, standardize=standardize)
    # Any other name: the content decides.
    head = _head(path)
    if head.startswith(b"PK"):
        return load_npz(path, standardize=standardize)
    if head.startswith(_HDF5_SIGNATURE):
        return load_h5(path, standardize=standardize)
    what = "the file is empty (0 bytes)" if not head else _describe_start(head)
    raise DataError(
        f"{path}: neither a .npz archive nor an HDF5 file ({what}); a dataset file holds {_NPZ_LAYOUT} "
        "in a .npz, or the document's train_set_x, train_set_y, test_set_x, test_set_y in an HDF5 file"
    )
