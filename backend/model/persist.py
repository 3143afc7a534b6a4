"""Conversion between the live model and a :class:`Core3Document` (qubes.xml records)."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from backend.errors import QubesException, QubesValueError
from backend.model.app import HostInfo, KernelInfo, Qubes
from backend.model.labels import Label, LabelSet
from backend.model.vm import VM_CLASSES, AdminVM, BaseVM, DeviceAssignment
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord


def to_document(
    app: Qubes, record: Callable[[BaseVM], DomainRecord] | None = None
) -> Core3Document:
    """The document of ``app``; ``record`` may serve cached per-qube records."""
    record = record or domain_record
    return Core3Document(
        labels=tuple(LabelRecord(lb.index, lb.color, lb.name) for lb in app.labels),
        pools=tuple(dict(config) for config in app.pool_configs.values()),
        properties={
            name: app.globals.prop(name).to_store(value)
            for name, value in sorted(app.globals.explicit_values().items())
        },
        domains=tuple(record(vm) for vm in sorted(app.domains, key=lambda v: v.qid)),
    )


def domain_record(vm: BaseVM) -> DomainRecord:
    return DomainRecord(
        qid=vm.qid,
        klass=vm.klass,
        properties={
            name: vm.prop(name).to_store(value)
            for name, value in sorted(vm.explicit_values().items())
        },
        features=dict(vm.features.items()),
        tags=tuple(vm.tags),
        devices={
            devclass: tuple(
                DeviceRecord(a.backend_domain, a.port_id, a.device_id, a.mode, dict(a.options))
                for a in assignments
            )
            for devclass, assignments in sorted(vm.devices.items())
        },
        volume_config={name: dict(attrs) for name, attrs in sorted(vm.volume_config.items())},
    )


def from_document(
    doc: Core3Document,
    host: HostInfo | None = None,
    kernels: dict[str, KernelInfo] | None = None,
) -> Qubes:
    """Build the model in upstream's load stages; a bad value names its place."""
    app = Qubes(host=host, kernels=kernels)
    if doc.labels:
        app.labels = LabelSet(tuple(Label(r.index, r.color, r.name) for r in doc.labels))
    for pool in doc.pools:
        if "name" not in pool:
            raise QubesValueError("a pool has no name")
        app.pool_configs[pool["name"]] = dict(pool)

    vms: list[tuple[BaseVM, DomainRecord]] = []
    for record in doc.domains:
        cls = VM_CLASSES.get(record.klass)
        if cls is None:
            raise QubesValueError(f"domain {record.qid}: unknown class {record.klass!r}")
        vm = cls(app)
        _load_props(vm, record, stage_max=3, where=f"domain {record.qid}")
        if "qid" not in vm._values:
            vm._values["qid"] = record.qid
        if "uuid" not in vm._values:
            vm._values["uuid"] = (
                "00000000-0000-0000-0000-000000000000" if isinstance(vm, AdminVM)
                else str(uuidlib.uuid4())
            )
        if not vm.name:
            raise QubesValueError(f"domain {record.qid} has no name")
        if vm.name in app.domains or vm.qid in app.domains.qids():
            raise QubesValueError(f"domain {record.qid}: duplicate qube {vm.name!r}")
        app.domains.add(vm)
        vms.append((vm, record))
    if app.domains.get(0) is None:
        app.create_adminvm()

    for name, text in doc.properties.items():
        _load_one(app.globals, name, text, where="global properties")
    for vm, record in vms:
        _load_props(vm, record, stage_max=4, stage_min=4, where=vm.name)
        for feature, value in record.features.items():
            vm.features.load(feature, value)
        for tag in record.tags:
            vm.tags.load(tag)
        for devclass, devices in record.devices.items():
            vm.devices[devclass] = [
                DeviceAssignment(d.backend_domain, d.port_id, d.device_id, d.mode, dict(d.options))
                for d in devices
            ]
        vm.volume_config = {name: dict(attrs) for name, attrs in record.volume_config.items()}
    return app


def _load_props(
    vm: BaseVM, record: DomainRecord, *, stage_max: int, where: str, stage_min: int = 0
) -> None:
    for name, text in record.properties.items():
        prop = vm.PROPS.get(name)
        if prop is None:
            continue  # a property of a newer qubesd: ignored, like upstream does
        if stage_min <= prop.load_stage <= stage_max:
            _load_one(vm, name, text, where=where)


def _load_one(holder: Any, name: str, text: str | None, *, where: str) -> None:
    if name not in holder.PROPS:
        return
    if holder.PROPS[name].stateless:
        return
    try:
        holder.set(name, text, loading=True)
    except QubesException as exc:
        raise QubesValueError(f"{where}: property {name}: {exc}") from None
