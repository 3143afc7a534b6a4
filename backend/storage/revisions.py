"""Names of volume revision files: ``<vid>.img.<N>@<YYYY-MM-DDTHH:MM:SS>Z``."""

from __future__ import annotations

import datetime
import glob
import os
import re
from typing import NamedTuple

from backend.errors import QubesValueError

_SUFFIX_RE = re.compile(
    r"(?P<number>[1-9][0-9]*)@(?P<stamp>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})Z",
    re.ASCII,
)
# Characters the Admin API accepts in a revision argument (core-model.md §3.9).
_REVISION_ID_RE = re.compile(r"[A-Za-z0-9:_.-]+", re.ASCII)


class Revision(NamedTuple):
    number: int
    timestamp: str  # "YYYY-MM-DDTHH:MM:SS", UTC
    path: str


def format_timestamp(epoch: float) -> str:
    """UTC time of ``epoch`` as ``YYYY-MM-DDTHH:MM:SS`` (zero-padded year)."""
    moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def format_suffix(number: int, timestamp: str) -> str:
    if number < 1:
        raise QubesValueError(f"Invalid revision number: {number}")
    suffix = f"{number}@{timestamp}Z"
    if parse_suffix(suffix) is None:
        raise QubesValueError(f"Invalid revision timestamp: {timestamp!r}")
    return suffix


def parse_suffix(suffix: str) -> tuple[int, str] | None:
    """``(number, timestamp)`` of a revision suffix, or None if it is not one."""
    match = _SUFFIX_RE.fullmatch(suffix)
    if match is None:
        return None
    return int(match["number"]), match["stamp"]


def validate_revision_id(revision: str) -> str:
    if not isinstance(revision, str) or not _REVISION_ID_RE.fullmatch(revision):
        raise QubesValueError(f"Invalid revision id: {revision!r}")
    return revision


def list_revisions(clean_path: str) -> list[Revision]:
    """Revision files of the clean image ``clean_path``, oldest (lowest number) first."""
    prefix = clean_path + "."
    found = []
    for path in glob.glob(glob.escape(prefix) + "*@*Z"):
        parsed = parse_suffix(path[len(prefix) :])
        if parsed is not None and os.path.isfile(path):
            found.append(Revision(parsed[0], parsed[1], path))
    found.sort()
    return found
