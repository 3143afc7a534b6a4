"""A minimal XML element tree for qubes.xml: a safe expat reader and an lxml-like writer.

The file may come out of a backup, so the reader refuses any document type declaration
(no DTD, hence no entity expansion of any kind) and reports where a document is broken.
The writer produces what qubesd's lxml ``pretty_print`` produces: two-space indent, no
XML declaration, ``<a/>`` for an empty element and ``<a></a>`` for an empty text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat


class XMLSyntaxError(Exception):
    """The bytes are not a well-formed, DTD-free XML document."""


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    children: list[Node] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str | None:
        """Character data directly inside the element (None when there is none)."""
        return "".join(self.chunks) if self.chunks else None

    def where(self) -> str:
        return f"line {self.line}, column {self.column}"


def parse(data: bytes) -> Node:
    """Parse ``data`` into a tree of :class:`Node`; raise :class:`XMLSyntaxError`."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Node] = []
    roots: list[Node] = []

    def here() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def start(tag: str, attrs: dict[str, str]) -> None:
        line, column = here()
        node = Node(tag, attrs, line, column)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def chardata(text: str) -> None:
        if stack:
            stack[-1].chunks.append(text)

    def doctype(name: str, *_args: object) -> None:
        line, column = here()
        raise XMLSyntaxError(
            f"document type declaration <!DOCTYPE {name}> at line {line}, column {column}"
            " is not allowed"
        )

    def entity(name: str, *_args: object) -> None:  # only reachable inside a DTD
        line, column = here()
        raise XMLSyntaxError(f"entity declaration {name!r} at line {line}, column {column}")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chardata
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code is not None else str(exc)
        raise XMLSyntaxError(
            f"not well-formed XML: {message} at line {exc.lineno}, column {exc.offset + 1}"
        ) from None
    return roots[0]


# XML 1.0 cannot carry these at all, not even as character references.
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def _checked(value: str, what: str) -> str:
    bad = _ILLEGAL.search(value)
    if bad:
        raise ValueError(f"{what}: character {bad.group()!r} cannot be stored in XML")
    return value


class Writer:
    """Builds the pretty-printed document line by line."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def _open_tag(self, tag: str, attrs: list[tuple[str, str]]) -> str:
        parts = [tag]
        for name, value in attrs:
            if not _NAME.match(name):
                raise ValueError(f"<{tag}>: {name!r} is not a valid attribute name")
            escaped = _checked(value, f"<{tag} {name}=…>").translate(_ATTR_ESCAPES)
            parts.append(f'{name}="{escaped}"')
        return "<" + " ".join(parts)

    def _line(self, text: str) -> None:
        self._lines.append("  " * self._depth + text)

    def leaf(self, tag: str, attrs: list[tuple[str, str]], text: str | None = None) -> None:
        """An element without children; ``None`` text gives ``<a/>``, ``""`` ``<a></a>``."""
        head = self._open_tag(tag, attrs)
        if text is None:
            self._line(head + "/>")
        else:
            body = _checked(text, f"<{tag}> text").translate(_TEXT_ESCAPES)
            self._line(f"{head}>{body}</{tag}>")

    def start(self, tag: str, attrs: list[tuple[str, str]]) -> None:
        self._line(self._open_tag(tag, attrs) + ">")
        self._depth += 1

    def end(self, tag: str) -> None:
        self._depth -= 1
        self._line(f"</{tag}>")

    def getvalue(self) -> bytes:
        return ("\n".join(self._lines) + "\n").encode("utf-8")
