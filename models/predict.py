"""``tinygraph predict``: classify data with a network that ``tinygraph train`` saved.

A run folder's ``params.npz`` holds the weights and everything new inputs must go
through first: the scale the training file's values were divided by and the training
split's mean and std. New data is read raw and prepared exactly as the training data
was, so predicting the run's own test split gives the accuracy ``metrics.json``
recorded, bit for bit.

What can be classified:

* a dataset: a bundled name, a ``.npz`` in the bundled layout or an HDF5 file in the
  document's layout; one split of it (``test`` by default), with its labels;
* new samples without labels: a ``.npz`` holding ``x`` (features, n), and optionally
  ``y`` (1, n) with 0/1 labels (class indices 0..C-1 for a run of C classes).

A binary run's CSV gives, for every sample, the probability of class 1 (``A_L``); a run
of the ten-class models (softmax, mlp, cnn) gives the probability of the predicted
class (the largest entry of the softmax column).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygraph_models.data import DataError, _read_npz, load_dataset

__all__ = ["Inputs", "Predictions", "Run", "load_inputs", "load_run", "predict", "write_predictions"]


@dataclass
class Run:
    """A trained network and the preparation its inputs need."""

    path: Path
    network: object  # nets.Network
    scale: float
    mean: np.ndarray | None
    std: np.ndarray | None
    classes: tuple
    config: dict

    @property
    def n_features(self) -> int:
        return self.network.n_units[0]

    def prepare(self, x: np.ndarray, scale: float) -> np.ndarray:
        """Inputs already divided by ``scale`` (their file's), prepared as the training data was."""
        if scale != self.scale:
            x = x * (scale / self.scale)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x


@dataclass
class Inputs:
    """Samples to classify: ``x`` (features, n) already divided by ``scale``; ``y`` (n,) or None."""

    x: np.ndarray
    y: np.ndarray | None
    scale: float
    name: str
    classes: tuple | None = None  # the dataset's class names; None for a .npz of samples


@dataclass
class Predictions:
    """What :func:`predict` found for each sample."""

    probability: np.ndarray  # (n,) P(class 1) for a binary run, else P(the predicted class)
    prediction: np.ndarray  # (n,) the class index: 0/1 for a binary run
    labels: np.ndarray | None  # (n,) class indices, when the data had labels
    classes: tuple
    name: str
    run: Path

    @property
    def accuracy(self) -> float | None:
        return None if self.labels is None else float(np.mean(self.prediction == self.labels))

    def summary(self) -> list:
        """Lines for the user: how many samples, what was predicted, and the accuracy when labels are known."""
        n = self.prediction.size
        counts = np.bincount(self.prediction.astype(np.int64), minlength=len(self.classes))
        if len(self.classes) == 2:
            shown = ", ".join(f"{count} {name}" for name, count in zip(self.classes, counts.tolist()))
        else:  # ten counts read best as "class: count" (names may be digits)
            shown = "predicted " + ", ".join(f"{name}: {count}" for name, count in zip(self.classes, counts.tolist()))
        lines = [f"{n} samples of {self.name} classified by {self.run}: {shown}"]
        if self.labels is None:
            lines.append("accuracy        unknown (the data have no labels)")
        else:
            right = int(np.sum(self.prediction == self.labels))
            lines.append(f"accuracy        {self.accuracy:.4f}  ({right} of {n} right)")
        return lines


def load_run(folder) -> Run:
    """The network and input preparation saved in a run folder.

    Raises
    ------
    DataError
        When the folder or its ``params.npz`` is missing or not a parameter file; the
        message names the path.
    """
    from tinygraph_models.train import load_parameters

    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        what = "no such folder" if not folder.exists() else "not a folder"
        raise DataError(f"run folder {folder}: {what}; give a folder written by tinygraph train")
    params = folder / "params.npz"
    if not params.is_file():
        raise DataError(f"run folder {folder} holds no params.npz; is it a folder written by tinygraph train?")
    try:
        network, extra = load_parameters(params)
    except ValueError as err:
        raise DataError(str(err)) from None
    classes = tuple(str(c) for c in extra["classes"].tolist()) if "classes" in extra else ("0", "1")
    config = {}
    metrics = folder / "metrics.json"
    if metrics.is_file():
        try:
            config = json.loads(metrics.read_text()).get("config", {})
        except (OSError, ValueError, AttributeError):
            config = {}  # only used to describe the run; the weights are what matter
    mean, std = extra.get("feature_mean"), extra.get("feature_std")
    n = network.n_units[0]
    for name, value in (("feature_mean", mean), ("feature_std", std)):
        if value is not None and value.shape != (n, 1):
            raise DataError(f"{params}: {name} has shape {value.shape}; the network takes {n} features, so ({n}, 1)")
    return Run(
        path=folder, network=network, scale=float(extra.get("feature_scale", 1.0)), mean=mean, std=std,
        classes=classes, config=config,
    )


def load_inputs(name_or_path, split: str = "test") -> Inputs:
    """The samples to classify: one split of a dataset, or the ``x`` (and ``y``) of a .npz.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A bundled name, a dataset file (.npz or HDF5), or a .npz with ``x``.
    split : {"test", "train", "all"}
        For a dataset; ignored for a .npz of ``x``.
    """
    path = Path(os.fspath(name_or_path))
    if path.is_file() and path.suffix.lower() not in (".h5", ".hdf5", ".he5"):
        with open(path, "rb") as fh:
            is_zip = fh.read(2) == b"PK"
        if is_zip:
            arrays = _read_npz(path, str(path))
            if "x" in arrays:
                return _samples(arrays, path)
    data = load_dataset(name_or_path, standardize=False)
    parts = {"test": [("test_x", "test_y")], "train": [("train_x", "train_y")],
             "all": [("train_x", "train_y"), ("test_x", "test_y")]}
    if split not in parts:
        raise ValueError(f"load_inputs: split must be test, train or all, got {split!r}")
    x = np.concatenate([getattr(data, xk) for xk, _ in parts[split]], axis=1)
    y = np.concatenate([getattr(data, yk) for _, yk in parts[split]], axis=1).reshape(-1)
    return Inputs(x=x, y=y, scale=data.scale, name=f"{data.name} ({split} split)", classes=data.classes)


def _samples(arrays: dict, path: Path) -> Inputs:
    where = path.name
    x = arrays["x"]
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(f"{where}: x has shape {x.shape}; expected (features, samples), one column per sample")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: x has non-numeric dtype {x.dtype}")
    scale = 255.0 if x.dtype == np.uint8 else 1.0  # as the dataset loader scales images
    x = x.astype(np.float64) / scale
    if not np.isfinite(x).all():
        raise DataError(f"{where}: x contains NaN or infinite values")
    y = None
    if "y" in arrays:
        y = arrays["y"]
        n = x.shape[1]
        if y.shape not in ((n,), (1, n)):
            raise DataError(f"{where}: y has shape {y.shape} but x has shape {x.shape}: expected (1, {n}), one label per column")
        if y.dtype.kind not in "biuf" or not np.all((y >= 0) & (y == np.floor(y))):
            raise DataError(f"{where}: y must hold class labels, whole numbers from 0 (0/1 for a binary run)")
        y = y.reshape(-1).astype(np.float64)
    return Inputs(x=x, y=y, scale=scale, name=where)


def predict(run: Run, inputs: Inputs) -> Predictions:
    """Classify ``inputs`` with ``run``'s network.

    Raises
    ------
    DataError
        When the inputs have another number of features than the network takes.

    Examples
    --------
    >>> import tempfile
    >>> from tinygraph_models import nets, train
    >>> from tinygraph_models.data import load_dataset
    >>> data = load_dataset("breast-cancer")
    >>> network, history, _ = train.fit(data, "logistic", epochs=30)
    >>> folder = Path(tempfile.mkdtemp())
    >>> train.save_parameters(folder / "params.npz", network, data)
    >>> result = predict(load_run(folder), load_inputs("breast-cancer"))
    >>> result.accuracy == history.test_accuracy, result.prediction.shape
    (True, (142,))
    """
    if inputs.x.shape[0] != run.n_features:
        raise DataError(
            f"{inputs.name} has {inputs.x.shape[0]} features per sample but the network of {run.path} "
            f"takes {run.n_features}"
        )
    _check_classes(run, inputs)
    X = run.prepare(inputs.x, inputs.scale)
    probabilities = run.network.predict_proba(X)
    prediction = run.network.predict(X).reshape(-1)
    if probabilities.shape[0] == 1:  # the binary nets' sigmoid: P(class 1)
        probability = probabilities.reshape(-1)
    else:
        probability = probabilities[prediction.astype(np.int64), np.arange(prediction.size)]
    return Predictions(
        probability=probability, prediction=prediction, labels=inputs.y, classes=run.classes,
        name=inputs.name, run=run.path,
    )


def _numbered(classes) -> bool:
    """Whether class names are only the default numbering "0", "1", ..."""
    return list(classes) == [str(k) for k in range(len(classes))]


def _check_classes(run: Run, inputs: Inputs) -> None:
    """Refuse labels the run cannot mean: another set of classes, or labels beyond its classes."""
    K = len(run.classes)
    if inputs.classes is not None and tuple(inputs.classes) != tuple(run.classes):
        if len(inputs.classes) != K or not (_numbered(inputs.classes) or _numbered(run.classes)):
            def named(classes):
                shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
                return f"{len(classes)} classes ({shown})"

            raise DataError(
                f"{inputs.name} has {named(inputs.classes)} but the network of {run.path} was trained on "
                f"{named(run.classes)}"
            )
    if inputs.y is not None and inputs.y.size and inputs.y.max() >= K:
        expected = "only 0/1 labels" if K == 2 else f"class labels 0..{K - 1}"
        raise DataError(
            f"{inputs.name}: y must hold {expected} (the run's {K} classes), found {inputs.y.max():g}"
        )


def write_predictions(file, result: Predictions) -> None:
    """CSV to an open text file: ``sample, probability, prediction, class`` (and ``label``)."""
    writer = csv.writer(file, lineterminator="\n")
    header = ["sample", "probability", "prediction", "class"] + ([] if result.labels is None else ["label"])
    writer.writerow(header)
    for i, (p, c) in enumerate(zip(result.probability, result.prediction)):
        row = [i, f"{p:.6f}", int(c), result.classes[int(c)]]
        if result.labels is not None:
            row.append(int(result.labels[i]))
        writer.writerow(row)
