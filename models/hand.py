"""The document's networks with backpropagation written by hand, corrected.

Plain numpy, with the document's names and shapes:

* ``X`` is ``(n_x, N)``: one sample per column;
* ``W_l`` is ``(n_l, n_{l-1})`` (out, in) and ``b_l`` is ``(n_l, 1)``;
* ``Y`` and the output ``A_L`` are ``(1, N)``.

Hidden layers use ReLU, the output layer a sigmoid, the cost is the mean binary
cross-entropy. With ``L`` weight layers, ``L = 1`` is logistic regression and
``L = 2`` the one-hidden-layer net. The backward pass is::

    dZ_L = A_L - Y
    dW_l = dZ_l A_{l-1}^T / N        db_l = mean of dZ_l over the samples (columns)
    dA_{l-1} = W_l^T dZ_l            dZ_{l-1} = dA_{l-1} * relu'(Z_{l-1})

Every function keeps the dtype of its inputs: float32 parameters and data give
float32 results (labels are cast to the prediction's dtype so integer or float64
labels do not promote).

What the document got wrong, and the tests pinning each fix, are in docs/errata.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "sigmoid",
    "relu",
    "relu_prime",
    "cross_entropy_cost",
    "linear_forward",
    "linear_backward",
    "hidden_dZ",
    "forward",
    "backward",
    "cost_and_gradients",
    "update_parameters",
    "logistic_regression_step",
    "LogisticRegressionStep",
    "one_hidden_layer_step",
    "OneHiddenLayerStep",
    "propagate",
    "train",
]

LOG_FLOOR = -100.0
"""Lower bound on each log in :func:`cross_entropy_cost` (PyTorch's ``BCELoss`` uses the same)."""


# --------------------------------------------------------------------------- activations


def sigmoid(Z):
    """Logistic function ``1 / (1 + exp(-Z))``, elementwise, without overflow.

    Parameters
    ----------
    Z : array_like

    Returns
    -------
    numpy.ndarray
        Same shape and floating dtype as ``Z``, values in ``[0, 1]``.

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    Z = np.asarray(Z)
    # exp(-|Z|) lies in (0, 1], so it cannot overflow; the document's exp(-Z)
    # overflows (with a warning) for Z < -709 in float64 and Z < -88 in float32.
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def relu(Z):
    """``max(0, Z)`` elementwise.

    Examples
    --------
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return np.maximum(Z, 0)


def relu_prime(Z):
    """Derivative of :func:`relu`: 1 where ``Z > 0``, else 0 (also at ``Z == 0``).

    At 0 ReLU has no derivative; any value in [0, 1] is a subgradient. We take 0,
    as PyTorch does, so both engines agree bit for bit; the document takes 1.

    Examples
    --------
    >>> relu_prime(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
    Z = np.asarray(Z)
    return (Z > 0).astype(Z.dtype)


# --------------------------------------------------------------------------- cost


def cross_entropy_cost(A, Y):
    """Mean binary cross-entropy ``-mean(Y log A + (1 - Y) log(1 - A))``.

    Each log is clipped below at -100, as PyTorch's ``BCELoss`` does. A sigmoid
    output rounds to exactly 1 once ``Z`` exceeds about 17 (float32) or 37
    (float64), and to 0 far out in the negative tail; there ``log`` gives
    ``-inf``, and ``0 * log(0)`` gives ``nan``, so one saturated sample would make
    the whole cost ``inf`` or ``nan``. With the clip a confidently wrong sample
    costs at most 100 and the cost stays finite. The clip changes nothing unless
    ``A == 1`` exactly or ``A < e^-100`` (about 3.7e-44); the gradient used by
    :func:`backward` (``dZ_L = A_L - Y``) comes from the unclipped formula and is
    finite everywhere.

    Parameters
    ----------
    A : numpy.ndarray
        Predicted probabilities, shape ``(1, N)``.
    Y : array_like
        Labels in {0, 1} (soft labels in [0, 1] also work), same shape as ``A``.

    Returns
    -------
    numpy scalar
        The mean over the ``N`` samples, in ``A``'s dtype.

    Raises
    ------
    ValueError
        If ``A`` and ``Y`` differ in shape (a ``(N, 1)`` label column would
        otherwise broadcast against ``(1, N)`` into an ``(N, N)`` cost).

    Examples
    --------
    >>> A = np.array([[0.9, 0.2]]); Y = np.array([[1, 0]])
    >>> round(float(cross_entropy_cost(A, Y)), 4)   # (-log 0.9 - log 0.8) / 2
    0.1643
    >>> float(cross_entropy_cost(np.array([[1.0]]), np.array([[0]])))
    100.0
    """
    A = np.asarray(A)
    Y = _labels_like(A, Y, "cross_entropy_cost")
    # Clipping the log (not A) keeps the cost exact for every A > e^-100.
    with np.errstate(divide="ignore"):
        log_A = np.maximum(np.log(A), LOG_FLOOR)
        log_1_minus_A = np.maximum(np.log1p(-A), LOG_FLOOR)
    return -np.mean(Y * log_A + (1 - Y) * log_1_minus_A)


def _labels_like(A, Y, where):
    Y = np.asarray(Y)
    if Y.shape != A.shape:
        raise ValueError(f"{where}: labels Y have shape {Y.shape}, predictions A have {A.shape}")
    return Y.astype(A.dtype, copy=False)


# --------------------------------------------------------------------------- one layer


def linear_forward(W, A_prev, b):
    """``Z = W A_prev + b``; ``b`` (out, 1) broadcasts over the N columns.

    Examples
    --------
    >>> linear_forward(np.array([[1.0, 2.0]]), np.array([[1.0], [1.0]]), np.array([[0.5]]))
    array([[3.5]])
    """
    return W @ A_prev + b


def linear_backward(dZ, A_prev):
    """Gradients of the mean cost w.r.t. ``W`` and ``b`` of a layer, from its ``dZ``.

    ``dZ`` holds per-sample derivatives (one column each), so the mean cost's
    gradient is the average over columns: ``dW = dZ A_prev^T / N`` and
    ``db = mean(dZ, axis=1)`` kept as a column.

    Returns
    -------
    (dW, db) : tuple of numpy.ndarray
        Shapes ``(n_out, n_in)`` and ``(n_out, 1)``.

    Examples
    --------
    >>> dW, db = linear_backward(np.array([[1.0, 3.0]]), np.array([[2.0, 2.0]]))
    >>> dW, db
    (array([[4.]]), array([[2.]]))
    """
    N = A_prev.shape[1]
    dW = dZ @ A_prev.T / N
    db = np.mean(dZ, axis=1, keepdims=True)
    return dW, db


def hidden_dZ(W_next, dZ_next, Z):
    """``dZ_l = (W_{l+1}^T dZ_{l+1}) * relu'(Z_l)``: back through a layer, then its ReLU.

    Examples
    --------
    >>> hidden_dZ(np.array([[2.0, 3.0]]), np.array([[1.0]]), np.array([[0.5], [-0.5]]))
    array([[2.],
           [0.]])
    """
    dA = W_next.T @ dZ_next
    return dA * relu_prime(Z)


def _descend(value, gradient, learning_rate):
    # A new array, so the caller's parameters stay as they were (see update_parameters).
    return value - learning_rate * gradient


# --------------------------------------------------------------------------- L layers


def _n_layers(parameters):
    L = 0
    while "W" + str(L + 1) in parameters:
        L += 1
    if L == 0:
        raise ValueError("parameters: no 'W1' found; expected keys 'W1', 'b1', ..., 'WL', 'bL'")
    missing = [f"b{l}" for l in range(1, L + 1) if f"b{l}" not in parameters]
    if missing:
        raise ValueError(f"parameters: missing {', '.join(missing)} for {L} layers")
    return L


def forward(parameters, X):
    """Forward pass: ReLU on hidden layers, sigmoid on the last.

    Parameters
    ----------
    parameters : dict
        ``'W1', 'b1', ..., 'WL', 'bL'``; ``L`` is read from the keys (``L >= 1``).
    X : numpy.ndarray
        Inputs, shape ``(n_x, N)``.

    Returns
    -------
    AL : numpy.ndarray
        Output probabilities, shape ``(n_L, N)``.
    cache : dict
        ``{'A0': X, 'Z1': ..., 'A1': ..., ..., 'ZL': ..., 'AL': ...}`` for :func:`backward`.

    Examples
    --------
    >>> p = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    >>> AL, cache = forward(p, np.array([[2.0], [2.0]]))
    >>> AL, sorted(cache)
    (array([[0.5]]), ['A0', 'A1', 'Z1'])
    """
    L = _n_layers(parameters)
    cache = {"A0": X}
    A = X
    for l in range(1, L + 1):
        Z = linear_forward(parameters["W" + str(l)], A, parameters["b" + str(l)])
        A = sigmoid(Z) if l == L else relu(Z)
        cache["Z" + str(l)] = Z
        cache["A" + str(l)] = A
    return A, cache


def backward(parameters, cache, Y):
    """Gradients of :func:`cross_entropy_cost` of :func:`forward`, for every layer.

    Parameters
    ----------
    parameters : dict
        As passed to :func:`forward`.
    cache : dict
        The cache :func:`forward` returned.
    Y : array_like
        Labels, shape ``(1, N)``.

    Returns
    -------
    dict
        ``{'dW1': ..., 'db1': ..., ..., 'dWL': ..., 'dbL': ...}``, each the shape
        of its parameter.

    Examples
    --------
    >>> p = {"W1": np.array([[0.0, 0.0]]), "b1": np.array([[0.0]])}
    >>> X = np.array([[1.0, -1.0], [2.0, 0.0]]); Y = np.array([[1, 0]])
    >>> g = backward(p, forward(p, X)[1], Y)       # dZ = [[-0.5, 0.5]]
    >>> g["dW1"], g["db1"]
    (array([[-0.5, -0.5]]), array([[0.]]))
    """
    L = _n_layers(parameters)
    AL = cache["A" + str(L)]
    # sigmoid + cross-entropy: dL/dZ_L = A_L - Y, which stays finite even where
    # A_L has rounded to 0 or 1 (unlike dL/dA_L = -Y/A + (1-Y)/(1-A)).
    dZ = AL - _labels_like(AL, Y, "backward")
    gradients = {}
    for l in range(L, 0, -1):
        A_prev = cache["A" + str(l - 1)]
        gradients["dW" + str(l)], gradients["db" + str(l)] = linear_backward(dZ, A_prev)
        if l > 1:
            dZ = hidden_dZ(parameters["W" + str(l)], dZ, cache["Z" + str(l - 1)])
    return gradients


def cost_and_gradients(parameters, X, Y):
    """Cost and its gradients in one forward-backward pass.

    Returns
    -------
    cost : numpy scalar
    gradients : dict
        As :func:`backward`.

    Examples
    --------
    >>> p = {"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))}
    >>> cost, g = cost_and_gradients(p, np.ones((2, 3)), np.array([[1, 1, 0]]))
    >>> round(float(cost), 6), sorted(g)      # cost ln 2 at A = 0.5
    (0.693147, ['dW1', 'db1'])
    """
    AL, cache = forward(parameters, X)
    cost = cross_entropy_cost(AL, Y)
    return cost, backward(parameters, cache, Y)


def update_parameters(parameters, gradients, learning_rate):
    """One gradient-descent step, ``P := P - learning_rate * dP``, returned as a NEW dict.

    The input dict and its arrays are left unchanged, so the same initial
    parameters can start several runs (hand-written and tinygraph, two inits);
    the document updated in place.

    Examples
    --------
    >>> p = {"W1": np.array([[1.0]]), "b1": np.array([[0.0]])}
    >>> q = update_parameters(p, {"dW1": np.array([[2.0]]), "db1": np.array([[1.0]])}, 0.5)
    >>> q["W1"], q["b1"], p["W1"]
    (array([[0.]]), array([[-0.5]]), array([[1.]]))
    """
    L = _n_layers(parameters)
    updated = dict(parameters)
    for l in range(1, L + 1):
        for name in ("W" + str(l), "b" + str(l)):
            updated[name] = _descend(parameters[name], gradients["d" + name], learning_rate)
    return updated


# --------------------------------------------------------------------------- the document's three nets


class LogisticRegressionStep(NamedTuple):
    """Result of :func:`logistic_regression_step`: updated parameters, cost and gradients before the update."""

    W: np.ndarray
    b: np.ndarray
    cost: np.floating
    dW: np.ndarray
    db: np.ndarray


def logistic_regression_step(W, b, X, Y, learning_rate):
    """One gradient-descent step of logistic regression (the document's single neuron).

    ``W`` is ``(1, n_x)`` (out, in), as in the document's later layers; the
    document's ``neuron`` used its transpose ``(n_x, 1)`` with ``W^T x``.

    Returns
    -------
    LogisticRegressionStep
        ``(W, b, cost, dW, db)``: new ``W, b``; the cost and gradients at the old ones.

    Examples
    --------
    >>> step = logistic_regression_step(np.zeros((1, 2)), np.zeros((1, 1)),
    ...                                 np.array([[1.0, -1.0], [0.0, 2.0]]), np.array([[1, 0]]), 1.0)
    >>> step.dW, step.W
    (array([[-0.5,  0.5]]), array([[ 0.5, -0.5]]))
    """
    # forward propagation
    Z = linear_forward(W, X, b)
    Y_hat = sigmoid(Z)
    cost = cross_entropy_cost(Y_hat, Y)
    # backward propagation
    dZ = Y_hat - _labels_like(Y_hat, Y, "logistic_regression_step")
    dW, db = linear_backward(dZ, X)
    # update parameters
    return LogisticRegressionStep(
        _descend(W, dW, learning_rate), _descend(b, db, learning_rate), cost, dW, db
    )


class OneHiddenLayerStep(NamedTuple):
    """Result of :func:`one_hidden_layer_step`: updated parameters, cost and gradients before the update."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    cost: np.floating
    dW1: np.ndarray
    db1: np.ndarray
    dW2: np.ndarray
    db2: np.ndarray


def one_hidden_layer_step(W1, b1, W2, b2, X, Y, learning_rate):
    """One gradient-descent step of the one-hidden-layer net (ReLU hidden, sigmoid output).

    Returns
    -------
    OneHiddenLayerStep
        ``(W1, b1, W2, b2, cost, dW1, db1, dW2, db2)``: new parameters; the cost
        and gradients at the old ones.

    Examples
    --------
    >>> W1 = np.array([[1.0], [-1.0]]); b1 = np.zeros((2, 1))
    >>> W2 = np.array([[1.0, 1.0]]);    b2 = np.zeros((1, 1))
    >>> step = one_hidden_layer_step(W1, b1, W2, b2, np.array([[2.0]]), np.array([[1]]), 0.1)
    >>> step.dW1.ravel().round(4), step.dW2.ravel().round(4)   # second unit is off
    (array([-0.2384,  0.    ]), array([-0.2384,  0.    ]))
    """
    # forward propagation: hidden layer 1, then the output layer
    Z1 = linear_forward(W1, X, b1)
    A1 = relu(Z1)
    Z2 = linear_forward(W2, A1, b2)
    A2 = sigmoid(Z2)
    cost = cross_entropy_cost(A2, Y)
    # backward propagation: output layer, then hidden layer 1
    dZ2 = A2 - _labels_like(A2, Y, "one_hidden_layer_step")
    dW2, db2 = linear_backward(dZ2, A1)
    dZ1 = hidden_dZ(W2, dZ2, Z1)
    dW1, db1 = linear_backward(dZ1, X)
    # update parameters
    return OneHiddenLayerStep(
        _descend(W1, dW1, learning_rate),
        _descend(b1, db1, learning_rate),
        _descend(W2, dW2, learning_rate),
        _descend(b2, db2, learning_rate),
        cost,
        dW1,
        db1,
        dW2,
        db2,
    )


def propagate(X, parameters, Y, L=None):
    """The document's deep ``propagate``, corrected: forward and backward through ``L`` layers.

    Same arguments as the document's; unlike it, the cost is returned (the
    document computed it and dropped it).

    Parameters
    ----------
    X, parameters, Y
        As :func:`cost_and_gradients`.
    L : int, optional
        Number of weight layers; read from ``parameters`` when omitted and
        checked against them when given.

    Returns
    -------
    cost, gradients
        As :func:`cost_and_gradients`.

    Examples
    --------
    >>> p = {"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))}
    >>> cost, g = propagate(np.ones((2, 4)), p, np.array([[1, 0, 1, 0]]), L=1)
    >>> g["dW1"], g["db1"]
    (array([[0., 0.]]), array([[0.]]))
    """
    if L is not None and L != _n_layers(parameters):
        raise ValueError(f"propagate: L={L} but parameters hold {_n_layers(parameters)} layers")
    return cost_and_gradients(parameters, X, Y)


def train(parameters, X, Y, *, learning_rate=0.01, n_epochs=1000):
    """The document's training loop, corrected: full-batch gradient descent.

    Parameters
    ----------
    parameters : dict
        Starting point; not modified.
    X, Y : numpy.ndarray
        Training inputs ``(n_x, N)`` and labels ``(1, N)`` (the document loaded
        them as ``train_X, train_Y`` and then used undefined ``X, Y``).
    learning_rate : float
        The document's 0.01 by default.
    n_epochs : int
        The document's 1000 by default.

    Returns
    -------
    parameters : dict
        After ``n_epochs`` updates.
    costs : numpy.ndarray
        ``n_epochs + 1`` costs: before each update and after the last.

    Examples
    --------
    >>> p = {"W1": np.zeros((1, 1)), "b1": np.zeros((1, 1))}
    >>> p, costs = train(p, np.array([[-1.0, 1.0]]), np.array([[0, 1]]), learning_rate=1.0, n_epochs=50)
    >>> bool(costs[-1] < costs[0]), float(p["W1"][0, 0]) > 0
    (True, True)
    """
    costs = []
    for _ in range(n_epochs):
        cost, gradients = cost_and_gradients(parameters, X, Y)
        costs.append(cost)
        parameters = update_parameters(parameters, gradients, learning_rate)
    AL, _ = forward(parameters, X)
    costs.append(cross_entropy_cost(AL, Y))
    return parameters, np.array(costs)
