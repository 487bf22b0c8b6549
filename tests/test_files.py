"""tinygraph._files: every file the project writes appears whole or not at all, with the
permissions the user's umask gives."""

import contextlib
import errno
import os
import stat

import pytest

from tinygraph import _files
from tinygraph._files import make_folder_beside, write_atomically


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writes_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "a.txt"
    assert write_atomically(target, lambda tmp: tmp.write_text("hello")) == target
    assert target.read_text() == "hello" and names(tmp_path) == ["a.txt"]
    write_atomically(str(target), lambda tmp: tmp.write_bytes(b"again"))  # a str path, and a replacement
    assert target.read_bytes() == b"again" and names(tmp_path) == ["a.txt"]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
def test_permissions_are_those_the_umask_gives(tmp_path, mask, mode):
    with umask(mask):
        target = write_atomically(tmp_path / "f", lambda tmp: tmp.write_text("x"))
        folder = make_folder_beside(tmp_path / "run")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert stat.S_IMODE(folder.stat().st_mode) == mode | 0o111 & ~mask


def test_a_replaced_file_gets_the_umask_mode_too(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o600)
    with umask(0o022):
        write_atomically(target, lambda tmp: tmp.write_text("new"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_the_old_file_stays_while_writing_and_after_a_failure(tmp_path):
    target = tmp_path / "f"
    target.write_text("old")

    def write(tmp):
        assert target.read_text() == "old"  # a reader meanwhile sees the whole old file
        tmp.write_text("half")
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="the writer broke"):
        write_atomically(target, write)
    assert target.read_text() == "old" and names(tmp_path) == ["f"]


def test_an_interrupt_removes_the_temporary_file(tmp_path):
    def write(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "f", write)
    assert names(tmp_path) == []


def test_the_content_is_flushed_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    write_atomically(tmp_path / "f", lambda tmp: tmp.write_text("x"))
    assert calls[:2] == ["fsync", "replace"]


def test_a_missing_folder_is_named_in_plain_words(tmp_path):
    target = tmp_path / "nowhere" / "f.svg"
    with pytest.raises(FileNotFoundError) as info:
        write_atomically(target, lambda tmp: tmp.write_text("x"))
    assert str(info.value) == f"cannot write '{target}': its folder '{tmp_path / 'nowhere'}' does not exist"
    assert info.value.errno == errno.ENOENT


def test_a_folder_in_place_of_the_file_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a folder; give a file name inside it"):
        write_atomically(tmp_path, lambda tmp: tmp.write_text("x"))


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        write_atomically(tmp_path / "plain" / "f.svg", lambda tmp: tmp.write_text("x"))


def test_no_permission_is_said_in_plain_words(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_files.os, "open", refuse)  # root ignores a read-only folder, so pretend
    with pytest.raises(PermissionError) as info:
        write_atomically(tmp_path / "f", lambda tmp: tmp.write_text("x"))
    assert str(info.value) == f"cannot write '{tmp_path / 'f'}': no permission to write in the folder '{tmp_path}'"
    assert "Errno" not in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_folder_for_real(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="no permission to write in the folder"):
            write_atomically(locked / "f", lambda tmp: tmp.write_text("x"))
    finally:
        locked.chmod(0o755)


def test_make_folder_beside_makes_fresh_hidden_folders(tmp_path):
    first, second = make_folder_beside(tmp_path / "run"), make_folder_beside(tmp_path / "run")
    assert first != second and first.parent == second.parent == tmp_path
    assert first.name.startswith(".run.") and not any(first.iterdir())
    with pytest.raises(FileNotFoundError, match="cannot create .* does not exist"):
        make_folder_beside(tmp_path / "missing" / "run")
