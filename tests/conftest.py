"""Settings for the whole test run: Qt draws offscreen, never on a display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
