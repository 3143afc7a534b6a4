"""The first load of the demo system: every qube with its class, state and properties."""

from __future__ import annotations

from typing import Any

from backend.client import PowerState, QubeClass, SystemCache
from backend.protocol import parse_getall
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import Recorder, make_client, run

DEMO_QUBES = {
    "dom0": QubeClass.ADMIN_VM,
    "fedora-42": QubeClass.TEMPLATE_VM,
    "debian-13": QubeClass.TEMPLATE_VM,
    "whonix-gateway-18": QubeClass.TEMPLATE_VM,
    "whonix-workstation-18": QubeClass.TEMPLATE_VM,
    "sys-net": QubeClass.APP_VM,
    "sys-firewall": QubeClass.APP_VM,
    "default-dvm": QubeClass.APP_VM,
    "work": QubeClass.APP_VM,
    "vault": QubeClass.APP_VM,
}


def model_view(running: RunningDaemon) -> dict[str, dict[str, Any]]:
    """What the daemon's model says, read on its own thread."""

    def read() -> dict[str, dict[str, Any]]:
        return {
            vm.name: {
                "klass": vm.klass,
                "state": vm.power_state.value,
                "uuid": vm.uuid,
                "label": vm.label.name if vm.label is not None else None,
                "features": dict(vm.features.items()),
                "tags": set(vm.tags),
            }
            for vm in running.app.domains
        }

    return running.in_loop(read)


def test_first_load_has_every_qube_with_class_state_and_properties(
    running: RunningDaemon,
) -> None:
    expected = model_view(running)
    client = make_client(running)

    async def main() -> SystemCache:
        cache = SystemCache(client)
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        assert recorder.named("loaded") == [()]
        await cache.close()
        return cache

    cache = run(main())
    assert set(cache.qubes) == set(expected)
    for name, klass in DEMO_QUBES.items():
        assert cache.qubes[name].klass is klass
    for name, facts in expected.items():
        qube = cache.qubes[name]
        assert qube.klass == facts["klass"]
        assert qube.state is PowerState(facts["state"])
        assert qube.uuid == facts["uuid"]
        assert qube.label == facts["label"]
        assert qube.properties == parse_getall(running.call("admin.vm.property.GetAll", name))
    assert cache.qubes["work"].prop("template") == "fedora-42"
    assert cache.qubes["work"].prop("netvm") == "sys-firewall"
    assert cache.qubes["work"].is_default("netvm") is True


def test_first_load_costs_one_list_and_one_getall_per_qube(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> int:
        cache = SystemCache(client, bulk=False)
        await cache.start()
        stats = client.stats
        await cache.close()
        assert stats.by_method["admin.vm.List"] == 1
        assert stats.by_method["admin.vm.property.GetAll"] == len(cache.qubes)
        assert "admin.vm.property.Get" not in stats.by_method
        return len(cache.qubes)

    assert run(main()) == len(model_view(running))


def test_labels_and_global_properties_are_loaded(running: RunningDaemon) -> None:
    client = make_client(running)

    async def main() -> SystemCache:
        cache = SystemCache(client)
        await cache.start()
        await cache.close()
        return cache

    cache = run(main())
    assert cache.labels["red"].color == "0xcc0000"
    assert cache.labels["red"].index == 1
    assert cache.labels["blue"].rgb == 0x3465A4
    work_label = cache.label_of(cache.qubes["work"])
    assert work_label is not None and work_label.name == cache.qubes["work"].label
    netvm = cache.global_properties["default_netvm"]
    assert netvm.type == "vm" and netvm.value == "sys-firewall"


def test_features_and_tags_follow_the_properties(running: RunningDaemon) -> None:
    expected = model_view(running)
    client = make_client(running)

    async def main() -> SystemCache:
        cache = SystemCache(client)
        await cache.start()
        await cache.wait_details()
        await cache.close()
        return cache

    cache = run(main())
    for name, facts in expected.items():
        qube = cache.qubes[name]
        assert qube.features == facts["features"], name
        assert qube.tags == facts["tags"], name


def test_only_wanted_features_are_fetched_per_qube(running: RunningDaemon) -> None:
    expected = model_view(running)
    client = make_client(running)

    async def main() -> SystemCache:
        cache = SystemCache(client, features={"os-distribution"}, bulk=False)
        await cache.start()
        await cache.wait_details()
        await cache.close()
        return cache

    cache = run(main())
    templates = [n for n, f in expected.items() if "os-distribution" in f["features"]]
    assert len(templates) == 4
    for name, facts in expected.items():
        wanted = {k: v for k, v in facts["features"].items() if k == "os-distribution"}
        assert cache.qubes[name].features == wanted, name
    assert client.stats.by_method["admin.vm.feature.Get"] == len(templates)
    assert client.stats.by_method["admin.vm.feature.List"] == len(expected)
