"""VirtConnection on libvirt's in-process test driver: calls, events, reconnection."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid as uuidlib

import pytest

from backend.virt.connection import VirtConnection
from backend.virt.domainxml import DomainSpec, VirtMode, xen_domain_xml
from backend.virt.errors import (
    VirtConnectionError,
    VirtDomainNotFoundError,
    VirtError,
    VirtInvalidOperationError,
    VirtXMLError,
)
from backend.virt.states import LifecycleEvent, LifecycleKind, PowerState
from tests.backend.virt import specs
from tests.backend.virt.conftest import expect, run

K = LifecycleKind
STOPPED_SHUTDOWN, STOPPED_DESTROYED = 0, 1  # VIR_DOMAIN_EVENT_STOPPED_* details


def qube(name: str, number: int, vcpus: int = 2) -> DomainSpec:
    return dataclasses.replace(
        specs.PVH, name=name, uuid=uuidlib.UUID(int=number), vcpus=vcpus, network=None
    )


def test_lifecycle_events_reach_the_loop_in_order(world_uri: str) -> None:
    async def main() -> None:
        events: asyncio.Queue[LifecycleEvent] = asyncio.Queue()
        threads: set[int] = set()

        def on_event(event: LifecycleEvent) -> None:
            threads.add(threading.get_ident())
            events.put_nowait(event)

        async with VirtConnection(world_uri, on_lifecycle=on_event) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await expect(events, K.DEFINED)
            assert await conn.state(uuid) is PowerState.HALTED

            await conn.start_paused(uuid)
            await expect(events, K.STARTED, K.SUSPENDED)
            assert await conn.state(uuid) is PowerState.PAUSED

            await conn.resume(uuid)
            await expect(events, K.RESUMED)
            assert await conn.state(uuid) is PowerState.RUNNING

            await conn.suspend(uuid)
            await expect(events, K.SUSPENDED)
            assert await conn.state(uuid) is PowerState.PAUSED
            await conn.resume(uuid)
            await expect(events, K.RESUMED)

            await conn.shutdown(uuid)
            (stopped,) = await expect(events, K.STOPPED)
            assert stopped.detail == STOPPED_SHUTDOWN
            assert await conn.state(uuid) is PowerState.HALTED

            await conn.start_paused(uuid)
            await conn.destroy(uuid)
            *_, killed = await expect(events, K.STARTED, K.SUSPENDED, K.STOPPED)
            assert killed.detail == STOPPED_DESTROYED
            assert (killed.uuid, killed.name) == (uuid, "work")

            await conn.undefine(uuid)
            await expect(events, K.UNDEFINED)
            assert events.empty()
        assert threads == {threading.get_ident()}  # handed over to the asyncio thread

    run(main)


def test_state_of_an_unknown_domain_is_halted(world_uri: str) -> None:
    async def main() -> PowerState:
        async with VirtConnection(world_uri) as conn:
            return await conn.state(str(uuidlib.UUID(int=404)))

    assert run(main) is PowerState.HALTED


def test_every_connection_starts_with_an_empty_private_world(world_uri: str) -> None:
    async def main() -> tuple[int, int]:
        async with VirtConnection(world_uri) as first, VirtConnection(world_uri) as second:
            uuid = await first.define(xen_domain_xml(qube("work", 1)))
            await first.start_paused(uuid)
            return len(await first.list_active()), len(await second.list_active())

    assert run(main) == (1, 0)


def test_list_active_reports_running_and_paused_domains(world_uri: str) -> None:
    async def main() -> dict[str, tuple[PowerState, bool]]:
        async with VirtConnection(world_uri) as conn:
            running = await conn.define(xen_domain_xml(qube("running", 1)))
            paused = await conn.define(xen_domain_xml(qube("paused", 2)))
            await conn.define(xen_domain_xml(qube("halted", 3)))
            await conn.start_paused(running)
            await conn.resume(running)
            await conn.start_paused(paused)
            return {s.name: (s.power_state, s.xid > 0) for s in await conn.list_active()}

    assert run(main) == {
        "running": (PowerState.RUNNING, True),
        "paused": (PowerState.PAUSED, True),
    }


def test_wrong_state_is_an_invalid_operation(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await conn.destroy(uuid)  # not running at all

    with pytest.raises(VirtInvalidOperationError) as info:
        run(main)
    assert info.value.code == 55  # VIR_ERR_OPERATION_INVALID
    assert str(info.value).startswith("Cannot kill domain")


def test_other_failures_keep_libvirt_code_and_message(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await conn.resume(uuid)  # the test driver: internal error, "not paused"

    with pytest.raises(VirtError) as info:
        run(main)
    assert info.value.code == 1  # VIR_ERR_INTERNAL_ERROR
    assert info.value.libvirt_message == "internal error: domain 'work' not paused"
    assert str(info.value) == (
        "Cannot resume domain 00000000-0000-0000-0000-000000000001: "
        "internal error: domain 'work' not paused"
    )


def test_operation_on_a_missing_domain_is_not_found(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            await conn.destroy(str(uuidlib.UUID(int=404)))

    with pytest.raises(VirtDomainNotFoundError) as info:
        run(main)
    assert info.value.code == 42  # VIR_ERR_NO_DOMAIN


def test_refused_xml_is_an_xml_error(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            await conn.define("<domain type='xen'><name>x</name></domain>")

    with pytest.raises(VirtXMLError) as info:
        run(main)
    assert info.value.code == 27  # VIR_ERR_XML_ERROR


def test_stats_sample_running_domains(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            one = await conn.define(xen_domain_xml(qube("one", 1, vcpus=2)))
            two = await conn.define(xen_domain_xml(qube("two", 2, vcpus=1)))
            await conn.define(xen_domain_xml(qube("off", 3)))
            for uuid in (one, two):
                await conn.start_paused(uuid)
                await conn.resume(uuid)
            first = {s.name: s for s in await conn.stats()}
            second = {s.name: s for s in await conn.stats()}
            assert set(first) == set(second) == {"one", "two"}
            assert all(s.cpu_usage == 0 for s in first.values())  # nothing to compare with
            for name, vcpus in (("one", 2), ("two", 1)):
                sample = second[name]
                assert sample.memory_kb == 400 * 1024
                assert sample.online_vcpus == vcpus
                assert sample.cpu_time >= first[name].cpu_time > 0
                assert 0 <= sample.cpu_usage <= 100
            await conn.destroy(two)
            assert [s.name for s in await conn.stats()] == ["one"]

    run(main)


def test_host_info(world_uri: str) -> None:
    async def main() -> tuple[int, int]:
        async with VirtConnection(world_uri) as conn:
            info = await conn.host_info()
            return info.memory_total_mib, info.cpu_count

    assert run(main) == (3072, 16)  # the test driver's fixed node


def test_open_fails_with_a_connection_error(tmp_path: object) -> None:
    async def main() -> None:
        async with VirtConnection(f"test://{tmp_path}/missing.xml"):
            pass

    with pytest.raises(VirtConnectionError) as info:
        run(main)
    assert info.value.code is not None


def test_calls_after_close_are_refused(world_uri: str) -> None:
    async def main() -> None:
        conn = VirtConnection(world_uri)
        await conn.open()
        await conn.close()
        await conn.list_active()

    with pytest.raises(VirtConnectionError):
        run(main)


def test_a_failing_lifecycle_handler_does_not_stop_the_stream(world_uri: str) -> None:
    async def main() -> None:
        events: asyncio.Queue[LifecycleEvent] = asyncio.Queue()

        def on_event(event: LifecycleEvent) -> None:
            events.put_nowait(event)
            raise RuntimeError("handler bug")

        async with VirtConnection(world_uri, on_lifecycle=on_event) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await conn.start_paused(uuid)
            await expect(events, K.DEFINED, K.STARTED, K.SUSPENDED)

    run(main)


# -- reconnection -----------------------------------------------------------------------


def close_underneath(conn: VirtConnection) -> None:
    """Close the libvirt connection behind the wrapper's back, from another thread."""
    raw = conn._conn
    closer = threading.Thread(target=raw.close)
    closer.start()
    closer.join()


