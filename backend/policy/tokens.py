"""Qube tokens of the policy language (``@anyvm``, ``@tag:X``, names…) and their parser."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import PurePath

from backend.policy.errors import PolicySyntaxError

DOM0 = "dom0"
DOM0_UUID = "00000000-0000-0000-0000-000000000000"
UUID_PREFIX = "uuid:"
DISPVM_PREFIX = "@dispvm:"

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TokenKind(enum.Enum):
    NAME = "name"  # a qube by name or by ``uuid:<uuid>``; value is the reference
    ADMINVM = "@adminvm"  # also ``dom0`` and ``uuid:0…0`` in policy columns
    ANYVM = "@anyvm"
    WILDCARD = "*"
    DEFAULT = "@default"
    DISPVM = "@dispvm"
    DISPVM_TEMPLATE = "@dispvm:"  # value is the dvm-template reference
    DISPVM_TAG = "@dispvm:@tag:"  # value is the tag
    TAG = "@tag:"
    TYPE = "@type:"


class Column(enum.Enum):
    """Where a token stands; each place accepts its own set of kinds (core-model §8.2)."""

    SOURCE = "source"
    TARGET = "target"
    REDIRECT = "target= parameter"
    REQUEST = "requested target"


_ALLOWED: dict[Column, frozenset[TokenKind]] = {
    Column.SOURCE: frozenset(
        {
            TokenKind.NAME,
            TokenKind.ADMINVM,
            TokenKind.ANYVM,
            TokenKind.WILDCARD,
            TokenKind.TAG,
            TokenKind.TYPE,
            # they parse in the source column but never match (sources are concrete)
            TokenKind.DISPVM_TEMPLATE,
            TokenKind.DISPVM_TAG,
        }
    ),
    Column.TARGET: frozenset(TokenKind),
    Column.REDIRECT: frozenset(
        {TokenKind.NAME, TokenKind.ADMINVM, TokenKind.DISPVM, TokenKind.DISPVM_TEMPLATE}
    ),
    Column.REQUEST: frozenset(
        {
            TokenKind.NAME,
            TokenKind.ADMINVM,
            TokenKind.DEFAULT,
            TokenKind.DISPVM,
            TokenKind.DISPVM_TEMPLATE,
        }
    ),
}

_EXACT = {
    "@adminvm": TokenKind.ADMINVM,
    "@anyvm": TokenKind.ANYVM,
    "*": TokenKind.WILDCARD,
    "@default": TokenKind.DEFAULT,
    "@dispvm": TokenKind.DISPVM,
}

# longest prefix first, so that ``@dispvm:@tag:`` wins over ``@dispvm:``
_PREFIXES = (
    ("@dispvm:@tag:", TokenKind.DISPVM_TAG),
    ("@dispvm:", TokenKind.DISPVM_TEMPLATE),
    ("@tag:", TokenKind.TAG),
    ("@type:", TokenKind.TYPE),
)


@dataclass(frozen=True)
class Token:
    """One parsed token; ``text`` is how it was written, ``value`` what it refers to."""

    kind: TokenKind
    value: str
    text: str

    def __str__(self) -> str:
        return self.text


def is_dom0_ref(ref: str) -> bool:
    """True for the two spellings of a reference to dom0 that are not keywords."""
    return ref == DOM0 or ref == UUID_PREFIX + DOM0_UUID


def _qube_ref(text: str, *, path: PurePath | str, lineno: int | None) -> str:
    """Validate a qube reference (name or ``uuid:<uuid>``); return it normalised."""
    if text.startswith(UUID_PREFIX):
        uuid = text[len(UUID_PREFIX) :]
        if not _UUID.match(uuid):
            raise PolicySyntaxError(path, lineno, f"invalid uuid in token {text!r}")
        return UUID_PREFIX + uuid.lower()
    if not text or text == "*" or text.startswith("@"):
        raise PolicySyntaxError(path, lineno, f"invalid qube name {text!r}")
    return text


def _classify(text: str, *, path: PurePath | str, lineno: int | None) -> Token:
    if not text:
        raise PolicySyntaxError(path, lineno, "empty qube token")
    kind = _EXACT.get(text)
    if kind is not None:
        return Token(kind, "", text)
    for prefix, kind in _PREFIXES:
        if not text.startswith(prefix):
            continue
        value = text[len(prefix) :]
        if not value:
            raise PolicySyntaxError(path, lineno, f"invalid empty {prefix} token: {text!r}")
        if value.startswith("@"):
            continue  # part of a longer prefix, or nothing valid at all
        if kind is TokenKind.DISPVM_TEMPLATE:
            value = _qube_ref(value, path=path, lineno=lineno)
        return Token(kind, value, text)
    if text.startswith("@"):
        raise PolicySyntaxError(path, lineno, f"invalid token: {text!r}")
    return Token(TokenKind.NAME, _qube_ref(text, path=path, lineno=lineno), text)


def parse_token(
    text: str, column: Column, *, path: PurePath | str = "<string>", lineno: int | None = None
) -> Token:
    """Parse one token for ``column``; raise :class:`PolicySyntaxError` if it is not valid.

    In the policy columns ``dom0`` and ``uuid:0…0`` become :attr:`TokenKind.ADMINVM`
    (they are interchangeable with ``@adminvm``); in a request they stay names, because a
    request for literal ``dom0`` matches ``@tag:``/``@type:`` rules and ``@adminvm`` does not.
    """
    token = _classify(text, path=path, lineno=lineno)
    if token.kind not in _ALLOWED[column]:
        raise PolicySyntaxError(path, lineno, f"{text!r} is not allowed as {column.value}")
    if column is not Column.REQUEST and token.kind is TokenKind.NAME and is_dom0_ref(token.value):
        return Token(TokenKind.ADMINVM, "", text)
    return token
