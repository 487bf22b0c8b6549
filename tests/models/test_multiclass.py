"""The ten-class networks (models/multiclass.py): gradients against finite differences,
the document's dZ = A - Y for a softmax head, the CNN's image layout and forward pass
against plain numpy, saving and loading, and refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import gradcheck
from tinygraph_models import multiclass, train
from tinygraph_models.data import load_dataset


def _with_parameters(network, tensors):
    """Point every layer's W and b at ``tensors`` (in the network's parameter order), so that
    gradcheck's Tensors are the ones the cost is built from."""
    it = iter(tensors)
    for layer in network.net.layers:
        if hasattr(layer, "W"):
            layer.W = next(it)
            layer.b = next(it)


def _cost_of_parameters(network, X, Y):
    def cost(*tensors):
        _with_parameters(network, tensors)
        return network.cost(X, Y)

    return cost


def _small_data(rng, n_features, n_classes, n):
    X = rng.standard_normal((n_features, n))
    Y = rng.integers(0, n_classes, (1, n)).astype(np.float64)
    return X, Y


@pytest.mark.parametrize("model, layers", [("softmax", [6, 4]), ("mlp", [6, 5, 4]), ("mlp", [6, 5, 3, 4])])
def test_dense_networks_gradients_match_finite_differences(model, layers):
    rng = np.random.default_rng(3)
    X, Y = _small_data(rng, layers[0], layers[-1], 9)
    network = multiclass.build(model, layers[0], layers[-1], layers=layers, seed=1)
    # Biases off zero, so no hidden pre-activation sits exactly at ReLU's kink.
    params = [p.data + (0.1 * rng.standard_normal(p.shape) if name.startswith("b") else 0.0)
              for name, p in network.parameters.items()]
    assert gradcheck(_cost_of_parameters(network, X, Y), *params)


def test_the_cnns_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    X, Y = _small_data(rng, 36, 3, 4)  # 6x6 images: conv -> 4x4, pool -> 2x2, conv (padding 1) -> 2x2
    network = multiclass.build("cnn", 36, 3, seed=2, cnn={"filters": (2, 3), "padding": 1})
    params = [p.data + (0.1 * rng.standard_normal(p.shape) if name.startswith("b") else 0.0)
              for name, p in network.parameters.items()]
    assert [p.shape for p in params] == [(2, 1, 3, 3), (2,), (3, 2, 3, 3), (3,), (3, 12), (3, 1)]
    assert gradcheck(_cost_of_parameters(network, X, Y), *params)


@given(n=st.integers(1, 12), classes=st.integers(2, 10), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_softmax_regression_gives_the_documents_gradients_with_dZ_equal_A_minus_Y(n, classes, seed):
    # The hand derivation of docs/tutorial.md section 10: dZ = A - Y (Y one-hot), dW = dZ X^T / N,
    # db = the mean of dZ over the samples; the same lines as the binary case.
    rng = np.random.default_rng(seed)
    X, Y = _small_data(rng, 5, classes, n)
    network = multiclass.build("softmax", 5, classes, seed=seed)
    cost = network.cost(X, Y)
    cost.backward()
    W, b = network.parameters["W1"].data, network.parameters["b1"].data
    Z = W @ X + b
    A = np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0)
    onehot = np.eye(classes)[:, Y.astype(int).ravel()]
    dZ = A - onehot
    assert np.isclose(cost.item(), -np.mean(np.sum(onehot * np.log(A), axis=0)), rtol=1e-12, atol=1e-14)
    assert np.allclose(network.parameters["W1"].grad, dZ @ X.T / n, rtol=1e-10, atol=1e-14)
    assert np.allclose(network.parameters["b1"].grad, dZ.mean(axis=1, keepdims=True), rtol=1e-10, atol=1e-14)


def test_the_gradient_reaching_the_logits_is_exactly_softmax_minus_onehot_over_N():
    rng = np.random.default_rng(0)
    X, Y = _small_data(rng, 64, 10, 7)
    network = multiclass.build("mlp", 64, 10, seed=0)
    Z = network.logits(X)
    Z.retain_grad()
    tg.cross_entropy(Z, Y.ravel()).backward()
    A = network.predict_proba(X)
    assert np.array_equal(Z.grad, (A - np.eye(10)[:, Y.astype(int).ravel()]) / 7)


