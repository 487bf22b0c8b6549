"""PyTorch (CPU), when importable: the same step and chain with ``torch`` tensors.

An optional comparison, never a dependency: :func:`available` says whether it can run.
Inputs are shared with numpy (``torch.from_numpy``, no copy); the loss is
``binary_cross_entropy_with_logits`` with mean reduction, whose gradient is
``(sigmoid(z) - y) / N`` like the other engines'.
"""

from __future__ import annotations

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError as err:  # the benchmarks run without it
    torch = None
    _IMPORT_ERROR = str(err)

from benchmarks.workloads import CHAIN_CONST

NAME = "torch"
LABEL = "PyTorch"


def available():
    if torch is None:
        return False, f"not importable ({_IMPORT_ERROR})"
    return True, torch.__version__


class MLP:
    def __init__(self, parameters: dict, X: np.ndarray, Y: np.ndarray, lr: float):
        self.L = len(parameters) // 2
        self.W = [None] + [torch.tensor(parameters[f"W{l}"], requires_grad=True) for l in range(1, self.L + 1)]
        self.b = [None] + [torch.tensor(parameters[f"b{l}"], requires_grad=True) for l in range(1, self.L + 1)]
        self.params = self.W[1:] + self.b[1:]
        self.X, self.Y, self.lr = torch.from_numpy(X), torch.from_numpy(Y), lr

    def _backprop(self):
        W, b, L = self.W, self.b, self.L
        A = self.X
        for l in range(1, L):
            A = torch.relu(W[l] @ A + b[l])
        cost = F.binary_cross_entropy_with_logits(W[L] @ A + b[L], self.Y)
        cost.backward()
        return cost

    def step(self):
        self._backprop()
        lr = self.lr
        with torch.no_grad():
            for p in self.params:
                p -= lr * p.grad
                p.grad = None

    def gradients(self):
        cost = self._backprop()
        grads = {}
        for l in range(1, self.L + 1):
            grads[f"dW{l}"], grads[f"db{l}"] = self.W[l].grad.numpy().copy(), self.b[l].grad.numpy().copy()
        for p in self.params:
            p.grad = None
        return cost.item(), grads



class Chain:
    def __init__(self, x: np.ndarray, w: np.ndarray, kinds: list):
        self.x = torch.tensor(x, requires_grad=True)
        self.w = torch.tensor(w, requires_grad=True)
        self.kinds = kinds

    def forward(self):
        h, w, const = self.x, self.w, CHAIN_CONST
        for kind in self.kinds:
            if kind == "tanh":
                h = torch.tanh(h)
            elif kind == "mul_w":
                h = h * w
            else:
                h = h + const
        return h.sum()

    def backward(self, loss):
        loss.backward()
        grads = {"x": self.x.grad.numpy(), "w": self.w.grad.numpy()}
        self.x.grad = self.w.grad = None
        return grads

    def run(self):
        return self.backward(self.forward())

    def gradients(self):
        loss = self.forward()
        return loss.item(), self.backward(loss)
