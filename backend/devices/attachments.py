"""Which devices are attached where right now (kept in memory, never persisted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .model import Assignment

#: (device class, backend name, port id): a port holds one device at a time
Key = tuple[str, str, str]


def key_of(assignment: Assignment) -> Key:
    return (assignment.devclass, assignment.backend, assignment.port_id)


class Attachments:
    """Frontend qube → its attached devices; each port attached to one frontend at most."""

    def __init__(self) -> None:
        self._by_frontend: dict[Any, dict[Key, Assignment]] = {}
        self._holder: dict[Key, Any] = {}

    def of(self, frontend: Any, devclass: str) -> list[Assignment]:
        return [a for a in self._by_frontend.get(frontend, {}).values() if a.devclass == devclass]

    def holder(self, devclass: str, backend: str, port_id: str) -> Any:
        """The frontend the device in that port is attached to, or None."""
        return self._holder.get((devclass, backend, port_id))

    def add(self, frontend: Any, assignment: Assignment) -> None:
        key = key_of(assignment)
        if key in self._holder:
            raise ValueError(f"{assignment} is attached already")
        self._by_frontend.setdefault(frontend, {})[key] = assignment
        self._holder[key] = frontend

    def remove(self, frontend: Any, key: Key) -> Assignment | None:
        table = self._by_frontend.get(frontend, {})
        assignment = table.pop(key, None)
        if assignment is not None:
            del self._holder[key]
            if not table:
                self._by_frontend.pop(frontend, None)
        return assignment

    def find(self, frontend: Any, devclass: str, backend: str, port_id: str,
             device_id: str) -> Assignment | None:
        """The frontend's attachment in that port (any port when ``*``; id if given)."""
        for assignment in self.of(frontend, devclass):
            if assignment.backend != backend:
                continue
            if port_id not in ("*", assignment.port_id):
                continue
            if device_id not in ("*", assignment.device_id):
                continue
            return assignment
        return None

    def frontends(self) -> list[Any]:
        return list(self._by_frontend)

    def all_of(self, frontend: Any) -> list[Assignment]:
        return list(self._by_frontend.get(frontend, {}).values())

    def from_backend(self, backend: str, devclass: str | None = None) -> Iterator[
            tuple[Any, Assignment]]:
        for key, frontend in list(self._holder.items()):
            if key[1] == backend and devclass in (None, key[0]):
                yield frontend, self._by_frontend[frontend][key]
