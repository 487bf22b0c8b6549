"""Draw a computation graph with Graphviz: ``tg.draw(root)`` returns a ``graphviz.Digraph``.

The picture reads like the document's derivation, inputs on the left and the cost on
the right: every tensor is a record (its name, shape and dtype) and every op is its own
oval between the tensors it reads and the tensor it makes. Colours tell the kinds of
tensor apart: parameters (leaves that require grad) are amber, inputs and constants
(leaves that do not) are blue-grey, intermediate results are white, and the root has a
heavy border. Name scopes become clusters.

``draw`` only writes DOT source, so it works without the ``dot`` program; a Jupyter
cell shows the returned Digraph as SVG, and :func:`render` writes a file.

The package follows the picture's concerns: ``_layout`` decides what is drawn (the
ops and tensors, collapsed scopes and chains, the spine), ``_annotate`` reads
gradients and values from the engine, ``_dot`` writes the DOT text, ``_shape``
measures it to choose the direction and dot's settings, ``_runner`` runs ``dot``
with a time limit, and ``_render`` writes files. Only ``_layout`` and ``_annotate``
read the engine's nodes. Importing this package does not import graphviz:
:func:`draw` does, when it builds a Digraph.
"""

from tinygraph.viz._dot import OPTIONS, draw
from tinygraph.viz._render import render
from tinygraph.viz._runner import DotError, DotNotFoundError, DotTimeoutError

__all__ = ["OPTIONS", "DotError", "DotNotFoundError", "DotTimeoutError", "draw", "render"]
