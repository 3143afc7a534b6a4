"""The ram pool (volatile volumes on tmpfs) and the linux-kernel pool."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.errors import QubesValueError, StoragePoolException
from backend.storage.config import VolumeConfig
from backend.storage.defaults import VMClass
from backend.storage.kernels import LinuxKernelPool, installed_kernels
from backend.storage.ram import RamPool, filesystem_type
from backend.storage.reflink import ReflinkPool
from backend.storage.vmstorage import VMStorage

from .helpers import MiB, qube, read_at, write_at


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    if filesystem_type("/dev/shm") != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs on this machine")
    directory = Path("/dev/shm") / f"qubes-ram-test-{uuid.uuid4().hex}"
    yield directory
    for path in sorted(directory.rglob("*"), reverse=True) if directory.exists() else []:
        path.unlink() if path.is_file() else path.rmdir()
    if directory.exists():
        directory.rmdir()


@pytest.fixture
def ram_pool(shm_dir: Path) -> RamPool:
    pool = RamPool("ram", dir_path=str(shm_dir))
    pool.setup()
    return pool


def test_ram_pool_refuses_a_directory_on_disk(tmp_path: Path) -> None:
    fstype = filesystem_type(str(tmp_path))
    if fstype == "tmpfs":
        pytest.skip("the temporary directory is itself on a tmpfs")
    pool = RamPool("ram", dir_path=str(tmp_path / "ram"))
    with pytest.raises(StoragePoolException, match=f"needs a tmpfs directory.* on {fstype}"):
        pool.setup()
    assert not (tmp_path / "ram").exists()
    volume = pool.init_volume("disp1", VolumeConfig(name="volatile", rw=True, size=MiB))
    with pytest.raises(StoragePoolException, match="tmpfs"):
        volume.start()
    assert not volume.is_running()


@pytest.mark.parametrize(
    "config",
    [
        VolumeConfig(name="private", rw=True, save_on_stop=True),
        VolumeConfig(name="root", rw=True, snap_on_start=True, source="vm-templates/t/root"),
    ],
)
def test_ram_pool_refuses_volumes_that_are_not_volatile(
    tmp_path: Path, config: VolumeConfig
) -> None:
    pool = RamPool("ram", dir_path=str(tmp_path))
    with pytest.raises(StoragePoolException, match="only holds volatile volumes"):
        pool.init_volume("work", config)


def test_ram_volume_lives_in_memory_and_is_gone_at_stop(ram_pool: RamPool) -> None:
    volume = ram_pool.init_volume("disp1", VolumeConfig(name="volatile", rw=True, size=64 * MiB))
    volume.create()
    assert not volume.is_running()
    volume.start()
    assert volume.path is not None and volume.path.startswith(ram_pool.dir_path)
    assert filesystem_type(volume.path) == "tmpfs"
    assert os.path.getsize(volume.path) == 64 * MiB
    write_at(volume.path, 0, b"secret")
    assert volume.usage > 0
    volume.stop()
    assert not os.path.exists(volume.path)
    volume.start()
    assert read_at(volume.path, 0, 6) == bytes(6)
    volume.remove()
    assert not os.path.exists(volume.path)


def test_disposables_inherit_the_ram_pool_of_their_template(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, ram_pool: RamPool, shm_dir: Path
) -> None:
    template = qube("fedora", VMClass.TEMPLATE, pool, kernel_pool, root_size=32 * MiB)
    dvm_configs = qube("dvm", VMClass.APP, pool, kernel_pool, chain=[template.configs()]).configs()
    dvm_configs["volatile"] = dvm_configs["volatile"].replace(pool="ram", vid=None)
    dvm = VMStorage(
        "dvm",
        "appvms",
        {"default": pool, "ram": ram_pool, "linux-kernel": kernel_pool},
        dvm_configs,
    )
    disp = qube(
        "disp7",
        VMClass.DISP,
        pool,
        kernel_pool,
        chain=[dvm.configs(), template.configs()],
        extra_pools=[ram_pool],
    )
    volatile = disp.get_volume("volatile")
    assert volatile.pool is ram_pool
    assert volatile.size == 12 * 1024 * MiB
    disp.start()
    assert volatile.path is not None and volatile.path.startswith(str(shm_dir))
    disp.stop()
    assert not any(p.is_file() for p in shm_dir.rglob("*"))


def test_filesystem_type_picks_the_deepest_mount_point() -> None:
    mounts = (
        "/dev/vda / ext4 rw 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n"
        "/dev/vdb /dev/shm/disk\\040dir xfs rw 0 0\n"
    )
    assert filesystem_type("/dev/shm/pool", mounts) == "tmpfs"
    assert filesystem_type("/dev/shm/disk dir/pool", mounts) == "xfs"
    assert filesystem_type("/dev/shmem", mounts) == "ext4"
    assert filesystem_type("/var/lib/qubes", mounts) == "ext4"


# -- linux-kernel --------------------------------------------------------------------


def _install(directory: Path, version: str, modules: bool = False) -> None:
    (directory / version).mkdir(parents=True)
    (directory / version / "vmlinuz").write_bytes(b"kernel")
    if modules:
        (directory / version / "modules.img").write_bytes(b"m" * 4096)


def test_installed_kernels_are_listed_in_version_order(tmp_path: Path) -> None:
    for version in ("6.10.2-1.fc41", "6.6.1-1.fc37", "6.9.0-1.fc40"):
        _install(tmp_path, version)
    (tmp_path / "not-a-kernel").mkdir()
    assert installed_kernels(str(tmp_path)) == ["6.6.1-1.fc37", "6.9.0-1.fc40", "6.10.2-1.fc41"]
    assert installed_kernels(str(tmp_path / "missing")) == []


def test_kernel_volume_is_modules_img_read_only(tmp_path: Path) -> None:
    _install(tmp_path, "6.6.1", modules=True)
    pool = LinuxKernelPool("linux-kernel", dir_path=str(tmp_path))
    volume = pool.init_volume(
        "work", VolumeConfig(name="kernel", vid="6.6.1", rw=True, save_on_stop=True)
    )
    assert (volume.rw, volume.save_on_stop, volume.revisions_to_keep) == (False, False, 0)
    device = volume.block_device()
    assert device is not None
    assert device.path == str(tmp_path / "6.6.1" / "modules.img")
    assert not device.rw
    assert volume.size == 4096
    assert volume.revisions == {}
    with pytest.raises(QubesValueError, match="read-only"):
        volume.rw = True
    volume.start()
    volume.stop()
    volume.remove()
    assert (tmp_path / "6.6.1" / "modules.img").exists()  # never deleted


def test_kernel_without_modules_img_attaches_nothing(kernel_pool: LinuxKernelPool) -> None:
    volume = kernel_pool.init_volume("work", VolumeConfig(name="kernel", vid="6.6.1"))
    assert volume.block_device() is None
    volume.verify()


def test_missing_kernel_fails_verify(kernel_pool: LinuxKernelPool) -> None:
    volume = kernel_pool.init_volume("work", VolumeConfig(name="kernel", vid="4.19.0"))
    with pytest.raises(StoragePoolException, match="not installed"):
        volume.verify()
    with pytest.raises(QubesValueError):
        kernel_pool.init_volume("work", VolumeConfig(name="kernel", vid="../../etc"))


def test_no_kernel_means_no_disk(kernel_pool: LinuxKernelPool) -> None:
    volume = kernel_pool.init_volume("work", VolumeConfig(name="kernel"))
    assert volume.block_device() is None and volume.path is None
    volume.verify()


def test_kernel_pool_lists_installed_kernels_as_volumes(kernel_pool: LinuxKernelPool) -> None:
    assert [v.vid for v in kernel_pool.volumes] == ["6.6.1"]
    assert kernel_pool.get_volume("6.6.1").vid == "6.6.1"
    assert kernel_pool.kernel_file("6.6.1", "vmlinuz") is not None
    assert kernel_pool.kernel_file("6.6.1", "default-kernelopts-pci.txt") is None
    with pytest.raises(StoragePoolException):
        kernel_pool.get_volume("5.0")
