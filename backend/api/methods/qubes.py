"""Admin API methods: qubes (to be filled)."""

from __future__ import annotations

from typing import Any

from backend.api.registry import MethodTable


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table."""
