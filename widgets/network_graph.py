# SPDX-License-Identifier: GPL-2.0-or-later
"""The netvm topology of the qubes and its left-to-right layout (pure, no Qt)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from backend.client.model import QubeClass, QubeSnapshot

#: the key of the group of qubes with no network (a qube name never contains ':')
OFFLINE_GROUP = "group:"

NODE_W = 196.0
NODE_H = 46.0
#: horizontal room between two columns, where the edges run
COLUMN_GAP = 80.0
ROW_GAP = 12.0
#: vertical room between two trees, and before the group of qubes with no network
TREE_GAP = 32.0
GROUP_PAD = 12.0
GROUP_HEADER = NODE_H
GRID_GAP = 8.0


def group_key(parent: str | None) -> str:
    """The key of the group of leaf clients of ``parent`` (None: the offline group)."""
    return OFFLINE_GROUP if parent is None else f"group:{parent}"


@dataclass(frozen=True, slots=True)
class Link:
    """What the layout needs of one qube."""

    name: str
    #: the effective netvm; None when it has none
    netvm: str | None
    provides_network: bool

    @classmethod
    def of(cls, qube: QubeSnapshot) -> Link:
        return cls(qube.name, qube.prop("netvm") or None,
                   qube.bool_prop("provides_network"))


def shows_in_graph(qube: QubeSnapshot) -> bool:
    """dom0 has no network at all, so it is left out."""
    return qube.klass is not QubeClass.ADMIN_VM


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def right(self) -> float:
        return self.x + self.w


@dataclass(frozen=True, slots=True)
class GroupPlace:
    """A group of leaf qubes: one box when collapsed, a frame with a grid when expanded."""

    key: str
    #: the netvm of every member; None for the qubes with no network
    parent: str | None
    members: tuple[str, ...]
    expanded: bool
    rect: Rect


@dataclass(slots=True)
class Layout:
    """Where everything goes, in scene coordinates (top-left corners)."""

    #: the qubes drawn as nodes (not those hidden in a collapsed group)
    nodes: dict[str, Rect] = field(default_factory=dict)
    groups: dict[str, GroupPlace] = field(default_factory=dict)
    #: edge target (a qube or a group key) → its netvm
    edges: dict[str, str] = field(default_factory=dict)
    #: every grouped qube → its group's key
    group_of: dict[str, str] = field(default_factory=dict)
    #: number of direct clients of each network qube
    clients: dict[str, int] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


class _Builder:
    """Lays the trees out column by column; one instance per layout run."""

    def __init__(self, links: Mapping[str, Link], expanded: Mapping[str, bool],
                 fanout_limit: int) -> None:
        self.links = links
        self.expanded = expanded
        self.fanout_limit = fanout_limit
        self.layout = Layout()
        self.children: dict[str, list[str]] = {name: [] for name in links}
        self.visited: set[str] = set()
        for link in links.values():
            if link.netvm is not None and link.netvm in links and link.netvm != link.name:
                self.children[link.netvm].append(link.name)
        for name, kids in self.children.items():
            kids.sort(key=lambda kid: (not self._is_chain(kid), kid))
            if kids:
                self.layout.clients[name] = len(kids)

    def _is_chain(self, name: str) -> bool:
        """Network qubes and qubes with clients are always drawn on their own."""
        return self.links[name].provides_network or bool(self.children[name])

    def _is_expanded(self, key: str, size: int) -> bool:
        return self.expanded.get(key, size <= self.fanout_limit)

    def build(self) -> Layout:
        roots: list[str] = []
        offline: list[str] = []
        for name in sorted(self.links):
            link = self.links[name]
            if link.netvm is not None and link.netvm in self.links and link.netvm != name:
                continue
            (roots if self._is_chain(name) else offline).append(name)
        roots.sort(key=lambda name: (not self.children[name], name))
        y = 0.0
        for root in roots:
            y = self._place(root, 0, y)[1] + TREE_GAP
        # a netvm loop (the daemon refuses them) has no root: lay its members out too
        for name in sorted(set(self.links) - self.visited - set(offline)):
            if name not in self.visited:
                y = self._place(name, 0, y)[1] + TREE_GAP
        if offline:
            y = self._place_group(None, offline, 0.0, y).rect.bottom
        else:
            y -= TREE_GAP
        self.layout.height = max(y, 0.0)
        return self.layout

    def _place(self, name: str, depth: int, top: float) -> tuple[float, float]:
        """Place ``name`` and its clients from ``top``; returns (anchor y, bottom)."""
        self.visited.add(name)
        x = depth * (NODE_W + COLUMN_GAP)
        kids = [kid for kid in self.children[name] if kid not in self.visited]
        chain = [kid for kid in kids if self._is_chain(kid)]
        leaves = [kid for kid in kids if not self._is_chain(kid)]
        anchors: list[float] = []
        cursor = top
        for kid in chain:
            anchor, bottom = self._place(kid, depth + 1, cursor)
            self.layout.edges[kid] = name
            anchors.append(anchor)
            cursor = bottom + ROW_GAP
        if len(leaves) > self.fanout_limit:
            group = self._place_group(name, leaves, x + NODE_W + COLUMN_GAP, cursor)
            self.layout.edges[group.key] = name
            anchors.append(group.rect.y + NODE_H / 2)
            cursor = group.rect.bottom + ROW_GAP
        else:
            for kid in leaves:
                anchor, bottom = self._place(kid, depth + 1, cursor)
                self.layout.edges[kid] = name
                anchors.append(anchor)
                cursor = bottom + ROW_GAP
        anchor = (anchors[0] + anchors[-1]) / 2 if anchors else top + NODE_H / 2
        rect = Rect(x, anchor - NODE_H / 2, NODE_W, NODE_H)
        self.layout.nodes[name] = rect
        self.layout.width = max(self.layout.width, rect.right)
        bottom = max(rect.bottom, cursor - ROW_GAP if anchors else rect.bottom)
        return anchor, bottom

    def _place_group(self, parent: str | None, members: list[str], x: float,
                     top: float) -> GroupPlace:
        key = group_key(parent)
        expanded = self._is_expanded(key, len(members))
        for member in members:
            self.visited.add(member)
            self.layout.group_of[member] = key
        if not expanded:
            rect = Rect(x, top, NODE_W, NODE_H)
        else:
            columns = grid_columns(len(members))
            rows = math.ceil(len(members) / columns)
            inner_x, inner_y = x + GROUP_PAD, top + GROUP_HEADER
            for index, member in enumerate(members):
                row, column = divmod(index, columns)
                self.layout.nodes[member] = Rect(inner_x + column * (NODE_W + GRID_GAP),
                                                 inner_y + row * (NODE_H + GRID_GAP),
                                                 NODE_W, NODE_H)
            width = columns * NODE_W + (columns - 1) * GRID_GAP + 2 * GROUP_PAD
            height = GROUP_HEADER + rows * NODE_H + (rows - 1) * GRID_GAP + GROUP_PAD
            rect = Rect(x, top, max(width, NODE_W + 2 * GROUP_PAD), height)
        place = GroupPlace(key, parent, tuple(members), expanded, rect)
        self.layout.groups[key] = place
        self.layout.width = max(self.layout.width, rect.right)
        return place


def grid_columns(count: int) -> int:
    """Columns of an expanded group's grid: about twice as wide as tall on screen."""
    if count <= 0:
        return 1
    ratio = 2.0 * (NODE_H + GRID_GAP) / (NODE_W + GRID_GAP)
    return max(1, min(count, round(math.sqrt(count * ratio))))


def compute_layout(links: Iterable[Link], expanded: Mapping[str, bool] | None = None,
                   fanout_limit: int = 16) -> Layout:
    """Lay out the netvm trees left to right, then the qubes with no network below.

    ``expanded`` overrides, per group key, whether a group is expanded; by default a
    group of more than ``fanout_limit`` leaf clients is collapsed into one box, a
    smaller one is drawn as separate nodes (and the offline group as an open frame).
    """
    by_name = {link.name: link for link in links}
    return _Builder(by_name, expanded or {}, fanout_limit).build()
