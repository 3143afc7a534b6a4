"""The daemon's state: the qubes model, its storage and its store, kept in step.

The model is touched only on the event loop's thread; storage work that touches the
disk runs in worker threads (``asyncio.to_thread``); every change a client is told
about is on disk first (``commit``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.errors import QubesException, QubesValueError, StoreError
from backend.model.app import HostInfo, KernelInfo, Qubes
from backend.model.persist import domain_record, from_document, to_document
from backend.model.vm import AdminVM, BaseVM
from backend.storage import fileops
from backend.storage.config import VolumeConfig
from backend.storage.defaults import STANDARD_VOLUMES, default_volume_configs
from backend.storage.kernels import installed_kernels
from backend.storage.pool import Pool, create_pool
from backend.storage.vmstorage import VMStorage
from backend.store.document import Core3Document, DomainRecord
from backend.store.store import Store
from backend.store.writer import StoreWriter

log = logging.getLogger("backend.system")

STORE_NAME = "qubes.xml"
DEFAULT_POOL = "varlibqubes"
KERNEL_POOL = "linux-kernel"
KERNELS_DIR = "vm-kernels"
NOTES_FILE = "notes.txt"


def read_kernels(kernels_dir: Path) -> dict[str, KernelInfo]:
    """What the model needs to know about each installed kernel (read once)."""
    kernels: dict[str, KernelInfo] = {}
    if not kernels_dir.is_dir():
        return kernels
    for name in installed_kernels(str(kernels_dir)):
        kdir = kernels_dir / name

        def text(filename: str, kdir: Path = kdir) -> str | None:
            try:
                return (kdir / filename).read_text().strip()
            except OSError:
                return None

        kernels[name] = KernelInfo(
            name,
            kernelopts_common=text("default-kernelopts-common.txt"),
            kernelopts_pci=text("default-kernelopts-pci.txt") or "",
            kernelopts_nopci=text("default-kernelopts-nopci.txt"),
            has_modules=(kdir / "modules.img").exists(),
        )
    return kernels


class System:
    """Model + pools + per-qube storage + store. Build it with :meth:`open`."""

    def __init__(
        self,
        state_dir: Path,
        app: Qubes,
        pools: dict[str, Pool],
        store: Store,
        writer: StoreWriter,
    ) -> None:
        self.state_dir = state_dir
        self.app = app
        self.pools = pools
        self.store = store
        self.writer = writer
        self.storages: dict[str, VMStorage] = {}
        self._records: dict[int, tuple[BaseVM, DomainRecord]] = {}
        self.app.events.subscribe(self._on_event)

    # --- opening -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        host: HostInfo | None = None,
        initial: Any = None,
    ) -> System:
        """Load ``qubes.xml`` from ``state_dir``, or create a new system there.

        ``initial(system)`` fills a brand-new system (e.g. the demo qubes); it is not
        called when the store already exists. A damaged store raises StoreError and
        is left untouched.
        """
        state = Path(state_dir)
        state.mkdir(parents=True, exist_ok=True)
        store = Store(state / STORE_NAME)
        try:
            doc = store.load()
            kernels = read_kernels(state / KERNELS_DIR)
            if doc is None:
                app = cls._new_app(state, host, kernels)
            else:
                try:
                    app = from_document(doc, host=host, kernels=kernels)
                except QubesException as exc:
                    raise StoreError(store.path, str(exc)) from None
        except BaseException:
            store.close()
            raise
        pools = {name: create_pool(**config) for name, config in app.pool_configs.items()}
        system = cls(state, app, pools, store, StoreWriter(store))
        for vm in app.domains:
            if not isinstance(vm, AdminVM):
                system.storages[vm.name] = system._load_storage(vm)
        if doc is None:
            for pool in pools.values():
                pool.setup()
            if initial is not None:
                initial(system)
            system.store.save(system.document())
        return system

    @staticmethod
    def _new_app(state: Path, host: HostInfo | None, kernels: dict[str, KernelInfo]) -> Qubes:
        app = Qubes(host=host, kernels=kernels)
        app.create_adminvm()
        state.mkdir(parents=True, exist_ok=True)
        reflink = fileops.reflink_supported(str(state))
        app.pool_configs[DEFAULT_POOL] = {
            "name": DEFAULT_POOL,
            "driver": "file-reflink",
            "dir_path": str(state),
            "revisions_to_keep": "1",
            "setup_check": "True" if reflink else "False",
        }
        (state / KERNELS_DIR).mkdir(exist_ok=True)
        app.pool_configs[KERNEL_POOL] = {
            "name": KERNEL_POOL,
            "driver": "linux-kernel",
            "dir_path": str(state / KERNELS_DIR),
        }
        app.globals.set("default_pool_kernel", KERNEL_POOL)
        return app

    def close(self) -> None:
        self.writer.close()
        self.store.close()

    # --- documents and commits ----------------------------------------------------------
    def document(self) -> Core3Document:
        """The current state as a document; per-qube records are cached and rebuilt
        only for qubes that changed since (any event about a qube, or :meth:`touch`)."""
        self.app.pool_configs = {name: pool.config for name, pool in self.pools.items()}
        return to_document(self.app, self._record)

    def touch(self, vm: BaseVM) -> None:
        """Mark ``vm``'s record stale after a change that fires no event (storage)."""
        self._records.pop(id(vm), None)

    def _record(self, vm: BaseVM) -> DomainRecord:
        cached = self._records.get(id(vm))
        if cached is not None and cached[0] is vm:
            return cached[1]
        storage = self.storages.get(vm.name)
        if storage is not None:
            vm.volume_config = {
                name: config.to_attrs() for name, config in storage.configs().items()
            }
        record = domain_record(vm)
        self._records[id(vm)] = (vm, record)
        return record

    async def commit(self) -> None:
        """Write the current state; returns once it is durably on disk."""
        await self.writer.commit(self.document())

    def refresh_kernels(self) -> None:
        self.app.set_kernels(read_kernels(self.state_dir / KERNELS_DIR))

    # --- per-qube storage -------------------------------------------------------------
    def qube_dir(self, vm: BaseVM) -> Path:
        return self.state_dir / vm.DIR_PREFIX / vm.name

    def storage(self, vm: BaseVM) -> VMStorage:
        try:
            return self.storages[vm.name]
        except KeyError:
            raise QubesValueError(f"{vm.name} has no volumes") from None

    def _load_storage(self, vm: Any) -> VMStorage:
        if vm.volume_config:
            configs = [VolumeConfig.from_attrs(attrs) for attrs in vm.volume_config.values()]
            return VMStorage(vm.name, vm.DIR_PREFIX, self.pools, configs)
        return self.new_storage(vm)

    def _template_chain(self, vm: Any) -> list[Mapping[str, VolumeConfig]]:
        chain: list[Mapping[str, VolumeConfig]] = []
        template = vm.template
        while template is not None:
            chain.append(self.storage(template).configs())
            template = template.template
        return chain

    def new_storage(
        self, vm: Any, pool: str | None = None, pools: Mapping[str, str] | None = None
    ) -> VMStorage:
        chosen = {
            name: pool or self.app.globals.get(f"default_pool_{name}")
            for name in STANDARD_VOLUMES
        }
        if pool is not None:
            chosen["kernel"] = self.app.globals.get("default_pool_kernel")
        chosen.update(pools or {})
        for name in chosen.values():
            if name not in self.pools:
                raise QubesValueError(f"No such storage pool: {name!r}")
        configs = default_volume_configs(
            vm.klass,
            pools=chosen,
            template_chain=self._template_chain(vm),
            kernel=vm.get("kernel") or None,
        )
        return VMStorage(vm.name, vm.DIR_PREFIX, self.pools, configs)

    # --- creation and removal ----------------------------------------------------------
    async def create_vm(
        self,
        klass: str,
        name: str,
        label: Any,
        template: Any = None,
        properties: dict[str, Any] | None = None,
        pool: str | None = None,
        pools: Mapping[str, str] | None = None,
    ) -> Any:
        """Create a qube: model first (``domain-add``), then its volumes, then commit.

        If the volumes cannot be created the qube is removed again, so nothing is
        left half made.
        """
        vm = self.app.add_new_vm(klass, name, label, template=template, properties=properties)
        return await self._create_on_disk(vm, pool, pools)

    async def create_dispvm(self, template: Any, *, auto_cleanup: bool = True) -> Any:
        vm = self.app.create_dispvm(template, auto_cleanup=auto_cleanup)
        return await self._create_on_disk(vm)

    async def _create_on_disk(
        self, vm: Any, pool: str | None = None, pools: Mapping[str, str] | None = None
    ) -> Any:
        try:
            storage = self.new_storage(vm, pool, pools)
            await asyncio.to_thread(storage.create)
        except BaseException:
            self._forget(vm)
            raise
        self.storages[vm.name] = storage
        vm.fire("domain-create-on-disk")
        await self.commit()
        return vm

    def _forget(self, vm: Any) -> None:
        """Take a qube whose creation failed out of the model again."""
        if vm.name in self.app.domains:
            self.app.events.fire(None, "domain-pre-delete", vm=vm)
            self.app.domains.remove(vm)
            self.app.events.fire(None, "domain-delete", vm=vm)

    async def remove_vm(self, vm: Any) -> None:
        """Remove a halted, unused qube and its files (refused before anything changes)."""
        self.app.check_remove(vm)
        storage = self.storages.pop(vm.name, None)
        qube_dir = self.qube_dir(vm)
        self.app.remove_vm(vm)
        await self.commit()
        if storage is not None:
            await asyncio.to_thread(storage.remove)
        await asyncio.to_thread(shutil.rmtree, qube_dir, True)
        vm.fire("domain-remove-from-disk")

    # --- notes ----------------------------------------------------------------------------
    def read_notes(self, vm: BaseVM) -> str:
        try:
            return (self.qube_dir(vm) / NOTES_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def write_notes(self, vm: BaseVM, text: str) -> None:
        qdir = self.qube_dir(vm)
        qdir.mkdir(parents=True, exist_ok=True)
        tmp = qdir / (NOTES_FILE + "~")
        with open(tmp, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, qdir / NOTES_FILE)
        fd = os.open(qdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the rename must survive a crash too
        finally:
            os.close(fd)

    # --- keeping storage in step with the model --------------------------------------------
    def _on_event(self, subject: Any, event: str, kwargs: dict[str, Any]) -> None:
        if subject is None:
            if "vm" in kwargs:  # domain-add / domain-delete
                self._records.pop(id(kwargs["vm"]), None)
            return
        self._records.pop(id(subject), None)
        if subject.name not in self.storages:
            return
        if event == "property-set:template":
            self._reinit_snapshots(subject)
        elif event in ("property-set:kernel", "property-reset:kernel"):
            self._update_kernel_volume(subject)

    def _reinit_snapshots(self, vm: Any) -> None:
        storage = self.storages[vm.name]
        fresh = default_volume_configs(
            vm.klass,
            pools={n: c.pool or "" for n, c in storage.configs().items()},
            template_chain=self._template_chain(vm),
            kernel=vm.get("kernel") or None,
        )
        for name, config in storage.configs().items():
            if config.snap_on_start and name in fresh:
                storage.set_volume_config(fresh[name])

    def _update_kernel_volume(self, vm: Any) -> None:
        storage = self.storages[vm.name]
        config = storage.configs().get("kernel")
        if config is None:
            return
        kernel = vm.get("kernel") or None
        if config.vid != kernel and not storage.get_volume("kernel").is_running():
            storage.set_volume_config(config.replace(vid=kernel))
