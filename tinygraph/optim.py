"""Optimisers that step parameters from their ``.grad`` (each step gives a parameter a new
array), and learning-rate schedules.

The document's update rule is plain gradient descent, ``W := W - α dW``; momentum and
Adam follow the deeplearning.ai course's notation (exponentially weighted averages
with bias correction for Adam). ``SGD`` is gradient descent under the name and with
the momentum PyTorch users know; ``weight_decay`` is an L2 term in the gradient for
``GD``, ``SGD`` and ``Momentum`` and decoupled (AdamW) for ``Adam``. ``StepLR`` and
``CosineLR`` set ``optimizer.lr`` step by step.

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
                # In the parameter's dtype: a float64 gradient must not turn a float32 net into float64.
                p.data = self._update(i, p.data, np.asarray(p.grad)).astype(p.data.dtype, copy=False)

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


def _check_decay(owner: str, value) -> None:
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: weight_decay must be a finite number >= 0, got {value!r}")


class GD(Optimizer):
    """Gradient descent, the document's update rule ``W := W - α dW``.

    With weight decay λ, an L2 penalty ``λ/2 ||W||²`` is added to the cost, so its
    gradient joins dW: ``W := W - α (dW + λ W)``.

    Parameters
    ----------
    params : iterable of Tensor
        Leaf Tensors with ``requires_grad=True``, e.g. ``net.parameters()``.
    lr : float
        The learning rate α, > 0.
    weight_decay : float
        λ >= 0, applied to every parameter given (biases too: give those to a second
        optimiser to exempt them). 0, the default, is the document's rule.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = GD([w], lr=0.25)
    >>> (w * w).sum().backward()           # dw = 2w = 4
    >>> opt.step(); w.data.tolist()        # 2 - 0.25 * 4
    [1.0]
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = GD([w], lr=0.25, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step(); w.data.tolist()        # 2 - 0.25 * (4 + 0.5 * 2)
    [0.75]
    """

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_decay(type(self).__name__, weight_decay)
        self.weight_decay = float(weight_decay)

    def _decayed(self, value, grad):
        return grad + self.weight_decay * value if self.weight_decay else grad

    def _update(self, i, value, grad):
        return value - self.lr * self._decayed(value, grad)


class SGD(GD):
    """Stochastic gradient descent as PyTorch users know it: ``GD`` plus optional
    heavy-ball momentum in PyTorch's form.

    With ``g = dW + λ W`` (the L2 weight decay of ``GD``), ``momentum=0`` is exactly
    ``GD``, ``W := W - α g``; with momentum μ > 0::

        v := μ v + g        (v starts at 0, so the first step is α g)
        W := W - α v

    This sums raw gradients; the course's ``Momentum`` averages them,
    ``v := β v + (1 - β) dW``, and so takes steps 1 - β times as large for the same α.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        α, > 0.
    momentum : float
        μ in [0, 1); 0 (the default) is plain gradient descent.
    weight_decay : float
        λ >= 0, added to the gradient as in ``GD``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.25, momentum=0.5)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> w.data.tolist()                    # v = 4, w = 1; then v = 0.5 * 4 + 2 = 4, w = 1 - 1
    [0.0]
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        _check_fraction("SGD", "momentum", momentum)
        self.momentum = float(momentum)
        self.velocity = [np.zeros_like(p.data) for p in self.params] if self.momentum else None

    def _update(self, i, value, grad):
        grad = self._decayed(value, grad)
        if not self.momentum:
            return value - self.lr * grad
        v = self.velocity[i]
        v *= self.momentum
        v += grad
        return value - self.lr * v


