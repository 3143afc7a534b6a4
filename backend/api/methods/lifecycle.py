"""Admin API methods: qube lifecycle (admin-api.md §1.7 "Lifecycle", §2.1).

``admin.vm.Start``, ``Shutdown[+force][+wait]``, ``Kill``, ``Pause``, ``Unpause``,
``Suspend``, ``Resume``, ``CurrentState``, ``Console``, ``CreateDisposable[+preload]``
and the ``admin.vm.Stats`` stream. Each call returns once the operation has completed
or failed; the work is done by ``daemon.lifecycle``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from backend.api.registry import Call, Dest, Event, MethodTable, Need
from backend.errors import PermissionDenied, QubesValueError

SHUTDOWN_FLAGS = ("force", "wait")


def parse_shutdown_arg(arg: str) -> tuple[bool, bool]:
    """``force``, ``wait``, ``force+wait`` (any order, each once) → (force, wait)."""
    flags = arg.split("+") if arg else []
    if any(flag not in SHUTDOWN_FLAGS for flag in flags) or len(set(flags)) != len(flags):
        raise PermissionDenied(
            f"admin.vm.Shutdown: invalid argument {arg!r}; expected force, wait or force+wait"
        )
    return "force" in flags, "wait" in flags


def parse_disposable_request(arg: str, payload: bytes) -> tuple[bool, bool]:
    """(preload, answer with ``uuid:``) from CreateDisposable's argument and payload."""
    if arg not in ("", "preload"):
        raise PermissionDenied(
            f"admin.vm.CreateDisposable: invalid argument {arg!r}; expected none or preload"
        )
    if payload not in (b"", b"uuid"):
        raise QubesValueError(
            "Invalid payload for admin.vm.CreateDisposable: expected nothing or 'uuid'"
        )
    return arg == "preload", payload == b"uuid"


def register(table: MethodTable, daemon: Any) -> None:
    """Add this area's handlers to table."""
    life = daemon.lifecycle

    @table.method("admin.vm.Start", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def start(call: Call) -> None:
        await life.start_vm(call.dest)

    @table.method("admin.vm.Shutdown", arg=Need.OPTIONAL, payload=Need.NONE, dest=Dest.ANY)
    async def shutdown(call: Call) -> None:
        force, wait = parse_shutdown_arg(call.arg)
        await life.shutdown_vm(call.dest, force=force, wait=wait)

    @table.method("admin.vm.Kill", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def kill(call: Call) -> None:
        await life.kill_vm(call.dest)

    @table.method("admin.vm.Pause", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def pause(call: Call) -> None:
        await life.pause_vm(call.dest)

    @table.method("admin.vm.Unpause", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def unpause(call: Call) -> None:
        await life.unpause_vm(call.dest)

    @table.method("admin.vm.Suspend", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def suspend(call: Call) -> None:
        await life.suspend_vm(call.dest)

    @table.method("admin.vm.Resume", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def resume(call: Call) -> None:
        await life.resume_vm(call.dest)

    @table.method("admin.vm.CurrentState", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def current_state(call: Call) -> str:
        result: str = await life.current_state(call.dest)
        return result

    @table.method("admin.vm.Console", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    async def console(call: Call) -> str:
        result: str = await life.console_path(call.dest)
        return result

    @table.method(
        "admin.vm.CreateDisposable", arg=Need.OPTIONAL, payload=Need.OPTIONAL, dest=Dest.ANY
    )
    async def create_disposable(call: Call) -> str | None:
        preload, want_uuid = parse_disposable_request(call.arg, call.payload)
        if preload:
            await life.preload_disposables(call.source, call.dest)
            return None
        vm = await life.create_disposable(call.source, call.dest)
        return f"uuid:{vm.uuid}" if want_uuid else str(vm.name)

    @table.method("admin.vm.Stats", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def vm_stats(call: Call) -> AsyncIterator[Event]:
        stream: AsyncIterator[Event] = life.stats_stream(call.source, call.dest)
        return stream
