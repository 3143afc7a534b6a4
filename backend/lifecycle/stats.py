"""``admin.vm.Stats`` samples and ``admin.vm.CurrentState`` (core-model.md §4.5).

Without a balloon driver reporting from inside the qubes, the memory a qube has
assigned is also the best figure for what it uses, so the three assigned/used memory
keys carry libvirt's current allocation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from backend.api.registry import Event
from backend.lifecycle import virtops
from backend.lifecycle.core import Core
from backend.model.vm import AdminVM
from backend.virt.errors import VirtDomainNotFoundError, VirtError
from backend.virt.states import DomainStats

log = logging.getLogger("backend.lifecycle")

DEFAULT_INTERVAL = 3


def stats_values(sample: DomainStats) -> dict[str, int]:
    """The keys of a ``vm-stats`` event, in upstream's order."""
    return {
        "memory_kb": sample.memory_kb,
        "memory_assigned_total": sample.memory_kb,
        "memory_assigned_usable": sample.memory_kb,
        "memory_with_swap_used": sample.memory_kb,
        "cpu_time": sample.cpu_time,
        "cpu_usage": sample.cpu_usage,
        "online_vcpus": sample.online_vcpus,
    }


def interval(core: Core) -> float:
    value = core.app.globals.get_or("stats_interval", DEFAULT_INTERVAL)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = DEFAULT_INTERVAL
    return seconds if seconds > 0 else DEFAULT_INTERVAL


async def stats_stream(
    core: Core, dest: Any, visible: Callable[[Any], bool]
) -> AsyncIterator[Event]:
    """``vm-stats`` for every running qube (or only ``dest``), every stats_interval s."""
    everything = isinstance(dest, AdminVM)
    while True:
        try:
            samples = await core.connection().stats()
        except VirtError as exc:
            log.warning("cannot read domain statistics: %s", exc)
            samples = []
        for sample in samples:
            vm = core.qube_by_uuid(sample.uuid)
            if vm is None or (not everything and vm is not dest) or not visible(vm):
                continue
            yield vm, "vm-stats", stats_values(sample)
        await asyncio.sleep(interval(core))


async def current_state(core: Core, vm: Any) -> str:
    """``mem=<KiB> mem_static_max=<KiB> cputime=<ns> power_state=<State>``."""
    mem = static_max = cputime = 0
    if isinstance(vm, AdminVM):
        mem = static_max = int(vm.get_or("maxmem", 0) or 0) * 1024
    elif not vm.is_halted():
        try:
            info = await virtops.info(core.connection(), vm.uuid)
            mem, static_max, cputime = info.memory_kb, info.max_kb, info.cpu_time_ns
        except VirtDomainNotFoundError:
            core.spawn(core.sync(vm), f"re-reading the state of {vm.name}")
        except VirtError as exc:
            log.warning("cannot read the state of %s: %s", vm.name, exc)
    state = {
        "mem": mem,
        "mem_static_max": static_max,
        "cputime": cputime,
        "power_state": vm.power_state.value,
    }
    return " ".join(f"{key}={value}" for key, value in state.items())
