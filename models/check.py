"""``tinygraph check``: a network's gradients three ways, compared per parameter.

1. **autograd**: tinygraph's ``backward()`` (:func:`nets.cost_and_gradients`);
2. **hand-derived**: the document's formulas (:func:`hand.cost_and_gradients`);
3. **finite differences**: central differences of the cost, one parameter element at
   a time, in float64.

The first two must agree to rounding (1e-10 of each parameter's largest |gradient|),
the first and third to the accuracy of central differences (1e-6).

Two traps are handled, both on the finite-difference side:

* **Which formula of the cost is differenced.** The document writes the cost as
  ``-(Y log A + (1 - Y) log(1 - A))`` with ``A = sigmoid(Z_L)``. Where ``Z_L`` is large
  (16 on some digits), ``A`` is within 1e-7 of 1 and ``1 - A`` keeps only about 9 of
  its 16 digits: the cost is then a staircase at the scale of a finite-difference
  step, and its differences were off by 1e-4 (``tinygraph check --model logistic
  --samples 500`` reported a disagreement that was not there). The same function
  written from the logits, ``softplus(Z_L) - Y Z_L``, has no such cancellation, so
  that is the form differenced here (:func:`logit_cost`).
* **ReLU kinks.** The cost is smooth only while every hidden ReLU input keeps its
  side of 0. Where moving an element by the step carries one across 0 (it sits
  exactly at 0, as behind a dead unit with a zero bias, or within the step of it, as
  with the document's tiny initial weights), the central difference mixes two pieces
  of the function, while autograd differentiates the piece the point is on (with
  relu'(0) = 0, an input at exactly 0 counts as off). For such an element, and only
  such an element, the central difference is taken on that piece: every ReLU is held
  on (passes its input) or off (gives 0) as it is at the point, which makes the cost
  smooth along every element, even where inputs at exactly 0 would move both ways.
  The report lists these elements. A network without hidden layers has no ReLU, and
  no element is ever treated this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinygraph.testing import numerical_gradient
from tinygraph_models import hand, nets

#: Finite-difference step: in float64 the truncation error (~STEP**2) and the rounding
#: error (~1e-16 / STEP) of central differences are both far below the tolerance.
STEP = 1e-6
#: Largest |difference| allowed, relative to the parameter's largest |autograd gradient|.
HAND_TOLERANCE = 1e-10
FD_TOLERANCE = 1e-6
#: Each gradient element is a mean of per-sample terms; where they cancel (a gradient of
#: 1e-8 from terms of 0.5) autograd and the hand derivation may differ by rounding, about
#: eps * the mean of the terms' sizes. This many times that is allowed on top of
#: HAND_TOLERANCE.
TERMS_FACTOR = 16
#: Finite differences cannot resolve less than their rounding error, about
#: eps * (the size of the terms the cost sums) / STEP: the mean of each sample's cost and
#: |Z_L|, from which it is computed. This many times that is allowed on top of
#: FD_TOLERANCE, so that a gradient that is 0 (a whole net dead) is not failed for 1e-11.
ROUNDING_FACTOR = 4


def _layers(parameters: dict) -> int:
    L = 0
    while f"W{L + 1}" in parameters:
        L += 1
    return L


def forward_to_logits(parameters: dict, X, sides=None) -> tuple[list, np.ndarray]:
    """``([Z_1, ..., Z_{L-1}], Z_L)``: the hidden pre-activations (ReLU inputs) and the logits.

    ``sides``, one boolean array per hidden layer, holds each ReLU on (``A = Z``) or off
    (``A = 0``) whatever its input: the piece of the network that pattern selects.
    """
    L = _layers(parameters)
    hidden, A = [], X
    for l in range(1, L + 1):
        Z = hand.linear_forward(parameters[f"W{l}"], A, parameters[f"b{l}"])
        if l == L:
            return hidden, Z
        hidden.append(Z)
        A = hand.relu(Z) if sides is None else Z * sides[l - 1]
    raise ValueError("forward_to_logits: parameters hold no W1")


def relu_sides(parameters: dict, X) -> list:
    """Which hidden ReLU inputs are on (> 0; relu'(0) = 0 makes 0 off): the piece a point lies on."""
    hidden, _ = forward_to_logits(parameters, X)
    return [Z > 0 for Z in hidden]


def logit_cost(parameters: dict, X, Y, sides=None) -> float:
    """The document's cost, mean cross-entropy of ``sigmoid(Z_L)``, computed from ``Z_L``.

    ``softplus(Z) - Y Z`` equals ``-(Y log sigmoid(Z) + (1 - Y) log(1 - sigmoid(Z)))``
    exactly, and ``softplus(Z) = max(Z, 0) + log1p(exp(-|Z|))`` loses no digits for any
    ``Z``, where ``1 - sigmoid(Z)`` loses them all as ``Z`` grows. ``sides`` as in
    :func:`forward_to_logits`.

    Examples
    --------
    >>> p = {"W1": np.array([[40.0]]), "b1": np.zeros((1, 1))}
    >>> X, Y = np.array([[1.0]]), np.array([[0.0]])
    >>> logit_cost(p, X, Y)                                    # -log(1 - sigmoid(40)) = 40 + 4e-18
    40.0
    >>> float(hand.cross_entropy_cost(hand.forward(p, X)[0], Y))   # sigmoid(40) rounds to 1
    100.0
    """
    _, Z = forward_to_logits(parameters, X, sides)
    return float(np.mean(_sample_costs(Z, Y)))


def _sample_costs(Z, Y) -> np.ndarray:
    Y = np.asarray(Y, dtype=Z.dtype)
    return np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))


