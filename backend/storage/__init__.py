"""Storage pools and volumes of qubes (no Qt, no libvirt, no qube model)."""

from backend.storage.config import VolumeConfig, VolumeKind
from backend.storage.defaults import (
    PRIVATE_IMG_SIZE,
    ROOT_IMG_SIZE,
    VMClass,
    default_volume_configs,
    resolve_source,
)
from backend.storage.kernels import (
    DEFAULT_KERNELS_DIR,
    KernelVolume,
    LinuxKernelPool,
    installed_kernels,
    kernel_installed,
    validate_kernel_name,
)
from backend.storage.pool import (
    POOL_DRIVERS,
    BlockDevice,
    Pool,
    Volume,
    create_pool,
    validate_pool_name,
)
from backend.storage.ram import RamPool, RamVolume
from backend.storage.reflink import ReflinkPool, ReflinkVolume
from backend.storage.sizes import check_new_size, validate_size
from backend.storage.vmstorage import VMStorage

__all__ = [
    "DEFAULT_KERNELS_DIR",
    "POOL_DRIVERS",
    "PRIVATE_IMG_SIZE",
    "ROOT_IMG_SIZE",
    "BlockDevice",
    "KernelVolume",
    "LinuxKernelPool",
    "Pool",
    "RamPool",
    "RamVolume",
    "ReflinkPool",
    "ReflinkVolume",
    "VMClass",
    "VMStorage",
    "Volume",
    "VolumeConfig",
    "VolumeKind",
    "check_new_size",
    "create_pool",
    "default_volume_configs",
    "installed_kernels",
    "kernel_installed",
    "resolve_source",
    "validate_kernel_name",
    "validate_pool_name",
    "validate_size",
]
