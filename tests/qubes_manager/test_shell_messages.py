"""The message bridge: messages are posted and shown; confirmations return the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PyQt6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from qubes_manager.app import Message, MessageBridge, MessageLevel

T = TypeVar("T")


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    qapp.setQuitOnLastWindowClosed(False)  # closing a box must not end the loop
    event_loop = qasync.QEventLoop(qapp)
    try:
        yield event_loop
    finally:
        event_loop.close()


def run_in(loop: qasync.QEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(asyncio.wait_for(coro, 30))


def test_error_is_posted_and_shown_with_details(qtbot: QtBot) -> None:
    bridge = MessageBridge()
    with qtbot.waitSignal(bridge.message_posted) as blocker:
        bridge.error("Cannot start work", details="libvirt said no")
    message = blocker.args[0]
    assert message == Message(MessageLevel.ERROR, "Error", "Cannot start work",
                              "libvirt said no")
    (box,) = bridge.open_boxes
    assert box.icon() is QMessageBox.Icon.Critical
    assert box.text() == "Cannot start work" and box.detailedText() == "libvirt said no"
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not bridge.open_boxes)


def test_levels_have_their_icons_and_default_titles(qtbot: QtBot) -> None:
    bridge = MessageBridge()
    bridge.warning("Disk almost full")
    bridge.info("Backup finished", title="Backup")
    warning, info = bridge.open_boxes
    assert warning.icon() is QMessageBox.Icon.Warning and warning.windowTitle() == "Warning"
    assert info.icon() is QMessageBox.Icon.Information and info.windowTitle() == "Backup"
    for box in (warning, info):
        box.done(0)
    qtbot.waitUntil(lambda: not bridge.open_boxes)


def test_without_boxes_messages_are_only_posted(qtbot: QtBot) -> None:
    bridge = MessageBridge(show_boxes=False)
    with qtbot.waitSignal(bridge.message_posted):
        bridge.warning("quiet")
    assert bridge.open_boxes == []


def test_report_exception_puts_the_traceback_in_the_details(qtbot: QtBot) -> None:
    bridge = MessageBridge(show_boxes=False)
    try:
        raise ValueError("bad value")
    except ValueError as exc:
        with qtbot.waitSignal(bridge.message_posted) as blocker:
            bridge.report_exception(exc, context="Applying settings")
    message = blocker.args[0]
    assert message.level is MessageLevel.ERROR
    assert message.text == "Applying settings:\nbad value"
    assert "Traceback" in message.details and "ValueError: bad value" in message.details


@pytest.mark.parametrize(("button", "expected"), [
    (QMessageBox.StandardButton.Yes, True),
    (QMessageBox.StandardButton.No, False),
])
def test_confirm_returns_the_answer(loop: qasync.QEventLoop, button: QMessageBox.StandardButton,
                                    expected: bool) -> None:
    bridge = MessageBridge()

    async def main() -> bool:
        asking = asyncio.ensure_future(bridge.confirm("Remove qube work?"))
        while not bridge.open_boxes:
            await asyncio.sleep(0)  # a turn of the loop, not a wait: the box opens at once
        (box,) = bridge.open_boxes
        assert box.icon() is QMessageBox.Icon.Question
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
        box.button(button).click()
        return await asking

    assert run_in(loop, main()) is expected


def test_confirm_without_boxes_answers_no(loop: qasync.QEventLoop) -> None:
    bridge = MessageBridge(show_boxes=False)
    assert run_in(loop, bridge.confirm("Kill everything?")) is False


def test_cancelled_confirm_takes_the_question_away(loop: qasync.QEventLoop) -> None:
    bridge = MessageBridge()

    async def main() -> None:
        asking = asyncio.ensure_future(bridge.confirm("Shut down all qubes?"))
        while not bridge.open_boxes:
            await asyncio.sleep(0)
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
        assert bridge.open_boxes == []

    run_in(loop, main())