@dataclass
class ParameterCheck:
    """One row of the report: a parameter's gradients, three ways, and what each may differ by."""

    name: str
    autograd: np.ndarray
    hand: np.ndarray
    fd: np.ndarray
    hand_rounding: np.ndarray  # per element: eps times the sizes of the terms summed
    fd_rounding: float  # the finite differences' rounding error
    kinks: list = field(default_factory=list)  # elements differenced with the ReLUs held

    @property
    def shape(self) -> tuple:
        return self.autograd.shape

    @property
    def largest(self) -> float:
        return float(np.max(np.abs(self.autograd)))

    @property
    def scale(self) -> float:
        return max(self.largest, 1e-12)  # an all-zero gradient is compared absolutely

    @property
    def to_hand(self) -> float:
        return float(np.max(np.abs(self.autograd - self.hand)))

    @property
    def to_fd(self) -> float:
        return float(np.max(np.abs(self.autograd - self.fd)))

    @property
    def rel_hand(self) -> float:
        return self.to_hand / self.scale

    @property
    def rel_fd(self) -> float:
        return self.to_fd / self.scale

    def _excess_hand(self) -> np.ndarray:
        return np.abs(self.autograd - self.hand) / (HAND_TOLERANCE * self.scale + self.hand_rounding)

    def _excess_fd(self) -> np.ndarray:
        return np.abs(self.autograd - self.fd) / (FD_TOLERANCE * self.scale + self.fd_rounding)

    @property
    def ok_hand(self) -> bool:
        return bool(np.all(self._excess_hand() <= 1))

    @property
    def ok_fd(self) -> bool:
        return bool(np.all(self._excess_fd() <= 1))

    def worst(self) -> tuple:
        """The element furthest beyond what it may differ by, either way."""
        excess = np.maximum(self._excess_hand(), self._excess_fd())
        return tuple(int(i) for i in np.unravel_index(np.argmax(excess), self.shape))


