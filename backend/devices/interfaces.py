"""Device interface codes: 7 characters, a class letter and 6 hex digits or ``*``.

The letter is ``p`` (PCI class/subclass/prog-if), ``u`` (USB class/subclass/
protocol), ``b`` (block) or ``m`` (microphone); ``?`` marks an unknown interface
and ``*`` in a pattern matches any character. Codes name device categories and
fill the deny lists (``devices_denied``).

Pure code: the client imports it without the daemon.
"""

from __future__ import annotations

import enum
import re

from backend.errors import QubesValueError

CODE_LENGTH = 7
UNKNOWN = "?******"

_CODE = re.compile(r"[pubm?][0-9a-fA-F*]{6}")
_PATTERN = re.compile(r"[pubm*][0-9a-fA-F*]{6}")


def split_codes(text: str) -> tuple[str, ...]:
    """Concatenated interface codes, as a device lists them; ValueError if malformed."""
    if len(text) % CODE_LENGTH:
        raise QubesValueError(f"interface codes are {CODE_LENGTH} characters each: {text!r}")
    codes = tuple(text[i : i + CODE_LENGTH] for i in range(0, len(text), CODE_LENGTH))
    for code in codes:
        if not _CODE.fullmatch(code):
            raise QubesValueError(f"invalid interface code {code!r}")
    return codes


def split_patterns(text: str) -> tuple[str, ...]:
    """Concatenated deny-list patterns (``u03****``, ``*******``), in the given order."""
    if len(text) % CODE_LENGTH:
        raise QubesValueError(f"interface codes are {CODE_LENGTH} characters each: {text!r}")
    patterns = tuple(text[i : i + CODE_LENGTH] for i in range(0, len(text), CODE_LENGTH))
    for pattern in patterns:
        if not _PATTERN.fullmatch(pattern):
            raise QubesValueError(f"invalid device interface code {pattern!r}")
    return patterns


def matches(pattern: str, code: str) -> bool:
    """Whether ``code`` fits ``pattern`` (``*`` matches anything, letters ignore case)."""
    if len(pattern) != CODE_LENGTH or len(code) != CODE_LENGTH:
        return False
    return all(p == "*" or p.lower() == c.lower() for p, c in zip(pattern, code, strict=True))


def denied_by(patterns: str, codes: tuple[str, ...]) -> str | None:
    """The first deny pattern that matches one of ``codes``, or None."""
    for pattern in split_patterns(patterns):
        if any(matches(pattern, code) for code in codes):
            return pattern
    return None


class Category(enum.Enum):
    """What a device is, for icons and grouping; each with the patterns that make it."""

    OTHER = ()
    COMMUNICATION = ("u02****", "p07****")
    INPUT = ("u03****", "p09****")
    KEYBOARD = ("u03**01", "p0900**")
    MOUSE = ("u03**02", "p0902**")
    PRINTER = ("u07****",)
    SCANNER = ("p0903**",)
    MICROPHONE = ("m******",)
    MULTIMEDIA = ("u01****", "u0e****", "u06****", "u10****", "p03****", "p04****")
    WIRELESS = ("ue0****", "p0d****")
    BLUETOOTH = ("ue00101", "p0d11**")
    MASS_DATA = ("b******", "u08****", "p01****")
    NETWORK = ("p02****",)
    MEMORY = ("p05****",)
    PCI_BRIDGE = ("p06****",)
    DOCKING_STATION = ("p0a****",)
    PROCESSOR = ("p0b****", "p40****")
    PCI_SERIAL_BUS = ("p0c****",)
    PCI_USB = ("p0c03**",)


def category(code: str) -> Category:
    """The category whose pattern matches ``code`` with the most fixed characters."""
    best, best_score = Category.OTHER, 0
    for candidate in Category:
        for pattern in candidate.value:
            if matches(pattern, code):
                score = sum(1 for char in pattern if char != "*")
                if score > best_score:
                    best, best_score = candidate, score
    return best
