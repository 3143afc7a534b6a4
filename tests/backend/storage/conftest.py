"""Fixtures: a file-reflink pool on the sparse-copy path and on a real reflink XFS."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.storage import fileops
from backend.storage.kernels import LinuxKernelPool
from backend.storage.reflink import ReflinkPool

XFS_IMAGE_SIZE = 1 << 30  # sparse backing file; XFS needs at least 300 MiB


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def _unmount(mount_point: Path) -> None:
    """Unmount, falling back to a lazy unmount if something still holds it."""
    if _run("umount", str(mount_point)).returncode != 0:
        _run("umount", "-l", str(mount_point))


@pytest.fixture(scope="session")
def xfs_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small XFS with reflink=1 in a file, loop-mounted for this test session."""
    if os.geteuid() != 0:
        pytest.skip("reflink path: loop-mounting an XFS image needs root")
    mkfs = shutil.which("mkfs.xfs")
    if mkfs is None:
        pytest.skip("reflink path: mkfs.xfs (xfsprogs) is not installed")
    base = tmp_path_factory.mktemp("xfs")
    image = base / "reflink-xfs.img"
    mount_point = base / "mnt"
    mount_point.mkdir()
    with open(image, "wb") as f:
        f.truncate(XFS_IMAGE_SIZE)
    made = _run(mkfs, "-q", "-m", "reflink=1", str(image))
    if made.returncode != 0:
        pytest.skip(f"reflink path: mkfs.xfs -m reflink=1 failed: {made.stderr.strip()}")
    mounted = _run("mount", "-o", "loop", str(image), str(mount_point))
    if mounted.returncode != 0:
        pytest.skip(f"reflink path: cannot loop-mount the XFS image: {mounted.stderr.strip()}")
    try:
        if not fileops.reflink_supported(str(mount_point)):
            pytest.skip("reflink path: the mounted XFS does not accept FICLONE")
        yield mount_point
    finally:
        _unmount(mount_point)
        image.unlink(missing_ok=True)


def _no_reflink(dst_fd: int, src_fd: int) -> None:
    raise OSError(errno.EOPNOTSUPP, "reflink disabled for the sparse-copy tests")


@pytest.fixture(params=["sparse", "reflink"])
def pool_dir(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A pool directory, once on the sparse-copy path, once on a real reflink fs."""
    if request.param == "reflink":
        mount_point: Path = request.getfixturevalue("xfs_mount")
        directory = mount_point / f"pool-{uuid.uuid4().hex}"
        directory.mkdir()
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    else:
        if fileops.reflink_supported(str(tmp_path)):
            # tmp is on a reflink filesystem: force the fallback so it is tested
            monkeypatch.setattr(fileops, "ficlone", _no_reflink)
        directory = tmp_path / "pool"
        directory.mkdir()
        yield directory


@pytest.fixture
def reflink_expected(request: pytest.FixtureRequest, pool_dir: Path) -> bool:
    return bool(request.node.callspec.params["pool_dir"] == "reflink")


@pytest.fixture
def pool(pool_dir: Path, reflink_expected: bool) -> ReflinkPool:
    pool = ReflinkPool("default", dir_path=str(pool_dir), setup_check=False)
    pool.setup()
    assert pool.reflink is reflink_expected
    return pool


@pytest.fixture
def kernel_pool(tmp_path: Path) -> LinuxKernelPool:
    directory = tmp_path / "vm-kernels"
    (directory / "6.6.1").mkdir(parents=True)
    (directory / "6.6.1" / "vmlinuz").write_bytes(b"kernel")
    pool = LinuxKernelPool("linux-kernel", dir_path=str(directory))
    pool.setup()
    return pool
