"""The key='value' lists and qrexec arguments of the device API."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.devices.wire import (
    KEY_CHARS,
    VALUE_CHARS,
    format_qarg,
    pack_properties,
    pack_property,
    parse_qarg,
    split_options,
    unpack_properties,
)
from backend.errors import ProtocolError

keys = st.text(sorted(KEY_CHARS), min_size=1, max_size=12)
values = st.text(sorted(VALUE_CHARS), max_size=30).filter(lambda v: not v.endswith("\\"))


def test_quote_in_a_value_is_escaped_with_a_backslash() -> None:
    assert pack_property("name", "it's") == "name='it\\'s'"


def test_unpack_reads_pairs_in_order_with_escapes() -> None:
    text = "device_id='1:2' name='Bob\\'s stick' _ro='yes'"
    assert list(unpack_properties(text).items()) == [
        ("device_id", "1:2"), ("name", "Bob's stick"), ("_ro", "yes")]


def test_value_may_contain_separators_of_the_format() -> None:
    text = pack_properties([("a", "x=' y' b='z"), ("b", "w")])
    assert unpack_properties(text) == {"a": "x=' y' b='z", "b": "w"}


@given(st.dictionaries(keys, values, max_size=6))
def test_pack_then_unpack_gives_the_same_pairs(pairs: dict[str, str]) -> None:
    assert unpack_properties(pack_properties(pairs.items())) == pairs


def test_none_values_are_left_out() -> None:
    assert pack_properties([("a", "1"), ("b", None)]) == "a='1'"


@pytest.mark.parametrize("text, problem", [
    ("a='1", "no closing quote"),
    ("a='1' a='2'", "given twice"),
    ("a='1'b='2'", "expected a space"),
    ("just words", "expected key='value'"),
    ("a b='1'", "invalid property name"),
    ("a='caf\u00e9'", "invalid characters"),
    ("a='line\nbreak'", "invalid characters"),
])
def test_malformed_lists_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        unpack_properties(text)


@pytest.mark.parametrize("key, value", [("", "x"), ("a b", "x"), ("a=", "x"), ("k", "tab\t"),
                                         ("k", "ends\\")])
def test_pack_refuses_what_could_not_be_read_back(key: str, value: str) -> None:
    with pytest.raises(ProtocolError):
        pack_property(key, value)


def test_split_options_takes_the_underscore_prefix_off() -> None:
    plain, options = split_options({"mode": "required", "_read-only": "yes"})
    assert plain == {"mode": "required"} and options == {"read-only": "yes"}


def test_underscore_alone_is_not_an_option_name() -> None:
    with pytest.raises(ProtocolError):
        split_options({"_": "x"})


@pytest.mark.parametrize("arg, expected", [
    ("sys-usb+2-1", ("sys-usb", "2-1", "*")),
    ("sys-usb+2-1+_", ("sys-usb", "2-1", "*")),
    ("sys-usb+_+046d+c52b++u030101", ("sys-usb", "*", "046d:c52b::u030101")),
    ("dom0+00_14.3+0x8086:0x51f0::p028000", ("dom0", "00_14.3", "0x8086:0x51f0::p028000")),
])
def test_qarg_names_backend_port_and_device(arg: str, expected: tuple[str, str, str]) -> None:
    assert parse_qarg(arg) == expected


@pytest.mark.parametrize("arg", ["sys-usb", "sys-usb+", "+2-1", "sys-usb+2 1", "sys-usb+a*b"])
def test_malformed_qarg_is_refused(arg: str) -> None:
    with pytest.raises(ProtocolError):
        parse_qarg(arg)


ids = st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=10)


@given(ids, ids | st.just("*"), st.lists(ids, max_size=4).map(":".join) | st.just("*"))
def test_format_qarg_is_read_back(backend: str, port: str, device_id: str) -> None:
    device_id = device_id or "*"
    arg = format_qarg(backend, port, device_id)
    assert "*" not in arg and ":" not in arg
    assert parse_qarg(arg) == (backend, port, device_id)
