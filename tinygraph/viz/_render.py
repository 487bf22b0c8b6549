"""Writing a picture to a file: :func:`render` draws, runs ``dot`` (bounded in time, see
:mod:`tinygraph.viz._runner`) and writes the result atomically."""

from __future__ import annotations

import os
from pathlib import Path

from tinygraph._files import write_atomically
from tinygraph.viz._dot import draw
from tinygraph.viz._runner import run_dot


def render(root, path, format: str = "svg", **options) -> Path:
    """Draw ``root`` and write the picture to ``path`` atomically.

    The file appears complete or not at all: it is written to a temporary file in the
    same directory and moved over ``path``. ``options`` are those of :func:`draw`.

    Parameters
    ----------
    root : Tensor
    path : str or os.PathLike
        The file to write; its directory must exist.
    format : str
        Any Graphviz output format: "svg", "png", "pdf", ...

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DotNotFoundError
        When the Graphviz ``dot`` program is missing; the message says how to install it.
    DotTimeoutError
        When ``dot`` runs longer than ``timeout`` seconds (an option of :func:`draw`, 30
        by default); it is stopped, and the message says what makes the picture cheaper.
    DotError
        When ``dot`` crashes or fails; the message names the picture's size and the
        options that help.
    OSError
        When ``path`` cannot be written (missing directory, a directory, no permission);
        the message names the path.

    Examples
    --------
    >>> import tinygraph as tg
    >>> from tinygraph.viz import render
    >>> w = tg.Tensor([1.0], requires_grad=True, name="w")
    >>> render(w * 2, "/nonexistent-dir/graph.svg")
    Traceback (most recent call last):
    ...
    FileNotFoundError: render: cannot write '/nonexistent-dir/graph.svg': its folder '/nonexistent-dir' does not exist
    """
    graph = draw(root, **options)  # bad options fail before any file work
    path = Path(os.fspath(path))
    if path.is_dir() or not path.parent.is_dir():
        _write(path, lambda tmp: None)  # the one atomic writer says what is wrong with the path, before dot runs
    data = run_dot(graph.source, format, timeout=graph.timeout, stats=graph.stats, options=graph.options)
    return _write(path, lambda tmp: tmp.write_bytes(data))


def _write(path: Path, write) -> Path:
    try:
        return write_atomically(path, write)
    except OSError as err:
        raise type(err)(f"render: {err}") from None  # the one-line message, prefixed by what failed
