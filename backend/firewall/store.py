"""Every qube's firewall in memory, persisted in ``<qube dir>/firewall.xml``, with expiry.

:class:`FirewallKeeper` reads all firewall.xml files once, in a worker thread (a
missing file is upstream's default, accept everything), and afterwards answers from
memory. A change is written atomically (temporary file, fsync, rename) in a worker
thread before it is acknowledged, and announced with ``firewall-changed`` on the
qube. Rules with ``expire`` are removed at that time by a timer on the event loop:
the file is rewritten without them and ``firewall-changed`` fired (core-model.md
§6.3; timers are rebuilt from the files after a restart).

A firewall.xml that cannot be read fails closed: the qube gets no rules at all,
which drops all its traffic, and the error is logged; the file stays as it is until
the next ``Set`` replaces it.

The keeper works whether or not an event loop runs when it is made: loading starts
on the first of :meth:`start`, an awaited call, or an event of the app seen while
the loop runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.errors import QubesException
from backend.model.vm import AdminVM

from .ruleset import Firewall
from .xmlformat import firewall_from_xml, firewall_to_xml

log = logging.getLogger("backend.firewall")

FIREWALL_FILE = "firewall.xml"
#: when a timer fires a little before the wall clock reaches the expiry, try again after
_RETRY_S = 0.05


def read_firewall(path: Path) -> Firewall:
    """The firewall in ``path``; the default if there is none; no rules if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Firewall.default()
    except OSError as exc:
        log.error("%s: cannot read (%s); the qube's traffic is dropped until its "
                  "firewall is set again", path, exc)
        return Firewall(())
    try:
        return firewall_from_xml(data)
    except QubesException as exc:
        log.error("%s: %s; the qube's traffic is dropped until its firewall is set again",
                  path, exc)
        return Firewall(())


def write_firewall(path: Path, firewall: Firewall, now: float) -> None:
    """Replace ``path`` atomically with ``firewall`` (expired rules left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + "~")
    with open(tmp, "wb") as file:
        file.write(firewall_to_xml(firewall, now))
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class FirewallKeeper:
    """The firewalls of a :class:`backend.system.System`'s qubes."""

    def __init__(self, system: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._system = system
        self._app = system.app
        self._clock = clock
        self._firewalls: dict[Any, Firewall] = {}
        self._locks: dict[Any, asyncio.Lock] = {}
        self._timers: dict[Any, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loading: asyncio.Task[None] | None = None
        self._unsubscribe = self._app.events.subscribe(self._on_event)

    # --- loading ---------------------------------------------------------------------------
    def start(self) -> None:
        """Begin loading in the background if an event loop runs (else nothing yet)."""
        if self._loading is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._loading = loop.create_task(self._load())

    async def loaded(self) -> None:
        """Wait until every firewall.xml has been read (starting that if needed)."""
        self.start()
        assert self._loading is not None
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        qubes = [vm for vm in self._app.domains if not isinstance(vm, AdminVM)]
        paths = {vm: self.path(vm) for vm in qubes}
        found = await asyncio.to_thread(
            lambda: {vm: read_firewall(path) for vm, path in paths.items()})
        for vm, firewall in found.items():
            if vm in self._app.domains and vm not in self._firewalls:
                self._firewalls[vm] = firewall
                self._schedule(vm)
        log.debug("firewalls of %d qubes loaded", len(found))

    def path(self, vm: Any) -> Path:
        return Path(self._system.qube_dir(vm)) / FIREWALL_FILE

    # --- reading and changing ----------------------------------------------------------------
    def get(self, vm: Any) -> Firewall:
        """``vm``'s firewall as kept, expired rules included (call after :meth:`loaded`)."""
        firewall = self._firewalls.get(vm)
        return Firewall.default() if firewall is None else firewall

    def active(self, vm: Any) -> Firewall:
        """The rules in force now."""
        return self.get(vm).without_expired(self._clock())

    async def set(self, vm: Any, firewall: Firewall) -> None:
        """Replace ``vm``'s rules: on disk first, then in memory, then announced."""
        await self.loaded()
        async with self._lock(vm):
            now = self._clock()
            await asyncio.to_thread(write_firewall, self.path(vm), firewall, now)
            if vm not in self._app.domains:
                return  # removed while the file was being written
            self._firewalls[vm] = firewall.without_expired(now)
            self._schedule(vm)
        vm.fire("firewall-changed")

    def reload(self, vm: Any) -> None:
        """Announce the rules again (the net qube rewrites them)."""
        vm.fire("firewall-changed")

    def _lock(self, vm: Any) -> asyncio.Lock:
        return self._locks.setdefault(vm, asyncio.Lock())

    # --- expiry --------------------------------------------------------------------------------
    def _schedule(self, vm: Any) -> None:
        timer = self._timers.pop(vm, None)
        if timer is not None:
            timer.cancel()
        expiry = self.get(vm).next_expiry()
        if expiry is None:
            return
        delay = max(0.0, expiry - self._clock())
        loop = asyncio.get_running_loop()
        self._timers[vm] = loop.call_later(delay, self._spawn_expire, vm)

    def _spawn_expire(self, vm: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._expire(vm))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, vm: Any) -> None:
        self._timers.pop(vm, None)
        if vm not in self._firewalls:
            return  # removed meanwhile
        async with self._lock(vm):
            firewall = self._firewalls[vm]
            now = self._clock()
            remaining = firewall.without_expired(now)
            if remaining == firewall:
                # the timer ran a little early for the wall clock: look again shortly
                loop = asyncio.get_running_loop()
                self._timers[vm] = loop.call_later(_RETRY_S, self._spawn_expire, vm)
                return
            try:
                await asyncio.to_thread(write_firewall, self.path(vm), remaining, now)
            except OSError as exc:
                # the rules are gone from what the net qube gets; the file catches up later
                log.error("%s: cannot save the firewall without its expired rules: %s",
                          vm.name, exc)
            self._firewalls[vm] = remaining
            self._schedule(vm)
        log.debug("%s: expired firewall rules removed", vm.name)
        vm.fire("firewall-changed")

    # --- life of qubes and of the keeper ------------------------------------------------------
    def _on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        if self._loading is None:
            self.start()
        if event == "domain-delete" and "vm" in kwargs:
            vm = kwargs["vm"]
            self._firewalls.pop(vm, None)
            self._locks.pop(vm, None)
            timer = self._timers.pop(vm, None)
            if timer is not None:
                timer.cancel()

    async def close(self) -> None:
        """Stop the timers and wait for writes in progress."""
        self._unsubscribe()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        pending = [t for t in (*self._tasks, self._loading) if t is not None and not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
