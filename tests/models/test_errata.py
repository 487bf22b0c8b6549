"""One test per mistake in the document's code (docs/errata.md cites them by name).

Most tests run twice: on the corrected code (models/hand.py, models/init.py), where
they pass, and on the document's code as written (models/document.py), where they
must fail with the stated exception: ``xfail(strict=True, raises=...)``, so if the
document's version ever stopped failing, or failed for another reason, the suite
would go red.

Where the document's code would crash on an earlier mistake before reaching the one
under test, the ``repaired`` fixture patches only those earlier mistakes (never the
one under test) and says which.
"""

import inspect
import math

import numpy as np
import pytest

from tinygraph.testing import numerical_gradient
from tinygraph_models import document, hand, init

LN2 = math.log(2)


def versions(exception, why):
    """Run a test on "corrected" and on "document"; the latter must raise ``exception``."""
    return pytest.mark.parametrize(
        "version",
        [
            "corrected",
            pytest.param("document", marks=pytest.mark.xfail(raises=exception, strict=True, reason=why)),
        ],
    )


class _LenientNumpy:
    """numpy, except that ``zeros``/``ones`` also take the document's ``(n, 1)`` as two
    arguments (E10), and ``random`` is a seeded legacy RandomState (it has ``rand``)."""

    def __init__(self, seed=0):
        self.random = np.random.RandomState(seed)

    @staticmethod
    def _shape(shape):
        return shape[0] if len(shape) == 1 else shape

    def zeros(self, *shape):
        return np.zeros(self._shape(shape))

    def ones(self, *shape):
        return np.ones(self._shape(shape))

    def __getattr__(self, name):
        return getattr(np, name)


def _vectorised_loss(y_hat, y):
    # The loss as the document's text defines it, -(y log y_hat + (1-y) log(1-y_hat)),
    # elementwise: what cross_entropy_loss should have been (E5, E6).
    return -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))


@pytest.fixture
def repaired(monkeypatch):
    """``repaired(zeros_ones=..., loss=...)`` patches those errata in module ``document``."""

    def repair(*, zeros_ones=False, loss=False):
        if zeros_ones:  # E10
            monkeypatch.setattr(document, "np", _LenientNumpy())
        if loss:  # E5, E6
            monkeypatch.setattr(document, "cross_entropy_loss", _vectorised_loss)

    return repair


def _cost(parameters, X, Y):
    AL, _ = hand.forward(parameters, X)
    return float(hand.cross_entropy_cost(AL, Y))


def _finite_difference_gradients(parameters, X, Y):
    return {
        "d" + name: numerical_gradient(lambda v, name=name: _cost({**parameters, name: v}, X, Y), value)
        for name, value in parameters.items()
    }


def _copy(parameters):
    return {k: v.copy() for k, v in parameters.items()}


# --------------------------------------------------------------------------- E1 sigmoid


@versions(FloatingPointError, "E1: exp(-z) overflows for z < -709")
def test_sigmoid_does_not_overflow(version):
    sigmoid = hand.sigmoid if version == "corrected" else document.sigmoid
    with np.errstate(over="raise"):
        assert sigmoid(np.array([-1000.0]))[0] == 0.0


# --------------------------------------------------------------------------- E2, E3 W's orientation


def test_neuron_is_the_layer_rule_with_W_transposed():
    # E2 is a change of convention, not a mistake: neuron's W (nx, 1) is the transpose
    # of the (out, in) W the document uses from W1 on, and both compute the same thing.
    rng = np.random.default_rng(0)
    W, X, b = rng.standard_normal((3, 1)), rng.standard_normal((3, 5)), np.array([[0.3]])
    np.testing.assert_allclose(document.neuron(W, X, b), hand.sigmoid(hand.linear_forward(W.T, X, b)))


