"""Storage pools and volumes: the driver-independent API and the driver registry."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, Concatenate, ParamSpec, TypeVar

from backend.errors import (
    QubesNotImplementedError,
    QubesValueError,
    StoragePoolException,
)
from backend.storage import fileops
from backend.storage.config import VolumeConfig, VolumeKind, format_bool, parse_bool, parse_int

_POOL_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_QUBE_DIR_PREFIXES = ("appvms", "vm-templates")

P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V", bound="Volume")


def locked(method: Callable[Concatenate[V, P], R]) -> Callable[Concatenate[V, P], R]:
    """Serialise a volume operation against the volume's other locked operations, and
    report OS failures (no space, I/O error, missing file) as StoragePoolException."""

    @functools.wraps(method)
    def wrapper(self: V, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except OSError as exc:
                operation = method.__name__.replace("_", " ")
                raise StoragePoolException(
                    f"Storage error during {operation} of volume {self.vid}: {exc}"
                ) from exc

    return wrapper


def validate_pool_name(name: object) -> str:
    if not isinstance(name, str) or not _POOL_NAME_RE.fullmatch(name):
        raise QubesValueError(
            f"Invalid pool name: {name!r} (allowed characters: A-Z a-z 0-9 - _ .)"
        )
    return name


def validate_qube_dir(vm_name: str, dir_prefix: str) -> None:
    """Refuse names that would put a qube's files outside its pool directory."""
    if dir_prefix not in _QUBE_DIR_PREFIXES:
        raise QubesValueError(
            f"Unknown qube directory prefix {dir_prefix!r} (expected appvms or vm-templates)"
        )
    if not vm_name or "/" in vm_name or vm_name in (".", "..") or "\0" in vm_name:
        raise QubesValueError(f"Invalid qube name for storage: {vm_name!r}")


def validate_vid(vid: str) -> str:
    """A vid used as a relative path inside the pool directory."""
    parts = vid.split("/")
    if (
        not vid
        or vid.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or "\0" in vid
        or "~" in vid
    ):
        raise QubesValueError(f"Invalid volume id: {vid!r}")
    return vid


def parse_dir_path(value: object, what: str = "dir_path") -> str:
    if not isinstance(value, str) or not value or "\0" in value:
        raise QubesValueError(f"Invalid value for {what}: {value!r}")
    return os.path.abspath(value)


@dataclass(frozen=True)
class Parameter:
    """A pool driver parameter: its name, how to parse it, whether it is required."""

    name: str
    parse: Callable[[object], object]
    required: bool = False


def _parse_revisions(value: object) -> int:
    return parse_int(value, "revisions_to_keep", minimum=-1)


def _parse_ephemeral(value: object) -> bool:
    return parse_bool(value, "ephemeral_volatile")


REVISIONS_PARAMETER = Parameter("revisions_to_keep", _parse_revisions)
EPHEMERAL_PARAMETER = Parameter("ephemeral_volatile", _parse_ephemeral)


@dataclass(frozen=True)
class BlockDevice:
    """What the domain XML builder needs to attach a volume as a disk."""

    path: str
    name: str  # volume name: root, private, volatile, kernel, ...
    rw: bool
    devtype: str = "disk"
    kind: str = "file"  # "file" (regular image file) or "block" (block device node)
    domain: str | None = None  # backend qube; None = dom0 / the host
    ephemeral: bool = False  # contents must not outlive the session (encrypt if possible)


