"""Running Graphviz's ``dot``, never for long, for :func:`~tinygraph.viz.render` and for
the Digraph that :func:`~tinygraph.viz.draw` returns (its ``pipe`` and its notebook
display).

dot can run for many minutes on some graphs and Graphviz 2.43 crashes on others, so
every run here has a time limit (``timeout``, 30 s by default) and every failure is one
line that names the picture's size and the options that make it smaller. When dot
exits with an error, the picture is tried once more without the hints that straighten
its spine and space its clusters (``group``, ``minlen``): Graphviz 2.43 sometimes fails
on those ("trouble in init_rank") where the plain layout succeeds.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

#: Seconds dot may run for one picture, unless ``timeout=`` says otherwise.
DEFAULT_TIMEOUT = 30.0

_INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` on Debian/Ubuntu, "
    "`brew install graphviz` on macOS, `conda install -c conda-forge graphviz` with conda, "
    "or see https://graphviz.org/download/; draw() itself needs no `dot` and still returns the DOT source"
)


class DotError(RuntimeError):
    """Graphviz's ``dot`` could not draw the picture: it crashed, failed or ran out of time.

    The message is one line: what happened, the picture's size, and what to change.
    """


class DotNotFoundError(DotError):
    """The Graphviz ``dot`` program is not installed (or not on PATH).

    A RuntimeError, like ``graphviz.ExecutableNotFound``; defining it does not import
    graphviz, so ``import tinygraph`` stays free of it.
    """


class DotTimeoutError(DotError):
    """``dot`` did not finish within the time limit (and was stopped)."""


def check_timeout(caller: str, timeout):
    """``timeout`` as a float of seconds, or None for no limit; refuses anything else.

    Examples
    --------
    >>> check_timeout("draw", 5), check_timeout("draw", None)
    (5.0, None)
    >>> check_timeout("draw", 0)
    Traceback (most recent call last):
    ...
    ValueError: draw: timeout must be a positive number of seconds or None (no limit), got 0
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 or timeout != timeout:
        raise ValueError(f"{caller}: timeout must be a positive number of seconds or None (no limit), got {timeout!r}")
    return float(timeout)


# ----------------------------------------------------------------- running dot


def _advice(stats, options: dict) -> str:
    """What makes this picture cheaper for dot, from the options it was drawn with."""
    tips = []
    collapse = options.get("collapse", False)
    if collapse is not True:
        tips.append("collapse=True (each name scope as one box, runs of identical ops as one node)")
    if any(options.get(key) for key in ("show_grads", "show_formulas", "show_values")):
        shown = [key for key in ("show_grads", "show_formulas", "show_values") if options.get(key)]
        tips.append(" and ".join(f"{key}=False" for key in shown) + " (smaller labels)")
    max_nodes = options.get("max_nodes")
    if stats is not None and max_nodes is not None and stats.nodes > 500:
        tips.append(f"a smaller graph (fewer steps or layers; max_nodes={min(max_nodes, 500)} refuses this one)")
    else:
        tips.append("a smaller graph (fewer steps or layers)")
    return "; ".join(tips)


def _size(stats) -> str:
    return "this picture" if stats is None else f"this picture ({stats.describe()})"


def _relaxed(source: str) -> list:
    """The same picture without the layout hints that Graphviz 2.43 sometimes fails on."""
    plain = source.replace(' group="spine"', "")
    plainer = plain.replace(" [minlen=2]", "")
    return [text for text in (plain, plainer) if text != source]


def _stderr_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not line.lower().startswith("warning"):
            return line[:200]
    return ""


