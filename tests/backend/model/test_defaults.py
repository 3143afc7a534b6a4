"""Defaults of qube and global properties, and how computed defaults follow changes."""

from __future__ import annotations

import pytest

from backend.errors import QubesNoSuchPropertyError
from backend.model.app import Qubes
from backend.model.properties import NoValue
from backend.model.vm import VM_CLASSES, PowerState

from .conftest import Recorder


@pytest.mark.parametrize(("klass", "count"), [
    ("AdminVM", 12), ("TemplateVM", 47), ("AppVM", 48), ("StandaloneVM", 47), ("DispVM", 50),
])
def test_each_class_has_the_upstream_number_of_properties(klass: str, count: int) -> None:
    assert len(VM_CLASSES[klass].PROPS) == count


def test_plain_defaults_of_an_appvm(app: Qubes) -> None:
    work = app.domains["work"]
    assert work.get("memory") == 400
    assert work.get("vcpus") == 2
    assert work.get("virt_mode") == "pvh"
    assert work.get("default_user") == "user"
    assert work.get("debug") is False
    assert work.get("autostart") is False
    assert work.get("include_in_backups") is True
    assert work.get("updateable") is False
    assert work.get("mac") == "00:16:3e:5e:6c:00"
    assert work.get("klass") == "AppVM"
    assert work.get("icon") == "appvm-blue"
    assert work.get("xid") == -1
    assert work.get("start_time") is None
    assert work.get("keyboard_layout") == "us++"
    assert work.get("devices_denied") == ""


def test_template_netvm_defaults_to_none_not_the_global(app: Qubes) -> None:
    assert app.domains["fedora"].get("netvm") is None
    assert app.domains["work"].get("netvm") is app.domains["sys-firewall"]


def test_template_based_values_follow_the_template(app: Qubes, recorder: Recorder) -> None:
    fedora, work = app.domains["fedora"], app.domains["work"]
    fedora.set("memory", 800)
    assert work.get("memory") == 800
    assert "property-reset:memory" in recorder.names("work")
    work.set("memory", 1000)
    recorder.clear()
    fedora.set("memory", 900)
    assert work.get("memory") == 1000
    assert "property-reset:memory" not in recorder.names("work")


def test_dispvm_follows_its_dvm_template_which_follows_its_template(app: Qubes) -> None:
    disp = app.create_dispvm(app.domains["default-dvm"])
    app.domains["fedora"].set("vcpus", 4)
    assert disp.get("vcpus") == 4
    assert disp.get("default_dispvm") is app.domains["default-dvm"]
    assert disp.get("include_in_backups") is False  # auto_cleanup
    assert disp.get("icon") == "dispvm-red"


def test_global_default_netvm_change_is_followed_and_echoed(
    app: Qubes, recorder: Recorder
) -> None:
    work, vault = app.domains["work"], app.domains["vault"]
    app.globals.set("default_netvm", app.domains["sys-net"])
    assert work.get("netvm") is app.domains["sys-net"]
    assert vault.get("netvm") is None
    assert "property-reset:netvm" in recorder.names("work")
    assert "property-reset:netvm" not in recorder.names("vault")
    assert "property-reset:netvm" not in recorder.names("fedora")  # template: own default


def test_global_timeouts_are_followed(app: Qubes, recorder: Recorder) -> None:
    app.globals.set("default_qrexec_timeout", 120)
    assert app.domains["fedora"].get("qrexec_timeout") == 120
    assert app.domains["work"].get("qrexec_timeout") == 120
    assert "property-reset:qrexec_timeout" in recorder.names("fedora")
    assert "property-reset:qrexec_timeout" in recorder.names("work")


def test_default_dispvm_follows_the_global(app: Qubes, recorder: Recorder) -> None:
    other = app.add_new_vm("AppVM", "other-dvm", "red", properties={"template_for_dispvms": True})
    app.globals.set("default_dispvm", other)
    assert app.domains["work"].get("default_dispvm") is other
    assert "property-reset:default_dispvm" in recorder.names("work")


def test_guivm_tag_follows_guivm(app: Qubes, recorder: Recorder) -> None:
    work = app.domains["work"]
    assert "guivm-dom0" in work.tags
    gui = app.add_new_vm("AppVM", "sys-gui", "black")
    work.set("guivm", gui)
    assert "guivm-sys-gui" in work.tags and "guivm-dom0" not in work.tags
    work.set("guivm", None)
    assert not [t for t in work.tags if t.startswith("guivm-")]
    work.reset("guivm")
    assert "guivm-dom0" in work.tags