class Volume:
    """A volume of one qube in one pool. Drivers override the operations they support.

    Operations are synchronous and may block on disk I/O; the daemon calls them from
    worker threads. Each volume serialises its own operations.
    """

    def __init__(self, pool: Pool, config: VolumeConfig) -> None:
        if config.vid is None or config.pool != pool.name:
            raise QubesValueError(f"Volume {config.name!r} is not initialised for {pool.name}")
        self.pool = pool
        self.name = config.name
        self.vid: str = config.vid
        self.snap_on_start = config.snap_on_start
        self.save_on_stop = config.save_on_stop
        self.source = config.source  # vid of the source volume, same pool
        self._rw = config.rw
        self._revisions_to_keep = (
            pool.revisions_to_keep if config.revisions_to_keep is None else config.revisions_to_keep
        )
        self._size = config.size or 0
        self._ephemeral = config.ephemeral
        self._extra = config.extra
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pool.name}:{self.vid}>"

    # -- configuration -------------------------------------------------------------

    @property
    def kind(self) -> VolumeKind:
        return VolumeKind.of(self.snap_on_start, self.save_on_stop)

    @property
    def rw(self) -> bool:
        return self._rw

    @rw.setter
    def rw(self, value: bool) -> None:
        self._rw = parse_bool(value, "rw")

    @property
    def revisions_to_keep(self) -> int:
        return self._revisions_to_keep

    @revisions_to_keep.setter
    def revisions_to_keep(self, value: int) -> None:
        number = parse_int(value, "revisions_to_keep", minimum=-1)
        with self._lock:
            if number == -1 and self.kind is not VolumeKind.ORIGIN:
                raise QubesValueError(
                    f"revisions_to_keep=-1 (snapshots disabled) is only valid for volumes "
                    f"that are save_on_stop and not snap_on_start; {self.vid} is not"
                )
            if (number == -1) != self.snapshots_disabled and self.is_running():
                raise StoragePoolException(
                    f"Cannot switch snapshots on or off for {self.vid} while it is in use"
                )
            self._revisions_to_keep = number

    @property
    def snapshots_disabled(self) -> bool:
        return self._revisions_to_keep == -1

    @property
    def ephemeral(self) -> bool:
        """Whether a volatile volume's contents must be unreadable after the session."""
        if self.kind is not VolumeKind.VOLATILE or not self.rw:
            return False
        if self._ephemeral is None:
            return self.pool.ephemeral_volatile
        return self._ephemeral

    @ephemeral.setter
    def ephemeral(self, value: bool | None) -> None:
        if value is not None:
            value = parse_bool(value, "ephemeral")
            if value and self.kind is not VolumeKind.VOLATILE:
                raise QubesValueError(
                    f"Only volatile volumes (neither snap_on_start nor save_on_stop) can be "
                    f"ephemeral; {self.vid} is {self.kind.value}"
                )
        self._ephemeral = value

    @property
    def config(self) -> VolumeConfig:
        """Current configuration, as the model stores it in qubes.xml."""
        return VolumeConfig(
            name=self.name,
            pool=self.pool.name,
            vid=self.vid,
            rw=self.rw,
            snap_on_start=self.snap_on_start,
            save_on_stop=self.save_on_stop,
            source=self.source,
            revisions_to_keep=self._revisions_to_keep,
            size=self.size,
            ephemeral=self._ephemeral,
            extra=self._extra,
        )

    @property
    def source_volume(self) -> Volume | None:
        """The registered source volume object, if the pool knows it."""
        if self.source is None:
            return None
        try:
            return self.pool.get_volume(self.source)
        except StoragePoolException:
            return None

    # -- state (cheap: a few stat calls at most) -----------------------------------

    @property
    def size(self) -> int:
        return self._size

    @property
    def usage(self) -> int:
        return 0

    @property
    def path(self) -> str | None:
        return None

    @property
    def revisions(self) -> dict[str, str]:
        """Revision id -> UTC timestamp ``YYYY-MM-DDTHH:MM:SS``, oldest first."""
        return {}

    def is_dirty(self) -> bool:
        """save_on_stop volume with an uncommitted session (running or unclean stop)."""
        return False

    def is_running(self) -> bool:
        """The volume has been started and not stopped."""
        return False

    def is_outdated(self) -> bool:
        """A snapshot whose source has been committed again since the snapshot."""
        return False

    # -- operations ----------------------------------------------------------------

    def _unsupported(self, operation: str) -> QubesNotImplementedError:
        return QubesNotImplementedError(
            f"Cannot {operation} {self.vid}: not supported by the {self.pool.driver} pool "
            f"for {self.kind.value} volumes"
        )

    def create(self) -> None:
        raise self._unsupported("create")

    def remove(self) -> None:
        raise self._unsupported("remove")

    def verify(self) -> None:
        """Raise StoragePoolException if data the qube needs to start is missing."""

    def start(self) -> None:
        raise self._unsupported("start")

    def stop(self) -> None:
        raise self._unsupported("stop")

    def abort_start(self) -> None:
        """Undo a start that the qube never used (its start failed): no commit."""
        self.stop()

    def block_device(self) -> BlockDevice | None:
        return None

    def resize(self, size: int) -> None:
        raise self._unsupported("resize")

    def revert(self, revision: str | None = None) -> None:
        raise self._unsupported("revert")

    @contextlib.contextmanager
    def export(self) -> Iterator[BinaryIO]:
        """A readable binary file of the committed data (pre-start data if running)."""
        raise self._unsupported("export")
        yield  # pragma: no cover - makes this a generator

    def import_data(self, size: int) -> str:
        """Begin an import: return the path to write exactly ``size`` bytes into."""
        raise self._unsupported("import data into")

    def import_data_end(self, success: bool) -> None:
        """Commit (``success``) or discard the data written after import_data()."""
        raise self._unsupported("import data into")

    def import_stream(self, stream: BinaryIO, size: int | None = None) -> None:
        """Import the whole of ``stream``: exactly ``size`` bytes, or at most the
        current size when ``size`` is None (``admin.vm.volume.Import``)."""
        exact = size is not None
        path = self.import_data(self.size if size is None else size)
        success = False
        try:
            fileops.write_stream(stream, path, os.path.getsize(path), exact=exact)
            success = True
        finally:
            self.import_data_end(success)

    def import_volume(self, src: Volume) -> None:
        """Replace this volume's data with ``src``'s committed data (clone). Volumes
        that are not save_on_stop get their data at start, so for them it does nothing."""
        if self.save_on_stop:
            raise self._unsupported("import a volume into")


