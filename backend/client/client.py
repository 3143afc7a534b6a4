"""``AdminClient``: Admin API calls and event streams over a transport, with bounded concurrency."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from backend import errors
from backend.client.transport import Transport, UnixTransport, default_transport
from backend.protocol import (
    EventRecord,
    EventStreamParser,
    QubesDaemonCommunicationError,
    decode_response,
)

log = logging.getLogger("backend.client")

#: upstream's QUBESD_RECONNECT_DELAY
RECONNECT_DELAY = 1.0
DEFAULT_MAX_IN_FLIGHT = 64

#: what ends an event connection and makes us reconnect (errors the server sent too:
#: upstream retries those for ever as well)
_STREAM_ERRORS = (OSError, QubesDaemonCommunicationError, errors.QubesException,
                  errors.PermissionDenied, errors.ProtocolError)


@dataclass(frozen=True, slots=True)
class CallStats:
    """How many calls a client made, for benchmarks and tests."""

    total: int
    by_method: dict[str, int]
    peak_in_flight: int


class AdminClient:
    """Calls Admin API methods; at most ``max_in_flight`` requests are open at once.

    Event streams do not count against that bound: they stay open for ever.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        reconnect_delay: float = RECONNECT_DELAY,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.transport = transport
        self.max_in_flight = max_in_flight
        self.reconnect_delay = reconnect_delay
        self._slots = asyncio.Semaphore(max_in_flight)
        self._by_method: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._peak = 0

    @classmethod
    def for_socket(cls, path: str | os.PathLike[str] | None = None, *,
                   max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                   reconnect_delay: float = RECONNECT_DELAY) -> AdminClient:
        """A client of the socket at ``path`` (None: :func:`default_transport`)."""
        transport = UnixTransport(path) if path is not None else default_transport()
        return cls(transport, max_in_flight=max_in_flight, reconnect_delay=reconnect_delay)

    # --- calls -------------------------------------------------------------------
    async def call(self, method: str, dest: str = "dom0", arg: str = "",
                   payload: bytes = b"") -> str:
        """Call one method and return its result text, or raise what the daemon sent.

        An empty response raises QubesDaemonAccessError (an older qubesd's way to
        refuse); an unreachable daemon raises QubesDaemonCommunicationError.
        """
        async with self._slots:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._by_method[method] += 1
            try:
                raw = await self.transport.request(method, dest, arg, payload)
            finally:
                self._in_flight -= 1
        return decode_response(raw)

    @property
    def stats(self) -> CallStats:
        return CallStats(sum(self._by_method.values()), dict(self._by_method), self._peak)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def reset_stats(self) -> None:
        self._by_method.clear()
        self._peak = self._in_flight

    # --- streams -----------------------------------------------------------------
    async def stream_once(self, method: str = "admin.Events",
                          dest: str = "dom0") -> AsyncIterator[EventRecord]:
        """One event connection: its records until the daemon closes it.

        Raises the error the daemon answered with, or QubesDaemonCommunicationError.
        """
        async with self.transport.stream(method, dest) as chunks:
            parser = EventStreamParser()
            async for chunk in chunks:
                for record in parser.feed(chunk):
                    yield record
            parser.feed_eof()

    async def events(
        self,
        dest: str = "dom0",
        *,
        method: str = "admin.Events",
        on_disconnect: Callable[[BaseException | None], object] | None = None,
    ) -> AsyncIterator[EventRecord]:
        """Event records for ever, reconnecting ``reconnect_delay`` after each loss.

        Every connection starts with its own ``connection-established`` record, which
        is yielded: after a reconnect it tells the consumer to reconcile.
        ``on_disconnect`` is called with the error (None for a plain end of stream)
        each time a connection is lost or cannot be opened.
        """
        failures = 0  # attempts in a row that got nothing: logged once, not every second
        while True:
            problem: BaseException | None = None
            got_records = False
            try:
                async for record in self.stream_once(method, dest):
                    got_records = True
                    yield record
            except _STREAM_ERRORS as exc:
                problem = exc
            failures = 0 if got_records else failures + 1
            log.log(logging.INFO if failures <= 1 else logging.DEBUG,
                    "connection to qubesd (%s) terminated%s, reconnecting in %s s",
                    method, f" ({problem})" if problem else "", self.reconnect_delay)
            if on_disconnect is not None:
                on_disconnect(problem)
            await asyncio.sleep(self.reconnect_delay)