class Momentum(Optimizer):
    """Gradient descent with momentum, in the course's form.

    ``v := β v + (1 - β) dW`` (an exponentially weighted average of the gradients,
    starting at v = 0), then ``W := W - α v``. PyTorch's SGD momentum (``SGD`` here)
    instead adds the raw gradient, ``v := β v + dW``; its steps are 1 / (1 - β) times
    larger for the same α.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        α, > 0.
    beta : float
        β in [0, 1); 0 is plain gradient descent.
    weight_decay : float
        λ >= 0: an L2 penalty, ``dW + λ W`` enters the average in place of dW.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0], requires_grad=True)
    >>> opt = Momentum([w], lr=1.0, beta=0.5)
    >>> (w * w).sum().backward()           # dw = 4, v = 0.5 * 0 + 0.5 * 4 = 2
    >>> opt.step(); w.data.tolist()
    [0.0]
    """

    def __init__(self, params, lr: float, beta: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_fraction("Momentum", "beta", beta)
        _check_decay("Momentum", weight_decay)
        self.beta, self.weight_decay = float(beta), float(weight_decay)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i, value, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        v = self.velocity[i]
        v *= self.beta
        v += (1.0 - self.beta) * grad
        return value - self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum and RMSprop with bias correction; with
    ``weight_decay``, AdamW's decoupled decay (Loshchilov & Hutter, 2019).

    At step t = 1, 2, ...::

        m := β1 m + (1 - β1) dW          v := β2 v + (1 - β2) dW²
        m̂ = m / (1 - β1^t)               v̂ = v / (1 - β2^t)
        W := W - α (m̂ / (sqrt(v̂) + ε) + λ W)

    m and v start at 0, so early on they are biased towards 0; dividing by
    ``1 - β^t`` removes that bias, and the first step is ``α dW / (|dW| + ε)``, about α
    per element whatever the gradient's scale.

    The decay λ W is *decoupled*: it is not added to dW, so it never enters m and v
    and is not divided by sqrt(v̂). Every weight shrinks by the factor ``1 - α λ`` per
    step, whatever its gradient's scale; an L2 term in dW would instead be rescaled
    away for weights with large gradients. This is PyTorch's ``AdamW``; PyTorch's
    ``Adam(weight_decay=...)`` is the L2 form, which tinygraph does not offer.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        α, > 0.
    beta1, beta2 : float
        Decay rates of the first and second moment averages, in [0, 1).
    eps : float
        ε > 0, keeps the division finite where ``v̂`` is 0.
    weight_decay : float
        λ >= 0, decoupled; 0 (the default) is plain Adam.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([2.0, -3.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); w.data.round(6).tolist()     # each moves by about lr, against its gradient
    [1.9, -2.9]
    >>> w = tg.Tensor([2.0, -3.0], requires_grad=True)
    >>> w.grad = np.zeros(2)                     # no gradient: only the decay acts
    >>> Adam([w], lr=0.1, weight_decay=0.5).step(); w.data.tolist()   # w (1 - 0.1 * 0.5)
    [1.9, -2.85]
    """

    def __init__(
        self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        owner = type(self).__name__
        _check_fraction(owner, "beta1", beta1)
        _check_fraction(owner, "beta2", beta2)
        _check_positive(owner, "eps", eps)
        _check_decay(owner, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
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
        direction = m_hat / (np.sqrt(v_hat) + self.eps)
        if self.weight_decay:
            direction = direction + self.weight_decay * value
        return value - self.lr * direction


class AdamW(Adam):
    """``Adam`` with decoupled weight decay on by default, ``weight_decay=0.01``
    (PyTorch's ``AdamW`` default). ``Adam(..., weight_decay=λ)`` is the same update.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> w = tg.Tensor([1.0], requires_grad=True)
    >>> w.grad = np.zeros(1)
    >>> opt = AdamW([w], lr=0.1)
    >>> opt.weight_decay, (opt.step(), w.data.tolist())[1]     # 1 - 0.1 * 0.01
    (0.01, [0.999])
    """

    def __init__(
        self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(params, lr, beta1, beta2, eps, weight_decay)


#: The optimisers by the names ``tinygraph train --optimizer`` takes.
OPTIMIZERS = {"gd": GD, "momentum": Momentum, "adam": Adam}


# ----------------------------------------------------------------- learning-rate schedules


class LRScheduler:
    """Sets an optimiser's learning rate from a step count; subclasses define the curve.

    ``schedule(t)`` is the learning rate after t steps (t = 0 is the optimiser's lr
    when the schedule was made, ``base_lr``); it changes nothing. ``schedule.step()``
    advances the count by one and sets ``optimizer.lr`` to ``schedule(count)``. Call it
    once per optimiser step, or once per epoch, after ``optimizer.step()``: the unit of
    t is whatever you step it by.

    Raises
    ------
    TypeError
        ``optimizer`` is not a tinygraph Optimizer.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a tinygraph Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.t = 0

    def __call__(self, t: int) -> float:
        if not _is_whole(t):
            raise TypeError(f"{type(self).__name__}: the step t must be a whole number, got {type(t).__name__}")
        if t < 0:
            raise ValueError(f"{type(self).__name__}: the step t must be >= 0, got {t}")
        return self._lr(int(t))

    def _lr(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        """Advance one step and set ``optimizer.lr``; returns the new learning rate."""
        self.t += 1
        self.optimizer.lr = self(self.t)
        return self.optimizer.lr


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_positive_whole(owner: str, what: str, value) -> None:
    if not (_is_whole(value) and value >= 1):
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps:
    ``lr(t) = base_lr * gamma ** (t // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Steps between decays, >= 1.
    gamma : float
        The factor, > 0 (usually below 1).

    Examples
    --------
    >>> import tinygraph as tg
    >>> opt = tg.optim.GD([tg.Tensor([1.0], requires_grad=True)], lr=1.0)
    >>> schedule = StepLR(opt, step_size=2, gamma=0.5)
    >>> [schedule(t) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    >>> for epoch in range(3):
    ...     opt.step()                     # ... one epoch of training ...
    ...     _ = schedule.step()
    >>> opt.lr
    0.5
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        _check_positive_whole("StepLR", "step_size", step_size)
        _check_positive("StepLR", "gamma", gamma)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def _lr(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineLR(LRScheduler):
    """Cosine annealing from the optimiser's lr down to ``min_lr`` over ``total_steps``,
    then ``min_lr``: ``lr(t) = min_lr + (base_lr - min_lr) (1 + cos(π t / T)) / 2``
    for t <= T (PyTorch's ``CosineAnnealingLR`` without restarts).

    Parameters
    ----------
    optimizer : Optimizer
    total_steps : int
        T >= 1, the step at which ``min_lr`` is reached.
    min_lr : float
        In [0, base_lr]. 0 (the default) ends with steps that no longer move.

    Examples
    --------
    >>> import tinygraph as tg
    >>> opt = tg.optim.Adam([tg.Tensor([1.0], requires_grad=True)], lr=0.1)
    >>> schedule = CosineLR(opt, total_steps=4, min_lr=0.01)
    >>> [round(schedule(t), 4) for t in range(6)]
    [0.1, 0.0868, 0.055, 0.0232, 0.01, 0.01]
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        _check_positive_whole("CosineLR", "total_steps", total_steps)
        if not (_is_real(min_lr) and 0 <= min_lr <= self.base_lr):
            raise ValueError(f"CosineLR: min_lr must be in [0, {self.base_lr}] (the optimizer's lr), got {min_lr!r}")
        self.total_steps, self.min_lr = int(total_steps), float(min_lr)

    def _lr(self, t):
        progress = min(t, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0
