"""Event streams: connection-established first, events relayed, handler closed on hang-up."""

from __future__ import annotations

import asyncio
import select

import pytest

from backend.api import EventStream
from backend.protocol import EventRecord


@pytest.mark.parametrize("method_name", ["test.Events", "test.GenEvents", "test.LateEvents"])
def test_stream_starts_with_connection_established_and_relays_events(api, method_name) -> None:
    async def main() -> list[EventRecord]:
        async with api.server():
            client = await api.open_stream(method_name)
            records = [await client.next()]
            api.app.fire("work", "property-set:netvm", name="netvm", newvalue=None, oldvalue="")
            api.app.fire(None, "domain-add", vm=api.resolver.by_name["work"])
            records += [await client.next(), await client.next()]
            await client.close()
            await api.wait(api.app.stream_closed.wait())
            return records

    assert api.run(main()) == [
        EventRecord(None, "connection-established", {}),
        EventRecord(
            "work", "property-set:netvm", {"name": "netvm", "newvalue": "None", "oldvalue": ""}
        ),
        EventRecord(None, "domain-add", {"vm": "work"}),
    ]
    assert api.app.subscribers == []


@pytest.mark.parametrize("method_name", ["test.Events", "test.GenEvents"])
def test_handler_is_closed_when_the_caller_hangs_up_while_idle(api, method_name) -> None:
    async def main() -> None:
        async with api.server() as server:
            client = await api.open_stream(method_name)
            assert (await client.next()).event == "connection-established"
            await client.close()
            # no event is fired: the hang-up alone must end the handler
            await api.wait(api.app.stream_closed.wait())
            assert server._connections == set()

    api.run(main())
    assert api.app.subscribers == []


def test_hang_up_is_noticed_at_the_next_write_without_epoll(api, monkeypatch) -> None:
    monkeypatch.delattr(select, "epoll", raising=False)

    async def main() -> None:
        async with api.server():
            client = await api.open_stream()
            await client.next()
            await client.close()
            api.app.fire("work", "domain-paused")  # its write meets the broken pipe
            await api.wait(api.app.stream_closed.wait())

    api.run(main())
    assert api.app.subscribers == []


def test_a_stream_that_ends_closes_the_connection(api) -> None:
    async def main() -> list[EventRecord]:
        async with api.server():
            client = await api.open_stream("test.FiniteEvents", "work")
            return await client.rest()

    assert api.run(main()) == [
        EventRecord(None, "connection-established", {}),
        EventRecord("work", "first", {"n": "1"}),
        EventRecord(None, "second", {}),
    ]


def test_closing_the_server_ends_streams(api) -> None:
    async def main() -> list[EventRecord]:
        server = api.server()
        await server.start()
        client = await api.open_stream()
        first = await client.next()
        await server.close()
        assert api.app.stream_closed.is_set()
        return [first, *await client.rest()]

    assert api.run(main()) == [EventRecord(None, "connection-established", {})]


def test_odd_values_do_not_break_the_stream(api) -> None:
    async def main() -> list[EventRecord]:
        async with api.server():
            client = await api.open_stream()
            await client.next()
            api.app.fire("work", "domain-feature-set:x", value="caf\u00e9\0", oldvalue=b"x")
            api.app.fire("work", "domain-feature-delete:x", feature="x")
            records = [await client.next(), await client.next()]
            await client.close()
            return records

    assert api.run(main()) == [
        EventRecord("work", "domain-feature-set:x", {"value": "caf\\xe9\\x00", "oldvalue": "b'x'"}),
        EventRecord("work", "domain-feature-delete:x", {"feature": "x"}),
    ]


def test_events_beyond_the_socket_buffer_wait_for_the_reader(api) -> None:
    count = 3000
    padding = "x" * 500

    async def main() -> list[EventRecord]:
        async with api.server():
            client = await api.open_stream()
            await client.next()
            for n in range(count):  # about 1.5 MB: the writer must wait for the reader
                api.app.fire("work", "domain-paused", n=n, padding=padding)
            return [await client.next() for _ in range(count)]

    records = api.run(main())
    assert [r.kwargs["n"] for r in records] == [str(n) for n in range(count)]


def test_a_caller_too_slow_for_its_events_is_dropped(api, caplog) -> None:
    api.app.max_pending = 5

    async def main() -> list[EventRecord]:
        async with api.server():
            client = await api.open_stream()
            await client.next()
            for n in range(10):  # in one go: the stream's queue overflows
                api.app.fire("work", "domain-paused", n=n)
            await api.wait(api.app.stream_closed.wait())
            return await client.rest()

    assert api.run(main()) == []
    assert "EventStreamOverflow" in caplog.text


def test_a_refused_stream_is_an_ordinary_error(api) -> None:
    async def main() -> bytes:
        async with api.server():
            return await api.call("test.Events", source="sys-gui")

    assert api.run(main()) == b"2\0PermissionDenied\0\0test.Events refused for sys-gui\0"


def test_event_stream_iterator_contract() -> None:
    async def main() -> list[object]:
        stream = EventStream()
        closed: list[str] = []
        stream.on_close(lambda: closed.append("closed"))
        stream.put("work", "domain-start", start_guid=True)
        stream.put(None, "domain-add", vm="work")
        stream.end()
        stream.put("work", "ignored after end")
        items: list[object] = [item async for item in stream]
        await stream.aclose()
        await stream.aclose()
        stream.on_close(lambda: closed.append("late"))
        return [*items, closed]

    assert asyncio.run(main()) == [
        ("work", "domain-start", {"start_guid": True}),
        (None, "domain-add", {"vm": "work"}),
        ["closed", "late"],
    ]
