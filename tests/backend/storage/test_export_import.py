"""Export and import streams, and cloning one volume into another."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from backend.errors import QubesNotImplementedError, StoragePoolException
from backend.storage.config import VolumeConfig
from backend.storage.reflink import ReflinkPool, ReflinkVolume

from .helpers import MiB, allocated, free_bytes, read_at, write_at

SIZE = 24 * MiB


def _origin(pool: ReflinkPool, qube: str, size: int = SIZE) -> ReflinkVolume:
    volume = pool.init_volume(
        qube, VolumeConfig(name="private", rw=True, save_on_stop=True, size=size)
    )
    assert isinstance(volume, ReflinkVolume)
    volume.create()
    return volume


def _fill(volume: ReflinkVolume) -> bytes:
    """Write random data in two places, leaving holes; return the whole image."""
    volume.start()
    write_at(volume.path, MiB, os.urandom(MiB))
    write_at(volume.path, 20 * MiB, os.urandom(3 * MiB))
    volume.stop()
    with volume.export() as stream:
        return stream.read()


def test_export_then_import_stream_round_trips_the_data(pool: ReflinkPool, pool_dir: Path) -> None:
    src = _fill(_origin(pool, "work"))
    assert len(src) == SIZE
    dst = _origin(pool, "restored", size=MiB)
    dst.import_stream(io.BytesIO(src), len(src))
    with dst.export() as stream:
        assert stream.read() == src
    assert dst.size == SIZE
    # zeros in the stream became holes, not allocated blocks
    assert allocated(str(pool_dir / "appvms/restored/private.img")) < 5 * MiB
    assert not (pool_dir / "appvms/restored/private-import.img").exists()


def test_import_keeps_the_replaced_data_as_a_revision(pool: ReflinkPool) -> None:
    volume = _origin(pool, "work")
    before = _fill(volume)
    volume.import_stream(io.BytesIO(b"x" * MiB), MiB)
    (revision,) = volume.revisions
    volume.revert(revision)
    with volume.export() as stream:
        assert stream.read() == before


def test_export_while_running_gives_the_data_from_before_the_start(
    pool: ReflinkPool,
) -> None:
    volume = _origin(pool, "work")
    before = _fill(volume)
    volume.start()
    write_at(volume.path, MiB, b"changed while running")
    with volume.export() as stream:
        assert stream.read() == before


def test_an_open_export_is_unaffected_by_a_commit(pool: ReflinkPool) -> None:
    volume = _origin(pool, "work")
    before = _fill(volume)
    volume.start()
    with volume.export() as stream:
        write_at(volume.path, MiB, b"committed meanwhile")
        volume.stop()
        assert stream.read() == before


def test_import_is_refused_for_volumes_that_are_not_save_on_stop(
    pool: ReflinkPool,
) -> None:
    source = _origin(pool, "tpl")
    snapshot = pool.init_volume(
        "work", VolumeConfig(name="root", rw=True, snap_on_start=True, source=source.vid)
    )
    volatile = pool.init_volume("work", VolumeConfig(name="volatile", rw=True, size=MiB))
    for volume in (snapshot, volatile):
        with pytest.raises(QubesNotImplementedError, match="save_on_stop"):
            volume.import_stream(io.BytesIO(b"data"), 4)
        with pytest.raises(QubesNotImplementedError):
            volume.import_data(4)


def test_import_is_refused_while_dirty_and_changes_nothing(pool: ReflinkPool) -> None:
    volume = _origin(pool, "work")
    before = _fill(volume)
    volume.start()
    with pytest.raises(StoragePoolException, match="in use"):
        volume.import_stream(io.BytesIO(b"new"), 3)
    volume.stop()
    with volume.export() as stream:
        assert stream.read() == before


def test_import_of_the_wrong_length_is_discarded(pool: ReflinkPool, pool_dir: Path) -> None:
    volume = _origin(pool, "work")
    before = _fill(volume)
    with pytest.raises(StoragePoolException, match="declared"):
        volume.import_stream(io.BytesIO(b"short"), MiB)
    with pytest.raises(StoragePoolException, match="larger"):
        volume.import_stream(io.BytesIO(b"long" * 10), 8)
    with volume.export() as stream:
        assert stream.read() == before
    assert not (pool_dir / "appvms/work/private-import.img").exists()
    volume.start()  # no import left in progress


def test_import_without_size_fills_the_current_size(pool: ReflinkPool) -> None:
    volume = _origin(pool, "work")
    volume.import_stream(io.BytesIO(b"boot sector"))
    with volume.export() as stream:
        data = stream.read()
    assert len(data) == SIZE
    assert data.startswith(b"boot sector")


def test_import_volume_clones_the_data(
    pool: ReflinkPool, pool_dir: Path, reflink_expected: bool
) -> None:
    src = _origin(pool, "work")
    data = _fill(src)
    dst = _origin(pool, "clone", size=MiB)
    free_before = free_bytes(str(pool_dir))
    dst.import_volume(src)
    with dst.export() as stream:
        assert stream.read() == data
    if reflink_expected:
        assert free_before - free_bytes(str(pool_dir)) < MiB  # extents shared
    assert read_at(str(pool_dir / "appvms/clone/private.img"), 20 * MiB, 4) == data[20 * MiB :][:4]


def test_import_volume_into_a_volatile_volume_is_a_no_op(pool: ReflinkPool) -> None:
    src = _origin(pool, "work")
    volatile = pool.init_volume("clone", VolumeConfig(name="volatile", rw=True, size=MiB))
    volatile.import_volume(src)
    assert not volatile.is_running()


def test_export_of_a_volatile_volume_is_refused(pool: ReflinkPool) -> None:
    volatile = pool.init_volume("work", VolumeConfig(name="volatile", rw=True, size=MiB))
    with pytest.raises(QubesNotImplementedError):
        with volatile.export():
            pass
