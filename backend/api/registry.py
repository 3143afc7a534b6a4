"""The Admin API method table: each handler declares its method with ``@method``.

A handler is a callable taking one :class:`Call` and returning

* ``str`` or ``None`` — the result (``None`` answers ``0\\0`` with no data);
* an awaitable of one of these (``async def``) — for calls that wait for something;
* an async iterator of :data:`Event` — an event stream (see ``backend.api.events``).

It raises a ``backend.errors`` exception to answer with that error. The dispatcher has
checked the argument, the payload and the destination class against the declaration
before the handler runs, and the policy for callers other than dom0.

Names may carry one ``{placeholder}`` segment (``admin.vm.Create.{klass}``,
``admin.vm.device.{devclass}.Attach``); the matched segment is ``Call.endpoint``.
``endpoints`` restricts it to a collection, or to what a callable returns at call time
(for device classes that appear at run time). Exact names win over patterns.

``cached_while`` marks a read whose answer depends only on the model: it may then be
served from the table's response cache (``backend.api.cache``) until the next event,
as long as ``cached_while(dest)`` stays equal.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias, TypeVar

from backend.api.cache import Guard, ResponseCache


class Need(enum.Enum):
    """Whether a method takes an argument or a payload (upstream's True / False / None)."""

    REQUIRED = "required"
    NONE = "none"
    OPTIONAL = "optional"


class Dest(enum.Enum):
    """Which destinations a method accepts."""

    ADMINVM = "adminvm"
    NOT_ADMINVM = "not-adminvm"
    ANY = "any"


#: One event of a stream: subject (a qube, or None for the app), event name, values.
#: Subject and values are sent as ``str()`` of what is given.
Event: TypeAlias = tuple[object | None, str, Mapping[str, object]]

Result: TypeAlias = str | None | AsyncIterator[Event]
HandlerResult: TypeAlias = Result | Awaitable[Result]


@dataclass(frozen=True, slots=True)
class Call:
    """One validated call, as a handler receives it.

    ``arg`` and ``payload`` come from the caller and are untrusted: validate before
    use. ``source`` and ``dest`` are what the daemon's resolver returned.
    """

    method: str
    arg: str
    payload: bytes
    source: Any
    dest: Any
    endpoint: str | None = None


Handler: TypeAlias = Callable[[Call], HandlerResult]
Endpoints: TypeAlias = Collection[str] | Callable[[], Collection[str]] | None

_SEGMENT = r"[A-Za-z0-9_-]+"
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_NAME_SEGMENT = rf"(?:{_SEGMENT}|{_PLACEHOLDER.pattern})"
_NAME = re.compile(rf"{_NAME_SEGMENT}(?:\.{_NAME_SEGMENT})*")


@dataclass(frozen=True, slots=True, eq=False)
class MethodSpec:
    """What a method accepts (upstream: ``wants_arg``, ``wants_payload``, ``dest_adminvm``)."""

    name: str
    arg: Need
    payload: Need
    dest: Dest
    endpoints: Endpoints = None
    #: cancel the handler when the caller hangs up (long operations such as a backup)
    cancellable: bool = False
    #: answers may be kept in the response cache while this, applied to the
    #: destination, stays equal (see ``backend.api.cache``); None: never kept
    cached_while: Guard | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"invalid method name {self.name!r}")
        if len(_PLACEHOLDER.findall(self.name)) > 1:
            raise ValueError(f"{self.name!r}: at most one placeholder segment")
        if self.endpoints is not None and not self.is_pattern:
            raise ValueError(f"{self.name!r}: endpoints need a placeholder segment")

    @property
    def is_pattern(self) -> bool:
        return "{" in self.name


_SPECS_ATTR = "__admin_api_methods__"

H = TypeVar("H", bound=Callable[..., Any])


def method(
    name: str,
    *,
    arg: Need,
    payload: Need,
    dest: Dest,
    endpoints: Endpoints = None,
    cancellable: bool = False,
    cached_while: Guard | None = None,
) -> Callable[[H], H]:
    """Declare the Admin API method a handler serves; stack it to serve several.

    Only annotates the function: a :class:`MethodTable` picks it up with ``add`` (a
    function) or ``add_object`` (decorated methods of an object, or a module).
    """
    spec = MethodSpec(name, arg, payload, dest, endpoints, cancellable, cached_while)

    def decorate(func: H) -> H:
        setattr(func, _SPECS_ATTR, (*getattr(func, _SPECS_ATTR, ()), spec))
        return func

    return decorate


