"""The qubesd Admin API wire protocol: request framing, responses, events and value formats.

Pure code shared by the daemon (``backend.api``) and ``backend.client``; nothing here
does I/O. The rules are those of ``reference/admin-api.md`` §1 and §3.
"""

from __future__ import annotations

import builtins
import enum
import re
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from backend import errors

#: qubesd buffers the whole request and drops the connection beyond this many bytes.
MAX_REQUEST_SIZE = 65536

OK_HEADER = b"0\0"
EVENT_HEADER = b"1\0"
ERROR_HEADER = b"2\0"

#: The first event on every event stream, sent with an empty (app-level) subject.
CONNECTION_ESTABLISHED = "connection-established"


class FramingError(ValueError):
    """A request that qubesd drops without any response (it logs "framing error")."""


# The two client-side classes of the official client; they are never sent on the wire.
class QubesDaemonCommunicationError(errors.QubesException):
    """The daemon's answer could not be understood, or the daemon could not be reached."""


class QubesDaemonAccessError(QubesDaemonCommunicationError):
    """The daemon closed the connection without answering (upstream's "empty response")."""


# --- requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One Admin API call as it travels on the socket (``dest_type`` is ``name`` once parsed)."""

    method: str
    arg: str
    source: str
    dest_type: str
    dest: str
    payload: bytes

    def encode(self) -> bytes:
        return encode_request(
            self.method,
            self.dest,
            self.arg,
            self.payload,
            source=self.source,
            dest_type=self.dest_type,
        )


def parse_request(data: bytes) -> Request:
    """Parse ``METHOD[+ARG] SOURCE DEST_TYPE DEST NUL PAYLOAD``; raise FramingError if malformed.

    ``keyword adminvm`` (what qrexec sends for ``@adminvm``) becomes ``name dom0``;
    ``uuid:`` references are left for the server's resolver.
    """
    if len(data) > MAX_REQUEST_SIZE:
        raise FramingError("request too long")
    header, nul, payload = data.partition(b"\0")
    if not nul:
        raise FramingError("no NUL byte after the header")
    if not header.isascii():
        raise FramingError("header is not ASCII")
    fields = header.decode("ascii").split(" ", 3)
    if len(fields) != 4:
        raise FramingError("header has fewer than four fields")
    method_arg, source, dest_type, dest = fields
    if dest_type == "keyword" and dest == "adminvm":
        dest_type, dest = "name", "dom0"
    elif dest_type != "name":
        raise FramingError(f"unsupported destination type {dest_type!r}")
    method, _, arg = method_arg.partition("+")
    return Request(method, arg, source, dest_type, dest, bytes(payload))


def encode_request(
    method: str,
    dest: str,
    arg: str = "",
    payload: bytes = b"",
    *,
    source: str = "dom0",
    dest_type: str = "name",
) -> bytes:
    """Frame one call the way the official client does (the ``+`` is always written)."""
    _check_header_field("method", method, " +")
    _check_header_field("argument", arg, " ", allow_empty=True)
    _check_header_field("source", source, " ")
    _check_header_field("destination type", dest_type, " ")
    _check_header_field("destination", dest, " ")
    data = f"{method}+{arg} {source} {dest_type} {dest}".encode("ascii") + b"\0" + payload
    if len(data) > MAX_REQUEST_SIZE:
        raise FramingError(f"request too long: {len(data)} bytes, at most {MAX_REQUEST_SIZE}")
    return data


def _check_header_field(what: str, value: str, forbidden: str, allow_empty: bool = False) -> None:
    if not value and not allow_empty:
        raise ValueError(f"empty {what}")
    if not value.isascii() or "\0" in value or any(c in value for c in forbidden):
        raise ValueError(f"{what} {value!r} cannot be framed")


_UUID_REF = re.compile(r"uuid:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\Z")


def parse_uuid_ref(ref: str) -> uuid.UUID | None:
    """Return the UUID of a ``uuid:<uuid>`` source or destination, None for a plain name.

    Like qubesd, only the canonical lower-case form is accepted; anything else that
    starts with ``uuid:`` raises QubesVMInvalidUUIDError.
    """
    if not ref.startswith("uuid:"):
        return None
    if not _UUID_REF.match(ref):
        raise errors.QubesVMInvalidUUIDError(f"Invalid UUID: {ref[5:]!r}")
    return uuid.UUID(ref[5:])


# --- responses (server side) -------------------------------------------------------------


def encode_ok(data: str | None) -> bytes:
    """``0\\0`` and the result as UTF-8; None (a handler that returns nothing) is empty."""
    if data is None:
        return OK_HEADER
    return OK_HEADER + data.encode("utf-8")


