"""The one message bridge of a program: errors, warnings, information and questions.

It is the only place that opens message boxes for them; each message is also emitted
as ``message_posted`` (status bars and tests listen). Boxes open without a nested
event loop (``QDialog.open``), so the qasync loop keeps running while the user reads;
questions are coroutines that return the answer.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QWidget,
)

log = logging.getLogger("gui")

T = TypeVar("T")

__all__ = ["Choice", "Message", "MessageBridge", "MessageLevel"]


class MessageLevel(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_ICONS = {
    MessageLevel.INFO: QMessageBox.Icon.Information,
    MessageLevel.WARNING: QMessageBox.Icon.Warning,
    MessageLevel.ERROR: QMessageBox.Icon.Critical,
}


@dataclass(frozen=True, slots=True)
class Message:
    """One message for the user; ``details`` go behind the box's "Show Details…"."""

    level: MessageLevel
    title: str
    text: str
    details: str = ""


@dataclass(frozen=True, slots=True)
class Choice:
    """One button of :meth:`MessageBridge.choose`: what it returns and its (translated) text."""

    key: str
    text: str
    role: QMessageBox.ButtonRole = QMessageBox.ButtonRole.ActionRole


class MessageBridge(QObject):
    """Shows messages to the user and asks questions.

    Signals:
        message_posted(Message): a message was posted (whether or not a box is shown).
        question_asked(QDialog): a question box or input dialog was opened.
    """

    message_posted = pyqtSignal(object)
    question_asked = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None, *, show_boxes: bool = True) -> None:
        super().__init__(parent)
        #: tests and headless runs (``--screenshot``) turn the boxes off
        self.show_boxes = show_boxes
        self._dialogs: list[QDialog] = []

    @property
    def open_boxes(self) -> list[QMessageBox]:
        """The message boxes currently shown."""
        return [d for d in self._dialogs if isinstance(d, QMessageBox)]

    @property
    def open_dialogs(self) -> list[QDialog]:
        """Every box and input dialog currently shown."""
        return list(self._dialogs)

    # --- posting ----------------------------------------------------------------
    def error(self, text: str, *, title: str = "", details: str = "",
              parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.ERROR, title or self.tr("Error"), text, details), parent)

    def warning(self, text: str, *, title: str = "", details: str = "",
                parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.WARNING, title or self.tr("Warning"), text, details),
                  parent)

    def info(self, text: str, *, title: str = "", details: str = "",
             parent: QWidget | None = None) -> None:
        self.post(Message(MessageLevel.INFO, title or self.tr("Information"), text, details),
                  parent)

    def report_exception(self, exc: BaseException, *, context: str = "",
                         parent: QWidget | None = None) -> None:
        """An unexpected error: its message for the user, the traceback as details."""
        log.error("%s", context or "unexpected error", exc_info=exc)
        text = str(exc) or type(exc).__name__
        if context:
            text = self.tr("%1:\n%2").replace("%1", context).replace("%2", text)
        details = "".join(traceback.format_exception(exc))
        self.error(text, title=self.tr("Unexpected error"), details=details, parent=parent)

    def post(self, message: Message, parent: QWidget | None = None) -> None:
        level = {MessageLevel.ERROR: logging.ERROR, MessageLevel.WARNING: logging.WARNING,
                 MessageLevel.INFO: logging.INFO}[message.level]
        log.log(level, "%s: %s", message.title, message.text)
        self.message_posted.emit(message)
        if self.show_boxes:
            self._open(self._box(message, parent))

    # --- questions --------------------------------------------------------------
    async def confirm(self, text: str, *, title: str = "",
                      parent: QWidget | None = None, default_yes: bool = False,
                      warning: bool = False) -> bool:
        """Ask a yes/no question; True if the user answered yes.

        Without boxes (headless runs) nobody can answer: the answer is no.
        """
        if not self.show_boxes:
            log.info("not asked (no dialogs): %s", text)
            return False
        box = self._box(Message(MessageLevel.INFO, title or self.tr("Please confirm"), text),
                        parent)
        box.setIcon(QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Question)
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        box.setStandardButtons(yes | no)
        box.setDefaultButton(yes if default_yes else no)
        box.setEscapeButton(no)
        return await self._answer(box, lambda button: button is not None
                                  and box.standardButton(button) == yes)

    async def choose(self, text: str, choices: Sequence[Choice], *, title: str = "",
                     parent: QWidget | None = None, default: str | None = None,
                     escape: str | None = None) -> str | None:
        """Ask the user to pick one of ``choices``; returns its key (None: closed, or
        no boxes are shown, which counts as the ``escape`` choice's key if given)."""
        if not self.show_boxes:
            log.info("not asked (no dialogs): %s", text)
            return escape
        box = self._box(Message(MessageLevel.INFO, title or self.tr("Please choose"), text),
                        parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setStandardButtons(QMessageBox.StandardButton.NoButton)
        buttons = {choice.key: box.addButton(choice.text, choice.role) for choice in choices}
        if default in buttons:
            box.setDefaultButton(buttons[default])
        if escape in buttons:
            box.setEscapeButton(buttons[escape])

        def key_of(clicked: QAbstractButton | None) -> str | None:
            return next((key for key, button in buttons.items() if button is clicked), escape)

        return await self._answer(box, key_of)

    async def ask_text(self, text: str, *, title: str = "", parent: QWidget | None = None,
                       placeholder: str = "") -> str | None:
        """Ask for a line of text; None when cancelled (or when no boxes are shown)."""
        if not self.show_boxes:
            log.info("not asked (no dialogs): %s", text)
            return None
        dialog = QInputDialog(parent)
        dialog.setWindowTitle(title or self.tr("Please enter"))
        dialog.setLabelText(text)
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        line = dialog.findChild(QLineEdit)
        if line is not None and placeholder:
            line.setPlaceholderText(placeholder)
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def on_finished(result: int) -> None:
            if not answer.done():
                accepted = result == QDialog.DialogCode.Accepted
                answer.set_result(dialog.textValue() if accepted else None)

        dialog.finished.connect(on_finished)
        self._open(dialog)
        self.question_asked.emit(dialog)
        try:
            return await answer
        finally:
            if dialog in self._dialogs:  # cancelled while asking: take the question away
                dialog.close()

    async def _answer(self, box: QMessageBox,
                      read: Callable[[QAbstractButton | None], T]) -> T:
        """Open ``box``, wait until it is closed; returns ``read(clicked button)``
        (read at once: the box is deleted soon after it closes)."""
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def on_finished(_result: int) -> None:
            if not answer.done():
                answer.set_result(read(box.clickedButton()))

        box.finished.connect(on_finished)
        self._open(box)
        self.question_asked.emit(box)
        try:
            return await answer
        finally:
            if box in self._dialogs:
                box.close()

    # --- boxes ------------------------------------------------------------------
    def _box(self, message: Message, parent: QWidget | None) -> QMessageBox:
        box = QMessageBox(_ICONS[message.level], message.title, message.text,
                          QMessageBox.StandardButton.Ok, parent)
        if message.details:
            box.setDetailedText(message.details)
        return box

    def _open(self, dialog: QDialog) -> None:
        self._dialogs.append(dialog)

        def forget(_result: int) -> None:
            if dialog in self._dialogs:
                self._dialogs.remove(dialog)
            dialog.deleteLater()

        dialog.finished.connect(forget)
        dialog.open()
