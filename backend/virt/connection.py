"""The daemon's one libvirt connection: async calls, lifecycle events, reconnection.

Every blocking libvirt call runs on a small dedicated thread pool; lifecycle events
arrive on libvirt's event-loop thread (``eventloop``) and are handed to the asyncio
loop with ``call_soon_threadsafe``. When the connection drops (libvirtd restarted: the
close callback or keepalive fires, or a call finds the connection dead) it is opened
again, the callbacks are registered again, and ``on_reconnect`` lets the model re-read
what it may have missed. Events of an abandoned connection are ignored: each
registration carries the generation of the connection it belongs to.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import libvirt

from backend.virt.domainxml.testdriver import for_test_driver
from backend.virt.errors import VirtConnectionError, VirtError, from_libvirt
from backend.virt.eventloop import ensure_event_loop
from backend.virt.states import (
    DomainStats,
    DomainStatus,
    HostInfo,
    LifecycleEvent,
    LifecycleKind,
    PowerState,
    power_state,
)
from backend.virt.stats import CpuSample, CpuUsageTracker

log = logging.getLogger("backend.virt")

T = TypeVar("T")
LifecycleHandler = Callable[[LifecycleEvent], None]
ReconnectHandler = Callable[[], Awaitable[None] | None]

TEST_DRIVER = "TEST"  # virConnectGetType() of test:///
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds; the last one repeats


class VirtConnection:
    """One libvirt connection, used from asyncio. Domains are addressed by UUID."""

    def __init__(
        self,
        uri: str,
        *,
        on_lifecycle: LifecycleHandler | None = None,
        on_reconnect: ReconnectHandler | None = None,
        workers: int = 4,
        keepalive: tuple[int, int] = (5, 3),  # interval s, unanswered probes
    ) -> None:
        self.uri = uri
        self.on_lifecycle = on_lifecycle
        self.on_reconnect = on_reconnect
        self._keepalive = keepalive
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="libvirt")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # _conn, _generation, _callback_id, _driver
        self._reconnect_lock = threading.Lock()  # one reconnect at a time
        self._conn: Any = None  # libvirt.virConnect
        self._generation = 0
        self._callback_id: int | None = None
        self._driver = ""
        self._closed = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cpu = CpuUsageTracker()
        self._cpu_lock = threading.Lock()

    # -- opening and closing -----------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        ensure_event_loop()
        await self._in_thread(self._connect_blocking)

    async def close(self) -> None:
        self._closed = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        with self._lock:
            conn, callback_id, self._conn = self._conn, self._callback_id, None
        if conn is not None:
            await self._in_thread(self._release_blocking, conn, callback_id)
        self._executor.shutdown(wait=False, cancel_futures=True)
        log.debug("libvirt connection %s closed", self.uri)

    async def __aenter__(self) -> VirtConnection:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def driver(self) -> str:
        """The hypervisor driver's name as libvirt reports it: ``Xen``, ``QEMU``, ``TEST``…"""
        return self._driver

    @property
    def generation(self) -> int:
        """How many times the connection has been opened (1 after ``open``)."""
        return self._generation

    # -- domains -----------------------------------------------------------------------

    async def define(self, xml: str) -> str:
        """Define (or redefine) a domain; returns its UUID."""

        def define(conn: Any) -> str:
            doc = for_test_driver(xml) if self._driver == TEST_DRIVER else xml
            return str(conn.defineXML(doc).UUIDString())

        return await self._call("Cannot define domain", define)

    async def undefine(self, uuid: str) -> None:
        await self._on_domain(uuid, "Cannot remove domain", lambda dom: dom.undefine())

    async def start_paused(self, uuid: str) -> None:
        def start(dom: Any) -> None:
            if self._driver == TEST_DRIVER:
                # the test driver refuses VIR_DOMAIN_START_PAUSED ("unsupported
                # flags"); start and pause at once instead (no guest code runs there)
                dom.create()
                dom.suspend()
            else:
                dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)

        await self._on_domain(uuid, "Cannot start domain", start)

    async def resume(self, uuid: str) -> None:
        await self._on_domain(uuid, "Cannot resume domain", lambda dom: dom.resume())

    async def suspend(self, uuid: str) -> None:
        """Pause the domain (libvirt's ``suspend``)."""
        await self._on_domain(uuid, "Cannot pause domain", lambda dom: dom.suspend())

    async def shutdown(self, uuid: str) -> None:
        """Ask the guest to shut down; the STOPPED event says when it has."""
        await self._on_domain(uuid, "Cannot shut down domain", lambda dom: dom.shutdown())

    async def destroy(self, uuid: str) -> None:
        await self._on_domain(uuid, "Cannot kill domain", lambda dom: dom.destroy())

    async def state(self, uuid: str) -> PowerState:
        def state(conn: Any) -> PowerState:
            try:
                dom = conn.lookupByUUIDString(uuid)
                return power_state(bool(dom.isActive()), dom.state()[0])
            except libvirt.libvirtError as err:
                if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return PowerState.HALTED
                raise

        return await self._call("Cannot get domain state", state)

    async def xml(self, uuid: str, *, inactive: bool = False) -> str:
        """The domain's XML as libvirt has it (live, or the persistent definition)."""
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0

        def xml(conn: Any) -> str:
            return str(conn.lookupByUUIDString(uuid).XMLDesc(flags))

        return await self._call(f"Cannot read the XML of domain {uuid}", xml)

    async def list_active(self) -> list[DomainStatus]:
        def list_active(conn: Any) -> list[DomainStatus]:
            result = []
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                try:
                    status = DomainStatus(
                        uuid=dom.UUIDString(),
                        name=dom.name(),
                        xid=dom.ID(),
                        power_state=power_state(bool(dom.isActive()), dom.state()[0]),
                    )
                except libvirt.libvirtError as err:
                    if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue  # stopped and vanished while we looked
                    raise
                result.append(status)
            return result

        return await self._call("Cannot list domains", list_active)

    async def stats(self) -> list[DomainStats]:
        """One sample per running domain; CPU usage is relative to the previous call."""

        def stats(conn: Any) -> list[DomainStats]:
            result = []
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                try:
                    _state, _maxmem, mem_kb, vcpus, cpu_ns = dom.info()
                    uuid, name, xid = dom.UUIDString(), dom.name(), dom.ID()
                except libvirt.libvirtError as err:
                    if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        continue
                    raise
                sample = CpuSample(cpu_time_ns=cpu_ns, wall_ns=time.monotonic_ns())
                with self._cpu_lock:
                    usage = self._cpu.update(uuid, xid, sample, vcpus)
                result.append(
                    DomainStats(
                        uuid=uuid,
                        name=name,
                        xid=xid,
                        memory_kb=mem_kb,
                        cpu_time=cpu_ns // 1_000_000,
                        cpu_usage=usage,
                        online_vcpus=vcpus,
                    )
                )
            with self._cpu_lock:
                self._cpu.keep_only({(s.uuid, s.xid) for s in result})
            return result

        return await self._call("Cannot read domain statistics", stats)

    async def host_info(self) -> HostInfo:
        def host_info(conn: Any) -> HostInfo:
            info = conn.getInfo()  # model, memory MiB, cpus, MHz, nodes, sockets, ...
            return HostInfo(memory_total_mib=info[1], cpu_count=info[2])

        return await self._call("Cannot read host information", host_info)

    # -- calling libvirt ---------------------------------------------------------------

    async def attach_device(self, uuid: str, xml: str) -> None:
        """Hot-plug a device (``<interface>``, ``<disk>``…) into the running domain."""
        live = libvirt.VIR_DOMAIN_AFFECT_LIVE
        await self._on_domain(uuid, "Cannot attach a device to domain",
                              lambda dom: dom.attachDeviceFlags(xml, live))

    async def detach_device(self, uuid: str, xml: str) -> None:
        live = libvirt.VIR_DOMAIN_AFFECT_LIVE
        await self._on_domain(uuid, "Cannot detach a device from domain",
                              lambda dom: dom.detachDeviceFlags(xml, live))

    async def pm_suspend(self, uuid: str) -> None:
        """Suspend to RAM (S3), as the guest's power management does it."""
        await self._on_domain(uuid, "Cannot suspend domain",
                              lambda dom: dom.pMSuspendForDuration(
                                  libvirt.VIR_NODE_SUSPEND_TARGET_MEM, 0, 0))

    async def pm_wakeup(self, uuid: str) -> None:
        await self._on_domain(uuid, "Cannot wake up domain", lambda dom: dom.pMWakeup(0))

    async def info(self, uuid: str) -> tuple[int, int, int, int]:
        """(maximum memory KiB, current memory KiB, vCPUs, CPU time ns) of a domain."""

        def read(conn: Any) -> tuple[int, int, int, int]:
            _state, max_kb, mem_kb, vcpus, cpu_ns = conn.lookupByUUIDString(uuid).info()
            return int(max_kb), int(mem_kb), int(vcpus), int(cpu_ns)

        return await self._call(f"Cannot read the state of domain {uuid}", read)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def _call(self, action: str, fn: Callable[[Any], T]) -> T:
        if self._closed:
            raise VirtConnectionError(f"The libvirt connection {self.uri} is closed")
        return await self._in_thread(self._call_blocking, action, fn)

    async def _on_domain(self, uuid: str, action: str, fn: Callable[[Any], object]) -> None:
        def on_domain(conn: Any) -> None:
            fn(conn.lookupByUUIDString(uuid))

        await self._call(f"{action} {uuid}", on_domain)

    def _call_blocking(self, action: str, fn: Callable[[Any], T]) -> T:
        conn, generation = self._current()
        try:
            return fn(conn)
        except libvirt.libvirtError as err:
            if _alive(conn):
                raise from_libvirt(err, action) from err
            log.warning("libvirt connection lost (%s); reconnecting", err.get_error_message())
        conn = self._reconnect_blocking(generation)
        try:
            return fn(conn)
        except libvirt.libvirtError as err:
            raise from_libvirt(err, action) from err

    def _current(self) -> tuple[Any, int]:
        if self._closed:
            raise VirtConnectionError(f"The libvirt connection {self.uri} is closed")
        with self._lock:
            conn, generation = self._conn, self._generation
        if conn is None:  # an earlier reconnect failed; try again now
            return self._reconnect_blocking(generation), self._generation
        return conn, generation

    # -- (re)connecting, on worker threads ---------------------------------------------

    def _connect_blocking(self) -> None:
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as err:
            raise VirtConnectionError(
                f"Cannot connect to libvirt at {self.uri}: {err.get_error_message()}",
                code=err.get_error_code(),
                libvirt_message=err.get_error_message(),
            ) from err
        with self._lock:
            generation = self._generation + 1
        try:
            try:
                conn.setKeepAlive(*self._keepalive)
            except libvirt.libvirtError:
                pass  # local drivers (test, and xen in-process) have no keepalive
            conn.registerCloseCallback(self._on_close, generation)
            callback_id = conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, generation
            )
            driver = conn.getType()
        except libvirt.libvirtError as err:
            self._release_blocking(conn, None)
            raise VirtConnectionError(
                f"Cannot set up the libvirt connection {self.uri}: {err.get_error_message()}",
                code=err.get_error_code(),
                libvirt_message=err.get_error_message(),
            ) from err
        if self._closed:  # close() ran while we were connecting
            self._release_blocking(conn, callback_id)
            raise VirtConnectionError(f"The libvirt connection {self.uri} is closed")
        with self._lock:
            self._conn, self._callback_id = conn, callback_id
            self._generation, self._driver = generation, driver
        log.debug("libvirt connection %s open (driver %s, #%d)", self.uri, driver, generation)

    def _reconnect_blocking(self, seen_generation: int) -> Any:
        with self._reconnect_lock:
            with self._lock:
                if self._generation != seen_generation and self._conn is not None:
                    return self._conn  # another thread has reconnected already
                old, old_callback, self._conn = self._conn, self._callback_id, None
            if old is not None:
                self._release_blocking(old, old_callback)
            if self._closed:
                raise VirtConnectionError(f"The libvirt connection {self.uri} is closed")
            try:
                self._connect_blocking()
            except VirtConnectionError:
                self._post(self._ensure_reconnect_task)
                raise
            log.info("libvirt connection %s re-established", self.uri)
            self._post(self._fire_reconnect)
            return self._conn

    @staticmethod
    def _release_blocking(conn: Any, callback_id: int | None) -> None:
        # each step may fail on a dead connection; none of that matters any more
        for step in (
            lambda: conn.domainEventDeregisterAny(callback_id) if callback_id is not None else 0,
            conn.unregisterCloseCallback,
            conn.close,
        ):
            try:
                step()
            except Exception as err:  # a dead connection fails in any way
                log.debug("releasing a libvirt connection: %s", err)

    # -- libvirt event-loop thread -----------------------------------------------------

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, generation: int) -> None:
        if generation != self._generation or self._closed:
            return
        try:
            kind = LifecycleKind(event)
        except ValueError:
            log.debug("ignoring unknown lifecycle event %d", event)
            return
        self._post(self._dispatch, LifecycleEvent(dom.UUIDString(), dom.name(), kind, detail))

    def _on_close(self, _conn: Any, reason: int, generation: int) -> None:
        if generation != self._generation or self._closed:
            return
        log.warning("libvirt closed the connection %s (reason %d)", self.uri, reason)
        self._post(self._ensure_reconnect_task)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass  # the asyncio loop is closed: the daemon is going away

    # -- asyncio loop thread -----------------------------------------------------------

    def _dispatch(self, event: LifecycleEvent) -> None:
        log.debug("lifecycle %s %s (detail %d)", event.name, event.kind.name, event.detail)
        if self.on_lifecycle is not None:
            try:
                self.on_lifecycle(event)
            except Exception:
                log.exception("lifecycle handler failed on %s", event)

    def _fire_reconnect(self) -> None:
        if self.on_reconnect is None or self._closed:
            return
        try:
            result = self.on_reconnect()
        except Exception:
            log.exception("reconnect handler failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _ensure_reconnect_task(self) -> None:
        if self._closed or (self._reconnect_task is not None and not self._reconnect_task.done()):
            return
        self._reconnect_task = asyncio.ensure_future(self._reconnect_loop(self._generation))

    async def _reconnect_loop(self, generation: int) -> None:
        attempt = 0
        while not self._closed:
            try:
                await self._in_thread(self._reconnect_blocking, generation)
                return
            except VirtError as err:
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                log.warning("%s; retrying in %.1f s", err, delay)
                attempt += 1
                await asyncio.sleep(delay)


def _alive(conn: Any) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False
