"""admin.backend.GetAllData: everything the GUI shows about every qube, in one call.

Extension method (ours, optional, feature-detected by ``backend.client``; a real
qubesd answers it with ProtocolError "no such method" or an empty response, and
the client falls back to ``admin.vm.List`` + ``admin.vm.property.GetAll`` per qube
and per-item feature/tag calls). Destination dom0, no argument, no payload.

The answer is UTF-8 text of newline-terminated lines in blocks:

* ``global`` starts the block of the global properties;
* ``qube <name> class=<Class> state=<State> uuid=<uuid>`` starts a qube's block,
  exactly like its ``admin.vm.List`` line; qubes come sorted by name;
* ``p <GetAll line>`` one property of the block's holder, exactly as the matching
  ``GetAll`` writes it (``<prop> default=<b> type=<t> <value>``, the serialised part
  with ``\\`` as ``\\\\`` and newline as ``\\n``), sorted by name;
* ``f <feature> <value>`` one feature of the qube, sorted by name, the value escaped
  the same way (it may be empty: the line then ends in the space);
* ``t <tag>`` one tag of the qube, sorted.

Readers must ignore line kinds they do not know, so kinds can be added later. For
callers other than dom0 the qubes are those ``admin.vm.List`` would show, and each
part is included only if the policy allows the per-item call it replaces
(``admin.property.GetAll``, ``admin.vm.property.GetAll``, ``admin.vm.feature.Get``
per feature, ``admin.vm.tag.List``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.api.methods.qubes_props import GetAllCache, getall_cache
from backend.api.registry import Call, Dest, MethodTable, Need
from backend.model.vm import AdminVM
from backend.protocol import escape_getall_value

METHOD = "admin.backend.GetAllData"

#: may(method, arg, target name) → whether the caller may make that call
Permission = Callable[[str, str, str], bool]


def vm_list_line(vm: Any) -> str:
    """A qube's ``admin.vm.List`` line (without the newline)."""
    return f"{vm.name} class={vm.klass} state={vm.power_state.value} uuid={vm.uuid}"


def prefixed(text: str, prefix: str) -> str:
    """Every line of ``text`` (newline-terminated lines) with ``prefix`` in front."""
    if not text:
        return ""
    return prefix + text[:-1].replace("\n", "\n" + prefix) + "\n"


def qube_block(vm: Any, may: Permission, cache: GetAllCache) -> list[str]:
    lines = [f"qube {vm_list_line(vm)}\n"]
    if may("admin.vm.property.GetAll", "", vm.name):
        lines.append(prefixed(cache.text(vm), "p "))
    lines += (
        f"f {name} {escape_getall_value(value)}\n"
        for name, value in vm.features.items()
        if may("admin.vm.feature.Get", name, vm.name)
    )
    if may("admin.vm.tag.List", "", vm.name):
        lines += (f"t {tag}\n" for tag in vm.tags)
    return lines


def all_data(app: Any, may: Permission, visible: Callable[[Any], bool]) -> str:
    cache = getall_cache(app)
    lines: list[str] = []
    if may("admin.property.GetAll", "", "dom0"):
        lines.append("global\n")
        lines.append(prefixed(cache.text(app.globals), "p "))
    for vm in sorted((vm for vm in app.domains if visible(vm)), key=lambda vm: vm.name):
        lines += qube_block(vm, may, cache)
    return "".join(lines)


def register(table: MethodTable, daemon: Any) -> None:
    @table.method(METHOD, arg=Need.NONE, payload=Need.NONE, dest=Dest.ADMINVM)
    def get_all_data(call: Call) -> str:
        source = call.source
        if isinstance(source, AdminVM):
            return all_data(daemon.app, lambda method, arg, target: True, lambda vm: True)

        def may(method: str, arg: str, target: str) -> bool:
            allowed: bool = daemon.policy.admin_call_allowed(
                source.name, method, arg, target, daemon.system_info()
            )
            return allowed

        return all_data(daemon.app, may, lambda vm: daemon.visible_to(source, vm))
