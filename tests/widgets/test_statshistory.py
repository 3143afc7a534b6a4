"""``StatsHistory``, ``HistoryPlot`` and ``SparklineDelegate``: rings, drops, painting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QColor, QImage, QPalette, QStandardItem, QStandardItemModel
from PyQt6.QtWidgets import QApplication, QTableView
from pytestqt.qtbot import QtBot

from backend.client import AdminClient, QubeStats, SystemCache, UnixTransport, actions
from tests.backend.daemon.conftest import RunningDaemon
from tests.client.conftest import Recorder
from tests.widgets.qtasync import run_qt, until
from widgets.stats_paint import Series, memory_scale, memory_text, series_color
from widgets.stats_plot import HistoryPlot
from widgets.stats_sparkline import SparklineDelegate
from widgets.statshistory import StatsHistory


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(tmp_path / "state", tmp_path / "qubesd.sock")
    try:
        yield daemon
    finally:
        daemon.close()




class FakeStats:
    """A stream of stats records that the test feeds; an exception put in is raised."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[QubeStats | BaseException] = asyncio.Queue()
        self.opened = 0
        self.closed = 0

    def __call__(self) -> AsyncIterator[QubeStats]:
        self.opened += 1
        return self._stream()

    async def _stream(self) -> AsyncIterator[QubeStats]:
        try:
            while True:
                item = await self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed += 1

    def send(self, name: str, cpu: int, memory_kb: int = 400 * 1024) -> None:
        self.queue.put_nowait(QubeStats(name, memory_kb, 0, cpu))


def stats(name: str, cpu: int, memory_kb: int = 400 * 1024) -> QubeStats:
    return QubeStats(name, memory_kb, 0, cpu)


# --- the ring ------------------------------------------------------------------------------

def test_ring_keeps_only_the_last_samples(qapp: QApplication) -> None:
    async def main() -> None:
        fake = FakeStats()
        history = StatsHistory(fake, capacity=5)
        history.start()
        for cpu in range(12):
            fake.send("work", cpu, 1000 + cpu)
        await until(lambda: history.latest("work") is not None
                    and history.latest("work").cpu_percent == 11,  # type: ignore[union-attr]
                    history.updated)
        samples = history.history("work")
        assert [s.cpu_percent for s in samples] == [7, 8, 9, 10, 11]
        assert [s.memory_kib for s in samples] == [1007, 1008, 1009, 1010, 1011]
        assert samples[0].time <= samples[-1].time
        assert history.cpu_series("work") == [7, 8, 9, 10, 11]
        await history.aclose()

    run_qt(qapp, main())


def test_updated_is_emitted_once_per_qube_sample(qapp: QApplication) -> None:
    async def main() -> None:
        fake = FakeStats()
        history = StatsHistory(fake)
        received: list[str] = []
        history.updated.connect(received.append)
        history.start()
        for name, cpu in (("work", 10), ("vault", 250), ("work", -3)):
            fake.send(name, cpu)
        await until(lambda: len(received) == 3, history.updated)
        assert received == ["work", "vault", "work"]
        assert history.names() == {"work", "vault"}
        vault, work = history.latest("vault"), history.latest("work")
        assert vault is not None and vault.cpu_percent == 100  # clamped
        assert work is not None and work.cpu_percent == 0
        assert history.latest("personal") is None and history.history("personal") == ()
        await history.aclose()

    run_qt(qapp, main())


def test_stop_cancels_reading_and_keeps_the_histories(qapp: QApplication) -> None:
    async def main() -> None:
        fake = FakeStats()
        history = StatsHistory(fake)
        history.start()
        history.start()  # already running: no second stream
        fake.send("work", 5)
        await until(lambda: bool(history.history("work")), history.updated)
        assert history.is_running and fake.opened == 1
        await history.aclose()
        assert not history.is_running and fake.closed == 1
        assert len(history.history("work")) == 1
        history.start()
        fake.send("work", 6)
        await until(lambda: len(history.history("work")) == 2, history.updated)
        assert fake.opened == 2
        history.stop()

    run_qt(qapp, main())


def test_a_failing_stream_is_logged_not_raised(qapp: QApplication,
                                               caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        fake = FakeStats()
        history = StatsHistory(fake)
        history.start()
        failures: list[str] = []
        history.failed.connect(failures.append)
        fake.queue.put_nowait(RuntimeError("stream broke"))
        await until(lambda: bool(failures), history.failed)
        assert failures == ["stream broke"] and not history.is_running
        assert "reading the qubes' statistics failed" in caplog.text

    with caplog.at_level(logging.ERROR, logger="gui"):
        run_qt(qapp, main())


def test_halted_qube_is_dropped_and_late_samples_ignored(qapp: QApplication,
                                                         running: RunningDaemon) -> None:
    async def main() -> None:
        cache = SystemCache(AdminClient(UnixTransport(running.socket_path)))
        recorder = Recorder()
        cache.add_listener(recorder)
        await cache.start()
        await actions.start(cache.client, "vault")
        await recorder.wait_for(lambda: cache.qubes["vault"].is_running)
        fake = FakeStats()
        history = StatsHistory(fake, cache)
        dropped: list[str] = []
        history.dropped.connect(dropped.append)
        history.start()
        fake.send("vault", 30)
        fake.send("work", 30)  # halted according to the cache: a stale record
        fake.send("vault", 40)
        await until(lambda: len(history.history("vault")) == 2, history.updated)
        assert history.names() == {"vault"}

        await actions.kill(cache.client, "vault")
        await until(lambda: dropped == ["vault"], history.dropped)
        assert history.history("vault") == () and history.latest("vault") is None
        fake.send("vault", 50)  # on its way when the qube halted
        fake.send("vault", 50)
        history.add(stats("vault", 50))
        assert history.history("vault") == ()
        await history.aclose()
        await cache.close()

    run_qt(qapp, main())


def test_reads_admin_vm_stats_from_the_daemon(qapp: QApplication,
                                              running: RunningDaemon) -> None:
    async def main() -> None:
        cache = SystemCache(AdminClient(UnixTransport(running.socket_path)))
        await cache.start()
        await actions.start(cache.client, "vault")
        history = StatsHistory(cache.client, cache)
        history.start()
        await until(lambda: history.latest("vault") is not None, history.updated)
        latest = history.latest("vault")
        assert latest is not None and latest.memory_kib > 0
        await history.aclose()
        await cache.close()

    run_qt(qapp, main())


# --- the plot ------------------------------------------------------------------------------

def _count_near(image: QImage, color: QColor, area: QRect | None = None,
                tolerance: int = 40) -> int:
    area = area or image.rect()
    count = 0
    for y in range(area.top(), area.bottom() + 1, 1):
        for x in range(area.left(), area.right() + 1, 1):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - color.red()) + abs(pixel.green() - color.green())
                    + abs(pixel.blue() - color.blue())) <= tolerance:
                count += 1
    return count


