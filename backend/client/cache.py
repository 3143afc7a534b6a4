"""``SystemCache``: the qubes, labels and global properties, kept current by events.

Startup follows DESIGN.md: the event stream is opened first, and the load runs when
its ``connection-established`` arrives, so no change is missed; events that arrive
meanwhile wait in a queue and are applied after the load, in order. Each later
``connection-established`` (a reconnect) triggers a reconcile: everything is read
again and only what differs is reported. Between those, every event updates only
what it concerns (``transitions``); a property event re-reads that one property.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from backend import errors
from backend.client import loader, transitions
from backend.client.client import AdminClient
from backend.client.listener import CacheListener
from backend.client.model import (
    LabelInfo,
    PropertyValue,
    QubeSnapshot,
    SystemData,
    VolumeInfo,
)
from backend.client.systemload import load_system
from backend.client.transitions import EventKind
from backend.protocol import EventRecord, QubesDaemonCommunicationError

log = logging.getLogger("backend.client")

_PropertyKey = tuple[str | None, str]


class SystemCache:
    """The system as the GUI sees it. All methods run on one event loop.

    ``features``: the feature names views need; None loads every feature. With the
    upstream per-qube calls each loaded feature costs a call, so windows name theirs;
    our daemon's bulk method returns them all at once anyway.
    """

    def __init__(self, client: AdminClient, *, features: Collection[str] | None = None,
                 bulk: bool = True) -> None:
        self.client = client
        self.wanted_features = None if features is None else frozenset(features)
        self.use_bulk = bulk
        #: None until tried: whether the daemon offers the bulk method
        self.bulk_supported: bool | None = None
        self.connected = False
        self._qubes: dict[str, QubeSnapshot] = {}
        self._labels: dict[str, LabelInfo] = {}
        self._globals: dict[str, PropertyValue] = {}
        self._listeners: list[CacheListener] = []
        self._queue: asyncio.Queue[EventRecord] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loaded: asyncio.Future[None] | None = None
        self._has_loaded = False
        self._backlog: dict[str, list[EventRecord]] = {}
        self._details_tasks: set[asyncio.Task[Any]] = set()
        self._details_idle = asyncio.Event()
        self._property_tasks: dict[_PropertyKey, asyncio.Task[None]] = {}
        self._property_dirty: set[_PropertyKey] = set()
        self._volume_generation: dict[str, int] = {}
        self._volume_tasks: dict[str, asyncio.Task[Mapping[str, VolumeInfo]]] = {}
        self._label_tasks: set[str] = set()

    # --- reading -----------------------------------------------------------------
    @property
    def qubes(self) -> Mapping[str, QubeSnapshot]:
        """Every qube by name (a read-only live view; the snapshots never change)."""
        return MappingProxyType(self._qubes)

    def get(self, name: str) -> QubeSnapshot | None:
        return self._qubes.get(name)

    @property
    def labels(self) -> Mapping[str, LabelInfo]:
        return MappingProxyType(self._labels)

    def label_of(self, qube: QubeSnapshot) -> LabelInfo | None:
        return None if qube.label is None else self._labels.get(qube.label)

    @property
    def global_properties(self) -> Mapping[str, PropertyValue]:
        return MappingProxyType(self._globals)

    @property
    def is_loaded(self) -> bool:
        return self._has_loaded

    # --- listeners ---------------------------------------------------------------
    def add_listener(self, listener: CacheListener) -> Callable[[], None]:
        """Register ``listener``; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _emit(self, callback: str, *args: Any) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, callback)(*args)
            except Exception:  # one broken view must not stop the cache
                log.exception("cache listener %r failed in %s", listener, callback)

    # --- running -----------------------------------------------------------------
    async def start(self) -> None:
        """Open the event stream and load; returns once the qubes and properties are in.

        Features and tags follow in the background (:meth:`wait_details`). Raises the
        error of a failed first connection or load; the cache is then closed.
        """
        if self._loaded is not None:
            raise RuntimeError("the cache was started already")
        self._loaded = asyncio.get_running_loop().create_future()
        self._spawn(self._read(), "events reader")
        self._spawn(self._process(), "events processor")
        await asyncio.shield(self._loaded)

    async def wait_details(self) -> None:
        """Wait until features and tags of every qube are loaded."""
        await self._details_idle.wait()

    async def close(self) -> None:
        """Stop following events and cancel every task of the cache."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"cache: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("cache task %s failed", task.get_name(), exc_info=task.exception())

    def _fail_start(self, exc: BaseException) -> None:
        if self._loaded is not None and not self._loaded.done():
            self._loaded.set_exception(exc)
            for task in list(self._tasks):
                task.cancel()

    async def _read(self) -> None:
        async for record in self.client.events(on_disconnect=self._on_disconnect):
            self._queue.put_nowait(record)

    def _on_disconnect(self, problem: BaseException | None) -> None:
        if not self._has_loaded:
            self._fail_start(problem or QubesDaemonCommunicationError(
                "qubesd closed the event stream"))
            return
        if self.connected:
            self.connected = False
            self._emit("connection_changed", False)

    async def _process(self) -> None:
        while True:
            record = await self._queue.get()
            try:
                await self._handle(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._has_loaded:
                    self._fail_start(exc)
                    return
                log.exception("handling %s of %s failed", record.event, record.subject)

    # --- events ------------------------------------------------------------------
    async def _handle(self, record: EventRecord) -> None:
        kind = transitions.classify(record)
        subject = record.subject
        if kind is EventKind.CONNECTED:
            await (self._reconcile() if self._has_loaded else self._first_load())
        elif kind is EventKind.QUBE_ADDED:
            name = record.kwargs.get("vm", "")
            if name and name not in self._qubes:
                await self._add_qube(name)
        elif kind is EventKind.QUBE_REMOVED:
            self._remove_qube(record.kwargs.get("vm", ""))
        elif kind is EventKind.PROPERTY:
            self._refresh_property(subject, transitions.event_argument(record.event))
        elif subject is None or subject not in self._qubes:
            return  # a qube still being created (domain-add comes later) or gone
        elif kind in (EventKind.FEATURE, EventKind.TAG):
            if subject in self._backlog:
                self._backlog[subject].append(record)  # applied after its details load
            else:
                self._set(self._apply_detail(self._qubes[subject], record))
        elif kind is EventKind.POWER:
            if record.event == "domain-shutdown":
                self._bump_volumes(subject)
            self._set(transitions.apply_power(self._qubes[subject], record.event))
        elif kind is EventKind.VOLUMES:
            self.invalidate_volumes(subject)

    @staticmethod
    def _apply_detail(snapshot: QubeSnapshot, record: EventRecord) -> QubeSnapshot:
        if record.event.startswith("domain-feature-"):
            return transitions.apply_feature(snapshot, record)
        return transitions.apply_tag(snapshot, record)

    def _set(self, new: QubeSnapshot) -> None:
        old = self._qubes.get(new.name)
        if old is None or old == new:
            return
        self._qubes[new.name] = new
        self._emit("qube_changed", old, new)
        if new.label is not None and new.label not in self._labels:
            self._fetch_label(new.label)

    # --- loading -----------------------------------------------------------------
    async def _load(self) -> SystemData:
        bulk_allowed = self.use_bulk and self.bulk_supported is not False
        data = await load_system(self.client, bulk_allowed=bulk_allowed)
        if self.use_bulk:
            self.bulk_supported = data.details_included
        return data

    async def _first_load(self) -> None:
        data = await self._load()
        self._qubes = dict(data.qubes)
        self._labels = dict(data.labels)
        self._globals = dict(data.global_properties)
        self._has_loaded = True
        self.connected = True
        log.debug("loaded %d qubes", len(self._qubes))
        self._emit("labels_changed")
        self._emit("loaded")
        assert self._loaded is not None
        if not self._loaded.done():
            self._loaded.set_result(None)
        self._after_load(data)

    def _after_load(self, data: SystemData) -> None:
        if data.details_included:
            self._details_idle.set()
            self._emit("details_loaded")
        else:
            self._details_idle.clear()
            self._load_details(list(self._qubes), full_pass=True)

    async def _reconcile(self) -> None:
        """After a reconnect: read everything again, report only the differences."""
        for task in [*self._property_tasks.values(), *self._details_tasks]:
            task.cancel()
        self._property_tasks.clear()
        self._property_dirty.clear()
        self._details_tasks.clear()
        self._backlog.clear()
        data = await self._load()
        old_qubes = self._qubes
        for name in [n for n in old_qubes if n not in data.qubes]:
            self._remove_qube(name)
        for name, fresh in data.qubes.items():
            self._bump_volumes(name)
            old = self._qubes.get(name)
            if old is None:
                self._qubes[name] = fresh
                self._emit("qube_added", fresh)
                continue
            if not data.details_included:  # keep what we knew until the details arrive
                fresh = replace(fresh, features=old.features, tags=old.tags)
            self._set(fresh)
        if data.labels != self._labels:
            self._labels = dict(data.labels)
            self._emit("labels_changed")
        old_globals, self._globals = self._globals, dict(data.global_properties)
        for name in sorted(old_globals.keys() | self._globals.keys()):
            if old_globals.get(name) != self._globals.get(name):
                self._emit("global_property_changed", name, old_globals.get(name),
                           self._globals.get(name))
        self.connected = True
        log.debug("reconciled %d qubes", len(self._qubes))
        self._emit("connection_changed", True)
        self._after_load(data)

    async def _add_qube(self, name: str) -> None:
        try:
            entries = await loader.fetch_list(self.client, name)
            properties = await loader.fetch_properties(self.client, name)
        except errors.QubesVMNotFoundError:
            return  # removed again already
        entry = entries.get(name)
        if entry is None or name in self._qubes:
            return
        snapshot = QubeSnapshot(name, entry.klass, entry.state, entry.uuid,
                                MappingProxyType(properties))
        self._qubes[name] = snapshot
        self._emit("qube_added", snapshot)
        if snapshot.label is not None and snapshot.label not in self._labels:
            self._fetch_label(snapshot.label)
        self._load_details([name], full_pass=False)

    def _remove_qube(self, name: str) -> None:
        snapshot = self._qubes.pop(name, None)
        self._backlog.pop(name, None)
        self._volume_generation.pop(name, None)
        if snapshot is not None:
            self._emit("qube_removed", snapshot)

    # --- features and tags ---------------------------------------------------------
    def _load_details(self, names: Iterable[str], *, full_pass: bool) -> None:
        names = list(names)
        for name in names:
            self._backlog[name] = []
        task = self._spawn(self._details(names, full_pass), "features and tags")
        self._details_tasks.add(task)
        task.add_done_callback(self._details_tasks.discard)

    async def _details(self, names: list[str], full_pass: bool) -> None:
        await asyncio.gather(*(self._details_of(name) for name in names))
        if full_pass:
            self._details_idle.set()
            self._emit("details_loaded")

    async def _details_of(self, name: str) -> None:
        features: Mapping[str, str] | None = None
        tags: frozenset[str] | None = None
        try:
            features = MappingProxyType(
                await loader.fetch_features(self.client, name, self.wanted_features))
        except (*loader.REFUSED, errors.QubesVMNotFoundError):
            pass
        try:
            tags = await loader.fetch_tags(self.client, name)
        except (*loader.REFUSED, errors.QubesVMNotFoundError):
            pass
        backlog = self._backlog.pop(name, [])
        snapshot = self._qubes.get(name)
        if snapshot is None:
            return
        new = replace(snapshot,
                      features=features if features is not None else snapshot.features,
                      tags=tags if tags is not None else snapshot.tags)
        for record in backlog:
            new = self._apply_detail(new, record)
        self._set(new)

    # --- properties ----------------------------------------------------------------
    def _refresh_property(self, qube: str | None, name: str) -> None:
        """Re-read one property; at most one read per property is in flight."""
        if qube is not None and qube not in self._qubes:
            return
        key = (qube, name)
        if key in self._property_tasks:
            self._property_dirty.add(key)  # read again when the current read returns
            return
        self._property_tasks[key] = self._spawn(self._read_property(key), f"property {key}")

    async def _read_property(self, key: _PropertyKey) -> None:
        qube, name = key
        try:
            while True:
                self._property_dirty.discard(key)
                value = await loader.fetch_property(self.client, qube, name)
                self._apply_property(qube, name, value)
                if key not in self._property_dirty:
                    return
        except errors.QubesVMNotFoundError:
            pass
        except (QubesDaemonCommunicationError, errors.QubesException) as exc:
            log.warning("cannot read property %s of %s: %s", name, qube or "the system", exc)
        finally:
            if self._property_tasks.get(key) is asyncio.current_task():
                del self._property_tasks[key]

    def _apply_property(self, qube: str | None, name: str, value: PropertyValue | None) -> None:
        if qube is None:
            old = self._globals.get(name)
            if old == value:
                return
            if value is None:
                self._globals.pop(name, None)
            else:
                self._globals[name] = value
            self._emit("global_property_changed", name, old, value)
            return
        snapshot = self._qubes.get(qube)
        if snapshot is not None:
            self._set(snapshot.with_property(name, value))

    # --- labels --------------------------------------------------------------------
    def _fetch_label(self, name: str) -> None:
        if name in self._label_tasks:
            return
        self._label_tasks.add(name)
        self._spawn(self._read_label(name), f"label {name}")

    async def _read_label(self, name: str) -> None:
        try:
            label = await loader.fetch_label(self.client, name)
        finally:
            self._label_tasks.discard(name)
        if label is not None:
            self._labels[name] = label
            self._emit("labels_changed")

    # --- volumes -------------------------------------------------------------------
    async def load_volumes(self, name: str, *, refresh: bool = False) -> Mapping[str, VolumeInfo]:
        """The volumes of a qube, read on first request and cached until invalidated.

        Concurrent requests share one read. Raises QubesVMNotFoundError for an
        unknown qube, and what the daemon answered if the read fails.
        """
        snapshot = self._qubes.get(name)
        if snapshot is None:
            raise errors.QubesVMNotFoundError(name)
        if snapshot.volumes is not None and not refresh:
            return snapshot.volumes
        task = self._volume_tasks.get(name)
        if task is None:
            generation = self._volume_generation.get(name, 0)
            task = self._spawn(self._read_volumes(name, generation), f"volumes of {name}")
            self._volume_tasks[name] = task
        return await asyncio.shield(task)

    async def _read_volumes(self, name: str, generation: int) -> Mapping[str, VolumeInfo]:
        try:
            volumes = MappingProxyType(await loader.fetch_volumes(self.client, name))
        finally:
            self._volume_tasks.pop(name, None)
        snapshot = self._qubes.get(name)
        if snapshot is not None and self._volume_generation.get(name, 0) == generation:
            self._set(snapshot.with_volumes(volumes))
        return volumes

    def invalidate_volumes(self, name: str) -> None:
        """Forget a qube's volume information (read again on the next request)."""
        self._bump_volumes(name)
        snapshot = self._qubes.get(name)
        if snapshot is not None and snapshot.volumes is not None:
            self._set(snapshot.with_volumes(None))

    def _bump_volumes(self, name: str) -> None:
        self._volume_generation[name] = self._volume_generation.get(name, 0) + 1
