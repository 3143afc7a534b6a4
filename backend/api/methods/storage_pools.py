"""Admin API methods: storage pools (``admin.pool.*``).

``daemon.system.pools`` (the pool objects) and ``daemon.app.pool_configs`` (what the
model validates ``default_pool*`` against and qubes.xml stores) change together, and
every change is committed before the call is answered.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from backend.api.methods.storage_common import (
    format_lines,
    parse_bool_payload,
    parse_int_payload,
    pool_of,
)
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import (
    PermissionDenied,
    ProtocolError,
    QubesException,
    QubesPoolInUseError,
    QubesValueError,
    StoragePoolException,
)
from backend.storage.pool import (
    EPHEMERAL_PARAMETER,
    POOL_DRIVERS,
    Pool,
    create_pool,
    validate_pool_name,
)

log = logging.getLogger("backend.api")

DEFAULT_POOL_PROPS = ("default_pool", "default_pool_root", "default_pool_private",
                      "default_pool_volatile", "default_pool_kernel")


def pool_info(pool: Pool, pools: list[Pool]) -> str:
    """Sorted configuration, then the deprecated size/usage and ``included_in``."""
    info = format_lines(sorted(pool.config.items()))
    extra: list[tuple[str, object]] = [("size", pool.size), ("usage", pool.usage)]
    container = pool.included_in(pools)
    if container is not None:
        extra.append(("included_in", container.name))
    return info + format_lines((key, value) for key, value in extra if value is not None)


def parse_pool_config(payload: bytes) -> dict[str, str]:
    """``name=<pool>`` and ``<param>=<value>`` lines, each key once."""
    try:
        lines = payload.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise ProtocolError("Invalid pool configuration: not ASCII text") from None
    config: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise PermissionDenied(f"Invalid pool configuration line {line[:60]!r} "
                                   "(expected <key>=<value>)")
        if key in config:
            raise PermissionDenied(f"Pool configuration key {key!r} given twice")
        config[key] = value
    return config


def volumes_in_pool(system: Any, name: str) -> list[str]:
    return [
        f"{vm_name}:{volume.name}"
        for vm_name, storage in system.storages.items()
        for volume in storage.volumes.values()
        if volume.pool.name == name
    ]


def register(table: MethodTable, daemon: Any) -> None:
    system = daemon.system
    app = daemon.app
    adding: set[str] = set()

    def effective_defaults() -> dict[str, Any]:
        return {prop: app.globals.value_or_none(prop) for prop in DEFAULT_POOL_PROPS}

    def announce_default_changes(before: dict[str, Any]) -> None:
        """A pool added or removed can change the computed default_pool* values."""
        after = effective_defaults()
        changed = [p for p in DEFAULT_POOL_PROPS if before[p] != after[p]
                   and app.globals.is_default(p)]
        app.globals.announce(changed)

    @table.method("admin.pool.List", arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def pool_list(call: Call) -> str:
        return "".join(f"{name}\n" for name in system.pools)

    @table.method("admin.pool.ListDrivers", arg=Need.NONE, payload=Need.NONE,
                  dest=Dest.ADMINVM)
    def list_drivers(call: Call) -> str:
        return "".join(
            f"{driver} {' '.join(POOL_DRIVERS[driver].driver_parameters())}\n"
            for driver in sorted(POOL_DRIVERS)
        )

    @table.method("admin.pool.Info", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ADMINVM)
    async def info(call: Call) -> str:
        pool = pool_of(daemon, call.arg)
        return await asyncio.to_thread(pool_info, pool, list(system.pools.values()))

    @table.method("admin.pool.UsageDetails", arg=Need.REQUIRED, payload=Need.NONE,
                  dest=Dest.ADMINVM)
    async def usage_details(call: Call) -> str:
        pool = pool_of(daemon, call.arg)
        details = await asyncio.to_thread(pool.usage_details)
        return format_lines(sorted(details.items()))

    @table.method("admin.pool.volume.List", arg=Need.REQUIRED, payload=Need.NONE,
                  dest=Dest.ADMINVM)
    async def volume_list(call: Call) -> str:
        pool = pool_of(daemon, call.arg)
        vids = await asyncio.to_thread(lambda: sorted(v.vid for v in pool.volumes))
        return "".join(f"{vid}\n" for vid in vids)

    @table.method("admin.pool.Set.revisions_to_keep", arg=Need.REQUIRED,
                  payload=Need.REQUIRED, dest=Dest.ADMINVM)
    async def set_revisions_to_keep(call: Call) -> None:
        pool = pool_of(daemon, call.arg)
        value = parse_int_payload(call.payload, "revisions_to_keep")
        pool.revisions_to_keep = value  # validates (>= -1; some drivers keep none)
        app.pool_configs[pool.name] = pool.config
        await system.commit()

    @table.method("admin.pool.Set.ephemeral_volatile", arg=Need.REQUIRED,
                  payload=Need.REQUIRED, dest=Dest.ADMINVM)
    async def set_ephemeral_volatile(call: Call) -> None:
        pool = pool_of(daemon, call.arg)
        value = parse_bool_payload(call.payload, "ephemeral_volatile")
        if EPHEMERAL_PARAMETER not in pool.parameters:
            raise StoragePoolException(
                f"The {pool.driver} pool {pool.name} has no volatile volumes, so no "
                "ephemeral_volatile setting"
            )
        pool.ephemeral_volatile = value
        app.pool_configs[pool.name] = pool.config
        await system.commit()

    @table.method("admin.pool.Add", arg=Need.REQUIRED, payload=Need.REQUIRED,
                  dest=Dest.ADMINVM)
    async def add(call: Call) -> None:
        driver = call.arg
        cls = POOL_DRIVERS.get(driver)
        if cls is None:
            raise QubesException(f"unexpected driver name: {driver}")
        params = parse_pool_config(call.payload)
        name = params.pop("name", None)
        if name is None:
            raise PermissionDenied("Pool configuration without name=<pool name>")
        try:
            validate_pool_name(name)
        except QubesValueError as exc:
            raise PermissionDenied(str(exc)) from None
        if name in system.pools or name in adding:
            raise QubesPoolInUseError(f"A storage pool named {name!r} already exists")
        known = {p.name: p for p in cls.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise QubesException(f"unexpected driver options: {' '.join(unknown)} "
                                 f"(the {driver} driver accepts: {' '.join(sorted(known))})")
        missing = sorted(p.name for p in cls.parameters if p.required and p.name not in params)
        if missing:
            raise QubesException(f"missing required driver options: {' '.join(missing)}")
        check_dir_path(params.get("dir_path"))
        pool = create_pool(driver, name, **params)  # parses and validates every value
        same_dir = [p.name for p in system.pools.values()
                    if getattr(p, "dir_path", None) == getattr(pool, "dir_path", False)]
        if same_dir:
            raise QubesPoolInUseError(
                f"The directory {params['dir_path']} is already the pool {same_dir[0]!r}"
            )
        adding.add(name)
        try:
            await asyncio.to_thread(pool.setup)
        finally:
            adding.discard(name)
        before = effective_defaults()
        system.pools[name] = pool
        app.pool_configs[name] = pool.config
        app.events.fire(None, "pool-add", pool=name)
        announce_default_changes(before)
        log.info("added storage pool %s (%s)", name, driver)
        await system.commit()

    @table.method("admin.pool.Remove", arg=Need.REQUIRED, payload=Need.NONE, dest=Dest.ADMINVM)
    async def remove(call: Call) -> None:
        pool = pool_of(daemon, call.arg)
        name = pool.name
        users = volumes_in_pool(system, name)
        if users:
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            raise QubesPoolInUseError(f"Storage pool {name!r} is in use by volumes: {shown}")
        before = effective_defaults()
        props = [prop for prop, value in before.items() if value == name]
        if props:
            raise QubesPoolInUseError(
                f"Storage pool {name!r} is in use as {', '.join(props)}; "
                "set those to another pool first"
            )
        app.events.fire(None, "pool-pre-delete", pool=name)
        del system.pools[name]
        app.pool_configs.pop(name, None)
        await system.commit()
        try:
            await asyncio.to_thread(pool.destroy)
        except Exception as exc:  # noqa: BLE001 - the pool is gone from the config already
            log.warning("cleaning up the removed pool %s failed: %s", name, exc)
        app.events.fire(None, "pool-delete", pool=name)
        announce_default_changes(before)
        log.info("removed storage pool %s", name)


def check_dir_path(value: str | None) -> None:
    if value is not None and not os.path.isabs(value):
        raise QubesValueError(f"Invalid value for dir_path: {value!r} (must be an absolute path)")
