"""How it looks: styles, labels and the DOT text of a picture; :func:`draw` puts it together.

Nodes of the engine are only dictionary keys here: what a node is called, its shape or
its operands is asked of :mod:`tinygraph.viz._layout`.
"""

from __future__ import annotations

import html
import re

import numpy as np

from tinygraph.tensor import Tensor
from tinygraph.viz import _layout
from tinygraph.viz._runner import DEFAULT_TIMEOUT, check_timeout, new_digraph
from tinygraph.viz._shape import measure
from tinygraph.viz._annotate import gradients
from tinygraph.viz._annotate import values as compute_values
from tinygraph.viz._layout import Picture

#: Every option of :func:`draw` with its default.
OPTIONS = {
    "show_grads": False,
    "show_formulas": False,
    "show_values": False,
    "rankdir": "auto",
    "max_nodes": 2000,
    "collapse": "auto",
    "title": None,
    "legend": False,
    "timeout": DEFAULT_TIMEOUT,
    "highlight": (),
}

_RANKDIRS = ("auto", "LR", "TB", "RL", "BT")
_COLLAPSE_MODES = ("auto", False, True, "scopes", "chains")

# Arrays of at most this many elements are shown in full, bigger ones as min/mean/max.
_FULL_VALUES = 4

# ----------------------------------------------------------------- look

_FONT = "Helvetica"
_MONO = "Courier"
_INK = "#2B2B2B"
_MUTED = "#6B7280"
_GRAD_INK = "#B42318"
_VALUE_INK = "#1D4E89"

_STYLE = {
    # fill, border
    "param": ("#FFE8B0", "#B7791F"),
    "input": ("#E3E9F3", "#6F83A6"),
    "const": ("#F1F4F9", "#9AA9C2"),
    "tensor": ("#FFFFFF", "#9AA3AF"),
    "op": ("#DCEBFA", "#3F74B5"),
    "box": ("#EEF2F7", "#5B6B82"),
}

_GRAPH_ATTR = {
    "fontname": _FONT,
    "fontsize": "12",
    "nodesep": "0.22",
    "ranksep": "0.32",
    "bgcolor": "white",  # dark notebook themes would hide black ink on a transparent page
    "pad": "0.15",
    "labelloc": "t",
    "labeljust": "l",
    # One global ranking: clusters are not ranked on their own, which avoids the
    # quadratic start of Graphviz 2.43's network simplex on deep graphs.
    "newrank": "true",
}
_NODE_ATTR = {"fontname": _FONT, "fontsize": "11", "color": "#9AA3AF", "penwidth": "1"}
_OPERAND_INK = "#3F74B5"
# The side of an op node where its inputs arrive, for each direction of flow.
_ENTRY_SIDE = {"LR": "w", "RL": "e", "TB": "n", "BT": "s"}
_EDGE_ATTR = {"color": "#6B7280", "arrowsize": "0.6", "penwidth": "0.9"}


# ----------------------------------------------------------------- text


def _esc(text) -> str:
    """Text safe inside a Graphviz HTML-like label (names may hold <, >, &)."""
    return html.escape(str(text), quote=False).replace("\n", " ")


def _num(v: float, digits: int = 4) -> str:
    """A number in a few significant digits; whole numbers keep a '.0' so 1.0 reads as a float."""
    if v == 0:
        v = 0.0  # -0.0 (relu's gradient of a negative input times -1, say) is just zero here
    text = f"{v:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def _nested(values) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _num(values)


def _summary(array) -> str:
    """Every value of a tiny array, else min / mean / max (nan and inf show as such)."""
    array = np.asarray(array)
    if array.size == 0:
        return "empty"
    if array.size <= _FULL_VALUES:
        return _nested(array.astype(np.float64).tolist())
    with np.errstate(all="ignore"):
        wide = array.astype(np.float64, copy=False)
        return f"min {_num(wide.min(), 3)} · mean {_num(wide.mean(), 3)} · max {_num(wide.max(), 3)}"


def _grad_summary(array) -> str:
    array = np.asarray(array)
    if array.size <= _FULL_VALUES:
        return _summary(array)
    with np.errstate(all="ignore"):
        norm = float(np.linalg.norm(array.astype(np.float64, copy=False).ravel()))
    return f"{_summary(array)} · norm {_num(norm, 3)}"


