"""Template ▸ and Network ▸: what they offer, and changing many qubes at once.

The network change warns when it would take a Whonix workstation (tag ``anon-vm``)
out of the Tor network, or put a qube that is not one behind a Whonix gateway; it
offers to start a halted network qube that running qubes are moved to, as upstream.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QWidget

from backend.client import AdminClient, QubeClass, QubeSnapshot, SystemCache, actions
from qubes_manager.lifecycle import bold_list, report
from qubes_manager.messages import MessageBridge

ANON_VM_TAG = "anon-vm"
ANON_GATEWAY_TAG = "anon-gateway"
#: set on Whonix gateway templates and qubes by the Whonix packages
WHONIX_GATEWAY_FEATURE = "whonix-gw"
DISTRIBUTION_FEATURE = "os-distribution"
WHONIX = "whonix"


def _tr(text: str) -> str:
    return QCoreApplication.translate("Switching", text)


class NetKind(enum.Enum):
    NONE = "none"
    DEFAULT = "default"
    QUBE = "qube"


@dataclass(frozen=True, slots=True)
class NetChoice:
    """An entry of the Network menu."""

    kind: NetKind
    qube: str | None = None

    def label(self, default_netvm: str | None) -> str:
        if self.kind is NetKind.NONE:
            return _tr("None")
        if self.kind is NetKind.DEFAULT:
            return _tr("default (%1)").replace("%1", default_netvm or _tr("none"))
        return self.qube or ""


def templates(cache: SystemCache) -> list[str]:
    return sorted(q.name for q in cache.qubes.values() if q.klass is QubeClass.TEMPLATE_VM)


def network_choices(cache: SystemCache) -> list[NetChoice]:
    qubes = sorted(q.name for q in cache.qubes.values()
                   if q.klass is not QubeClass.ADMIN_VM and q.bool_prop("provides_network"))
    return [NetChoice(NetKind.NONE), NetChoice(NetKind.DEFAULT),
            *(NetChoice(NetKind.QUBE, name) for name in qubes)]


def current_network(qube: QubeSnapshot) -> NetChoice:
    """The entry that matches a qube's netvm."""
    value = qube.prop("netvm")
    if qube.is_default("netvm"):
        return NetChoice(NetKind.DEFAULT)
    if not value:
        return NetChoice(NetKind.NONE)
    return NetChoice(NetKind.QUBE, value)


def default_netvm(cache: SystemCache) -> str | None:
    value = cache.global_properties.get("default_netvm")
    return value.value or None if value is not None else None


def is_anon_gateway(cache: SystemCache, name: str | None) -> bool:
    """A Whonix gateway: tagged ``anon-gateway`` (as the Whonix packages do), or a
    network qube on a Whonix template (marked ``whonix-gw``, or whose distribution
    is Whonix: the only Whonix qubes that provide network are gateways)."""
    qube = cache.get(name) if name else None
    if qube is None:
        return False
    if qube.has_tag(ANON_GATEWAY_TAG) or _flag(qube, WHONIX_GATEWAY_FEATURE):
        return True
    template = cache.get(qube.prop("template") or "")
    if template is None or not qube.bool_prop("provides_network"):
        return False
    return _flag(template, WHONIX_GATEWAY_FEATURE) \
        or template.feature(DISTRIBUTION_FEATURE) == WHONIX


def _flag(qube: QubeSnapshot, feature: str) -> bool:
    return qube.feature(feature) not in (None, "", "0")


class Switching:
    def __init__(self, client: AdminClient, cache: SystemCache, bridge: MessageBridge,
                 parent: QWidget | None = None) -> None:
        self._client = client
        self._cache = cache
        self._bridge = bridge
        self._parent = parent

    async def change_template(self, names: Sequence[str], template: str) -> None:
        if not names or not await self._bridge.confirm(
                _tr("Do you want to change the template of %1 to <b>%2</b>?")
                .replace("%1", bold_list(names)).replace("%2", template),
                title=_tr("Template change confirmation"), parent=self._parent):
            return
        await self._apply(names, _tr("Cannot change the template of %1"),
                          lambda name: actions.set_property(self._client, name, "template",
                                                            template))

    async def change_network(self, names: Sequence[str], choice: NetChoice) -> None:
        if not names:
            return
        target = default_netvm(self._cache) if choice.kind is NetKind.DEFAULT else choice.qube
        label = choice.label(default_netvm(self._cache))
        warning = self.anonymity_warning(names, target)
        question = _tr("Do you want to change the network qube of %1 to <b>%2</b>?") \
            .replace("%1", bold_list(names)).replace("%2", label)
        if warning:
            question = f"{warning}<br><br>{question}"
        if not await self._bridge.confirm(question, title=_tr("Network change confirmation"),
                                          parent=self._parent, warning=bool(warning)):
            return
        if target and not await self._target_running(names, target):
            return
        value = choice.qube or ""

        def change(name: str) -> Awaitable[None]:
            if choice.kind is NetKind.DEFAULT:
                return actions.reset_property(self._client, name, "netvm")
            return actions.set_property(self._client, name, "netvm", value)

        await self._apply(names, _tr("Cannot change the network qube of %1"), change)

    def anonymity_warning(self, names: Sequence[str], target: str | None) -> str:
        """The warning for moving ``names`` to ``target`` ('' when there is none)."""
        if not target:
            return ""  # no network at all leaks nothing
        anon = [n for n in names if (q := self._cache.get(n)) is not None
                and q.has_tag(ANON_VM_TAG)]
        gateway = is_anon_gateway(self._cache, target)
        if anon and not gateway:
            return _tr("<b>Warning:</b> %1 would leave the Whonix network: %2 is not a "
                       "Whonix gateway, so the traffic of %1 would no longer go through "
                       "Tor and could reveal who you are.").replace("%1", bold_list(anon)) \
                .replace("%2", f"<b>{target}</b>")
        others = [n for n in names if n not in anon]
        if gateway and others:
            return _tr("<b>Warning:</b> %1 is not a Whonix workstation. Its traffic would "
                       "go through Tor, but its applications are not set up for anonymity "
                       "and may reveal who you are.").replace("%1", bold_list(others))
        return ""

    async def _target_running(self, names: Sequence[str], target: str) -> bool:
        """Running qubes need a running network qube: offer to start it first."""
        qube = self._cache.get(target)
        moving_running = any((q := self._cache.get(n)) is not None and q.is_running
                             for n in names)
        if qube is None or qube.is_running or not moving_running:
            return True
        if not await self._bridge.confirm(
                _tr("A running qube cannot use a halted network qube.<br>Do you want to "
                    "start <b>%1</b>?").replace("%1", target),
                title=_tr("Qube start confirmation"), parent=self._parent, default_yes=True):
            return False
        try:
            await actions.start(self._client, target)
        except Exception as exc:  # noqa: BLE001 - reported; the change is abandoned
            report(self._bridge, _tr("Cannot start %1").replace("%1", target), exc,
                   self._parent)
            return False
        return True

    async def _apply(self, names: Sequence[str], failure: str,
                     change: Callable[[str], Awaitable[None]]) -> None:
        results = await asyncio.gather(*(change(name) for name in names),
                                       return_exceptions=True)
        for name, result in zip(names, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                report(self._bridge, failure.replace("%1", name), result, self._parent)
