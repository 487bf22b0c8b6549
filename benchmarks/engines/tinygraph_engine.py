"""tinygraph through its public API only: ``tg.Tensor``, ops, the fused loss, ``backward()``.

The step is what a user writes: build the graph with ``@``, ``+`` and ``tg.relu``, take
``tg.binary_cross_entropy_with_logits`` of the logits, call ``backward()``, and update
each parameter's array in place from its ``.grad`` (then drop the ``.grad``, as a
training loop's ``zero_grad`` does).
"""

from __future__ import annotations

import numpy as np

import tinygraph as tg
from benchmarks.workloads import CHAIN_CONST

NAME = "tinygraph"
LABEL = "tinygraph"


def available():
    return True, tg.__version__


class MLP:
    def __init__(self, parameters: dict, X: np.ndarray, Y: np.ndarray, lr: float):
        self.L = len(parameters) // 2
        self.W = [None] + [tg.Tensor(parameters[f"W{l}"].copy(), requires_grad=True) for l in range(1, self.L + 1)]
        self.b = [None] + [tg.Tensor(parameters[f"b{l}"].copy(), requires_grad=True) for l in range(1, self.L + 1)]
        self.params = self.W[1:] + self.b[1:]
        self.X, self.Y, self.lr = tg.Tensor(X), tg.Tensor(Y), lr

    def _backprop(self):
        W, b, L = self.W, self.b, self.L
        A = self.X
        for l in range(1, L):
            A = tg.relu(W[l] @ A + b[l])
        cost = tg.binary_cross_entropy_with_logits(W[L] @ A + b[L], self.Y)
        cost.backward()
        return cost

    def step(self):
        self._backprop()
        lr = self.lr
        for p in self.params:
            p.data -= lr * p.grad
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
        self.kinds = kinds

    def forward(self):
        h, w, const = self.x, self.w, CHAIN_CONST
        for kind in self.kinds:
            if kind == "tanh":
                h = tg.tanh(h)
            elif kind == "mul_w":
                h = h * w
            else:
                h = h + const
        return h.sum()

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