class Pool:
    """A storage pool: a driver instance with a flat, string-valued configuration."""

    driver: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = (REVISIONS_PARAMETER, EPHEMERAL_PARAMETER)

    def __init__(
        self, name: str, *, revisions_to_keep: int = 1, ephemeral_volatile: bool = False
    ) -> None:
        self.name = validate_pool_name(name)
        self._revisions_to_keep = _parse_revisions(revisions_to_keep)
        self._ephemeral_volatile = _parse_ephemeral(ephemeral_volatile)
        self._volumes: dict[str, Volume] = {}
        self._registry_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @classmethod
    def driver_parameters(cls) -> list[str]:
        """Parameter names for ``pool.ListDrivers`` (besides name and driver)."""
        return sorted(p.name for p in cls.parameters)

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, object]) -> Pool:
        """Build a pool from untrusted string parameters, with clear errors."""
        known = {p.name: p for p in cls.parameters}
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise QubesValueError(
                f"Unknown parameter(s) for the {cls.driver} pool driver: {', '.join(unknown)}"
                f" (accepted: {', '.join(sorted(known)) or 'none'})"
            )
        missing = [p.name for p in cls.parameters if p.required and p.name not in config]
        if missing:
            raise QubesValueError(
                f"The {cls.driver} pool driver requires the parameter(s): {', '.join(missing)}"
            )
        parsed = {key: known[key].parse(value) for key, value in config.items()}
        return cls(name, **parsed)  # type: ignore[arg-type]

    # -- configuration -------------------------------------------------------------

    @property
    def config(self) -> dict[str, str]:
        """What goes into qubes.xml's ``<pool>`` element, including name and driver."""
        config = {"name": self.name, "driver": self.driver}
        names = {p.name for p in self.parameters}
        if REVISIONS_PARAMETER.name in names:
            config["revisions_to_keep"] = str(self.revisions_to_keep)
        if EPHEMERAL_PARAMETER.name in names:
            config["ephemeral_volatile"] = format_bool(self.ephemeral_volatile)
        config.update(self._driver_config())
        return config

    def _driver_config(self) -> dict[str, str]:
        return {}

    @property
    def revisions_to_keep(self) -> int:
        """Default for new volumes (pool.Set.revisions_to_keep)."""
        return self._revisions_to_keep

    @revisions_to_keep.setter
    def revisions_to_keep(self, value: int) -> None:
        self._revisions_to_keep = _parse_revisions(value)

    @property
    def ephemeral_volatile(self) -> bool:
        return self._ephemeral_volatile

    @ephemeral_volatile.setter
    def ephemeral_volatile(self, value: bool) -> None:
        self._ephemeral_volatile = _parse_ephemeral(value)

    # -- lifecycle -----------------------------------------------------------------

    def setup(self) -> None:
        """Called once when the pool is added (pool.Add)."""

    def destroy(self) -> None:
        """Called when the pool is removed; never deletes qubes' data."""

    # -- volumes -------------------------------------------------------------------

    def init_volume(
        self, vm_name: str, config: VolumeConfig, *, dir_prefix: str = "appvms"
    ) -> Volume:
        """Build the Volume of qube ``vm_name`` described by ``config``, filling in the
        vid, pool and revisions_to_keep defaults, and register it in the pool."""
        validate_qube_dir(vm_name, dir_prefix)
        if config.pool is not None and config.pool != self.name:
            raise QubesValueError(
                f"Volume {config.name!r} belongs to pool {config.pool!r}, not {self.name!r}"
            )
        filled = self._fill_config(vm_name, config, dir_prefix)
        volume = self._make_volume(filled)
        with self._registry_lock:
            self._volumes[volume.vid] = volume
        return volume

    def _fill_config(self, vm_name: str, config: VolumeConfig, dir_prefix: str) -> VolumeConfig:
        vid = config.vid or f"{dir_prefix}/{vm_name}/{config.name}"
        revisions = config.revisions_to_keep
        if revisions is None:
            revisions = self.revisions_to_keep
            if revisions == -1 and config.kind is not VolumeKind.ORIGIN:
                revisions = 0  # -1 is meaningless without a committed image
        elif revisions == -1 and config.kind is not VolumeKind.ORIGIN:
            raise QubesValueError(
                f"revisions_to_keep=-1 is only valid for save_on_stop volumes that are not "
                f"snap_on_start; volume {config.name!r} is {config.kind.value}"
            )
        if config.ephemeral and config.kind is not VolumeKind.VOLATILE:
            raise QubesValueError(
                f"Only volatile volumes can be ephemeral; {config.name!r} is {config.kind.value}"
            )
        if config.source is not None:
            validate_vid(config.source)
        return config.replace(vid=validate_vid(vid), pool=self.name, revisions_to_keep=revisions)

    def _make_volume(self, config: VolumeConfig) -> Volume:
        raise NotImplementedError

    @property
    def volumes(self) -> list[Volume]:
        with self._registry_lock:
            return list(self._volumes.values())

    def get_volume(self, vid: str) -> Volume:
        with self._registry_lock:
            try:
                return self._volumes[vid]
            except KeyError:
                raise StoragePoolException(f"No volume {vid!r} in pool {self.name}") from None

    def forget_volume(self, volume: Volume) -> None:
        """Drop ``volume`` from the registry (after removal or re-initialisation)."""
        with self._registry_lock:
            if self._volumes.get(volume.vid) is volume:
                del self._volumes[volume.vid]

    # -- capacity ------------------------------------------------------------------

    @property
    def size(self) -> int | None:
        return None

    @property
    def usage(self) -> int | None:
        return None

    def usage_details(self) -> dict[str, int]:
        """``pool.UsageDetails``: known values only."""
        details = {"data_size": self.size, "data_usage": self.usage}
        return {key: value for key, value in details.items() if value is not None}

    def included_in(self, pools: Iterable[Pool]) -> Pool | None:
        """The pool this one physically lives in, best effort."""
        return None


