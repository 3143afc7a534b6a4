"""admin.vm.Create.<Class>, admin.vm.CreateInPool.<Class> and admin.vm.Remove.

Create (dest dom0; argument: the template, for classes that have one; payload
``name=<n> label=<l>``, space-separated, each key once; CreateInPool also takes
``pool=<p>`` or ``pool:<volume>=<p>`` for root/private/volatile/kernel, not both).
Everything is checked before anything changes; then, as upstream orders it, the qube
joins the collection (``domain-add``), gets ``created-by-<caller>`` (and
``disp-created-by-<caller>`` for a DispVM, and the tags listed in the caller's
``tag-created-vm-with`` feature), then its volumes are made. If the volumes cannot
be made the qube is taken out again, so a failed Create leaves nothing behind.

A DispVM made this way is a named disposable (``auto_cleanup`` False) with a fresh
``dispid`` and the settings of its disposable template copied, like any disposable.

Remove (dest: the qube): refused for dom0, for qubes that are not halted, installed
by a package, or still referenced (QubesVMInUseError naming the references).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.api.methods.qubes_labels import check_label_name
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.errors import (
    ProtocolError,
    QubesNoTemplateError,
    QubesValueError,
    QubesVMAlreadyExistsError,
    QubesVMInUseError,
    QubesVMNotFoundError,
)
from backend.model.names import validate_name
from backend.model.vm import VM_CLASSES, AdminVM, DispVM

log = logging.getLogger("backend.api")

#: classes the Admin API creates (RemoteVM is not supported, dom0 exists once)
CREATABLE = ("AppVM", "DispVM", "StandaloneVM", "TemplateVM")
POOL_VOLUMES = ("root", "private", "volatile", "kernel")
_TAG = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CreateParams:
    """The parsed payload of a Create call (names checked, not yet looked up)."""

    name: str
    label: str
    pool: str | None = None
    pools: Mapping[str, str] = field(default_factory=dict)


def parse_create_payload(payload: bytes, *, allow_pool: bool) -> CreateParams:
    """Parse ``name=<n> label=<l> [pool=<p> | pool:<vol>=<p> …]``; raise on anything else."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("Create parameters must be ASCII") from None
    values: dict[str, str] = {}
    pools: dict[str, str] = {}
    for param in text.split(" "):
        key, sep, value = param.partition("=")
        if not sep:
            raise ProtocolError(f"Invalid parameter {param!r}: expected key=value")
        if key in values or (key.startswith("pool:") and key[5:] in pools):
            raise ProtocolError(f"Duplicated parameter {key!r}")
        if key == "name":
            values[key] = validate_name(value)
        elif key == "label":
            values[key] = check_label_name(value)
        elif allow_pool and key == "pool":
            values[key] = value
        elif allow_pool and key.startswith("pool:"):
            volume = key[5:]
            if volume not in POOL_VOLUMES:
                raise ProtocolError(f"Invalid parameter {key!r}: no volume named {volume!r}")
            pools[volume] = value
        else:
            raise ProtocolError(f"Invalid parameter name {key!r}")
    if "name" not in values or "label" not in values:
        raise ProtocolError("Missing name or label")
    if "pool" in values and pools:
        raise ProtocolError("Only one of 'pool=' and 'pool:<volume>=' can be used")
    return CreateParams(values["name"], values["label"], values.get("pool"), pools)


def dispvm_properties(app: Any, template: Any) -> dict[str, Any]:
    """A named DispVM's own properties: a new dispid and its template's explicit,
    cloneable settings (core-model.md §1.5)."""
    props: dict[str, Any] = {"dispid": app.allocate_dispid(), "auto_cleanup": False}
    for name, prop in template.PROPS.items():
        mine = DispVM.PROPS.get(name)
        if (
            prop.clone
            and mine is not None
            and not (mine.stateless or mine.read_only)
            and name not in props
            and name not in ("template", "template_for_dispvms", "label", "name", "qid", "uuid")
            and not template.is_default(name)
        ):
            props[name] = template.get(name)
    return props


