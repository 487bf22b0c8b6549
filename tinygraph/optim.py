"""Optimisers that step parameters from their ``.grad`` (each step gives a parameter a new array).

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
    """Holds parameters and a learning rate; ``step()`` applies one update.

    Subclasses define ``_update(i, value, grad)``, which returns parameter i's new
    array without writing into ``value``.

    Raises
    ------
    ValueError
        No parameters, a parameter listed twice, or a learning rate that is not a
        positive finite number.
    TypeError
        A parameter that is not a leaf Tensor with ``requires_grad=True``.
    """

    def __init__(self, params, lr: float):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimise")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: parameter {i} must be a leaf Tensor with requires_grad=True")
            if any(p is q for q in params[:i]):
                # it would be stepped twice per step()
                raise ValueError(f"{type(self).__name__}: parameter {i} ({p.name or 'unnamed'}) is listed twice")
        _check_positive(type(self).__name__, "lr", lr)
        self.params, self.lr = params, float(lr)

    def zero_grad(self) -> None:
        """Forget the parameters' gradients (``.grad = None``) before the next backward."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a ``.grad``; those without one are left alone."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                # A new array each step: the old one may be the user's, or saved by a retained graph.
                p.data = self._update(i, p.data, np.asarray(p.grad))

    def _update(self, i: int, value: np.ndarray, grad: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _check_positive(owner: str, what: str, value) -> None:
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {what} must be a positive finite number, got {value!r}")


def _check_fraction(owner: str, what: str, value) -> None:
    # 0 is allowed (no averaging: momentum becomes plain GD); 1 would never forget the
    # first gradient, and Adam's bias correction would divide by 1 - 1**t = 0.
    if not (_is_real(value) and 0 <= value < 1):
        raise ValueError(f"{owner}: {what} must be in [0, 1), got {value!r}")


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class GD(Optimizer):
    """Gradient descent, the document's update rule ``W := W - α dW``.

    Parameters
    ----------
    params : iterable of Tensor
        Leaf Tensors with ``requires_grad=True``, e.g. ``net.parameters()``.
    lr : float
        The learning rate α, > 0.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = GD([w], lr=0.25)
    >>> (w * w).sum().backward()           # dw = 2w = 4
    >>> opt.step(); w.data.tolist()        # 2 - 0.25 * 4
    [1.0]
    """

    def _update(self, i, value, grad):
        return value - self.lr * grad


class Momentum(Optimizer):
    """Gradient descent with momentum, in the course's form.

    ``v := β v + (1 - β) dW`` (an exponentially weighted average of the gradients,
    starting at v = 0), then ``W := W - α v``. PyTorch's SGD momentum instead adds
    the raw gradient, ``v := β v + dW``; its steps are 1 / (1 - β) times larger for
    the same α.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        α, > 0.
    beta : float
        β in [0, 1); 0 is plain gradient descent.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = Momentum([w], lr=1.0, beta=0.5)
    >>> (w * w).sum().backward()           # dw = 4, v = 0.5 * 0 + 0.5 * 4 = 2
    >>> opt.step(); w.data.tolist()
    [0.0]
    """

    def __init__(self, params, lr: float, beta: float = 0.9):
        super().__init__(params, lr)
        _check_fraction("Momentum", "beta", beta)
        self.beta = float(beta)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, value, grad):
        v = self.velocity[i]
        v *= self.beta
        v += (1.0 - self.beta) * grad
        return value - self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum and RMSprop with bias correction.

    At step t = 1, 2, ...::

        m := β1 m + (1 - β1) dW          v := β2 v + (1 - β2) dW²
        m̂ = m / (1 - β1^t)               v̂ = v / (1 - β2^t)
        W := W - α m̂ / (sqrt(v̂) + ε)

    m and v start at 0, so early on they are biased towards 0; dividing by
    ``1 - β^t`` removes that bias, and the first step is ``α dW / (|dW| + ε)``, about α
    per element whatever the gradient's scale.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        α, > 0.
    beta1, beta2 : float
        Decay rates of the first and second moment averages, in [0, 1).
    eps : float
        ε > 0, keeps the division finite where ``v̂`` is 0.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0, -3.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); w.data.round(6).tolist()     # each moves by about lr, against its gradient
    [1.9, -2.9]
    """

    def __init__(self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(params, lr)
        _check_fraction("Adam", "beta1", beta1)
        _check_fraction("Adam", "beta2", beta2)
        _check_positive("Adam", "eps", eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        """One Adam step: t advances by one, then every parameter with a ``.grad`` moves."""
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
        return value - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


#: The optimisers by the names ``tinygraph train --optimizer`` takes.
OPTIMIZERS = {"gd": GD, "momentum": Momentum, "adam": Adam}