def _shape_text(shape, dtype) -> str:
    shape = tuple(shape)
    dims = "scalar" if not shape else "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    return f"{dims} {np.dtype(dtype).name}"


def _font(text: str, *, size: int | None = None, color: str | None = None, face: str | None = None) -> str:
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    if face is not None:
        attrs += f' FACE="{face}"'
    return f"<FONT{attrs}>{text}</FONT>"


def _rows(lines) -> str:
    """An HTML-like label: one borderless, centred row per line."""
    body = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


# ----------------------------------------------------------------- labels


def _tensor_label(name_html: str, shape, dtype, value, grad, grad_name) -> str:
    lines = [name_html, _font(_esc(_shape_text(shape, dtype)), size=9, color=_MUTED)]
    if value is not None:
        lines.append(_font(_esc(value), size=9, color=_VALUE_INK))
    if grad is not None:
        lines.append(_font(f"<B>{_esc(grad_name)}</B> {_esc(grad)}", size=9, color=_GRAD_INK))
    return _rows(lines)


def _name_html(name: str, made_up: bool) -> str:
    return f"<I>{_esc(name)}</I>" if made_up else f"<B>{_esc(name)}</B>"


# The engine names the operands of generic binary ops x and y, as their formulas do;
# beside tensors named X and Y (the document's data and labels) a port "y" fed by X
# would mislead, so the picture calls them a and b, in the ports and the formulas.
# Names that mean something (the losses' y_hat and y, a user op's own) are kept.
_PORT_NAMES = {"x": "a", "y": "b"}
_OPERAND_WORD = re.compile(r"\b(d?)(x|y)\b")


def _generic(operands: tuple) -> bool:
    """Inputs named x, y, ... by position: two or more of them, x among them."""
    return len(operands) > 1 and "x" in operands


def _port_names(operands: tuple) -> tuple:
    if not _generic(operands):
        return operands
    return tuple(_PORT_NAMES.get(name, name) for name in operands)


def _renamed(formulas, operands: tuple) -> list:
    """Formulas in the port names: "dx = g @ y.T" becomes "da = g @ b.T" where x, y are operands."""
    if not _generic(operands):
        return list(formulas)
    renamed = {name for name in operands if name in _PORT_NAMES}

    def swap(match):
        prefix, name = match.groups()
        return prefix + _PORT_NAMES[name] if name in renamed else match.group(0)

    return [_OPERAND_WORD.sub(swap, formula) for formula in formulas]


