"""The ``file-reflink`` pool: qubes' volumes as image files in a directory.

Layout under ``dir_path`` (core-model.md §3.7), for vid ``appvms/<qube>/<volume>``:
``<vid>.img`` committed data, ``<vid>-dirty.img`` the running session (what the qube
sees), ``<vid>-precache.img`` a ready copy of the clean image for the next start,
``<vid>-import.img`` a pending import, ``<vid>.img.<N>@<UTC time>Z`` revisions, and
temporaries ``*.img*~*``.

Clean images are immutable once in place: every change produces a new file that is
fsynced and renamed over the old name. That is what lets snapshots and revisions be
hard links: an AppVM's root snapshot is a hard link to its template's clean root (no
data blocks of its own), and a revision is a hard link to the clean image it supersedes.
Copies (session images) are reflinks where the filesystem supports them and sparse
copies elsewhere.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from backend.errors import QubesNotImplementedError, StoragePoolException
from backend.storage import fileops
from backend.storage.config import VolumeConfig, VolumeKind, format_bool, parse_bool
from backend.storage.pool import (
    EPHEMERAL_PARAMETER,
    REVISIONS_PARAMETER,
    BlockDevice,
    DirectoryPool,
    Parameter,
    Pool,
    Volume,
    locked,
    parse_dir_path,
    register_driver,
)
from backend.storage.revisions import (
    Revision,
    format_suffix,
    format_timestamp,
    list_revisions,
    validate_revision_id,
)
from backend.storage.sizes import check_new_size, validate_size

LOG = logging.getLogger("backend.storage")


def _parse_setup_check(value: object) -> bool:
    return parse_bool(value, "setup_check")


@register_driver
class ReflinkPool(DirectoryPool):
    driver = "file-reflink"
    parameters = (
        Parameter("dir_path", parse_dir_path, required=True),
        Parameter("setup_check", _parse_setup_check),
        REVISIONS_PARAMETER,
        EPHEMERAL_PARAMETER,
    )

    def __init__(
        self,
        name: str,
        *,
        dir_path: str,
        setup_check: bool = True,
        revisions_to_keep: int = 1,
        ephemeral_volatile: bool = False,
    ) -> None:
        super().__init__(
            name, revisions_to_keep=revisions_to_keep, ephemeral_volatile=ephemeral_volatile
        )
        self.dir_path = parse_dir_path(dir_path)
        self.setup_check = _parse_setup_check(setup_check)
        self._reflink: bool | None = None

    def _driver_config(self) -> dict[str, str]:
        return {"dir_path": self.dir_path, "setup_check": format_bool(self.setup_check)}

    @property
    def reflink(self) -> bool:
        """Whether this pool's filesystem shares extents (decided once per pool)."""
        if self._reflink is None:
            try:
                self._reflink = fileops.reflink_supported(self.dir_path)
            except FileNotFoundError:
                return False  # not set up yet; ask again later
        return self._reflink

    def setup(self) -> None:
        created = not os.path.isdir(self.dir_path)
        fileops.make_dirs(self.dir_path)
        if self.setup_check and not self.reflink:
            if created:
                fileops.remove_empty_dir(self.dir_path)
            raise StoragePoolException(
                f"The filesystem of {self.dir_path} does not support reflinks, so every "
                "qube start would copy data and waste disk space. Use a reflink-capable "
                "filesystem (XFS with reflink=1, Btrfs) or pass setup_check=False to "
                "accept sparse copies."
            )
        for prefix in ("appvms", "vm-templates"):
            fileops.make_dirs(os.path.join(self.dir_path, prefix))
        LOG.debug("pool %s set up in %s (reflink=%s)", self.name, self.dir_path, self.reflink)

    def _make_volume(self, config: VolumeConfig) -> Volume:
        if config.kind is VolumeKind.ORIGIN_SNAPSHOT:
            raise StoragePoolException(
                f"Volume {config.name!r}: snap_on_start together with save_on_stop "
                "(origin-snapshot) is not supported by the file-reflink driver"
            )
        return ReflinkVolume(self, config)

    def image_path(self, vid: str) -> str:
        """The clean image of ``vid``: what a snapshot of that volume is taken from."""
        return os.path.join(self.dir_path, vid + ".img")


    def included_in(self, pools: Iterable[Pool]) -> Pool | None:
        best: ReflinkPool | None = None
        for pool in pools:
            if not isinstance(pool, ReflinkPool) or pool is self or pool.name == self.name:
                continue
            parent = pool.dir_path
            if parent != self.dir_path and os.path.commonpath([parent, self.dir_path]) == parent:
                if best is None or len(parent) > len(best.dir_path):
                    best = pool
        return best


