"""A few helpers over ElementTree so the builders read like the XML they make.

Attributes keep the order they are given in and elements the order they are added,
so the same spec always serialises to the same bytes (golden files stay stable).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

Attrs = dict[str, str | int | None]


def sub(
    parent: ET.Element, tag: str, attrs: Attrs | None = None, text: str | None = None
) -> ET.Element:
    """Append ``<tag>``; attributes whose value is None are left out."""
    elem = ET.SubElement(parent, tag)
    for key, value in (attrs or {}).items():
        if value is not None:
            elem.set(key, str(value))
    if text is not None:
        elem.text = text
    return elem


def root(tag: str, attrs: Attrs | None = None) -> ET.Element:
    elem = ET.Element(tag)
    for key, value in (attrs or {}).items():
        if value is not None:
            elem.set(key, str(value))
    return elem


def serialise(elem: ET.Element) -> str:
    ET.indent(elem, space="  ")
    return ET.tostring(elem, encoding="unicode") + "\n"
