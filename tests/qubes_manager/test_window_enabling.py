"""Which actions are enabled, and why not; the programs the actions start."""

from __future__ import annotations

import stat
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from PyQt6.QtWidgets import QMessageBox

from backend.client import PowerState, PropertyValue, QubeClass, QubeSnapshot
from qubes_manager.actionset import QUBE_ACTIONS, Act
from qubes_manager.backend_connect import BackendKind
from qubes_manager.enabling import disabled_actions
from qubes_manager.messages import Message, MessageLevel
from qubes_manager.tools import Tool, Tools
from tests.qubes_manager.test_window_env import WindowEnv, close_window, make_window
from widgets.quberow import QubeRow

#: the window fixtures (env, qloop, running, settings)
pytest_plugins = ("tests.qubes_manager.test_window_env",)


def row(name: str, klass: QubeClass = QubeClass.APP_VM,
        state: PowerState = PowerState.HALTED, features: dict[str, str] | None = None,
        **props: str) -> QubeRow:
    properties = {key: PropertyValue(False, "str", value) for key, value in props.items()}
    return QubeRow(QubeSnapshot(name, klass, state, None, MappingProxyType(properties),
                                features=MappingProxyType(features or {})))


def test_nothing_selected_disables_every_qube_action() -> None:
    assert set(disabled_actions([])) == QUBE_ACTIONS


@pytest.mark.parametrize(("state", "off", "on"), [
    (PowerState.HALTED, {Act.PAUSE, Act.SHUTDOWN, Act.RESTART, Act.KILL, Act.CONSOLE},
     {Act.START, Act.DELETE, Act.TEMPLATE_MENU}),
    (PowerState.RUNNING, {Act.START, Act.DELETE, Act.TEMPLATE_MENU},
     {Act.PAUSE, Act.SHUTDOWN, Act.RESTART, Act.KILL, Act.CONSOLE}),
    (PowerState.PAUSED, {Act.DELETE, Act.PAUSE, Act.RESTART, Act.CONSOLE, Act.TEMPLATE_MENU},
     {Act.START, Act.SHUTDOWN, Act.KILL}),
    (PowerState.SUSPENDED, {Act.DELETE, Act.PAUSE, Act.RESTART},  # upstream misses these
     {Act.START, Act.KILL}),
    (PowerState.TRANSIENT, {Act.START, Act.DELETE}, {Act.KILL, Act.SHUTDOWN}),
])
def test_state_rules(state: PowerState, off: set[Act], on: set[Act]) -> None:
    reasons = disabled_actions([row("work", state=state, updateable="False")])
    assert off <= set(reasons) and not on & set(reasons)


def test_any_selected_qube_can_forbid_an_action() -> None:
    reasons = disabled_actions([row("work"), row("vault", state=PowerState.RUNNING)])
    assert reasons[Act.START] == "vault is running"
    assert reasons[Act.SHUTDOWN] == "work is not running"


def test_dom0_allows_only_update_and_logs_of_the_qube_actions() -> None:
    reasons = disabled_actions([row("dom0", QubeClass.ADMIN_VM, PowerState.RUNNING,
                                    updateable="True")])
    assert QUBE_ACTIONS - set(reasons) == {Act.UPDATE, Act.LOGS}
    assert reasons[Act.SETTINGS] == "dom0 is the administration qube"


def test_class_and_feature_rules() -> None:
    template = disabled_actions([row("fedora-42", QubeClass.TEMPLATE_VM, updateable="True")])
    assert {Act.TEMPLATE_MENU, Act.NETWORK_MENU} <= set(template)
    assert Act.UPDATE not in template
    disposable = disabled_actions([row("disp1", QubeClass.DISP_VM, PowerState.RUNNING,
                                       auto_cleanup="True")])
    assert {Act.APP_SHORTCUTS, Act.TEMPLATE_MENU, Act.RESTART} <= set(disposable)
    internal = disabled_actions([row("mgmt", features={"internal": "1"})])
    assert Act.APP_SHORTCUTS in internal
    appvm = disabled_actions([row("work", updateable="False")])
    assert appvm[Act.UPDATE] == "work is updated through its template"
    blocked = disabled_actions([row("work", features={"prohibit-start": "bad"})])
    assert blocked[Act.START] == "work is prohibited from starting"


# --- the window ------------------------------------------------------------------------

def enabled(env: WindowEnv, act: Act) -> bool:
    return env.window.acts[act].isEnabled()


def test_actions_follow_the_state_of_the_selected_qube(env: WindowEnv) -> None:
    env.window.select("vault")
    assert enabled(env, Act.START) and enabled(env, Act.DELETE)
    assert not enabled(env, Act.SHUTDOWN) and not enabled(env, Act.KILL)
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: enabled(env, Act.SHUTDOWN))
    assert enabled(env, Act.PAUSE) and enabled(env, Act.KILL)
    assert not enabled(env, Act.START) and not enabled(env, Act.DELETE)
    assert "vault is running" in env.window.acts[Act.DELETE].toolTip()
    env.call("admin.vm.Pause", "vault")
    env.wait(lambda: enabled(env, Act.START))
    assert not enabled(env, Act.PAUSE) and enabled(env, Act.SHUTDOWN)