class ReflinkVolume(Volume):
    pool: ReflinkPool

    def __init__(self, pool: ReflinkPool, config: VolumeConfig) -> None:
        super().__init__(pool, config)
        base = os.path.join(pool.dir_path, self.vid)
        self._path_clean = base + ".img"
        self._path_dirty = base + "-dirty.img"
        self._path_precache = base + "-precache.img"
        self._path_import = base + "-import.img"
        self._importing = False
        self._exports_open = 0

    # -- state ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path_dirty

    def _source_clean(self) -> str:
        if self.source is None:
            raise StoragePoolException(f"Snapshot volume {self.vid} has no source volume")
        return self.pool.image_path(self.source)

    @property
    def size(self) -> int:
        with contextlib.suppress(FileNotFoundError):
            return os.stat(self._path_dirty).st_size
        if self.kind is VolumeKind.ORIGIN:
            with contextlib.suppress(FileNotFoundError):
                return os.stat(self._path_clean).st_size
        elif self.kind is VolumeKind.SNAPSHOT and self.source is not None:
            with contextlib.suppress(FileNotFoundError):
                return max(self._size, os.stat(self._source_clean()).st_size)
        return self._size

    @property
    def usage(self) -> int:
        """Bytes allocated to the image the qube sees (shared extents count fully)."""
        for path in (self._path_dirty, self._path_clean):
            with contextlib.suppress(FileNotFoundError):
                return fileops.allocated_bytes(path)
        return 0

    def _revision_files(self) -> list[Revision]:
        return list_revisions(self._path_clean)

    @property
    def revisions(self) -> dict[str, str]:
        return {str(rev.number): rev.timestamp for rev in self._revision_files()}

    def is_dirty(self) -> bool:
        return self.save_on_stop and os.path.exists(self._path_dirty)

    def is_running(self) -> bool:
        return os.path.exists(self._path_dirty)

    def is_outdated(self) -> bool:
        """Own snapshot (hard link) no longer the source's committed image."""
        if self.kind is not VolumeKind.SNAPSHOT:
            return False
        try:
            own = os.stat(self._path_clean)
        except FileNotFoundError:
            return False  # not started: the next start snapshots the current state
        try:
            current = os.stat(self._source_clean())
        except (FileNotFoundError, StoragePoolException):
            return True  # the source is being rewritten in place or is gone
        return (own.st_dev, own.st_ino) != (current.st_dev, current.st_ino)

    # -- lifecycle -----------------------------------------------------------------

    @locked
    def create(self) -> None:
        if self.is_running():
            raise StoragePoolException(f"Cannot create {self.vid}: the volume is in use")
        self._remove_images()
        fileops.make_dirs(os.path.dirname(self._path_clean))
        if self.kind is VolumeKind.ORIGIN:
            fileops.create_sparse(self._path_clean, self._size)
        # snapshot and volatile volumes allocate nothing until they start

    @locked
    def verify(self) -> None:
        if self.kind is VolumeKind.ORIGIN:
            if not (os.path.exists(self._path_clean) or os.path.exists(self._path_dirty)):
                raise StoragePoolException(
                    f"Missing image file {self._path_clean} for volume {self.vid}"
                )
        elif self.kind is VolumeKind.SNAPSHOT:
            self._check_source_available()

    def _check_source_available(self) -> str:
        source_clean = self._source_clean()
        source = self.source_volume
        if source is not None and source.snapshots_disabled and source.is_running():
            raise StoragePoolException(
                f"Cannot snapshot {self.source} for {self.vid}: the source volume has "
                "revisions_to_keep=-1 and is in use, so it has no committed state"
            )
        if not os.path.exists(source_clean):
            raise StoragePoolException(
                f"Missing source image {source_clean} for snapshot volume {self.vid}"
            )
        return source_clean

    @locked
    def start(self) -> None:
        if self._importing:
            raise StoragePoolException(f"Cannot start {self.vid}: an import is in progress")
        self._remove_temporaries()
        fileops.make_dirs(os.path.dirname(self._path_dirty))
        if self.kind is VolumeKind.ORIGIN:
            self._start_origin()
        elif self.kind is VolumeKind.SNAPSHOT:
            self._start_snapshot()
        else:
            fileops.remove_file(self._path_dirty)
            fileops.create_sparse(self._path_dirty, self._size)
        LOG.debug("started %s", self.vid)

    def _start_origin(self) -> None:
        if os.path.exists(self._path_dirty):
            # unclean stop: the session survived, and it holds the qube's latest writes
            LOG.info("%s: resuming the session left by an unclean stop", self.vid)
            return
        if self.snapshots_disabled:
            if self._exports_open:
                raise StoragePoolException(
                    f"Cannot start {self.vid} while it is being exported: with "
                    "revisions_to_keep=-1 the qube writes straight into the committed image"
                )
            fileops.remove_file(self._path_precache)
            self._prune_revisions(0)
            fileops.rename(self._path_clean, self._path_dirty)
            return
        if self._precache_valid():
            fileops.rename(self._path_precache, self._path_dirty)
        else:
            fileops.remove_file(self._path_precache)
            fileops.copy_file(self._path_clean, self._path_dirty)

    def _start_snapshot(self) -> None:
        source_clean = self._check_source_available()
        fileops.remove_file(self._path_dirty)
        # The hard link pins the source state this session is based on; is_outdated()
        # compares it with the source's current clean image.
        fileops.link_file(source_clean, self._path_clean)
        fileops.copy_file(self._path_clean, self._path_dirty)
        if self._size > os.path.getsize(self._path_dirty):
            fileops.grow_file(self._path_dirty, self._size)

    @locked
    def stop(self) -> None:
        if self.kind is VolumeKind.ORIGIN:
            if os.path.exists(self._path_dirty):
                self._commit(self._path_dirty)
        else:
            fileops.remove_file(self._path_dirty)
            if self.kind is VolumeKind.SNAPSHOT:
                fileops.remove_file(self._path_clean)
        LOG.debug("stopped %s", self.vid)

    @locked
    def abort_start(self) -> None:
        if self.kind is VolumeKind.ORIGIN and not self.snapshots_disabled:
            # the qube never ran: the session equals the clean image, keep no revision
            if fileops.remove_file(self._path_dirty):
                self._refresh_precache()
        else:
            self.stop()

    @locked
    def remove(self) -> None:
        self._importing = False
        self._remove_images()
        self.pool.forget_volume(self)
        fileops.remove_empty_dir(os.path.dirname(self._path_clean))

    def block_device(self) -> BlockDevice:
        return BlockDevice(
            path=self._path_dirty, name=self.name, rw=self.rw, ephemeral=self.ephemeral
        )

    # -- commit, revisions, precache -----------------------------------------------

    def _commit(self, path_from: str) -> None:
        """Make ``path_from`` the new clean image, keeping the old one as a revision."""
        fileops.fsync_file(path_from)
        fileops.remove_file(self._path_precache)  # it would describe the old image
        if not self.snapshots_disabled:
            self._add_revision()
            self._prune_revisions(max(self.revisions_to_keep, 0))
        fileops.rename(path_from, self._path_clean)
        self._refresh_precache()

    def _add_revision(self, *, always: bool = False) -> None:
        """Keep the current clean image as the newest revision (if revisions are kept,
        or ``always``, which revert uses so that a revert can itself be undone)."""
        if self.revisions_to_keep <= 0 and not always:
            return
        try:
            mtime = os.stat(self._path_clean).st_mtime
        except FileNotFoundError:
            return
        revisions = self._revision_files()
        number = revisions[-1].number + 1 if revisions else 1
        path = f"{self._path_clean}.{format_suffix(number, format_timestamp(mtime))}"
        # Clean images are never modified in place, so a hard link is a true copy.
        os.link(self._path_clean, path)
        fileops.fsync_dir(os.path.dirname(path))

    def _prune_revisions(self, keep: int) -> None:
        revisions = self._revision_files()
        for revision in revisions[: max(len(revisions) - keep, 0)]:
            fileops.remove_file(revision.path)

    def _precache_valid(self) -> bool:
        try:
            pre = os.stat(self._path_precache)
            clean = os.stat(self._path_clean)
        except FileNotFoundError:
            return False
        return (pre.st_size, pre.st_mtime_ns) == (clean.st_size, clean.st_mtime_ns)

    def _refresh_precache(self) -> None:
        # Only where a copy is cheap: on a non-reflink filesystem a precache would
        # keep a second full copy of every origin volume on disk.
        if (
            self.kind is not VolumeKind.ORIGIN
            or self.snapshots_disabled
            or not self.pool.reflink
            or not os.path.exists(self._path_clean)
        ):
            return
        fileops.copy_file(self._path_clean, self._path_precache, keep_mtime=True)

    def _remove_temporaries(self) -> None:
        """Delete leftovers of copies interrupted by a crash (``*.img*~*``)."""
        images = (self._path_clean, self._path_dirty, self._path_precache, self._path_import)
        patterns = [glob.escape(path) + "~*" for path in images]
        patterns.append(glob.escape(self._path_clean + ".") + "*~*")
        for pattern in patterns:
            for path in glob.glob(pattern):
                fileops.remove_file(path)

    def _remove_images(self) -> None:
        self._remove_temporaries()
        self._prune_revisions(0)
        for path in (self._path_import, self._path_precache, self._path_dirty, self._path_clean):
            fileops.remove_file(path)

    @locked
    def revert(self, revision: str | None = None) -> None:
        if self.kind is not VolumeKind.ORIGIN:
            raise QubesNotImplementedError(
                f"Cannot revert {self.vid}: only save_on_stop volumes have revisions"
            )
        if self.is_dirty():
            raise StoragePoolException(
                f"Cannot revert {self.vid}: the volume is in use (its qube is running or "
                "was not cleanly stopped)"
            )
        revisions = self._revision_files()
        if not revisions:
            raise StoragePoolException(f"Cannot revert {self.vid}: it has no revisions")
        if revision is None:
            target = revisions[-1]
        else:
            validate_revision_id(revision)
            matches = [rev for rev in revisions if str(rev.number) == revision]
            if not matches:
                raise StoragePoolException(
                    f"Volume {self.vid} has no revision {revision!r} "
                    f"(available: {', '.join(str(rev.number) for rev in revisions)})"
                )
            target = matches[0]
        fileops.remove_file(self._path_precache)
        self._add_revision(always=True)
        fileops.rename(target.path, self._path_clean)
        self._refresh_precache()
        LOG.debug("reverted %s to revision %s", self.vid, target.number)

    # -- resize --------------------------------------------------------------------

    @locked
    def resize(self, size: int) -> None:
        if not self.rw:
            raise StoragePoolException(f"Cannot resize {self.vid}: the volume is read-only")
        current = self.size
        new = check_new_size(self.vid, current, size)
        if new == current:
            return
        if os.path.exists(self._path_dirty):
            # the session is committed with its new size at stop; the block device
            # is told by the virt layer
            fileops.grow_file(self._path_dirty, new)
        elif self.kind is VolumeKind.ORIGIN:
            self._grow_clean(new)
        self._size = new
        LOG.debug("resized %s from %d to %d bytes", self.vid, current, new)

    def _grow_clean(self, size: int) -> None:
        fileops.remove_file(self._path_precache)
        if os.stat(self._path_clean).st_nlink == 1:
            # nothing else (revision, snapshot) shares this image: growing in place
            # only appends a hole, atomically
            fileops.grow_file(self._path_clean, size)
        else:
            tmp = fileops.temp_name(self._path_clean)
            fileops.copy_file(self._path_clean, tmp, keep_mtime=True)
            try:
                fileops.grow_file(tmp, size)
                fileops.rename(tmp, self._path_clean)
            except BaseException:
                fileops.remove_file(tmp)
                raise
        self._refresh_precache()

    # -- export and import ---------------------------------------------------------

    @contextlib.contextmanager
    def export(self) -> Iterator[BinaryIO]:
        with self._lock:
            path = self._export_path()
            try:
                stream = open(path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                raise StoragePoolException(
                    f"Cannot export {self.vid}: its image {path} is missing"
                ) from None
            self._exports_open += 1
        try:
            # The open file pins the committed image: a commit that replaces it while
            # we read does not change what we read.
            yield stream
        finally:
            stream.close()
            with self._lock:
                self._exports_open -= 1

    def _export_path(self) -> str:
        if self.kind is VolumeKind.ORIGIN:
            if self.snapshots_disabled and self.is_running():
                raise StoragePoolException(
                    f"Cannot export {self.vid} while it is in use: with revisions_to_keep=-1 "
                    "there is no committed copy of its data"
                )
            return self._path_clean
        if self.kind is VolumeKind.SNAPSHOT:
            if os.path.exists(self._path_clean):
                return self._path_clean  # the state the running session started from
            return self._check_source_available()
        raise QubesNotImplementedError(
            f"Cannot export {self.vid}: a volatile volume has no committed data"
        )

    @locked
    def import_data(self, size: int) -> str:
        if self.kind is not VolumeKind.ORIGIN:
            raise QubesNotImplementedError(
                f"Cannot import data into {self.vid}: only save_on_stop volumes accept "
                f"imported data, this one is {self.kind.value}"
            )
        if self.is_dirty():
            raise StoragePoolException(
                f"Cannot import data into {self.vid}: the volume is in use (its qube is "
                "running or was not cleanly stopped)"
            )
        if self._importing:
            raise StoragePoolException(f"An import into {self.vid} is already in progress")
        size = validate_size(size)
        fileops.remove_file(self._path_import)
        fileops.create_sparse(self._path_import, size)
        self._importing = True
        return self._path_import

    @locked
    def import_data_end(self, success: bool) -> None:
        if not self._importing:
            raise StoragePoolException(f"No import into {self.vid} is in progress")
        try:
            if success:
                self._commit(self._path_import)
                self._size = os.path.getsize(self._path_clean)
            else:
                fileops.remove_file(self._path_import)
        finally:
            self._importing = False

    def import_volume(self, src: Volume) -> None:
        if self.kind is not VolumeKind.ORIGIN:
            return  # snapshot and volatile volumes get their data at start
        with src.export() as stream:
            size = os.fstat(stream.fileno()).st_size
            path = self.import_data(size)
            success = False
            try:
                src_fd = stream.fileno()
                dst_fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    fileops.clone_fd(src_fd, dst_fd)
                finally:
                    os.close(dst_fd)
                success = True
            finally:
                self.import_data_end(success)
