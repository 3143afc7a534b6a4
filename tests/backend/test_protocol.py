"""Wire protocol: request framing, responses, event records and value formats."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend import errors
from backend.protocol import (
    MAX_REQUEST_SIZE,
    EventRecord,
    EventStreamParser,
    FramingError,
    PropertyType,
    PropertyValue,
    QubesDaemonAccessError,
    QubesDaemonCommunicationError,
    Request,
    decode_response,
    encode_error,
    encode_event,
    encode_ok,
    encode_request,
    escape_getall_value,
    exception_from_wire,
    format_getall_line,
    format_property_default,
    format_property_value,
    parse_getall,
    parse_property_default,
    parse_property_value,
    parse_request,
    parse_uuid_ref,
    unescape_getall_value,
)

ascii_no_nul = st.characters(min_codepoint=1, max_codepoint=127)


def header_text(forbidden: str = " ", min_size: int = 1) -> st.SearchStrategy[str]:
    alphabet = st.characters(min_codepoint=1, max_codepoint=127, exclude_characters=forbidden)
    return st.text(alphabet, min_size=min_size, max_size=30)


# --- requests


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"admin.vm.Shutdown+force+wait dom0 name work\0",
            Request("admin.vm.Shutdown", "force+wait", "dom0", "name", "work", b""),
        ),
        (
            b"admin.vm.List+ dom0 name dom0\0",
            Request("admin.vm.List", "", "dom0", "name", "dom0", b""),
        ),
        (
            b"admin.vm.List dom0 name dom0\0",
            Request("admin.vm.List", "", "dom0", "name", "dom0", b""),
        ),
        (
            b"admin.vm.property.Set+label dom0 name work\0red",
            Request("admin.vm.property.Set", "label", "dom0", "name", "work", b"red"),
        ),
        (
            b"admin.vm.List+ sys-gui keyword adminvm\0",
            Request("admin.vm.List", "", "sys-gui", "name", "dom0", b""),
        ),
        (
            b"admin.vm.List+ dom0 name uuid:6d34c2a0-2c3e-4bbf-9d25-2b1e0b1c9f00\0",
            Request(
                "admin.vm.List",
                "",
                "dom0",
                "name",
                "uuid:6d34c2a0-2c3e-4bbf-9d25-2b1e0b1c9f00",
                b"",
            ),
        ),
        (
            b"admin.vm.notes.Set+ dom0 name work\0a\0b\0",
            Request("admin.vm.notes.Set", "", "dom0", "name", "work", b"a\0b\0"),
        ),
        # only the first three spaces split: the rest belongs to the destination
        (
            b"m+a src name two words\0",
            Request("m", "a", "src", "name", "two words", b""),
        ),
    ],
)
def test_parse_request_follows_upstream_splitting(data: bytes, expected: Request) -> None:
    assert parse_request(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"admin.vm.List+ dom0 name dom0",  # no NUL
        b"admin.vm.List+ dom0 name\0",  # three fields
        b"admin.vm.List+\0",
        b"\0",
        b"",
        b"admin.vm.List+ dom0 uuid dom0\0",  # unknown destination type
        b"admin.vm.List+ dom0 keyword sys-net\0",  # only the adminvm keyword exists
        "admin.vm.List+ dom0 name d\u00f6m0\0".encode(),  # not ASCII
        b"admin.vm.List+ dom0 name dom0\0" + b"x" * MAX_REQUEST_SIZE,
    ],
)
def test_parse_request_rejects_what_upstream_drops(data: bytes) -> None:
    with pytest.raises(FramingError):
        parse_request(data)


def test_request_of_exactly_the_limit_is_accepted() -> None:
    header = b"admin.vm.notes.Set+ dom0 name work\0"
    data = header + b"x" * (MAX_REQUEST_SIZE - len(header))
    assert len(parse_request(data).payload) == MAX_REQUEST_SIZE - len(header)


@given(st.binary(max_size=200))
def test_parse_request_raises_only_framing_errors(data: bytes) -> None:
    try:
        parse_request(data)
    except FramingError:
        pass


@given(
    st.lists(st.sampled_from([b"admin.vm.List", b"+", b" ", b"\0", b"name", b"keyword", b"\xff"]))
)
def test_parse_request_raises_only_framing_errors_on_near_misses(parts: list[bytes]) -> None:
    try:
        parse_request(b"".join(parts))
    except FramingError:
        pass


@given(
    method=header_text(" +"),
    arg=header_text(" ", min_size=0),
    source=header_text(),
    dest=header_text(),
    payload=st.binary(max_size=300),
)
def test_encode_then_parse_round_trips(
    method: str, arg: str, source: str, dest: str, payload: bytes
) -> None:
    request = Request(method, arg, source, "name", dest, payload)
    assert parse_request(request.encode()) == request
    assert encode_request(method, dest, arg, payload, source=source) == request.encode()


def test_encode_request_writes_the_plus_for_an_empty_argument() -> None:
    assert encode_request("admin.vm.List", "dom0") == b"admin.vm.List+ dom0 name dom0\0"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "admin.vm.List+x", "dest": "dom0"},
        {"method": "admin vm", "dest": "dom0"},
        {"method": "", "dest": "dom0"},
        {"method": "admin.vm.List", "dest": ""},
        {"method": "admin.vm.List", "dest": "a b"},
        {"method": "admin.vm.List", "dest": "dom0", "arg": "a b"},
        {"method": "admin.vm.List", "dest": "d\u00f6m0"},
        {"method": "admin.vm.List", "dest": "dom0", "source": "a\0"},
    ],
)
def test_encode_request_refuses_unframeable_fields(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        encode_request(**kwargs)  # type: ignore[arg-type]


def test_encode_request_refuses_requests_over_the_limit() -> None:
    with pytest.raises(FramingError):
        encode_request("admin.vm.notes.Set", "work", payload=b"x" * MAX_REQUEST_SIZE)


def test_parse_uuid_ref() -> None:
    value = uuid.uuid4()
    assert parse_uuid_ref(f"uuid:{value}") == value
    assert parse_uuid_ref("work") is None
    for bad in ("uuid:", "uuid:xyz", f"uuid:{str(value).upper()}", f"uuid:{value}0"):
        with pytest.raises(errors.QubesVMInvalidUUIDError):
            parse_uuid_ref(bad)


# --- responses


def test_encode_ok() -> None:
    assert encode_ok(None) == b"0\0"
    assert encode_ok("") == b"0\0"
    assert encode_ok("v\u00e9\n") == b"0\0v\xc3\xa9\n"


def test_encode_error_is_class_empty_traceback_message() -> None:
    data = encode_error(errors.QubesVMNotFoundError("work"))
    assert data == b"2\0QubesVMNotFoundError\0\0No such domain: 'work'\0"


def test_encode_error_escapes_percent() -> None:
    data = encode_error(errors.QubesException("Disk 50% full"))
    assert data == b"2\0QubesException\0\0Disk 50%% full\0"
    # the official client formats with no arguments: one % again
    assert data.split(b"\0")[3].decode() % () == "Disk 50% full"


def test_encode_error_sends_traceback_only_in_debug() -> None:
    try:
        raise errors.QubesVMNotRunningError("not running")
    except errors.QubesVMNotRunningError as exc:
        caught = exc
    name, trace, message, rest = encode_error(caught, debug=True)[2:].split(b"\0")
    assert name == b"QubesVMNotRunningError"
    assert b"Traceback" in trace and b"test_protocol" in trace
    assert (message, rest) == (b"not running", b"")


def test_encode_error_keeps_nuls_out_of_the_message() -> None:
    data = encode_error(errors.QubesValueError("bad\0value"))
    assert data.count(b"\0") == 4


def test_decode_response_success() -> None:
    assert decode_response(b"0\0") == ""
    assert decode_response(b"0\0default=True type=vm sys-net") == "default=True type=vm sys-net"


def test_decode_response_empty_is_access_error() -> None:
    with pytest.raises(QubesDaemonAccessError):
        decode_response(b"")


@pytest.mark.parametrize("data", [b"1\0\0connection-established\0\0", b"x", b"3\0", b"2\0Foo\0"])
def test_decode_response_bad_format(data: bytes) -> None:
    with pytest.raises(QubesDaemonCommunicationError):
        decode_response(data)


@pytest.mark.parametrize(
    ("exc", "bases"),
    [
        (errors.QubesVMNotFoundError("work"), (errors.QubesException, KeyError)),
        (errors.QubesNoSuchPropertyError("work", "xyz"), (errors.QubesException, AttributeError)),
        (errors.QubesFeatureNotFoundError("work", "gui"), (KeyError,)),
        (errors.QubesTagNotFoundError("work", "t"), (KeyError,)),
        (errors.QubesPropertyValueError("work", "maxmem", "x", "Bad 5% value"), (ValueError,)),
        (errors.QubesVMNotRunningError("Domain is powered off: work"), (errors.QubesVMError,)),
        (errors.QubesMemoryError("no memory"), (MemoryError,)),
        (errors.PermissionDenied("Argument not in 'work volumes'"), (Exception,)),
        (errors.ProtocolError("no such method: 'x'"), (AssertionError,)),
        (errors.QubesInvalidTagError("bad tag"), (errors.ProtocolError,)),
    ],
)
def test_error_round_trip_keeps_class_and_message(exc: Exception, bases: tuple[type, ...]) -> None:
    with pytest.raises(type(exc)) as info:
        decode_response(encode_error(exc))
    assert type(info.value) is type(exc)
    assert isinstance(info.value, bases)
    assert str(info.value) == str(exc)


def test_permission_denied_is_not_a_qubes_exception() -> None:
    with pytest.raises(errors.PermissionDenied) as info:
        decode_response(b"2\0PermissionDenied\0\0refused\0")
    assert not isinstance(info.value, errors.QubesException)


@given(st.text(max_size=80))
def test_any_message_survives_the_round_trip(message: str) -> None:
    message = message.replace("\0", "")
    surrogate_free = message.encode("utf-8", "backslashreplace").decode()
    with pytest.raises(errors.QubesValueError) as info:
        decode_response(encode_error(errors.QubesValueError(message)))
    assert str(info.value) == surrogate_free


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("KeyError", KeyError),
        ("ValueError", ValueError),
        ("SomethingNewError", errors.QubesException),
        ("Whatever", errors.QubesException),
        ("KeyboardInterrupt", errors.QubesException),
        ("annotations", errors.QubesException),  # a module attribute that is no exception
        ("UnicodeDecodeError", errors.QubesException),  # builtin that wants five arguments
    ],
)
def test_unknown_names_fall_back_like_the_official_client(name: str, cls: type) -> None:
    exc = exception_from_wire(name, "message")
    assert type(exc) is cls
    assert str(exc).strip("'") == "message"


def test_error_arguments_are_formatted_and_digits_become_ints() -> None:
    with pytest.raises(errors.QubesException) as info:
        decode_response(b"2\0QubesException\0\0%s has %d%% of %s\0work\x0050\0disk\0")
    assert str(info.value) == "work has 50% of disk"


def test_unescaped_percent_from_a_real_qubesd_is_tolerated() -> None:
    for message in (b"Disk 50% full", b"100%", b"%(name)s"):
        with pytest.raises(errors.QubesException) as info:
            decode_response(b"2\0QubesException\0\0" + message + b"\0")
        assert str(info.value) == message.decode()


# --- events


def test_encode_event_bytes() -> None:
    data = encode_event("work", "property-set:netvm", {"name": "netvm", "newvalue": None})
    assert data == b"1\0work\0property-set:netvm\0name\0netvm\0newvalue\0None\0\0"
    assert encode_event(None, "connection-established", {}) == (b"1\0\0connection-established\0\0")


def test_encode_event_str_of_values_and_subject() -> None:
    class Qube:
        def __str__(self) -> str:
            return "sys-net"

    data = encode_event(Qube(), "domain-start", {"start_guid": True, "vm": Qube(), "n": 3})
    assert data == b"1\0sys-net\0domain-start\0start_guid\0True\0vm\0sys-net\0n\x003\0\0"


def test_encode_event_escapes_non_ascii_and_nul() -> None:
    data = encode_event("work", "domain-feature-set:x", {"value": "\u00e9\0"})
    assert data == b"1\0work\0domain-feature-set:x\0value\0\\xe9\\x00\0\0"


def test_encode_event_refuses_empty_key() -> None:
    with pytest.raises(ValueError):
        encode_event("work", "e", {"": "x"})


event_text = st.text(ascii_no_nul, max_size=12)
events = st.lists(
    st.tuples(
        st.none() | st.text(ascii_no_nul, min_size=1, max_size=12),
        event_text,
        st.dictionaries(st.text(ascii_no_nul, min_size=1, max_size=8), event_text, max_size=4),
    ),
    max_size=8,
)


@given(events, st.data())
def test_event_parser_reconstructs_records_from_any_chunking(
    records: list[tuple[str | None, str, dict[str, str]]], data: st.DataObject
) -> None:
    stream = b"".join(encode_event(s, e, k) for s, e, k in records)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    parser = EventStreamParser()
    decoded: list[EventRecord] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        decoded += parser.feed(stream[start:end])
    parser.feed_eof()
    assert decoded == [EventRecord(s, e, k) for s, e, k in records]


def test_event_parser_keeps_empty_values() -> None:
    parser = EventStreamParser()
    records = parser.feed(b"1\0work\0property-set:x\0name\0x\0oldvalue\0\0newvalue\0y\0\0")
    assert records == [
        EventRecord("work", "property-set:x", {"name": "x", "oldvalue": "", "newvalue": "y"})
    ]


def test_event_parser_raises_the_error_an_event_request_got() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"2\0PermissionDenied\0\0refused\0") == []
    with pytest.raises(errors.PermissionDenied):
        parser.feed_eof()


@pytest.mark.parametrize("data", [b"0\0", b"x", b"1x"])
def test_event_parser_refuses_non_events(data: bytes) -> None:
    with pytest.raises(QubesDaemonCommunicationError):
        EventStreamParser().feed(data)


def test_event_parser_truncated_record_at_eof() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"1\0work\0domain-start\0start_guid\0") == []
    with pytest.raises(QubesDaemonCommunicationError):
        parser.feed_eof()


def test_event_parser_empty_stream_is_fine() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"") == []
    parser.feed_eof()


# --- value formats


@given(st.text())
def test_getall_escaping_round_trips(text: str) -> None:
    escaped = escape_getall_value(text)
    assert "\n" not in escaped
    assert unescape_getall_value(escaped) == text


@pytest.mark.parametrize("text", ["a\\tb", "trailing\\", "\\x00"])
def test_unescape_refuses_other_escapes(text: str) -> None:
    with pytest.raises(QubesDaemonCommunicationError):
        unescape_getall_value(text)


def test_escape_getall_value_examples() -> None:
    assert escape_getall_value("a\\b\nc") == "a\\\\b\\nc"


@pytest.mark.parametrize(
    ("value", "type_", "is_default", "text"),
    [
        ("sys-firewall", PropertyType.VM, True, "default=True type=vm sys-firewall"),
        (None, PropertyType.VM, False, "default=False type=vm "),
        (400, PropertyType.INT, False, "default=False type=int 400"),
        (True, PropertyType.BOOL, True, "default=True type=bool True"),
        ("red", PropertyType.LABEL, False, "default=False type=label red"),
        ("two words", PropertyType.STR, False, "default=False type=str two words"),
        (None, PropertyType.INT, True, "default=True type=int "),  # no value at all
    ],
)
def test_property_value_format(value: object, type_: str, is_default: bool, text: str) -> None:
    assert format_property_value(value, type_, is_default=is_default) == text
    expected = PropertyValue(is_default, str(type_), "" if value is None else str(value))
    assert parse_property_value(text) == expected


def test_parse_property_value_tolerates_missing_trailing_space() -> None:
    assert parse_property_value("default=True type=vm") == PropertyValue(True, "vm", "")


@pytest.mark.parametrize("text", ["", "default=yes type=vm x", "type=vm x", "default=True x"])
def test_parse_property_value_rejects_garbage(text: str) -> None:
    with pytest.raises(QubesDaemonCommunicationError):
        parse_property_value(text)


def test_property_default_format() -> None:
    assert format_property_default("sys-net", PropertyType.VM) == "type=vm sys-net"
    assert format_property_default(None, PropertyType.VM) == "type=vm "
    assert parse_property_default("type=vm sys-net") == PropertyValue(True, "vm", "sys-net")
    assert parse_property_default("") is None


@given(
    st.dictionaries(
        st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
        st.tuples(st.text(), st.sampled_from(list(PropertyType)), st.booleans()),
        max_size=6,
    )
)
def test_getall_round_trips(props: dict[str, tuple[str, PropertyType, bool]]) -> None:
    body = "".join(
        format_getall_line(name, value, type_, is_default=default)
        for name, (value, type_, default) in sorted(props.items())
    )
    assert body.count("\n") == len(props)
    assert parse_getall(body) == {
        name: PropertyValue(default, str(type_), value)
        for name, (value, type_, default) in props.items()
    }


def test_getall_example() -> None:
    body = (
        "label default=False type=label red\n"
        "netvm default=True type=vm sys-firewall\n"
        "description default=False type=str line\\none\\\\two\rthree\n"
    )
    assert parse_getall(body) == {
        "label": PropertyValue(False, "label", "red"),
        "netvm": PropertyValue(True, "vm", "sys-firewall"),
        "description": PropertyValue(False, "str", "line\none\\two\rthree"),
    }
