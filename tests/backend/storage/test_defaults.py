"""Per-class default volumes and snapshot source resolution along template chains."""

from __future__ import annotations

import pytest

from backend.errors import QubesValueError
from backend.storage.config import VolumeConfig, VolumeKind
from backend.storage.defaults import (
    GiB,
    VMClass,
    default_volume_configs,
    resolve_source,
)

POOLS = {"root": "vm-pool", "private": "vm-pool", "volatile": "vm-pool", "kernel": "linux-kernel"}


def _initialised(configs: dict[str, VolumeConfig], prefix: str) -> dict[str, VolumeConfig]:
    """What a qube's storage reports once init_volume filled in the vids."""
    return {
        name: config.replace(vid=config.vid or f"{prefix}/{name}") if name != "kernel" else config
        for name, config in configs.items()
    }


TEMPLATE = _initialised(
    default_volume_configs(VMClass.TEMPLATE, pools=POOLS, kernel="6.6.1"), "vm-templates/fedora"
)
DVM = _initialised(
    default_volume_configs(VMClass.APP, pools=POOLS, template_chain=[TEMPLATE]), "appvms/dvm"
)


def test_template_volumes() -> None:
    assert {name: c.kind for name, c in TEMPLATE.items()} == {
        "root": VolumeKind.ORIGIN,
        "private": VolumeKind.ORIGIN,
        "volatile": VolumeKind.VOLATILE,
        "kernel": VolumeKind.VOLATILE,
    }
    assert TEMPLATE["root"].size == 10 * GiB
    assert TEMPLATE["private"].size == 2 * GiB
    assert TEMPLATE["volatile"].size == 10 * GiB
    assert TEMPLATE["kernel"] == VolumeConfig(name="kernel", pool="linux-kernel", vid="6.6.1")
    assert all(c.rw for n, c in TEMPLATE.items() if n != "kernel")


def test_appvm_root_is_a_snapshot_of_the_template_root() -> None:
    root = DVM["root"]
    assert root.kind is VolumeKind.SNAPSHOT
    assert (root.source, root.pool, root.size) == ("vm-templates/fedora/root", "vm-pool", 10 * GiB)
    assert DVM["private"].kind is VolumeKind.ORIGIN and DVM["private"].source is None
    assert DVM["volatile"].size == 10 * GiB


def test_dispvm_sources_resolve_through_the_chain() -> None:
    disp = default_volume_configs(VMClass.DISP, pools=POOLS, template_chain=[DVM, TEMPLATE])
    assert disp["root"].source == "vm-templates/fedora/root"  # the TemplateVM's, not dvm's
    assert disp["private"].source == "appvms/dvm/private"
    assert disp["private"].kind is VolumeKind.SNAPSHOT
    assert disp["volatile"].size == 12 * GiB
    assert disp["volatile"].kind is VolumeKind.VOLATILE


def test_snapshot_volumes_live_in_their_sources_pool() -> None:
    template = {
        **TEMPLATE,
        "root": TEMPLATE["root"].replace(pool="fast-pool", size=20 * GiB),
    }
    appvm = default_volume_configs(VMClass.APP, pools=POOLS, template_chain=[template])
    assert (appvm["root"].pool, appvm["root"].size) == ("fast-pool", 20 * GiB)
    assert appvm["private"].pool == "vm-pool"


def test_dispvm_copies_pool_rw_and_ephemeral_from_its_dvm_template() -> None:
    dvm = {
        **DVM,
        "volatile": DVM["volatile"].replace(pool="ram", ephemeral=True),
        "root": DVM["root"].replace(rw=False),
    }
    disp = default_volume_configs(VMClass.DISP, pools=POOLS, template_chain=[dvm, TEMPLATE])
    assert (disp["volatile"].pool, disp["volatile"].ephemeral) == ("ram", True)
    assert disp["root"].rw is False
    assert disp["root"].pool == "vm-pool"  # snapshots stay with their source


def test_dispvm_of_a_standalone_dvm_template() -> None:
    standalone = _initialised(
        default_volume_configs(VMClass.STANDALONE, pools=POOLS), "appvms/sdvm"
    )
    disp = default_volume_configs(VMClass.DISP, pools=POOLS, template_chain=[standalone])
    assert disp["root"].source == "appvms/sdvm/root"
    assert disp["private"].source == "appvms/sdvm/private"


def test_extra_template_volumes_are_inherited() -> None:
    template = {
        **TEMPLATE,
        "data": VolumeConfig(
            name="data",
            pool="vm-pool",
            vid="vm-templates/fedora/data",
            rw=True,
            save_on_stop=True,
            size=GiB,
        ),
    }
    appvm = default_volume_configs(VMClass.APP, pools=POOLS, template_chain=[template])
    assert appvm["data"].vid is None  # its own volume, named after the AppVM later
    assert (appvm["data"].kind, appvm["data"].size) == (VolumeKind.ORIGIN, GiB)
    assert list(appvm)[:4] == ["root", "private", "volatile", "kernel"]


def test_admin_vm_has_no_volumes() -> None:
    assert default_volume_configs("AdminVM", pools=POOLS) == {}


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ([], "ends without"),
        ([{}], "has no such volume"),
        ([{"root": VolumeConfig(name="root", pool="p", vid="a/b/root", rw=True)}], "volatile"),
        ([{"root": VolumeConfig(name="root", save_on_stop=True)}], "not initialised"),
        ([{"root": VolumeConfig(name="root", snap_on_start=True, source="x/y/root")}], "ends"),
    ],
)
def test_resolve_source_errors(chain: list[dict[str, VolumeConfig]], message: str) -> None:
    with pytest.raises(QubesValueError, match=message):
        resolve_source("root", chain)


def test_appvm_without_template_chain_is_refused() -> None:
    with pytest.raises(QubesValueError, match="template"):
        default_volume_configs(VMClass.APP, pools=POOLS)


def test_missing_pool_is_named() -> None:
    with pytest.raises(QubesValueError, match="private"):
        default_volume_configs(VMClass.TEMPLATE, pools={"root": "p"})


def test_dir_prefix_per_class() -> None:
    assert VMClass.TEMPLATE.dir_prefix == "vm-templates"
    assert {VMClass(k).dir_prefix for k in ("AppVM", "DispVM", "StandaloneVM")} == {"appvms"}