@versions(ValueError, "E3: dW = dz x^T is (1, nx) but neuron's W is (nx, 1)")
def test_logistic_update_keeps_the_shape_of_W(version):
    x = np.array([[0.5], [-1.0], [2.0]])
    if version == "corrected":
        W = np.full((1, 3), 0.1)  # (out, in)
        W = hand.logistic_regression_step(W, np.zeros((1, 1)), x, np.array([[1]]), 0.1).W
        assert W.shape == (1, 3)
    else:
        W = np.full((3, 1), 0.1)  # what neuron(W, x, b) takes
        W = document.logistic_regression_one_sample(W, x, np.zeros((1, 1)), 1, 0.1)[0]
        assert W.shape == (3, 1)


@versions(ValueError, "E3: the logistic initialiser makes W (1, nx), neuron wants (nx, 1)")
def test_logistic_initialiser_fits_the_neuron(version, monkeypatch, repaired):
    x = np.ones((3, 2))
    if version == "corrected":
        p = init.initialize_parameters([3, 1], "document", seed=0)
        y_hat, _ = hand.forward(p, x)
    else:
        repaired(zeros_ones=True)
        monkeypatch.setattr(document, "n_units", [3, 1], raising=False)  # E12
        W, b = document.initialize_parameters_logistic_regression()
        y_hat = document.neuron(W, x, b)
    assert y_hat.shape == (1, 2)


# --------------------------------------------------------------------------- E4 printed shape


@pytest.mark.parametrize(
    "printed",
    [
        pytest.param((12288, 209), id="corrected"),
        pytest.param(
            document.PRINTED_FLATTENED_SHAPE,
            id="document",
            marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason="E4: 209 samples, not 50"),
        ),
    ],
)
def test_printed_flattened_shape(printed):
    images = np.zeros(document.PRINTED_TRAIN_X_SHAPE, dtype=np.uint8)
    assert document.flatten(images).shape == printed


# --------------------------------------------------------------------------- E5-E7 the loss


def _loss(version):
    if version == "corrected":
        return lambda y_hat, y: float(hand.cross_entropy_cost(np.array([[y_hat]]), np.array([[y]])))
    return lambda y_hat, y: float(np.squeeze(document.cross_entropy_loss(y_hat, y)))


@versions(AssertionError, "E5: the branches are swapped")
def test_confident_correct_prediction_has_small_loss(version):
    loss = _loss(version)
    assert loss(0.99, 1) == pytest.approx(-math.log(0.99))
    assert loss(0.01, 0) == pytest.approx(-math.log(0.99))
    assert loss(0.01, 1) == pytest.approx(-math.log(0.01))  # confidently wrong: large


@versions(ValueError, "E6: `if y == 0` on an array: truth value is ambiguous")
def test_loss_takes_a_batch(version):
    Y_hat = np.array([[0.9, 0.2, 0.6, 0.3]])
    Y = np.array([[1, 0, 1, 1]])
    expected = np.mean(_vectorised_loss(Y_hat, Y))
    if version == "corrected":
        cost = hand.cross_entropy_cost(Y_hat, Y)
    else:
        cost = np.mean(document.cross_entropy_loss(Y_hat, Y))
    assert cost == pytest.approx(expected)


@versions(AssertionError, "E7: -log(0) = inf at a saturated prediction")
def test_loss_is_finite_at_saturated_predictions(version):
    # All four (prediction, label) corners; any unclipped log is inf at two of them,
    # whichever way its branches go, so this pins E7 apart from E5.
    loss = _loss(version)
    with np.errstate(divide="ignore"):
        values = [loss(y_hat, y) for y_hat in (0.0, 1.0) for y in (0, 1)]
    assert all(math.isfinite(v) for v in values), values


# --------------------------------------------------------------------------- E8, E9 logistic code


@versions(NameError, "E8: y_hat is undefined in the batch cost; Y_hat was computed")
def test_batch_cost_uses_the_predictions(version):
    X = np.array([[0.5, -1.0, 2.0]])
    Y = np.array([[1, 0, 1]])
    W, b = np.array([[0.7]]), np.array([[0.1]])  # nx = 1: W is its own transpose (E2)
    expected = float(np.mean(_vectorised_loss(hand.sigmoid(0.7 * X + 0.1), Y)))
    if version == "corrected":
        cost = hand.logistic_regression_step(W, b, X, Y, 0.1).cost
    else:
        cost = document.logistic_regression_batch(W, X, b, Y, 3, 0.1)[2]
    assert cost == pytest.approx(expected)


