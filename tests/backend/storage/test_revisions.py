"""Commits, revisions, pruning, revert and snapshots-disabled volumes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from backend.errors import QubesNotImplementedError, QubesValueError, StoragePoolException
from backend.storage.config import VolumeConfig
from backend.storage.reflink import ReflinkPool, ReflinkVolume

from .helpers import MiB, read_at, write_at

REVISION_FILE = re.compile(r"private\.img\.[1-9][0-9]*@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _private(pool: ReflinkPool, keep: int | None = None) -> ReflinkVolume:
    config = VolumeConfig(
        name="private", rw=True, save_on_stop=True, size=16 * MiB, revisions_to_keep=keep
    )
    volume = pool.init_volume("work", config)
    assert isinstance(volume, ReflinkVolume)
    volume.create()
    return volume


def _session(volume: ReflinkVolume, data: bytes) -> None:
    """One run of the qube that writes ``data`` at the start of the volume."""
    volume.start()
    write_at(volume.path, 0, data)
    volume.stop()


def _committed(volume: ReflinkVolume, length: int = 2) -> bytes:
    with volume.export() as stream:
        return stream.read(length)


def test_each_commit_keeps_the_previous_state_as_a_revision(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=1)
    assert volume.revisions == {}
    _session(volume, b"v1")
    assert list(volume.revisions) == ["1"]  # the empty image it started from
    _session(volume, b"v2")
    assert list(volume.revisions) == ["2"]  # pruned to revisions_to_keep=1
    assert _committed(volume) == b"v2"


def test_revisions_are_pruned_to_revisions_to_keep_oldest_first(
    pool: ReflinkPool, pool_dir: Path
) -> None:
    volume = _private(pool, keep=2)
    for data in (b"v1", b"v2", b"v3", b"v4"):
        _session(volume, data)
    assert list(volume.revisions) == ["3", "4"]
    for stamp in volume.revisions.values():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stamp)
    names = sorted(p.name for p in (pool_dir / "appvms/work").iterdir())
    revision_files = [n for n in names if REVISION_FILE.fullmatch(n)]
    assert len(revision_files) == 2
    assert "private.img" in names


def test_revisions_to_keep_defaults_to_the_pools_value(pool: ReflinkPool) -> None:
    pool.revisions_to_keep = 3
    volume = _private(pool)
    assert volume.revisions_to_keep == 3
    assert volume.config.revisions_to_keep == 3


def test_zero_revisions_to_keep_keeps_none(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=0)
    _session(volume, b"v1")
    _session(volume, b"v2")
    assert volume.revisions == {}


def test_revert_restores_the_previous_revision_and_can_be_undone(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=1)
    _session(volume, b"v1")
    _session(volume, b"v2")
    volume.revert()
    assert _committed(volume) == b"v1"
    # the replaced data became the newest revision, so reverting again undoes it
    assert len(volume.revisions) == 1
    volume.revert()
    assert _committed(volume) == b"v2"


def test_revert_to_a_named_revision(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=3)
    for data in (b"v1", b"v2", b"v3"):
        _session(volume, data)
    oldest, middle, newest = list(volume.revisions)
    volume.revert(middle)
    assert _committed(volume) == b"v1"
    assert middle not in volume.revisions
    with pytest.raises(StoragePoolException, match="no revision '99'"):
        volume.revert("99")
    with pytest.raises(QubesValueError):
        volume.revert("../../etc/passwd")


def test_revert_is_refused_while_dirty_and_changes_nothing(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=1)
    _session(volume, b"v1")
    _session(volume, b"v2")
    volume.start()
    revisions = volume.revisions
    with pytest.raises(StoragePoolException, match="in use"):
        volume.revert()
    assert volume.revisions == revisions
    volume.stop()


def test_revert_without_revisions_is_refused(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=0)
    with pytest.raises(StoragePoolException, match="no revisions"):
        volume.revert()


def test_snapshots_disabled_writes_straight_into_the_committed_image(
    pool: ReflinkPool, pool_dir: Path
) -> None:
    volume = _private(pool, keep=2)
    _session(volume, b"v1")
    _session(volume, b"v2")
    assert volume.revisions
    clean = pool_dir / "appvms/work/private.img"
    inode = clean.stat().st_ino

    volume.revisions_to_keep = -1
    assert volume.snapshots_disabled
    volume.start()
    assert volume.revisions == {}  # all revisions dropped
    assert not clean.exists()
    assert os.stat(volume.path).st_ino == inode  # renamed, not copied
    with pytest.raises(StoragePoolException, match="revisions_to_keep=-1"):
        with volume.export():
            pass
    with pytest.raises(StoragePoolException, match="in use"):
        volume.revisions_to_keep = 1
    write_at(volume.path, 0, b"v3")
    volume.stop()
    assert volume.revisions == {}
    assert _committed(volume) == b"v3"
    assert clean.stat().st_ino == inode


def test_snapshots_disabled_only_for_origin_volumes(pool: ReflinkPool) -> None:
    volatile = pool.init_volume("work", VolumeConfig(name="volatile", rw=True, size=MiB))
    with pytest.raises(QubesValueError, match="save_on_stop"):
        volatile.revisions_to_keep = -1
    with pytest.raises(QubesValueError):
        pool.init_volume(
            "work", VolumeConfig(name="volatile", rw=True, size=MiB, revisions_to_keep=-1)
        )
    # a pool default of -1 does not apply to volumes without a committed image
    pool.revisions_to_keep = -1
    assert pool.init_volume("other", VolumeConfig(name="volatile", size=MiB)).revisions_to_keep == 0


def test_revert_of_a_volatile_volume_is_not_supported(pool: ReflinkPool) -> None:
    volatile = pool.init_volume("work", VolumeConfig(name="volatile", rw=True, size=MiB))
    with pytest.raises(QubesNotImplementedError):
        volatile.revert()


def test_revision_keeps_the_superseded_data_after_commit(pool: ReflinkPool) -> None:
    volume = _private(pool, keep=1)
    _session(volume, b"v1")
    _session(volume, b"v2")
    (revision_path,) = [p for p in Path(volume.path).parent.iterdir() if "@" in p.name]
    assert read_at(str(revision_path), 0, 2) == b"v1"