def test_columns_become_images_row_by_row():
    raw = load_dataset("digits10", standardize=False)
    images = multiclass.Images(8)(raw.train_x[:, :5]).data
    assert images.shape == (5, 1, 8, 8)
    for n in range(5):
        for r in range(8):
            for c in range(8):
                assert images[n, 0, r, c] == raw.train_x[r * 8 + c, n]  # feature pixel_r_c
    with pytest.raises(ValueError, match=r"cnn: expects images of 8x8 = 64 rows, one column per sample; got shape \(30, 2\)"):
        multiclass.Images(8)(np.zeros((30, 2)))


def _numpy_cnn_logits(p, X, side, padding, pool):
    """The CNN's forward with explicit loops: an independent reading of the layer list."""
    N = X.shape[1]
    img = X.T.reshape(N, 1, side, side)

    def conv(x, W, b, pad):
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        F, C, k, _ = W.shape
        H = x.shape[2] - k + 1
        out = np.zeros((x.shape[0], F, H, H))
        for f in range(F):
            for i in range(H):
                for j in range(H):
                    out[:, f, i, j] = np.sum(x[:, :, i:i + k, j:j + k] * W[f], axis=(1, 2, 3)) + b[f]
        return out

    a = np.maximum(conv(img, p["W1"], p["b1"], 0), 0)
    H = a.shape[2] // pool
    a = a[:, :, : H * pool, : H * pool].reshape(N, a.shape[1], H, pool, H, pool).max(axis=(3, 5))
    a = np.maximum(conv(a, p["W2"], p["b2"], padding), 0)
    return p["W3"] @ a.reshape(N, -1).T + p["b3"]


@pytest.mark.parametrize("padding", [0, 1])
def test_the_cnn_computes_its_layer_list(padding):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 6))
    network = multiclass.build("cnn", 64, 10, seed=1, cnn={"filters": (4, 5), "padding": padding})
    p = network.state()
    for name in ("b1", "b2", "b3"):  # biases off zero, so they are tested too
        p[name] = p[name] + rng.standard_normal(p[name].shape)
    network = multiclass.ConvNet(p, side=8, padding=padding)
    assert np.allclose(network.logits(X).data, _numpy_cnn_logits(p, X, 8, padding, 2), rtol=1e-12, atol=1e-12)
    assert network.n_units == [64, 4, 5, 10]


@pytest.mark.parametrize("model", list(multiclass.MODELS))
def test_parameters_saved_and_loaded_give_the_same_predictions(model, tmp_path):
    data = load_dataset("digits10")
    network, _, _ = train.fit(data, model, epochs=1, batch_size=512)
    path = tmp_path / "params.npz"
    train.save_parameters(path, network, data)
    again, extra = train.load_parameters(path)
    assert type(again) is type(network) and again.model == model and again.n_units == network.n_units
    assert np.array_equal(again.predict_proba(data.test_x), network.predict_proba(data.test_x))
    assert extra["classes"].tolist() == list("0123456789")
    assert again.describe() == network.describe()


def test_a_cnn_file_without_its_shape_is_refused(tmp_path):
    data = load_dataset("digits10")
    network = multiclass.build("cnn", 64, 10)
    path = tmp_path / "params.npz"
    train.save_parameters(path, network, data)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files if k != "cnn_padding"}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="params.npz: a cnn parameter file needs cnn_padding"):
        train.load_parameters(path)


