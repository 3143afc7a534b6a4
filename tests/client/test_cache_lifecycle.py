"""Power states follow the lifecycle events; volume information is lazy and invalidated."""

from __future__ import annotations

from backend.client import PowerState, ShutdownMode, SystemCache, actions, qube_stats
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, make_client, run


def states_of(recorder: Recorder, name: str) -> list[PowerState]:
    """The distinct states a qube went through, in order, as listeners saw them."""
    states: list[PowerState] = []
    for old, new in recorder.named("qube_changed"):
        if new.name == name and old.state is not new.state:
            states.append(new.state)
    return states


def test_power_state_follows_start_pause_and_kill(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> list[PowerState]:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        assert cache.qubes["vault"].state is PowerState.HALTED
        await actions.start(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.RUNNING)
        await actions.pause(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.PAUSED)
        await actions.unpause(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.RUNNING)
        await actions.kill(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.HALTED)
        listed = await client.call("admin.vm.List", "vault")
        assert "state=Halted" in listed
        await cache.close()
        return states_of(recorder, "vault")

    assert run(main()) == [PowerState.TRANSIENT, PowerState.RUNNING, PowerState.PAUSED,
                           PowerState.RUNNING, PowerState.HALTED]


def test_shutdown_passes_through_halting(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> list[PowerState]:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await actions.start(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.RUNNING)
        recorder.clear()
        await actions.shutdown(client, "vault", ShutdownMode.WAIT)
        await recorder.wait_for(lambda: cache.qubes["vault"].state is PowerState.HALTED)
        await cache.close()
        return states_of(recorder, "vault")

    assert run(main()) == [PowerState.HALTING, PowerState.HALTED]


def test_volumes_are_loaded_on_request_and_forgotten_on_shutdown(
    running: RunningDaemon,
) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        assert cache.qubes["vault"].volumes is None
        volumes = await cache.load_volumes("vault")
        assert {"root", "private", "volatile"} <= set(volumes)
        assert volumes["private"].size > 0 and volumes["private"].save_on_stop
        assert volumes["root"].source is not None  # the template's root
        assert cache.qubes["vault"].volumes == volumes
        calls = client.stats.total
        assert await cache.load_volumes("vault") is cache.qubes["vault"].volumes
        assert client.stats.total == calls  # cached: no call

        await actions.start(client, "vault")
        await actions.kill(client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].volumes is None)
        again = await cache.load_volumes("vault")
        assert set(again) == set(volumes)
        assert client.stats.total > calls
        await cache.close()

    run(main())


def test_concurrent_volume_requests_share_one_read(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        import asyncio

        cache = SystemCache(client)
        await cache.start()
        before = client.stats.by_method.get("admin.vm.volume.List", 0)
        first, second = await asyncio.gather(cache.load_volumes("work"),
                                             cache.load_volumes("work"))
        assert first == second
        assert client.stats.by_method["admin.vm.volume.List"] == before + 1
        await cache.close()

    run(main())


def test_stats_stream_reports_running_qubes(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        await actions.start(client, "vault")
        stream = qube_stats(client)
        try:
            async for stats in stream:
                if stats.name == "vault":
                    assert stats.memory_kb > 0
                    assert stats.online_vcpus is not None and stats.online_vcpus >= 1
                    break
        finally:
            await stream.aclose()

    run(main())
