"""The text forms of the device API: ``key='value'`` lists and qrexec arguments.

A serialised device or assignment is a space-separated list of ``key='value'``
pairs. Values are single-quoted and a quote inside is written ``\\'``; nothing
else is escaped, so a value cannot end with a backslash (it would read as an
escaped quote). Keys are printable ASCII without space, quote or ``=``; values
may also hold spaces and any punctuation. Keys starting with ``_`` are options
(assignments) or extra data (devices).

In a qrexec argument a device is ``<backend>+<port_id>+<device_id>``: the colons
of the device id may be written as ``+`` and a whole field ``*`` (any) as ``_``.

Pure code: the client imports it without the daemon.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from backend.errors import ProtocolError

KEY_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&()*+,-./:;<>?@[\\]^_{|}~")
VALUE_CHARS = KEY_CHARS | frozenset(string.punctuation + " ")

ANY = "*"
#: how a qrexec argument spells ``*`` (qrexec refuses ``*`` in arguments)
QARG_ANY = "_"

_PORT_ID = re.compile(r"[A-Za-z0-9._:*-]{1,128}")
_DEVICE_ID = re.compile(r"[A-Za-z0-9._:*?-]{1,256}")


def _check_key(key: str) -> str:
    if not key or not set(key) <= KEY_CHARS:
        raise ProtocolError(f"invalid property name {key!r}")
    return key


def _check_value(key: str, value: str) -> str:
    bad = set(value) - VALUE_CHARS
    if bad:
        raise ProtocolError(f"invalid characters in {key}: {''.join(sorted(bad))!r}")
    return value


def pack_property(key: str, value: str) -> str:
    """One ``key='value'`` pair; ProtocolError if it could not be read back."""
    _check_value(_check_key(key), value)
    if value.endswith("\\"):
        raise ProtocolError(f"{key}: a value cannot end with a backslash")
    return f"{key}='" + value.replace("'", "\\'") + "'"


def pack_properties(pairs: Iterable[tuple[str, str | None]]) -> str:
    """Pairs joined by spaces; pairs whose value is None are left out."""
    return " ".join(pack_property(key, value) for key, value in pairs if value is not None)


def unpack_properties(text: str) -> dict[str, str]:
    """The pairs of a serialisation, in order; ProtocolError naming the first problem.

    Surrounding spaces are ignored; a key given twice is refused.
    """
    text = text.strip(" ")
    result: dict[str, str] = {}
    pos, end = 0, len(text)
    while pos < end:
        eq = text.find("='", pos)
        if eq < 0:
            raise ProtocolError(f"expected key='value' at {text[pos:pos + 30]!r}")
        key = _check_key(text[pos:eq])
        value, pos = _read_value(text, eq + 2, key)
        if key in result:
            raise ProtocolError(f"property {key} given twice")
        result[key] = _check_value(key, value)
        if pos < end:
            if text[pos] != " ":
                raise ProtocolError(f"expected a space after {key}='…'")
            pos += 1
    return result


def _read_value(text: str, pos: int, key: str) -> tuple[str, int]:
    """The quoted value starting at ``pos`` and the position after its closing quote."""
    chars: list[str] = []
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == "\\" and text.startswith("'", pos + 1):
            chars.append("'")
            pos += 2
        elif char == "'":
            return "".join(chars), pos + 1
        else:
            chars.append(char)
            pos += 1
    raise ProtocolError(f"{key}: value has no closing quote")


def split_options(props: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(plain properties, ``_``-prefixed ones without the prefix)."""
    plain = {k: v for k, v in props.items() if not k.startswith("_")}
    extra = {k[1:]: v for k, v in props.items() if k.startswith("_")}
    if "" in extra:
        raise ProtocolError("an option needs a name after '_'")
    return plain, extra


# --- qrexec arguments ----------------------------------------------------------------------


def check_port_id(port_id: str) -> str:
    if not _PORT_ID.fullmatch(port_id) or (ANY in port_id and port_id != ANY):
        raise ProtocolError(f"invalid port id {port_id!r}")
    return port_id


def check_device_id(device_id: str) -> str:
    if not _DEVICE_ID.fullmatch(device_id):
        raise ProtocolError(f"invalid device id {device_id!r}")
    return device_id


def parse_qarg(arg: str) -> tuple[str, str, str]:
    """``backend+port[+device id]`` as (backend, port_id, device_id); ``_`` is ``*``.

    The backend name is not checked here (the caller looks it up).
    """
    backend, sep, rest = arg.partition("+")
    if not backend or not sep or not rest:
        raise ProtocolError(f"expected <backend>+<port>[+<device id>], got {arg!r}")
    port_id, _, device_id = rest.partition("+")
    port_id = ANY if port_id == QARG_ANY else port_id
    device_id = device_id.replace("+", ":")
    device_id = ANY if device_id in ("", QARG_ANY) else device_id
    return backend, check_port_id(port_id), check_device_id(device_id)


def format_qarg(backend: str, port_id: str, device_id: str = ANY) -> str:
    """The qrexec argument naming a device (what ``parse_qarg`` reads)."""

    def field(value: str) -> str:
        return QARG_ANY if value == ANY else value

    return f"{backend}+{field(port_id)}+{field(device_id).replace(':', '+')}"