def test_predictions_are_the_largest_probability():
    rng = np.random.default_rng(1)
    network = multiclass.build("mlp", 64, 10, seed=0)
    X = rng.standard_normal((64, 20))
    P = network.predict_proba(X)
    assert P.shape == (10, 20) and np.allclose(P.sum(axis=0), 1.0)
    assert np.array_equal(network.predict(X), P.argmax(axis=0)[None, :].astype(float))


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=40))
def test_confusion_matrix_counts_each_pair(pairs):
    labels = [t for t, _ in pairs]
    predictions = [p for _, p in pairs]
    matrix = multiclass.confusion_matrix(labels, predictions, 5)
    expected = np.zeros((5, 5), dtype=int)
    for t, p in pairs:
        expected[t, p] += 1
    assert np.array_equal(matrix, expected)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: multiclass.check_units("mlp", [64, 32, 1], 10), "the output layer of a 10-class classifier has 10 units"),
        (lambda: multiclass.check_units("softmax", [64, 32, 10], 10), "--model softmax needs 2 layer sizes ([n_x, 10])"),
        (lambda: multiclass.check_units("mlp", [64, 10], 10), "--model mlp needs a hidden layer"),
        (lambda: multiclass.build("cnn", 64, 10, layers=[64, 10]), "--model cnn takes no --layers"),
        (lambda: multiclass.build("cnn", 30, 2), "30 features, not a square number"),
        (lambda: multiclass.build("cnn", 9, 2), "the data holds 3x3 images, too small for conv 3x3, max-pool 2, conv 3x3"),
        (lambda: multiclass.build("cnn", 36, 2, cnn={"filters": (2, 3), "pool": 3}),
         "the data holds 6x6 images, too small for conv 3x3, max-pool 3, conv 3x3 (they need at least 11x11)"),
        (lambda: multiclass.build("cnn", 16, 2, cnn={"padding": 1, "pool": 3}),
         "the data holds 4x4 images, too small for conv 3x3, max-pool 3, conv 3x3 with padding 1 (they need at least 5x5)"),
        (lambda: multiclass.build("mlp", 64, 10, init="zeros"), "unknown init 'zeros'"),
        (lambda: multiclass.build("mlp", 64, 10, layers=[30, 5, 10]), "start with 30 inputs but the data have 64"),
        (lambda: train.fit(load_dataset("digits10"), "deep"), "--model deep is a binary classifier (one sigmoid unit) "
                                                              "but digits10 has 10 classes; use --model softmax, mlp or cnn"),
        (lambda: train.fit(load_dataset("breast-cancer"), "cnn"), "breast-cancer has 30 features, not a square number"),
    ],
)
def test_misuse_is_refused_by_name(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_a_saved_cnn_whose_weights_do_not_chain_is_refused():
    p = multiclass.build("cnn", 64, 10).state()
    p["W3"] = np.zeros((10, 100))
    with pytest.raises(ValueError, match=r"W3 \(10, 100\) does not fit 8x8 images .* \(64 x 3 x 3 features\)"):
        multiclass.ConvNet(p, side=8, padding=1)


def test_the_ten_class_defaults_are_their_own():
    for model in multiclass.MODELS:
        defaults = train.TRAIN_DEFAULTS[model]
        assert train.default_optimizer(model) == defaults["optimizer"]
        assert train.default_batch_size(model) == defaults["batch_size"]
        assert train.training_settings(model) == (defaults["lr"], defaults["epochs"])
    # The document's nets keep full-batch gradient descent.
    assert train.default_optimizer("deep") == "gd" and train.default_batch_size("deep") is None


# --------------------------------------------------------------------------- dropout


def _layer_kinds(network):
    return [type(layer).__name__ for layer in network.net.layers]


def test_a_dropout_layer_follows_each_hidden_relu_only_when_p_is_above_zero():
    plain = multiclass.build("mlp", 6, 4, layers=[6, 5, 3, 4], seed=1)
    zero = multiclass.build("mlp", 6, 4, layers=[6, 5, 3, 4], seed=1, dropout=0.0)
    dropped = multiclass.build("mlp", 6, 4, layers=[6, 5, 3, 4], seed=1, dropout=0.25)
    assert _layer_kinds(zero) == _layer_kinds(plain) == ["Linear", "Activation", "Linear", "Activation", "Linear"]
    assert _layer_kinds(dropped) == ["Linear", "Activation", "Dropout", "Linear", "Activation", "Dropout", "Linear"]
    assert [layer.p for layer in dropped.net.layers if isinstance(layer, tg.nn.Dropout)] == [0.25, 0.25]
    # p = 0 is the network of before: same weights, same names, same words.
    for network in (zero, dropped):
        assert list(network.parameters) == list(plain.parameters)
        assert all(np.array_equal(network.state()[k], plain.state()[k]) for k in plain.state())
    assert zero.describe() == plain.describe() == "mlp net [6, 5, 3, 4]"
    assert dropped.describe() == "mlp net [6, 5, 3, 4], dropout 0.25 after each hidden ReLU (training only)"


def test_the_masks_come_from_the_seeds_dropout_stream():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 9))
    network = multiclass.build("mlp", 6, 4, layers=[6, 5, 4], seed=7, dropout=0.4)
    p = network.state()
    A1 = np.maximum(p["W1"] @ X + p["b1"], 0)
    keep = np.random.default_rng([7, multiclass.DROPOUT_STREAM]).random(A1.shape) >= 0.4
    expected = p["W2"] @ (A1 * keep / 0.6) + p["b2"]
    np.testing.assert_allclose(network.logits(X).data, expected, rtol=1e-12, atol=1e-12)
    assert multiclass.DROPOUT_STREAM not in (0, 1, 2)  # the weights', the redraws' and the batch order's


