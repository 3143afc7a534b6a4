"""Simulated devices for the demo system and the tests.

The demo runs on libvirt's test driver: there is no real hardware to pass through,
no QubesDB in sys-usb and no udev in dom0, so the devices here are made up to look
like a typical laptop's: dom0's PCI devices (sys-net's network controller and
sys-usb's USB controller as the demo assigns them, and a few more), the microphone,
and in sys-usb a keyboard/mouse receiver, a webcam and a USB stick with one
partition. As on real Qubes, a qube's devices are visible only while it runs
(dom0 always runs). Tests and the demo may plug and unplug devices at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .model import DeviceInfo
from .sources import Watcher, Watchers

_STICK_ID = "0781:5567:4C530001230101117371:u080650"


def _pci(port: str, vendor_id: str, product_id: str, code: str, vendor: str,
         product: str, sbdf: str) -> DeviceInfo:
    return DeviceInfo(
        "pci", "dom0", port, f"0x{vendor_id}:0x{product_id}::{code}",
        vendor=vendor, product=product, interfaces=(code,), data={"sbdf": sbdf},
    )


def demo_devices() -> list[DeviceInfo]:
    """What the demo's qubes expose (when they run)."""
    return [
        _pci("00_02.0", "8086", "46a6", "p030000", "Intel Corporation",
             "Alder Lake-P GT2 [Iris Xe Graphics]", "0000:00:02.0"),
        _pci("00_0d.0", "8086", "461e", "p0c0330", "Intel Corporation",
             "Alder Lake-P Thunderbolt 4 USB Controller", "0000:00:0d.0"),
        _pci("00_14.0", "8086", "51ed", "p0c0330", "Intel Corporation",
             "Alder Lake PCH USB 3.2 xHCI Host Controller", "0000:00:14.0"),
        _pci("00_14.3", "8086", "51f0", "p028000", "Intel Corporation",
             "Alder Lake-P PCH CNVi WiFi", "0000:00:14.3"),
        _pci("00_1f.3", "8086", "51c8", "p040380", "Intel Corporation",
             "Alder Lake PCH-P High Definition Audio Controller", "0000:00:1f.3"),
        # behind a root port bridge: the port id is the path from the root bus
        _pci("00_06.0-00_00.0", "144d", "a80a", "p010802", "Samsung Electronics Co Ltd",
             "NVMe SSD Controller PM9A1/PM9A3/980PRO", "0000:01:00.0"),
        DeviceInfo("mic", "dom0", "mic", "dom0:mic::m000000", product="Microphone",
                   interfaces=("m000000",)),
        DeviceInfo("usb", "sys-usb", "2-1", "046d:c52b::u030101u030102u030000",
                   vendor="Logitech, Inc.", product="Unifying Receiver",
                   manufacturer="Logitech", name="USB Receiver",
                   interfaces=("u030101", "u030102", "u030000")),
        DeviceInfo("usb", "sys-usb", "2-2", "04f2:b6dd::u0e0100u0e0200",
                   vendor="Chicony Electronics Co., Ltd", product="Integrated Camera",
                   manufacturer="Chicony", name="Integrated Camera",
                   interfaces=("u0e0100", "u0e0200")),
        DeviceInfo("usb", "sys-usb", "3-1", _STICK_ID,
                   vendor="SanDisk Corp.", product="Cruzer Blade", manufacturer="SanDisk",
                   name="Cruzer Blade", serial="4C530001230101117371",
                   interfaces=("u080650",)),
        DeviceInfo("block", "sys-usb", "sda", f"{_STICK_ID}:0",
                   vendor="SanDisk", product="Cruzer Blade", name="Cruzer Blade",
                   serial="4C530001230101117371", interfaces=("b******",),
                   parent_port_id="3-1", parent_devclass="usb",
                   data={"mode": "w", "size": "15631122432"}),
        DeviceInfo("block", "sys-usb", "sda1", f"{_STICK_ID}:0:1",
                   name="DATA", interfaces=("b******",),
                   parent_port_id="sda", parent_devclass="block",
                   data={"mode": "w", "size": "15630073856"}),
    ]


class SimulatedSource:
    """Devices kept in a table; a backend shows its devices only while it runs."""

    def __init__(self, devices: Iterable[DeviceInfo] = ()) -> None:
        self._devices: dict[tuple[str, str], dict[str, DeviceInfo]] = {}
        self._watchers = Watchers()
        for device in devices:
            self._table(device.backend, device.devclass)[device.port_id] = device

    def _table(self, backend: str, devclass: str) -> dict[str, DeviceInfo]:
        return self._devices.setdefault((backend, devclass), {})

    def exposed(self, backend: Any, devclass: str) -> list[DeviceInfo]:
        if not backend.is_running():
            return []
        return list(self._devices.get((backend.name, devclass), {}).values())

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        return self._watchers.add(watcher)

    # --- simulated hot-plug ------------------------------------------------------------
    def plug(self, device: DeviceInfo) -> None:
        """A device appears (or changes) in its port."""
        self._table(device.backend, device.devclass)[device.port_id] = device
        self._watchers.notify(device.backend, device.devclass)

    def unplug(self, backend: str, devclass: str, port_id: str) -> None:
        """The device in that port goes away (nothing happens if there is none)."""
        if self._table(backend, devclass).pop(port_id, None) is not None:
            self._watchers.notify(backend, devclass)
