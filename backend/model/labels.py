"""Labels: the eight built-in colours and custom ones."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backend.errors import QubesLabelNotFoundError, QubesValueError

_LABEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_COLOR = re.compile(r"^0x[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Label:
    index: int
    color: str  # "0xRRGGBB"
    name: str

    @property
    def icon(self) -> str:
        return f"appvm-{self.name}"

    def __str__(self) -> str:
        return self.name


DEFAULT_LABELS: tuple[Label, ...] = (
    Label(1, "0xcc0000", "red"),
    Label(2, "0xf57900", "orange"),
    Label(3, "0xedd400", "yellow"),
    Label(4, "0x73d216", "green"),
    Label(5, "0x555555", "gray"),
    Label(6, "0x3465a4", "blue"),
    Label(7, "0x75507b", "purple"),
    Label(8, "0x000000", "black"),
)


def validate_label_name(name: str) -> str:
    if not name or not _LABEL_NAME.match(name):
        raise QubesValueError(f"Invalid label name {name!r}: use letters, digits, '-', '_', '.'")
    if name.isdigit():
        raise QubesValueError(f"Invalid label name {name!r}: must not be all digits")
    return name


def validate_label_color(color: str) -> str:
    if not _COLOR.match(color):
        raise QubesValueError(
            f"Invalid label colour {color!r}: expected 0x followed by 6 hex digits"
        )
    return color.lower()


class LabelSet:
    """The app's labels, looked up by index, ``label-N``, name or numeric string."""

    def __init__(self, labels: tuple[Label, ...] = DEFAULT_LABELS) -> None:
        self._by_index: dict[int, Label] = {lb.index: lb for lb in labels}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._by_index.values(), key=lambda lb: lb.index))

    def __len__(self) -> int:
        return len(self._by_index)

    def get(self, key: object) -> Label:
        if isinstance(key, Label):
            key = key.index
        if isinstance(key, int) and not isinstance(key, bool):
            if key in self._by_index:
                return self._by_index[key]
            raise QubesLabelNotFoundError(key)
        if isinstance(key, str):
            text = key
            if text.startswith("label-") and text[6:].isdigit():
                return self.get(int(text[6:]))
            if text.isdigit():
                return self.get(int(text))
            for label in self._by_index.values():
                if label.name == text:
                    return label
        raise QubesLabelNotFoundError(key)

    def add(self, name: str, color: str) -> Label:
        validate_label_name(name)
        color = validate_label_color(color)
        if any(lb.name == name for lb in self._by_index.values()):
            raise QubesValueError(f"Label {name!r} already exists")
        index = max(max(self._by_index, default=0) + 1, 9)
        label = Label(index, color, name)
        self._by_index[index] = label
        return label

    def remove(self, label: Label) -> None:
        if label.index <= len(DEFAULT_LABELS):
            raise QubesValueError(f"Label {label.name!r} is built in and cannot be removed")
        del self._by_index[label.index]
