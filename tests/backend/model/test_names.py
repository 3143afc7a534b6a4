"""Qube names, tags and feature names: every rule accepting and refusing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import QubesValueError
from backend.model.names import (
    parse_bool,
    validate_feature_name,
    validate_feature_value,
    validate_name,
    validate_tag,
)

valid_names = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9_.-]{0,30}\Z").filter(
    lambda n: n not in ("none", "default") and not n.endswith("-dm")
)


@given(valid_names)
def test_valid_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name


@given(st.text(max_size=40))
def test_any_text_is_accepted_only_if_it_follows_the_rules(name: str) -> None:
    import re

    ok = (
        bool(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_.-]*", name))
        and len(name) <= 31
        and name not in ("Domain-0", "none", "default")
        and not name.endswith("-dm")
    )
    if ok:
        assert validate_name(name) == name
    else:
        with pytest.raises(QubesValueError):
            validate_name(name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 32, "too long"),
        ("none", "reserved"),
        ("default", "reserved"),
        ("Domain-0", "reserved"),
        ("sys-usb-dm", "-dm"),
        ("-work", "hyphen"),
        ("_work", "underscore"),
        (".work", "dot"),
        ("1work", "digit"),
        ("work space", "illegal characters"),
        ("wörk", "illegal characters"),
    ],
)
def test_bad_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(QubesValueError, match=reason):
        validate_name(name)


def test_longest_allowed_name_is_31_characters() -> None:
    assert validate_name("a" * 31)


@pytest.mark.parametrize("tag", ["created-by-dom0", "A_b-9"])
def test_tags_accepted(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "a b", "a.b", "a:b", "ä"])
def test_tags_refused(tag: str) -> None:
    with pytest.raises(QubesValueError):
        validate_tag(tag)


def test_feature_names_and_values() -> None:
    assert validate_feature_name("service.crond")
    with pytest.raises(QubesValueError):
        validate_feature_name("bad name")
    assert validate_feature_value("any printable ~") == "any printable ~"
    with pytest.raises(QubesValueError):
        validate_feature_value("line\nbreak")


@pytest.mark.parametrize(("text", "value"), [
    ("1", True), ("yes", True), ("TRUE", True), ("On", True),
    ("0", False), ("no", False), ("False", False), ("off", False),
])
def test_boolean_parsing(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "2", "maybe", "y"])
def test_boolean_parsing_refuses_anything_else(text: str) -> None:
    with pytest.raises(QubesValueError):
        parse_bool(text)
