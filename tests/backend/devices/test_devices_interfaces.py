"""Interface codes, deny patterns and device categories; options of each class."""

from __future__ import annotations

import pytest

from backend.devices.classes import DEVICE_CLASSES, check_mode
from backend.devices.interfaces import (
    Category,
    category,
    denied_by,
    matches,
    split_codes,
    split_patterns,
)
from backend.devices.model import AssignmentMode, DeviceInfo
from backend.errors import QubesValueError


def test_codes_split_in_sevens() -> None:
    assert split_codes("u030101u030102") == ("u030101", "u030102")
    assert split_codes("") == ()


@pytest.mark.parametrize("text", ["u03010", "x030101", "u03g101"])
def test_malformed_codes_are_refused(text: str) -> None:
    with pytest.raises(QubesValueError):
        split_codes(text)


def test_star_pattern_matches_any_character() -> None:
    assert matches("u03****", "u030101")
    assert matches("*******", "p028000")
    assert not matches("u03**02", "u030101")


def test_denied_by_names_the_first_matching_pattern() -> None:
    assert denied_by("p02****u03****", ("u030102",)) == "u03****"
    assert denied_by("p02****", ("u030102",)) is None
    assert split_patterns("m******") == ("m******",)


@pytest.mark.parametrize("code, expected", [
    ("u030101", Category.KEYBOARD), ("u030000", Category.INPUT),
    ("p0c0330", Category.PCI_USB), ("p028000", Category.NETWORK),
    ("b******", Category.MASS_DATA), ("?******", Category.OTHER),
])
def test_category_prefers_the_most_specific_pattern(code: str, expected: Category) -> None:
    assert category(code) is expected


def test_block_options_are_checked_and_read_only_devices_forced_read_only() -> None:
    block = DEVICE_CLASSES["block"]
    device = DeviceInfo("block", "sys-usb", "sr0", data={"mode": "r"})
    assert block.check_options({"devtype": "cdrom"}, device) == {
        "devtype": "cdrom", "read-only": "yes"}
    for bad in ({"frontend-dev": "hda"}, {"read-only": "maybe"}, {"devtype": "tape"},
                {"color": "red"}):
        with pytest.raises(QubesValueError):
            block.check_options(bad, None)


def test_usb_and_mic_take_no_options_and_pci_only_its_two() -> None:
    for name in ("usb", "mic"):
        with pytest.raises(QubesValueError, match="no options"):
            DEVICE_CLASSES[name].check_options({"x": "1"}, None)
    pci = DEVICE_CLASSES["pci"]
    assert pci.check_options({"permissive": "1", "no-strict-reset": ""}, None)
    with pytest.raises(QubesValueError):
        pci.check_options({"rom": "off"}, None)


def test_pci_devices_cannot_be_ask_to_attach() -> None:
    with pytest.raises(QubesValueError, match="allowed: auto-attach, manual, required"):
        check_mode(DEVICE_CLASSES["pci"], AssignmentMode.ASK)
