"""``FilterBar``: the search box and the Show checkboxes above the table."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from widgets.qubefilter import Show
from widgets.searchbox import SearchBox

#: the checkboxes, in upstream's order, with their (untranslated) texts
CATEGORIES: tuple[tuple[Show, str], ...] = (
    (Show.RUNNING, "Running"),
    (Show.HALTED, "Halted"),
    (Show.NETWORK, "Network"),
    (Show.TEMPLATES, "Templates"),
    (Show.STANDALONE, "Standalone"),
    (Show.USER, "User qubes"),
    (Show.ALL, "All"),
)


class FilterBar(QWidget):
    """Signals:
        search_changed(str): the search text changed.
        show_changed(Show): a Show checkbox was ticked or cleared.
    """

    search_changed = pyqtSignal(str)
    show_changed = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = SearchBox(self)
        self.search.setPlaceholderText(self.tr("Search by name (Ctrl+F)"))
        self.search.setMinimumWidth(160)
        self.boxes: dict[Show, QCheckBox] = {}
        for flag, text in CATEGORIES:
            box = QCheckBox(self.tr(text), self)
            box.setChecked(True)
            box.setObjectName(f"show-{flag.key}")
            self.boxes[flag] = box
        self._init_layout()
        self._connect_signals()

    def _init_layout(self) -> None:
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 4)
        layout.setSpacing(6)
        search_label = QLabel(self.tr("Search:"), self)
        search_label.setBuddy(self.search)
        layout.addWidget(search_label)
        layout.addWidget(self.search, 1)
        layout.addSpacing(16)
        layout.addWidget(QLabel(self.tr("Show:"), self))
        for box in self.boxes.values():
            layout.addWidget(box)

    def _connect_signals(self) -> None:
        self.search.textChanged.connect(self.search_changed)
        for box in self.boxes.values():
            box.toggled.connect(self._on_box_toggled)

    @property
    def shown(self) -> Show:
        result = Show.NONE
        for flag, box in self.boxes.items():
            if box.isChecked():
                result |= flag
        return result

    def set_show(self, show: Show) -> None:
        for flag, box in self.boxes.items():
            box.setChecked(flag in show)

    def _on_box_toggled(self, _checked: bool) -> None:
        self.show_changed.emit(self.shown)
