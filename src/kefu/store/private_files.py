"""kefu's files are for kefu alone: data dir 0700, files 0600.

The SQLite database holds password hashes and every transcript, ``secret.key`` signs
every token, ``attachments/`` holds what customers sent. Created with the process's umask
(usually 0644), any local user could read them. New ones are created private; ones an
older kefu (or a copy, or a backup restore) left readable are tightened at start, with a
log line saying how many.

Only what kefu owns is touched: the data dir itself, its database files and secret, and
its ``attachments`` tree; never other files an operator keeps beside them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# What sits beside a SQLite database while it is in use: it holds the same data.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# Files of the data dir that are kefu's (its databases, the demo's, the token secret).
OWNED_FILE_PATTERNS = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal", "secret.key")
OWNED_TREES = ("attachments",)


def private_dir(path: Path) -> None:
    """Create ``path`` 0700 if it is missing (its missing parents with the umask's mode:
    they may be shared, e.g. ``/var/lib``)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)


def secure_data_dir(data_dir: Path) -> int:
    """Create the data dir 0700 and tighten what kefu owns in it; how many were changed.

    Walks the attachments tree: run it off the event loop (``asyncio.to_thread``).
    """
    private_dir(data_dir)
    for tree in OWNED_TREES:
        # Created here, 0700: the attachment store would create it with the umask's mode
        # as a parent of its own directories.
        private_dir(data_dir / tree)
    changed = _tighten(_owned(data_dir))
    if changed:
        log.warning(
            "tightened permissions of %d files and directories under %s (0700/0600): "
            "other local users could read them",
            changed,
            data_dir,
        )
    return changed


def private_sqlite_file(database: Path) -> None:
    """Make sure the database file exists 0600 before SQLite opens it: SQLite gives its
    ``-wal`` and ``-shm`` files the database file's mode, so they are private too."""
    if not database.parent.exists():
        private_dir(database.parent)
    # An empty file is an empty database to SQLite; an existing one is kept as it is.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    companions = [database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS]
    changed = _tighten([database, *companions])
    if changed:
        log.warning(
            "tightened permissions of %d SQLite files of %s to 0600: "
            "other local users could read them",
            changed,
            database.name,
        )


def _owned(data_dir: Path) -> Iterator[Path]:
    yield data_dir
    for pattern in OWNED_FILE_PATTERNS:
        yield from data_dir.glob(pattern)
    for tree in OWNED_TREES:
        root = data_dir / tree
        if root.is_dir() and not root.is_symlink():
            yield root
            for parent, dirs, files in os.walk(root):
                for name in dirs + files:
                    yield Path(parent, name)


def _tighten(paths: Iterable[Path]) -> int:
    """chmod each existing path that group or others may access; symlinks are skipped
    (their targets are not kefu's to change). Returns how many changed."""
    changed = 0
    for path in paths:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
            continue
        wanted = PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else PRIVATE_FILE
        os.chmod(path, wanted)  # not a symlink (checked above)
        changed += 1
    return changed
