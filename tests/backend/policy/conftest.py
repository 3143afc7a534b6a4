"""Fixtures for the policy engine tests: a system info and real policy directories."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.policy import Decision, PolicyEngine, SystemInfo

UUIDS = {
    "dom0": "00000000-0000-0000-0000-000000000000",
    "work": "c9024a97-9b15-46cc-8341-38d75d5d421b",
    "personal": "b3eb69d0-f9d9-4c3c-ad5c-454500303ea4",
    "vault": "53a450b9-a454-4416-8adb-46812257ad29",
    "dvm3": "fa6d56e8-a89d-4106-aa62-22e172a43c8b",
    "default-dvm": "f3e538bd-4427-4697-bed7-45ef3270df21",
    "mgmt-dvm": "f3e538bd-4427-4697-bed7-45ef3270df22",
    "internal-vm": "f3e538bd-4427-4697-bed7-45ef3270df23",
    "fedora": "a9fe2b04-9fd5-4e95-be20-162433d64de0",
    "standalone": "6d7a02b5-532b-467f-b9fb-6596bae03c33",
    "sys-gui": "355304b8-bd5e-4699-9a2b-b6864fc26f6b",
}


def _qube(klass: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": klass,
        "tags": [],
        "default_dispvm": "default-dvm",
        "template_for_dispvms": False,
        "power_state": "Halted",
        "icon": "appvm-red",
        "label": "red",
        "guivm": "dom0",
        "relayvm": None,
        "transport_rpc": None,
        "internal": None,
    }
    entry.update(extra)
    return entry


SYSTEM_INFO: dict[str, Any] = {
    "domains": {
        "dom0": _qube("AdminVM", tags=["dom0-tag"], power_state="Running", guivm=None),
        "work": _qube("AppVM", tags=["tag1", "tag2"], power_state="Running"),
        "personal": _qube("AppVM", tags=["tag2"], power_state="Running"),
        "vault": _qube("AppVM", default_dispvm=None),
        "dvm3": _qube("AppVM", tags=["tag3"], template_for_dispvms=True),
        "default-dvm": _qube("AppVM", template_for_dispvms=True),
        "mgmt-dvm": _qube("AppVM", template_for_dispvms=True, internal="1"),
        "internal-vm": _qube("AppVM", internal="1"),
        "fedora": _qube("TemplateVM", tags=["tag1"]),
        "standalone": _qube("StandaloneVM", tags=["tag1", "tag2"]),
        "sys-gui": _qube("AppVM", tags=["guivm-sys-gui"], power_state="Running"),
    }
}
for _name, _entry in SYSTEM_INFO["domains"].items():
    _entry["uuid"] = UUIDS[_name]


@pytest.fixture
def system_info() -> dict[str, Any]:
    """The plain upstream-shaped structure; each test gets its own copy."""
    return copy.deepcopy(SYSTEM_INFO)


@pytest.fixture
def info(system_info: dict[str, Any]) -> SystemInfo:
    return SystemInfo.from_mapping(system_info)


WritePolicy = Callable[..., Path]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policy.d"
    directory.mkdir()
    return directory


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path/relpath`` (parents created); return the path."""

    def write_file(relpath: str, text: str) -> Path:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write_file


Decide = Callable[..., Decision]


@pytest.fixture
def decide(
    policy_dir: Path, tmp_path: Path, system_info: dict[str, Any]
) -> Callable[..., Decision]:
    """``decide(policy_text, source, target, "svc+arg")`` on a real one-file policy dir."""

    def run(text: str, source: str, target: str, call: str = "test.Service+arg") -> Decision:
        (policy_dir / "30-test.policy").write_text(text, encoding="utf-8")
        engine = PolicyEngine(policy_dir, tmp_path / "legacy")
        assert engine.error is None, engine.error
        service, plus, argument = call.partition("+")
        return engine.evaluate(source, target, service, plus + argument, system_info)

    return run


@pytest.fixture
def uuids() -> dict[str, str]:
    return dict(UUIDS)
