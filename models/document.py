"""The document's numpy code AS WRITTEN, kept so the tests can show each mistake.

Do not use this module for anything but that: most of it is wrong on purpose.
The corrected code is :mod:`tinygraph_models.hand`; the list of mistakes, each
with the test that pins it, is docs/errata.md (``E1`` ... below refer to it).

Changes from the printed text, and only these:

* indentation restored (the extracted text has none);
* five statements printed across a line break that Python cannot continue
  (after ``+``, ``*`` or before ``/``), one of them with an extra ``)``, are
  joined and the ``)`` dropped (E14); ``AS_PRINTED`` keeps both forms;
* the top-level snippets are wrapped in functions whose parameters are the
  snippet's free names (``W``, ``x``, ``N``, ``learning_rate``, ...), so the
  module imports and tests can call them; the ``return`` lines marked
  ``# added`` hand back what the snippet computed. Names the document never
  defined (``y_hat`` in the batch cost, ``n_units`` in two initialisers, ``X``
  and ``Y`` in the training loop) are left free: calling those raises NameError;
* the document's printed outputs are kept as constants (``PRINTED_...``).

Every line that is wrong carries a comment starting ``# WRONG``.
"""

# Names left undefined and values left unused are the document's (see above).
# ruff: noqa: F821, F841

import numpy as np

# --------------------------------------------------------------------------- logistic regression


def sigmoid(z):
    a = 1 / (1 + np.exp(-z))  # WRONG (E1, minor): exp(-z) overflows (RuntimeWarning) for z < -709
    return a


def neuron(W, x, b):
    z = np.dot(np.transpose(W), x) + b  # E2 (convention): W is (nx, 1) here, (out, in) from W1 on
    y_hat = sigmoid(z)
    return y_hat


# train_x, train_y, test_x, test_y = load_data()
# print(train_x.shape)
PRINTED_TRAIN_X_SHAPE = (209, 64, 64, 3)


def flatten(X):
    return np.transpose(X.reshape(X.shape[0], -1))


# train_x = flatten(train_x)
# print(train_x.shape)
PRINTED_FLATTENED_SHAPE = (12288, 50)  # WRONG (E4): 209 samples flatten to (12288, 209)


def cross_entropy_loss(y_hat, y):
    if y == 0:  # WRONG (E6): on arrays `y == 0` is an array: "truth value ... is ambiguous"
        return -np.log(y_hat)  # WRONG (E5): the y == 0 loss is -log(1 - y_hat); (E7) inf at y_hat == 0
    else:
        return -np.log(1 - y_hat)  # WRONG (E5): the y == 1 loss is -log(y_hat); (E7) inf at y_hat == 1


def logistic_regression_one_sample(W, x, b, y, learning_rate):
    # forward propagation
    y_hat = neuron(W, x, b)
    loss = cross_entropy_loss(y_hat, y)
    # backward propagation
    dz = y_hat - y
    dW = np.dot(dz, x.T)  # E3: (1, nx), the shape of W.T; E9: sums, not averages, over a batch
    db = dz  # E9: one column per sample if x holds a batch
    # update parameters
    W -= learning_rate * dW  # WRONG (E3): W is (nx, 1): "non-broadcastable output operand"
    b -= learning_rate * db
    return W, b, loss, dW, db  # added


def logistic_regression_batch(W, X, b, Y, N, learning_rate):
    # forward propagation
    Y_hat = neuron(W, X, b)
    cost = np.sum(cross_entropy_loss(y_hat, Y)) / N  # WRONG (E8): y_hat is undefined, Y_hat meant
    # backward propagation
    dZ = Y_hat - Y
    dW = np.dot(dZ, X.T) / N  # E3: (1, nx), the shape of W.T
    db = np.dot(dZ, np.ones((N, 1))) / N
    # update parameters
    W -= learning_rate * dW  # WRONG (E3): W is (nx, 1)
    b -= learning_rate * db
    return W, b, cost, dW, db  # added


# --------------------------------------------------------------------------- one hidden layer


def relu(z):
    return np.maximum(0, z)


def one_hidden_layer(W1, b1, W2, b2, X, Y, N, learning_rate):
    # forward propagation
    # hidden layer 1
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    # output layer
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    y_hat = A2
    # backward propagation
    # output layer
    dZ2 = A2 - Y
    dW2 = np.dot(dZ2, A1.T) / N
    db2 = np.dot(dZ2, np.ones(N, 1)) / N  # WRONG (E10): TypeError; the shape must be a tuple (N, 1)
    dA1 = np.dot(W2.T, dZ2)
    # hidden layer 1
    dZ1 = dA1 * (Z1 >= 0)  # E11 (convention): relu'(0) = 1 here, 0 in tinygraph and PyTorch
    dW1 = np.dot(dZ1, X.T) / N
    db1 = np.dot(dZ1, np.ones(N, 1)) / N  # WRONG (E10): TypeError
    # update parameters
    W2 -= learning_rate * dW2
    b2 -= learning_rate * db2
    W1 -= learning_rate * dW1
    b1 -= learning_rate * db1
    return y_hat, dW1, db1, dW2, db2  # added


