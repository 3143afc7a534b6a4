"""Validation of volume sizes: bytes, non-negative, and only ever growing."""

from __future__ import annotations

from backend.errors import QubesValueError
from backend.storage.config import parse_int


def validate_size(value: object, what: str = "size") -> int:
    """A size in bytes, given as int or decimal string; refuses negatives and bools."""
    return parse_int(value, what, minimum=0)


def check_new_size(vid: str, current: int, new: object) -> int:
    """Return the validated new size; refuse shrinking, which would destroy data."""
    size = validate_size(new)
    if size < current:
        raise QubesValueError(
            f"Cannot shrink volume {vid} from {current} bytes to {size} bytes: "
            "shrinking would destroy data, only growing is supported"
        )
    return size