def declared_methods(handler: object) -> tuple[MethodSpec, ...]:
    """The specs ``@method`` attached to a function (also seen through bound methods)."""
    specs: tuple[MethodSpec, ...] = getattr(handler, _SPECS_ATTR, ())
    return specs


class Match(NamedTuple):
    """A method name resolved to its handler."""

    spec: MethodSpec
    handler: Handler
    endpoint: str | None
    #: the name calls are counted under: the pattern itself when any segment matches,
    #: so callers cannot grow the counter table with made-up names
    counter_key: str


class MethodTable:
    """Method name → handler, with the declarations the dispatcher enforces."""

    def __init__(self) -> None:
        self._exact: dict[str, Match] = {}
        self._patterns: list[tuple[re.Pattern[str], MethodSpec, Handler]] = []
        #: answers of the methods declared with ``cached_while``; it keeps nothing
        #: until someone makes it follow the model's events (``ResponseCache.follow``)
        self.cache = ResponseCache()

    def register(self, spec: MethodSpec, handler: Handler) -> None:
        if spec.name in self._exact or any(p[1].name == spec.name for p in self._patterns):
            raise ValueError(f"method {spec.name!r} registered twice")
        if spec.is_pattern:
            prefix, suffix = _PLACEHOLDER.split(spec.name)
            regex = re.compile(f"{re.escape(prefix)}({_SEGMENT}){re.escape(suffix)}")
            self._patterns.append((regex, spec, handler))
        else:
            self._exact[spec.name] = Match(spec, handler, None, spec.name)

    def add(self, *handlers: Handler) -> None:
        """Register handlers decorated with :func:`method`."""
        for handler in handlers:
            specs = declared_methods(handler)
            if not specs:
                raise ValueError(f"{handler!r} is not decorated with @method")
            for spec in specs:
                self.register(spec, handler)

    def add_object(self, obj: object) -> int:
        """Register every decorated method of ``obj`` (bound), or function of a module.

        Returns how many handlers were found.
        """
        if isinstance(obj, types.ModuleType):
            names = [n for n, v in vars(obj).items() if declared_methods(v)]
        else:
            # look in the classes, not the instance: getattr on every name would run properties
            names = list(
                dict.fromkeys(
                    n for k in type(obj).__mro__ for n, v in vars(k).items() if declared_methods(v)
                )
            )
        for name in names:
            self.add(getattr(obj, name))
        return len(names)

    def method(
        self,
        name: str,
        *,
        arg: Need,
        payload: Need,
        dest: Dest,
        endpoints: Endpoints = None,
        cancellable: bool = False,
        cached_while: Guard | None = None,
    ) -> Callable[[H], H]:
        """Like :func:`method`, and register the function in this table at once."""
        declare = method(
            name,
            arg=arg,
            payload=payload,
            dest=dest,
            endpoints=endpoints,
            cancellable=cancellable,
            cached_while=cached_while,
        )

        def decorate(func: H) -> H:
            declare(func)
            self.register(declared_methods(func)[-1], func)
            return func

        return decorate

    def lookup(self, name: str) -> Match | None:
        match = self._exact.get(name)
        if match is not None:
            return match
        for regex, spec, handler in self._patterns:
            found = regex.fullmatch(name)
            if found is None:
                continue
            endpoint = found.group(1)
            if spec.endpoints is None:
                return Match(spec, handler, endpoint, spec.name)
            allowed = spec.endpoints() if callable(spec.endpoints) else spec.endpoints
            if endpoint in allowed:
                return Match(spec, handler, endpoint, name)
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def names(self) -> list[str]:
        """Every method name, patterns expanded where their endpoints are known."""
        result = list(self._exact)
        for _, spec, _ in self._patterns:
            if spec.endpoints is None:
                result.append(spec.name)
                continue
            allowed = spec.endpoints() if callable(spec.endpoints) else spec.endpoints
            prefix, suffix = _PLACEHOLDER.split(spec.name)
            result += (f"{prefix}{endpoint}{suffix}" for endpoint in allowed)
        return sorted(result)
