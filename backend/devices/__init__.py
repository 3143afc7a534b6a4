"""Devices: the model and wire forms (pure, shared with the client), and the daemon's
manager, its reactions to qubes starting and stopping, and the device sources.

Importing this package loads only the pure modules (``wire``, ``interfaces``,
``model``); the daemon imports ``manager``, ``reactions`` and the sources itself.
"""

from __future__ import annotations

from .interfaces import Category, category, denied_by, matches, split_codes, split_patterns
from .model import (
    UNKNOWN_DEVICE_ID,
    Assignment,
    AssignmentMode,
    DeviceInfo,
    Port,
    VirtualDevice,
    parse_assignment,
    parse_assignment_line,
    parse_assignments,
    parse_available,
    parse_device,
)
from .wire import (
    ANY,
    format_qarg,
    pack_properties,
    pack_property,
    parse_qarg,
    unpack_properties,
)

__all__ = [
    "ANY",
    "UNKNOWN_DEVICE_ID",
    "Assignment",
    "AssignmentMode",
    "Category",
    "DeviceInfo",
    "Port",
    "VirtualDevice",
    "category",
    "denied_by",
    "format_qarg",
    "matches",
    "pack_properties",
    "pack_property",
    "parse_assignment",
    "parse_assignment_line",
    "parse_assignments",
    "parse_available",
    "parse_device",
    "parse_qarg",
    "split_codes",
    "split_patterns",
    "unpack_properties",
]
