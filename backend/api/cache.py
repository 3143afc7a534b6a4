"""The response cache: encoded answers of read-only calls, kept until the model changes.

Most calls are reads that the GUIs repeat far more often than anything changes, and
on one-call-per-connection sockets the parsing, lookups and formatting of a read cost
more than its handler. So the answer of a method declared with ``cached_while`` is
kept, encoded, under the exact bytes of its request, and an identical request is
answered from memory without being parsed or dispatched again (it is still counted).

When an answer is dropped:

* on every event of the model (``follow`` subscribes :meth:`ResponseCache.invalidate`
  to the bus): every change of a property (computed defaults included, which the model
  announces as ``property-reset``), feature, tag, device, power state, qube or pool
  fires one;
* when a handler changes something answers depend on without an event (labels): it
  calls :meth:`ResponseCache.invalidate` itself;
* when ``cached_while(dest)``, recorded with the answer, has changed: the power state
  and runtime facts of qubes change in places that fire no event, so methods whose
  answers show them compare those on every hit.

Only calls from the AdminVM are kept (the policy decides every other caller's calls,
and may change on its own), only answers of handlers that returned at once and fired
no event meanwhile (``generation``), and nothing at all until ``follow`` has been
called: without events, nothing could ever tell an answer is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

#: what a method declares: dest -> a value that stays equal while its answers hold
Guard = Callable[[Any], object]

MAX_ENTRIES = 100_000
MAX_BYTES = 64 * 1024 * 1024


class Entry(NamedTuple):
    """One kept answer."""

    reply: bytes
    #: the method name calls are counted under (``Match.counter_key``)
    counter_key: str
    guard: Guard
    dest: Any
    state: object


class ResponseCache:
    """Request bytes -> encoded answer, emptied by every event."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._entries: dict[bytes, Entry] = {}
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        #: bumped by every invalidation: an answer computed across one is not kept
        self.generation = 0
        self.active = False

    def __len__(self) -> int:
        return len(self._entries)

    def follow(self, subscribe: Callable[[Callable[..., None]], object]) -> None:
        """Start keeping answers, dropped on every event ``subscribe`` delivers.

        ``subscribe(handler)`` registers ``handler`` for every event of the model
        (``EventBus.subscribe``); calling it more than once is harmless.
        """
        if not self.active:
            subscribe(self.invalidate)
            self.active = True

    def invalidate(self, *_event: object) -> None:
        """Drop every answer (an event handler: any arguments are ignored)."""
        self.generation += 1
        if self._entries:
            self._entries.clear()
            self._bytes = 0

    def get(self, request: bytes) -> Entry | None:
        """The answer kept for these exact request bytes, if it still holds."""
        entry = self._entries.get(request)
        if entry is None:
            return None
        if entry.guard(entry.dest) != entry.state:
            del self._entries[request]
            self._bytes -= len(request) + len(entry.reply)
            return None
        return entry

    def put(
        self, request: bytes, reply: bytes, counter_key: str, guard: Guard, dest: Any
    ) -> None:
        """Keep ``reply``; ``guard(dest)`` is recorded now and compared on every hit."""
        if not self.active:
            return
        size = len(request) + len(reply)
        if len(self._entries) >= self._max_entries or self._bytes + size > self._max_bytes:
            # simpler than any eviction order, and rare: the working set of the GUIs
            # (a few answers per qube) is far below the limits
            self._entries.clear()
            self._bytes = 0
            if size > self._max_bytes:
                return
        old = self._entries.get(request)
        if old is not None:
            self._bytes -= len(request) + len(old.reply)
        self._entries[request] = Entry(reply, counter_key, guard, dest, guard(dest))
        self._bytes += size
