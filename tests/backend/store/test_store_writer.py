"""The group-commit writer: coalescing, durability of acknowledged documents, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_samples import small_document, with_dom0_feature

from backend.errors import StoreError
from backend.store.core3 import to_xml
from backend.store.document import Core3Document
from backend.store.store import Store
from backend.store.writer import StoreWriter

WAIT = 30  # seconds; only reached when something is broken


class GatedStore(Store):
    """Holds the first save until released, so that submissions pile up meanwhile."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.saved: list[Core3Document] = []

    def save(self, doc: Core3Document) -> None:
        self.entered.set()
        assert self.release.wait(WAIT)
        super().save(doc)
        self.saved.append(doc)


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[GatedStore]:
    with GatedStore(tmp_path / "qubes.xml") as store:
        store.load()
        yield store


def numbered(n: int) -> Core3Document:
    return with_dom0_feature(small_document(), "counter", str(n))


def test_submissions_during_a_write_are_coalesced_and_the_last_wins(gated: GatedStore) -> None:
    with StoreWriter(gated) as writer:
        first = writer.submit(numbered(0))
        assert gated.entered.wait(WAIT)
        later = [writer.submit(numbered(n)) for n in range(1, 51)]
        assert not first.done() and not any(f.done() for f in later)
        gated.release.set()
        for future in [first, *later]:
            assert future.result(WAIT) is None
        assert writer.writes == 2
    assert gated.saved == [numbered(0), numbered(50)]
    assert gated.path.read_bytes() == to_xml(numbered(50))


def test_close_flushes_what_is_pending(gated: GatedStore) -> None:
    writer = StoreWriter(gated)
    writer.submit(numbered(1))
    assert gated.entered.wait(WAIT)
    pending = writer.submit(numbered(2))
    gated.release.set()
    writer.close()
    assert pending.done() and pending.exception() is None
    assert gated.path.read_bytes() == to_xml(numbered(2))
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(numbered(3))


def test_errors_reach_the_futures_and_the_writer_carries_on(tmp_path: Path) -> None:
    with Store(tmp_path / "qubes.xml") as store, StoreWriter(store) as writer:
        store.load()
        doc = small_document()
        unstorable = dataclasses.replace(doc, properties={"default_kernel": None})
        with pytest.raises(ValueError, match="default_kernel"):
            writer.submit(unstorable).result(WAIT)
        writer.submit(doc).result(WAIT)
        assert writer.writes == 1
        assert store.path.read_bytes() == to_xml(doc)


def test_a_store_that_failed_to_load_fails_every_submission(tmp_path: Path) -> None:
    path = tmp_path / "qubes.xml"
    path.write_bytes(b"<qubes><domains>")
    with Store(path) as store, StoreWriter(store) as writer:
        with pytest.raises(StoreError):
            store.load()
        with pytest.raises(StoreError, match="failed to load"):
            writer.submit(small_document()).result(WAIT)
    assert path.read_bytes() == b"<qubes><domains>"


def test_commit_awaits_the_write_from_asyncio(tmp_path: Path) -> None:
    with Store(tmp_path / "qubes.xml") as store, StoreWriter(store) as writer:
        store.load()

        async def main() -> None:
            await asyncio.gather(*(writer.commit(numbered(n)) for n in range(5)))

        asyncio.run(main())
        assert store.path.read_bytes() == to_xml(numbered(4))