def _op_label(title: str, formulas, operands=(), rankdir: str = "LR") -> str:
    """The op's name (and backward rules), with one small port per operand on the side
    the data comes in from, so ``W1 -> x`` and ``X -> y`` show which operand is which."""
    lines = [_esc(title)] if not formulas else [f"<B>{_esc(title)}</B>"]
    lines += [_font(_esc(f), size=9, face=_MONO) for f in formulas]
    if not operands:
        return _rows(lines)
    inner = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    body = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{inner}</TABLE>'
    ports = [f'<TD PORT="p{i}">{_font(_esc(name), size=8, color=_OPERAND_INK)}</TD>' for i, name in enumerate(operands)]
    n = len(ports)
    # The first operand's port comes last in dot's order within a rank (lowest when
    # flowing left to right, rightmost top to bottom): dot keeps a name-scope cluster
    # as a block and places edges from outside it first, so a layer's input (the last
    # operand of W @ X) reaches its port without crossing the parameter's edge.
    ports.reverse()
    if rankdir in ("LR", "RL"):
        main = f'<TD ROWSPAN="{n}" CELLPADDING="2">{body}</TD>'
        first = ports[0] + main if rankdir == "LR" else main + ports[0]
        rows = [first] + ports[1:]
    else:
        main = f'<TD COLSPAN="{n}" CELLPADDING="2">{body}</TD>'
        rows = ["".join(ports), main] if rankdir == "TB" else [main, "".join(ports)]
    table = "".join(f"<TR>{row}</TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{table}</TABLE>>'


def _box_label(scope: str, members, hidden_leaves) -> str:
    names, params = _layout.box_contents(members, hidden_leaves)
    counts: dict = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    parts = [name if n == 1 else f"{name} ×{n}" for name, n in counts.items()]
    if len(parts) > 4:
        parts = parts[:4] + ["…"]
    noun = "op" if len(members) == 1 else "ops"
    lines = [
        f"<B>{_esc(scope.rpartition('/')[2])}</B>",
        _font(_esc(f"{len(members)} {noun}: " + ", ".join(parts)), size=9, color=_MUTED),
    ]
    if params:
        shown = params if len(params) <= 6 else params[:6] + ["…"]
        lines.append(_font(_esc("params " + ", ".join(shown)), size=9, color=_MUTED))
    return _rows(lines)


# ----------------------------------------------------------------- draw


def _check_options(show_grads, show_formulas, show_values, rankdir, max_nodes, collapse, title, legend, unknown):
    valid = ", ".join(f"{k}={v!r}" for k, v in OPTIONS.items())
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"draw: unknown option(s) {names}; the valid options (with defaults) are: {valid}")
    for key, value in (
        ("show_grads", show_grads),
        ("show_formulas", show_formulas),
        ("show_values", show_values),
        ("legend", legend),
    ):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"draw: {key} must be True or False, got {value!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive integer, got {max_nodes!r}")
    if not any(collapse is mode or (isinstance(mode, str) and collapse == mode) for mode in _COLLAPSE_MODES):
        raise ValueError(f"draw: collapse must be one of 'auto', False, True, 'scopes', 'chains', got {collapse!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw: title must be a string or None, got {type(title).__name__}")