@dataclass
class CheckResult:
    """What :func:`check_gradients` found; :meth:`lines` is the report."""

    units: list
    cost_autograd: float
    cost_hand: float
    cost_logits: float
    rows: list
    step: float = STEP

    @property
    def worst_hand(self) -> float:
        return max(row.rel_hand for row in self.rows)

    @property
    def worst_fd(self) -> float:
        return max(row.rel_fd for row in self.rows)

    @property
    def ok(self) -> bool:
        return all(row.ok_hand and row.ok_fd for row in self.rows)

    @property
    def kinks(self) -> list:
        return [f"{row.name}{list(index)}" for row in self.rows for index in row.kinks]

    def lines(self) -> list:
        """The report, one string per line (the table, notes, and the verdict last)."""
        out = [
            f"cost: autograd {self.cost_autograd:.12f}   hand-derived {self.cost_hand:.12f}   "
            f"from the logits {self.cost_logits:.12f}"
        ]
        header = (
            f"{'param':<6} {'shape':<10} {'max |autograd|':>15} {'max |auto-hand|':>16} {'max |auto-fd|':>14} "
            f"{'rel (hand)':>11} {'rel (fd)':>9}"
        )
        out += [header, "-" * len(header)]
        for row in self.rows:
            out.append(
                f"{row.name:<6} {str(row.shape):<10} {row.largest:>15.6e} {row.to_hand:>16.3e} "
                f"{row.to_fd:>14.3e} {row.rel_hand:>11.1e} {row.rel_fd:>9.1e}"
            )
        kinks = self.kinks
        if kinks:
            shown = ", ".join(kinks[:4]) + (", ..." if len(kinks) > 4 else "")
            out.append(
                f"note: {len(kinks)} element(s) ({shown}) carry a hidden ReLU input across 0 within the "
                "step (or move one that sits exactly at 0): the cost has a kink there, and a central difference "
                "would mix its two sides, while autograd differentiates the side the point is on (relu'(0) = 0: "
                "an input at 0 is off; see docs/errata.md); for them each ReLU is held on or off as at the point"
            )
        rounding = self.rows[0].fd_rounding if self.rows else 0.0
        faint = [row for row in self.rows if rounding > 0.01 * row.largest]
        if faint:
            names = ", ".join(f"{row.name} ({row.largest:.1e})" for row in faint)
            out.append(
                f"note: finite differences resolve gradients only to about {rounding:.0e} here, more than 1% of the "
                f"largest |gradient| of {names}: they check those only to that accuracy (the hand derivation checks "
                f"them to {HAND_TOLERANCE:g})"
            )
        method = (
            f"central differences of the cost from the logits, step {self.step:g}"
            + (", ReLUs held as at the point where one crosses 0" if kinks else "")
        )
        if self.ok:
            out.append(
                f"autograd, hand-derived and finite differences agree: worst relative difference "
                f"{self.worst_hand:.1e} to hand-derived, {self.worst_fd:.1e} to finite differences ({method}), "
                "relative to each parameter's largest |gradient|"
            )
            return out
        ok_hand, ok_fd = all(r.ok_hand for r in self.rows), all(r.ok_fd for r in self.rows)
        to_hand = f"{self.worst_hand:.1e} to hand-derived (allowed {HAND_TOLERANCE:g}, plus the rounding of the sums)"
        to_fd = (
            f"{self.worst_fd:.1e} to finite differences (allowed {FD_TOLERANCE:g}, plus {rounding:.1e}, "
            f"their rounding error; {method})"
        )
        if not ok_hand and not ok_fd:
            found = "autograd DISAGREES with both the hand derivation and finite differences"
        elif not ok_fd:
            found = "autograd and hand-derived agree, but finite differences DISAGREE with them"
        else:
            found = "autograd and finite differences agree, but the hand derivation DISAGREES with them"
        out.append(f"{found}: worst relative difference {to_hand}, {to_fd}, relative to each parameter's largest |gradient|")
        for row in self.rows:
            if not (row.ok_hand and row.ok_fd):
                index = row.worst()
                shown = ", ".join(str(i) for i in index)
                out.append(
                    f"  {row.name}[{shown}]: autograd {row.autograd[index]:.10e}, hand-derived {row.hand[index]:.10e}, "
                    f"finite differences {row.fd[index]:.10e}"
                )
        return out


