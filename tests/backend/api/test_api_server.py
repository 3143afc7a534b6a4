"""The Admin API server on a real Unix socket, checked byte for byte."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import stat

import pytest

from backend import errors
from backend.api import CALL_COUNTS_METHOD
from backend.protocol import MAX_REQUEST_SIZE, encode_error, encode_request


def test_success_answers_ok_and_the_result(api) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call("test.Echo", "work", arg="a+b", payload=b"data")

    assert api.run(main()) == b"0\0test.Echo|a+b|data|dom0|work"


def test_handler_returning_none_answers_bare_ok(api) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call("test.NoResult")

    assert api.run(main()) == b"0\0"


def test_async_handler_is_awaited(api) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call("test.Async", arg="x")

    assert api.run(main()) == b"0\0async x"


@pytest.mark.parametrize("method_name", ["test.Big", "test.AsyncBig"])
def test_answers_larger_than_the_socket_buffer_arrive_whole(api, method_name) -> None:
    size = 4_000_000

    async def main() -> bytes:
        async with api.server():
            return await api.call(method_name, arg=str(size))

    answer = api.run(main())
    assert len(answer) == 2 + size
    assert answer[2:].split(b"\n")[-2:] == [f"{size // 10 - 1:09d}".encode(), b""]


def test_keyword_adminvm_destination_is_dom0(api) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.raw(b"test.Echo+ dom0 keyword adminvm\0")

    assert api.run(main()) == b"0\0test.Echo|||dom0|dom0"


def test_uuid_destination_is_resolved(api) -> None:
    work = api.resolver.by_name["work"]

    async def main() -> list[bytes]:
        async with api.server():
            return [
                await api.call("test.Echo", f"uuid:{work.uuid}"),
                await api.call("test.Echo", "uuid:0000"),
            ]

    found, invalid = api.run(main())
    assert found == b"0\0test.Echo|||dom0|work"
    assert invalid.startswith(b"2\0QubesVMInvalidUUIDError\0\0")


def test_unknown_qubes_are_qubes_vm_not_found(api) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            return [
                await api.call("test.Echo", "nope"),
                await api.call("test.Echo", source="ghost"),
            ]

    assert api.run(main()) == [
        b"2\0QubesVMNotFoundError\0\0No such domain: 'nope'\0",
        b"2\0QubesVMNotFoundError\0\0No such domain: 'ghost'\0",
    ]


ANSWERED = [
    errors.QubesVMNotFoundError("work"),
    errors.QubesNoSuchPropertyError("work", "xyz"),
    errors.QubesPropertyValueError("work", "maxmem", "x", "Invalid value"),
    errors.QubesFeatureNotFoundError("work", "gui"),
    errors.QubesVMNotStartedError("Domain is powered off: 'work'"),
    errors.QubesVMShutdownTimeoutError("timeout"),
    errors.QubesLabelNotFoundError("pink"),
    errors.QubesException("Start failed: no memory"),
    errors.PermissionDenied("Argument not in 'work volumes'"),
    errors.ProtocolError("bad request"),
    errors.QubesInvalidTagError("bad tag"),
    errors.QubesVolumeCopyTokenNotFoundError("no token"),
]


@pytest.mark.parametrize("method_name", ["test.Raise", "test.AsyncRaise"])
@pytest.mark.parametrize("exc", ANSWERED, ids=lambda e: type(e).__name__)
def test_errors_are_answered_with_their_class_name(api, method_name, exc) -> None:
    api.app.errors["e"] = exc

    async def main() -> bytes:
        async with api.server():
            return await api.call(method_name, arg="e")

    answer = api.run(main())
    assert answer == b"2\0" + type(exc).__name__.encode() + b"\0\0" + str(exc).encode() + b"\0"


def test_percent_in_messages_is_escaped(api) -> None:
    api.app.errors["e"] = errors.QubesException("Disk 50% full")

    async def main() -> bytes:
        async with api.server():
            return await api.call("test.Raise", arg="e")

    assert api.run(main()) == b"2\0QubesException\0\0Disk 50%% full\0"


def test_debug_mode_sends_the_traceback(api) -> None:
    api.app.errors["e"] = errors.QubesVMNotRunningError("not running")

    async def main() -> bytes:
        async with api.server(debug=True):
            return await api.call("test.Raise", arg="e")

    name, trace, message, rest = api.run(main())[2:].split(b"\0")
    assert (name, message, rest) == (b"QubesVMNotRunningError", b"not running", b"")
    assert b"Traceback" in trace


def test_unknown_method_is_a_protocol_error(api) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            return [
                await api.call("test.Nope"),
                await api.call("test.Create.StandaloneVM"),  # pattern, endpoint not allowed
                await api.call("test.device.mic.Attach", arg="x"),
            ]

    assert api.run(main()) == [
        b"2\0ProtocolError\0\0no such method: 'test.Nope'\0",
        b"2\0ProtocolError\0\0no such method: 'test.Create.StandaloneVM'\0",
        b"2\0ProtocolError\0\0no such method: 'test.device.mic.Attach'\0",
    ]


@pytest.mark.parametrize(
    ("method_name", "dest", "arg", "payload", "message"),
    [
        ("test.NeedArg", "dom0", "", b"", "expected an argument"),
        ("test.AdminOnly", "dom0", "x", b"", "unexpected argument"),
        ("test.NeedPayload", "dom0", "", b"", "expected payload"),
        ("test.AdminOnly", "dom0", "", b"x", "unexpected payload"),
        ("test.AdminOnly", "work", "", b"", "expected destination to be AdminVM"),
        ("test.NotAdmin", "dom0", "", b"", "expected destination to not be AdminVM"),
        ("test.Create.AppVM", "work", "", b"", "expected destination to be AdminVM"),
    ],
)
def test_declarations_are_enforced_before_the_handler(
    api, method_name, dest, arg, payload, message
) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call(method_name, dest, arg, payload)

    assert api.run(main()) == b"2\0ProtocolError\0\0" + message.encode() + b"\0"
    assert api.app.handled == []


@pytest.mark.parametrize(
    ("method_name", "dest", "arg", "payload"),
    [
        ("test.NeedArg", "dom0", "x", b""),
        ("test.NeedPayload", "dom0", "", b"x"),
        ("test.AdminOnly", "dom0", "", b""),
        ("test.NotAdmin", "work", "", b""),
    ],
)
def test_declarations_let_valid_calls_through(api, method_name, dest, arg, payload) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call(method_name, dest, arg, payload)

    assert api.run(main()) == b"0\0ok"
    assert api.app.handled == [method_name]


def test_pattern_methods_get_their_endpoint(api) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            first = [
                await api.call("test.Create.AppVM", arg="fedora", payload=b"name=x label=red"),
                await api.call("test.device.usb.Attach", "work", arg="sys-usb+2-1"),
                await api.call("test.device.mic.Attach", "work", arg="dom0+mic"),
            ]
            api.app.devclasses.add("mic")  # a device class appearing at run time
            try:
                return [*first, await api.call("test.device.mic.Attach", "work", arg="dom0+mic")]
            finally:
                api.app.devclasses.discard("mic")

    assert api.run(main()) == [
        b"0\0AppVM fedora name=x label=red",
        b"0\0usb sys-usb+2-1",
        b"2\0ProtocolError\0\0no such method: 'test.device.mic.Attach'\0",
        b"0\0mic dom0+mic",
    ]


def test_policy_decides_calls_from_other_qubes(api) -> None:
    api.app.allowed = {"test.Echo"}

    async def main() -> list[bytes]:
        async with api.server():
            return [
                await api.call("test.Echo", "work", arg="a", source="sys-gui"),
                await api.call("test.NoResult", "work", source="sys-gui"),
                await api.call("test.NoResult", "work"),  # dom0: no policy
            ]

    assert api.run(main()) == [
        b"0\0test.Echo|a||sys-gui|work",
        b"2\0PermissionDenied\0\0test.NoResult refused for sys-gui\0",
        b"0\0",
    ]
    sys_gui, work = api.resolver.by_name["sys-gui"], api.resolver.by_name["work"]
    assert api.app.policy_calls == [
        (sys_gui, "test.Echo", work, "a"),
        (sys_gui, "test.NoResult", work, ""),
    ]


def test_oversize_request_is_refused_with_an_error(api, caplog) -> None:
    header = encode_request("test.Echo", "dom0")

    async def main() -> list[bytes]:
        async with api.server():
            return [
                await api.raw(header + b"x" * (MAX_REQUEST_SIZE - len(header) + 1)),
                await api.raw(header + b"x" * (MAX_REQUEST_SIZE - len(header))),
            ]

    too_long, at_limit = api.run(main())
    assert too_long == (b"2\0ProtocolError\0\0request too long: at most 65536 bytes "
                        b"are accepted\0")
    assert at_limit.startswith(b"0\0test.Echo||xxx")
    assert "request too long" in caplog.text


@pytest.mark.parametrize(
    "data",
    [
        b"test.Echo+ dom0 name dom0",
        b"test.Echo+ dom0 name\0",
        b"test.Echo+ dom0 uuid dom0\0",
        b"test.Echo+ dom0 name d\xc3\xb6m0\0",
        b"",
    ],
)
def test_framing_errors_are_dropped_without_answer(api, caplog, data) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            return [await api.raw(data), await api.call("test.Echo")]

    assert api.run(main()) == [b"", b"0\0test.Echo|||dom0|dom0"]
    assert "framing error" in caplog.text


@pytest.mark.parametrize("method_name", ["test.Bug", "test.AsyncBug", "test.BadResult"])
def test_handler_bugs_are_logged_and_dropped(api, caplog, method_name) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            return [await api.call(method_name), await api.call("test.NoResult")]

    assert api.run(main()) == [b"", b"0\0"]
    failure = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failure) == 1
    assert f"failed call {method_name}+ (dom0 -> dom0)" in failure[0].getMessage()


def test_socket_mode_is_0660(api) -> None:
    async def main() -> int:
        async with api.server():
            return os.stat(api.path).st_mode

    mode = api.run(main())
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o660


def test_stale_socket_is_replaced(api) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(api.path)  # bound, never listening: nobody answers

    async def main() -> bytes:
        async with api.server():
            return await api.call("test.NoResult")

    assert api.run(main()) == b"0\0"
    assert not os.path.exists(api.path)  # close() removed it


def test_live_socket_is_refused(api) -> None:
    async def main() -> bytes:
        async with api.server():
            with pytest.raises(FileExistsError) as info:
                await api.server().start()
            assert info.value.errno == errno.EEXIST
            assert "socket already exists" in str(info.value)
            return await api.call("test.NoResult")  # the first server is untouched

    assert api.run(main()) == b"0\0"


def test_other_files_are_not_replaced(api) -> None:
    with open(api.path, "w") as file:
        file.write("keep me")

    async def main() -> None:
        with pytest.raises(FileExistsError, match="not a socket"):
            await api.server().start()

    api.run(main())
    with open(api.path) as file:
        assert file.read() == "keep me"


def test_close_leaves_a_replacing_socket_alone(api) -> None:
    async def main() -> None:
        server = api.server()
        await server.start()
        os.unlink(api.path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
            other.bind(api.path)
            await server.close()
            assert os.path.exists(api.path)

    api.run(main())


def test_concurrent_calls_run_at_the_same_time(api) -> None:
    clients = 64
    api.app.gate_target = clients  # nobody is answered until all 64 wait together

    async def main() -> list[bytes]:
        async with api.server():
            return await asyncio.gather(*(api.call("test.Gate") for _ in range(clients)))

    assert api.run(main()) == [b"0\0" + str(clients).encode()] * clients


def test_many_concurrent_clients_each_get_their_answer(api) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            return await asyncio.gather(
                *(api.call("test.Echo", arg=str(i), payload=b"p" * i) for i in range(300))
            )

    answers = api.run(main())
    assert answers == [f"0\0test.Echo|{i}|{'p' * i}|dom0|dom0".encode() for i in range(300)]


def test_close_lets_running_calls_finish(api) -> None:
    async def main() -> tuple[bytes, bool]:
        server = api.server()
        await server.start()
        call = asyncio.ensure_future(api.call("test.Hold"))
        await api.wait(api.app.hold_started.wait())
        closing = asyncio.ensure_future(server.close())
        # runs after the close task's first step: the server is closing when released
        asyncio.get_running_loop().call_soon(api.app.release.set)
        await api.wait(closing)
        return await api.wait(call), os.path.exists(api.path)

    assert api.run(main()) == (b"0\0released", False)


def test_cancellable_call_is_cancelled_when_the_caller_hangs_up(api) -> None:
    async def main() -> None:
        async with api.server():
            reader, writer = await asyncio.open_unix_connection(api.path)
            writer.write(encode_request("test.Slow", "dom0"))
            writer.write_eof()
            await api.wait(api.app.hold_started.wait())
            writer.close()
            await api.wait(api.app.slow_cancelled.wait())

    api.run(main())


def test_call_counts_extension(api) -> None:
    async def main() -> list[bytes]:
        async with api.server():
            await api.call("test.Echo")
            await api.call("test.Echo", "work")
            await api.call("test.Nope")  # unknown: not counted
            await api.call("test.NeedArg")  # invalid: not counted
            await api.call("test.any.thing1")
            await api.call("test.any.thing2")
            await api.call("test.Create.AppVM")
            return [
                await api.call(CALL_COUNTS_METHOD),
                await api.call(CALL_COUNTS_METHOD, "work"),
            ]

    counts, wrong_dest = api.run(main())
    assert counts == (
        b"0\0admin.backend.CallCounts 1\ntest.Create.AppVM 1\ntest.Echo 2\ntest.any.{thing} 2\n"
    )
    assert wrong_dest == encode_error(errors.ProtocolError("expected destination to be AdminVM"))