@versions(AssertionError, "E9: the one-sample code sums dW and keeps one db per sample")
def test_gradient_step_on_a_batch_averages(version, repaired):
    # The one-sample snippet is right for one sample; this pins what goes wrong when
    # the same lines meet N columns (the text says: divide by N).
    X = np.array([[0.5, -1.0, 2.0, 0.3]])
    Y = np.array([[1, 0, 1, 0]])
    W0 = np.array([[0.7]])
    mean_dW = numerical_gradient(lambda v: _cost({"W1": v, "b1": np.zeros((1, 1))}, X, Y), W0)
    if version == "corrected":
        step = hand.logistic_regression_step(W0.copy(), np.zeros((1, 1)), X, Y, 0.1)
        dW, b = step.dW, step.b
    else:
        repaired(loss=True)  # E6 would stop it at the loss
        _, b, _, dW, _ = document.logistic_regression_one_sample(W0.copy(), X, 0.0, Y, 0.1)
    np.testing.assert_allclose(dW, mean_dW, rtol=1e-6)
    assert np.size(b) == 1


# --------------------------------------------------------------------------- E10 np.zeros(n, 1)


INITIALISERS = ["deep", "single hidden layer", "logistic regression"]


@pytest.mark.parametrize("which", INITIALISERS)
@versions(TypeError, "E10: np.zeros(n, 1) reads 1 as a dtype")
def test_initialisers_run(version, which, monkeypatch):
    n_units = [4, 3, 1]
    if version == "corrected":
        p = init.initialize_parameters(n_units, "document", seed=0)  # one initialiser for all three
        biases = [v for k, v in p.items() if k.startswith("b")]
    else:
        monkeypatch.setattr(document, "n_units", n_units, raising=False)  # E12
        if which == "deep":
            biases = [v for k, v in document.initialize_parameters(n_units).items() if k.startswith("b")]
        elif which == "single hidden layer":
            biases = document.initialize_parameters_single_hidden_layer()[1::2]
        else:
            biases = document.initialize_parameters_logistic_regression()[1::2]
    assert all(b.ndim == 2 and b.shape[1] == 1 and not b.any() for b in biases)


@versions(TypeError, "E10: np.ones(N, 1) reads 1 as a dtype")
def test_one_hidden_layer_backward_runs(version):
    rng = np.random.default_rng(0)
    p = init.initialize_parameters([3, 4, 1], "he", seed=0)
    X, Y = rng.standard_normal((3, 5)), np.array([[1, 0, 0, 1, 1]])
    if version == "corrected":
        step = hand.one_hidden_layer_step(p["W1"], p["b1"], p["W2"], p["b2"], X, Y, 0.1)
        db1, db2 = step.db1, step.db2
    else:
        _, _, db1, _, db2 = document.one_hidden_layer(p["W1"], p["b1"], p["W2"], p["b2"], X, Y, 5, 0.1)
    assert db1.shape == (4, 1) and db2.shape == (1, 1)


@versions(TypeError, "E10: np.ones(N, 1) in the deep backward")
def test_deep_backward_runs_on_one_sample(version):
    p = init.initialize_parameters([3, 1], "he", seed=0)
    X, Y = np.array([[0.2], [-0.4], [1.0]]), np.array([[1]])  # N = 1: clear of E6 and E16
    if version == "corrected":
        _, gradients = hand.propagate(X, p, Y, L=1)
    else:
        gradients = document.propagate(X, p, Y, 1)
    assert gradients["db1"].shape == (1, 1)