def check_gradients(parameters: dict, X, Y, *, step: float = STEP) -> CheckResult:
    """Compare autograd, the hand derivation and finite differences on every parameter.

    Parameters
    ----------
    parameters : dict
        ``{"W1": ..., "b1": ..., ...}`` float64 arrays (the document's layout).
    X : ndarray (n_x, N)
    Y : ndarray (1, N)
    step : float
        The central-difference step.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> from tinygraph_models.init import initialize_parameters
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((3, 10)), (rng.random((1, 10)) > 0.5).astype(float)
    >>> result = check_gradients(initialize_parameters([3, 4, 1], "he", seed=0), X, Y)
    >>> result.ok, [row.name for row in result.rows]
    (True, ['W1', 'b1', 'W2', 'b2'])
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    auto_cost, auto = nets.cost_and_gradients(parameters, X, Y)
    hand_cost, derived = hand.cost_and_gradients(parameters, X, Y)
    sides = relu_sides(parameters, X)
    _, Z_L = forward_to_logits(parameters, X)
    sizes = _term_sizes(parameters, X, Y)
    terms = np.mean(_sample_costs(Z_L, Y) + np.abs(Z_L))
    rounding = ROUNDING_FACTOR * np.finfo(np.float64).eps * float(terms) / step

    def cost_at(name, value):
        trial = dict(parameters)
        trial[name] = value
        return logit_cost(trial, X, Y)

    rows = []
    for name in parameters:
        a, h = np.asarray(auto[f"d{name}"]), np.asarray(derived[f"d{name}"])
        fd = numerical_gradient(lambda v, name=name: cost_at(name, v), parameters[name], eps=step)
        scale = max(float(np.max(np.abs(a))), 1e-12)
        kinks = []
        for index in map(tuple, np.argwhere(np.abs(a - fd) > FD_TOLERANCE * scale + rounding)):
            if _crosses_a_kink(parameters, name, index, X, sides, step):
                kinks.append(tuple(int(i) for i in index))
                fd[index] = _difference_on_the_piece(parameters, name, index, X, Y, sides, step)
            # else every ReLU kept its side: the cost is smooth there and the difference stands
        rows.append(ParameterCheck(
            name=name, autograd=a, hand=h, fd=fd,
            hand_rounding=TERMS_FACTOR * np.finfo(np.float64).eps * sizes[f"d{name}"], fd_rounding=rounding,
            kinks=kinks,
        ))
    return CheckResult(
        units=[parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, _layers(parameters) + 1)],
        cost_autograd=float(auto_cost), cost_hand=float(hand_cost), cost_logits=logit_cost(parameters, X, Y),
        rows=rows, step=step,
    )


def _term_sizes(parameters: dict, X, Y) -> dict:
    """For each gradient element, the mean size of the per-sample terms it sums.

    The hand derivation run on sizes: ``|A_L| + |Y|`` for ``dZ_L = A_L - Y`` (where the
    two cancel, as for a confident right answer, the difference keeps only the digits of
    1 they do not share), ``|dW_l| = |dZ_l| |A_{l-1}|^T / N``,
    ``|dZ_{l-1}| = (|W_l|^T |dZ_l|) relu'(Z_{l-1})``. Rounding in a gradient element is
    about eps times this, however much the terms cancel.
    """
    AL, cache = hand.forward(parameters, X)
    L = _layers(parameters)
    dZ = np.abs(AL) + np.abs(Y)
    sizes = {}
    for l in range(L, 0, -1):
        A_prev = np.abs(cache[f"A{l - 1}"])
        sizes[f"dW{l}"], sizes[f"db{l}"] = hand.linear_backward(dZ, A_prev)
        if l > 1:
            dZ = hand.hidden_dZ(np.abs(parameters[f"W{l}"]), dZ, cache[f"Z{l - 1}"])
    return sizes


def _moved(parameters: dict, name: str, index, offset: float) -> dict:
    trial = dict(parameters)
    trial[name] = np.array(parameters[name], dtype=np.float64)
    trial[name][index] += offset
    return trial


def _crosses_a_kink(parameters, name, index, X, sides, step) -> bool:
    """Whether moving the element by +-step puts some hidden ReLU input on the other side of 0."""
    return any(
        not np.array_equal(before, after)
        for offset in (step, -step)
        for before, after in zip(sides, relu_sides(_moved(parameters, name, index, offset), X))
    )


def _difference_on_the_piece(parameters, name, index, X, Y, sides, step) -> float:
    """The central difference along the element with every ReLU held on its side at the point."""
    above = logit_cost(_moved(parameters, name, index, step), X, Y, sides)
    below = logit_cost(_moved(parameters, name, index, -step), X, Y, sides)
    return (above - below) / (2 * step)
