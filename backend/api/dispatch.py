"""Admin API dispatch: resolve source and destination, validate, check policy, count, call.

Extension method (ours, optional, feature-detected by ``backend.client``; a real qubesd
answers it with ProtocolError "no such method" or an empty response):

``admin.backend.CallCounts`` — destination dom0, no argument, no payload. Answers one
line ``<method> <count>`` per method, sorted by name, counting every call that named a
known method and passed validation (successful or not, including this one) since the
daemon started. Methods served by a pattern without an ``endpoints`` restriction are
counted under the pattern (``admin.vm.device.{devclass}.Attach``). Benchmarks read it
before and after a run and subtract.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, Protocol

from backend.api.registry import (
    Call,
    Dest,
    Handler,
    HandlerResult,
    MethodSpec,
    MethodTable,
    Need,
    Result,
)
from backend.errors import PermissionDenied, ProtocolError
from backend.protocol import Request

CALL_COUNTS_METHOD = "admin.backend.CallCounts"


class Resolver(Protocol):
    """How the daemon turns the names on the wire into its qube objects."""

    def resolve(self, ref: str) -> Any:
        """The qube named ``ref`` (a name or ``uuid:<uuid>``, see ``protocol.parse_uuid_ref``).

        Raises QubesVMNotFoundError, QubesVMInvalidUUIDError, or QubesValueError for
        a malformed name; the error is sent to the caller.
        """
        ...

    def is_adminvm(self, obj: Any) -> bool:
        """Whether ``obj`` is dom0 (the AdminVM)."""
        ...


#: ``policy(source, method, dest, arg)``: return (or resolve to) None to allow, raise
#: PermissionDenied to refuse. Called for every caller that is not the AdminVM, after
#: validation and before the handler. It may return an awaitable.
PolicyHook = Callable[[Any, str, Any, str], Awaitable[None] | None]


class Outcome(NamedTuple):
    """What the handler returned, and whether to cancel it if the caller hangs up."""

    result: HandlerResult
    cancellable: bool


class Dispatcher:
    """Validates a parsed request against the method table and runs its handler."""

    def __init__(
        self, table: MethodTable, resolver: Resolver, *, policy: PolicyHook | None = None
    ) -> None:
        self._table = table
        self._resolver = resolver
        self._policy = policy
        self._counts: dict[str, int] = {}
        self._builtin = MethodTable()
        self._builtin.register(
            MethodSpec(CALL_COUNTS_METHOD, Need.NONE, Need.NONE, Dest.ADMINVM), self._call_counts
        )

    def call_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def dispatch(self, request: Request) -> Outcome:
        """Run the call up to the handler; errors to answer are raised from here.

        The order of checks is upstream's: source, destination, method name,
        payload, argument, destination class; then the policy.
        """
        resolver = self._resolver
        source = resolver.resolve(request.source)
        dest = resolver.resolve(request.dest)
        match = self._table.lookup(request.method) or self._builtin.lookup(request.method)
        if match is None:
            raise ProtocolError(f"no such method: {request.method!r}")
        spec = match.spec
        _check_presence(spec.payload, request.payload, "expected payload", "unexpected payload")
        _check_presence(spec.arg, request.arg, "expected an argument", "unexpected argument")
        if spec.dest is not Dest.ANY:
            to_adminvm = resolver.is_adminvm(dest)
            if spec.dest is Dest.ADMINVM and not to_adminvm:
                raise ProtocolError("expected destination to be AdminVM")
            if spec.dest is Dest.NOT_ADMINVM and to_adminvm:
                raise ProtocolError("expected destination to not be AdminVM")
        key = match.counter_key
        self._counts[key] = self._counts.get(key, 0) + 1
        call = Call(request.method, request.arg, request.payload, source, dest, match.endpoint)
        if not resolver.is_adminvm(source):
            if self._policy is None:
                raise PermissionDenied("calls from qubes other than dom0 need a policy")
            verdict = self._policy(source, request.method, dest, request.arg)
            if verdict is not None:
                return Outcome(_after(verdict, match.handler, call), spec.cancellable)
        return Outcome(match.handler(call), spec.cancellable)

    def _call_counts(self, call: Call) -> str:
        return "".join(f"{name} {count}\n" for name, count in sorted(self._counts.items()))


def _check_presence(need: Need, value: str | bytes, missing: str, unexpected: str) -> None:
    if need is Need.REQUIRED and not value:
        raise ProtocolError(missing)
    if need is Need.NONE and value:
        raise ProtocolError(unexpected)


async def _after(verdict: Awaitable[None], handler: Handler, call: Call) -> Result:
    await verdict
    result = handler(call)
    if inspect.isawaitable(result):
        return await result
    return result
