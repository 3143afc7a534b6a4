"""admin.label.*: list, colour, index, custom labels."""

from __future__ import annotations

import pytest

from backend.errors import (
    PermissionDenied,
    QubesInvalidLabelError,
    QubesInvalidLabelValueError,
    QubesLabelNotFoundError,
    QubesValueError,
)

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, ok, stored

DEFAULT = "red\norange\nyellow\ngreen\ngray\nblue\npurple\nblack\n"


def test_list_names_the_labels_in_index_order(running: RunningDaemon) -> None:
    assert running.raw("admin.label.List") == ok(DEFAULT)


@pytest.mark.parametrize("ref", ["blue", "6", "label-6"])
def test_get_and_index_accept_name_index_and_label_n(running: RunningDaemon, ref: str) -> None:
    assert running.raw("admin.label.Get", "dom0", ref) == ok("0x3465a4")
    assert running.raw("admin.label.Index", "dom0", ref) == ok("6")


def test_unknown_label_is_qubeslabelnotfounderror(running: RunningDaemon) -> None:
    assert running.raw("admin.label.Get", "dom0", "pink") == error(
        "QubesLabelNotFoundError", "Label does not exist: pink"
    )
    with pytest.raises(QubesLabelNotFoundError):  # a KeyError for the client
        running.call("admin.label.Index", "dom0", "pink")


def test_label_calls_need_dom0_as_destination(running: RunningDaemon) -> None:
    assert running.raw("admin.label.List", "work") == error(
        "ProtocolError", "expected destination to be AdminVM"
    )


def test_create_adds_a_label_above_the_built_in_ones_and_stores_it(
    running: RunningDaemon,
) -> None:
    assert running.raw("admin.label.Create", "dom0", "pink", b"0xff00ff") == ok()
    assert running.call("admin.label.List") == DEFAULT + "pink\n"
    assert running.call("admin.label.Get", "dom0", "pink") == "0xff00ff"
    assert running.call("admin.label.Index", "dom0", "pink") == "9"
    assert ("pink", 9, "0xff00ff") in [
        (lb.name, lb.index, lb.color) for lb in stored(running).labels
    ]
    running.call("admin.vm.property.Set", "work", "label", b"pink")
    assert running.call("admin.vm.property.Get", "work", "label") == (
        "default=False type=label pink"
    )


@pytest.mark.parametrize(
    ("name", "color", "exc"),
    [
        ("1234", b"0xff00ff", QubesInvalidLabelError),
        ("pi*nk", b"0xff00ff", QubesInvalidLabelError),
        ("p/nk", b"0xff00ff", QubesInvalidLabelError),
        ("pink", b"ff00ff", QubesInvalidLabelValueError),
        ("pink", b"0xff00f", QubesInvalidLabelValueError),
        ("pink", b"0xgg00ff", QubesInvalidLabelValueError),
        ("pink", "0x\u00e900ff".encode(), QubesInvalidLabelValueError),
        ("red", b"0xff00ff", QubesValueError),
    ],
)
def test_create_refuses_bad_names_colours_and_existing_labels(
    running: RunningDaemon, name: str, color: bytes, exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        running.call("admin.label.Create", "dom0", name, color)
    assert running.call("admin.label.List") == DEFAULT


def test_create_error_bytes(running: RunningDaemon) -> None:
    assert running.raw("admin.label.Create", "dom0", "pink", b"red") == error(
        "QubesInvalidLabelValueError",
        "Invalid label colour: expected 0x followed by six hex digits, like 0x3465a4",
    )


def test_remove_of_an_unused_custom_label(running: RunningDaemon) -> None:
    running.call("admin.label.Create", "dom0", "pink", b"0xff00ff")
    assert running.raw("admin.label.Remove", "dom0", "pink") == ok()
    assert running.call("admin.label.List") == DEFAULT
    assert "pink" not in [lb.name for lb in stored(running).labels]


def test_remove_of_a_label_in_use_is_qubeslabelinuseerror(running: RunningDaemon) -> None:
    running.call("admin.label.Create", "dom0", "pink", b"0xff00ff")
    running.call("admin.vm.property.Set", "work", "label", b"pink")
    assert running.raw("admin.label.Remove", "dom0", "pink") == error(
        "QubesLabelInUseError", "Label 'pink' is still used by: work"
    )
    assert "pink" in running.call("admin.label.List")


def test_remove_of_a_built_in_label_is_refused(running: RunningDaemon) -> None:
    with pytest.raises(PermissionDenied):
        running.call("admin.label.Remove", "dom0", "purple")
    assert running.call("admin.label.List") == DEFAULT
