"""Writing files so that a reader sees the old file or the complete new one, never half of one.

Every file tinygraph writes (pictures, run folders, parameter files, the bundled
datasets) goes through :func:`write_atomically`, so all of them follow one rule for
permissions: those the user's umask gives a new file (``0o666 & ~umask``, usually
``-rw-r--r--``), as ``open(path, "w")`` would. The umask is applied by the kernel when
the temporary file is created, never read or changed here, so threads are not affected.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["make_folder_beside", "write_atomically"]


def _reason(err: OSError, folder: Path) -> str:
    """Plain words for why nothing could be created in ``folder``."""
    if err.errno == errno.ENOENT and not folder.exists():
        return f"its folder '{folder}' does not exist"
    if err.errno == errno.ENOTDIR or (folder.exists() and not folder.is_dir()):
        return f"'{folder}' is not a folder"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in the folder '{folder}'"
    if err.errno == errno.EROFS:
        return f"the folder '{folder}' is on a read-only file system"
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    return err.strerror or str(err)


def _same_kind(err: OSError, message: str) -> OSError:
    """``message`` in an error of ``err``'s class and errno (PermissionError stays one).

    Made from the message alone, so that ``str()`` is the message without "[Errno 13]".
    """
    new = type(err)(message)
    new.errno = err.errno  # strerror stays unset: it would put "[Errno 13] ..." back into str()
    return new


def _temporary_name(path: Path) -> Path:
    # Hidden and beside the target, so os.replace is a rename within one file system.
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _fsync(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # not every platform can open a folder; the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def write_atomically(path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(tmp)`` on a temporary file, then move it into place.

    The temporary file is made in ``path``'s folder with the permissions the umask
    gives a new file; after ``write`` returns it is flushed to disk (fsync) and renamed
    over ``path`` in one step (``os.replace``). If anything fails, including
    ``write`` or an interrupt, the temporary file is removed and ``path`` is left as it
    was.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. Its folder must exist.
    write : callable
        Called once with the temporary file's path (a :class:`pathlib.Path`, the file
        exists and is empty); it must write the whole content to exactly that path,
        e.g. ``lambda tmp: tmp.write_text(text)`` or ``lambda tmp: fig.savefig(tmp)``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When ``path`` cannot be written; the message names ``path`` and says why in
        plain words (its folder does not exist, no permission, it is a folder), and the
        class follows the cause (``FileNotFoundError``, ``PermissionError``, ...).
        Errors raised by ``write`` itself pass through unchanged.

    Examples
    --------
    >>> import os, stat, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> target = write_atomically(folder / "notes.txt", lambda tmp: tmp.write_text("all or nothing\\n"))
    >>> target.read_text(), sorted(p.name for p in folder.iterdir())
    ('all or nothing\\n', ['notes.txt'])
    >>> umask = os.umask(0); _ = os.umask(umask)
    >>> stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    True
    >>> write_atomically(folder / "missing" / "notes.txt", lambda tmp: None)
    Traceback (most recent call last):
    ...
    FileNotFoundError: cannot write '.../missing/notes.txt': its folder '.../missing' does not exist
    """
    path = Path(os.fspath(path))
    folder = path.parent
    if path.is_dir():
        err = IsADirectoryError(f"cannot write '{path}': it is a folder; give a file name inside it")
        err.errno = errno.EISDIR
        raise err
    for _ in range(100):
        tmp = _temporary_name(path)
        try:
            # O_EXCL: never reuse someone else's file; mode 0o666 is trimmed by the umask.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise _same_kind(err, f"cannot write '{path}': {_reason(err, folder)}") from None
        os.close(fd)
        break
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(errno.EEXIST, f"cannot write '{path}': no free temporary name in '{folder}'")
    try:
        write(tmp)
        try:
            _fsync(tmp)
            os.replace(tmp, path)
        except OSError as err:
            raise _same_kind(err, f"cannot write '{path}': {_reason(err, folder)}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync(folder, directory=True)  # make the rename itself durable
    return path


def make_folder_beside(path, *, prefix: str | None = None) -> Path:
    """Create a new, empty, hidden folder next to ``path``, to be renamed to ``path`` later.

    It gets the permissions ``mkdir`` gives under the user's umask (``0o777 & ~umask``),
    unlike ``tempfile.mkdtemp``'s private ``0o700``, so that a folder built here and
    moved into place looks like one made directly.

    Parameters
    ----------
    path : str or os.PathLike
        The final folder; its parent must exist.
    prefix : str, optional
        Start of the new folder's name; default ``".<name>."``.

    Returns
    -------
    pathlib.Path
        The new folder.

    Raises
    ------
    OSError
        As :func:`write_atomically`, naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> parent = Path(tempfile.mkdtemp())
    >>> tmp = make_folder_beside(parent / "run")
    >>> tmp.parent == parent, tmp.name.startswith(".run."), tmp.is_dir()
    (True, True, True)
    """
    path = Path(os.fspath(path))
    prefix = f".{path.name}." if prefix is None else prefix
    for _ in range(100):
        candidate = path.with_name(f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            os.mkdir(candidate, 0o777)
        except FileExistsError:
            continue
        except OSError as err:
            raise _same_kind(err, f"cannot create '{path}': {_reason(err, path.parent)}") from None
        return candidate
    raise FileExistsError(errno.EEXIST, f"cannot create '{path}': no free temporary name")  # pragma: no cover
