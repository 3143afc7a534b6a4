"""AppVM and DispVM snapshots of their templates, on the sparse and the reflink path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.errors import StoragePoolException
from backend.storage.defaults import VMClass, default_volume_configs
from backend.storage.kernels import LinuxKernelPool
from backend.storage.reflink import ReflinkPool
from backend.storage.vmstorage import VMStorage

from .helpers import GiB, MiB, allocated, free_bytes, qube, read_at, write_at

POOLS = {"root": "default", "private": "default", "volatile": "default", "kernel": "linux-kernel"}
OLD = b"old template data".ljust(4096, b".")
NEW = b"new template data".ljust(4096, b"!")


def _template(pool: ReflinkPool, kernel_pool: LinuxKernelPool, root_size: int) -> VMStorage:
    return qube("fedora", VMClass.TEMPLATE, pool, kernel_pool, root_size=root_size)


def _commit_root(template: VMStorage, offset: int, data: bytes) -> None:
    """Run the template, write into its session image, shut it down."""
    template.start()
    write_at(template.get_volume("root").path, offset, data)
    template.stop()


def test_appvm_root_allocates_no_data_blocks_of_its_own(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path, reflink_expected: bool
) -> None:
    template = _template(pool, kernel_pool, root_size=10 * GiB)
    data = os.urandom(8 * MiB)
    template.start()
    write_at(template.get_volume("root").path, 0, data)
    write_at(template.get_volume("root").path, 5 * GiB, data)
    template.stop()
    template_root = pool_dir / "vm-templates/fedora/root.img"
    assert allocated(str(template_root)) >= 16 * MiB

    free_before_create = free_bytes(str(pool_dir))
    appvm = qube("work", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    root = appvm.get_volume("root")
    assert root.size == 10 * GiB
    assert not (pool_dir / "appvms/work/root.img").exists()
    assert not (pool_dir / "appvms/work/root-dirty.img").exists()

    free_before_start = free_bytes(str(pool_dir))
    appvm.start()
    own = pool_dir / "appvms/work/root.img"
    assert own.stat().st_ino == template_root.stat().st_ino  # a hard link, no data
    session = Path(str(root.path))
    assert session.stat().st_size == 10 * GiB
    if reflink_expected:
        # the session image shares the template's extents: the filesystem barely moves
        assert free_before_create - free_bytes(str(pool_dir)) < 2 * MiB
        assert free_before_start - free_bytes(str(pool_dir)) < 2 * MiB
    else:
        # a sparse copy: only the 16 MiB of data, never the 10 GiB of holes
        assert 16 * MiB <= allocated(str(session)) < 17 * MiB
    assert read_at(root.path, 5 * GiB, len(data)) == data


def test_template_changes_reach_appvms_only_at_their_next_start(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)

    template.start()  # template running: its changes live in its session
    write_at(template.get_volume("root").path, 0, NEW)
    early = qube("early", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    early.start()
    assert read_at(early.get_volume("root").path, 0, len(OLD)) == OLD
    assert early.outdated_volumes() == []
    template.stop()  # commit

    assert early.outdated_volumes() == ["root"]
    assert early.get_volume("root").is_outdated()
    assert read_at(early.get_volume("root").path, 0, len(OLD)) == OLD

    late = qube("late", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    late.start()
    assert read_at(late.get_volume("root").path, 0, len(NEW)) == NEW
    assert late.outdated_volumes() == []

    early.stop()
    assert early.outdated_volumes() == []  # halted qubes are never outdated
    early.start()
    assert read_at(early.get_volume("root").path, 0, len(NEW)) == NEW
    assert early.outdated_volumes() == []


def test_appvm_writes_to_root_are_discarded_and_private_is_kept(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    appvm = qube("work", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    appvm.start()
    write_at(appvm.get_volume("root").path, 0, b"scribble")
    write_at(appvm.get_volume("private").path, 0, b"my documents")
    appvm.stop()
    appvm.start()
    assert read_at(appvm.get_volume("root").path, 0, len(OLD)) == OLD
    assert read_at(appvm.get_volume("private").path, 0, 12) == b"my documents"
    # and the template never saw the AppVM's write
    with template.get_volume("root").export() as stream:
        assert stream.read(len(OLD)) == OLD


def test_dispvm_volumes_vanish_when_it_stops(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    dvm = qube("default-dvm", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    dvm.start()
    write_at(dvm.get_volume("private").path, 0, b"dvm settings")
    dvm.stop()

    disp = qube(
        "disp42", VMClass.DISP, pool, kernel_pool, chain=[dvm.configs(), template.configs()]
    )
    assert disp.get_volume("root").source == "vm-templates/fedora/root"
    assert disp.get_volume("private").source == "appvms/default-dvm/private"
    disp.start()
    assert read_at(disp.get_volume("root").path, 0, len(OLD)) == OLD
    assert read_at(disp.get_volume("private").path, 0, 12) == b"dvm settings"
    write_at(disp.get_volume("private").path, 0, b"disposable!!")
    assert list((pool_dir / "appvms/disp42").glob("*.img"))

    disp.stop()
    assert list((pool_dir / "appvms/disp42").glob("*")) == []
    assert disp.usage() == {"root": 0, "private": 0, "volatile": 0, "kernel": 0}
    dvm.start()
    assert read_at(dvm.get_volume("private").path, 0, 12) == b"dvm settings"
    disp.remove()
    assert not (pool_dir / "appvms/disp42").exists()


def test_volatile_is_fresh_and_empty_at_every_start(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    volatile = template.get_volume("volatile")
    template.start()
    write_at(volatile.path, 0, b"swap")
    template.stop()
    assert not os.path.exists(str(volatile.path))
    template.start()
    assert os.path.getsize(str(volatile.path)) == 64 * MiB
    assert allocated(volatile.path) == 0
    assert read_at(volatile.path, 0, 4) == bytes(4)


def test_unclean_stop_leaves_a_dirty_session_that_the_next_start_resumes(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    template.start()
    write_at(template.get_volume("private").path, 0, b"unsaved work")
    # the daemon dies: a new process builds new pool and volume objects
    reloaded_pool = ReflinkPool("default", dir_path=str(pool_dir), setup_check=False)
    reloaded = VMStorage(
        "fedora",
        "vm-templates",
        {"default": reloaded_pool, "linux-kernel": kernel_pool},
        template.configs(),
    )
    private = reloaded.get_volume("private")
    assert private.is_dirty()
    reloaded.start()
    assert read_at(private.path, 0, 12) == b"unsaved work"
    reloaded.stop()
    assert not private.is_dirty()
    with private.export() as stream:
        assert stream.read(12) == b"unsaved work"


def test_failed_start_rolls_back_without_a_revision(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    revisions = template.get_volume("root").revisions
    volatile = template.get_volume("volatile")

    def broken_start() -> None:
        raise StoragePoolException("disk on fire")

    monkeypatch.setattr(volatile, "start", broken_start)
    with pytest.raises(StoragePoolException, match="disk on fire"):
        template.start()
    assert not template.is_running()
    assert template.get_volume("root").revisions == revisions


def test_leftover_temporaries_are_removed_at_start(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    leftovers = [
        pool_dir / "vm-templates/fedora/root.img~1a2b3c",
        pool_dir / "vm-templates/fedora/root-dirty.img~ffff",
        pool_dir / "vm-templates/fedora/root.img.3@2024-01-01T00:00:00Z~abc",
    ]
    for path in leftovers:
        path.write_bytes(b"torn copy")
    keep = pool_dir / "vm-templates/fedora/private.img"
    template.start()
    assert [path.exists() for path in leftovers] == [False, False, False]
    assert keep.exists()


def test_snapshot_refused_while_source_runs_with_snapshots_disabled(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    template.get_volume("root").revisions_to_keep = -1
    appvm = qube("work", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    template.start()
    with pytest.raises(StoragePoolException, match="revisions_to_keep=-1"):
        appvm.start()
    assert not appvm.is_running()
    template.stop()
    appvm.start()
    assert appvm.is_running()


def test_missing_source_image_fails_verify_with_its_path(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    appvm = qube("work", VMClass.APP, pool, kernel_pool, chain=[template.configs()])
    (pool_dir / "vm-templates/fedora/root.img").unlink()
    with pytest.raises(StoragePoolException, match="vm-templates/fedora/root.img"):
        appvm.verify()
    with pytest.raises(StoragePoolException):
        appvm.start()
    assert not appvm.is_running()


def test_block_devices_in_disk_order(pool: ReflinkPool, kernel_pool: LinuxKernelPool) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    devices = template.block_devices()
    assert [d.name for d in devices] == ["root", "private", "volatile"]  # no kernel set
    assert devices[0].path.endswith("vm-templates/fedora/root-dirty.img")
    assert all(d.rw and d.kind == "file" and d.devtype == "disk" for d in devices)


def test_precache_is_kept_only_where_copies_are_cheap(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path, reflink_expected: bool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    precache = pool_dir / "vm-templates/fedora/root-precache.img"
    assert precache.exists() is reflink_expected
    if reflink_expected:
        inode = precache.stat().st_ino
        template.start()
        assert os.stat(str(template.get_volume("root").path)).st_ino == inode  # renamed
        assert not precache.exists()
        template.stop()
        assert precache.exists()


def test_a_stale_precache_is_never_used(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool, pool_dir: Path
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    # a precache that does not match the clean image (e.g. left by a crash)
    precache = pool_dir / "vm-templates/fedora/root-precache.img"
    precache.write_bytes(b"stale".ljust(4096, b"?"))
    template.start()
    assert read_at(template.get_volume("root").path, 0, len(OLD)) == OLD


def test_switching_template_reinitialises_the_snapshot(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    fedora = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(fedora, 0, OLD)
    debian = qube("debian", VMClass.TEMPLATE, pool, kernel_pool, root_size=64 * MiB)
    _commit_root(debian, 0, NEW)
    appvm = qube("work", VMClass.APP, pool, kernel_pool, chain=[fedora.configs()])
    new_root = default_volume_configs(VMClass.APP, pools=POOLS, template_chain=[debian.configs()])[
        "root"
    ]
    appvm.start()
    with pytest.raises(StoragePoolException, match="in use"):
        appvm.set_volume_config(new_root)
    appvm.stop()
    appvm.set_volume_config(new_root)
    assert appvm.get_volume("root").source == "vm-templates/debian/root"
    appvm.start()
    assert read_at(appvm.get_volume("root").path, 0, len(NEW)) == NEW


def test_clone_copies_committed_data_of_every_origin_volume(
    pool: ReflinkPool, kernel_pool: LinuxKernelPool
) -> None:
    template = _template(pool, kernel_pool, root_size=64 * MiB)
    _commit_root(template, 0, OLD)
    template.start()
    write_at(template.get_volume("private").path, 0, b"settings")
    template.stop()
    clone = qube("fedora-clone", VMClass.TEMPLATE, pool, kernel_pool, root_size=MiB)
    clone.import_from(template)
    clone.start()
    assert read_at(clone.get_volume("root").path, 0, len(OLD)) == OLD
    assert read_at(clone.get_volume("private").path, 0, 8) == b"settings"
    assert clone.get_volume("root").size == 64 * MiB
