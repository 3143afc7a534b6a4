"""Domain control: starting, stopping and watching qubes through libvirt."""

from __future__ import annotations

from typing import Any


class Lifecycle:
    """Placeholder until domain control lands: every qube stays as the model says."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    async def start(self) -> None:
        """Connect to libvirt and reconcile power states."""

    async def stop(self) -> None:
        """Disconnect from libvirt."""
