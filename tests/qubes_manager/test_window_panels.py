"""The network view and CPU/memory history docks, wired to the table."""

from __future__ import annotations

from tests.qubes_manager.test_window_env import WindowEnv

#: the window fixtures (env, qloop, running, settings)
pytest_plugins = ("tests.qubes_manager.test_window_env",)


def test_network_view_shows_the_netvm_chains(env: WindowEnv) -> None:
    network = env.window.panels.network
    env.wait(lambda: network.edges().get("sys-firewall") == "sys-net")
    edges = network.edges()
    assert edges["work"] == "sys-firewall"
    assert edges["anon-whonix"] == "sys-whonix"


def test_clicking_a_qube_in_the_network_view_selects_its_row(env: WindowEnv) -> None:
    network = env.window.panels.network
    env.wait(lambda: "vault" in network.qube_names())
    network.qube_selected.emit("vault")
    env.wait(lambda: env.window.selected_names() == ["vault"])


def test_selecting_a_row_shows_its_history_and_highlights_its_node(env: WindowEnv) -> None:
    network = env.window.panels.network
    env.wait(lambda: "work" in network.qube_names())
    env.window.select("work")
    env.wait(lambda: env.window.panels.plot.qube() == "work")
    assert network.selected_qube() == "work"


def test_history_is_fed_from_the_window_stats_stream(env: WindowEnv) -> None:
    history = env.window.panels.history
    assert not history.is_running  # no second admin.vm.Stats stream
    env.running.call("admin.vm.Start", "vault")
    env.wait(lambda: history.latest("vault") is not None, timeout=60_000)
