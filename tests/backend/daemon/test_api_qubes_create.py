"""admin.vm.Create.*, admin.vm.CreateInPool.* and admin.vm.Remove."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.errors import (
    ProtocolError,
    QubesInvalidLabelError,
    QubesLabelNotFoundError,
    QubesNoTemplateError,
    QubesPropertyValueError,
    QubesValueError,
    QubesVMAlreadyExistsError,
    QubesVMInUseError,
    QubesVMNotFoundError,
)

from .conftest import RunningDaemon
from .test_api_qubes_helpers import (
    error,
    files_under,
    ok,
    qube_names,
    stored_qube,
    write_policy,
)


def _volume_pools(running: RunningDaemon, name: str) -> dict[str, str]:
    def read() -> dict[str, str]:
        storage = running.daemon.system.storages[name]
        return {vol: str(config.pool) for vol, config in storage.configs().items()}

    return running.in_loop(read)


def test_create_then_remove_round_trip_with_events_and_files(running: RunningDaemon) -> None:
    reader = running.open_events()
    try:
        reader.next()
        raw = running.raw("admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=new label=green")
        assert raw == ok()
        added = reader.wait_for(lambda r: r.event == "domain-create-on-disk")
        record = stored_qube(running, "new")
        assert record is not None and record.properties["template"] == "fedora-42"
        assert (running.state_dir / "appvms" / "new" / "private.img").exists()

        assert running.raw("admin.vm.Remove", "new") == ok()
        removed = reader.wait_for(lambda r: r.event == "domain-remove-from-disk")
    finally:
        reader.close()
    events = [(r.subject, r.event, r.kwargs) for r in added]
    assert events[0] == (None, "domain-add", {"vm": "new"})
    assert ("new", "domain-tag-add:created-by-dom0", {"tag": "created-by-dom0"}) in events
    assert events[-1] == ("new", "domain-create-on-disk", {})
    deletes = [(r.subject, r.event, r.kwargs) for r in removed]
    assert (None, "domain-pre-delete", {"vm": "new"}) in deletes
    assert (None, "domain-delete", {"vm": "new"}) in deletes
    assert "new" not in qube_names(running)
    assert stored_qube(running, "new") is None
    assert not (running.state_dir / "appvms" / "new").exists()


def test_a_created_qube_has_its_class_template_label_and_creator_tag(
    running: RunningDaemon,
) -> None:
    running.call("admin.vm.Create.AppVM", "dom0", "debian-13", b"name=dev label=purple")
    assert running.call("admin.vm.List", "dev").startswith("dev class=AppVM state=Halted uuid=")
    assert running.call("admin.vm.property.Get", "dev", "template") == (
        "default=False type=vm debian-13"
    )
    assert running.call("admin.vm.property.Get", "dev", "label") == (
        "default=False type=label purple"
    )
    assert running.call("admin.vm.tag.Get", "dev", "created-by-dom0") == "1"


def test_create_without_template_uses_default_template(running: RunningDaemon) -> None:
    running.call("admin.vm.Create.AppVM", "dom0", payload=b"label=red name=plain")
    assert running.call("admin.vm.property.Get", "plain", "template") == (
        "default=False type=vm fedora-42"
    )


@pytest.mark.parametrize("klass", ["TemplateVM", "StandaloneVM"])
def test_create_of_classes_without_template(running: RunningDaemon, klass: str) -> None:
    running.call(f"admin.vm.Create.{klass}", "dom0", payload=b"name=mine label=black")
    assert running.call("admin.vm.List", "mine").startswith(f"mine class={klass} ")
    assert set(_volume_pools(running, "mine")) == {"root", "private", "volatile", "kernel"}


def test_create_in_pool_puts_every_volume_in_that_pool(running: RunningDaemon) -> None:
    running.call(
        "admin.vm.CreateInPool.AppVM",
        "dom0",
        "fedora-42",
        b"name=pooled label=red pool=varlibqubes",
    )
    pools = _volume_pools(running, "pooled")
    assert pools["private"] == pools["volatile"] == "varlibqubes"


def test_create_in_pool_per_volume(running: RunningDaemon) -> None:
    running.call(
        "admin.vm.CreateInPool.StandaloneVM",
        "dom0",
        payload=b"name=split label=red pool:private=varlibqubes pool:root=varlibqubes",
    )
    assert _volume_pools(running, "split")["private"] == "varlibqubes"


def test_create_dispvm_is_a_named_disposable_with_its_template_settings(
    running: RunningDaemon,
) -> None:
    running.call("admin.vm.property.Set", "default-dvm", "vcpus", b"3")
    running.call("admin.vm.Create.DispVM", "dom0", "default-dvm", b"name=disp-web label=orange")
    props = {
        p: running.call("admin.vm.property.Get", "disp-web", p)
        for p in ("template", "auto_cleanup", "vcpus", "label", "dispid")
    }
    assert props["template"] == "default=False type=vm default-dvm"
    assert props["auto_cleanup"] == "default=False type=bool False"
    assert props["vcpus"] == "default=False type=int 3"
    assert props["label"] == "default=False type=label orange"
    assert props["dispid"].startswith("default=False type=int ")
    assert running.call("admin.vm.feature.Get", "disp-web", "appmenus-dispvm") == "1"
    tags = running.call("admin.vm.tag.List", "disp-web").split()
    assert {"created-by-dom0", "disp-created-by-dom0"} <= set(tags)


def test_create_dispvm_from_a_qube_that_is_no_disposable_template_is_refused(
    running: RunningDaemon,
) -> None:
    before = files_under(running)
    with pytest.raises(QubesPropertyValueError):
        running.call("admin.vm.Create.DispVM", "dom0", "work", b"name=bad label=red")
    assert "bad" not in qube_names(running)
    assert files_under(running) == before


def test_a_creator_qube_tags_what_it_creates(running: RunningDaemon) -> None:
    running.call("admin.vm.feature.Set", "sys-usb", "tag-created-vm-with", b"usb-made  audited")
    write_policy(running, "admin.vm.Create.AppVM * sys-usb dom0 allow\n")
    running.call(
        "admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=child label=red", source="sys-usb"
    )
    assert running.call("admin.vm.tag.List", "child").split() == [
        "audiovm-dom0",
        "audited",
        "created-by-sys-usb",
        "guivm-dom0",
        "usb-made",
    ]


REFUSED = [
    # (method, arg, payload, exception, message or None)
    (
        "admin.vm.Create.AppVM",
        "nosuch",
        b"name=x label=red",
        QubesVMNotFoundError,
        "No such domain: 'nosuch'",
    ),
    (
        "admin.vm.Create.StandaloneVM",
        "fedora-42",
        b"name=x label=red",
        QubesValueError,
        "A StandaloneVM cannot be based on a template",
    ),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        b"name=work label=red",
        QubesVMAlreadyExistsError,
        "A qube named 'work' already exists",
    ),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        b"name=x label=pink",
        QubesLabelNotFoundError,
        "Label does not exist: pink",
    ),
    ("admin.vm.Create.AppVM", "fedora-42", b"name=x label=12", QubesInvalidLabelError, None),
    ("admin.vm.Create.AppVM", "fedora-42", b"name=1x label=red", QubesValueError, None),
    ("admin.vm.Create.AppVM", "fedora-42", b"name=x", ProtocolError, "Missing name or label"),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        b"name=x label=red name=y",
        ProtocolError,
        "Duplicated parameter 'name'",
    ),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        b"name=x label=red pool=varlibqubes",
        ProtocolError,
        "Invalid parameter name 'pool'",
    ),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        b"name=x  label=red",
        ProtocolError,
        "Invalid parameter '': expected key=value",
    ),
    (
        "admin.vm.Create.AppVM",
        "fedora-42",
        "name=x\u00e9 label=red".encode(),
        ProtocolError,
        "Create parameters must be ASCII",
    ),
    ("admin.vm.Create.AppVM", "fedora-42", b"", ProtocolError, "expected payload"),
    (
        "admin.vm.CreateInPool.AppVM",
        "fedora-42",
        b"name=x label=red pool=varlibqubes pool:root=varlibqubes",
        ProtocolError,
        "Only one of 'pool=' and 'pool:<volume>=' can be used",
    ),
    (
        "admin.vm.CreateInPool.AppVM",
        "fedora-42",
        b"name=x label=red pool:private=varlibqubes pool:private=varlibqubes",
        ProtocolError,
        "Duplicated parameter 'pool:private'",
    ),
    (
        "admin.vm.CreateInPool.AppVM",
        "fedora-42",
        b"name=x label=red pool:swap=varlibqubes",
        ProtocolError,
        "Invalid parameter 'pool:swap': no volume named 'swap'",
    ),
    (
        "admin.vm.CreateInPool.AppVM",
        "fedora-42",
        b"name=x label=red pool=nosuch",
        QubesValueError,
        "No such storage pool: 'nosuch'",
    ),
    ("admin.vm.Create.AppVM", "work", b"name=x label=red", QubesPropertyValueError, None),
    (
        "admin.vm.Create.AdminVM",
        "",
        b"name=x label=red",
        ProtocolError,
        "no such method: 'admin.vm.Create.AdminVM'",
    ),
]


@pytest.mark.parametrize(("method", "arg", "payload", "exc", "message"), REFUSED)
def test_refused_create_leaves_no_qube_no_files_and_no_event(
    running: RunningDaemon,
    method: str,
    arg: str,
    payload: bytes,
    exc: type[Exception],
    message: str | None,
) -> None:
    names, files = qube_names(running), files_under(running)
    reader = running.open_events()
    try:
        reader.next()
        raw = running.raw(method, "dom0", arg, payload)
        if message is not None:
            assert raw == error(exc.__name__, message)
        with pytest.raises(exc):
            running.call(method, "dom0", arg, payload)
        # a marker event: anything the refused calls fired would come before it
        running.call("admin.vm.feature.Set", "dom0", "marker", b"1")
        seen = reader.wait_for(lambda r: r.event == "domain-feature-set:marker")
    finally:
        reader.close()
    assert [r.event for r in seen] == ["domain-feature-pre-set:marker", "domain-feature-set:marker"]
    assert qube_names(running) == names
    assert files_under(running) == files


def test_create_to_a_qube_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Create.AppVM", "work", "fedora-42", b"name=x label=red") == error(
        "ProtocolError", "expected destination to be AdminVM"
    )


def test_create_dispvm_without_template_or_default_is_qubesnotemplateerror(
    running: RunningDaemon,
) -> None:
    running.call("admin.property.Set", "dom0", "default_dispvm", b"")
    with pytest.raises(QubesNoTemplateError):
        running.call("admin.vm.Create.DispVM", "dom0", payload=b"name=x label=red")
    assert "x" not in qube_names(running)


# --- removal ------------------------------------------------------------------------------


def test_remove_of_a_template_in_use_names_its_dependants(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.Remove", "whonix-gateway-18")
    assert raw == error(
        "QubesVMInUseError", "whonix-gateway-18 is still in use by: sys-whonix.template"
    )
    assert "whonix-gateway-18" in qube_names(running)


def test_remove_of_a_qube_referenced_by_a_global_property_is_refused(
    running: RunningDaemon,
) -> None:
    with pytest.raises(QubesVMInUseError, match="global default_dispvm"):
        running.call("admin.vm.Remove", "default-dvm")


def test_remove_of_dom0_is_refused(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Remove", "dom0") == error(
        "QubesVMInUseError", "'dom0' cannot be removed"
    )


def test_remove_of_an_unknown_qube_is_qubesvmnotfounderror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.Remove", "nosuch") == error(
        "QubesVMNotFoundError", "No such domain: 'nosuch'"
    )


def test_remove_of_a_package_installed_qube_is_refused(running: RunningDaemon) -> None:
    running.call("admin.vm.property.Set", "vault", "installed_by_rpm", b"True")
    with pytest.raises(QubesVMInUseError, match="installed by a package"):
        running.call("admin.vm.Remove", "vault")
    assert "vault" in qube_names(running)


def test_remove_with_an_argument_is_a_protocol_error(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError, match="unexpected argument"):
        running.call("admin.vm.Remove", "vault", "now")


def test_concurrent_creates_each_get_their_own_qube_and_tags(running: RunningDaemon) -> None:
    names = [f"para{i}" for i in range(12)]

    def create(name: str) -> str:
        klass = "DispVM" if name.endswith(("0", "5")) else "AppVM"
        template = "default-dvm" if klass == "DispVM" else "fedora-42"
        return running.call(
            f"admin.vm.Create.{klass}", "dom0", template, f"name={name} label=red".encode()
        )

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        assert list(pool.map(create, names)) == [""] * len(names)
    for name in names:
        tags = running.call("admin.vm.tag.List", name).split()
        assert tags.count("created-by-dom0") == 1, name
        assert ("disp-created-by-dom0" in tags) is name.endswith(("0", "5")), name
    dispids = [running.call("admin.vm.property.Get", n, "dispid") for n in ("para0", "para5")]
    assert dispids[0] != dispids[1]
