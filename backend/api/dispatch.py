"""Admin API dispatch: resolve source and destination, validate, check policy, count, call.

Extension method (ours, optional, feature-detected by ``backend.client``; a real qubesd
answers it with ProtocolError "no such method" or an empty response):

``admin.backend.CallCounts`` — destination dom0, no argument, no payload. Answers one
line ``<method> <count>`` per method, sorted by name, counting every call that named a
known method and passed validation (successful or not, including this one) since the
daemon started. Methods served by a pattern without an ``endpoints`` restriction are
counted under the pattern (``admin.vm.device.{devclass}.Attach``). Benchmarks read it
before and after a run and subtract.

Answers of methods declared with ``cached_while`` to calls from the AdminVM are kept in
the table's response cache (``backend.api.cache``) when the server passes the request's
bytes; :meth:`Dispatcher.cached` serves repeated calls from there.
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
from backend.protocol import Request, encode_ok

CALL_COUNTS_METHOD = "admin.backend.CallCounts"
_MAX_RESOLVED = 10_000


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
    #: the encoded answer, when the dispatcher already made it (to keep it)
    reply: bytes | None = None


class Dispatcher:
    """Validates a parsed request against the method table and runs its handler."""

    def __init__(
        self, table: MethodTable, resolver: Resolver, *, policy: PolicyHook | None = None
    ) -> None:
        self._table = table
        self._cache = table.cache
        self._resolver = resolver
        self._policy = policy
        self._counts: dict[str, int] = {}
        # names on the wire -> qubes, while the cache follows the model's events: qubes
        # come and go only with an event, which bumps its generation
        self._resolved: dict[str, Any] = {}
        self._resolved_generation = -1
        self._builtin = MethodTable()
        self._builtin.register(
            MethodSpec(CALL_COUNTS_METHOD, Need.NONE, Need.NONE, Dest.ADMINVM), self._call_counts
        )

    def call_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def cached(self, raw: bytes) -> bytes | None:
        """The encoded answer kept for a call with exactly these bytes, counted as a
        call; None if there is none (then parse and :meth:`dispatch` it)."""
        entry = self._cache.get(raw)
        if entry is None:
            return None
        counts = self._counts
        key = entry.counter_key
        counts[key] = counts.get(key, 0) + 1
        return entry.reply

    def dispatch(self, request: Request, raw: bytes | None = None) -> Outcome:
        """Run the call up to the handler; errors to answer are raised from here.

        The order of checks is upstream's: source, destination, method name,
        payload, argument, destination class; then the policy. ``raw``, the bytes
        ``request`` was parsed from, lets the answer be kept in the response cache.
        """
        resolver = self._resolver
        source = self._resolve(request.source)
        dest = self._resolve(request.dest)
        match = self._table.lookup(request.method) or self._builtin.lookup(request.method)
        if match is None:
            raise ProtocolError(f"no such method: {request.method!r}")
        spec = match.spec
        if spec.payload is not Need.OPTIONAL:
            _check_presence(spec.payload, request.payload, "expected payload", "unexpected payload")
        if spec.arg is not Need.OPTIONAL:
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
        elif raw is not None and spec.cached_while is not None and self._cache.active:
            generation = self._cache.generation
            result = match.handler(call)
            if result is not None and type(result) is not str:
                return Outcome(result, spec.cancellable)  # not answered at once: not kept
            reply = encode_ok(result)
            if self._cache.generation == generation:  # no event while it was computed
                self._cache.put(raw, reply, key, spec.cached_while, dest)
            return Outcome(result, spec.cancellable, reply)
        return Outcome(match.handler(call), spec.cancellable)

    def _resolve(self, ref: str) -> Any:
        cache = self._cache
        if not cache.active:
            return self._resolver.resolve(ref)
        resolved = self._resolved
        if self._resolved_generation != cache.generation:
            resolved.clear()
            self._resolved_generation = cache.generation
        obj = resolved.get(ref)
        if obj is None:
            obj = self._resolver.resolve(ref)  # raises for unknown names: not kept
            if len(resolved) >= _MAX_RESOLVED:  # uuid: refs have many spellings
                resolved.clear()
            resolved[ref] = obj
        return obj

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
