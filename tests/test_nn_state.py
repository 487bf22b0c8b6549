"""tinygraph.nn: parameter names are unique paths, and a save/load round trip (also
through np.savez / np.load) reproduces a network's outputs exactly, or refuses loudly."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn


def names(module):
    return [name for name, _ in module.named_parameters()]


def unnamed_net(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Activation("tanh"), nn.Linear(4, 1, rng=rng))


def saved_and_loaded(state: dict) -> dict:
    """The state written by np.savez and read back by np.load, as a user's file would be."""
    file = io.BytesIO()
    np.savez(file, **state)
    file.seek(0)
    with np.load(file) as loaded:
        return {key: loaded[key] for key in loaded.files}


# --------------------------------------------------------------------------- names


def test_unnamed_layers_keep_every_weight_through_save_and_load():
    # The silent bug: both layers named their parameters W and b, so state_dict kept only
    # the last layer's, and loading it into a fresh net raised nothing while the outputs differed.
    a, b = unnamed_net(0), unnamed_net(1)
    assert names(a) == ["0.W", "0.b", "2.W", "2.b"]
    state = a.state_dict()
    assert [value.shape for value in state.values()] == [(4, 3), (4, 1), (1, 4), (1, 1)]
    b.load_state_dict(saved_and_loaded(state))
    X = np.random.default_rng(2).standard_normal((3, 5))
    np.testing.assert_array_equal(b(X).data, a(X).data)


def test_a_state_in_the_old_clashing_names_is_refused_not_half_loaded():
    old_style = {"W": np.zeros((1, 4)), "b": np.zeros((1, 1))}
    net = unnamed_net(0)
    before = net.state_dict()
    with pytest.raises(ValueError, match=r"missing '0.W', '0.b', '2.W', '2.b'; unexpected 'W', 'b'"):
        net.load_state_dict(old_style)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_indexed_layers_keep_the_documents_names():
    net = nn.Sequential.mlp([4, 3, 2, 1], rng=np.random.default_rng(0))
    assert names(net) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    mixed = nn.Sequential(nn.Linear(3, 2, index=1), nn.Activation("relu", index=1), nn.Linear(2, 1))
    assert names(mixed) == ["W1", "b1", "2.W", "2.b"]


def test_nested_containers_prefix_their_paths():
    rng = np.random.default_rng(0)
    outer = nn.Sequential(nn.Sequential.mlp([3, 2], rng=rng), nn.Sequential.mlp([2, 1], rng=rng))
    assert names(outer) == ["0.W1", "0.b1", "1.W1", "1.b1"]
    deeper = nn.Sequential(nn.Sequential(nn.Linear(3, 2, rng=rng), nn.Sequential(nn.Linear(2, 2, rng=rng))))
    assert names(deeper) == ["0.0.W", "0.0.b", "0.1.0.W", "0.1.0.b"]
    assert names(outer) == [name for name, _ in outer.named_parameters()]  # stable from call to call


def test_two_layers_with_the_same_index_are_refused_when_built():
    with pytest.raises(ValueError, match=r"parameter names must be unique, but 'W1', 'b1' each name more than one"):
        nn.Sequential(nn.Linear(3, 3, index=1), nn.Linear(3, 1, index=1))

    class Twins(nn.Module):
        def __init__(self):
            self.left = nn.Linear(2, 2, index=1)
            self.right = nn.Linear(2, 2, index=1)

    twins = Twins()
    for method in (twins.named_parameters, twins.parameters, twins.state_dict, twins.zero_grad):
        with pytest.raises(ValueError, match=r"Twins: parameter names must be unique, but 'W1', 'b1'"):
            method()
    with pytest.raises(ValueError, match="must be unique"):
        tg.optim.GD(twins.parameters(), lr=0.1)


def test_a_layer_used_twice_is_one_set_of_parameters():
    shared = nn.Linear(3, 3, rng=np.random.default_rng(0))
    net = nn.Sequential(shared, nn.Activation("tanh"), shared)
    assert names(net) == ["0.W", "0.b"]
    tg.optim.Adam(net.parameters(), lr=0.1)  # each Tensor once, so the optimiser accepts them
    tied = nn.Sequential(nn.Linear(2, 2, index=1), nn.Activation("relu"))
    assert names(nn.Sequential(tied, tied)) == ["0.W1", "0.b1"]


def test_a_module_that_contains_itself_is_refused():
    loop = nn.Sequential(nn.Linear(2, 2))
    loop._items.append(loop)  # bypassing append's checks, as a careless subclass might
    with pytest.raises(ValueError, match="contains itself"):
        loop.parameters()
    with pytest.raises(ValueError, match="contains itself"):
        loop.eval()