def draw(
    root,
    *,
    show_grads: bool = False,
    show_formulas: bool = False,
    show_values: bool = False,
    rankdir: str = "auto",
    max_nodes: int = 2000,
    collapse="auto",
    title: str | None = None,
    legend: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    highlight=(),
    **unknown,
):
    """Draw the computation graph that produced ``root``.

    Every tensor is a record with its name, shape and dtype; every op is an oval
    named after it, with edges following the data: input tensors -> op -> output.
    Parameters (leaves that require grad) are amber, named inputs blue-grey, unnamed
    constants paler, intermediate results white; the root has a heavy border.
    Unnamed results are called after their op ("matmul out"); an unnamed
    one-element constant shows its value ("1.0") and is drawn once per use, next to
    the op that reads it. Where the order of operands matters (``matmul``, ``sub``,
    ``div``, the losses, user ops), the op's oval has one small port per operand and
    each input edge ends at its port. Ports are named as the op's formulas name its
    inputs, except that the generic ``x``, ``y`` of binary ops become ``a``, ``b``
    (in the formulas too: matmul's ``da = g @ b.T``), so that the document's tensors
    ``X`` and ``Y`` are never read as operand names; meaningful names stay (the
    loss's ``y_hat`` and ``y``, a user op's ``forward`` parameters). The first
    operand's port is the lowest (the rightmost top to bottom), so a layer's input
    ``X`` of ``W @ X`` comes straight along the picture's spine while ``W`` joins
    from the side. ``x * x`` draws two edges. Ops and leaves made inside
    ``tg.name_scope`` are drawn inside a cluster per scope (nested scopes, nested
    clusters).

    Parameters
    ----------
    root : Tensor
        Usually the cost. A leaf draws as a one-node picture.
    show_grads : bool
        Show the gradient on each tensor record, named after the document (``dW1``,
        ``dZ1``; ``grad`` when unnamed): every value when it has at most 4 elements,
        else min/mean/max and the norm. Leaves show their ``.grad``; intermediate
        results show the ``.grad`` kept by ``retain_grad()``, or dL/d(result) for this
        root recomputed with ``node_gradients`` while the graph is retained (before
        ``backward()`` freed it, or after ``backward(retain_graph=True)``); when freed,
        the graph label says so. Raises RuntimeError when no tensor has a gradient yet
        (``backward()`` never ran): gradients appear only after backward.
    show_formulas : bool
        Write each op's backward rule (its ``formula``) under its name, one line per
        input that needs a gradient, in terms of ``g`` = dL/d(out), the operand names
        and ``out``: sigmoid reads ``dx = g * out * (1 - out)``.
    show_values : bool
        Show each tensor's data: every value when it has at most 4 elements, else
        min/mean/max. Results are taken from the root, from arrays saved for backward,
        or recomputed by re-running built-in ops on their inputs (user ops are not
        re-run, as they may be random or costly).
    rankdir : {"auto", "LR", "TB", "RL", "BT"}
        Direction of the data flow. ``"auto"`` (the default) chooses by the picture's
        shape, estimated from its longest path (depth) and its widest rank (breadth):
        left to right, which reads like the document's derivation, when that fits a
        notebook cell (about 9 inches, 900 pixels), else whichever of left to right and
        top to bottom is narrower. A cell scrolls down but shrinks what is too wide:
        the document's deep net, about 40 ranks deep and 3 nodes wide, is drawn top
        to bottom; one tensor read by 200 ops side by side stays left to right.
    max_nodes : int
        The most nodes (ops plus tensors) a picture may have: bigger ones are
        unreadable and slow to lay out. With ``collapse="auto"`` (the default) a graph
        over it is drawn collapsed (as ``collapse=True``), and the picture's caption
        says so; a picture still over it after collapsing, or any picture over it
        with another ``collapse``, is refused (ValueError naming the size).
    collapse : {"auto", False, True, "scopes", "chains"}
        Merge repeated structure. ``"auto"``: nothing while the picture fits
        ``max_nodes``, everything (``True``) when it does not. ``"scopes"``: each innermost name scope holding ops
        becomes one box listing its ops and hidden parameters, outer scopes stay
        clusters, and tensors crossing the box's border are still drawn. ``"chains"``:
        a run of three or more of the same op, each reading only the previous one's
        unnamed result (plus unnamed constants), becomes one node "tanh ×2000".
        ``True``: both.
    title : str, optional
        A caption at the top of the picture.
    legend : bool
        Add a small key of the colours.
    highlight : Tensor, Node or sequence of them
        Outline these in red: a Tensor's record (its result and the op that made it,
        for a result), or a node of the graph (``t.grad_fn``, the nodes a
        ``check_graph`` report blames). What is merged into a collapsed box or chain
        outlines that box. Each must be part of ``root``'s graph.
    timeout : float or None
        Seconds ``dot`` may run when the picture is displayed in a notebook, piped
        (``.pipe()``) or rendered (:func:`render`); 30 by default, None for no limit.
        dot is stopped at the limit and a one-line message says what makes the
        picture cheaper (``collapse``, fewer steps or layers, smaller labels).

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text (identical for identical graphs). ``.stats`` is the
        picture's shape: nodes, edges, clusters, estimated ranks and virtual nodes
        (dot's stand-ins for edges that span several ranks), the widest fan-out.
        dot's settings follow from it: its crossing minimisation and placement are
        cut short when the estimated working graph (nodes plus virtual nodes plus 20
        per cluster) passes 2,000 and 8,000, and long edges become straight lines
        when there are thousands of them, so that a weight shared by every step of
        an RNN lays out in a second, not in minutes. A notebook displays it as SVG
        and ``.pipe()`` runs dot within ``timeout`` (a failure shows as its message
        in the cell); Graphviz's own ``.render()`` and ``.view()`` are not bounded,
        use :func:`render` for files.

    Raises
    ------
    TypeError
        For an unknown option (the message lists the valid ones) or a root that is not
        a Tensor.
    ValueError
        For a bad option value (``timeout`` included), or a picture bigger than
        ``max_nodes``.

    Examples
    --------
    ``x * x`` reads its input twice, so two edges go from ``x`` to ``mul``:

    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> loss = (x * x).sum().named("loss")
    >>> dot = tg.draw(loss)
    >>> [line.strip() for line in dot.source.splitlines() if "->" in line]
    ['leaf0 -> op0', 'leaf0 -> op0', 'op0 -> t0', 't0 -> op1', 'op1 -> t1']
    >>> "loss" in dot.source, "mul out" in dot.source
    (True, True)
    """
    _check_options(show_grads, show_formulas, show_values, rankdir, max_nodes, collapse, title, legend, unknown)
    timeout = check_timeout("draw", timeout)
    if not isinstance(root, Tensor):
        raise TypeError(f"draw: root must be a tinygraph Tensor, got {type(root).__name__}")

    collapsed_note = None
    picture = Picture(root, False if collapse == "auto" else collapse)
    size = picture.size()
    if size > max_nodes and collapse == "auto":
        full = size
        picture = Picture(root, True)
        size = picture.size()
        collapsed_note = (
            f"collapsed automatically: {full} nodes in full, more than max_nodes={max_nodes} "
            "(name scopes and runs of identical ops are merged)"
        )
    if size > max_nodes:
        hint = "" if collapse in (True, "auto") else ", or collapse=True to merge name scopes and runs of identical ops"
        raise ValueError(
            f"draw: this graph would draw {size} nodes ({len(picture.ops)} ops plus tensors"
            f"{', collapsed' if collapse in (True, 'auto') else ''}), more than max_nodes={max_nodes}; "
            f"pass max_nodes={size} (or more) to draw it all{hint}"
        )
    marked = picture.marked(highlight)

    grads, note = gradients(picture) if show_grads else ({}, None)
    values = compute_values(picture) if show_values else {}

    caption = [f"<B>{_esc(title)}</B>"] if title else []
    if collapsed_note:
        caption.append(_font(_esc(collapsed_note), size=10, color=_MUTED))
    if note:
        caption.append(_font(_esc(note), size=10, color=_MUTED))

    # Node statements are collected first and written once the direction is known:
    # an op's operand ports sit on the side its inputs come from.
    by_scope: dict = {}  # cluster (None: outside any) -> its node statements
    place: dict = {}  # node id -> its cluster

    def put(scope, node_id, label, attrs, spine=False):
        """``label`` is the label's text, or a function of the direction that makes it."""
        if node_id in marked:
            attrs += _HIGHLIGHT
        scope = picture.placement(scope)
        place[node_id] = scope
        by_scope.setdefault(scope, []).append((node_id, label, attrs, spine))

    def tensor_node(item, node_id, scope, name, made_up, kind, shape, dtype):
        value = values.get(item)
        value_text = None
        if value is not None and not (kind == "const" and not made_up):  # "1.0" already shows its value
            value_text = _summary(value)
        grad = grads.get(item)
        grad_text = None if grad is None else _grad_summary(grad)
        grad_name = "grad" if made_up or name is None else f"d{name}"
        attrs = _ROOT_ATTRS[kind] if item is picture.root or item is picture.root_node else _TENSOR_ATTRS[kind]
        label = _tensor_label(_name_html(name, made_up), shape, dtype, value_text, grad_text, grad_name)
        put(scope, node_id, label, attrs, item in picture.spine)

    def op_label(op, title, formulas, operands):
        ports = _port_names(operands)
        formulas = _renamed(formulas, _layout.operand_names(op)) if formulas else ()
        return lambda direction: _op_label(title, formulas, ports, direction)

    for leaf, node_id in picture.leaf_ids.items():
        if not picture.leaf_drawn[leaf]:
            continue
        name, made_up = _layout.leaf_name(leaf)
        if isinstance(name, float):  # an unnamed one-element constant, named by its value
            name = _num(name)
        kind = _layout.leaf_kind(leaf)
        tensor_node(leaf, node_id, picture.leaf_scope[leaf], name, made_up, kind, *_layout.leaf_type(leaf))

    for op in picture.ops:
        unit = picture.unit[op]
        if unit not in picture.collapsed_units:
            formulas = _layout.formulas(op) if show_formulas else ()
            label = op_label(op, _layout.op_name(op), formulas, _layout.operand_labels(op))
            put(_layout.op_scope(op), unit, label, _OP_ATTRS, op in picture.spine)
        if picture.out_drawn[op]:
            name, made_up = _layout.result_name(op)
            scope = _layout.op_scope(op)
            tensor_node(op, picture.tensor_id(op), scope, name, made_up, "tensor", *_layout.result_type(op))

    for chain, members in picture.chains.items():
        first = members[0]
        formulas = _layout.formulas(first) if show_formulas else ()
        label = op_label(first, f"{_layout.op_name(first)} ×{len(members)}", formulas, ())
        put(_layout.op_scope(first), chain, label, _CHAIN_ATTRS)

    for box, (scope, members) in picture.boxes.items():
        hidden = [leaf for leaf, home in picture.leaf_home.items() if home == box and not picture.leaf_drawn[leaf]]
        put(scope, box, _box_label(scope, members, hidden), _BOX_ATTRS)

    edges = _edges(picture, place)
    nodes = list(place)
    lengths = [(tail, head, 1 if place[tail] == place[head] else 2) for tail, head, _ in edges]
    if legend:
        after = picture.tensor_id(picture.root_node if picture.root_node is not None else root)
        nodes.append("legend")
        lengths.append((after, "legend", 1))
    shape = measure(nodes, lengths, _cluster_count(by_scope))
    if rankdir == "auto":
        rankdir = shape.direction()

    graph_attr = dict(_GRAPH_ATTR, rankdir=rankdir)
    graph_attr.update(shape.graph_attrs())
    if caption:
        graph_attr["label"] = "<" + "<BR/>".join(caption) + ">"
    dot = new_digraph(graph_attr=graph_attr, node_attr=_NODE_ATTR, edge_attr=_EDGE_ATTR)
    dot.stats = shape
    dot.timeout = timeout
    dot.options = {
        "show_grads": show_grads, "show_formulas": show_formulas, "show_values": show_values,
        "rankdir": rankdir, "max_nodes": max_nodes, "collapse": collapse,
    }  # fmt: skip

    # Statements are written as DOT text here rather than through Digraph.node/edge:
    # every attribute value is ours and every label is escaped HTML, so nothing needs
    # graphviz's per-call quoting, which cost most of draw()'s time on big graphs.
    # Left to right, the spine's group draws the path from X to the cost as a straight
    # line; top to bottom, where parameters sit beside the spine rather than under it,
    # the same group pushes each layer's cluster sideways into a staircase.
    spine = _SPINE if rankdir in ("LR", "RL") else ""
    statements = {
        scope: [f"{node_id} [label={label if isinstance(label, str) else label(rankdir)} {attrs}{spine if on_spine else ''}]"
                for node_id, label, attrs, on_spine in items]
        for scope, items in by_scope.items()
    }  # fmt: skip
    body = dot.body
    _emit_clusters(body, statements)
    _emit_edges(body, edges, place, rankdir)
    if legend:
        _emit_legend(body, after)
    return dot


