"""Writing a picture to a file: :func:`render` draws, runs ``dot`` (bounded in time, see
:mod:`tinygraph.viz._runner`) and writes the result atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    FileNotFoundError: render: cannot write '/nonexistent-dir/graph.svg': its directory '/nonexistent-dir' does not exist
    """
    graph = draw(root, **options)  # bad options fail before any file work
    path = Path(os.fspath(path))
    directory = path.parent
    if path.is_dir():
        raise IsADirectoryError(f"render: cannot write '{path}': it is a directory; give a file name such as '{path / 'graph.svg'}'")
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise FileNotFoundError(f"render: cannot write '{path}': its directory '{directory}' {what}")
    data = run_dot(graph.source, format, timeout=graph.timeout, stats=graph.stats, options=graph.options)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise PermissionError(f"render: cannot write '{path}': {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        # mkstemp makes a private (0600) file; a picture is for everyone to read.
        os.chmod(temp, os.stat(path).st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(temp, path)
    except OSError as err:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise OSError(err.errno, f"render: cannot write '{path}': {err.strerror or err}") from err
    return path