def run_dot(source: str, format: str, *, timeout, stats=None, options=None, caller: str = "render") -> bytes:
    """``source`` laid out by ``dot`` into ``format``, within ``timeout`` seconds in all.

    Raises DotNotFoundError, DotTimeoutError or DotError, each a one-line message.
    """
    options = options or {}
    exe = shutil.which("dot")
    if exe is None:
        raise DotNotFoundError(f"{caller}: the Graphviz program `dot` was not found; {_INSTALL_HINT}")
    deadline = None if timeout is None else time.monotonic() + timeout
    failure = None
    for text in [source, *_relaxed(source)]:
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.01)
        try:
            done = subprocess.run(
                [exe, f"-T{format}"], input=text.encode("utf-8"), capture_output=True, timeout=remaining
            )
        except FileNotFoundError as err:
            raise DotNotFoundError(f"{caller}: the Graphviz program `dot` was not found; {_INSTALL_HINT}") from err
        except subprocess.TimeoutExpired:
            raise DotTimeoutError(
                f"{caller}: Graphviz's dot did not finish within {timeout:g} s on {_size(stats)} and was stopped; "
                f"draw less of the graph: {_advice(stats, options)}; or allow more time with timeout="
                f"{max(4 * timeout, 120):g}"
            ) from None
        except OSError as err:
            raise DotError(f"{caller}: could not run Graphviz's dot ({exe}): {err.strerror or err}") from err
        if done.returncode == 0:
            return done.stdout
        failure = done
        if deadline is not None and time.monotonic() >= deadline:
            break
    if failure.returncode < 0:
        try:
            how = f"crashed (killed by {signal.Signals(-failure.returncode).name})"
        except ValueError:
            how = f"crashed (killed by signal {-failure.returncode})"
    else:
        reason = _stderr_line(failure.stderr)
        how = f"failed (exit status {failure.returncode}{': ' + reason if reason else ''})"
    raise DotError(
        f"{caller}: Graphviz's dot {how} on {_size(stats)}, as it does on some large or unusual pictures; "
        f"draw less of the graph: {_advice(stats, options)}"
    )


# ----------------------------------------------------------------- the Digraph draw() returns

_DRAWING = None


def new_digraph(**attrs):
    """A :class:`graphviz.Digraph` whose ``pipe`` and notebook display run ``dot`` through
    :func:`run_dot`: bounded in time, with tinygraph's messages. Imports graphviz."""
    global _DRAWING
    if _DRAWING is None:
        _DRAWING = _drawing_class()
    return _DRAWING(name="tinygraph", **attrs)


def _drawing_class():
    import graphviz

    class Drawing(graphviz.Digraph):
        """A Graphviz Digraph from :func:`tinygraph.draw`.

        ``stats`` is the picture's :class:`~tinygraph.viz._shape.Shape` (sizes and the
        estimates behind the direction and dot's settings); ``timeout`` bounds every
        run of ``dot`` made by ``pipe`` and by a notebook's display, which shows the
        one-line message instead of a picture when dot fails or runs out of time.
        """

        stats = None
        timeout = DEFAULT_TIMEOUT
        options: dict = {}
        _failed = None  # (source, format, error): a notebook asks for SVG more than once

        def pipe(self, format=None, renderer=None, formatter=None, neato_no_op=None, quiet=False, *,
                 engine=None, encoding=None):  # fmt: skip
            if renderer or formatter or neato_no_op or (engine or self.engine) != "dot":
                return super().pipe(format, renderer, formatter, neato_no_op, quiet, engine=engine, encoding=encoding)
            format = format or self.format
            source = self.source
            if self._failed is not None and self._failed[:2] == (source, format):
                raise self._failed[2]
            try:
                data = run_dot(source, format, timeout=self.timeout, stats=self.stats, options=self.options,
                               caller="draw")  # fmt: skip
            except DotError as err:
                self._failed = (source, format, err)
                raise
            return data.decode(encoding) if encoding else data

        def render(self, *args, **kwargs):
            # graphviz's own file rendering (and view(), which calls it) is not bounded
            # in time; tinygraph.viz.render is. Here only its missing-dot error is ours.
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as err:
                raise DotNotFoundError(f"draw: the Graphviz program `dot` was not found; {_INSTALL_HINT}") from err

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except DotError as err:  # a message in the cell, not a traceback
                return {"text/plain": str(err)}

        def _repr_svg_(self):
            try:
                return self.pipe(format="svg", encoding="utf-8")
            except DotError:
                return None  # the message is in _repr_mimebundle_'s text

    Drawing.__module__ = "tinygraph.viz"
    return Drawing
