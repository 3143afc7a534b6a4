"""``SearchBox``: a line edit for qube names that selects its text when focused."""

from __future__ import annotations

from PyQt6.QtCore import QRegularExpression, QTimer
from PyQt6.QtGui import QFocusEvent, QMouseEvent, QRegularExpressionValidator
from PyQt6.QtWidgets import QLineEdit, QWidget

from widgets.icons import Icon, icon

#: what a qube name may contain (upstream accepts only these in its search box too)
NAME_CHARACTERS = "[a-zA-Z0-9_.-]*"


class SearchBox(QLineEdit):
    """Accepts only characters that can be in a qube name; a click after focusing
    selects everything, so typing replaces the previous search."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(NAME_CHARACTERS),
                                                      self))
        self.setClearButtonEnabled(True)
        self.addAction(icon(Icon.SEARCH), QLineEdit.ActionPosition.LeadingPosition)
        self._select_on_click = False

    def focusInEvent(self, event: QFocusEvent | None) -> None:  # noqa: N802
        super().focusInEvent(event)
        self._select_on_click = True
        QTimer.singleShot(0, self.selectAll)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        super().mousePressEvent(event)
        if self._select_on_click:
            self._select_on_click = False
            self.selectAll()
