"""The qubes.xml file on disk: atomic saves, the previous copy, refusals and the lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_samples import REPO_ROOT, sample_bytes, small_document, with_dom0_feature

from backend.errors import StoreError
from backend.store.core3 import to_xml
from backend.store.store import Store, StoreBusyError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "qubes.xml"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store(path) as opened:
        yield opened


def test_load_returns_none_when_there_is_no_file_yet(store: Store, path: Path) -> None:
    assert store.load() is None
    assert not path.exists()


def test_saved_document_loads_back_from_a_0660_file(store: Store, path: Path) -> None:
    store.load()
    doc = small_document()
    umask = os.umask(0o077)
    try:
        store.save(doc)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    assert path.read_bytes() == to_xml(doc)
    store.close()
    with Store(path) as again:
        assert again.load() == doc
    assert sorted(p.name for p in path.parent.iterdir()) == ["qubes.xml", "qubes.xml.lock"]


def test_save_keeps_the_previous_document(store: Store, path: Path) -> None:
    store.load()
    first = small_document()
    second = with_dom0_feature(first, "counter", "2")
    third = with_dom0_feature(first, "counter", "3")
    store.save(first)
    store.save(second)
    assert path.with_name("qubes.xml.prev").read_bytes() == to_xml(first)
    store.save(third)
    assert path.with_name("qubes.xml.prev").read_bytes() == to_xml(second)
    assert path.read_bytes() == to_xml(third)
    assert not path.with_name("qubes.xml.prev.tmp").exists()


def test_previous_copy_is_kept_after_a_save_that_failed_late(store: Store, path: Path) -> None:
    store.load()
    first, second = small_document(), with_dom0_feature(small_document(), "n", "2")
    store.save(first)
    prev = path.with_name("qubes.xml.prev")
    os.link(path, prev)  # as left by a save that linked .prev, then failed to rename
    store.save(second)
    assert prev.read_bytes() == to_xml(first) and path.read_bytes() == to_xml(second)
    assert not path.with_name("qubes.xml.prev.tmp").exists()


def test_store_in_a_missing_directory_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the lock file") as caught:
        Store(tmp_path / "missing" / "qubes.xml")
    assert str(tmp_path / "missing" / "qubes.xml") in str(caught.value)


def test_sample_file_loads_and_saves_unchanged(store: Store, path: Path) -> None:
    path.write_bytes(sample_bytes())
    doc = store.load()
    assert doc is not None
    store.save(doc)
    assert path.read_bytes() == sample_bytes()


DAMAGED = {
    "truncated": sample_bytes()[: len(sample_bytes()) // 2],
    "garbage": os.urandom(64) + b"<<<",
    "wrong root": b"<domains/>\n",
    "duplicate qid": sample_bytes()
    .replace(b'"qid">8<', b'"qid">7<')
    .replace(b'"domain-8"', b'"domain-7"'),
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_file_is_refused_and_left_untouched(
    store: Store, path: Path, content: bytes
) -> None:
    path.write_bytes(content)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    with pytest.raises(StoreError) as caught:
        store.load()
    assert str(path) in str(caught.value)
    with pytest.raises(StoreError, match="refusing to save over a file that failed to load"):
        store.save(small_document())
    after = path.stat()
    assert path.read_bytes() == content
    assert (after.st_mtime_ns, after.st_ino, after.st_size) == (
        before.st_mtime_ns,
        before.st_ino,
        before.st_size,
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["qubes.xml", "qubes.xml.lock"]


def test_unreadable_file_is_refused(store: Store, path: Path) -> None:
    path.mkdir()  # unreadable even for root, unlike a chmod 000 file
    with pytest.raises(StoreError, match="cannot be read: Is a directory"):
        store.load()
    with pytest.raises(StoreError, match="refusing"):
        store.save(small_document())
    assert path.is_dir()


def test_file_never_loaded_is_not_saved_over(store: Store, path: Path) -> None:
    path.write_bytes(sample_bytes())
    with pytest.raises(StoreError, match="never loaded"):
        store.save(small_document())
    assert path.read_bytes() == sample_bytes()


def test_file_changed_behind_our_back_is_not_saved_over(store: Store, path: Path) -> None:
    store.load()
    store.save(small_document())
    path.write_bytes(sample_bytes())  # someone else's write: new inode size and mtime
    with pytest.raises(StoreError, match="modified by someone else"):
        store.save(small_document())
    assert path.read_bytes() == sample_bytes()


def test_temporaries_of_an_interrupted_save_are_removed_on_load(store: Store, path: Path) -> None:
    stale = path.with_name(".qubes.xml.abc123.tmp")
    stale.write_bytes(b"<qub")
    assert store.load() is None
    assert not stale.exists()


def test_second_store_in_the_same_process_is_refused(store: Store, path: Path) -> None:
    alias = path.parent / "." / "qubes.xml"
    with pytest.raises(StoreBusyError) as caught:
        Store(alias)
    assert "qubes.xml" in str(caught.value)
    store.close()
    with Store(alias) as second:
        assert second.load() is None


LOCK_PROBE = """
import sys
from backend.store.store import Store
from backend.errors import StoreError
try:
    Store(sys.argv[1])
except StoreError as exc:
    print(type(exc).__name__, exc)
else:
    print("acquired")
"""


def probe_lock(path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", LOCK_PROBE, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_second_store_in_another_process_is_refused_naming_the_file(
    store: Store, path: Path
) -> None:
    answer = probe_lock(path)
    assert answer.startswith(f"StoreBusyError {path}: is in use by another process")
    assert "qubes.xml.lock" in answer
    store.close()
    assert probe_lock(path) == "acquired"
