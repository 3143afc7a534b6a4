"""The ``linux-kernel`` pool: dom0-provided kernels, one directory per version.

``<dir_path>/<version>/`` holds ``vmlinuz``, optionally ``initramfs``, ``modules.img``
(attached read-only as the ``kernel`` volume, xvdd) and ``default-kernelopts-*.txt``.
The ``kernel`` volume's vid is the qube's ``kernel`` property; empty means "use the
kernel inside the qube" and attaches nothing.
"""

from __future__ import annotations

import contextlib
import os
import re

from backend.errors import QubesValueError, StoragePoolException
from backend.storage import fileops
from backend.storage.config import VolumeConfig, parse_bool
from backend.storage.pool import (
    BlockDevice,
    DirectoryPool,
    Parameter,
    Volume,
    parse_dir_path,
    register_driver,
    validate_qube_dir,
)

DEFAULT_KERNELS_DIR = "/var/lib/qubes/vm-kernels"
_VERSION_PARTS = re.compile(r"[0-9]+|[^0-9]+")


def validate_kernel_name(name: str) -> str:
    """A kernel version usable as a directory name (the ``kernel`` property rule)."""
    if not name or "/" in name or name in (".", "..") or "\0" in name or not name.isprintable():
        raise QubesValueError(f"Invalid kernel name: {name!r}")
    return name


def _version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _VERSION_PARTS.findall(name)
    )


def installed_kernels(dir_path: str = DEFAULT_KERNELS_DIR) -> list[str]:
    """Kernel versions installed in ``dir_path`` (having a ``vmlinuz``), oldest first."""
    try:
        names = os.listdir(dir_path)
    except FileNotFoundError:
        return []
    found = [name for name in names if os.path.isfile(os.path.join(dir_path, name, "vmlinuz"))]
    return sorted(found, key=_version_key)


def kernel_installed(dir_path: str, name: str) -> bool:
    validate_kernel_name(name)
    return os.path.isfile(os.path.join(dir_path, name, "vmlinuz"))


@register_driver
class LinuxKernelPool(DirectoryPool):
    driver = "linux-kernel"
    parameters = (Parameter("dir_path", parse_dir_path, required=True),)

    def __init__(self, name: str, *, dir_path: str) -> None:
        super().__init__(name, revisions_to_keep=0)
        self.dir_path = parse_dir_path(dir_path)

    def _driver_config(self) -> dict[str, str]:
        return {"dir_path": self.dir_path}

    @property
    def revisions_to_keep(self) -> int:
        return 0

    @revisions_to_keep.setter
    def revisions_to_keep(self, value: int) -> None:
        raise StoragePoolException("The linux-kernel pool keeps no revisions")

    def setup(self) -> None:
        fileops.make_dirs(self.dir_path)

    def init_volume(
        self, vm_name: str, config: VolumeConfig, *, dir_prefix: str = "appvms"
    ) -> Volume:
        validate_qube_dir(vm_name, dir_prefix)
        if config.pool is not None and config.pool != self.name:
            raise QubesValueError(
                f"Volume {config.name!r} belongs to pool {config.pool!r}, not {self.name!r}"
            )
        if config.vid:
            validate_kernel_name(config.vid)
        # read-only and without revisions whatever the configuration says
        return KernelVolume(
            self,
            config.replace(
                pool=self.name,
                vid=config.vid or "",
                rw=False,
                snap_on_start=False,
                save_on_stop=False,
                revisions_to_keep=0,
                source=None,
            ),
        )

    def kernel_dir(self, version: str) -> str:
        return os.path.join(self.dir_path, validate_kernel_name(version))

    def kernel_file(self, version: str, filename: str) -> str | None:
        """Path of ``filename`` (``vmlinuz``, ``default-kernelopts-pci.txt``, …) if present."""
        path = os.path.join(self.kernel_dir(version), filename)
        return path if os.path.isfile(path) else None

    def installed_kernels(self) -> list[str]:
        return installed_kernels(self.dir_path)

    @property
    def volumes(self) -> list[Volume]:
        """One volume per installed kernel (what ``pool.volume.List`` shows)."""
        return [
            KernelVolume(self, VolumeConfig(name="kernel", pool=self.name, vid=version))
            for version in self.installed_kernels()
        ]

    def get_volume(self, vid: str) -> Volume:
        if vid and kernel_installed(self.dir_path, vid):
            return KernelVolume(self, VolumeConfig(name="kernel", pool=self.name, vid=vid))
        raise StoragePoolException(f"No kernel {vid!r} in pool {self.name} ({self.dir_path})")



class KernelVolume(Volume):
    """The ``kernel`` volume of one qube; vid = kernel version, "" = no dom0 kernel."""

    pool: LinuxKernelPool

    def __init__(self, pool: LinuxKernelPool, config: VolumeConfig) -> None:
        super().__init__(pool, config)
        self._revisions_to_keep = 0

    @property
    def rw(self) -> bool:
        return False

    @rw.setter
    def rw(self, value: bool) -> None:
        if parse_bool(value, "rw"):
            raise QubesValueError("The kernel volume is always read-only")

    @property
    def kernel(self) -> str | None:
        return self.vid or None

    @property
    def path(self) -> str | None:
        if not self.vid:
            return None
        return os.path.join(self.pool.kernel_dir(self.vid), "modules.img")

    @property
    def vmlinuz(self) -> str | None:
        return os.path.join(self.pool.kernel_dir(self.vid), "vmlinuz") if self.vid else None

    @property
    def initramfs(self) -> str | None:
        """The initramfs if the kernel directory has one."""
        return self.pool.kernel_file(self.vid, "initramfs") if self.vid else None

    @property
    def size(self) -> int:
        path = self.path
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                return os.stat(path).st_size
        return 0

    @property
    def usage(self) -> int:
        """Space the modules image really takes (it is sparse, like every image here)."""
        path = self.path
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                return os.stat(path).st_blocks * 512
        return 0

    def verify(self) -> None:
        if self.vid and not kernel_installed(self.pool.dir_path, self.vid):
            raise StoragePoolException(
                f"Kernel {self.vid!r} is not installed: {self.vmlinuz} does not exist"
            )

    def create(self) -> None:
        pass

    def remove(self) -> None:
        pass  # the kernel belongs to dom0, not to the qube

    def start(self) -> None:
        self.verify()

    def stop(self) -> None:
        pass

    def abort_start(self) -> None:
        pass

    def block_device(self) -> BlockDevice | None:
        path = self.path
        if path is None or not os.path.isfile(path):
            return None
        return BlockDevice(path=path, name=self.name, rw=False)
