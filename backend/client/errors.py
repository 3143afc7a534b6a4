"""The errors a call can raise, for GUI code (which imports only ``backend.client``).

They are the wire's exception classes, shared with the daemon in ``backend.errors``,
plus the client-side ones for a daemon that cannot be reached or answers nothing.
"""

import backend.errors as _wire
from backend.errors import *  # noqa: F403 - the whole family, by its wire names
from backend.protocol import QubesDaemonAccessError, QubesDaemonCommunicationError

__all__ = sorted(
    name for name in dir(_wire)
    if isinstance(getattr(_wire, name), type)
    and issubclass(getattr(_wire, name), BaseException)
    and getattr(_wire, name).__module__ == _wire.__name__
) + ["QubesDaemonAccessError", "QubesDaemonCommunicationError"]
