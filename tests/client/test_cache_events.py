"""Changes reach the cache through events: one qube, one property, no re-listing."""

from __future__ import annotations

from backend.client import PropertyValue, SystemCache, actions
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, make_client, run


def test_property_set_reaches_the_cache_through_its_event(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        recorder.clear()
        before = client.stats.by_method
        await actions.set_property(client, "work", "vcpus", "4")
        await recorder.wait_for(lambda: cache.qubes["work"].prop("vcpus") == "4")
        after = client.stats.by_method
        assert cache.qubes["work"].properties["vcpus"] == PropertyValue(False, "int", "4")
        assert recorder.changed_qubes() == ["work"]
        old, new = recorder.named("qube_changed")[0]
        assert old.prop("vcpus") == "2" and new.prop("vcpus") == "4"
        # the event made one Get; nothing was listed or read in bulk again
        for method in ("admin.vm.List", "admin.vm.property.GetAll"):
            assert after.get(method) == before.get(method)
        assert after.get("admin.vm.property.Get", 0) == before.get("admin.vm.property.Get", 0) + 1
        await cache.close()

    run(main())


def test_reset_property_falls_back_to_the_default(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        await cache.start()
        recorder = Recorder()
        cache.add_listener(recorder)
        await actions.set_property(client, "work", "netvm", "sys-whonix")
        await recorder.wait_for(lambda: cache.qubes["work"].prop("netvm") == "sys-whonix")
        assert cache.qubes["work"].is_default("netvm") is False
        await actions.reset_property(client, "work", "netvm")
        await recorder.wait_for(lambda: cache.qubes["work"].is_default("netvm") is True)
        assert cache.qubes["work"].prop("netvm") == "sys-firewall"
        await cache.close()

    run(main())


def test_global_default_change_updates_the_qubes_using_it(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        vault_before = cache.qubes["vault"]
        await actions.set_property(client, None, "default_netvm", "sys-whonix")
        await recorder.wait_for(lambda: cache.qubes["work"].prop("netvm") == "sys-whonix")
        await recorder.wait_for(lambda: bool(recorder.named("global_property_changed")))
        name, old, new = recorder.named("global_property_changed")[0]
        assert name == "default_netvm"
        assert old.value == "sys-firewall" and new.value == "sys-whonix"
        assert cache.global_properties["default_netvm"].value == "sys-whonix"
        assert cache.qubes["work"].is_default("netvm") is True
        assert cache.qubes["vault"] is vault_before  # its netvm is set explicitly (none)
        await cache.close()

    run(main())


def test_feature_and_tag_events_update_only_that_qube(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> None:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        recorder.clear()
        before = client.stats.total
        await actions.set_feature(client, "personal", "prohibit-start", "1")
        await actions.add_tag(client, "personal", "backup-me")
        await recorder.wait_for(lambda: cache.qubes["personal"].has_tag("backup-me"))
        assert cache.qubes["personal"].feature("prohibit-start") == "1"
        await actions.remove_feature(client, "personal", "prohibit-start")
        await actions.remove_tag(client, "personal", "backup-me")
        await recorder.wait_for(lambda: not cache.qubes["personal"].has_tag("backup-me"))
        assert cache.qubes["personal"].feature("prohibit-start") is None
        assert set(recorder.changed_qubes()) == {"personal"}
        # events carry the values: the four calls above were the only calls
        assert client.stats.total == before + 4
        await cache.close()

    run(main())


def test_a_buggy_listener_does_not_stop_the_others(running: RunningDaemon) -> None:
    client = make_client(running)

    class Broken(Recorder):
        def qube_changed(self, old: object, new: object) -> None:
            raise RuntimeError("broken view")

    async def main() -> None:
        cache = SystemCache(client)
        cache.add_listener(Broken())
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await cache.wait_details()
        recorder.clear()
        await actions.set_property(client, "work", "vcpus", "3")
        await recorder.wait_for(lambda: recorder.changed_qubes() == ["work"])
        await cache.close()

    run(main())
