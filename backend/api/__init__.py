"""The daemon's Admin API: socket server, method table and dispatcher (qubesd wire protocol).

Our one extension method, ``admin.backend.CallCounts``, is described in
``backend.api.dispatch``.
"""

from backend.api.dispatch import CALL_COUNTS_METHOD, Dispatcher, Outcome, PolicyHook, Resolver
from backend.api.events import EventStream, EventStreamOverflow
from backend.api.registry import (
    Call,
    Dest,
    Event,
    Handler,
    MethodSpec,
    MethodTable,
    Need,
    method,
)
from backend.api.server import AdminServer

__all__ = [
    "CALL_COUNTS_METHOD",
    "AdminServer",
    "Call",
    "Dest",
    "Dispatcher",
    "Event",
    "EventStream",
    "EventStreamOverflow",
    "Handler",
    "MethodSpec",
    "MethodTable",
    "Need",
    "Outcome",
    "PolicyHook",
    "Resolver",
    "method",
]
