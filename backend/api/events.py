"""A queue that turns synchronous event callbacks into an event-stream handler's iterator.

An event-stream handler returns an async iterator of ``(subject, event, kwargs)``; the
server writes ``connection-established`` first, then every item, until the caller
hangs up, and then closes the iterator (``aclose``). Two ways to write one:

* a plain function that subscribes *before returning* and returns an
  :class:`EventStream`, so that no event fired after ``connection-established`` is
  missed::

      @method("admin.Events", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
      def events(call: Call) -> EventStream:
          stream = EventStream()
          stream.on_close(app.subscribe(stream.put))   # subscribe returns "unsubscribe"
          return stream

* an async generator, for streams that produce on their own schedule
  (``admin.vm.Stats``); its ``finally`` runs when the caller hangs up.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from backend.api.registry import Event

log = logging.getLogger("backend.api")


class EventStreamOverflow(Exception):
    """The caller reads too slowly; dropping it makes its client reconnect and reconcile."""


class EventStream:
    """Async iterator fed by :meth:`put` from the event loop's thread."""

    def __init__(self, *, max_pending: int = 10_000) -> None:
        self._pending: collections.deque[Event] = collections.deque()
        self._max_pending = max_pending
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._overflowed = False
        self._closed = False
        self._on_close: list[Callable[[], object]] = []

    def put(self, subject: object | None, event: str, /, **kwargs: object) -> None:
        """Queue one event; the signature of upstream's ``send_event`` callbacks."""
        if self._ended or self._closed:
            return
        if len(self._pending) >= self._max_pending:
            self._overflowed = True
        else:
            self._pending.append((subject, event, kwargs))
        self._wake()

    def end(self) -> None:
        """No more events: the iterator stops once the queued ones are taken."""
        self._ended = True
        self._wake()

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` (e.g. unsubscribe) when the stream is closed."""
        if self._closed:
            callback()
        else:
            self._on_close.append(callback)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._overflowed:
                raise EventStreamOverflow(f"more than {self._max_pending} events pending")
            if self._pending:
                return self._pending.popleft()
            if self._ended or self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        """Stop the stream and run the close callbacks once."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._wake()
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("event stream close callback %r failed", callback)
