"""One firewall rule of a qube: its options, their validation and normalisation."""

from __future__ import annotations

import enum
import ipaddress
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, replace
from typing import TypeVar

from backend.errors import QubesValueError


class Action(enum.StrEnum):
    ACCEPT = "accept"
    DROP = "drop"


class Proto(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


class SpecialTarget(enum.StrEnum):
    DNS = "dns"  # the DNS servers of the qube


#: the protocols with ports
PORT_PROTOS = frozenset({Proto.TCP, Proto.UDP})
MAX_PORT = 65535
MAX_ICMPTYPE = 255
#: 9999-12-31T23:59:59Z, the last second a datetime (and so upstream) can represent
MAX_EXPIRE = 253_402_300_799
MAX_HOSTNAME = 253
MAX_LABEL = 63

#: the option names of a rule, as Rule fields, firewall.xml and the Admin API name them
OPTION_NAMES = (
    "action",
    "proto",
    "dst4",
    "dst6",
    "dsthost",
    "specialtarget",
    "dstports",
    "icmptype",
    "expire",
    "comment",
)
HOST_OPTIONS = ("dst4", "dst6", "dsthost")

COMMENT_CHARS = frozenset(string.ascii_letters + string.digits + ":;,./-_[] ")
_HOSTNAME_CHARS = frozenset(string.ascii_lowercase + string.digits + "-._")
_IPV4_CHARS = frozenset(string.digits + ".")
_IPV6_CHARS = frozenset(string.hexdigits + ":.")
_PORTS = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", re.ASCII)


def show(value: object) -> str:
    """A value as an error message quotes it: repr, so control characters show, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "...'"


def _refuse(option: str, value: object, problem: str) -> QubesValueError:
    return QubesValueError(f"{option}: {show(value)} {problem}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(option: str, text: str, digits: int) -> int:
    """Parse a decimal number of at most ``digits`` ASCII digits (no sign, no spaces)."""
    if not re.fullmatch(f"[0-9]{{1,{digits}}}", text, re.ASCII):
        raise _refuse(option, text, f"is not a number of at most {digits} digits")
    return int(text)


@dataclass(frozen=True, slots=True)
class PortRange:
    """Destination ports ``first`` to ``last``, both included; one port is ``N-N``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        for port in (self.first, self.last):
            if not _is_int(port) or not 0 <= port <= MAX_PORT:
                raise _refuse("dstports", port, f"is not a port number (0-{MAX_PORT})")
        if self.first > self.last:
            raise _refuse("dstports", f"{self.first}-{self.last}", "ends before it starts")

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(port, port)

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """``N`` or ``N-M``, decimal."""
        match = _PORTS.fullmatch(text)
        if match is None:
            raise _refuse("dstports", text, "is not a port or a port range like 1024-2048")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        return cls(first, last)

    @property
    def is_single(self) -> bool:
        return self.first == self.last

    def short(self) -> str:
        """``N`` for one port, else ``N-M``: how upstream's firewall.xml stores it."""
        return str(self.first) if self.is_single else str(self)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def _prefix(option: str, text: str, bits: int) -> tuple[str, int]:
    """Split ``addr[/len]``; a bare address gets the full length (host route)."""
    address, slash, length = text.partition("/")
    if not slash:
        return address, bits
    if not re.fullmatch("[0-9]{1,3}", length, re.ASCII) or int(length) > bits:
        raise _refuse(option, text, f"has an invalid prefix length (0-{bits})")
    return address, int(length)


def ipv4_network(option: str, text: str) -> str:
    """``a.b.c.d/nn`` for an IPv4 address with an optional prefix length.

    The address is kept as given, host bits included, as upstream keeps it.
    """
    address, length = _prefix(option, text, 32)
    if not address or not set(address) <= _IPV4_CHARS:
        raise _refuse(option, text, "is not an IPv4 address")
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        raise _refuse(option, text, "is not an IPv4 address") from None
    return f"{parsed}/{length}"


def ipv6_network(option: str, text: str) -> str:
    """``addr/nnn`` for an IPv6 address with an optional prefix length.

    The address is written in its compressed lower-case form, so one network has one
    spelling; scope ids (``%eth0``) are refused.
    """
    address, length = _prefix(option, text, 128)
    if not address or not set(address) <= _IPV6_CHARS:
        raise _refuse(option, text, "is not an IPv6 address")
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        raise _refuse(option, text, "is not an IPv6 address") from None
    return f"{parsed.compressed}/{length}"


def hostname(option: str, text: str) -> str:
    """A DNS name the firewall qube resolves: lower-case ``a-z0-9-._``, dot-separated.

    Digits and dots only are an IPv4 address: :func:`classify_destination` sorts them.
    """
    if not text:
        raise _refuse(option, text, "is empty")
    bad = sorted(set(text) - _HOSTNAME_CHARS)
    if bad:
        hint = " (host names must be lower case)" if any(c.isupper() for c in bad) else ""
        raise _refuse(option, text, f"contains {show(''.join(bad))}{hint}")
    if len(text) > MAX_HOSTNAME:
        raise _refuse(option, text, f"is longer than {MAX_HOSTNAME} characters")
    labels = text.removesuffix(".").split(".")  # one trailing dot: fully qualified
    if any(not label for label in labels):
        raise _refuse(option, text, "has an empty label")
    if any(len(label) > MAX_LABEL for label in labels):
        raise _refuse(option, text, f"has a label longer than {MAX_LABEL} characters")
    return text


def classify_destination(option: str, text: str) -> tuple[str, str]:
    """Sort a destination given as upstream's ``dsthost`` into dst4, dst6 or dsthost.

    Returns the option name and the normalised value (bare addresses get ``/32`` or
    ``/128``). No host name has a ``:`` or a ``/`` or is digits and dots only, so
    those are addresses and get the address's error message when invalid.
    """
    if ":" in text:
        return "dst6", ipv6_network(option, text)
    if "/" in text or (text and set(text) <= _IPV4_CHARS):
        return "dst4", ipv4_network(option, text)
    return "dsthost", hostname(option, text)


_E = TypeVar("_E", bound=enum.StrEnum)
_T = TypeVar("_T")


def _choice(option: str, kind: type[_E], text: str) -> _E:
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise _refuse(option, text, f"is not one of: {allowed}") from None


def _check_member(option: str, value: object, kind: type[enum.StrEnum], required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, kind):
        raise _refuse(option, value, f"is not of type {kind.__name__}")


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``action`` for traffic that matches every option given.

    Construct it with typed values (validated and normalised here), or from the
    option strings of the Admin API or firewall.xml with :meth:`from_options`.
    """

    action: Action
    _: KW_ONLY
    proto: Proto | None = None
    dst4: str | None = None  # "a.b.c.d/nn"; a bare address becomes /32
    dst6: str | None = None  # "addr/nnn", compressed; a bare address becomes /128
    dsthost: str | None = None  # a host name, resolved by the firewall qube
    specialtarget: SpecialTarget | None = None
    dstports: PortRange | None = None  # only with tcp or udp
    icmptype: int | None = None  # only with icmp
    expire: int | None = None  # UNIX time from which the rule no longer applies
    comment: str | None = None  # for the user; never reaches the firewall qube

    def __post_init__(self) -> None:
        _check_member("action", self.action, Action, required=True)
        _check_member("proto", self.proto, Proto, required=False)
        _check_member("specialtarget", self.specialtarget, SpecialTarget, required=False)
        self._check_destination()
        self._check_dstports()
        self._check_icmptype()
        self._check_expire()
        self._check_comment()

    def _check_destination(self) -> None:
        given = [name for name in HOST_OPTIONS if getattr(self, name) is not None]
        for name in given:
            if not isinstance(getattr(self, name), str):
                raise _refuse(name, getattr(self, name), "is not a string")
        if len(given) > 1:
            raise QubesValueError(f"{' and '.join(given)}: a rule has at most one destination host")
        if self.dst4 is not None:
            object.__setattr__(self, "dst4", ipv4_network("dst4", self.dst4))
        if self.dst6 is not None:
            object.__setattr__(self, "dst6", ipv6_network("dst6", self.dst6))
        if self.dsthost is not None:
            kind, value = classify_destination("dsthost", self.dsthost)
            if kind != "dsthost":
                raise _refuse("dsthost", self.dsthost, f"is an address; give it as {kind}")
            object.__setattr__(self, "dsthost", value)

    def _check_dstports(self) -> None:
        if self.dstports is None:
            return
        if not isinstance(self.dstports, PortRange):
            raise _refuse("dstports", self.dstports, "is not a PortRange")
        if self.proto not in PORT_PROTOS:
            raise _refuse(
                "dstports",
                str(self.dstports),
                f"needs proto=tcp or proto=udp; {_proto_text(self.proto)}",
            )

    def _check_icmptype(self) -> None:
        if self.icmptype is None:
            return
        if not _is_int(self.icmptype) or not 0 <= self.icmptype <= MAX_ICMPTYPE:
            raise _refuse("icmptype", self.icmptype, f"is not a number 0-{MAX_ICMPTYPE}")
        if self.proto is not Proto.ICMP:
            raise _refuse("icmptype", self.icmptype, f"needs proto=icmp; {_proto_text(self.proto)}")

    def _check_expire(self) -> None:
        if self.expire is None:
            return
        if not _is_int(self.expire) or not 0 <= self.expire <= MAX_EXPIRE:
            raise _refuse("expire", self.expire, f"is not a UNIX time 0-{MAX_EXPIRE}")

    def _check_comment(self) -> None:
        if self.comment is None:
            return
        if not isinstance(self.comment, str):
            raise _refuse("comment", self.comment, "is not a string")
        if not self.comment:
            # "comment=" reads back as no comment, so an empty one would not round-trip
            raise _refuse("comment", self.comment, "is empty; leave the comment out")
        bad = sorted(set(self.comment) - COMMENT_CHARS)
        if bad:
            raise _refuse(
                "comment",
                self.comment,
                f"contains {show(''.join(bad))}; allowed are letters, digits, space and :;,./-_[]",
            )

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Rule:
        """A rule from option strings keyed by :data:`OPTION_NAMES`.

        ``dsthost`` may hold any destination (as upstream's option does) and is
        sorted into dst4, dst6 or dsthost; an empty ``comment`` means no comment.
        """
        unknown = [name for name in options if name not in OPTION_NAMES]
        if unknown:
            raise QubesValueError(f"unknown firewall rule option {show(unknown[0])}")
        for name, value in options.items():
            if not isinstance(value, str):
                raise _refuse(name, value, "is not a string")
        if "action" not in options:
            raise QubesValueError("action: missing; every rule needs action=accept or drop")
        hosts = [name for name in HOST_OPTIONS if name in options]
        if len(hosts) > 1:
            raise QubesValueError(f"{' and '.join(hosts)}: a rule has at most one destination host")

        values: dict[str, str | None] = dict.fromkeys(HOST_OPTIONS)
        if "dsthost" in options:
            kind, host = classify_destination("dsthost", options["dsthost"])
            values[kind] = host
        else:
            for name in ("dst4", "dst6"):
                values[name] = options.get(name)

        def optional(name: str, convert: Callable[[str], _T]) -> _T | None:
            text = options.get(name)
            return None if text is None else convert(text)

        return cls(
            _choice("action", Action, options["action"]),
            proto=optional("proto", lambda t: _choice("proto", Proto, t)),
            dst4=values["dst4"],
            dst6=values["dst6"],
            dsthost=values["dsthost"],
            specialtarget=optional(
                "specialtarget", lambda t: _choice("specialtarget", SpecialTarget, t)
            ),
            dstports=optional("dstports", PortRange.parse),
            icmptype=optional("icmptype", lambda t: _number("icmptype", t, 3)),
            expire=optional("expire", lambda t: _number("expire", t, 12)),
            comment=options.get("comment") or None,
        )

    @property
    def destination(self) -> str | None:
        """Whichever of dst4, dst6, dsthost is set."""
        return self.dst4 or self.dst6 or self.dsthost

    def is_expired(self, now: float) -> bool:
        """True from the second ``expire`` names on: the rule is active *until* then."""
        return self.expire is not None and self.expire <= now

    def with_proto(self, proto: Proto | None) -> Rule:
        """This rule for another protocol, dropping ports or ICMP type it cannot keep."""
        return replace(
            self,
            proto=proto,
            dstports=self.dstports if proto in PORT_PROTOS else None,
            icmptype=self.icmptype if proto is Proto.ICMP else None,
        )


def _proto_text(proto: Proto | None) -> str:
    return "the rule has no proto" if proto is None else f"the rule has proto={proto}"
