"""tinygraph through ``tg.compile``: the same step as the tinygraph engine, its cost compiled.

The cost function is the tinygraph engine's, built with ``@``, ``+``, ``tg.relu`` and
``tg.binary_cross_entropy_with_logits``, over parameters it captures (as a network's
layers hold theirs); ``tg.compile`` turns it into generated numpy on the first call, which
the untimed warm-up calls make. Each timed step calls the compiled cost, ``backward()``,
and updates each parameter's array in place from its ``.grad``. The update writes into
``p.data``'s array without assigning ``p.data`` (``np.subtract(..., out=...)``): after
backward nothing recorded still needs the old values, so the engine's in-place-write
bookkeeping, which the assignment form pays for, is not needed.
"""

from __future__ import annotations

import numpy as np

import tinygraph as tg
from benchmarks.workloads import CHAIN_CONST

NAME = "compiled"
LABEL = "tinygraph compiled"
#: Workloads this engine is not run on: a 100,000-op chain is one generated function of
#: 200,000 lines, which is not what tg.compile is for (and would take long to generate).
SKIPS = frozenset({"chain100k", "chain1m"})


def available():
    return True, tg.__version__


class MLP:
    def __init__(self, parameters: dict, X: np.ndarray, Y: np.ndarray, lr: float):
        self.L = L = len(parameters) // 2
        self.W = [None] + [tg.Tensor(parameters[f"W{l}"].copy(), requires_grad=True, name=f"W{l}") for l in range(1, L + 1)]
        self.b = [None] + [tg.Tensor(parameters[f"b{l}"].copy(), requires_grad=True, name=f"b{l}") for l in range(1, L + 1)]
        self.params = self.W[1:] + self.b[1:]
        self.arrays = [p.data for p in self.params]
        self.X, self.Y, self.lr = tg.Tensor(X), tg.Tensor(Y), lr
        W, b = self.W, self.b

        def cost(X, Y):
            A = X
            for l in range(1, L):
                A = tg.relu(W[l] @ A + b[l])
            return tg.binary_cross_entropy_with_logits(W[L] @ A + b[L], Y)

        self.cost = tg.compile(cost)

    def _backprop(self):
        cost = self.cost(self.X, self.Y)
        cost.backward()
        return cost

    def step(self):
        self._backprop()
        lr = self.lr
        for p, array in zip(self.params, self.arrays):
            np.subtract(array, lr * p.grad, out=array)
            p.grad = None

    def gradients(self):
        cost = self._backprop()
        grads = {}
        for l in range(1, self.L + 1):
            grads[f"dW{l}"], grads[f"db{l}"] = self.W[l].grad, self.b[l].grad
        for p in self.params:
            p.grad = None
        return cost.item(), grads


class Chain:
    def __init__(self, x: np.ndarray, w: np.ndarray, kinds: list):
        self.x = tg.Tensor(x.copy(), requires_grad=True)
        self.w = tg.Tensor(w.copy(), requires_grad=True)

        def chain(h, w):
            for kind in kinds:
                if kind == "tanh":
                    h = tg.tanh(h)
                elif kind == "mul_w":
                    h = h * w
                else:
                    h = h + CHAIN_CONST
            return h.sum()

        self.chain = tg.compile(chain)

    def forward(self):
        return self.chain(self.x, self.w)

    def backward(self, loss):
        loss.backward()
        grads = {"x": self.x.grad, "w": self.w.grad}
        self.x.grad = self.w.grad = None
        return grads

    def run(self):
        return self.backward(self.forward())

    def gradients(self):
        loss = self.forward()
        return loss.item(), self.backward(loss)
