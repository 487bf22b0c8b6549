"""tinygraph.nn: layers and parameters assigned to attributes are found without
declaring them, ModuleList, the older children() API, train()/eval() and Dropout."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import gradcheck


def names(module):
    return [name for name, _ in module.named_parameters()]


class Net(nn.Module):
    """A user's module in the style PyTorch users write: attributes only, no children()."""

    def __init__(self, rng):
        self.l1 = nn.Linear(3, 4, rng=rng)
        self.scale = tg.Tensor(np.ones((4, 1)), requires_grad=True, name="scale")
        self.constant = tg.Tensor(np.ones((4, 1)))  # no requires_grad: not a parameter
        self.l2 = nn.Linear(4, 1, rng=rng)
        self.drop = nn.Dropout(0.5, rng=0)

    def forward(self, X):
        return self.l2(self.drop(tg.tanh(self.l1(X)) * self.scale))


# --------------------------------------------------------------------------- registration


def test_attributes_are_registered_in_assignment_order():
    net = Net(np.random.default_rng(0))
    assert names(net) == ["scale", "l1.W", "l1.b", "l2.W", "l2.b"]  # own parameters, then children
    assert net.children() == [net.l1, net.l2, net.drop]
    assert [name for name, _ in net.named_modules()] == ["", "l1", "l2", "drop"]
    assert list(net.state_dict()) == names(net)


