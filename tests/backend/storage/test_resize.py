"""Resizing: only growing, never allocating the new space."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.errors import QubesValueError, StoragePoolException
from backend.storage.config import VolumeConfig
from backend.storage.reflink import ReflinkPool, ReflinkVolume

from .helpers import MiB, allocated, read_at, write_at

DATA = os.urandom(MiB)


def _private(pool: ReflinkPool, keep: int = 1) -> ReflinkVolume:
    volume = pool.init_volume(
        "work",
        VolumeConfig(
            name="private", rw=True, save_on_stop=True, size=32 * MiB, revisions_to_keep=keep
        ),
    )
    assert isinstance(volume, ReflinkVolume)
    volume.create()
    volume.start()
    write_at(volume.path, 0, DATA)
    volume.stop()
    return volume


def test_shrinking_is_refused_naming_both_sizes_and_changes_nothing(
    pool: ReflinkPool, pool_dir: Path
) -> None:
    volume = _private(pool)
    clean = pool_dir / "appvms/work/private.img"
    before = clean.stat()
    with pytest.raises(QubesValueError, match=f"from {32 * MiB} bytes to {16 * MiB} bytes"):
        volume.resize(16 * MiB)
    after = clean.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    assert volume.size == 32 * MiB
    assert read_at(str(clean), 0, len(DATA)) == DATA


def test_growing_a_halted_volume_keeps_data_and_stays_sparse(
    pool: ReflinkPool, pool_dir: Path
) -> None:
    volume = _private(pool, keep=0)  # no revision shares the image: grown in place
    clean = pool_dir / "appvms/work/private.img"
    used = allocated(str(clean))
    volume.resize(4096 * MiB)
    assert volume.size == 4096 * MiB
    assert clean.stat().st_size == 4096 * MiB
    assert allocated(str(clean)) <= used + 64 * 1024
    assert read_at(str(clean), 0, len(DATA)) == DATA
    assert volume.config.size == 4096 * MiB
    volume.start()
    assert os.path.getsize(volume.path) == 4096 * MiB


def test_growing_leaves_revisions_at_their_old_size(pool: ReflinkPool, pool_dir: Path) -> None:
    volume = _private(pool, keep=1)
    (revision,) = [p for p in (pool_dir / "appvms/work").iterdir() if "@" in p.name]
    # a second name for the clean image, as a running snapshot of it would hold
    os.link(pool_dir / "appvms/work/private.img", pool_dir / "appvms/work/extra-link")
    volume.resize(64 * MiB)
    assert revision.stat().st_size == 32 * MiB
    assert (pool_dir / "appvms/work/extra-link").stat().st_size == 32 * MiB
    clean = pool_dir / "appvms/work/private.img"
    assert clean.stat().st_size == 64 * MiB
    assert read_at(str(clean), 0, len(DATA)) == DATA
    assert allocated(str(clean)) < 2 * MiB


def test_growing_a_running_volume_is_committed_at_stop(pool: ReflinkPool) -> None:
    volume = _private(pool)
    volume.start()
    volume.resize(48 * MiB)
    assert os.path.getsize(volume.path) == 48 * MiB
    volume.stop()
    assert volume.size == 48 * MiB
    with volume.export() as stream:
        assert os.fstat(stream.fileno()).st_size == 48 * MiB


def test_growing_a_snapshot_volume_applies_at_its_next_start(pool: ReflinkPool) -> None:
    source = _private(pool)
    snapshot = pool.init_volume(
        "app",
        VolumeConfig(name="private", rw=True, snap_on_start=True, source=source.vid),
    )
    assert snapshot.size == 32 * MiB  # from the source
    snapshot.resize(40 * MiB)
    snapshot.start()
    assert os.path.getsize(str(snapshot.path)) == 40 * MiB
    assert read_at(snapshot.path, 0, len(DATA)) == DATA


def test_resizing_a_read_only_volume_is_refused(pool: ReflinkPool) -> None:
    volume = pool.init_volume("work", VolumeConfig(name="volatile", rw=False, size=MiB))
    with pytest.raises(StoragePoolException, match="read-only"):
        volume.resize(2 * MiB)


def test_resizing_to_the_same_size_is_a_no_op(pool: ReflinkPool, pool_dir: Path) -> None:
    volume = _private(pool)
    inode = (pool_dir / "appvms/work/private.img").stat().st_ino
    volume.resize(32 * MiB)
    assert (pool_dir / "appvms/work/private.img").stat().st_ino == inode
