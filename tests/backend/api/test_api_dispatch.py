"""The method table and the dispatcher, without a socket."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest

from backend import errors
from backend.api import (
    CALL_COUNTS_METHOD,
    Call,
    Dest,
    Dispatcher,
    MethodSpec,
    MethodTable,
    Need,
    method,
)
from backend.protocol import Request


def request(
    method_name: str, dest: str = "dom0", arg: str = "", payload: bytes = b"", source: str = "dom0"
) -> Request:
    return Request(method_name, arg, source, "name", dest, payload)


# --- the table


def test_stacked_declarations_register_one_handler_under_each_name() -> None:
    @method("x.A", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    @method("x.B", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ANY)
    def handler(call: Call) -> str:
        return call.method

    table = MethodTable()
    table.add(handler)
    a, b = table.lookup("x.A"), table.lookup("x.B")
    assert a is not None and b is not None
    assert (a.handler, b.handler) == (handler, handler)
    assert (a.spec.arg, b.spec.arg) == (Need.NONE, Need.REQUIRED)
    assert table.names() == ["x.A", "x.B"]


def test_exact_names_win_over_patterns() -> None:
    table = MethodTable()

    @table.method("x.device.{devclass}.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def by_class(call: Call) -> str:
        return "class"

    @table.method("x.device.denied.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def denied(call: Call) -> str:
        return "denied"

    found = table.lookup("x.device.denied.List")
    assert found is not None and found.handler is denied and found.endpoint is None
    found = table.lookup("x.device.usb.List")
    assert found is not None and found.handler is by_class and found.endpoint == "usb"
    assert table.lookup("x.device.a.b.List") is None  # one segment only
    assert table.lookup("x.device..List") is None
    assert "x.device.usb.List" in table and "x.nope" not in table


def test_names_expand_known_endpoints() -> None:
    table = MethodTable()
    table.register(
        MethodSpec("v.Create.{klass}", Need.OPTIONAL, Need.REQUIRED, Dest.ADMINVM, ("AppVM", "X")),
        lambda call: None,
    )
    table.register(MethodSpec("v.any.{x}", Need.NONE, Need.NONE, Dest.ANY), lambda call: None)
    assert table.names() == ["v.Create.AppVM", "v.Create.X", "v.any.{x}"]


@pytest.mark.parametrize(
    "name", ["", "a..b", "a b", "a+b", "a.{x}.{y}", "a.{x}y", "a.{1x}", ".a", "a."]
)
def test_invalid_method_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        method(name, arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)


def test_endpoints_need_a_placeholder() -> None:
    with pytest.raises(ValueError):
        MethodSpec("a.b", Need.NONE, Need.NONE, Dest.ANY, endpoints=("x",))


def test_a_name_cannot_be_registered_twice() -> None:
    table = MethodTable()
    spec = MethodSpec("a.b", Need.NONE, Need.NONE, Dest.ANY)
    table.register(spec, lambda call: None)
    with pytest.raises(ValueError):
        table.register(spec, lambda call: None)


def test_undecorated_handlers_are_refused() -> None:
    with pytest.raises(ValueError):
        MethodTable().add(lambda call: None)


def test_add_object_binds_methods_and_skips_properties() -> None:
    class Base:
        @method("o.Base", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
        def base(self, call: Call) -> str:
            return f"base of {self.name}"

    class Api(Base):
        name = "api"

        @property
        def explosive(self) -> str:
            raise AssertionError("properties must not be evaluated")

        @method("o.Own", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
        def own(self, call: Call) -> str:
            return f"own of {self.name}"

    table = MethodTable()
    assert table.add_object(Api()) == 2
    call = Call("o.Base", "", b"", None, None)
    found = table.lookup("o.Base")
    assert found is not None and found.handler(call) == "base of api"


def test_add_object_takes_a_module() -> None:
    module = types.ModuleType("handlers")

    @method("m.F", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def f(call: Call) -> str:
        return "f"

    module.f = f  # type: ignore[attr-defined]
    module.helper = len  # type: ignore[attr-defined]
    table = MethodTable()
    assert table.add_object(module) == 1
    assert table.names() == ["m.F"]


# --- the dispatcher


class Resolver:
    def resolve(self, ref: str) -> str:
        if ref not in ("dom0", "work", "sys-gui"):
            raise errors.QubesVMNotFoundError(ref)
        return ref

    def is_adminvm(self, obj: Any) -> bool:
        return obj == "dom0"


def make_dispatcher(policy: Any = None) -> tuple[Dispatcher, list[Call]]:
    calls: list[Call] = []
    table = MethodTable()

    @table.method("d.Both", arg=Need.REQUIRED, payload=Need.REQUIRED, dest=Dest.NOT_ADMINVM)
    @table.method("d.Free", arg=Need.OPTIONAL, payload=Need.OPTIONAL, dest=Dest.ANY)
    def record(call: Call) -> str:
        calls.append(call)
        return "done"

    return Dispatcher(table, Resolver(), policy=policy), calls


@pytest.mark.parametrize(
    ("req", "error", "message"),
    [
        # source and destination are resolved before the method is looked up
        (request("nope", source="ghost"), errors.QubesVMNotFoundError, "'ghost'"),
        (request("nope", dest="ghost"), errors.QubesVMNotFoundError, "'ghost'"),
        (request("nope"), errors.ProtocolError, "no such method: 'nope'"),
        # then the payload, the argument and the destination class, in that order
        (request("d.Both", "dom0"), errors.ProtocolError, "expected payload"),
        (request("d.Both", "dom0", payload=b"p"), errors.ProtocolError, "expected an argument"),
        (
            request("d.Both", "dom0", "a", b"p"),
            errors.ProtocolError,
            "expected destination to not be AdminVM",
        ),
    ],
)
def test_checks_run_in_upstream_order(req: Request, error: type, message: str) -> None:
    dispatcher, calls = make_dispatcher()
    with pytest.raises(error) as info:
        dispatcher.dispatch(req)
    assert message in str(info.value)
    assert calls == []


def test_handler_gets_the_resolved_call() -> None:
    dispatcher, calls = make_dispatcher()
    outcome = dispatcher.dispatch(request("d.Both", "work", "a+b", b"p\0q"))
    assert outcome.result == "done" and outcome.cancellable is False
    assert calls == [Call("d.Both", "a+b", b"p\0q", "dom0", "work", None)]


def test_without_a_policy_other_qubes_are_refused() -> None:
    dispatcher, calls = make_dispatcher()
    with pytest.raises(errors.PermissionDenied):
        dispatcher.dispatch(request("d.Free", source="sys-gui"))
    assert calls == []


def test_policy_runs_after_validation() -> None:
    seen: list[tuple[Any, ...]] = []

    def policy(*args: Any) -> None:
        seen.append(args)

    dispatcher, calls = make_dispatcher(policy)
    with pytest.raises(errors.ProtocolError):
        dispatcher.dispatch(request("d.Both", "work", source="sys-gui"))
    assert seen == []
    assert dispatcher.dispatch(request("d.Free", "work", "x", source="sys-gui")).result == "done"
    assert seen == [("sys-gui", "d.Free", "work", "x")]


def test_async_policy_is_awaited_before_the_handler() -> None:
    async def policy(source: Any, method_name: str, dest: Any, arg: str) -> None:
        await asyncio.sleep(0)
        if arg == "no":
            raise errors.PermissionDenied("no")

    dispatcher, calls = make_dispatcher(policy)

    async def main() -> Any:
        allowed = dispatcher.dispatch(request("d.Free", arg="yes", source="work")).result
        refused = dispatcher.dispatch(request("d.Free", arg="no", source="work")).result
        assert calls == []  # nothing ran before the policy answered
        with pytest.raises(errors.PermissionDenied):
            await refused  # type: ignore[misc]
        return await allowed  # type: ignore[misc]

    assert asyncio.run(main()) == "done"
    assert [c.arg for c in calls] == ["yes"]


def test_call_counts_count_validated_calls() -> None:
    dispatcher, _ = make_dispatcher()
    dispatcher.dispatch(request("d.Free"))
    dispatcher.dispatch(request("d.Free", "work"))
    with pytest.raises(errors.ProtocolError):
        dispatcher.dispatch(request("d.Both"))
    with pytest.raises(errors.ProtocolError):
        dispatcher.dispatch(request("d.Unknown"))
    assert dispatcher.call_counts() == {"d.Free": 2}
    result = dispatcher.dispatch(request(CALL_COUNTS_METHOD)).result
    assert result == "admin.backend.CallCounts 1\nd.Free 2\n"
