"""Rebuild the bundled datasets ``digits.npz``, ``digits10.npz`` and ``breast_cancer.npz``.

Run ``python -m tinygraph_models.datasets.regenerate`` to rewrite the files
next to this module, or add ``--check`` to rebuild them in a temporary
directory and compare bytes with the committed copies (exit status 1 and a
one-line message when they differ).

scikit-learn is needed here and nowhere else: it is only the carrier of the
two UCI datasets. Everything tinygraph does at run time reads the ``.npz``
files with numpy alone (see ``tinygraph_models.data``).

File layout (every array is a plain ``.npy`` member, so
``np.load(path, allow_pickle=False)`` reads all of it):

``train_x`` (features, n_train) float64, raw feature values
``train_y`` (1, n_train) uint8, class labels 0..K-1 (0/1 for the binary sets)
``test_x``, ``test_y``  the same for the held-out quarter
``train_index``, ``test_index``  (n,) int64, row numbers in scikit-learn's order
``classes``  (K,) unicode, the name of label 0, then of label 1, ...
``feature_names``  (features,) unicode
``source``, ``license``, ``task``  0-d unicode
``seed``  0-d int64, the seed of the stratified split
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from tinygraph._files import write_atomically

SEED = 1998
TEST_FRACTION = 0.25
FILES = ("digits.npz", "digits10.npz", "breast_cancer.npz")
HERE = Path(__file__).resolve().parent

# A zip member records a modification time; pinning it (and everything else
# ZipInfo would take from the platform) is what makes the output reproducible.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 9


def stratified_split(y, test_fraction=TEST_FRACTION, seed=SEED):
    """Split sample indices so each class keeps its share in both parts.

    Each class contributes ``round(test_fraction * class_count)`` samples to
    the test part. Only ``Generator.random`` is drawn from (then argsorted),
    because raw doubles are the most stable part of numpy's random streams.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Class label of every sample.
    test_fraction : float
        Share of every class that goes to the test part.
    seed : int
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    train_idx, test_idx : ndarray of int64
        Sorted, disjoint, and together ``arange(n)``.

    Examples
    --------
    >>> tr, te = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], 0.25, seed=0)
    >>> len(tr), len(te), sorted(set(tr) | set(te)) == list(range(8))
    (6, 2, True)
    """
    y = np.asarray(y).ravel()
    rng = np.random.default_rng(seed)
    test_parts = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        order = np.argsort(rng.random(members.size), kind="stable")
        n_test = int(round(test_fraction * members.size))
        test_parts.append(members[order[:n_test]])
    test_idx = np.sort(np.concatenate(test_parts)).astype(np.int64)
    train_mask = np.ones(y.size, dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_idx


def _package(x, y, classes, feature_names, source, license_, task, seed):
    """Turn samples-first data and class labels into the file's arrays, split
    stratified by those labels."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.uint8)
    train_idx, test_idx = stratified_split(y, TEST_FRACTION, seed)
    # Insertion order is the member order in the zip, so it is fixed here.
    return {
        "train_x": np.ascontiguousarray(x[train_idx].T),
        "train_y": np.ascontiguousarray(y[train_idx][None, :]),
        "test_x": np.ascontiguousarray(x[test_idx].T),
        "test_y": np.ascontiguousarray(y[test_idx][None, :]),
        "train_index": train_idx,
        "test_index": test_idx,
        "classes": np.array(classes, dtype=str),
        "feature_names": np.array(list(feature_names), dtype=str),
        "source": np.array(source, dtype=str),
        "license": np.array(license_, dtype=str),
        "task": np.array(task, dtype=str),
        "seed": np.array(seed, dtype=np.int64),
    }


def _sklearn_datasets():
    try:
        import sklearn.datasets as skd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "regenerating the datasets needs scikit-learn: "
            'pip install scikit-learn (or pip install -e ".[test]" in a tinygraph checkout)'
        ) from exc
    return skd


def build_digits(seed=SEED):
    """Arrays for ``digits.npz``: handwritten digits 0-4 (label 0) vs 5-9 (label 1)."""
    digits = _sklearn_datasets().load_digits()
    return _package(
        digits.data,
        (digits.target >= 5).astype(np.uint8),
        classes=["digit 0-4", "digit 5-9"],
        feature_names=digits.feature_names,
        source=(
            "UCI ML Repository: Optical Recognition of Handwritten Digits "
            "(E. Alpaydin, C. Kaynak, 1998), doi:10.24432/C50P49; "
            "8x8 copy bundled with scikit-learn (sklearn.datasets.load_digits)"
        ),
        license_="CC BY 4.0",
        task="binary: digit 0-4 -> 0, digit 5-9 -> 1; raw pixel counts 0..16",
        seed=seed,
    )