def test_a_dropout_mlps_gradients_match_finite_differences():
    # One mask for every evaluation: the rng is reset before each, so the cost is a fixed function.
    rng = np.random.default_rng(3)
    X, Y = _small_data(rng, 6, 4, 9)
    network = multiclass.build("mlp", 6, 4, layers=[6, 5, 4], seed=1, dropout=0.5)
    drop = network.net.layers[2]
    params = [p.data + (0.1 * rng.standard_normal(p.shape) if name.startswith("b") else 0.0)
              for name, p in network.parameters.items()]

    def cost(*tensors):
        drop.rng = np.random.default_rng(11)
        _with_parameters(network, tensors)
        return network.cost(X, Y)

    assert gradcheck(cost, *params)
    drop.rng = np.random.default_rng(11)
    assert np.count_nonzero(drop(np.ones((5, 9))).data == 0) > 0  # the mask does drop units here


@pytest.mark.parametrize("start_in_training", [True, False])
def test_predictions_are_deterministic_evaluated_without_dropout_and_restore_the_mode(start_in_training):
    rng = np.random.default_rng(4)
    X, Y = _small_data(rng, 6, 4, 30)
    network = multiclass.build("mlp", 6, 4, layers=[6, 16, 4], seed=0, dropout=0.5)
    network.net.train(start_in_training)
    first = network.predict_proba(X), network.predict(X), network.accuracy(X, Y)
    second = network.predict_proba(X), network.predict(X), network.accuracy(X, Y)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert [m.training for _, m in network.net.named_modules()] == [start_in_training] * 5
    # By hand, with the dropout removed: relu(W1 X + b1), then W2 A1 + b2, the largest logit.
    p = network.state()
    Z2 = p["W2"] @ np.maximum(p["W1"] @ X + p["b1"], 0) + p["b2"]
    assert np.array_equal(network.predict(X), Z2.argmax(axis=0)[None, :].astype(float))
    assert network.accuracy(X, Y) == np.mean(Z2.argmax(axis=0) == Y.ravel())
    np.testing.assert_allclose(network.predict_proba(X), np.exp(Z2) / np.exp(Z2).sum(axis=0), rtol=1e-12)


def test_a_mode_is_restored_even_when_the_evaluation_fails():
    network = multiclass.build("mlp", 6, 4, layers=[6, 5, 4], dropout=0.5)
    with pytest.raises(ValueError):
        network.predict(np.zeros((7, 3)))  # 7 features for 6 inputs
    assert all(m.training for _, m in network.net.named_modules())


def test_a_dropout_trained_mlp_saved_and_loaded_predicts_as_the_trained_network(tmp_path):
    data = load_dataset("digits10")
    network, _, config = train.fit(data, "mlp", layers=[64, 16, 10], epochs=2, dropout=0.5)
    assert "dropout 0.5" in config["network"]
    path = tmp_path / "params.npz"
    train.save_parameters(path, network, data)
    again, _ = train.load_parameters(path)
    assert "Dropout" not in _layer_kinds(again)  # inference is the identity: the file needs no dropout
    assert np.array_equal(again.predict_proba(data.train_x), network.predict_proba(data.train_x))
    assert np.array_equal(again.predict(data.train_x), network.predict(data.train_x))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: multiclass.build("softmax", 64, 10, dropout=0.2),
         "--model softmax has no hidden layer to apply dropout 0.2 to; only --model mlp takes --dropout"),
        (lambda: multiclass.build("cnn", 64, 10, dropout=0.2),
         "--model cnn has no dropout layer to apply dropout 0.2 to; only --model mlp takes --dropout"),
        (lambda: multiclass.build("mlp", 64, 10, dropout=1.0),
         "build: dropout must be a number in [0, 1) (the probability of dropping a unit), got 1.0"),
        (lambda: multiclass.build("mlp", 64, 10, dropout=-0.1), "build: dropout must be a number in [0, 1)"),
        (lambda: multiclass.build("mlp", 64, 10, dropout=float("nan")), "build: dropout must be a number in [0, 1)"),
        (lambda: multiclass.build("mlp", 64, 10, dropout=True), "build: dropout must be a number in [0, 1)"),
        (lambda: multiclass.build("mlp", 64, 10, dropout="0.5"), "build: dropout must be a number in [0, 1)"),
        (lambda: multiclass.Dense("softmax", multiclass.build("softmax", 4, 3).state(), dropout=0.1),
         "softmax network: dropout 0.1 needs hidden layers; only --model mlp has them"),
        (lambda: train.fit(load_dataset("digits10"), "cnn", epochs=1, dropout=0.3), "--model cnn has no dropout layer"),
    ],
)
def test_dropout_misuse_is_refused_by_name(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)