def test_reconnects_when_the_connection_is_closed_underneath() -> None:
    # test:///default keeps its world while any connection to it lives, like a
    # restarted libvirtd keeps its domains; names are unique because it is shared
    async def main() -> None:
        events: asyncio.Queue[LifecycleEvent] = asyncio.Queue()
        reconnected = asyncio.Event()
        spec = qube("reconnect-test", 0xBEEF)
        async with VirtConnection(
            "test:///default", on_lifecycle=events.put_nowait, on_reconnect=reconnected.set
        ) as conn:
            uuid = await conn.define(xen_domain_xml(spec))
            await conn.start_paused(uuid)
            await expect(events, K.DEFINED, K.STARTED, K.SUSPENDED)
            assert conn.generation == 1

            close_underneath(conn)
            # the next call finds the connection dead, reconnects and still answers
            assert await conn.state(uuid) is PowerState.PAUSED
            await asyncio.wait_for(reconnected.wait(), 10)
            assert conn.generation == 2

            # events flow again, each exactly once: the abandoned registration still
            # fires in libvirt, and must be ignored
            await conn.resume(uuid)
            await conn.destroy(uuid)
            await conn.undefine(uuid)
            await expect(events, K.RESUMED, K.STOPPED, K.UNDEFINED)
            barrier = await conn.define(xen_domain_xml(qube("reconnect-barrier", 0xBEEF + 1)))
            await conn.undefine(barrier)
            await expect(events, K.DEFINED, K.UNDEFINED)
            assert events.empty()

    run(main)


