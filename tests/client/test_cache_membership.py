"""Qubes created and removed while the cache runs: one callback each, no re-listing."""

from __future__ import annotations

from backend.client import QubeClass, SystemCache, actions
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, make_client, run


def test_created_qube_is_added_and_removed_qube_is_dropped(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        recorder.clear()
        lists_before = client.stats.by_method.get("admin.vm.List", 0)

        await client.call("admin.vm.Create.AppVM", "dom0", "fedora-42",
                          b"name=scratch label=green")
        await recorder.wait_for(lambda: bool(recorder.named("qube_added")))
        (added,) = recorder.named("qube_added")[0]
        assert added.name == "scratch" and added.klass is QubeClass.APP_VM
        assert added.label == "green" and added.prop("template") == "fedora-42"
        await recorder.wait_for(lambda: cache.qubes["scratch"].tags is not None)
        model_tags = running.in_loop(lambda: set(running.app.domains["scratch"].tags))
        assert cache.qubes["scratch"].tags == model_tags
        # the new qube alone was listed: admin.vm.List with the qube as destination
        assert client.stats.by_method["admin.vm.List"] == lists_before + 1

        await actions.remove(client, "scratch")
        await recorder.wait_for(lambda: bool(recorder.named("qube_removed")))
        (removed,) = recorder.named("qube_removed")[0]
        assert removed.name == "scratch"
        assert "scratch" not in cache.qubes
        assert {name for name in recorder.changed_qubes()} <= {"scratch"}
        await cache.close()

    run(main())