# --------------------------------------------------------------------------- load_state_dict


def test_load_state_dict_names_every_problem_in_one_message_and_loads_nothing():
    net = unnamed_net(0)
    before = net.state_dict()
    state = {**unnamed_net(1).state_dict(), "extra": np.zeros(2), "also": np.ones(1)}
    del state["0.b"]
    state["2.W"] = np.zeros((4, 1))
    state["2.b"] = np.array([["x"]])
    with pytest.raises(ValueError) as error:
        net.load_state_dict(state)
    assert str(error.value) == (
        "load_state_dict: the state does not fit this Sequential (missing '0.b'; unexpected 'extra', 'also'; "
        "wrong: '2.W' is (1, 4) here but (4, 1) in the state; '2.b' holds <U1 values, not numbers); nothing was loaded"
    )
    for name, value in net.state_dict().items():  # not even the entries that fitted
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_load_state_dict_refuses_what_is_not_a_mapping():
    with pytest.raises(TypeError, match="load_state_dict: expected a mapping of names to arrays, got list"):
        unnamed_net(0).load_state_dict([np.zeros((4, 3))])


def test_loading_copies_casts_to_the_parameters_dtype_and_forgets_gradients():
    net = nn.Sequential(nn.Linear(2, 1, dtype=np.float32))
    X = np.ones((2, 3), np.float32)
    net(X).sum().backward()
    state = {"0.W": np.array([[1.0, 2.0]]), "0.b": [[0.5]]}  # float64 arrays, and a list
    net.load_state_dict(state)
    assert net.layers[0].W.dtype == np.float32 and net.layers[0].W.data.tolist() == [[1.0, 2.0]]
    assert all(p.grad is None for p in net.parameters())
    state["0.W"][0, 0] = 7.0
    assert net.layers[0].W.data[0, 0] == 1.0  # the net owns its copy


def test_a_round_trip_through_a_file(tmp_path):
    a, b = nn.Sequential.mlp([5, 4, 1], rng=np.random.default_rng(0)), nn.Sequential.mlp([5, 4, 1], rng=np.random.default_rng(1))
    np.savez(tmp_path / "params.npz", **a.state_dict())
    with np.load(tmp_path / "params.npz") as state:
        b.load_state_dict(state)  # the NpzFile itself, without converting it to a dict
    X = np.random.default_rng(2).standard_normal((5, 8))
    np.testing.assert_array_equal(b(X).data, a(X).data)


# --------------------------------------------------------------------------- property


@st.composite
def architectures(draw):
    """(widths, [(activation or None, indexed?) per Linear], dtype) for a plain Sequential."""
    depth = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    layers = draw(st.lists(
        st.tuples(st.sampled_from([None, "relu", "sigmoid", "tanh"]), st.booleans()), min_size=depth, max_size=depth,
    ))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return widths, layers, dtype


def build(architecture, seed):
    widths, layers, dtype = architecture
    rng = np.random.default_rng(seed)
    modules = []
    for l, (activation, indexed) in enumerate(layers, start=1):
        index = l if indexed else None
        modules.append(nn.Linear(widths[l - 1], widths[l], rng=rng, index=index, dtype=dtype))
        # every Linear gets a bias away from 0, so a bias that failed to load would show
        modules[-1].b.data = rng.standard_normal(modules[-1].b.shape).astype(dtype)
        if activation is not None:
            modules.append(nn.Activation(activation, index=index))
        if l % 2 == 0:
            modules.append(nn.Dropout(0.5, rng=seed))  # no parameters; identity in eval mode
    return nn.Sequential(*modules).eval()


@settings(max_examples=40, deadline=None)
@given(architecture=architectures(), seeds=st.tuples(st.integers(0, 2**16), st.integers(0, 2**16)))
def test_save_and_load_reproduce_outputs_exactly(architecture, seeds):
    widths, layers, _ = architecture
    a, b = build(architecture, seeds[0]), build(architecture, seeds[1] + 2**17)
    listed = names(a)
    assert len(listed) == len(set(listed)) == 2 * len(layers)  # unique, and none lost
    assert listed == names(b) == list(a.state_dict())
    b.load_state_dict(saved_and_loaded(a.state_dict()))
    X = np.random.default_rng(seeds[0]).standard_normal((widths[0], 3)).astype(a.parameters()[0].dtype)
    np.testing.assert_array_equal(b(X).data, a(X).data)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert q.dtype == p.dtype and p is not q, name
        np.testing.assert_array_equal(q.data, p.data, err_msg=name)