def test_close_callback_reconnects_without_waiting_for_a_call(world_uri: str) -> None:
    async def main() -> None:
        reconnects: asyncio.Queue[int] = asyncio.Queue()

        async def on_reconnect() -> None:  # coroutine hooks are awaited as tasks
            reconnects.put_nowait(conn.generation)

        conn = VirtConnection(world_uri, on_reconnect=on_reconnect)
        async with conn:
            # what libvirt's event thread does when libvirtd goes away (reason EOF)
            thread = threading.Thread(target=conn._on_close, args=(None, 1, conn.generation))
            thread.start()
            thread.join()
            assert await asyncio.wait_for(reconnects.get(), 10) == 2
            # a close callback from the abandoned connection changes nothing
            conn._on_close(None, 1, 1)
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await conn.start_paused(uuid)
            assert await conn.state(uuid) is PowerState.PAUSED
            assert conn.generation == 2 and reconnects.empty()

    run(main)


def test_hvm_xml_is_adapted_for_the_test_driver_on_define(world_uri: str) -> None:
    assert specs.HVM.virt_mode is VirtMode.HVM

    async def main() -> tuple[str, str]:
        async with VirtConnection(world_uri) as conn:
            return conn.driver, await conn.define(xen_domain_xml(specs.HVM))

    assert run(main) == ("TEST", str(specs.HVM.uuid))


def test_info_reports_memory_and_vcpus_of_a_running_domain(world_uri: str) -> None:
    async def main() -> tuple[int, int, int, int]:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1, vcpus=3)))
            await conn.start_paused(uuid)
            await conn.resume(uuid)
            return await conn.info(uuid)

    max_kb, mem_kb, vcpus, _cpu_ns = run(main)
    assert vcpus == 3
    assert 0 < mem_kb <= max_kb


def test_hotplug_where_the_driver_cannot_is_our_error_not_libvirts(world_uri: str) -> None:
    async def main() -> None:
        async with VirtConnection(world_uri) as conn:
            uuid = await conn.define(xen_domain_xml(qube("work", 1)))
            await conn.start_paused(uuid)
            await conn.attach_device(uuid, "<interface type='ethernet'/>")

    with pytest.raises(VirtError) as info:
        run(main)
    assert str(info.value).startswith("Cannot attach a device to domain")
