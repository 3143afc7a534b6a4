"""The daemon's one writer: a thread that saves the newest submitted document.

Callers hand over immutable snapshots in the order they were taken. While a save is
running, further submissions wait together and only the newest of them is written next
(group commit): each future resolves once a document at least as new as its own is
durably on disk, or carries the error that prevented it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Self

from backend.store.document import Core3Document
from backend.store.store import Store

log = logging.getLogger("backend.store")


class StoreWriter:
    """Owns the writes of one :class:`Store`; serialisation happens on its thread."""

    def __init__(self, store: Store, *, name: str = "store-writer") -> None:
        self._store = store
        self._cond = threading.Condition()
        self._pending: Core3Document | None = None
        self._waiting: list[Future[None]] = []
        self._closing = False
        self._writes = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def writes(self) -> int:
        """How many documents have been written so far (successfully)."""
        return self._writes

    def submit(self, doc: Core3Document) -> Future[None]:
        """Queue ``doc``, replacing any older document not yet being written."""
        future: Future[None] = Future()
        with self._cond:
            if self._closing:
                raise RuntimeError("the store writer is closed")
            self._pending = doc
            self._waiting.append(future)
            self._cond.notify()
        return future

    async def commit(self, doc: Core3Document) -> None:
        """Submit ``doc`` and wait, without blocking the event loop, until it is saved."""
        await asyncio.wrap_future(self.submit(doc))

    def close(self) -> None:
        """Write what is still pending, then stop the thread. Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closing:
                    self._cond.wait()
                if self._pending is None:
                    return
                doc, waiting = self._pending, self._waiting
                self._pending, self._waiting = None, []
            # once running, a future can no longer be cancelled; a cancelled one still
            # gets its document written, which is the newest state anyway
            live = [future for future in waiting if future.set_running_or_notify_cancel()]
            try:
                self._store.save(doc)
            except BaseException as exc:
                log.error("saving %s failed: %s", self._store.path, exc)
                for future in live:
                    future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                self._writes += 1
                for future in live:
                    future.set_result(None)
