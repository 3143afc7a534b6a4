# SPDX-License-Identifier: GPL-2.0-or-later
"""How the network view draws: state mapping, colours and fonts from the palette."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtGui import QColor, QFont, QPalette

from backend.client.model import PowerState

_CONTEXT = "NetworkView"


def tr(text: str, n: int = -1) -> str:
    return QCoreApplication.translate(_CONTEXT, text, "", n)


def trn(singular: str, plural: str, n: int) -> str:
    """A count in a sentence; ``%Ln`` is the count in the locale's digits.

    English has no translation file, so the source text picks the form; other
    languages get every form they need through Qt's numerus translations.
    """
    return tr(singular if n == 1 else plural, n)


class NodeState(enum.Enum):
    """How a qube's power state is drawn."""

    RUNNING = "running"
    PAUSED = "paused"
    TRANSIENT = "transient"
    HALTED = "halted"
    CRASHED = "crashed"

    @property
    def is_filled(self) -> bool:
        """Running-like qubes are drawn filled, halted ones as an outline."""
        return self in (NodeState.RUNNING, NodeState.PAUSED, NodeState.TRANSIENT)


_STATES: dict[PowerState, NodeState] = {
    PowerState.RUNNING: NodeState.RUNNING,
    PowerState.PAUSED: NodeState.PAUSED,
    PowerState.SUSPENDED: NodeState.PAUSED,
    PowerState.TRANSIENT: NodeState.TRANSIENT,
    PowerState.HALTING: NodeState.TRANSIENT,
    PowerState.DYING: NodeState.TRANSIENT,
    PowerState.CRASHED: NodeState.CRASHED,
}


def node_state(state: PowerState) -> NodeState:
    return _STATES.get(state, NodeState.HALTED)


def state_text(state: PowerState) -> str:
    """The state as a node's second line says it (translated)."""
    texts = {
        PowerState.RUNNING: tr("running"),
        PowerState.PAUSED: tr("paused"),
        PowerState.SUSPENDED: tr("suspended"),
        PowerState.TRANSIENT: tr("starting"),
        PowerState.HALTING: tr("shutting down"),
        PowerState.DYING: tr("shutting down"),
        PowerState.CRASHED: tr("crashed"),
        PowerState.NA: tr("unknown state"),
    }
    return texts.get(state, tr("halted"))


def mix(base: QColor, other: QColor, amount: float) -> QColor:
    """``other`` laid over ``base`` with opacity ``amount``."""
    return QColor.fromRgbF(
        base.redF() + (other.redF() - base.redF()) * amount,
        base.greenF() + (other.greenF() - base.greenF()) * amount,
        base.blueF() + (other.blueF() - base.blueF()) * amount,
    )


def luminance(color: QColor) -> float:
    """Relative luminance (WCAG 2)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(color.redF()) + 0.7152 * linear(color.greenF())
            + 0.0722 * linear(color.blueF()))


def contrast(first: QColor, second: QColor) -> float:
    """The WCAG contrast ratio of two colours, 1 (none) to 21."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@dataclass(frozen=True)
class GraphStyle:
    """Colours and fonts of the whole scene, derived once from the view's palette."""

    base: QColor
    text: QColor
    secondary: QColor
    line: QColor
    frame: QColor
    highlight: QColor
    dark: bool
    name_font: QFont
    small_font: QFont
    state_colors: dict[NodeState, QColor]

    @classmethod
    def from_palette(cls, palette: QPalette, font: QFont) -> GraphStyle:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        dark = luminance(base) < 0.2
        name_font = QFont(font)
        name_font.setWeight(QFont.Weight.DemiBold)
        small_font = QFont(font)
        small_font.setPointSizeF(max(font.pointSizeF() * 0.86, 6.5))
        return cls(
            base=base,
            text=text,
            secondary=mix(base, text, 0.62),
            line=mix(base, text, 0.5),
            frame=mix(base, text, 0.18),
            highlight=palette.color(QPalette.ColorRole.Highlight),
            dark=dark,
            name_font=name_font,
            small_font=small_font,
            state_colors={
                NodeState.RUNNING: QColor("#33d17a" if dark else "#26a269"),
                NodeState.PAUSED: QColor("#f6d32d" if dark else "#e5a50a"),
                NodeState.TRANSIENT: QColor("#62a0ea" if dark else "#1c71d8"),
                NodeState.HALTED: mix(base, text, 0.45),
                NodeState.CRASHED: QColor("#f66151" if dark else "#c01c28"),
            },
        )

    def accent(self, label_color: QColor) -> QColor:
        """The label's colour, or the text colour where it would not show (black on dark)."""
        if contrast(label_color, self.base) < 1.8:
            return mix(self.text, label_color, 0.4)
        if self.dark:  # deep label colours glow a little on a dark background
            return mix(label_color, self.text, 0.15)
        return label_color
