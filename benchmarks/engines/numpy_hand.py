"""Hand-written numpy: the lower bound every other engine is measured against.

The document's corrected backward pass, written as tightly as plain numpy allows:

    dZ_L = A_L - Y
    dW_l = dZ_l A_{l-1}^T / N        db_l = row-mean of dZ_l
    dA_{l-1} = W_l^T dZ_l            dZ_{l-1} = dA_{l-1} * relu'(Z_{l-1})

Two rearrangements make it the floor rather than a transcription; both leave the
mathematics unchanged (``tinygraph_models.hand``, the literal formulas, agrees with it
to rounding, which ``benchmarks.check`` verifies):

* the ``1/N`` is applied once to ``dZ_L`` (a 1 x N row) instead of to every ``dW_l``
  and ``db_l``; the row-mean of ``dZ`` then becomes a row-sum;
* ReLU overwrites ``Z`` in place, and ``relu'(Z)`` is read from ``A = relu(Z)``
  (``A > 0`` exactly where ``Z > 0``), so a hidden layer allocates one array, not two.

The cost is computed from the logits, as the fused losses of tinygraph and PyTorch do,
so every engine evaluates the same formula.
"""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import CHAIN_CONST

NAME = "numpy"
LABEL = "numpy (hand)"


def available():
    return True, np.__version__


class MLP:
    """One gradient-descent step of the L-layer classifier on numpy arrays."""

    def __init__(self, parameters: dict, X: np.ndarray, Y: np.ndarray, lr: float):
        self.L = len(parameters) // 2
        self.W = [None] + [parameters[f"W{l}"].copy() for l in range(1, self.L + 1)]
        self.b = [None] + [parameters[f"b{l}"].copy() for l in range(1, self.L + 1)]
        self.X, self.Y, self.lr = X, Y, lr

    def _backprop(self):
        W, b, L = self.W, self.b, self.L
        A = [self.X]
        for l in range(1, L):
            Z = W[l] @ A[l - 1]
            Z += b[l]
            A.append(np.maximum(Z, 0.0, out=Z))
        Z = W[L] @ A[L - 1]
        Z += b[L]
        # Stable cost and sigmoid from the same exp(-|Z|), which never overflows.
        E = np.exp(-np.abs(Z))
        cost = np.mean(np.maximum(Z, 0.0) - Z * self.Y + np.log1p(E))
        A_L = np.where(Z >= 0, 1.0, E) / (1.0 + E)
        dZ = (A_L - self.Y) / Z.shape[1]
        dW, db = [None] * (L + 1), [None] * (L + 1)
        for l in range(L, 0, -1):
            dW[l] = dZ @ A[l - 1].T
            db[l] = dZ.sum(axis=1, keepdims=True)
            if l > 1:
                dA = W[l].T @ dZ
                dZ = np.multiply(dA, A[l - 1] > 0, out=dA)
        return cost, dW, db

    def step(self):
        """Forward, cost, backward and the update ``P := P - lr dP``, in place."""
        _, dW, db = self._backprop()
        for l in range(1, self.L + 1):
            self.W[l] -= self.lr * dW[l]
            self.b[l] -= self.lr * db[l]

    def gradients(self):
        """``(cost, {"dW1": ..., "db1": ...})`` at the current weights, without updating."""
        cost, dW, db = self._backprop()
        grads = {}
        for l in range(1, self.L + 1):
            grads[f"dW{l}"], grads[f"db{l}"] = dW[l], db[l]
        return float(cost), grads



class Chain:
    """The op chain of :class:`benchmarks.workloads.Chain` with its backward written out."""

    def __init__(self, x: np.ndarray, w: np.ndarray, kinds: list):
        self.x, self.w, self.kinds = x.copy(), w.copy(), kinds

    def forward(self):
        h, w, const = self.x, self.w, CHAIN_CONST
        saved = []  # what each op's backward reads: tanh its output, mul_w its input
        append = saved.append
        for kind in self.kinds:
            if kind == "tanh":
                h = np.tanh(h)
                append(h)
            elif kind == "mul_w":
                append(h)
                h = h * w
            else:
                h = h + const
                append(None)
        return h.sum(), saved

    def backward(self, state):
        _, saved = state
        w = self.w
        g = np.ones_like(self.x)
        dw = np.zeros_like(w)
        for kind, s in zip(reversed(self.kinds), reversed(saved)):
            if kind == "tanh":
                g = g * (1.0 - s * s)
            elif kind == "mul_w":
                dw += g * s
                g = g * w
            # add_const passes g through unchanged: no work at all
        return {"x": g, "w": dw}

    def run(self):
        return self.backward(self.forward())

    def gradients(self):
        state = self.forward()
        return float(state[0]), self.backward(state)
