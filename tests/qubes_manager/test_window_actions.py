"""Actions of the Qube Manager on a real daemon: lifecycle from the toolbar and the
context menu, their confirmations, the shutdown monitor, delete, template and network."""

from __future__ import annotations

from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QMessageBox, QToolButton

from qubes_manager.actionset import Act
from qubes_manager.messages import Message, MessageLevel
from qubes_manager.switching import NetChoice, NetKind
from tests.qubes_manager.test_window_env import WindowEnv
from widgets.columns import Column

YES = QMessageBox.StandardButton.Yes
NO = QMessageBox.StandardButton.No

#: the window fixtures (env, qloop, running, settings)
pytest_plugins = ("tests.qubes_manager.test_window_env",)


def click_toolbar(env: WindowEnv, act: Act) -> None:
    button = env.window.toolbar.widgetForAction(env.window.acts[act])
    assert isinstance(button, QToolButton) and button.isEnabled(), act
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def click_context_menu(env: WindowEnv, act: Act) -> None:
    window = env.window
    window.on_table_context_menu_requested(QPoint(20, 20))
    menu = window.context_menu
    env.wait(menu.isVisible)
    action = window.acts[act]
    assert action in menu.actions() and action.isEnabled(), act
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton,
                     pos=menu.actionGeometry(action).center())
    env.wait(lambda: not menu.isVisible())


def choose_network(env: WindowEnv, choice: NetChoice) -> None:
    env.window.refresh_network_menu()  # what opening the menu does
    env.window.network_menu.trigger_key(choice)


def state_cell(env: WindowEnv, name: str) -> str:
    model = env.window.model
    position = model.position_of(name)
    assert position is not None
    return str(model.data(model.index(position, Column.STATE)))


def errors(posted: list[Message]) -> list[str]:
    return [m.text for m in posted if m.level is MessageLevel.ERROR]


def test_start_pause_resume_and_shutdown_from_the_toolbar(env: WindowEnv) -> None:
    env.window.select("vault")
    click_toolbar(env, Act.START)
    env.wait(lambda: state_cell(env, "vault").startswith("Running"))
    assert env.daemon_state("vault") == "Running"
    click_toolbar(env, Act.PAUSE)
    env.wait(lambda: state_cell(env, "vault").startswith("Paused"))
    click_toolbar(env, Act.START)  # resumes
    env.wait(lambda: state_cell(env, "vault").startswith("Running"))
    click_toolbar(env, Act.SHUTDOWN)
    assert "vault" in env.answer(YES)
    env.wait(lambda: state_cell(env, "vault").startswith("Halted"))
    assert env.daemon_state("vault") == "Halted"


def test_start_pause_resume_and_shutdown_from_the_context_menu(env: WindowEnv) -> None:
    env.window.select("sys-usb")
    click_context_menu(env, Act.START)
    env.wait(lambda: env.state("sys-usb") == "Running")
    click_context_menu(env, Act.PAUSE)
    env.wait(lambda: env.state("sys-usb") == "Paused")
    click_context_menu(env, Act.START)
    env.wait(lambda: env.state("sys-usb") == "Running")
    click_context_menu(env, Act.SHUTDOWN)
    env.answer(YES)
    env.wait(lambda: env.state("sys-usb") == "Halted")


