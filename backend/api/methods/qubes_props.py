"""admin.vm.property.* and admin.property.*: per-qube and global properties.

Value formats are upstream's (admin-api.md §1.7): ``Get`` answers
``default=<True|False> type=<t> <value>`` (the value empty when there is none),
``GetAll`` one such line per property prefixed by its name, sorted, with ``\\`` and
newline escaped, ``GetDefault`` ``type=<t> <value>`` or nothing at all when the
property has no default. ``Set`` takes the value as ASCII text (a qube or label by
name, booleans as text, empty for none) and validates it before anything changes.

Changing handlers apply the change when the call is dispatched (so calls on separate
connections apply in arrival order) and answer once the state is on disk: they
return the awaitable of ``system.commit()``. ``GetAll`` answers are cached until the
next event (:class:`GetAllCache`), since the GUIs ask for them far more often than
anything changes. ``Get``, ``GetAll`` and ``GetDefault`` answers to dom0 are also kept
whole in the response cache (``backend.api.cache``), checked against the qube's
:func:`volatile_state` like the ``GetAll`` cache.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from backend.api.registry import Call, Dest, MethodTable, Need
from backend.model.properties import NoValue, Prop, PropertyHolder
from backend.protocol import (
    escape_getall_value,
    format_property_default,
    format_property_value,
    getall_line_heads,
)


def serialize(holder: PropertyHolder, name: str) -> str:
    """The ``Get`` answer for property ``name`` of ``holder``."""
    prop = holder.prop(name)
    try:
        value = holder.get(name)
    except NoValue:
        return format_property_value(None, prop.type.value, is_default=True)
    return format_property_value(
        prop.to_wire(value), prop.type.value, is_default=holder.is_default(name)
    )


def getall_lines(holder: PropertyHolder) -> list[str]:
    """The ``GetAll`` lines of ``holder``, sorted by name, each ending in a newline.

    Each is ``format_getall_line(name, wire value, type, is_default=...)``, built from
    the per-class :func:`_line_plan` (a GUI asks for every qube's at start).
    """
    explicit = holder.explicit_values()
    get = holder.get
    lines: list[str] = []
    append = lines.append
    for name, prop, if_default, if_set in _line_plan(holder):
        if name in explicit:  # what is_default() tells, without looking the name up again
            head, value = if_set, explicit[name]
        else:
            try:
                value = get(name)
            except NoValue:
                append(f"{if_default}\n")
                continue
            head = if_default
        append(f"{head}{escape_getall_value(prop.to_wire(value))}\n")
    return lines


class _LinePlan(NamedTuple):
    """How to write a holder class's ``GetAll`` lines, and what it was made from."""

    props: tuple[Prop, ...]
    #: per property, sorted by name: name, Prop, line head if default, if set
    lines: tuple[tuple[str, Prop, str, str], ...]


_LINE_PLANS: dict[type, _LinePlan] = {}


def _line_plan(holder: PropertyHolder) -> tuple[tuple[str, Prop, str, str], ...]:
    props = tuple(holder.PROPS.values())
    plan = _LINE_PLANS.get(type(holder))
    if plan is None or plan.props != props:  # made anew if the table was changed
        lines = []
        for name in holder.property_names():
            prop = holder.PROPS[name]
            lines.append((name, prop, *getall_line_heads(name, prop.type.value)))
        plan = _LINE_PLANS[type(holder)] = _LinePlan(props, tuple(lines))
    return plan.lines


class GetAllCache:
    """``GetAll`` answers kept until the model changes: every change fires an event,
    and any event empties the cache. As a second guard against a change made without
    an event, a qube's entry also remembers its power state and runtime facts."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[object, object, str]] = {}

    def clear(self, *_event: object) -> None:
        if self._entries:
            self._entries.clear()

    def text(self, holder: PropertyHolder) -> str:
        state = volatile_state(holder)
        entry = self._entries.get(id(holder))
        if entry is not None and entry[0] is holder and entry[1] == state:
            return entry[2]
        text = "".join(getall_lines(holder))
        self._entries[id(holder)] = (holder, state, text)
        return text


_CACHES: weakref.WeakKeyDictionary[Any, GetAllCache] = weakref.WeakKeyDictionary()


def getall_cache(app: Any) -> GetAllCache:
    """The cache of ``app``'s GetAll answers (one per app, emptied by its events)."""
    cache = _CACHES.get(app)
    if cache is None:
        cache = _CACHES[app] = GetAllCache()
        app.events.subscribe(cache.clear)
    return cache


def volatile_state(holder: object) -> object:
    """What of a qube's state may change without an event: its power state and runtime
    facts (None for a holder without them, such as the global properties)."""
    runtime = getattr(holder, "runtime", None)
    if runtime is None:
        return None
    return (
        getattr(holder, "power_state", None),
        runtime.xid,
        runtime.stubdom_xid,
        runtime.stubdom_uuid,
        runtime.start_time,
    )


def serialize_default(holder: PropertyHolder, name: str) -> str | None:
    """The ``GetDefault`` answer: None (an empty body) when there is no default."""
    prop = holder.prop(name)
    try:
        value = holder.get_default(name)
    except NoValue:
        return None
    return format_property_default(prop.to_wire(value), prop.type.value)


def decode_value(holder: PropertyHolder, name: str, payload: bytes) -> str:
    """The new value of a ``Set`` call; like upstream, only ASCII is accepted."""
    prop = holder.prop(name)
    try:
        return payload.decode("ascii")
    except UnicodeDecodeError:
        raise holder.value_error(prop, payload, "the value must be ASCII text") from None


def set_property(holder: PropertyHolder, name: str, payload: bytes) -> None:
    """Validate the wire value, then set it (the model fires the events)."""
    holder.prop(name)  # an unknown name is QubesNoSuchPropertyError before anything else
    holder.set(name, decode_value(holder, name, payload))


def register(table: MethodTable, daemon: Any) -> None:
    """Register both families: ``admin.vm.property.*`` (dest: the qube, dom0 included)
    and ``admin.property.*`` (dest: dom0, the global properties)."""
    commit: Callable[[], Awaitable[None]] = daemon.system.commit
    cache = getall_cache(daemon.app)

    def qube(call: Call) -> PropertyHolder:
        holder: PropertyHolder = call.dest
        return holder

    def app_globals(call: Call) -> PropertyHolder:
        holder: PropertyHolder = daemon.app.globals
        return holder

    for prefix, dest, target in (
        ("admin.vm.property", Dest.ANY, qube),
        ("admin.property", Dest.ADMINVM, app_globals),
    ):
        _register_family(table, prefix, dest, target, commit, cache)


def _register_family(
    table: MethodTable,
    prefix: str,
    dest: Dest,
    target: Callable[[Call], PropertyHolder],
    commit: Callable[[], Awaitable[None]],
    cache: GetAllCache,
) -> None:
    @table.method(f"{prefix}.List", arg=Need.NONE, payload=Need.NONE, dest=dest)
    def list_(call: Call) -> str:
        return "".join(f"{name}\n" for name in target(call).property_names())

    @table.method(f"{prefix}.Get", arg=Need.REQUIRED, payload=Need.NONE, dest=dest,
                  cached_while=volatile_state)
    def get(call: Call) -> str:
        return serialize(target(call), call.arg)

    @table.method(f"{prefix}.GetAll", arg=Need.NONE, payload=Need.NONE, dest=dest,
                  cached_while=volatile_state)
    def get_all(call: Call) -> str:
        return cache.text(target(call))

    @table.method(f"{prefix}.GetDefault", arg=Need.REQUIRED, payload=Need.NONE, dest=dest,
                  cached_while=volatile_state)
    def get_default(call: Call) -> str | None:
        return serialize_default(target(call), call.arg)

    @table.method(f"{prefix}.Help", arg=Need.REQUIRED, payload=Need.NONE, dest=dest)
    def help_(call: Call) -> str:
        return target(call).prop(call.arg).doc

    @table.method(f"{prefix}.Set", arg=Need.REQUIRED, payload=Need.OPTIONAL, dest=dest)
    def set_(call: Call) -> Awaitable[None]:
        set_property(target(call), call.arg, call.payload)
        return commit()

    @table.method(f"{prefix}.Reset", arg=Need.REQUIRED, payload=Need.NONE, dest=dest)
    def reset(call: Call) -> Awaitable[None]:
        target(call).reset(call.arg)
        return commit()
