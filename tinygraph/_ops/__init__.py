"""The op table: every primitive, its forward, its backward and its formula side by side.

Each op is one class (in the module of its family) that declares everything about it:
its name and formula text, what its backward saves, its forward and backward, and its
public forms (``method``, ``function``, ``operator``/``reflected``, ``numpy``). Defining
the class registers it in :data:`OPS`; ``tensor.py`` and ``functional.py`` build the
Tensor methods, the ``tg.`` functions and the numpy interop from that table.

Conventions of every backward rule ``backward(self, ctx, g, *saved)``:
- ``g`` is dL/d(out); return one gradient per input, ``None`` for inputs that need none
  (``ctx.needs[i]`` says which do). Gradients may keep the broadcast shape: the engine
  sums them back to each input's shape, once, in the reverse pass.
- Rules use only operators, ``.T``/``.transpose``/``.reshape``/``.sum`` and numpy ufuncs
  (``np.exp``, ``np.log``, ``np.tanh``), so they run on arrays in the fast path and on
  Tensors under ``create_graph=True`` (Tensor implements those ufuncs).
- Build-time checks raise ValueError/TypeError that start with the op's name and give
  every shape involved, so the user sees the mistake where it is made.
- Per-application facts (input shapes, which inputs need gradients) are read from
  ``ctx``, the node; the op instance holds only the parameters it was built with.

This package never imports Tensor.
"""

from tinygraph._ops._base import OPS, Primitive, takes_parameters
from tinygraph._ops import elementwise, linalg, shape, losses, softmax, losses_multiclass, conv  # noqa: F401  (defining the classes registers them)
from tinygraph._ops import indexing, reductions, pointwise, joins, axes, contraction  # noqa: F401  (issue 10, part A)

__all__ = ["OPS", "Primitive", "takes_parameters"]
