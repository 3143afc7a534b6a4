"""PolicyEngine: load once, reload, errors with file and line, Admin API helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.errors import PermissionDenied
from backend.policy import Allow, Ask, Deny, PolicyEngine, event_argument, event_target

Write = Callable[[str, str], Path]

ADMIN_POLICY = """\
admin.vm.List * sys-gui @adminvm allow
admin.vm.List * sys-gui @tag:tag2 allow
admin.vm.List * sys-gui vault ask
admin.vm.property.Get +netvm sys-gui @tag:tag2 allow
admin.vm.property.Get * sys-gui personal ask
admin.Events * sys-gui @adminvm allow
admin.Events * sys-gui sys-gui allow
admin.Events +domain-start sys-gui @tag:tag2 allow
admin.Events +property-set_netvm sys-gui work allow
admin.Events +domain-add sys-gui personal allow
admin.Events * sys-gui vault ask
* * @anyvm @anyvm deny
"""


@pytest.fixture
def engine(write: Write, tmp_path: Path) -> PolicyEngine:
    write("policy.d/40-admin.policy", ADMIN_POLICY)
    engine = PolicyEngine(tmp_path / "policy.d")
    assert engine.error is None
    return engine


def test_engine_loads_once_and_reloads_on_request(
    write: Write, tmp_path: Path, system_info: dict[str, Any]
) -> None:
    policy_file = write("policy.d/30-user.policy", "* * work personal allow\n")
    engine = PolicyEngine(tmp_path / "policy.d")
    assert isinstance(engine.evaluate("work", "personal", "s", "+", system_info), Allow)
    policy_file.write_text("* * work personal deny\n")
    # not re-read behind the caller's back
    assert isinstance(engine.evaluate("work", "personal", "s", "+", system_info), Allow)
    assert engine.reload() is None
    assert isinstance(engine.evaluate("work", "personal", "s", "+", system_info), Deny)


def test_engine_reports_the_error_that_denies_everything(
    write: Write, tmp_path: Path, system_info: dict[str, Any]
) -> None:
    write("policy.d/30-user.policy", "* * work personal allow\n")
    engine = PolicyEngine(tmp_path / "policy.d")
    bad = write("policy.d/50-bad.policy", "# fine\n* * work personal allow target\n")
    error = engine.reload()
    assert error is not None and engine.error is error
    assert (error.path, error.lineno) == (bad, 2)
    decision = engine.evaluate("work", "personal", "s", "+", system_info)
    assert isinstance(decision, Deny) and decision.error is error
    bad.unlink()
    assert engine.reload() is None
    assert isinstance(engine.evaluate("work", "personal", "s", "+", system_info), Allow)


def test_engine_merges_several_directories(
    write: Write, tmp_path: Path, system_info: dict[str, Any]
) -> None:
    write("etc/30-user.policy", "* * work personal deny\n")
    write("run/30-user.policy", "* * work personal allow\n")
    engine = PolicyEngine([tmp_path / "run", tmp_path / "etc"])
    assert isinstance(engine.evaluate("work", "personal", "s", "+", system_info), Allow)


def test_admin_calls_from_dom0_need_no_policy(
    engine: PolicyEngine, system_info: dict[str, Any]
) -> None:
    assert engine.admin_call_allowed("dom0", "admin.vm.Kill", "", "vault", system_info)
    engine.check_admin_call("dom0", "admin.vm.Kill", "", "vault", system_info)


def test_admin_call_allowed_by_policy(engine: PolicyEngine, system_info: dict[str, Any]) -> None:
    assert engine.admin_call_allowed(
        "sys-gui", "admin.vm.property.Get", "netvm", "work", system_info
    )
    assert not engine.admin_call_allowed(
        "sys-gui", "admin.vm.property.Get", "label", "work", system_info
    )
    assert not engine.admin_call_allowed("work", "admin.vm.List", "", "dom0", system_info)


def test_admin_call_ask_counts_as_deny(engine: PolicyEngine, system_info: dict[str, Any]) -> None:
    decision = engine.evaluate("sys-gui", "vault", "admin.vm.List", "+", system_info)
    assert isinstance(decision, Ask)
    assert not engine.admin_call_allowed("sys-gui", "admin.vm.List", "", "vault", system_info)
    with pytest.raises(PermissionDenied):
        engine.check_admin_call(
            "sys-gui", "admin.vm.property.Get", "label", "personal", system_info
        )


def test_check_admin_call_raises_permission_denied(
    engine: PolicyEngine, system_info: dict[str, Any]
) -> None:
    engine.check_admin_call("sys-gui", "admin.vm.property.Get", "netvm", "work", system_info)
    with pytest.raises(PermissionDenied) as caught:
        engine.check_admin_call("work", "admin.vm.Kill", "", "vault", system_info)
    assert "admin.vm.Kill" in str(caught.value)


def test_vm_list_filtering(engine: PolicyEngine, system_info: dict[str, Any]) -> None:
    visible = [
        name
        for name in system_info["domains"]
        if engine.vm_list_allowed("sys-gui", name, system_info)
    ]
    # dom0 through @adminvm, tag2 qubes; vault is "ask", which counts as deny
    assert visible == ["dom0", "work", "personal", "standalone"]


def test_event_argument_and_target() -> None:
    assert event_argument("property-set:netvm") == "+property-set_netvm"
    assert event_argument("domain-start") == "+domain-start"
    assert event_target("work") == "work"
    assert event_target(None, vm="personal") == "personal"
    assert event_target(None) == "@adminvm"


def test_event_filtering(engine: PolicyEngine, system_info: dict[str, Any]) -> None:
    def allowed(event: str, subject: str | None, vm: str | None = None) -> bool:
        return engine.event_allowed("sys-gui", event, subject, system_info, vm=vm)

    assert allowed("connection-established", None)  # app events: @adminvm
    assert allowed("domain-start", "personal")
    assert not allowed("domain-shutdown", "personal")
    assert allowed("property-set:netvm", "work")
    assert not allowed("property-set:label", "work")
    assert allowed("domain-add", None, vm="personal")
    assert not allowed("domain-add", None, vm="vault")
    assert not allowed("domain-start", "vault")  # ask counts as deny
    assert allowed("domain-paused", "sys-gui")  # its own events, by policy
    assert engine.event_allowed("dom0", "domain-start", "vault", system_info)
    assert not engine.event_allowed("work", "domain-start", "work", system_info)


def test_eval_simple_takes_ask_as_allow(
    write: Write, tmp_path: Path, system_info: dict[str, Any]
) -> None:
    write(
        "policy.d/90-default-gui.policy",
        "qubes.ClipboardPaste * @adminvm @anyvm ask\n"
        "qubes.ClipboardPaste * @anyvm @anyvm ask\n"
        "qubes.ClipboardPaste * vault @anyvm deny\n",
    )
    engine = PolicyEngine(tmp_path / "policy.d")
    assert engine.eval_simple("work", "personal", "qubes.ClipboardPaste", "+", system_info)
    assert engine.eval_simple("dom0", "personal", "qubes.ClipboardPaste", None, system_info)
    assert not engine.eval_simple("work", "dom0", "qubes.ClipboardPaste", "+", system_info)
    assert not engine.eval_simple("work", "personal", "qubes.Other", "+", system_info)