#: What draw(highlight=...) adds to an outlined node: a heavy red border.
_HIGHLIGHT = ' color="#D92D20" penwidth="2.6"'


def _attr_text(attrs: dict) -> str:
    return " ".join(f'{key}="{value}"' for key, value in attrs.items())


def _tensor_attrs(kind: str, **extra) -> str:
    fill, border = _STYLE[kind]
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": border, "margin": "0.06,0.03"}
    return _attr_text({**attrs, **extra})


_TENSOR_ATTRS = {kind: _tensor_attrs(kind) for kind in ("param", "input", "const", "tensor")}
_ROOT_ATTRS = {kind: _tensor_attrs(kind, color=_INK, penwidth="2.2") for kind in _TENSOR_ATTRS}
_OP_ATTRS = _attr_text(
    {"shape": "ellipse", "style": "filled", "fillcolor": _STYLE["op"][0], "color": _STYLE["op"][1], "margin": "0.04,0.02"}
)
_CHAIN_ATTRS = _OP_ATTRS + ' peripheries="2"'  # a double border: several ops in one
_BOX_ATTRS = _attr_text(
    {"shape": "box3d", "style": "filled", "fillcolor": _STYLE["box"][0], "color": _STYLE["box"][1], "margin": "0.1,0.05"}
)
# dot draws the nodes of one group on a straight line where it can.
_SPINE = ' group="spine"'
_CLUSTER_ATTRS = _attr_text(
    {"style": "rounded,filled", "fillcolor": "#F7F8FA", "color": "#C3CAD5", "fontcolor": _MUTED, "fontsize": "11",
     "labeljust": "l", "margin": "10"}
)  # fmt: skip


