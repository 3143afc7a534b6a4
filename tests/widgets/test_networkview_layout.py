"""The pure layout of the network view: trees left to right, groups, odd topologies."""

from __future__ import annotations

import itertools
import time

from widgets.network_graph import (
    NODE_W,
    OFFLINE_GROUP,
    Layout,
    Link,
    Rect,
    compute_layout,
    grid_columns,
    group_key,
)


def chain(*names: str) -> list[Link]:
    """``a → b → c``: a is a network qube with no netvm, each next one uses the previous."""
    return [Link(name, previous, True)
            for previous, name in zip((None, *names), names, strict=False)]


def overlaps(first: Rect, second: Rect) -> bool:
    return (first.x < second.right and second.x < first.right
            and first.y < second.bottom and second.y < first.bottom)


def assert_no_overlaps(layout: Layout) -> None:
    for (a, ra), (b, rb) in itertools.combinations(layout.nodes.items(), 2):
        assert not overlaps(ra, rb), (a, b)


def test_columns_follow_the_depth_of_the_chain() -> None:
    links = [*chain("sys-net", "sys-firewall", "sys-whonix"),
             Link("anon", "sys-whonix", False), Link("work", "sys-firewall", False)]
    layout = compute_layout(links)
    xs = {name: rect.x for name, rect in layout.nodes.items()}
    assert xs["sys-net"] < xs["sys-firewall"] < xs["sys-whonix"] < xs["anon"]
    assert xs["work"] == xs["sys-whonix"]
    assert layout.edges == {"sys-firewall": "sys-net", "sys-whonix": "sys-firewall",
                            "anon": "sys-whonix", "work": "sys-firewall"}
    assert layout.clients == {"sys-net": 1, "sys-firewall": 2, "sys-whonix": 1}
    assert_no_overlaps(layout)


def test_a_parent_sits_in_the_middle_of_its_clients() -> None:
    links = [*chain("net"), *(Link(f"q{i}", "net", False) for i in range(5))]
    layout = compute_layout(links)
    ys = sorted(layout.nodes[f"q{i}"].y for i in range(5))
    assert layout.nodes["net"].y == (ys[0] + ys[-1]) / 2


def test_network_qubes_come_before_plain_clients() -> None:
    links = [*chain("net"), Link("aaa", "net", False), Link("zzz-proxy", "net", True),
             Link("client", "zzz-proxy", False)]
    layout = compute_layout(links)
    assert layout.nodes["zzz-proxy"].y < layout.nodes["aaa"].y


def test_qubes_without_network_are_grouped_apart_below_the_trees() -> None:
    links = [*chain("net", "fw"), Link("work", "fw", False), Link("vault", None, False),
             Link("fedora", None, False), Link("lonely-net", None, True)]
    layout = compute_layout(links)
    offline = layout.groups[OFFLINE_GROUP]
    assert offline.members == ("fedora", "vault") and offline.expanded
    tree_bottom = max(layout.nodes[name].bottom for name in ("net", "fw", "work"))
    assert offline.rect.y > tree_bottom
    assert "lonely-net" not in layout.group_of  # a network qube without clients: a root
    assert {name for name, rect in layout.nodes.items()
            if offline.rect.x <= rect.x and rect.bottom <= offline.rect.bottom
            and rect.y >= offline.rect.y} == {"fedora", "vault"}
    assert_no_overlaps(layout)


def test_a_large_fan_out_collapses_and_can_be_expanded() -> None:
    links = [*chain("net", "fw"), *(Link(f"q{i:03}", "fw", False) for i in range(40)),
             Link("proxy", "fw", True)]
    layout = compute_layout(links, fanout_limit=16)
    key = group_key("fw")
    group = layout.groups[key]
    assert not group.expanded and len(group.members) == 40
    assert not any(name.startswith("q") for name in layout.nodes)
    assert layout.edges[key] == "fw" and layout.edges["proxy"] == "fw"
    assert all(layout.group_of[f"q{i:03}"] == key for i in range(40))

    opened = compute_layout(links, {key: True}, fanout_limit=16)
    inside = [opened.nodes[f"q{i:03}"] for i in range(40)]
    frame = opened.groups[key].rect
    assert all(frame.x < r.x and r.right < frame.right and frame.y < r.y
               and r.bottom < frame.bottom for r in inside)
    assert len({r.x for r in inside}) == grid_columns(40) > 1
    assert_no_overlaps(opened)


def test_a_small_group_can_be_collapsed_by_the_user() -> None:
    links = [Link("vault", None, False), Link("fedora", None, False)]
    layout = compute_layout(links, {OFFLINE_GROUP: False})
    assert not layout.groups[OFFLINE_GROUP].expanded and layout.nodes == {}


def test_unknown_netvm_and_loops_still_lay_out() -> None:
    links = [Link("a", "b", True), Link("b", "a", True), Link("c", "a", False),
             Link("orphan", "hidden-by-policy", False), Link("self", "self", False)]
    layout = compute_layout(links)
    assert set(layout.nodes) == {"a", "b", "c", "orphan", "self"}
    assert layout.edges["c"] == "a"
    assert_no_overlaps(layout)


def test_empty_system() -> None:
    layout = compute_layout([])
    assert layout.nodes == {} and layout.groups == {} and layout.height == 0


def test_layout_of_a_thousand_qubes_is_cheap() -> None:
    links = [*chain("sys-net", "sys-firewall"),
             *(Link(f"qube-{i:04}", "sys-firewall", False) for i in range(1000))]
    started = time.perf_counter()
    layout = compute_layout(links, {group_key("sys-firewall"): True})
    elapsed = time.perf_counter() - started
    assert len(layout.nodes) == 1002
    assert layout.width < 30 * NODE_W  # a grid, not one column 50,000 pixels long
    assert elapsed < 0.5