POOL_DRIVERS: dict[str, type[Pool]] = {}

PoolT = TypeVar("PoolT", bound=type[Pool])


def register_driver(cls: PoolT) -> PoolT:
    if not cls.driver:
        raise ValueError(f"{cls.__name__} has no driver name")
    POOL_DRIVERS[cls.driver] = cls
    return cls


def create_pool(driver: str, name: str, **config: object) -> Pool:
    """Instantiate the pool ``name`` of ``driver`` from its (string) configuration.

    Does not call ``setup()``: that happens only when a pool is added, not when it is
    loaded from qubes.xml.
    """
    try:
        cls = POOL_DRIVERS[driver]
    except KeyError:
        raise QubesValueError(
            f"Unknown storage pool driver {driver!r} (available: {', '.join(sorted(POOL_DRIVERS))})"
        ) from None
    validate_pool_name(name)
    return cls.from_config(name, config)


class DirectoryPool(Pool):
    """A pool kept in the directory ``dir_path``: its size and usage are those of the
    filesystem holding it."""

    dir_path: str

    @property
    def size(self) -> int | None:
        stats = statvfs_size(self.dir_path)
        return None if stats is None else stats[0]

    @property
    def usage(self) -> int | None:
        stats = statvfs_size(self.dir_path)
        return None if stats is None else stats[1]


def statvfs_size(path: str) -> tuple[int, int] | None:
    """(size, used) in bytes of the filesystem holding ``path``, None if unreachable."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_frsize * st.f_blocks, st.f_frsize * (st.f_blocks - st.f_bfree)