def test_one_hidden_layer_backward_is_right_apart_from_np_ones(repaired):
    # Not an erratum: with E10 repaired, the document's one-hidden-layer backward
    # agrees with finite differences (at a point away from relu's kink).
    repaired(zeros_ones=True)
    rng = np.random.default_rng(1)
    p = init.initialize_parameters([3, 4, 1], "he", seed=1)
    X, Y = rng.standard_normal((3, 6)), np.array([[1, 0, 0, 1, 1, 0]])
    assert np.all(np.abs(hand.forward(p, X)[1]["Z1"]) > 1e-3)
    expected = _finite_difference_gradients(p, X, Y)
    _, dW1, db1, dW2, db2 = document.one_hidden_layer(*_copy(p).values(), X, Y, 6, 0.1)
    for name, got in [("dW1", dW1), ("db1", db1), ("dW2", dW2), ("db2", db2)]:
        np.testing.assert_allclose(got, expected[name], rtol=1e-6, atol=1e-9, err_msg=name)


# --------------------------------------------------------------------------- E11 relu'(0)


@versions(AssertionError, "E11: the document takes relu'(0) = 1; we take 0 like PyTorch")
def test_relu_derivative_at_zero_is_zero(version, repaired):
    # X = 0 and b1 = 0 put every Z1 exactly at the kink, so db1 = mean(dA1 * relu'(0)).
    p = init.initialize_parameters([2, 3, 1], "he", seed=0)
    X, Y = np.zeros((2, 4)), np.array([[1, 0, 1, 1]])
    if version == "corrected":
        db1 = hand.one_hidden_layer_step(p["W1"], p["b1"], p["W2"], p["b2"], X, Y, 0.1).db1
    else:
        repaired(zeros_ones=True)
        db1 = document.one_hidden_layer(*_copy(p).values(), X, Y, 4, 0.1)[2]
    np.testing.assert_array_equal(db1, 0.0)


# --------------------------------------------------------------------------- E12 global n_units


@pytest.mark.parametrize("which", ["single hidden layer", "logistic regression"])
@versions(NameError, "E12: the initialiser reads n_units, a global defined nowhere before it")
def test_initialiser_takes_the_layer_sizes(version, which, monkeypatch, repaired):
    monkeypatch.delattr(document, "n_units", raising=False)
    if version == "corrected":
        params = init.initialize_parameters([3, 2, 1] if which == "single hidden layer" else [3, 1])
    else:
        repaired(zeros_ones=True)  # so only E12 can stop it
        if which == "single hidden layer":
            params = document.initialize_parameters_single_hidden_layer()
        else:
            params = document.initialize_parameters_logistic_regression()
    assert len(params) in (2, 4)


# --------------------------------------------------------------------------- E13 the document's init


def _separable_problem(n_x=64, N=200, seed=0):
    """Gaussian inputs labelled by a random hyperplane: linearly separable."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, N))
    Y = (rng.standard_normal((1, n_x)) @ X > 0).astype(np.float64)
    return X, Y


_DEEP = [64, 5, 5, 5, 3, 1]  # the document's [nx, 5, 5, 5, 3, 1] with nx = 64 for speed


@pytest.fixture(scope="module")
def deep_runs():
    """Cost curve and first-step gradients of the document's deep net under each init,
    trained with the document's settings: learning rate 0.01, 1000 epochs, full batch."""
    X, Y = _separable_problem()
    runs = {}
    for name in ("document", "he"):
        p = init.initialize_parameters(_DEEP, name, seed=0)
        _, gradients = hand.cost_and_gradients(p, X, Y)
        _, costs = hand.train(p, X, Y, learning_rate=0.01, n_epochs=1000)
        runs[name] = {"costs": costs, "gradients": gradients, "Y": Y}
    return runs


@pytest.mark.parametrize(
    "init_name",
    [
        pytest.param("he", id="corrected"),
        pytest.param(
            "document",
            id="document",
            marks=pytest.mark.xfail(raises=AssertionError, strict=True, reason="E13: uniform [0, 0.01)"),
        ),
    ],
)
def test_deep_net_learns_from_its_initialisation(init_name, deep_runs):
    costs = deep_runs[init_name]["costs"]
    assert costs[-1] < LN2 - 0.05