def test_kernelopts_defaults(app: Qubes) -> None:
    work, standalone = app.domains["work"], app.domains["standalone"]
    assert standalone.get("kernel") == "6.6.1"
    assert standalone.get("kernelopts") == "swiotlb=4096"  # kernel dir's nopci file
    standalone.set("kernel", "6.1.9")
    assert standalone.get("kernelopts") == "swiotlb=2048"  # no file: built-in default
    standalone.set("kernel", "")
    assert standalone.get("kernelopts") == ""
    app.domains["fedora"].set("kernelopts", "quiet")
    assert work.get("kernelopts") == "quiet"


def test_maxmem_default_depends_on_os_and_host(app: Qubes) -> None:
    work = app.domains["work"]
    assert work.get("maxmem") == 4000
    app.domains["fedora"].features.set("os", "Linux")
    assert app.domains["fedora"].get("maxmem") == 4000  # 400*10, host/2 = 8000
    app.domains["fedora"].set("memory", 1000)
    assert app.domains["fedora"].get("maxmem") == 8000  # capped at half the host


def test_maxmem_is_zero_where_balancing_is_impossible() -> None:
    from backend.model.app import HostInfo

    app = Qubes(host=HostInfo(is_xen=False))
    app.create_adminvm()
    sa = app.add_new_vm("StandaloneVM", "sa", "red")
    assert sa.get("maxmem") == 0


def test_network_addresses_follow_qid_and_netvm(app: Qubes) -> None:
    work, vault, fw = app.domains["work"], app.domains["vault"], app.domains["sys-firewall"]
    assert work.get("ip") == f"10.137.0.{work.qid}"
    assert work.get("visible_gateway") == fw.get("ip")
    assert fw.get("gateway") == fw.get("ip")
    assert work.get("gateway") is None
    assert work.get("dns") == "10.139.1.1 10.139.1.2"
    assert work.get("visible_netmask") == "255.255.255.255"
    assert vault.get("ip") is None and vault.get("dns") is None
    assert work.get("ip6") is None
    app.domains["sys-net"].features.set("ipv6", "1")
    assert work.get("ip6") == f"fd09:24ef:4179::a89:{work.qid:x}"
    work.features.set("net.fake-ip", "192.168.1.5")
    assert work.get("visible_ip") == "192.168.1.5"


def test_dispvm_address_uses_dispid(app: Qubes) -> None:
    disp = app.create_dispvm(app.domains["default-dvm"])
    assert disp.get("ip").startswith("10.138.")
    assert disp.name == f"disp{disp.get('dispid')}"


def test_global_defaults(app: Qubes) -> None:
    g = app.globals
    assert g.get("default_guivm") is app.domains["dom0"]
    assert g.get("default_audiovm") is app.domains["dom0"]
    assert g.get("stats_interval") == 3
    assert g.get("check_updates_vm") is True
    assert g.get("default_pool") == "varlibqubes"
    assert g.get("default_pool_private") == "varlibqubes"
    assert g.get("maxmem") == 16000 and g.get("no_cpus") == 8
    assert g.get("updatevm") is None


def test_unset_property_without_default_has_no_value() -> None:
    app = Qubes()
    app.create_adminvm()
    with pytest.raises(NoValue):
        app.globals.get("default_template")
    with pytest.raises(NoValue):
        app.globals.get("default_kernel")


def test_unknown_property_is_an_attribute_error(app: Qubes) -> None:
    with pytest.raises(QubesNoSuchPropertyError):
        app.domains["work"].get("no_such_thing")
    with pytest.raises(AttributeError):
        app.domains["work"].set("no_such_thing", "1")


def test_icon_kinds(app: Qubes, recorder: Recorder) -> None:
    assert app.domains["dom0"].get("icon") == "adminvm-black"
    assert app.domains["fedora"].get("icon") == "templatevm-black"
    assert app.domains["default-dvm"].get("icon") == "templatevm-red"
    assert app.domains["sys-net"].get("icon") == "servicevm-red"
    assert app.domains["standalone"].get("icon") == "standalonevm-purple"
    app.domains["work"].set("label", "green")
    assert app.domains["work"].get("icon") == "appvm-green"
    assert "property-reset:icon" in recorder.names("work")


def test_running_state_is_reported_by_is_running(app: Qubes) -> None:
    work = app.domains["work"]
    assert work.is_halted()
    work.power_state = PowerState.PAUSED
    assert work.is_running() and not work.is_halted()
