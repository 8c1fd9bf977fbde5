"""Reading and writing files from a stranger's folder, safely (docs/security.md).

Reads open regular files only — a named pipe would block forever and a device (`/dev/zero`) never ends — and
never read more than the caller's bound. Writes go to a temporary file in the target's own folder, then
replace the target in one rename; a target that is a symbolic link is refused, so an archive cannot make
curate write through a link it ships.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: curate does not open it."""


class TooLarge(OSError):
    """The file holds more bytes than the caller allows."""


def kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """(file descriptor, its stat) of a regular file, following links. O_NONBLOCK: opening a FIFO returns at
    once instead of waiting for a writer, and the descriptor is checked before any read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, f"{kind_of(st.st_mode)}, not a regular file")
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of a regular file of at most `max_bytes` bytes (TooLarge beyond, whatever its stat
    said: a file may grow while it is read)."""
    fd, st = open_regular(path)
    chunks, n = [], 0
    try:
        if st.st_size > max_bytes:
            raise TooLarge(errno.EFBIG, f"{st.st_size} bytes, over the {max_bytes}-byte limit")
        while n <= max_bytes:  # os.read, not a file object: a scan reads one caption per image
            chunk = os.read(fd, max_bytes + 1 - n)
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise TooLarge(errno.EFBIG, f"more than the {max_bytes}-byte limit")
    return data


@contextmanager
def atomic_writer(path: Path, mode: int = 0o644, text: bool = True) -> Iterator[IO[Any]]:
    """A file that replaces `path` in one rename when the block ends without error, and is removed when it does
    not; never written through a symbolic link (refused: OSError ELOOP)."""
    if path.is_symlink():
        raise OSError(errno.ELOOP, f"{path.name} is a symbolic link; curate does not write through links", str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w" if text else "wb", encoding="utf-8" if text else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # replaces a link itself, never its target
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` in one rename, never through a symbolic link (refused: OSError ELOOP)."""
    with atomic_writer(path, mode, text=False) as f:
        f.write(data)


def is_stream(path: Path) -> bool:
    """A terminal, pipe or device the user named (`/dev/stdout`, a FIFO): written as a stream, not replaced."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)
