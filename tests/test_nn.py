"""tinygraph.nn: layers in the document's convention (W (out, in), b (out, 1), one column
per sample), the sequential container, parameters() and zero_grad()."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import gradcheck

# --------------------------------------------------------------------------- Linear


def test_linear_holds_W_out_by_in_and_a_zero_bias_column():
    layer = nn.Linear(4, 3, rng=np.random.default_rng(0), index=2)
    assert layer.W.shape == (3, 4) and layer.b.shape == (3, 1)
    assert layer.W.name == "W2" and layer.b.name == "b2"
    assert layer.W.requires_grad and layer.b.requires_grad and layer.W.is_leaf
    np.testing.assert_array_equal(layer.b.data, 0.0)
    assert [name for name, _ in layer.named_parameters()] == ["W2", "b2"]


def test_linear_computes_W_A_plus_b_for_every_column():
    rng = np.random.default_rng(1)
    W, b, A = rng.standard_normal((3, 4)), rng.standard_normal((3, 1)), rng.standard_normal((4, 6))
    layer = nn.Linear.from_arrays(W, b, index=1)
    Z = layer(tg.Tensor(A))
    np.testing.assert_allclose(Z.data, W @ A + b, rtol=1e-15)
    assert Z.name == "Z1" and Z.shape == (3, 6)
    np.testing.assert_allclose(layer(A).data, W @ A + b, rtol=1e-15)  # plain arrays are accepted too


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 5), n_out=st.integers(1, 4), N=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_linear_gradients_match_finite_differences(n_in, n_out, N, seed):
    rng = np.random.default_rng(seed)
    W, b, A = rng.standard_normal((n_out, n_in)), rng.standard_normal((n_out, 1)), rng.standard_normal((n_in, N))

    def through_a_layer(W, b, A):
        layer = nn.Linear.from_arrays(W.data, b.data)
        layer.W, layer.b = W, b  # differentiate with respect to gradcheck's own leaves
        return layer(A)

    assert gradcheck(through_a_layer, W, b, A)


def test_linear_from_arrays_copies_and_accepts_lists():
    W = np.ones((1, 2))
    layer = nn.Linear.from_arrays(W, np.zeros((1, 1)))
    W[0, 0] = 5.0
    assert layer.W.data[0, 0] == 1.0
    listed = nn.Linear.from_arrays([[1, 2]], [[0]])
    assert listed.W.dtype == np.float64 and listed.b.dtype == np.float64
    single = nn.Linear.from_arrays(np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32))
    assert single.W.dtype == np.float32 and single.b.dtype == np.float32


def test_initialisers_have_the_advertised_spread():
    rng = np.random.default_rng(0)
    he = nn.Linear(400, 300, init="he", rng=rng).W.data
    xavier = nn.Linear(400, 300, init="xavier", rng=rng).W.data
    document = nn.Linear(400, 300, init="document", rng=rng).W.data
    # 120,000 draws: the sample std is within 1% of the true one with overwhelming probability
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.01) and abs(he.mean()) < 1e-3
    assert xavier.std() == pytest.approx(np.sqrt(2 / 700), rel=0.01)
    assert document.min() >= 0 and document.max() < 0.01 and document.mean() == pytest.approx(0.005, rel=0.01)


def test_linear_same_rng_same_weights():
    a = nn.Linear(3, 2, rng=np.random.default_rng(42)).W.data
    b = nn.Linear(3, 2, rng=np.random.default_rng(42)).W.data
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_in": 0, "n_out": 2}, "n_in must be a positive integer, got 0"),
        ({"n_in": 2, "n_out": 1.5}, "n_out must be a positive integer, got 1.5"),
        ({"n_in": True, "n_out": 2}, "n_in must be a positive integer, got True"),
        ({"n_in": 2, "n_out": 2, "init": "zeros"}, "unknown init 'zeros'"),
    ],
)
def test_linear_refuses_bad_sizes_and_inits(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Linear(**kwargs)


def test_linear_names_the_expected_input_shape():
    layer = nn.Linear(3, 2, index=1)
    with pytest.raises(ValueError, match=r"Linear 1: expects inputs shaped \(3, N\), one column per sample, got shape \(4, 5\)"):
        layer(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"got shape \(5, 3\)"):  # samples as rows: the usual mistake
        layer(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"need W \(out, in\) and b \(out, 1\)"):
        nn.Linear.from_arrays(np.ones((2, 3)), np.zeros((3, 1)))


# --------------------------------------------------------------------------- Activation, Sequential


def test_activations_by_name():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(nn.Activation("relu")(tg.Tensor(z)).data, [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(nn.Activation("sigmoid")(tg.Tensor(z)).data, 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(nn.Activation("tanh", index=2)(tg.Tensor(z)).data, np.tanh(z))
    assert nn.Activation("relu", index=3)(tg.Tensor(z)).name == "A3"
    assert nn.Activation("relu").parameters() == []
    with pytest.raises(ValueError, match="unknown kind 'gelu'"):
        nn.Activation("gelu")


def test_mlp_is_the_documents_deep_net():
    net = nn.Sequential.mlp([4, 5, 5, 5, 3, 1], rng=np.random.default_rng(0))
    assert [repr(layer) for layer in net.layers] == [
        "Linear(4 -> 5)", "Activation('relu')", "Linear(5 -> 5)", "Activation('relu')", "Linear(5 -> 5)",
        "Activation('relu')", "Linear(5 -> 3)", "Activation('relu')", "Linear(3 -> 1)",
    ]
    assert [name for name, _ in net.named_parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "W5", "b5"]
    assert net.parameters() == [p for _, p in net.named_parameters()]

    X = np.random.default_rng(1).standard_normal((4, 7))
    A = X
    for l in range(1, 6):
        W, b = net.layers[2 * (l - 1)].W.data, net.layers[2 * (l - 1)].b.data
        A = W @ A + b
        if l < 5:
            A = np.maximum(A, 0)
    np.testing.assert_allclose(net(tg.Tensor(X)).data, A, rtol=1e-14)  # logits: output=None
    with_sigmoid = nn.Sequential.mlp([4, 3, 1], output="sigmoid", rng=np.random.default_rng(0))
    assert repr(with_sigmoid.layers[-1]) == "Activation('sigmoid')"
    with pytest.raises(ValueError, match=r"need at least \[n_x, n_out\]"):
        nn.Sequential.mlp([4])


def test_each_layers_ops_are_recorded_in_its_name_scope():
    net = nn.Sequential.mlp([2, 3, 1], rng=np.random.default_rng(0))
    Z2 = net(tg.Tensor(np.ones((2, 4))))
    assert Z2.scope == "layer2"
    relu1 = Z2.grad_fn.parents[0].parents[1]  # Z2 = (W2 @ A1) + b2, A1 = relu(Z1)
    assert relu1.scope == "layer1"


def test_parameters_zero_grad_and_backward():
    net = nn.Sequential.mlp([3, 4, 1], rng=np.random.default_rng(0))
    X, Y = tg.Tensor(np.random.default_rng(1).standard_normal((3, 5))), tg.Tensor([[0.0, 1.0, 1.0, 0.0, 1.0]])
    tg.binary_cross_entropy_with_logits(net(X), Y).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    first = [p.grad.copy() for p in net.parameters()]
    tg.binary_cross_entropy_with_logits(net(X), Y).backward()  # gradients accumulate...
    for p, g in zip(net.parameters(), first):
        np.testing.assert_allclose(p.grad, 2 * g)
    net.zero_grad()  # ...until zero_grad forgets them
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_mismatches():
    a = nn.Sequential.mlp([3, 2, 1], rng=np.random.default_rng(0))
    b = nn.Sequential.mlp([3, 2, 1], rng=np.random.default_rng(1))
    state = a.state_dict()
    state["W1"][0, 0] = 99.0  # a copy: the net is unchanged
    assert a.layers[0].W.data[0, 0] != 99.0
    b.load_state_dict(a.state_dict())
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    with pytest.raises(ValueError, match=r"missing 'b2'; unexpected 'c'"):
        b.load_state_dict({**{k: v for k, v in a.state_dict().items() if k != "b2"}, "c": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'W1' is \(2, 3\) here but \(3, 2\) in the state"):
        b.load_state_dict({**a.state_dict(), "W1": np.zeros((3, 2))})


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module defines no forward"):
        nn.Module()(1)
