"""Running Graphviz's ``dot``: :func:`render` writes a picture to a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tinygraph.viz._dot import draw

_INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` on Debian/Ubuntu, "
    "`brew install graphviz` on macOS, `conda install -c conda-forge graphviz` with conda, "
    "or see https://graphviz.org/download/; draw() itself needs no `dot` and still returns the DOT source"
)


class DotNotFoundError(RuntimeError):
    """The Graphviz ``dot`` program is not installed (or not on PATH).

    A RuntimeError, like ``graphviz.ExecutableNotFound``, which it wraps (as
    ``__cause__``) when graphviz found ``dot`` missing; defining it does not import
    graphviz, so ``import tinygraph`` stays free of it.
    """


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
    import graphviz

    try:
        data = graph.pipe(format=format)
    except graphviz.ExecutableNotFound as err:
        raise DotNotFoundError(f"render: the Graphviz program `dot` was not found; {_INSTALL_HINT}") from err
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
