"""Small helpers shared by the storage tests."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from backend.storage.config import VolumeConfig
from backend.storage.defaults import ROOT_IMG_SIZE, VMClass, default_volume_configs
from backend.storage.pool import Pool
from backend.storage.vmstorage import VMStorage

MiB = 1024**2
GiB = 1024**3


def _path(path: str | None) -> str:
    assert path is not None, "volume has no path"
    return path


def write_at(path: str | None, offset: int, data: bytes) -> None:
    fd = os.open(_path(path), os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_at(path: str | None, offset: int, length: int) -> bytes:
    with open(_path(path), "rb") as f:
        f.seek(offset)
        return f.read(length)


def free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def allocated(path: str | None) -> int:
    return os.stat(_path(path)).st_blocks * 512


def qube(
    name: str,
    klass: VMClass,
    pool: Pool,
    kernel_pool: Pool,
    chain: Sequence[Mapping[str, VolumeConfig]] = (),
    extra_pools: Sequence[Pool] = (),
    root_size: int = ROOT_IMG_SIZE,
) -> VMStorage:
    """A new qube's storage with every volume in ``pool`` (kernel in ``kernel_pool``)."""
    configs = default_volume_configs(
        klass,
        pools={
            "root": pool.name,
            "private": pool.name,
            "volatile": pool.name,
            "kernel": kernel_pool.name,
        },
        template_chain=chain,
        root_size=root_size,
    )
    pools = {p.name: p for p in (pool, kernel_pool, *extra_pools)}
    storage = VMStorage(name, klass.dir_prefix, pools, configs)
    storage.create()
    return storage
