"""Settings for the whole test run: Qt draws offscreen, never on a display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# libvirt's event thread (daemons run in-process by tests) and Qt's GLib dispatcher
# would both iterate GLib's default main context; Qt then stops dispatching. The
# daemon is a separate process in production, so only tests need this.
os.environ.setdefault("QT_NO_GLIB", "1")

# Property tests check behaviour, not speed: on a loaded 2-core CI machine the default
# 200 ms deadline per example would turn slow examples into failures.
from hypothesis import settings  # noqa: E402

settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
