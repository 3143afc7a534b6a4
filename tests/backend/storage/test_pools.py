"""The driver registry, pool configuration and volume initialisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import QubesValueError, StoragePoolException
from backend.storage import POOL_DRIVERS, create_pool, fileops
from backend.storage.config import VolumeConfig
from backend.storage.reflink import ReflinkPool

from .helpers import MiB


def test_all_drivers_are_registered() -> None:
    assert {"file-reflink", "ram", "linux-kernel"} <= set(POOL_DRIVERS)


def test_driver_parameters_for_list_drivers() -> None:
    assert POOL_DRIVERS["file-reflink"].driver_parameters() == [
        "dir_path",
        "ephemeral_volatile",
        "revisions_to_keep",
        "setup_check",
    ]
    assert POOL_DRIVERS["linux-kernel"].driver_parameters() == ["dir_path"]
    assert POOL_DRIVERS["ram"].driver_parameters() == ["dir_path", "ephemeral_volatile"]


def test_create_pool_parses_string_parameters(tmp_path: Path) -> None:
    pool = create_pool(
        "file-reflink",
        "vm-pool",
        dir_path=str(tmp_path / "p"),
        revisions_to_keep="3",
        setup_check="False",
        ephemeral_volatile="True",
    )
    assert isinstance(pool, ReflinkPool)
    assert (pool.revisions_to_keep, pool.setup_check, pool.ephemeral_volatile) == (3, False, True)
    assert pool.config == {
        "name": "vm-pool",
        "driver": "file-reflink",
        "dir_path": str(tmp_path / "p"),
        "revisions_to_keep": "3",
        "ephemeral_volatile": "True",
        "setup_check": "False",
    }


def test_pool_config_round_trips_through_create_pool(tmp_path: Path) -> None:
    pool = create_pool("file-reflink", "p", dir_path=str(tmp_path))
    assert create_pool(**pool.config).config == pool.config
    kernels = create_pool("linux-kernel", "linux-kernel", dir_path=str(tmp_path))
    assert kernels.config == {
        "name": "linux-kernel",
        "driver": "linux-kernel",
        "dir_path": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("driver", "name", "config", "message"),
    [
        ("zfs-magic", "p", {}, "Unknown storage pool driver 'zfs-magic'"),
        ("file-reflink", "p", {}, "requires the parameter\\(s\\): dir_path"),
        ("linux-kernel", "k", {}, "requires the parameter\\(s\\): dir_path"),
        ("file-reflink", "p", {"dir_path": "/x", "colour": "red"}, "Unknown parameter.*colour"),
        ("file-reflink", "p", {"dir_path": "/x", "revisions_to_keep": "-2"}, "at least -1"),
        ("file-reflink", "p", {"dir_path": "/x", "revisions_to_keep": "many"}, "integer"),
        ("file-reflink", "p", {"dir_path": "/x", "setup_check": "maybe"}, "setup_check"),
        ("file-reflink", "bad name", {"dir_path": "/x"}, "Invalid pool name"),
        ("linux-kernel", "k", {"dir_path": "/x", "revisions_to_keep": "1"}, "Unknown param"),
    ],
)
def test_create_pool_refuses_bad_configuration(
    driver: str, name: str, config: dict[str, str], message: str
) -> None:
    with pytest.raises(QubesValueError, match=message):
        create_pool(driver, name, **config)


def test_pool_revisions_to_keep_setter_validates(tmp_path: Path) -> None:
    pool = ReflinkPool("p", dir_path=str(tmp_path))
    pool.revisions_to_keep = -1
    with pytest.raises(QubesValueError):
        pool.revisions_to_keep = -5


def test_setup_check_refuses_a_filesystem_without_reflinks(tmp_path: Path) -> None:
    if fileops.reflink_supported(str(tmp_path)):
        pytest.skip("tmp is on a reflink-capable filesystem")
    pool = ReflinkPool("p", dir_path=str(tmp_path / "pool"))
    with pytest.raises(StoragePoolException, match="does not support reflinks.*setup_check"):
        pool.setup()
    assert not (tmp_path / "pool").exists()  # the directory it made is gone again
    ReflinkPool("p", dir_path=str(tmp_path / "pool"), setup_check=False).setup()
    assert (tmp_path / "pool" / "appvms").is_dir()


def test_setup_check_accepts_a_reflink_filesystem(xfs_mount: Path) -> None:
    pool = ReflinkPool("p", dir_path=str(xfs_mount / "checked-pool"))
    pool.setup()
    assert pool.reflink
    assert (xfs_mount / "checked-pool" / "vm-templates").is_dir()


def test_init_volume_fills_vid_pool_and_revisions(pool: ReflinkPool) -> None:
    volume = pool.init_volume(
        "fedora",
        VolumeConfig(name="root", rw=True, save_on_stop=True, size=MiB),
        dir_prefix="vm-templates",
    )
    assert volume.config == VolumeConfig(
        name="root",
        pool="default",
        vid="vm-templates/fedora/root",
        rw=True,
        save_on_stop=True,
        revisions_to_keep=1,
        size=MiB,
    )
    assert pool.get_volume("vm-templates/fedora/root") is volume
    assert volume in pool.volumes


def test_removed_volume_leaves_the_pool(pool: ReflinkPool) -> None:
    volume = pool.init_volume("work", VolumeConfig(name="private", save_on_stop=True, size=MiB))
    volume.create()
    volume.remove()
    with pytest.raises(StoragePoolException, match="No volume"):
        pool.get_volume("appvms/work/private")


@pytest.mark.parametrize(
    ("vm_name", "prefix", "config"),
    [
        ("../etc", "appvms", VolumeConfig(name="root")),
        ("work", "elsewhere", VolumeConfig(name="root")),
        ("work", "appvms", VolumeConfig(name="root", vid="/etc/shadow")),
        ("work", "appvms", VolumeConfig(name="root", vid="appvms/../../x")),
        ("work", "appvms", VolumeConfig(name="root", pool="other-pool")),
    ],
)
def test_init_volume_refuses_paths_outside_the_pool(
    pool: ReflinkPool, vm_name: str, prefix: str, config: VolumeConfig
) -> None:
    with pytest.raises(QubesValueError):
        pool.init_volume(vm_name, config, dir_prefix=prefix)


def test_origin_snapshot_is_refused(pool: ReflinkPool) -> None:
    config = VolumeConfig(name="root", snap_on_start=True, save_on_stop=True, source="x/y/z")
    with pytest.raises(StoragePoolException, match="origin-snapshot"):
        pool.init_volume("work", config)


def test_pool_reports_size_and_usage(pool: ReflinkPool) -> None:
    assert pool.size is not None and pool.usage is not None
    assert 0 < pool.usage <= pool.size
    assert pool.usage_details() == {"data_size": pool.size, "data_usage": pool.usage}


def test_included_in_finds_the_enclosing_pool(tmp_path: Path) -> None:
    outer = ReflinkPool("varlibqubes", dir_path=str(tmp_path))
    inner = ReflinkPool("inner", dir_path=str(tmp_path / "nested"))
    other = ReflinkPool("other", dir_path=str(tmp_path.parent / "elsewhere"))
    assert inner.included_in([outer, inner, other]) is outer
    assert outer.included_in([outer, inner, other]) is None


def test_ephemeral_is_only_for_volatile_volumes(pool: ReflinkPool) -> None:
    pool.ephemeral_volatile = True
    volatile = pool.init_volume("work", VolumeConfig(name="volatile", rw=True, size=MiB))
    private = pool.init_volume("work", VolumeConfig(name="private", rw=True, save_on_stop=True))
    assert volatile.ephemeral and volatile.block_device().ephemeral  # type: ignore[union-attr]
    assert not private.ephemeral
    volatile.ephemeral = False
    assert not volatile.ephemeral and volatile.config.ephemeral is False
    with pytest.raises(QubesValueError):
        private.ephemeral = True
