"""The qubes.xml file on disk: locked, loaded once, saved atomically with a previous copy.

A save writes a temporary file in the same directory, fsyncs it, hard-links the current
file to ``qubes.xml.prev``, renames the temporary file over ``qubes.xml`` and fsyncs the
directory, so after a crash the file is either the old or the new document, and the
previous good document is always one rename away. A file that could not be loaded is
never written over; neither is one changed behind our back since we loaded it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Self

from backend.errors import StoreError
from backend.store.core3 import PathLike, from_xml, to_xml
from backend.store.document import Core3Document

log = logging.getLogger("backend.store")

FILE_MODE = 0o660
PREV_SUFFIX = ".prev"
LOCK_SUFFIX = ".lock"
GROUP = "qubes"

# lockf() locks belong to the process, so a second Store in the same process would get
# the lock again (and closing its descriptor would drop ours): keep our own register.
_held: set[str] = set()
_held_guard = threading.Lock()


class StoreBusyError(StoreError):
    """Another Store (in this process or another one) holds the file's lock."""


class Store:
    """One ``qubes.xml``; holds its lock from construction until :meth:`close`."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.prev_path = self.path.with_name(self.path.name + PREV_SUFFIX)
        self.lock_path = self.path.with_name(self.path.name + LOCK_SUFFIX)
        self._key = os.path.realpath(self.path)
        self._lock_fd: int | None = None
        self._loaded = False
        self._failure: StoreError | None = None
        self._stamp: tuple[int, int, int, int] | None = None  # of the file we know
        self._lock()

    # -- lock

    def _lock(self) -> None:
        with _held_guard:
            if self._key in _held:
                raise StoreBusyError(self.path, "is already opened by this process")
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            except OSError as exc:
                raise StoreError(
                    self.path, f"cannot open the lock file {self.lock_path}: {exc.strerror}"
                ) from exc
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    raise StoreBusyError(
                        self.path, f"is in use by another process (lock {self.lock_path})"
                    ) from None
                raise StoreError(self.path, f"cannot lock {self.lock_path}: {exc}") from exc
            _held.add(self._key)
            self._lock_fd = fd

    def close(self) -> None:
        """Release the lock; the object cannot load or save any more."""
        with _held_guard:
            if self._lock_fd is None:
                return
            os.close(self._lock_fd)  # closing the descriptor drops the lockf lock
            self._lock_fd = None
            _held.discard(self._key)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise StoreError(self.path, "store is closed")

    # -- load

    def load(self) -> Core3Document | None:
        """The document on disk, or None when there is no file yet.

        Raises StoreError when the file is damaged; from then on :meth:`save` refuses.
        """
        self._check_open()
        self._remove_stale_temporaries()
        try:
            with open(self.path, "rb") as file:
                data = file.read()
                stamp = _stamp(os.fstat(file.fileno()))
        except FileNotFoundError:
            if self.prev_path.exists():
                log.warning(
                    "%s is missing but %s exists; starting empty", self.path, self.prev_path
                )
            self._loaded, self._stamp, self._failure = True, None, None
            return None
        except OSError as exc:
            self._failure = StoreError(self.path, f"cannot be read: {exc.strerror}")
            raise self._failure from exc
        try:
            doc = from_xml(data, self.path)
        except StoreError as exc:
            self._failure = exc
            raise
        self._loaded, self._stamp, self._failure = True, stamp, None
        log.debug("loaded %s: %d domains", self.path, len(doc.domains))
        return doc

    def _remove_stale_temporaries(self) -> None:
        # Left by a save interrupted before its rename; we hold the lock, so no one
        # else is writing them.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    # -- save

    def save(self, doc: Core3Document) -> None:
        """Serialise ``doc`` and replace the file with it, durably."""
        self.save_bytes(to_xml(doc))

    def save_bytes(self, data: bytes) -> None:
        self._check_open()
        self._check_writable()
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            try:
                os.fchmod(fd, FILE_MODE)
                _set_group(fd)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._keep_previous()
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)
        self._stamp = _stamp(os.stat(self.path))
        log.debug("saved %s (%d bytes)", self.path, len(data))

    def _check_writable(self) -> None:
        if self._failure is not None:
            raise StoreError(
                self.path,
                f"refusing to save over a file that failed to load ({self._failure.problem})",
            )
        try:
            current: tuple[int, int, int, int] | None = _stamp(os.stat(self.path))
        except FileNotFoundError:
            current = None
        if not self._loaded and current is not None:
            raise StoreError(self.path, "refusing to save over a file that was never loaded")
        if current != self._stamp:
            raise StoreError(self.path, "was modified by someone else since it was loaded")

    def _keep_previous(self) -> None:
        """Make ``.prev`` the current file: a hard link, a copy where links fail."""
        if not self.path.exists():
            return
        link = self.prev_path.with_name(self.prev_path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        try:
            os.link(self.path, link)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            shutil.copy2(self.path, link)
            with open(link, "rb") as copied:
                os.fsync(copied.fileno())
        os.replace(link, self.prev_path)
        # rename() between two links of one file does nothing: after a save that failed
        # late, .prev may already be the current file, and the extra link must go
        with contextlib.suppress(FileNotFoundError):
            link.unlink()


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _set_group(fd: int) -> None:
    # qubesd gives the file to group "qubes"; where there is none (or we are not in
    # it, as in the demo), the file keeps our own group.
    with contextlib.suppress(KeyError, OSError):
        os.fchown(fd, -1, grp.getgrnam(GROUP).gr_gid)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
