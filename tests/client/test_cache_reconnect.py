"""A daemon restart: the stream reconnects and the cache reconciles, reporting only changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backend.client import SystemCache, actions
from backend.system import System
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, make_client, run


async def change_offline(state_dir: Path) -> None:
    """What happens while no daemon runs: one property, one qube gone, one new."""
    system = await asyncio.to_thread(System.open, state_dir)
    try:
        system.app.domains["work"].set("vcpus", 6)
        await system.remove_vm(system.app.domains["untrusted"])
        await system.create_vm("AppVM", "newbie", "green",
                               template=system.app.domains["fedora-42"])
    finally:
        system.close()


def test_restarted_daemon_is_reconciled_not_reloaded(tmp_path: Path) -> None:
    state, sock = tmp_path / "state", tmp_path / "qubesd.sock"
    first = RunningDaemon(state, sock)
    client = make_client(first, reconnect_delay=0.05)

    async def main() -> RunningDaemon:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        recorder.clear()
        untouched = {name: cache.qubes[name] for name in ("vault", "personal", "fedora-42")}

        await asyncio.to_thread(first.close)
        await recorder.wait_for(lambda: recorder.named("connection_changed") == [(False,)])
        assert cache.connected is False
        await change_offline(state)
        second = await asyncio.to_thread(RunningDaemon, state, sock)
        await recorder.wait_for(lambda: (True,) in recorder.named("connection_changed"))
        await cache.wait_details()

        assert cache.connected is True
        assert recorder.named("loaded") == []  # reconciled, not rebuilt
        assert [q.name for (q,) in recorder.named("qube_removed")] == ["untrusted"]
        assert [q.name for (q,) in recorder.named("qube_added")] == ["newbie"]
        assert "work" in recorder.changed_qubes()
        assert cache.qubes["work"].prop("vcpus") == "6"
        for name, snapshot in untouched.items():
            assert cache.qubes[name] == snapshot
            assert name not in recorder.changed_qubes()
        assert cache.qubes["newbie"].tags is not None  # its details were loaded too

        # and events flow again on the new connection
        await actions.set_property(client, "personal", "vcpus", "3")
        await recorder.wait_for(lambda: cache.qubes["personal"].prop("vcpus") == "3")
        await cache.close()
        return second

    second = run(main())
    second.close()