def _cluster_id(scope: str) -> str:
    # Scope names may hold any character but '/'; quotes and backslashes would end or
    # escape a quoted DOT id, so they become '_' here (the label keeps the real name).
    return '"cluster_' + scope.replace("\\", "_").replace('"', "_") + '"'


def _emit_clusters(body: list, by_scope: dict) -> None:
    """Write node statements, each scope as a cluster nested in its parent scope's."""
    children: dict = {}
    for scope in by_scope:
        while scope is not None:
            parent = scope.rpartition("/")[0] or None
            siblings = children.setdefault(parent, [])
            if scope in siblings:
                break
            siblings.append(scope)
            scope = parent

    def fill(scope, indent):
        body.extend(f"{indent}{statement}\n" for statement in by_scope.get(scope, ()))
        for child in children.get(scope, ()):
            body.append(f"{indent}subgraph {_cluster_id(child)} {{\n")
            label = f"<<B>{_esc(child.rpartition('/')[2])}</B>>"
            body.append(f"{indent}\tgraph [label={label} {_CLUSTER_ATTRS}]\n")
            fill(child, indent + "\t")
            body.append(f"{indent}}}\n")

    fill(None, "\t")


def _cluster_count(by_scope: dict) -> int:
    """Clusters drawn: every scope holding a node, and the scopes around it."""
    scopes = set()
    for scope in by_scope:
        while scope is not None and scope not in scopes:
            scopes.add(scope)
            scope = scope.rpartition("/")[0] or None
    return len(scopes)


