"""What is measured: the workloads of the table, as plain numpy data.

Every engine receives the same arrays from here (one seed per workload), so the engines
start from identical weights and see identical inputs. Engines copy what they update,
so one workload's arrays can feed several engines.

Two kinds of workload:

* :class:`MLP`: one full gradient-descent step of the document's L-layer binary
  classifier (ReLU hidden layers, sigmoid output, mean cross-entropy cost), with the
  document's shapes: ``X`` is (features, samples), ``W_l`` (out, in), ``b_l`` (out, 1).
* :class:`Chain`: a long chain of small elementwise ops, forward then backward, to
  measure what an engine costs per op when the arithmetic itself is negligible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Learning rate of every step (the document's 0.01).
LEARNING_RATE = 0.01

#: The op mix of every chain, repeated in this order: a nonlinearity, a product with a
#: parameter that requires grad (so its gradient accumulates over every use, as a
#: shared weight's does), and an add of a Python constant (the cheapest op there is,
#: so engine overhead is all that remains). Each entry is one op.
CHAIN_CYCLE = ("tanh", "mul_w", "add_const")

#: The constant of the ``add_const`` ops.
CHAIN_CONST = 0.01


@dataclass(frozen=True)
class MLP:
    """One training step of an MLP with layer sizes ``units`` on ``n_samples`` samples."""

    key: str
    title: str
    units: tuple
    n_samples: int
    dtype: str = "float64"
    seed: int = 0

    @property
    def L(self) -> int:
        return len(self.units) - 1

    def data(self, dtype: str | None = None):
        """``(parameters, X, Y)``: He-initialised weights, zero biases, inputs and 0/1 labels.

        ``dtype`` overrides the workload's own (the gradient check runs every workload
        in float64). Values are drawn in float64 and then rounded, so a float32 run
        starts from the float64 run's numbers.
        """
        dtype = np.dtype(dtype or self.dtype)
        rng = np.random.default_rng(self.seed)
        # Inputs in [0, 1) like the document's pixels divided by 255.
        X = rng.random((self.units[0], self.n_samples)).astype(dtype)
        Y = (rng.random((1, self.n_samples)) < 0.5).astype(dtype)
        parameters = {}
        for l in range(1, self.L + 1):
            fan_in, fan_out = self.units[l - 1], self.units[l]
            # He initialisation: the weights the project trains with (models/init.py).
            W = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
            parameters[f"W{l}"] = W.astype(dtype)
            parameters[f"b{l}"] = np.zeros((fan_out, 1), dtype=dtype)
        return parameters, X, Y

    def describe(self) -> str:
        shape = ", ".join(str(u) for u in self.units)
        return f"[{shape}], N={self.n_samples}, {self.dtype}"


@dataclass(frozen=True)
class Chain:
    """``n_ops`` elementwise ops (the :data:`CHAIN_CYCLE` mix) on a ``shape`` array, then a sum."""

    key: str
    title: str
    n_ops: int
    shape: tuple = (10, 10)
    seed: int = 1

    def data(self):
        """``(x, w)``: the chain's input and its multiplying parameter, both float64."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal(self.shape)
        # Near 1, so values neither blow up nor collapse over thousands of products.
        w = rng.uniform(0.9, 1.1, self.shape)
        return x, w

    def kinds(self) -> list:
        """The op of each position, ``n_ops`` entries."""
        return [CHAIN_CYCLE[i % len(CHAIN_CYCLE)] for i in range(self.n_ops)]

    def describe(self) -> str:
        shape = "x".join(str(s) for s in self.shape)
        return f"{self.n_ops:,} ops on {shape}"


# ----------------------------------------------------------------- the table's workloads

DEEP = MLP("deep", "document's deep net, one step", (12288, 5, 5, 5, 3, 1), 209)
LOGISTIC = MLP("logistic", "logistic regression, one step", (12288, 1), 209)
MATRIX32 = MLP("mlp32", "matrix-bound MLP, one step", (784, 512, 512, 1), 256, "float32")
MATRIX64 = MLP("mlp64", "matrix-bound MLP, one step", (784, 512, 512, 1), 256, "float64")
# Seed 1: with seed 0 every ReLU of this narrow net is dead, every gradient is zero and
# the gradient check would prove nothing (check.py refuses such a workload).
SMALL = MLP("small", "document's net, small, one step", (64, 5, 5, 5, 3, 1), 16, seed=1)

PER_OP = Chain("chain2k", "per-op overhead, fwd+bwd", 2_000)
LONG = Chain("chain100k", "100,000-op chain, fwd+bwd", 100_000, shape=(1,))
VERY_LONG = Chain("chain1m", "1,000,000-op chain", 1_000_000, shape=(1,))

#: Every workload by key.
WORKLOADS = {w.key: w for w in (DEEP, LOGISTIC, MATRIX32, MATRIX64, SMALL, PER_OP, LONG, VERY_LONG)}

#: What the gradient check runs for each chain: the same builder, short enough to be
#: cheap and long enough to go through every op of the mix many times.
CHECK_CHAINS = {"chain2k": PER_OP, "chain100k": Chain("chain100k", LONG.title, 3_000, shape=(1,))}
