"""The firewall keeper on its own: made before any event loop runs, as a daemon may."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend.firewall import Action, Firewall, Rule
from backend.firewall.store import FirewallKeeper, write_firewall
from backend.model.app import Qubes


class FakeSystem:
    """What the keeper uses of a System: the app and the qubes' directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.app = Qubes()
        self.app.create_adminvm()
        self.app.add_new_vm("TemplateVM", "fedora", "black")
        self.app.globals.set("default_template", "fedora")
        self.app.add_new_vm("AppVM", "work", "red", properties={"netvm": None})

    def qube_dir(self, vm: Any) -> Path:
        return self.root / str(vm.name)


def test_keeper_made_without_a_loop_loads_on_first_use(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    work = system.app.domains["work"]
    rules = Firewall((Rule(Action.ACCEPT, expire=100), Rule(Action.DROP)))
    write_firewall(tmp_path / "work" / "firewall.xml", rules, now=0)
    keeper = FirewallKeeper(system, clock=lambda: 200.0)  # no loop runs here
    keeper.start()  # nothing to do yet: there is no loop

    async def use() -> tuple[Firewall, Firewall]:
        changed = asyncio.Event()
        system.app.events.subscribe(
            lambda subject, event, kwargs: changed.set() if event == "firewall-changed" else None)
        await keeper.loaded()
        before = keeper.get(work)
        await changed.wait()  # the expiry timer fires at once: the clock is past it
        return before, keeper.get(work)

    before, after = asyncio.run(asyncio.wait_for(use(), 10))
    assert before == rules
    assert after == Firewall((Rule(Action.DROP),))
    assert "expire" not in (tmp_path / "work" / "firewall.xml").read_text()


def test_removed_qube_is_forgotten(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    work = system.app.domains["work"]
    keeper = FirewallKeeper(system)

    async def use() -> None:
        await keeper.set(work, Firewall((Rule(Action.DROP),)))
        system.app.events.fire(None, "domain-delete", vm=work)
        await keeper.close()

    asyncio.run(use())
    assert keeper.get(work) == Firewall.default()
