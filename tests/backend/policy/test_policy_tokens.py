"""Token parsing per column (core-model §8.2), with property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.policy import Column, PolicySyntaxError, TokenKind, parse_token

S, T, R, Q = Column.SOURCE, Column.TARGET, Column.REDIRECT, Column.REQUEST
UUID = "d8a249f1-b02b-4944-a9e5-437def2fbe2c"

# token, columns where it is valid, kind in a policy column
VALID = [
    ("work", {S, T, R, Q}, TokenKind.NAME),
    (f"uuid:{UUID}", {S, T, R, Q}, TokenKind.NAME),
    ("@adminvm", {S, T, R, Q}, TokenKind.ADMINVM),
    ("dom0", {S, T, R, Q}, TokenKind.ADMINVM),
    ("uuid:00000000-0000-0000-0000-000000000000", {S, T, R, Q}, TokenKind.ADMINVM),
    ("@anyvm", {S, T}, TokenKind.ANYVM),
    ("*", {S, T}, TokenKind.WILDCARD),
    ("@default", {T, Q}, TokenKind.DEFAULT),
    ("@dispvm", {T, R, Q}, TokenKind.DISPVM),
    ("@dispvm:default-dvm", {S, T, R, Q}, TokenKind.DISPVM_TEMPLATE),
    (f"@dispvm:uuid:{UUID}", {S, T, R, Q}, TokenKind.DISPVM_TEMPLATE),
    ("@dispvm:@tag:tag3", {S, T}, TokenKind.DISPVM_TAG),
    ("@tag:tag1", {S, T}, TokenKind.TAG),
    ("@type:AppVM", {S, T}, TokenKind.TYPE),
]

INVALID_EVERYWHERE = [
    "",
    "@invalid",
    "@tag:",
    "@type:",
    "@dispvm:",
    "@dispvm:@tag:",
    "@dispvm:@foo",
    "@uuid:" + UUID,
    "uuid:",
    "uuid:not-a-uuid",
    "@dispvm:uuid:1234",
    "@ANYVM",
]


@pytest.mark.parametrize(("text", "columns", "kind"), VALID)
def test_token_is_accepted_exactly_in_its_columns(
    text: str, columns: set[Column], kind: TokenKind
) -> None:
    for column in Column:
        if column in columns:
            token = parse_token(text, column)
            assert token.text == text
            if column is not Column.REQUEST:
                assert token.kind is kind
        else:
            with pytest.raises(PolicySyntaxError):
                parse_token(text, column)


@pytest.mark.parametrize("text", INVALID_EVERYWHERE)
def test_invalid_token_is_rejected_in_every_column(text: str) -> None:
    for column in Column:
        with pytest.raises(PolicySyntaxError):
            parse_token(text, column)


def test_literal_dom0_stays_a_name_in_a_request() -> None:
    # a request for "dom0" matches @tag:/@type: rules, one for @adminvm does not
    assert parse_token("dom0", Column.REQUEST).kind is TokenKind.NAME
    assert parse_token("@adminvm", Column.REQUEST).kind is TokenKind.ADMINVM


def test_prefixed_tokens_carry_their_value() -> None:
    assert parse_token("@tag:tag1", Column.TARGET).value == "tag1"
    assert parse_token("@type:AppVM", Column.TARGET).value == "AppVM"
    assert parse_token("@dispvm:@tag:t", Column.TARGET).value == "t"
    assert parse_token("@dispvm:dvm", Column.TARGET).value == "dvm"
    upper = parse_token(f"uuid:{UUID.upper()}", Column.TARGET)
    assert upper.value == f"uuid:{UUID}"
    assert upper.text == f"uuid:{UUID.upper()}"


def test_syntax_error_carries_the_place() -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_token("@nope", Column.TARGET, path="/p/30-x.policy", lineno=7)
    assert caught.value.lineno == 7
    assert str(caught.value).startswith("/p/30-x.policy:7: ")


# --- properties -------------------------------------------------------------------------

NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
names = st.text(NAME_CHARS, min_size=1, max_size=31).filter(lambda n: n not in ("dom0",))
uuids = st.uuids().map(str)
valid_tokens = st.one_of(
    names,
    uuids.map(lambda u: "uuid:" + u),
    st.sampled_from(["@adminvm", "dom0", "@anyvm", "*", "@default", "@dispvm"]),
    names.map(lambda n: "@dispvm:" + n),
    names.map(lambda n: "@dispvm:@tag:" + n),
    names.map(lambda n: "@tag:" + n),
    names.map(lambda n: "@type:" + n),
)
token_like = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(["@", "@tag:", "@type:", "@dispvm:", "@dispvm:@tag:", "uuid:", "*"]),
        st.text(max_size=40),
    ),
)


@given(text=token_like, column=st.sampled_from(Column))
def test_parse_token_raises_only_our_syntax_error(text: str, column: Column) -> None:
    try:
        token = parse_token(text, column)
    except PolicySyntaxError:
        return
    assert token.text == text


@given(text=valid_tokens)
def test_valid_token_round_trips_through_its_text(text: str) -> None:
    token = parse_token(text, Column.TARGET)
    assert parse_token(str(token), Column.TARGET) == token
