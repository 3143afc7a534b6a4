"""Helpers shared by the test_api_qubes_* modules (no tests here)."""

from __future__ import annotations

from typing import Any

from backend.store.core3_read import from_xml
from backend.store.document import Core3Document, DomainRecord

from .conftest import RunningDaemon


def ok(data: str | bytes = b"") -> bytes:
    """The raw success response carrying ``data``."""
    return b"0\0" + (data.encode() if isinstance(data, str) else data)


def error(cls: str, message: str) -> bytes:
    """The raw error response qubesd sends (no traceback, ``%`` doubled)."""
    return b"2\0" + cls.encode() + b"\0\0" + message.replace("%", "%%").encode() + b"\0"


def stored(running: RunningDaemon) -> Core3Document:
    """qubes.xml as it is on disk right now."""
    path = running.state_dir / "qubes.xml"
    return from_xml(path.read_bytes(), path)


def stored_qube(running: RunningDaemon, name: str) -> DomainRecord | None:
    for record in stored(running).domains:
        if record.properties.get("name") == name or (name == "dom0" and record.qid == 0):
            return record
    return None


def write_policy(running: RunningDaemon, text: str, name: str = "30-test.policy") -> None:
    """Install a policy file and make the daemon read it."""
    (running.state_dir / "policy.d" / name).write_text(text)
    error_ = running.in_loop(running.daemon.policy.reload)
    assert error_ is None, error_


def qube_state(running: RunningDaemon, name: str) -> Any:
    """Everything a qube holds that an Admin API call may change, for before/after checks."""

    def read() -> Any:
        vm = running.app.domains[name]
        return (dict(vm.explicit_values()), vm.features.items(), list(vm.tags))

    return running.in_loop(read)


def qube_names(running: RunningDaemon) -> list[str]:
    return running.in_loop(lambda: [vm.name for vm in running.app.domains])


def files_under(running: RunningDaemon) -> set[str]:
    """Every path in the state dir except the store's own files (they change on commit)."""
    root = running.state_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("qubes.xml")}
