"""A synchronous event bus: the model fires, the API server and extensions listen."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("backend.events")

#: handler(subject, event, kwargs): subject is a qube object, or None for the app
Handler = Callable[[Any, str, dict[str, Any]], None]


class EventBus:
    """Delivers every fired event to every subscriber, in subscription order.

    Handlers run synchronously on the thread that fires (the daemon's event loop), so
    they must be quick: the API server only queues the event for its streams.
    """

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def fire(self, subject: Any, event: str, **kwargs: Any) -> None:
        for handler in list(self._handlers):
            try:
                handler(subject, event, kwargs)
            except Exception:  # one broken listener must not stop the others
                log.exception("event handler failed for %s", event)