def _edges(picture: Picture, place: dict) -> list:
    """Every edge as (tail id, head id, operand position or None), in creation order."""
    edges = []
    collapsed = picture.collapsed_units
    seen_into_collapsed = set()
    for op in picture.ops:
        unit = picture.unit[op]
        if unit in collapsed:
            for parent in picture.inputs[op]:
                inside = (
                    picture.unit.get(parent) == unit
                    if _layout.is_op(parent)
                    else picture.leaf_home[parent] == unit and not picture.leaf_drawn[parent]
                )
                if inside:
                    continue
                source = picture.tensor_id(parent)
                if (source, unit) not in seen_into_collapsed:  # one edge per tensor entering a box
                    seen_into_collapsed.add((source, unit))
                    edges.append((source, unit, None))
        elif _layout.operand_labels(op):
            for i, parent in enumerate(picture.inputs[op]):
                edges.append((picture.tensor_id(parent), unit, i))
        else:
            for parent in picture.inputs[op]:
                edges.append((picture.tensor_id(parent), unit, None))
        if picture.out_drawn[op]:
            edges.append((unit, picture.tensor_id(op), None))
    return edges


def _emit_edges(body: list, edges: list, place: dict, rankdir: str) -> None:
    side = _ENTRY_SIDE[rankdir]
    append = body.append
    for tail, head, position in edges:
        port = "" if position is None else f":p{position}:{side}"
        if place[tail] != place[head]:
            # An edge that crosses a cluster border spans two ranks, so a layer's
            # parameters get a rank of their own instead of sharing one with the
            # previous layer's output, which would stack the clusters as a staircase.
            append(f"\t{tail} -> {head}{port} [minlen=2]\n")
        else:
            append(f"\t{tail} -> {head}{port}\n")


def _emit_legend(body: list, after: str) -> None:
    """One small table node just after the root, so the key costs little layout room."""
    rows = []
    for kind, text in (("param", "parameter"), ("input", "input"), ("const", "constant"), ("tensor", "result"), ("op", "op")):
        fill, border = _STYLE[kind]
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="1" STYLE="rounded" WIDTH="18"> </TD>'
            f'<TD ALIGN="LEFT">{_font(text, size=9, color=_MUTED)}</TD></TR>'
        )
    label = f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">{"".join(rows)}</TABLE>>'
    body.append(f'\tlegend [label={label} shape="box" style="rounded" color="#C3CAD5" margin="0.05"]\n')
    # An invisible edge places the key after the root (rank=sink is ignored under newrank).
    body.append(f'\t{after} -> legend [style="invis"]\n')