def build_digits10(seed=SEED):
    """Arrays for ``digits10.npz``: the same handwritten digits, ten classes (label = digit).

    The split is :func:`stratified_split` with the same seed as ``digits.npz``,
    stratified by the ten digits, so each digit keeps its quarter in the test part
    (the binary file's split, stratified by 0-4 / 5-9, keeps 23-28 % of each digit).
    """
    digits = _sklearn_datasets().load_digits()
    return _package(
        digits.data,
        digits.target.astype(np.uint8),
        classes=[str(d) for d in range(10)],
        feature_names=digits.feature_names,
        source=(
            "UCI ML Repository: Optical Recognition of Handwritten Digits "
            "(E. Alpaydin, C. Kaynak, 1998), doi:10.24432/C50P49; "
            "8x8 copy bundled with scikit-learn (sklearn.datasets.load_digits)"
        ),
        license_="CC BY 4.0",
        task="ten classes: label = the digit 0..9; raw pixel counts 0..16 of an 8x8 image, row by row",
        seed=seed,
    )


def build_breast_cancer(seed=SEED):
    """Arrays for ``breast_cancer.npz``: malignant (label 1) vs benign (label 0).

    scikit-learn encodes benign as 1 and malignant as 0; the label is flipped
    so that 1 means the finding a screening classifier is looking for.
    """
    bc = _sklearn_datasets().load_breast_cancer()
    names = list(bc.target_names)
    if names != ["malignant", "benign"]:  # the flip below relies on this order
        raise SystemExit(f"unexpected breast cancer target names {names}")
    return _package(
        bc.data,
        (bc.target == 0).astype(np.uint8),
        classes=["benign", "malignant"],
        feature_names=bc.feature_names,
        source=(
            "UCI ML Repository: Breast Cancer Wisconsin (Diagnostic) "
            "(W. Wolberg, W. Street, O. Mangasarian, 1995), doi:10.24432/C5DW2B; "
            "copy bundled with scikit-learn (sklearn.datasets.load_breast_cancer)"
        ),
        license_="CC BY 4.0",
        task="binary: benign -> 0, malignant -> 1 (scikit-learn's target flipped)",
        seed=seed,
    )


BUILDERS = {"digits.npz": build_digits, "digits10.npz": build_digits10, "breast_cancer.npz": build_breast_cancer}


def npz_bytes(arrays):
    """Serialise ``arrays`` (name -> ndarray) as a reproducible ``.npz``.

    Same members, same order, same bytes every time on a given zlib: member
    dates, permissions and creator system are pinned instead of taken from
    the clock and the platform.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=_ZIP_LEVEL)
    return out.getvalue()


def regenerate(out_dir=None):
    """Write every dataset file into ``out_dir`` (default: next to this
    module) and return their paths."""
    out_dir = Path(HERE if out_dir is None else out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename in FILES:
        path = out_dir / filename
        blob = npz_bytes(BUILDERS[filename]())
        write_atomically(path, lambda tmp, blob=blob: tmp.write_bytes(blob))
        paths.append(path)
    return paths


def _same_arrays(a, b):
    with np.load(a, allow_pickle=False) as fa, np.load(b, allow_pickle=False) as fb:
        return list(fa.files) == list(fb.files) and all(
            fa[k].dtype == fb[k].dtype and np.array_equal(fa[k], fb[k]) for k in fa.files
        )


def check(committed_dir=None):
    """Return None if a fresh build matches ``committed_dir`` (default: next
    to this module) byte for byte, else a one-line description of the first
    difference."""
    committed_dir = Path(HERE if committed_dir is None else committed_dir)
    with tempfile.TemporaryDirectory() as tmp:
        for fresh in regenerate(tmp):
            old = committed_dir / fresh.name
            if not old.is_file():
                return f"{old} is missing; run python -m tinygraph_models.datasets.regenerate"
            if old.read_bytes() == fresh.read_bytes():
                continue
            # Telling "different data" apart from "same data, different
            # compressor output" (another zlib build) saves a confused hunt.
            if _same_arrays(old, fresh):
                return (
                    f"{old} holds the same arrays but different bytes "
                    "(the zlib deflate output differs on this machine)"
                )
            return (
                f"{old} differs from a fresh regeneration; run "
                "python -m tinygraph_models.datasets.regenerate and commit the result"
            )
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tinygraph_models.datasets.regenerate",
        description="Rebuild the bundled digits, ten-class digits and breast cancer datasets.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in a temporary directory and compare bytes with the committed files",
    )
    args = parser.parse_args(argv)
    if args.check:
        problem = check()
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print("datasets are up to date")
        return 0
    for path in regenerate():
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
