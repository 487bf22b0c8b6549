"""Einstein summation: ``tg.einsum(subscripts, *operands)``.

The public function reads numpy's subscripts (explicit ``'ij,jk->ik'`` or implicit
``'ij,jk'``, ``...`` for broadcast axes, repeated letters for diagonals), spells them with
letters only, and contracts the operands two at a time, left to right, each step one
``einsum`` op of two inputs (one operand is contracted with the constant 1). The backward
of a step is again an einsum: g with the other operand, onto this operand's letters. A
letter repeated within an operand (a diagonal) gets an identity matrix in that einsum,
and letters that only this operand had (summed away) get g broadcast along them.
"""

from __future__ import annotations

import functools
import string
from collections import Counter

import numpy as np

from tinygraph._graph import hooks
from tinygraph._ops._base import Primitive, is_array
from tinygraph._shapes import broadcast_to, fmt

_LETTERS = string.ascii_letters
# Above this many terms in the full sum, let numpy pick a contraction order (it may use BLAS).
_OPTIMIZE_ABOVE = 4096


@functools.lru_cache(maxsize=512)
def plan(subscripts: str, shapes: tuple) -> tuple:
    """The subscripts for operands of ``shapes``, checked and spelled with letters only.

    Returns ``(terms, out)``: one letter string per operand and the output's letters,
    ``...`` replaced by letters of its own (right-aligned, as numpy broadcasts), and the
    implicit output (``'ij,jk'``) made explicit: the broadcast axes, then the letters used
    once, in alphabetical order (upper case first), as numpy orders them.
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} have more than one '->'")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but {len(shapes)} were given")
    for term in terms + ([rhs] if arrow else []):
        for c in term.replace("...", "", 1):
            if c not in _LETTERS:
                raise ValueError(f"einsum: {c!r} in {term!r} is not a subscript letter (a-z, A-Z) or '...'")
    ranks = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if named > len(shape) or ("..." not in term and named != len(shape)):
            raise ValueError(
                f"einsum: operand {i} has shape {fmt(shape)} ({len(shape)} axes) but its subscripts {term!r} name {named}"
            )
        ranks.append(len(shape) - named)
    fresh = [c for c in _LETTERS if c not in spec]
    rank = max(ranks, default=0)
    if rank > len(fresh):
        raise ValueError(f"einsum: too many axes under '...' ({rank}) for the letters left unused")
    broadcast = "".join(fresh[:rank])
    terms = tuple(term.replace("...", broadcast[rank - r :]) for term, r in zip(terms, ranks))
    if arrow:
        if "..." not in rhs and rank:
            raise ValueError(
                f"einsum: the operands have axes under '...' but the output {rhs!r} has no '...' to keep them"
            )
        out = rhs.replace("...", broadcast)
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"einsum: the output {rhs!r} repeats {c!r}")
            if not any(c in term for term in terms):
                raise ValueError(f"einsum: the output letter {c!r} is in no operand's subscripts {lhs!r}")
    else:
        counts = Counter("".join(terms))
        out = broadcast + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in broadcast))
    sizes: dict = {}
    where: dict = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        within: dict = {}
        for c, n in zip(term, shape):
            if within.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: operand {i} (shape {fmt(shape)}) repeats {c!r} over axes of sizes {within[c]} and {n}; "
                    "a repeated letter takes a diagonal, which needs equal sizes"
                )
            if n != 1:
                if sizes.get(c, 1) not in (1, n):
                    j = where[c]
                    raise ValueError(
                        f"einsum: {c!r} has size {sizes[c]} in operand {j} (shape {fmt(shapes[j])}) but {n} in "
                        f"operand {i} (shape {fmt(shape)})"
                    )
                sizes[c], where[c] = n, i
    return terms, out


def _sizes(terms, shapes) -> dict:
    """The size of each letter (the largest where it appears, since size 1 broadcasts)."""
    sizes: dict = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def _optimize(spec: str, sizes: dict):
    total = 1
    for c in set(spec) - set(",->"):
        total *= sizes.get(c, 1)
    return total > _OPTIMIZE_ABOVE


def einsum(subscripts, *operands, optimize=None, out=None, dtype=None, order="K", casting="safe"):
    """``tg.einsum`` and ``np.einsum`` on Tensors; documented by :class:`Einsum`, whose docstring it takes."""
    if out is not None or dtype is not None or order != "K" or casting != "safe":
        raise TypeError("einsum: out=, dtype=, order= and casting= are not supported on Tensors")
    if not operands:
        raise TypeError("einsum: give the operands after the subscripts, e.g. einsum('ij,jk->ik', a, b)")
    shapes = tuple(tuple(x.shape) if hasattr(x, "shape") else np.shape(x) for x in operands)
    terms, result = plan(subscripts, shapes)
    if len(operands) == 1:
        one = np.ones((), dtype=getattr(operands[0], "dtype", np.float64))
        return hooks.apply(Einsum(f"{terms[0]},->{result}"), operands[0], one)
    acc, acc_term = operands[0], terms[0]
    for k in range(1, len(operands)):
        if k == len(operands) - 1:
            keep = result
        else:  # keep the letters a later operand or the output still needs
            later = set(result).union(*terms[k + 1 :])
            keep = "".join(dict.fromkeys(c for c in acc_term + terms[k] if c in later))
        acc = hooks.apply(Einsum(f"{acc_term},{terms[k]}->{keep}"), acc, operands[k])
        acc_term = keep
    return acc


def _gradient_plan(target: str, out: str, out_shape: tuple, other: str, other_shape: tuple, sizes: dict) -> tuple:
    """How to compute the gradient of an operand with subscripts ``target``.

    Returns ``(spec, eyes, shape, full)``: the einsum of g (``out``), the other operand
    (``other``) and one identity matrix per repeated letter (sizes in ``eyes``) onto the
    letters available; ``shape`` is that result with size-1 axes put back for letters
    only this operand had, and ``full`` the shape to broadcast it to (each letter at its
    full size, so an axis that was summed away, or broadcast from size 1, spreads g).
    """
    taken = set(target) | set(out) | set(other)
    fresh = iter(c for c in _LETTERS if c not in taken)
    letters, eyes, eye_terms, seen = [], [], [], set()
    local = dict(sizes)
    for c in target:
        if c in seen:  # a diagonal: a new letter tied to c by an identity matrix
            f = next(fresh)
            local[f] = sizes[c]
            letters.append(f)
            eye_terms.append(c + f)
            eyes.append(sizes[c])
        else:
            seen.add(c)
            letters.append(c)
    available = _sizes((out, other, *eye_terms), (out_shape, other_shape, *((n, n) for n in eyes)))
    kept = "".join(c for c in letters if c in available)
    spec = ",".join([out, other, *eye_terms]) + "->" + kept
    return spec, eyes, tuple(available.get(c, 1) for c in letters), tuple(local[c] for c in letters)


class Einsum(Primitive):
    """Einstein summation over Tensors, like ``np.einsum(subscripts, *operands)``.

    Explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) outputs, ``...`` for broadcast
    axes, and repeated letters within an operand for diagonals and traces
    (``'ii->i'``, ``'ii'``). The gradient for each operand is an einsum of g with the
    other operands onto that operand's subscripts (an identity matrix ties a repeated
    letter; letters summed away are broadcast back). Recorded as one op per pair of
    operands, contracted left to right; a single operand is contracted with the constant 1.

    Examples
    --------
    >>> import tinygraph as tg
    >>> a = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> b = tg.Tensor([[1.0], [1.0]])
    >>> tg.einsum("ij,jk->ik", a, b).numpy().tolist()
    [[3.0], [7.0]]
    >>> tg.einsum("ii", a).backward()
    >>> a.grad.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    name = "einsum"
    formula = ("dx = einsum(g, y -> subscripts of x)", "dy = einsum(g, x -> subscripts of y)")
    saves = ("x", "y")
    function, numpy = "einsum", (np.einsum,)
    form = staticmethod(einsum)
    __slots__ = ("spec", "terms", "out")

    def __init__(self, spec: str):
        """``spec`` is explicit, for two operands, letters only: ``'ij,jk->ik'`` (``einsum`` writes it)."""
        lhs, arrow, out = spec.partition("->")
        terms = lhs.split(",")
        if not arrow or len(terms) != 2:
            raise ValueError(f"einsum: the op takes explicit subscripts for two operands ('ij,jk->ik'), got {spec!r}")
        self.spec, self.terms, self.out = spec, tuple(terms), out

    def forward(self, x, y):
        terms, out = plan(self.spec, (x.shape, y.shape))  # checks the shapes, with einsum's messages
        return np.asarray(np.einsum(self.spec, x, y, optimize=_optimize(self.spec, _sizes(terms, (x.shape, y.shape)))))

    def _sizes(self, ctx) -> dict:
        return _sizes((*self.terms, self.out), (ctx.parents[0].shape, ctx.parents[1].shape, ctx.shape))

    def _plans(self, ctx) -> tuple:
        """The gradient plan of each operand (None where no gradient is needed)."""
        sizes = self._sizes(ctx)
        (a, b), (sa, sb) = self.terms, (ctx.parents[0].shape, ctx.parents[1].shape)
        return (
            _gradient_plan(a, self.out, ctx.shape, b, sb, sizes) if ctx.needs[0] else None,
            _gradient_plan(b, self.out, ctx.shape, a, sa, sizes) if ctx.needs[1] else None,
        ), sizes

    def backward(self, ctx, g, x, y):
        (plan_x, plan_y), sizes = self._plans(ctx)
        return (
            None if plan_x is None else self._gradient(plan_x, g, y, sizes),
            None if plan_y is None else self._gradient(plan_y, g, x, sizes),
        )

    @staticmethod
    def _gradient(plan: tuple, g, other, sizes: dict):
        spec, eyes, shape, full = plan
        fast = is_array(g) and is_array(other)
        dtype = (g if fast else g.data).dtype
        operands = [g, other, *(np.eye(n, dtype=dtype) for n in eyes)]
        if fast:
            grad = np.einsum(spec, *operands, optimize=_optimize(spec, sizes))
        else:  # create_graph: record the gradient's own einsum
            grad = einsum(spec, *operands)
        # Letters summed away (or broadcast from size 1) in the forward: g spreads along them. The
        # einsum's result lacks the letters it summed away, even those of size 1, so compare its shape.
        if tuple(grad.shape) != full:
            grad = broadcast_to(grad.reshape(shape), full)
        return grad

    def emit_forward(self, ctx, x, y):
        return f"np.einsum({self.spec!r}, {x}, {y})"

    def emit_backward(self, ctx, g, x, y):
        plans, _ = self._plans(ctx)
        dtype = np.dtype(ctx.dtype).name

        def text(plan, other):
            spec, eyes, shape, full = plan
            operands = ", ".join([g, other, *(f"np.eye({n}, dtype=np.{dtype})" for n in eyes)])
            grad = f"np.einsum({spec!r}, {operands})"
            whole = len(spec.rpartition("->")[2]) == len(full) and shape == full  # the einsum gives every letter
            return grad if whole else f"np.broadcast_to({grad}.reshape({shape!r}), {full!r})"

        return tuple(None if plan is None else text(plan, other) for plan, other in zip(plans, (y, x)))