def _filled_history(capacity: int = 60) -> StatsHistory:
    history = StatsHistory(FakeStats(), capacity=capacity)
    for index in range(40):
        history.add(stats("work", 20 + (index * 7) % 60, (600 + index * 10) * 1024))
    return history


def _dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#242424"),
                        (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.Text, "#eeeeee"),
                        (QPalette.ColorRole.WindowText, "#eeeeee")):
        palette.setColor(role, QColor(color))
    return palette


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_plot_draws_both_series(qtbot: QtBot, dark: bool) -> None:
    history = _filled_history()
    plot = HistoryPlot(history)
    qtbot.addWidget(plot)
    if dark:
        plot.setPalette(_dark_palette())
    plot.resize(360, 190)
    plot.set_qube("work")
    image = plot.grab().toImage()
    palette = plot.palette()
    cpu = _count_near(image, series_color(Series.CPU, palette))
    memory = _count_near(image, series_color(Series.MEMORY, palette))
    assert cpu > 150 and memory > 150, (cpu, memory)
    top, bottom = QRect(0, 0, 360, 95), QRect(0, 95, 360, 95)
    assert _count_near(image, series_color(Series.CPU, palette), top) > 0.9 * cpu
    assert _count_near(image, series_color(Series.MEMORY, palette), bottom) > 0.9 * memory


def test_plot_repaints_only_for_its_own_qube(qtbot: QtBot,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    history = _filled_history()
    plot = HistoryPlot(history)
    qtbot.addWidget(plot)
    plot.set_qube("work")
    repaints: list[None] = []
    monkeypatch.setattr(plot, "update", lambda: repaints.append(None))
    history.add(stats("vault", 10))
    assert repaints == []
    history.add(stats("work", 10))
    assert len(repaints) == 1
    history.drop("work")
    assert len(repaints) == 2


def test_plot_without_samples_says_so(qtbot: QtBot) -> None:
    plot = HistoryPlot(StatsHistory(FakeStats()))
    qtbot.addWidget(plot)
    plot.resize(300, 160)
    plot.set_qube("vault")
    image = plot.grab().toImage()
    background = image.pixelColor(2, 2)
    assert _count_near(image, background, tolerance=60) < image.width() * image.height()
    assert plot.qube() == "vault"


def test_memory_axis_and_texts() -> None:
    assert memory_scale(400 * 1024) == 512 * 1024
    assert memory_scale(3 * 1024 * 1024) == 4 * 1024 * 1024
    assert memory_scale(0) == 64 * 1024
    assert memory_text(409600) == "400 MiB"
    assert memory_text(1536 * 1024) == "1.5 GiB"
    assert memory_text(512) == "512 KiB"


# --- the sparkline -------------------------------------------------------------------------

def _table(history: StatsHistory, qtbot: QtBot) -> tuple[QTableView, SparklineDelegate]:
    model = QStandardItemModel(2, 1)
    for row, name in enumerate(("work", "vault")):
        item = QStandardItem("–")
        item.setData(name, Qt.ItemDataRole.UserRole)
        model.setItem(row, 0, item)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.setParent(view)
    delegate = SparklineDelegate(history, view)
    view.setItemDelegateForColumn(0, delegate)
    view.setColumnWidth(0, 140)
    view.resize(220, 120)
    view.show()
    return view, delegate


def test_sparkline_draws_the_cpu_history_of_the_row_qube(qtbot: QtBot) -> None:
    history = _filled_history()
    view, _ = _table(history, qtbot)
    image = view.viewport().grab().toImage()
    color = series_color(Series.CPU, view.palette())
    work_cell = view.visualRect(view.model().index(0, 0))
    vault_cell = view.visualRect(view.model().index(1, 0))
    assert _count_near(image, color, work_cell) > 20
    assert _count_near(image, color, vault_cell) == 0  # no history: the usual text


def test_watched_view_repaints_after_a_batch_of_samples(qtbot: QtBot,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    history = _filled_history()
    view, delegate = _table(history, qtbot)
    delegate.watch(view)
    repaints: list[None] = []
    viewport = view.viewport()
    assert viewport is not None
    monkeypatch.setattr(viewport, "update", lambda: repaints.append(None))
    for cpu in (1, 2, 3):
        history.add(stats("work", cpu))
    qtbot.waitUntil(lambda: len(repaints) >= 1)
    assert len(repaints) == 1  # one repaint for the batch
