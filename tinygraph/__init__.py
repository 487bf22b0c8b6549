"""tinygraph: an autograd engine on numpy that records a computation graph,
backpropagates through it, checks every derivative and draws the graph.

Examples
--------
>>> import tinygraph as tg
>>> x = tg.Tensor([1.0, -2.0], requires_grad=True)
>>> (tg.relu(x) * 3).sum().backward()
>>> x.grad.tolist()
[3.0, 0.0]
"""

from tinygraph._graph import Op, is_grad_enabled, name_scope, no_grad
from tinygraph._ops import OPS
from tinygraph.functional import broadcast_to, exp, grad, log, matmul, relu, sigmoid, tanh
from tinygraph.losses import binary_cross_entropy, binary_cross_entropy_with_logits
from tinygraph.tensor import Tensor
from tinygraph.viz import draw
from tinygraph import nn, optim  # noqa: E402  (they build on the names above)

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "Op",
    "OPS",
    "no_grad",
    "is_grad_enabled",
    "name_scope",
    "grad",
    "matmul",
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "log",
    "broadcast_to",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "draw",
    "nn",
    "optim",
]
