"""Files that hold personal data (a customer's export): readable by their owner only, made new,
complete or absent.

The file is written under a random name beside the target, created exclusively (`O_EXCL`, which
also refuses a symlink placed there) with mode 0600 whatever the umask, and linked to the target
name only when complete. `link` fails when anything is at the target (a file, a symlink planted in
a shared folder, a dangling one), so an export never overwrites and never writes through a link;
a folder without hard links (a FAT USB stick) gets an exclusive create of the target instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

MODE = 0o600
CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# link(2) answers these on filesystems without hard links.
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


class TargetExists(FileExistsError):
    def __init__(self, path: Path) -> None:
        super().__init__(errno.EEXIST, "something is already there (a file or a link); an export never replaces one", str(path))


@contextlib.contextmanager
def private_file(path: Path) -> Iterator[IO[str]]:
    """Write text to a new private file at `path`; raises TargetExists when anything is there."""
    if os.path.lexists(path):
        raise TargetExists(path)  # early, before the caller does the work; link() checks again
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
    fd = os.open(partial, CREATE_NEW, MODE)
    try:
        os.fchmod(fd, MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        _publish(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, path: Path) -> None:
    try:
        os.link(partial, path, follow_symlinks=False)
    except FileExistsError as exc:
        raise TargetExists(path) from exc
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        _copy_new(partial, path)


def _copy_new(partial: Path, path: Path) -> None:
    try:
        fd = os.open(path, CREATE_NEW, MODE)
    except FileExistsError as exc:
        raise TargetExists(path) from exc
    try:
        with os.fdopen(fd, "wb") as out, partial.open("rb") as source:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