def creation_tags(source: Any, klass: str) -> list[str]:
    """The tags a new qube gets from its creator, in upstream's order."""
    tags = [f"created-by-{source.name}"]
    if klass == "DispVM":
        tags.append(f"disp-created-by-{source.name}")
    for tag in (source.features.get("tag-created-vm-with") or "").split():
        if _TAG.fullmatch(tag):
            tags.append(tag)
        else:
            log.warning("%s: ignoring invalid tag %r in tag-created-vm-with", source.name, tag)
    return tags


def _add_tag(vm: Any, tag: str) -> None:
    """Tags.add without its character check: ``created-by-<qube>`` holds a qube name,
    which may contain a dot."""
    if tag not in vm.tags:
        vm.tags.load(tag)
        vm.fire(f"domain-tag-add:{tag}", tag=tag)


def register(table: MethodTable, daemon: Any) -> None:
    app = daemon.app
    system = daemon.system

    def prepare(call: Call, allow_pool: bool) -> Awaitable[None]:
        klass = call.endpoint or ""
        template = None
        if call.arg:
            if "template" not in VM_CLASSES[klass].PROPS:
                raise QubesValueError(f"A {klass} cannot be based on a template")
            template = app.domains[call.arg]
        params = parse_create_payload(call.payload, allow_pool=allow_pool)
        label = app.labels.get(params.label)
        for pool in (params.pool, *params.pools.values()):
            if pool is not None and pool not in system.pools:
                raise QubesValueError(f"No such storage pool: {pool!r}")
        if params.name in app.domains:
            raise QubesVMAlreadyExistsError(f"A qube named {params.name!r} already exists")
        if klass == "DispVM" and template is None:
            template = app.globals.value_or_none("default_dispvm")
            if template is None:
                raise QubesNoTemplateError(
                    f"No template given for {params.name} and no default_dispvm"
                )
        return create(klass, params, label, template, creation_tags(call.source, klass))

    async def create(
        klass: str, params: CreateParams, label: Any, template: Any, tags: list[str]
    ) -> None:
        # everything up to the first await in system.create_vm runs in one go, so the
        # dispid chosen here is still free when the qube takes it
        properties = dispvm_properties(app, template) if klass == "DispVM" else None
        done: list[Any] = []

        def on_add(subject: Any, event: str, kwargs: dict[str, Any]) -> None:
            vm = kwargs.get("vm")
            if subject is not None or event != "domain-add" or vm is None:
                return
            if vm.name != params.name or done:
                return
            done.append(vm)
            if klass == "DispVM":
                for feature, value in template.features.items():
                    if not feature.startswith("preload-dispvm"):
                        vm.features.load(feature, value)
                for tag in template.tags:
                    vm.tags.load(tag)
            for tag in tags:
                _add_tag(vm, tag)

        unsubscribe = app.events.subscribe(on_add)
        try:
            await system.create_vm(
                klass,
                params.name,
                label,
                template=template,
                properties=properties,
                pool=params.pool,
                pools=dict(params.pools) or None,
            )
        finally:
            unsubscribe()

    for method, allow_pool in (("admin.vm.Create", False), ("admin.vm.CreateInPool", True)):

        def handler(call: Call, allow_pool: bool = allow_pool) -> Awaitable[None]:
            return prepare(call, allow_pool)

        table.method(
            f"{method}.{{klass}}",
            arg=Need.OPTIONAL,
            payload=Need.REQUIRED,
            dest=Dest.ADMINVM,
            endpoints=CREATABLE,
        )(handler)

    async def remove(vm: Any) -> None:
        # the qube's lifecycle lock: a start cannot race the removal
        async with daemon.lifecycle.lock(vm):
            if app.domains.get(vm.qid) is not vm:  # removed by a call that ran first
                raise QubesVMNotFoundError(vm.name)
            await system.remove_vm(vm)

    @table.method("admin.vm.Remove", arg=Need.NONE, payload=Need.NONE, dest=Dest.ANY)
    def vm_remove(call: Call) -> Awaitable[None]:
        vm = call.dest
        if isinstance(vm, AdminVM):
            raise QubesVMInUseError("'dom0' cannot be removed")
        app.check_remove(vm)
        return remove(vm)
