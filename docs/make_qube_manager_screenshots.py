"""Screenshots of the Qube Manager for the docs: qubes running, a filter and a context menu.

``QT_QPA_PLATFORM=offscreen python docs/make_qube_manager_screenshots.py`` starts a
demo daemon on a temporary state dir, starts and pauses a few qubes, opens the window
on it, unticks two Show boxes, selects ``work``, opens its context menu, waits for the
CPU and memory of the running qubes, and writes ``docs/qube-manager-running.png``
(the window with the menu drawn where it opened), then shows the network view and
CPU/memory history docks and writes ``docs/qube-manager-panels.png``. ``docs/qube-manager.png`` comes
from the program itself: ``qubes-qube-manager --screenshot docs/qube-manager.png``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PyQt6.QtCore import QPoint, QSettings  # noqa: E402
from PyQt6.QtGui import QPainter  # noqa: E402

from qubes_manager.app import AppContext, next_emission, run_gui  # noqa: E402
from qubes_manager.mainwindow import ManagerWindow  # noqa: E402
from widgets.columns import Column  # noqa: E402
from widgets.qubefilter import Show  # noqa: E402

OUT = ROOT / "docs" / "qube-manager-running.png"
OUT_PANELS = ROOT / "docs" / "qube-manager-panels.png"


def start_daemon(state: Path, sock: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "backend", "--demo", "--state-dir",
                             str(state), "--socket", str(sock)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("qubes-backend: ready"):
            return proc
    raise RuntimeError("the daemon did not start")


async def prepare(window: ManagerWindow) -> None:
    client = window.context.client
    for name in ("work", "sys-usb", "personal", "fedora-42"):
        await client.call("admin.vm.Start", name)
    await client.call("admin.vm.Pause", "personal")
    await client.call("admin.vm.feature.Set", "debian-13", "updates-available", b"1")
    await client.call("admin.vm.feature.Set", "untrusted", "prohibit-start", b"demo")


async def shoot(window: ManagerWindow) -> int:
    if not window.is_loaded:
        await next_emission(window.loaded)
    await prepare(window)
    for flag in (Show.HALTED, Show.ALL):
        window.filter_bar.boxes[flag].setChecked(False)
    while any(row.stats is None or not row.stats.cpu_usage for row in window.model.rows
              if not row.is_admin and row.qube.state.value == "Running"):
        await asyncio.sleep(0.2)  # a script waiting for the stats stream, not GUI code
    window.fit_columns()
    window.select("work")
    row = window.proxy.proxy_row_of("work")
    assert row is not None
    rect = window.table.visualRect(window.proxy.index(row, 1))
    menu = window.context_menu
    viewport = window.table.viewport()
    assert viewport is not None
    below = viewport.mapTo(window, rect.center())
    height = menu.sizeHint().height()
    # open it upwards when it would not fit below, as a desktop would
    top = below.y() if below.y() + height < window.height() else below.y() - height
    header = window.table.horizontalHeader()
    assert header is not None
    left = viewport.mapTo(window, QPoint(header.sectionViewportPosition(Column.NETVM), 0)).x()
    menu.popup(window.mapToGlobal(QPoint(left + 20, top)))
    await asyncio.sleep(0.3)
    image = window.grab()
    painter = QPainter(image)
    painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
    painter.end()
    menu.close()
    if not image.save(str(OUT), "PNG"):
        return 1
    return await shoot_panels(window)


async def shoot_panels(window: ManagerWindow) -> int:
    """The network view and the CPU/memory history docks beside the table."""
    for flag in (Show.HALTED, Show.ALL):
        window.filter_bar.boxes[flag].setChecked(True)
    window.resize(1500, 860)
    for dock in window.docks.values():
        dock.show()
    window.select("work")
    while len(window.panels.history.history("work")) < 4:
        await asyncio.sleep(0.5)  # a script waiting for samples, not GUI code
    await asyncio.sleep(0.3)
    return 0 if window.grab().save(str(OUT_PANELS), "PNG") else 1


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(Path(tmp) / "state", Path(tmp) / "qubesd.sock")
        try:
            QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                              str(Path(tmp) / "config"))

            def factory(context: AppContext) -> ManagerWindow:
                window = ManagerWindow(context)
                window.resize(1100, 640)
                asyncio.ensure_future(shoot(window)).add_done_callback(
                    lambda task: context.quit(task.result()))
                return window

            return run_gui(factory, ["qubes-qube-manager", "--socket",
                                     str(Path(tmp) / "qubesd.sock")])
        finally:
            daemon.terminate()
            daemon.wait(30)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
