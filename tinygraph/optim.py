"""Optimisers that update parameters in place from their ``.grad``.

The document's update rule is plain gradient descent, ``W := W - α dW``; momentum and
Adam follow the deeplearning.ai course's notation (exponentially weighted averages
with bias correction for Adam).

Examples
--------
>>> import tinygraph as tg
>>> w = tg.Tensor([1.0], requires_grad=True)
>>> opt = tg.optim.GD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.data.tolist()
[0.8]
"""

from __future__ import annotations

import math

import numpy as np

from tinygraph.tensor import Tensor


class Optimizer:
    """Holds parameters and a learning rate; ``step()`` applies one update."""

    def __init__(self, params, lr: float):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: parameter {i} must be a leaf Tensor with requires_grad=True")
        _check_positive(type(self).__name__, "lr", lr)
        self.params, self.lr = params, float(lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is not None:
                p.data = self._update(i, p.data, np.asarray(p.grad))

    def _update(self, i: int, value: np.ndarray, grad: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _check_positive(owner: str, what: str, value, upper: float | None = None) -> None:
    ok = isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0
    if ok and upper is not None:
        ok = value < upper
    if not ok:
        bound = f" and below {upper}" if upper is not None else ""
        raise ValueError(f"{owner}: {what} must be a positive finite number{bound}, got {value!r}")


class GD(Optimizer):
    """Gradient descent, the document's ``W := W - α dW``."""

    def _update(self, i, value, grad):
        value -= self.lr * grad  # in place: the parameter's array is updated, as in the document
        return value


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = β v + (1 - β) dW``, ``W := W - α v``."""

    def __init__(self, params, lr: float, beta: float = 0.9):
        super().__init__(params, lr)
        _check_positive("Momentum", "beta", beta, upper=1.0)
        self.beta = float(beta)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, value, grad):
        v = self.velocity[i]
        v *= self.beta
        v += (1.0 - self.beta) * grad
        value -= self.lr * v
        return value


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum and RMSprop with bias correction."""

    def __init__(self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(params, lr)
        _check_positive("Adam", "beta1", beta1, upper=1.0)
        _check_positive("Adam", "beta2", beta2, upper=1.0)
        _check_positive("Adam", "eps", eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        super().step()

    def _update(self, i, value, grad):
        m, v = self.m[i], self.v[i]
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        m_hat = m / (1.0 - self.beta1**self.t)
        v_hat = v / (1.0 - self.beta2**self.t)
        value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return value


OPTIMIZERS = {"gd": GD, "momentum": Momentum, "adam": Adam}
