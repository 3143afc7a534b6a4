"""The Admin API client every window uses: calls, event streams and the system cache.

No Qt here: everything is asyncio and runs on the GUI's qasync loop. It shares only
``backend.protocol`` and ``backend.errors`` with the daemon, so it talks to a real
qubesd just as well.

Typical use::

    client = AdminClient(UnixTransport(path))      # or default_transport()
    cache = SystemCache(client, features={"internal", "prohibit-start"})
    cache.add_listener(my_listener)                 # a CacheListener
    await cache.start()                              # qubes + properties are in
"""

from __future__ import annotations

from backend.client import actions
from backend.client.actions import ShutdownMode
from backend.client.cache import SystemCache
from backend.client.client import AdminClient, CallStats
from backend.client.listener import CacheListener
from backend.client.model import (
    LabelInfo,
    PowerState,
    PropertyType,
    PropertyValue,
    QubeClass,
    QubeSnapshot,
    QubeStats,
    SystemData,
    VolumeInfo,
)
from backend.client.stats import qube_stats
from backend.client.transport import (
    QREXEC_CLIENT_VM,
    SYSTEM_SOCKET,
    QrexecTransport,
    Transport,
    UnixTransport,
    default_transport,
)
from backend.errors import PermissionDenied, ProtocolError, QubesException
from backend.protocol import (
    EventRecord,
    QubesDaemonAccessError,
    QubesDaemonCommunicationError,
)

__all__ = [
    "QREXEC_CLIENT_VM",
    "SYSTEM_SOCKET",
    "AdminClient",
    "CacheListener",
    "CallStats",
    "EventRecord",
    "LabelInfo",
    "PermissionDenied",
    "PowerState",
    "PropertyType",
    "PropertyValue",
    "ProtocolError",
    "QrexecTransport",
    "QubeClass",
    "QubeSnapshot",
    "QubeStats",
    "QubesDaemonAccessError",
    "QubesDaemonCommunicationError",
    "QubesException",
    "ShutdownMode",
    "SystemCache",
    "SystemData",
    "Transport",
    "UnixTransport",
    "VolumeInfo",
    "actions",
    "default_transport",
    "qube_stats",
]
