"""Check derivatives the way tinygraph checks its own: against central finite differences.

- ``gradcheck(fn, *inputs)``: first derivatives of any function built from Tensors.
- ``gradgradcheck(fn, *inputs)``: second derivatives (the backward of the backward).
- ``check_graph(loss)``: every node's backward against its own forward, to name the op
  whose derivative is wrong.
- ``numerical_gradient(f, x)``: the finite-difference oracle itself, on plain arrays.
- ``tinygraph.testing.strategies``: Hypothesis strategies for shapes, broadcasting and
  values kept inside each op's domain (needs ``hypothesis``, a test dependency).

See ``docs/testing.md`` for a worked example that property-tests a user-defined op.
"""

from tinygraph.testing._check_graph import GraphCheck as GraphCheck, NodeCheck as NodeCheck, check_graph
from tinygraph.testing._gradcheck import gradcheck, gradgradcheck
from tinygraph.testing._numeric import numerical_gradient

__all__ = ["gradcheck", "gradgradcheck", "check_graph", "numerical_gradient"]