def test_document_init_leaves_the_deep_net_at_chance(deep_runs):
    run = deep_runs["document"]
    costs, gradients, Y = run["costs"], run["gradients"], run["Y"]
    # Each layer shrinks the signal 20-60x (Z5 ~ 7e-9), so the output starts at sigmoid(~0) = 1/2 ...
    assert abs(costs[0] - LN2) < 1e-6
    # ... and the only thing learnt is the output bias, i.e. the base rate: the cost
    # ends at the entropy of the label mean, within 0.01 of ln 2.
    p = Y.mean()
    base_rate_entropy = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert abs(costs[-1] - LN2) < 0.01
    assert costs[-1] == pytest.approx(base_rate_entropy, abs=1e-4)
    # The first layer's gradient is ~1e-9 (measured: max |dW1| = 5.3e-9), He's ~1e-2.
    assert np.abs(gradients["dW1"]).max() < 1e-7
    assert np.abs(deep_runs["he"]["gradients"]["dW1"]).max() > 1e-3


def test_document_init_matches_the_documents_draws(repaired):
    # init "document" draws what the document's own initialize_parameters draws
    # (once E10 is repaired): uniform on [0, 0.01), all weights positive.
    repaired(zeros_ones=True)
    theirs = document.initialize_parameters([300, 200])["W1"]
    ours = init.initialize_parameters([300, 200], "document", seed=0)["W1"]
    for W in (theirs, ours):
        assert W.min() >= 0 and W.max() < 0.01
        assert W.mean() == pytest.approx(0.005, rel=0.02)
        assert W.std() == pytest.approx(0.01 / math.sqrt(12), rel=0.02)


# --------------------------------------------------------------------------- E14 syntax as printed


@pytest.mark.parametrize("statement", sorted(document.AS_PRINTED))
@pytest.mark.parametrize(
    "form",
    [
        pytest.param(1, id="corrected"),
        pytest.param(
            0,
            id="document",
            marks=pytest.mark.xfail(raises=SyntaxError, strict=True, reason="E14: not Python as printed"),
        ),
    ],
)
def test_statement_is_python(statement, form):
    text = document.AS_PRINTED[statement][form]
    compile(text, statement, "exec")
    # ... and the compiled form is what models/document.py actually runs.
    assert text.strip() in inspect.getsource(document)


# --------------------------------------------------------------------------- E15-E17 deep backward


@versions(KeyError, "E15: dZ is only ever set for layer L")
def test_deep_backward_runs_for_three_layers(version, repaired):
    p = init.initialize_parameters([2, 3, 2, 1], "he", seed=0)
    X, Y = np.array([[0.5], [-1.0]]), np.array([[1]])
    if version == "corrected":
        _, gradients = hand.propagate(X, p, Y, L=3)
    else:
        repaired(zeros_ones=True)
        gradients = document.propagate(X, p, Y, 3)
    assert sorted(gradients) == ["dW1", "dW2", "dW3", "db1", "db2", "db3"]


@versions(AssertionError, "E15: dW_1 is built from dZ_2 and A_1, the next layer's")
def test_deep_backward_gradient_shapes(version, repaired):
    p = init.initialize_parameters([4, 3, 1], "he", seed=0)
    X, Y = np.array([[0.5], [-1.0], [0.3], [2.0]]), np.array([[0]])
    if version == "corrected":
        _, gradients = hand.propagate(X, p, Y, L=2)
    else:
        repaired(zeros_ones=True)
        gradients = document.propagate(X, p, Y, 2)
    assert gradients["dW1"].shape == p["W1"].shape  # the document's: (1, 3) for W1 (3, 4)
    assert gradients["db1"].shape == p["b1"].shape


@versions(AssertionError, "E15: no relu' and the wrong layer's dZ and A")
def test_deep_backward_matches_finite_differences(version, repaired):
    # Widths [1, 1, 1] and N = 1 are the only sizes where the document's hidden dW and db
    # have the right shape, so the values can be compared; Z1 = 0.66 > 0, clear of the kink.
    p = {"W1": np.array([[0.8]]), "b1": np.array([[0.1]]), "W2": np.array([[-1.3]]), "b2": np.array([[0.2]])}
    X, Y = np.array([[0.7]]), np.array([[1]])
    expected = _finite_difference_gradients(p, X, Y)
    if version == "corrected":
        _, gradients = hand.propagate(X, p, Y, L=2)
    else:
        repaired(zeros_ones=True)
        gradients = document.propagate(X, p, Y, 2)
    for name in expected:
        np.testing.assert_allclose(gradients[name], expected[name], rtol=1e-6, atol=1e-9, err_msg=name)