def encode_error(exc: BaseException, *, debug: bool = False) -> bytes:
    """``2\\0Class\\0traceback\\0message\\0`` with no arguments, as qubesd sends it.

    ``%`` is doubled because the official client always applies ``message % args``.
    The traceback is sent only in debug mode.
    """
    trace = "".join(traceback.format_exception(exc)) if debug else ""
    message = str(exc).replace("%", "%%")
    return b"".join(
        (
            ERROR_HEADER,
            type(exc).__name__.encode("ascii", "backslashreplace"),
            b"\0",
            _nul_free(trace.encode("utf-8", "backslashreplace")),
            b"\0",
            _nul_free(message.encode("utf-8", "backslashreplace")),
            b"\0",
        )
    )


def encode_event(subject: object | None, event: str, kwargs: Mapping[str, object]) -> bytes:
    """One event record: ``1\\0subject\\0event\\0(key\\0value\\0)*\\0``.

    The subject (a qube, or None for the app) and the values go through ``str()``.
    qubesd encodes records as ASCII and breaks on anything else; we escape such
    characters (``\\xe9``) and NULs instead, so one odd value cannot kill a stream.
    """
    parts = [EVENT_HEADER, b"" if subject is None else _ascii(str(subject)), b"\0"]
    parts += (_ascii(event), b"\0")
    for key, value in kwargs.items():
        if not key:
            raise ValueError("event keys cannot be empty: an empty key ends the record")
        parts += (_ascii(key), b"\0", _ascii(str(value)), b"\0")
    parts.append(b"\0")
    return b"".join(parts)


def _ascii(text: str) -> bytes:
    return _nul_free(text.encode("ascii", "backslashreplace"))


def _nul_free(data: bytes) -> bytes:
    return data.replace(b"\0", b"\\x00") if b"\0" in data else data


# --- responses (client side) -------------------------------------------------------------


