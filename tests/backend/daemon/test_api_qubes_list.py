"""admin.vm.List and admin.vmclass.List, byte for byte."""

from __future__ import annotations

import pytest

from backend.errors import ProtocolError, QubesVMNotFoundError

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, ok


def _line(running: RunningDaemon, name: str) -> str:
    def read() -> str:
        vm = running.app.domains[name]
        return f"{name} class={vm.klass} state={vm.power_state.value} uuid={vm.uuid}\n"

    return running.in_loop(read)


def test_full_list_has_every_qube_sorted_by_name_with_class_state_and_uuid(
    running: RunningDaemon,
) -> None:
    names = sorted(running.in_loop(lambda: [vm.name for vm in running.app.domains]))
    expected = "".join(_line(running, name) for name in names)
    assert running.raw("admin.vm.List") == ok(expected)
    assert "dom0 class=AdminVM state=Running uuid=00000000-0000-0000-0000-000000000000\n" in (
        expected
    )
    assert "fedora-42 class=TemplateVM state=Halted uuid=" in expected


def test_list_with_a_qube_as_destination_has_only_that_qube(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.List", "work") == ok(_line(running, "work"))


def test_list_of_an_unknown_qube_is_qubesvmnotfounderror(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.List", "nosuch") == error(
        "QubesVMNotFoundError", "No such domain: 'nosuch'"
    )
    with pytest.raises(QubesVMNotFoundError):
        running.call("admin.vm.List", "nosuch")


def test_list_with_an_argument_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.List", "dom0", "x") == error(
        "ProtocolError", "unexpected argument"
    )


def test_list_with_a_payload_is_a_protocol_error(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError, match="unexpected payload"):
        running.call("admin.vm.List", "dom0", payload=b"x")


def test_list_follows_creation_and_removal(running: RunningDaemon) -> None:
    running.call("admin.vm.Create.AppVM", "dom0", "fedora-42", b"name=listed label=red")
    assert "\nlisted class=AppVM state=Halted uuid=" in running.call("admin.vm.List")
    running.call("admin.vm.Remove", "listed")
    assert "listed" not in running.call("admin.vm.List")


def test_vmclass_list_names_every_class(running: RunningDaemon) -> None:
    assert running.raw("admin.vmclass.List") == ok(
        "AdminVM\nAppVM\nDispVM\nStandaloneVM\nTemplateVM\n"
    )


def test_vmclass_list_to_a_qube_is_a_protocol_error(running: RunningDaemon) -> None:
    assert running.raw("admin.vmclass.List", "work") == error(
        "ProtocolError", "expected destination to be AdminVM"
    )