@versions(ValueError, "E16: dZ.T @ ones((N, 1)) is (N, 1) @ (N, 1)")
def test_deep_backward_bias_gradient_on_a_batch(version, repaired):
    p = init.initialize_parameters([2, 1], "he", seed=0)
    X, Y = np.array([[0.5, -1.0, 0.2], [1.0, 0.3, -0.7]]), np.array([[1, 0, 1]])
    expected = _finite_difference_gradients(p, X, Y)["db1"]
    if version == "corrected":
        _, gradients = hand.propagate(X, p, Y, L=1)
    else:
        repaired(zeros_ones=True, loss=True)  # E10, and E6 which a batch would hit first
        gradients = document.propagate(X, p, Y, 1)
    np.testing.assert_allclose(gradients["db1"], expected, rtol=1e-6)


@versions(AssertionError, "E17: propagate computes the cost and drops it")
def test_propagate_reports_the_cost(version, repaired):
    p = init.initialize_parameters([2, 1], "he", seed=0)
    X, Y = np.array([[0.5], [1.0]]), np.array([[1]])
    if version == "corrected":
        result = hand.propagate(X, p, Y, L=1)
    else:
        repaired(zeros_ones=True)
        result = document.propagate(X, p, Y, 1)
    assert isinstance(result, tuple) and len(result) == 2
    assert float(result[0]) == pytest.approx(_cost(p, X, Y))


# --------------------------------------------------------------------------- E18, E19 training script


def _fake_load_data(n_samples=6, seed=0):
    """Like the document's load_data: images (N, 2, 2, 3), labels (1, N), and classes."""
    rng = np.random.default_rng(seed)
    train_X = rng.random((n_samples, 2, 2, 3))
    train_Y = (train_X[:, 0, 0, 0] > 0.5).astype(np.float64).reshape(1, -1)

    def load_data():
        return train_X, train_Y, train_X[:2], train_Y[:, :2], np.array([b"non-cat", b"cat"])

    return load_data


def _corrected_training_script(load_data):
    """The document's script, corrected: flatten, size by features, train on train_X."""
    train_X, train_Y, test_X, test_Y, classes = load_data()
    train_X = document.flatten(train_X)  # E19
    nx = train_X.shape[0]
    n_units = [nx, 5, 5, 5, 3, 1]
    parameters = init.initialize_parameters(n_units, "he", seed=0)
    parameters, _ = hand.train(parameters, train_X, train_Y, learning_rate=0.01, n_epochs=1000)
    return parameters


@versions(NameError, "E18: the loop uses X and Y; the data were loaded as train_X, train_Y")
def test_training_script_trains_on_the_loaded_data(version, repaired):
    load_data = _fake_load_data()
    if version == "corrected":
        parameters = _corrected_training_script(load_data)
    else:
        repaired(zeros_ones=True)  # E10 would stop it in initialize_parameters
        parameters = document.training_script(load_data)
    assert parameters["W1"].shape == (5, 12)


@versions(ValueError, "E19: nx = train_X.shape[0] of unflattened images is the sample count")
def test_training_script_sizes_the_input_layer_by_features(version, monkeypatch, repaired):
    load_data = _fake_load_data()
    if version == "corrected":
        parameters = _corrected_training_script(load_data)
    else:
        repaired(zeros_ones=True, loss=True)  # E10; E6 (a batch of 6)
        train_X, train_Y = load_data()[:2]
        monkeypatch.setattr(document, "X", document.flatten(train_X), raising=False)  # E18
        monkeypatch.setattr(document, "Y", train_Y, raising=False)
        parameters = document.training_script(load_data)
    assert parameters["W1"].shape == (5, 12)