def test_missing_programs_disable_their_actions_and_say_so(env: WindowEnv) -> None:
    env.window.select("work")
    settings = env.window.acts[Act.SETTINGS]
    assert not settings.isEnabled()
    assert "qubes-vm-settings is not installed" in settings.toolTip()
    assert "qubes-backup is not installed" in env.window.acts[Act.BACKUP].toolTip()
    assert enabled(env, Act.START)  # needs no program


def fake_program(directory: Path, name: str, script: str) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_settings_and_update_start_their_programs(qtbot: Any, qloop: Any, running: Any,
                                                  settings: Any, tmp_path: Path) -> None:
    out = tmp_path / "args"
    program = fake_program(tmp_path, "tool", f'echo "$(basename $0) $* $QUBESD_SOCKET" >> {out}')
    tools = Tools(paths={tool: program for tool in Tool},
                  env={"QUBESD_SOCKET": str(running.socket_path), "PATH": "/usr/bin:/bin"})
    window = make_window(qtbot, running, settings, tools=tools)
    try:
        window.select("work")
        window.acts[Act.FIREWALL].trigger()
        window.select("fedora-42", "debian-13")
        window.acts[Act.UPDATE].trigger()
        qtbot.waitUntil(lambda: out.exists() and len(out.read_text().splitlines()) == 2)
        lines = sorted(out.read_text().splitlines())
        assert f"tool --targets debian-13,fedora-42 {running.socket_path}" in lines
        assert f"tool work --tab firewall {running.socket_path}" in lines
    finally:
        close_window(qtbot, window)


def test_a_failing_program_is_reported_with_its_messages(qtbot: Any, qloop: Any,
                                                         running: Any, settings: Any,
                                                         tmp_path: Path) -> None:
    program = fake_program(tmp_path, "tool", 'echo "no such qube" >&2; exit 3')
    window = make_window(qtbot, running, settings,
                         tools=Tools(paths={tool: program for tool in Tool}))
    posted: list[Message] = []
    window.bridge.message_posted.connect(posted.append)
    try:
        window.select("work")
        window.acts[Act.CLONE].trigger()
        qtbot.waitUntil(lambda: bool(posted))
        (message,) = posted
        assert message.level is MessageLevel.ERROR
        assert "qubes-vm-clone ended with status 3" in message.text
        assert "no such qube" in message.text
        window.bridge.open_boxes[0].button(QMessageBox.StandardButton.Ok).click()
    finally:
        close_window(qtbot, window)


def test_on_the_demo_system_guest_actions_say_why_they_are_unavailable(
        qtbot: Any, qloop: Any, running: Any, settings: Any, tmp_path: Path) -> None:
    program = fake_program(tmp_path, "tool", "exit 0")
    window = make_window(qtbot, running, settings, kind=BackendKind.DEMO,
                         tools=Tools(paths={tool: program for tool in Tool}))
    try:
        window.select("work")
        for act in (Act.RUN_COMMAND, Act.CONSOLE, Act.LOGS):
            action = window.acts[act]
            assert not action.isEnabled()
            assert "no operating system inside" in action.toolTip()
        assert window.acts[Act.SETTINGS].isEnabled()
    finally:
        close_window(qtbot, window)


def test_system_programs_start_from_their_actions(qtbot: Any, qloop: Any, running: Any,
                                                  settings: Any, tmp_path: Path) -> None:
    out = tmp_path / "args"
    program = fake_program(tmp_path, "tool", f'echo "started $*" >> {out}')
    window = make_window(qtbot, running, settings,
                         tools=Tools(paths={tool: program for tool in Tool}))
    try:
        for act in (Act.GLOBAL_CONFIG, Act.BACKUP, Act.RESTORE, Act.TEMPLATE_SWITCHER,
                    Act.NEW):
            assert window.acts[act].isEnabled()  # no qube needed
            window.acts[act].trigger()
        qtbot.waitUntil(lambda: out.exists() and len(out.read_text().splitlines()) == 5)
    finally:
        close_window(qtbot, window)


def test_about_tells_which_backend_is_used(env: WindowEnv) -> None:
    env.window.acts[Act.ABOUT].trigger()
    text = env.answer(QMessageBox.StandardButton.Ok)
    assert "Qube Manager" in text and str(env.running.socket_path) in text


def test_logs_without_log_files_say_so(env: WindowEnv) -> None:
    env.window.select("work")
    env.window.acts[Act.LOGS].trigger()
    assert "No log files were found" in env.answer(QMessageBox.StandardButton.Ok)
