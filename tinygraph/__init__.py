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

from tinygraph._graph import Node, Op, is_grad_enabled, name_scope, no_grad
from tinygraph._ops import OPS
from tinygraph.functional import FUNCTIONS, grad
from tinygraph.tensor import Tensor
from tinygraph._anomaly import detect_anomaly
from tinygraph.viz import draw
from tinygraph._compile import compile  # noqa: A004  (tg.compile; shadows the builtin in tg's namespace only)
from tinygraph import data, nn, optim  # noqa: E402  (they build on the names above)

# The function form of every op (tg.exp, tg.matmul, tg.binary_cross_entropy, ...), as the op table declares them.
globals().update(FUNCTIONS)

__version__ = "0.1.0"

__all__ = [  # noqa: PLE0604  (the op table names the functions)
    "Tensor",
    "Op",
    "Node",
    "OPS",
    "no_grad",
    "is_grad_enabled",
    "name_scope",
    "detect_anomaly",
    "grad",
    "compile",
    "draw",
    "nn",
    "optim",
    "data",
    *sorted(FUNCTIONS),
]
