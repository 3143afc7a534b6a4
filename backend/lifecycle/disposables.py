"""Disposables: ``admin.vm.CreateDisposable[+preload]`` and removal when they stop.

An unnamed disposable (``auto_cleanup``) is removed — model, volumes and libvirt
domain, committed — once its stop has been handled, and also when its start fails.
A named disposable is never removed by a failed start (unlike upstream, core-model.md
Appendix B #11): only ``auto_cleanup`` decides.

Preloading (feature ``preload-dispvm-max`` on the disposable template, or on dom0 for
the global default): ``+preload`` fills the pool with started-then-paused disposables
marked ``internal`` and listed in the template's ``preload-dispvm`` feature;
``CreateDisposable`` hands out a preloaded one first when there is one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from backend.errors import QubesException, QubesValueError
from backend.lifecycle.core import Core
from backend.model.vm import AdminVM, DispVM, PowerState
from backend.virt.errors import VirtDomainNotFoundError, VirtError

log = logging.getLogger("backend.lifecycle")

PRELOAD_LIST = "preload-dispvm"
PRELOAD_MAX = "preload-dispvm-max"
MAX_PRELOAD = 100
_TAG = re.compile(r"[A-Za-z0-9_-]+")

StartFn = Callable[[Any], Awaitable[None]]
PauseFn = Callable[[Any], Awaitable[None]]
UnpauseFn = Callable[[Any], Awaitable[None]]


class Disposables:
    def __init__(self, core: Core, start: StartFn, pause: PauseFn, unpause: UnpauseFn) -> None:
        self.core = core
        self._start = start
        self._pause = pause
        self._unpause = unpause
        self._refill_locks: dict[str, asyncio.Lock] = {}
        core.stop_hooks.append(self.cleanup)

    # --- creation --------------------------------------------------------------------
    def template_for(self, source: Any, dest: Any) -> Any:
        template = source.get_or("default_dispvm") if isinstance(dest, AdminVM) else dest
        if template is None:
            raise QubesValueError(f"{source.name} has no default disposable template")
        if not template.get_or("template_for_dispvms", False):
            raise QubesValueError(f"{template.name} is not a disposable template")
        return template

    async def create(self, source: Any, template: Any) -> Any:
        """A running disposable of ``template`` for ``source`` (a preloaded one first)."""
        vm = await self._take_preloaded(template)
        if vm is None:
            vm = await self.core.system.create_dispvm(template)
            self._tag(vm, source)
            await self.core.system.commit()
            await self._start(vm)  # a failed start removes it again (cleanup below)
        else:
            self._tag(vm, source)
            await self.core.system.commit()
        log.info("disposable %s of %s created for %s", vm.name, template.name, source.name)
        return vm

    @staticmethod
    def _tag(vm: Any, source: Any) -> None:
        """``created-by-``/``disp-created-by-<caller>`` and the caller's
        ``tag-created-vm-with`` tags (core-model.md §2.3)."""
        tags = [f"created-by-{source.name}", f"disp-created-by-{source.name}"]
        extra = (source.features.get("tag-created-vm-with") or "").split()
        tags += [tag for tag in extra if _TAG.fullmatch(tag)]
        for tag in tags:
            if tag not in vm.tags:
                # not Tags.add: a qube name in the tag may hold a dot, which
                # user-given tags may not
                vm.tags.load(tag)
                vm.fire(f"domain-tag-add:{tag}", tag=tag)

    # --- preloading ------------------------------------------------------------------
    def preload_max(self, template: Any) -> int:
        value = template.features.get(PRELOAD_MAX)
        if value is None and self.core.app.globals.get_or("default_dispvm") is template:
            value = self.core.app.domains[0].features.get(PRELOAD_MAX)
        if not value:
            return 0
        if not str(value).isdigit():
            raise QubesValueError(f"{template.name}: feature {PRELOAD_MAX} must be a number")
        return min(int(value), MAX_PRELOAD)

    async def refill(self, template: Any) -> None:
        wanted = self.preload_max(template)
        lock = self._refill_locks.setdefault(template.uuid, asyncio.Lock())
        async with lock:
            while len(self._preloaded(template)) < wanted:
                vm = await self.core.system.create_dispvm(template)
                vm.features.set("internal", "1")
                self._set_list(template, [*self._preloaded(template), vm.name])
                await self.core.system.commit()
                try:
                    await self._start(vm)
                    await self._pause(vm)
                except QubesException:
                    self._drop(template, vm)
                    await self.core.system.commit()
                    raise

    def _preloaded(self, template: Any) -> list[str]:
        names = (template.features.get(PRELOAD_LIST) or "").split()
        return [n for n in names if isinstance(self.core.app.domains.get(n), DispVM)]

    @staticmethod
    def _set_list(template: Any, names: list[str]) -> None:
        if names:
            template.features.set(PRELOAD_LIST, " ".join(names))
        else:
            template.features.discard(PRELOAD_LIST)

    def _drop(self, template: Any, vm: Any) -> None:
        self._set_list(template, [n for n in self._preloaded(template) if n != vm.name])

    async def _take_preloaded(self, template: Any) -> Any:
        for name in self._preloaded(template):
            vm = self.core.app.domains[name]
            self._drop(template, vm)
            vm.announce(["is_preload"])
            vm.features.discard("internal")
            if vm.power_state is PowerState.PAUSED:
                await self._unpause(vm)
            elif vm.is_halted():
                await self._start(vm)
            template.fire("domain-preload-dispvm-used", dispvm=vm, delay=0)
            return vm
        return None

    # --- removal -----------------------------------------------------------------------
    async def cleanup(self, vm: Any) -> None:
        """After-stop hook: remove a stopped ``auto_cleanup`` disposable completely."""
        if not isinstance(vm, DispVM) or not vm.get_or("auto_cleanup", False):
            return
        if vm not in self.core.app.domains or not vm.is_halted():
            return
        template = vm.template
        if template is not None and vm.name in self._preloaded(template):
            self._drop(template, vm)
        try:
            await self.core.system.remove_vm(vm)
        except QubesException as exc:
            log.warning("disposable %s stays: %s", vm.name, exc)
            return
        await self.undefine(vm)
        log.info("disposable %s removed", vm.name)

    async def undefine(self, vm: Any) -> None:
        conn = self.core.conn
        if conn is None:
            return
        try:
            await conn.undefine(vm.uuid)
        except VirtDomainNotFoundError:
            pass
        except VirtError as exc:
            log.warning("cannot remove the libvirt domain of %s: %s", vm.name, exc)