def test_zero_grad_and_optimisers_find_registered_parameters():
    net = Net(np.random.default_rng(0))
    net(np.ones((3, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    before = [p.data.copy() for p in net.parameters()]
    tg.optim.SGD(net.parameters(), lr=0.1).step()
    assert all(not np.array_equal(p.data, b) for p, b in zip(net.parameters(), before))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_reassigning_a_parameter_keeps_its_place_and_removing_it_drops_it():
    net = Net(np.random.default_rng(0))
    new = tg.Tensor(np.zeros((4, 1)), requires_grad=True)
    net.scale = new
    assert names(net)[0] == "scale" and net.parameters()[0] is new
    net.scale = tg.Tensor(np.zeros((4, 1)))  # now a constant
    assert names(net) == ["l1.W", "l1.b", "l2.W", "l2.b"]


def test_a_non_leaf_attribute_is_not_a_parameter():
    class Cache(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)
            self.last = self.layer(np.ones((2, 1)))  # an activation kept for inspection

    assert names(Cache()) == ["layer.W", "layer.b"]


@pytest.mark.parametrize("container", [list, tuple, lambda items: dict(enumerate(items))])
def test_layers_in_a_plain_container_are_refused_rather_than_missed(container):
    class Hidden(nn.Module):
        def __init__(self):
            self.blocks = container([nn.Linear(2, 2), nn.Linear(2, 2)])

    with pytest.raises(TypeError, match=r"Hidden: attribute 'blocks' is a \w+ holding a Module, .*nn.ModuleList"):
        Hidden().parameters()

    class Weights(nn.Module):
        def __init__(self):
            self.ws = container([tg.Tensor([1.0], requires_grad=True)])

    with pytest.raises(TypeError, match="holding a parameter, .*an attribute of its own"):
        Weights().state_dict()


def test_a_plain_list_of_layers_registered_elsewhere_is_allowed():
    class Watched(nn.Module):
        def __init__(self):
            self.l1, self.l2 = nn.Linear(2, 2), nn.Linear(2, 1)
            self.watch = [self.l1, self.l1.W]  # references only

    assert names(Watched()) == ["l1.W", "l1.b", "l2.W", "l2.b"]


def test_a_subclass_need_not_call_module_init():
    class Bare(nn.Module):
        def __init__(self):
            self.w = tg.Tensor([1.0], requires_grad=True)

    bare = Bare()
    assert names(bare) == ["w"] and bare.training
    assert bare.eval().training is False


# --------------------------------------------------------------------------- the older API


def test_modules_that_override_children_and_own_parameters_keep_working():
    class OldStyle(nn.Module):
        def __init__(self):
            self.first = nn.Linear(2, 3)
            self.stack = [nn.Linear(3, 3), nn.Linear(3, 1)]  # a plain list, declared by children()
            self.gain = tg.Tensor([2.0], requires_grad=True)

        def children(self):
            return [self.first, *self.stack]

        def own_parameters(self):
            return {"g": self.gain}

        def forward(self, X):
            for layer in self.children():
                X = layer(X)
            return X * self.gain

    old = OldStyle()
    # children held by an attribute are named by it; the others by their position in children()
    assert names(old) == ["g", "first.W", "first.b", "1.W", "1.b", "2.W", "2.b"]
    assert [name for name, _ in old.named_children()] == ["first", "1", "2"]
    old(np.ones((2, 4))).sum().backward()
    assert all(p.grad is not None for p in old.parameters())


# --------------------------------------------------------------------------- ModuleList, Sequential


def test_module_list_names_its_items_by_position():
    class Deep(nn.Module):
        def __init__(self):
            self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Activation("tanh")])
            self.blocks.append(nn.Linear(3, 1))

        def forward(self, X):
            for block in self.blocks:
                X = block(X)
            return X

    deep = Deep()
    assert names(deep) == ["blocks.0.W", "blocks.0.b", "blocks.2.W", "blocks.2.b"]
    assert len(deep.blocks) == 3 and deep.blocks[-1] is deep.blocks._items[2]
    assert isinstance(deep.blocks[:2], nn.ModuleList) and len(deep.blocks[:2]) == 2
    assert deep(np.ones((3, 2))).shape == (1, 2)
    with pytest.raises(NotImplementedError, match="ModuleList defines no forward: iterate over it"):
        deep.blocks(np.ones((3, 2)))
    assert repr(deep.blocks) == "ModuleList(Linear(3 -> 3), Activation('tanh'), Linear(3 -> 1))"


def test_module_list_refuses_what_is_not_a_module_and_clashing_names():
    blocks = nn.ModuleList([nn.Linear(2, 2, index=1)])
    with pytest.raises(TypeError, match="ModuleList: item 1 is a int, not a Module"):
        blocks.append(3)
    with pytest.raises(ValueError, match="'W1', 'b1' each name more than one parameter"):
        blocks.append(nn.Linear(2, 2, index=1))
    assert len(blocks) == 1  # the refused layer was not kept
    with pytest.raises(TypeError, match=r"Sequential: item 0 is a list, not a Module; write Sequential\(\*layers\)"):
        nn.Sequential([nn.Linear(2, 2)])


def test_sequential_layers_are_read_only_and_slices_are_sequentials():
    net = nn.Sequential.mlp([3, 4, 2, 1], rng=np.random.default_rng(0))
    assert isinstance(net.layers, tuple) and len(net.layers) == 5
    head = net[:2]
    assert isinstance(head, nn.Sequential) and names(head) == ["W1", "b1"]
    X = np.ones((3, 2))
    np.testing.assert_array_equal(head(X).data, net.layers[1](net.layers[0](X)).data)


# --------------------------------------------------------------------------- train / eval


def test_train_and_eval_reach_every_module():
    net = nn.Sequential(Net(np.random.default_rng(0)), nn.ModuleList([nn.Dropout(0.1)]))
    modules = [module for _, module in net.named_modules()]
    assert len(modules) == 7 and all(m.training for m in modules)
    assert net.eval() is net
    assert not any(m.training for m in modules)
    assert net.train() is net and all(m.training for m in modules)
    net.train(False)
    assert not any(m.training for m in modules)
    with pytest.raises(TypeError, match="train: mode must be a bool, got str"):
        net.train("eval")


# --------------------------------------------------------------------------- Dropout


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, math.nan, True, "0.5", None])
def test_dropout_refuses_probabilities_outside_0_1(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got"):
        nn.Dropout(p)


def test_dropout_refuses_what_is_not_a_generator_or_seed():
    with pytest.raises(TypeError, match="Dropout: rng must be a numpy Generator or an integer seed, got float"):
        nn.Dropout(0.5, rng=0.5)


def test_dropout_zeroes_units_and_scales_the_rest():
    p = 0.25
    A = np.random.default_rng(0).standard_normal((50, 400)) + 3.0  # no zeros in the input
    out = nn.Dropout(p, rng=1)(A).data
    kept = out != 0
    np.testing.assert_allclose(out[kept], A[kept] / (1 - p), rtol=1e-15)
    # 20,000 independent draws: the kept fraction is within 0.02 of 1 - p beyond any doubt (~6 sd)
    assert abs(kept.mean() - (1 - p)) < 0.02
    np.testing.assert_array_equal(out, nn.Dropout(p, rng=1)(A).data)  # same seed, same mask


def test_dropout_draws_a_new_mask_each_call_from_the_given_generator():
    rng = np.random.default_rng(5)
    drop = nn.Dropout(0.5, rng=rng)
    first, second = drop(np.ones((4, 10))).data, drop(np.ones((4, 10))).data
    assert not np.array_equal(first, second)
    replay = np.random.default_rng(5)
    np.testing.assert_array_equal(first, (replay.random((4, 10)) >= 0.5) * 2.0)


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero():
    A = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    assert nn.Dropout(0.9, rng=0).eval()(A) is A
    assert nn.Dropout(0.0, rng=0)(A) is A


def test_dropout_keeps_float32():
    out = nn.Dropout(0.5, rng=0)(np.ones((3, 3), np.float32))
    assert out.dtype == np.float32 and set(np.unique(out.data)) <= {0.0, 2.0}


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 5)),
    p=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**16),
)
def test_dropout_gradient_matches_finite_differences_with_the_mask_fixed(shape, p, seed):
    A = np.random.default_rng(seed).standard_normal(shape)

    def dropped(A):
        return nn.Dropout(p, rng=seed)(A)  # a new layer with the same seed: the same mask at every call

    assert gradcheck(dropped, A)
    leaf = tg.Tensor(A, requires_grad=True)
    out = dropped(leaf)
    out.sum().backward()
    keep = nn.Dropout(p, rng=seed).rng.random(shape) >= p
    np.testing.assert_array_equal(leaf.grad, keep / (1 - p))  # through the kept units only