def test_shutdown_not_confirmed_leaves_the_qube_running(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    env.window.select("vault")
    click_toolbar(env, Act.SHUTDOWN)
    env.answer(NO)
    assert env.daemon_state("vault") == "Running"


def test_shutdown_offers_to_shut_down_the_qubes_connected_to_it(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "work")  # starts sys-firewall and sys-net with it
    env.wait(lambda: all(env.state(n) == "Running" for n in ("work", "sys-firewall")))
    env.window.select("sys-firewall")
    click_toolbar(env, Act.SHUTDOWN)
    env.answer(YES)
    question = env.answer("Shut them down too")
    assert "<b>work</b>" in question
    env.wait(lambda: env.state("sys-firewall") == "Halted" and env.state("work") == "Halted")
    assert env.state("sys-net") == "Running"


def test_shutdown_of_connected_qubes_can_be_cancelled(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "work")
    env.wait(lambda: env.state("work") == "Running")
    env.window.select("sys-firewall")
    click_toolbar(env, Act.SHUTDOWN)
    env.answer(YES)
    env.answer("Cancel")
    assert env.daemon_state("sys-firewall") == "Running" and env.daemon_state("work") == \
        "Running"


def test_restart_stops_and_starts_the_qube_again(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    started = env.running.in_loop(lambda: env.running.app.domains["vault"].get("start_time"))
    env.window.select("vault")
    click_toolbar(env, Act.RESTART)
    env.answer(YES)
    env.wait(lambda: env.running.in_loop(
        lambda: env.running.app.domains["vault"].get("start_time")) != started
        and env.state("vault") == "Running")


def test_kill_asks_first_with_cancel_as_default(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    env.window.select("vault")
    click_context_menu(env, Act.KILL)
    box = env.next_box()
    assert box.defaultButton() is box.button(NO)
    assert "kill" in box.text() and "<b>vault</b>" in box.text()
    env.answer(NO)
    assert env.daemon_state("vault") == "Running"
    click_context_menu(env, Act.KILL)
    env.answer(YES)
    env.wait(lambda: env.state("vault") == "Halted")


def test_delete_is_refused_while_another_qube_depends_on_it(env: WindowEnv) -> None:
    posted: list[Message] = []
    env.bridge.message_posted.connect(posted.append)
    env.window.select("sys-whonix")
    click_context_menu(env, Act.DELETE)
    text = env.answer(QMessageBox.StandardButton.Ok)
    assert "cannot be deleted" in text
    assert "property netvm of qube anon-whonix" in text
    assert env.running.in_loop(lambda: "sys-whonix" in env.running.app.domains)
    assert not env.bridge.open_dialogs  # no name was asked for


def test_delete_lists_global_properties_that_use_the_qube(env: WindowEnv) -> None:
    found = [d.describe() for d in env.window.removal.dependencies("sys-firewall")]
    assert "global property default_netvm" in found and "global property updatevm" in found
    assert "property netvm of qube sys-whonix" in found


def test_delete_needs_the_name_typed_exactly(env: WindowEnv) -> None:
    env.window.select("untrusted")
    click_toolbar(env, Act.DELETE)
    label = env.type_into_dialog("untrustd")
    assert "<b>untrusted</b>" in label
    assert "does not match" in env.answer(QMessageBox.StandardButton.Ok)
    assert env.window.model.row_of("untrusted") is not None
    click_toolbar(env, Act.DELETE)
    env.type_into_dialog("untrusted")
    env.wait(lambda: env.window.model.row_of("untrusted") is None)
    assert env.running.in_loop(lambda: "untrusted" not in env.running.app.domains)


def test_template_change_of_a_halted_qube(env: WindowEnv) -> None:
    env.window.select("work", "personal")
    env.window.refresh_template_menu()
    entries = env.window.template_menu.entries()
    assert [key for key, _, _ in entries] == ["debian-13", "fedora-42", "whonix-gateway-18",
                                              "whonix-workstation-18"]
    assert [key for key, _, marked in entries if marked] == ["fedora-42"]
    env.window.template_menu.trigger_key("debian-13")
    assert "<b>debian-13</b>" in env.answer(YES)
    env.wait(lambda: env.row("work").qube.prop("template") == "debian-13"
             and env.row("personal").qube.prop("template") == "debian-13")


def test_network_change_to_none_and_back_to_default(env: WindowEnv) -> None:
    env.window.select("personal")
    env.window.refresh_network_menu()
    labels = [text for _, text, _ in env.window.network_menu.entries()]
    assert labels[:2] == ["None", "default (sys-firewall)"]
    assert set(labels[2:]) == {"sys-firewall", "sys-net", "sys-whonix"}
    choose_network(env, NetChoice(NetKind.NONE))
    env.answer(YES)
    env.wait(lambda: env.row("personal").qube.prop("netvm") == "")
    choose_network(env, NetChoice(NetKind.DEFAULT))
    env.answer(YES)
    env.wait(lambda: env.row("personal").qube.is_default("netvm"))


def test_leaving_the_whonix_network_is_warned_about(env: WindowEnv) -> None:
    env.window.select("anon-whonix")
    # sys-whonix is a network qube on a Whonix template: a gateway, no warning
    assert env.window.switching.anonymity_warning(["anon-whonix"], "sys-whonix") == ""
    choose_network(env, NetChoice(NetKind.QUBE, "sys-firewall"))
    box = env.next_box()
    assert box.icon() is QMessageBox.Icon.Warning and "leave the Whonix network" in box.text()
    env.answer(NO)
    assert env.running.in_loop(
        lambda: env.running.app.domains["anon-whonix"].get("netvm").name) == "sys-whonix"
    # entering it with a qube that is not a Whonix workstation is warned about too
    env.window.select("personal")
    choose_network(env, NetChoice(NetKind.QUBE, "sys-whonix"))
    assert "not a Whonix workstation" in env.answer(NO)
    # the anon-gateway tag (what the Whonix packages set) makes any qube a gateway
    env.call("admin.vm.tag.Set", "sys-net", "anon-gateway")
    env.wait(lambda: env.row("sys-net").qube.has_tag("anon-gateway"))
    assert env.window.switching.anonymity_warning(["anon-whonix"], "sys-net") == ""


def test_moving_a_running_qube_to_a_halted_netvm_offers_to_start_it(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")  # no netvm: nothing else starts
    env.wait(lambda: env.state("vault") == "Running")
    env.window.select("vault")
    choose_network(env, NetChoice(NetKind.QUBE, "sys-firewall"))
    env.answer(YES)
    assert "start <b>sys-firewall</b>" in env.answer(YES)
    env.wait(lambda: env.row("vault").qube.prop("netvm") == "sys-firewall")
    assert env.daemon_state("sys-firewall") == "Running"


def test_backup_checkbox_writes_include_in_backups(env: WindowEnv) -> None:
    model = env.window.model
    position = model.position_of("vault")
    assert position is not None
    index = model.index(position, Column.BACKUP)
    assert model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    env.wait(lambda: not env.row("vault").qube.bool_prop("include_in_backups"))
    assert env.running.in_loop(
        lambda: env.running.app.domains["vault"].get("include_in_backups")) is False


def test_errors_of_actions_name_the_qube(env: WindowEnv) -> None:
    posted: list[Message] = []
    env.bridge.message_posted.connect(posted.append)
    env.finish(env.window.lifecycle.pause(["work"]))  # halted: the daemon refuses
    (text,) = errors(posted)
    assert text.startswith("Cannot pause work:")
    env.answer(QMessageBox.StandardButton.Ok)


def test_shutdown_monitor_offers_to_kill_a_qube_that_does_not_stop(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    # the test driver halts at once: watch a qube that was not asked to stop at all
    env.window.monitor.watch("vault", timeout=0.2)
    text = env.answer("Wait another 0 seconds…")
    assert "<b>vault</b>" in text and "has not shut down" in text
    env.answer("Kill it!")
    env.wait(lambda: env.state("vault") == "Halted")
    env.wait(lambda: not env.window.monitor.is_watching("vault"))


def test_shutdown_monitor_takes_its_question_away_when_the_qube_halts(env: WindowEnv) -> None:
    env.call("admin.vm.Start", "vault")
    env.wait(lambda: env.state("vault") == "Running")
    env.window.monitor.watch("vault", timeout=0.2, restart=True)
    env.next_box()
    env.call("admin.vm.Shutdown", "vault")
    env.wait(lambda: not env.bridge.open_boxes)
    env.wait(lambda: not env.window.monitor.is_watching("vault"))
    env.wait(lambda: env.state("vault") == "Running")  # restarted
