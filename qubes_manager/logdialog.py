"""``LogDialog``: the end of a qube's log files, one at a time (upstream's log viewer)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from PyQt6.QtGui import QCloseEvent, QFontDatabase, QGuiApplication
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

#: how much of the end of a log is shown
TAIL_BYTES = 256 * 1024
LOG_DIRS = (Path("/var/log/xen/console"), Path("/var/log/qubes"))


def log_files(name: str, is_admin: bool) -> list[Path]:
    """The log files upstream offers for a qube (existing or not)."""
    if is_admin:
        return [Path("/var/log/xen/console/hypervisor.log")]
    console, qubes = LOG_DIRS
    return [console / f"guest-{name}.log", console / f"guest-{name}-dm.log",
            qubes / f"guid.{name}.log", qubes / f"qrexec.{name}.log"]


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a file, as text (blocking: run it in a thread)."""
    with open(path, "rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - limit))
        data = file.read()
    text = data.decode("utf-8", "replace")
    return text if size <= limit else text.partition("\n")[2]


class LogDialog(QDialog):
    """Shows one of ``paths``; pick another in the list at the top."""

    def __init__(self, paths: Sequence[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Logs"))
        self.resize(900, 560)
        self._paths = list(paths)
        self._reading: asyncio.Task[None] | None = None
        self.files = QComboBox(self)
        self.files.addItems([str(p) for p in self._paths])
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy = self.buttons.addButton(self.tr("Copy to clipboard"),
                                           QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.files)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.buttons)
        self._connect_signals()
        self.on_files_changed(0)

    def _connect_signals(self) -> None:
        self.files.currentIndexChanged.connect(self.on_files_changed)
        self.buttons.rejected.connect(self.close)
        assert self.copy is not None
        self.copy.clicked.connect(self.on_copy_clicked)

    def on_files_changed(self, index: int) -> None:
        if self._reading is not None:
            self._reading.cancel()
        if 0 <= index < len(self._paths):
            self._reading = asyncio.ensure_future(self._show(self._paths[index]))

    async def _show(self, path: Path) -> None:
        self.text.setPlainText(self.tr("Reading %1…").replace("%1", str(path)))
        try:
            content = await asyncio.to_thread(read_tail, path)
        except OSError as exc:
            content = self.tr("Cannot read %1: %2").replace("%1", str(path)) \
                .replace("%2", exc.strerror or str(exc))
        self.text.setPlainText(content)
        bar = self.text.verticalScrollBar()
        if bar is not None:
            bar.setValue(bar.maximum())

    def on_copy_clicked(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.text.toPlainText())

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802
        if self._reading is not None:
            self._reading.cancel()
        super().closeEvent(event)