def decode_response(data: bytes) -> str:
    """Return the result of an ordinary call, or raise the exception it carries.

    An empty response raises QubesDaemonAccessError (the server aborted); anything
    but ``0\\0``/``2\\0`` raises QubesDaemonCommunicationError.
    """
    if not data:
        raise QubesDaemonAccessError(
            "Got empty response from qubesd. See journalctl in dom0 for details."
        )
    header = data[:2]
    if header == OK_HEADER:
        try:
            return data[2:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise QubesDaemonCommunicationError("Response is not valid UTF-8") from exc
    if header == ERROR_HEADER:
        raise _decode_error(data)
    raise QubesDaemonCommunicationError("Invalid response format")


def _decode_error(data: bytes) -> Exception:
    fields = data.split(b"\0", 4)
    if len(fields) != 5:
        return QubesDaemonCommunicationError("Invalid response format")
    _, name, _trace, message, rest = fields
    # every argument is followed by a NUL: the last element of the split is empty
    args: list[str | int] = []
    for raw in rest.split(b"\0")[:-1]:
        arg = raw.decode("utf-8", "replace")
        args.append(int(arg) if arg.isascii() and arg.isdigit() else arg)
    return exception_from_wire(
        name.decode("ascii", "replace"), message.decode("utf-8", "replace"), args
    )


def exception_from_wire(name: str, message: str, args: Sequence[object] = ()) -> Exception:
    """Build the exception a response names, as the official client does.

    Known names come from ``backend.errors``; other names ending in ``Error`` become
    the builtin of that name if there is one; everything else is a QubesException.
    ``message % args`` is applied as upstream does, but a message that does not
    format (a real qubesd does not escape ``%``) is kept as it is.
    """
    try:
        text = message % tuple(args)
    except (TypeError, ValueError, KeyError):
        text = message
    cls = _exception_class(name)
    try:
        if issubclass(cls, errors.QubesException):
            # Our classes take structured constructor arguments (holder, property…)
            # and the wire has only the text: build the instance around the text.
            exc = BaseException.__new__(cls)
            errors.QubesException.__init__(exc, text)
            return exc
        return cls(text)
    except TypeError:  # a builtin whose constructor wants more than a message
        return errors.QubesException(text)


def _exception_class(name: str) -> type[Exception]:
    for candidate in (
        vars(errors).get(name),
        getattr(builtins, name, None) if name.endswith("Error") else None,
    ):
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            return candidate
    return errors.QubesException


class EventRecord(NamedTuple):
    """One decoded event; ``subject`` is None for app-level events."""

    subject: str | None
    event: str
    kwargs: dict[str, str]


class EventStreamParser:
    """Incremental decoder of an ``admin.Events`` / ``admin.vm.Stats`` response.

    Feed it bytes as they arrive and get the complete records; call ``feed_eof``
    when the connection ends, which raises the error an error response carried.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[EventRecord]:
        buffer = self._buffer
        buffer += data
        records: list[EventRecord] = []
        pos = 0
        while pos < len(buffer):
            head = bytes(buffer[pos : pos + 2])
            if head[:1] == b"2":
                break  # an error response: its end is the end of the connection
            if not EVENT_HEADER.startswith(head):
                raise QubesDaemonCommunicationError("Non-event received on an event stream")
            parsed = self._parse_record(buffer, pos + 2)
            if parsed is None:
                break
            record, pos = parsed
            records.append(record)
        del buffer[:pos]
        return records

    def feed_eof(self) -> None:
        """The connection ended; raise if it ended inside a record or with an error."""
        if not self._buffer:
            return
        data, self._buffer = bytes(self._buffer), bytearray()
        if data.startswith(ERROR_HEADER):
            raise _decode_error(data)
        raise QubesDaemonCommunicationError("Event stream ended inside a record")

    @staticmethod
    def _parse_record(buffer: bytearray, pos: int) -> tuple[EventRecord, int] | None:
        fields: list[str] = []
        while True:
            end = buffer.find(b"\0", pos)
            if end < 0:
                return None
            try:
                field = buffer[pos:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise QubesDaemonCommunicationError("Event is not valid UTF-8") from exc
            pos = end + 1
            # subject and event come first; after them an empty key ends the record
            if len(fields) >= 2 and len(fields) % 2 == 0 and not field:
                break
            fields.append(field)
        subject, event = fields[0], fields[1]
        kwargs = dict(zip(fields[2::2], fields[3::2], strict=True))
        return EventRecord(subject or None, event, kwargs), pos


# --- value formats -----------------------------------------------------------------------


def escape_getall_value(text: str) -> str:
    """Escape a serialised property for a ``GetAll`` line: ``\\`` → ``\\\\``, newline → ``\\n``."""
    if "\\" not in text and "\n" not in text:  # nearly always: no new string
        return text
    return text.replace("\\", "\\\\").replace("\n", "\\n")


_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)


def unescape_getall_value(text: str) -> str:
    """Undo ``escape_getall_value``; any other escape is a protocol error, as upstream asserts."""
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        if char == "\\":
            return "\\"
        if char == "n":
            return "\n"
        raise QubesDaemonCommunicationError(f"Invalid escape in property value: {text!r}")

    return _ESCAPE.sub(replace, text)


class PropertyType(enum.StrEnum):
    """The ``type=`` of a property value, chosen by the server."""

    VM = "vm"
    INT = "int"
    BOOL = "bool"
    LABEL = "label"
    STR = "str"


@dataclass(frozen=True, slots=True)
class PropertyValue:
    """A parsed ``Get``/``GetAll``/``GetDefault`` answer; ``value`` is ``''`` when unset or none.

    ``type`` stays text so that a newer qubesd's new types are carried, not rejected.
    """

    is_default: bool
    type: str
    value: str


def _value_text(value: object) -> str:
    return "" if value is None else str(value)


def format_property_value(value: object, type_: str, *, is_default: bool) -> str:
    """``default=True type=vm sys-firewall``; None (no value, or no qube) gives the empty form.

    Qubes and labels are written by ``str()``, which must give their names.
    """
    return f"default={bool(is_default)} type={type_} {_value_text(value)}"


def parse_property_value(text: str) -> PropertyValue:
    """Parse the answer of ``admin.vm.property.Get`` (the value may contain spaces)."""
    fields = text.split(" ", 2)
    if (
        len(fields) < 2
        or fields[0] not in ("default=True", "default=False")
        or not fields[1].startswith("type=")
    ):
        raise QubesDaemonCommunicationError(f"Invalid property value: {text!r}")
    return PropertyValue(
        fields[0] == "default=True", fields[1][5:], fields[2] if len(fields) == 3 else ""
    )


def format_property_default(value: object, type_: str) -> str:
    """``type=vm sys-firewall``, the answer of ``GetDefault`` when there is a default."""
    return f"type={type_} {_value_text(value)}"


def parse_property_default(text: str) -> PropertyValue | None:
    """Parse a ``GetDefault`` answer; the empty answer (no default) gives None."""
    if not text:
        return None
    type_field, _, value = text.partition(" ")
    if not type_field.startswith("type="):
        raise QubesDaemonCommunicationError(f"Invalid property default: {text!r}")
    return PropertyValue(True, type_field[5:], value)


def format_getall_line(name: str, value: object, type_: str, *, is_default: bool) -> str:
    """One newline-terminated ``GetAll`` line (callers sort the lines by name)."""
    serialised = format_property_value(value, type_, is_default=is_default)
    return f"{name} {escape_getall_value(serialised)}\n"


def getall_line_heads(name: str, type_: str) -> tuple[str, str]:
    """What a ``GetAll`` line has before its value: for a default value, for a set one.

    ``head + escape_getall_value(value text) + "\\n"`` is the ``format_getall_line``
    of the value (only the value text can hold what needs escaping).
    """
    return (
        f"{name} {format_property_value(None, type_, is_default=True)}",
        f"{name} {format_property_value(None, type_, is_default=False)}",
    )


def parse_getall(body: str) -> dict[str, PropertyValue]:
    """Parse a ``GetAll`` answer into name → value."""
    result: dict[str, PropertyValue] = {}
    # split on newlines only: values may hold other line breaks (\r, \x1c…) unescaped
    for line in body.split("\n"):
        if not line:
            continue
        name, _, rest = line.partition(" ")
        result[name] = parse_property_value(unescape_getall_value(rest))
    return result
