"""The locks a run holds while it writes, and the files it opens without following a
symbolic link.

Two locks keep two runs on one machine from creating the same apps: ``<journal>.lock``
beside the journal, and one per (server, team) in a folder of the user's own (the
platform's user cache folder, created 0700, its owner and mode checked before use). The
lock itself is filelock's lock on a descriptor (``flock`` on Unix, ``LockFileEx`` on
Windows), so ``import bulk`` needs no ``fcntl``; the OS drops it when a run dies. Lock
files are opened with ``O_NOFOLLOW`` and removed when the run ends: a symbolic link
planted at one is an error naming it, never a file created or truncated elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

import filelock
import platformdirs
from yarl import URL

from .._shared.errors import UsageError

__all__ = [
    "NOFOLLOW",
    "hold",
    "lock_folder",
    "lock_teams",
    "no_symlink",
    "private_folder",
    "release",
    "server_of",
]

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has none: no_symlink checks first


def no_symlink(path: Path, what: str) -> None:
    """Refuses a symbolic link where bulk is about to create or open ``what``."""
    if path.is_symlink():
        raise UsageError(
            f"the {what} {str(path)!r} is a symbolic link: bulk follows none into a file "
            "you did not name; remove it"
        )


def open_nofollow(path: Path, flags: int, what: str) -> int:
    """``os.open`` that fails on a symbolic link (also one planted after the check)."""
    no_symlink(path, what)
    try:
        return os.open(path, flags | NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            no_symlink(path, what)
        raise


def lock_folder() -> Path:
    """The per-user folder of the team locks."""
    return private_folder("locks", "lock folder")


def private_folder(name: str, what: str) -> Path:
    """A per-user folder of bulk's (``name`` in the user cache folder): created 0700,
    refused when it is a symbolic link, another user's, or open to others."""
    folder = Path(platformdirs.user_cache_dir("rungen-bulk", appauthor=False)) / name
    try:
        folder.parent.parent.mkdir(parents=True, exist_ok=True)
        for private in (folder.parent, folder):
            no_symlink(private, what)
            private.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise UsageError(
            f"cannot create the {what} {str(folder)!r} ({exc.strerror or exc}): set "
            "XDG_CACHE_HOME (Linux) to a folder of yours that can be written"
        ) from None
    problem = None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder"
    elif hasattr(os, "getuid") and info.st_uid != os.getuid():
        problem = f"belongs to another user (uid {info.st_uid})"
    elif os.name == "posix" and info.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(info.st_mode):o}, not 700)"
    if problem is not None:
        raise UsageError(
            f"the {what} {str(folder)!r} {problem}: another user could read or redirect "
            "bulk's locks and records; remove it (bulk creates it again, private)"
        )
    return folder


def hold(path: Path, busy: str) -> int:
    """Takes the lock ``path`` without waiting (``busy`` says why it is taken), or raises
    ``UsageError``. The descriptor holds it until ``release``."""
    for _ in range(3):
        fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, "lock file")
        try:
            if not filelock.lock_descriptor(fd, blocking=False):
                raise UsageError(busy)
        except BaseException:
            os.close(fd)
            raise
        if _same(path, fd):
            return fd
        os.close(fd)  # its last holder removed it between our open and our lock: again
    raise UsageError(busy)


def release(path: Path, fd: int) -> None:
    """Drops the lock and removes its file. On Unix the file goes while still locked, so
    no other run can take a lock on a file that is about to vanish."""
    if os.name == "nt":  # an open file cannot be removed there
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        return
    with contextlib.suppress(OSError):
        if _same(path, fd):
            path.unlink()
    os.close(fd)


def _same(path: Path, fd: int) -> bool:
    try:
        return os.path.samestat(os.lstat(path), os.fstat(fd))
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def lock_teams(base_url: str, teams: Iterable[str]) -> Iterator[None]:
    """Holds a lock per (server, team) while a run writes, on this machine: two runs of
    one manifest with two outputs would each create every app."""
    folder = lock_folder()
    held: list[tuple[Path, int]] = []
    try:
        for team in sorted(teams):
            # By server, however its URL is spelt: localhost and 127.0.0.1 are one.
            digest = hashlib.sha256(f"{server_of(base_url)}\x00{team}".encode()).hexdigest()[:24]
            owner = f"team {team!r}" if team else "your own apps"
            path = folder / f"{digest}.lock"
            busy = (
                f"another run is writing to {owner} on {base_url} right now; wait for it "
                "to end (two runs at once could create apps twice)"
            )
            held.append((path, hold(path, busy)))
        yield
    finally:
        for path, fd in reversed(held):
            release(path, fd)


_LOOPBACK = {"localhost", "::1", "ip6-localhost"}


def server_of(base_url: str) -> str:
    """One spelling per server: scheme and host in lower case, the port always given, no
    trailing slash, and every loopback name (localhost, 127.0.0.1, ::1) one."""
    url = URL(base_url)
    host = (url.host or "").lower().rstrip(".")
    if host in _LOOPBACK or host.startswith("127."):
        host = "loopback"
    return f"{url.scheme.lower()}://{host}:{url.port}{url.path.rstrip('/')}"
