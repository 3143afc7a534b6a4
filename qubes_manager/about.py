"""The About text: the Qubes release (where there is one) and the backend in use."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QCoreApplication

from qubes_manager.backend_connect import BackendConnection

RELEASE_FILES = (Path("/etc/qubes-release"), Path("/usr/share/qubes/marker-vm"))
VERSION = "0.1.0"


def release(files: tuple[Path, ...] = RELEASE_FILES) -> str | None:
    """The first line of the Qubes release file (in dom0; the marker in a GUI qube)."""
    for path in files:
        try:
            line = path.read_text(errors="replace").strip().splitlines()
        except OSError:
            continue
        if line:
            return line[0]
    return None


def about_text(connection: BackendConnection) -> str:
    tr = QCoreApplication.translate
    lines = [tr("About", "<b>Qube Manager</b> %1").replace("%1", VERSION)]
    found = release()
    if found is not None:
        lines.append(tr("About", "Qubes release: %1").replace("%1", found))
    if connection.is_demo:
        lines.append(tr("About", "Running on the demo system (libvirt's test driver): "
                                 "its qubes have no operating system inside."))
    lines.append(tr("About", "Admin API: %1").replace("%1", connection.description))
    return "<br>".join(lines)