def initialize_parameters_single_hidden_layer():  # WRONG (E12): reads a global n_units
    W1 = np.random.rand(n_units[1], n_units[0]) * 0.01  # WRONG (E13): uniform [0, 0.01)
    b1 = np.zeros(n_units[1], 1)  # WRONG (E10): TypeError
    W2 = np.random.rand(n_units[2], n_units[1]) * 0.01  # WRONG (E13)
    b2 = np.zeros(n_units[2], 1)  # WRONG (E10)
    return W1, b1, W2, b2


def initialize_parameters_logistic_regression():  # WRONG (E12): reads a global n_units
    W = np.random.rand(n_units[1], n_units[0]) * 0.01  # WRONG (E13); (E3): (1, nx), neuron wants (nx, 1)
    b = np.zeros(n_units[1], 1)  # WRONG (E10)
    return W, b


# --------------------------------------------------------------------------- deep network


def initialize_parameters(n_units):
    parameters = {}
    for l in range(1, len(n_units)):
        parameters['W'+str(l)] = np.random.rand(n_units[l],
                                                n_units[l-1]) * 0.01  # WRONG (E13)
        parameters['b'+str(l)] = np.zeros(n_units[l], 1)  # WRONG (E10)
    return parameters


def propagate(X, parameters, Y, L):
    N = X.shape[1]
    # forward
    A = {}
    Z = {}
    A['0'] = X
    for l in range(1, L):
        Z[str(l)] = np.dot(parameters['W'+str(l)], A[str(l-1)]) + parameters['b'+str(l)]  # E14 joined
        A[str(l)] = relu(Z[str(l)])
    Z[str(L)] = np.dot(parameters['W'+str(L)], A[str(L-1)]) + parameters['b'+str(L)]  # E14 joined
    A[str(L)] = sigmoid(Z[str(L)])
    loss = cross_entropy_loss(A[str(L)], Y)  # WRONG (E5, E6)
    cost = np.mean(loss)  # WRONG (E17): computed, never returned
    # backward
    dA = {}
    dZ = {}
    gradients = {}
    dZ[str(L)] = A[str(L)] - Y
    gradients['dW'+str(L)] = np.dot(dZ[str(L)], A[str(L-1)].T) / N
    gradients['db'+str(L)] = np.dot(dZ[str(L)].T, np.ones(N, 1)) / N  # WRONG (E10, E16)
    for l in reversed(range(1, L)):
        dA[str(l)] = np.dot(parameters['W'+str(l+1)].T,
                            dZ[str(l+1)])  # E15: dA is never used: no dZ[l] = dA[l] * relu'(Z[l])
        gradients['dW'+str(l)] = np.dot(dZ[str(l+1)], A[str(l)].T) / N  # WRONG (E15); E14 joined
        gradients['db'+str(l)] = np.dot(dZ[str(l+1)].T,
                                        np.ones(N, 1)) / N  # WRONG (E15, E16, E10)
    return gradients


def update_parameters(parameters, gradients, learning_rate, L):
    for l in range(1, L+1):
        parameters['W'+str(l)] -= learning_rate * gradients['dW'+str(l)]  # E14 joined
        parameters['b'+str(l)] -= learning_rate * gradients['db'+str(l)]  # E14 joined
    return parameters


def training_script(load_data):
    train_X, train_Y, test_X, test_Y, classes = load_data()
    nx = train_X.shape[0]  # WRONG (E19): train_X is never flattened: this is the sample count
    n_units = [nx, 5, 5, 5, 3, 1]
    L = len(n_units) - 1
    n_epochs = 1000
    learning_rate = 0.01
    parameters = initialize_parameters(n_units)
    for _ in range(n_epochs):
        gradients = propagate(X, parameters, Y, L)  # WRONG (E18): X, Y undefined
        parameters = update_parameters(parameters, gradients,
                                       learning_rate, L)
    return parameters  # added


# --------------------------------------------------------------------------- E14: the printed forms

AS_PRINTED = {
    "propagate: hidden Z": (
        "Z[str(l)] = np.dot(parameters['W'+str(l)], A[str(l-1)]) +\n"
        "parameters['b'+str(l)])\n",
        "Z[str(l)] = np.dot(parameters['W'+str(l)], A[str(l-1)]) + parameters['b'+str(l)]\n",
    ),
    "propagate: output Z": (
        "Z[str(L)] = np.dot(parameters['W'+str(L)], A[str(L-1)]) +\n"
        "parameters['b'+str(L)]\n",
        "Z[str(L)] = np.dot(parameters['W'+str(L)], A[str(L-1)]) + parameters['b'+str(L)]\n",
    ),
    "propagate: hidden dW": (
        "gradients['dW'+str(l)] = np.dot(dZ[str(l+1)], A[str(l)].T)\n"
        "/ N\n",
        "gradients['dW'+str(l)] = np.dot(dZ[str(l+1)], A[str(l)].T) / N\n",
    ),
    "update_parameters: W": (
        "parameters['W'+str(l)] -= learning_rate *\n"
        "gradients['dW'+str(l)]\n",
        "parameters['W'+str(l)] -= learning_rate * gradients['dW'+str(l)]\n",
    ),
    "update_parameters: b": (
        "parameters['b'+str(l)] -= learning_rate *\n"
        "gradients['db'+str(l)]\n",
        "parameters['b'+str(l)] -= learning_rate * gradients['db'+str(l)]\n",
    ),
}
"""Statement name -> (as printed, as transcribed here). The printed forms are not Python."""
