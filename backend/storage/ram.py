"""The ``ram`` pool: volatile volumes kept on a tmpfs, so their data never hits a disk.

Meant for disposables: give a disposable template's ``volatile`` volume this pool and
its disposables inherit it (core-model.md §3.4), so their swap and scratch space live in
memory only and vanish at stop. Only volatile volumes are accepted.
"""

from __future__ import annotations

import contextlib
import logging
import os

from backend.errors import StoragePoolException
from backend.storage import fileops
from backend.storage.config import VolumeConfig, VolumeKind
from backend.storage.pool import (
    EPHEMERAL_PARAMETER,
    BlockDevice,
    DirectoryPool,
    Parameter,
    Volume,
    locked,
    parse_dir_path,
    register_driver,
)
from backend.storage.sizes import check_new_size

LOG = logging.getLogger("backend.storage")

DEFAULT_RAM_DIR = "/dev/shm/qubes-ram-pool"
_MEMORY_FILESYSTEMS = frozenset({"tmpfs"})


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as \ooo
    out = []
    i = 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def filesystem_type(path: str, mounts: str | None = None) -> str | None:
    """Type of the filesystem mounted at the deepest mount point containing ``path``,
    from ``/proc/self/mounts`` (or the given text in that format)."""
    if mounts is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="surrogateescape") as f:
                mounts = f.read()
        except OSError:
            return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = _unescape_mount_field(fields[1])
        inside = (
            target == mount_point
            or mount_point == "/"
            or (target.startswith(mount_point.rstrip("/") + "/"))
        )
        # a later line with the same mount point is mounted over the earlier one
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), fields[2])
    return None if best is None else best[1]


def _parse_dir(value: object) -> str:
    return parse_dir_path(value)


@register_driver
class RamPool(DirectoryPool):
    driver = "ram"
    parameters = (Parameter("dir_path", _parse_dir), EPHEMERAL_PARAMETER)

    def __init__(
        self, name: str, *, dir_path: str | None = None, ephemeral_volatile: bool = False
    ) -> None:
        super().__init__(name, revisions_to_keep=0, ephemeral_volatile=ephemeral_volatile)
        self.dir_path = parse_dir_path(dir_path or os.path.join(DEFAULT_RAM_DIR, name))

    def _driver_config(self) -> dict[str, str]:
        return {"dir_path": self.dir_path}

    @property
    def revisions_to_keep(self) -> int:
        return 0

    @revisions_to_keep.setter
    def revisions_to_keep(self, value: int) -> None:
        raise StoragePoolException("The ram pool keeps no revisions")

    def ensure_dir(self) -> None:
        """Create the pool directory and make sure it is in memory, else refuse."""
        created = not os.path.isdir(self.dir_path)
        fileops.make_dirs(self.dir_path)
        fstype = filesystem_type(self.dir_path)
        if fstype not in _MEMORY_FILESYSTEMS:
            if created:
                fileops.remove_empty_dir(self.dir_path)
            raise StoragePoolException(
                f"The ram pool {self.name} needs a tmpfs directory, but {self.dir_path} is "
                f"on {fstype or 'an unknown filesystem'}; its data would reach a disk. "
                "Use a directory under /dev/shm or another tmpfs mount."
            )

    def setup(self) -> None:
        self.ensure_dir()

    def _make_volume(self, config: VolumeConfig) -> Volume:
        if config.kind is not VolumeKind.VOLATILE:
            raise StoragePoolException(
                f"The ram pool {self.name} only holds volatile volumes (neither "
                f"snap_on_start nor save_on_stop); volume {config.name!r} is "
                f"{config.kind.value}"
            )
        return RamVolume(self, config.replace(revisions_to_keep=0))



class RamVolume(Volume):
    pool: RamPool

    def __init__(self, pool: RamPool, config: VolumeConfig) -> None:
        super().__init__(pool, config)
        self._path = os.path.join(pool.dir_path, self.vid + ".img")

    @property
    def path(self) -> str:
        return self._path

    @property
    def size(self) -> int:
        with contextlib.suppress(FileNotFoundError):
            return os.stat(self._path).st_size
        return self._size

    @property
    def usage(self) -> int:
        with contextlib.suppress(FileNotFoundError):
            return fileops.allocated_bytes(self._path)
        return 0

    def is_running(self) -> bool:
        return os.path.exists(self._path)

    def create(self) -> None:
        pass  # nothing to allocate: the volume exists only while its qube runs

    @locked
    def verify(self) -> None:
        self.pool.ensure_dir()

    @locked
    def start(self) -> None:
        self.pool.ensure_dir()
        fileops.remove_file(self._path)
        fileops.create_sparse(self._path, self._size)

    @locked
    def stop(self) -> None:
        fileops.remove_file(self._path)
        fileops.remove_empty_dir(os.path.dirname(self._path))

    @locked
    def remove(self) -> None:
        fileops.remove_file(self._path)
        self.pool.forget_volume(self)
        fileops.remove_empty_dir(os.path.dirname(self._path))

    @locked
    def resize(self, size: int) -> None:
        if not self.rw:
            raise StoragePoolException(f"Cannot resize {self.vid}: the volume is read-only")
        new = check_new_size(self.vid, self.size, size)
        if os.path.exists(self._path):
            fileops.grow_file(self._path, new)
        self._size = new

    def block_device(self) -> BlockDevice:
        return BlockDevice(path=self._path, name=self.name, rw=self.rw, ephemeral=self.ephemeral)
