"""Qube notes: at most 256,000 bytes of UTF-8, kept in ``<qube dir>/notes.txt``."""

from __future__ import annotations

import unicodedata

from backend.errors import QubesValueError

MAX_NOTES_BYTES = 256_000
_ALLOWED_CONTROLS = {"\n", "\t"}


def sanitize_notes(data: bytes) -> str:
    """Decode ``data``; characters unsafe for display become ``_``.

    Refuses (rather than truncates) over-long notes so nothing the user wrote is lost
    silently.
    """
    if len(data) > MAX_NOTES_BYTES:
        raise QubesValueError(
            f"Notes are too long: {len(data)} bytes, at most {MAX_NOTES_BYTES} allowed"
        )
    text = data.decode("utf-8", errors="replace")
    return "".join(_safe(ch) for ch in text)


def _safe(ch: str) -> str:
    if ch in _ALLOWED_CONTROLS:
        return ch
    category = unicodedata.category(ch)
    # control, format (bidi overrides), surrogates, unassigned, private use, separators
    if category in ("Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp") or ch == "\ufffd":
        return "_"
    return ch
