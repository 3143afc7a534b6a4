"""``qubes-qube-manager``: the Qube Manager window (``make run``).

Options: ``--socket PATH`` (the Admin API socket; default: the system's, else a demo
backend is started) and ``--screenshot FILE`` (save a PNG once the table is filled,
then exit). ``QUBES_MANAGER_BENCH=1`` prints timing lines for ``bench/manager_load.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PyQt6.QtCore import QObject

from qubes_manager.app import AppContext, run_gui


def make_window(context: AppContext) -> QObject:
    from qubes_manager.mainwindow import ManagerWindow  # after the QApplication exists

    return ManagerWindow(context)


def main(argv: Sequence[str] | None = None) -> int:
    return run_gui(make_window, sys.argv if argv is None else argv,
                   app_name="qubes-qube-manager",
                   description="Qube Manager: the qubes of the system, and what to do "
                               "with them")


if __name__ == "__main__":
    sys.exit(main())
