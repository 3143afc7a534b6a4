"""Schema checks of generated domain XML with libvirt's own ``virt-xml-validate``.

Stock libvirt 9.0's schema does not know the extensions of Qubes' patched libvirt
that the Xen XML must carry. ``stock_view`` removes exactly those (listed below, one
reason each) so that everything else is still validated by the stock schema.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path


def stock_view(xml: str) -> str:
    dom = ET.fromstring(xml)
    loader = dom.find("os/loader")
    if loader is not None and not (loader.text or "").startswith("/"):
        # Qubes: bare "hvmloader", found by libxl in Xen's firmware dir; stock wants a path
        loader.text = None
    devices = dom.find("devices")
    assert devices is not None
    for disk in devices.findall("disk"):
        for script in disk.findall("script"):  # Qubes: block script per disk
            disk.remove(script)
    for hostdev in devices.findall("hostdev"):
        hostdev.attrib.pop("nostrictreset", None)  # Qubes: skip strict PCI reset
        source = hostdev.find("source")
        if source is not None:  # Qubes: PCI power-management register filtering
            source.attrib.pop("powerManagementFiltering", None)
    for emulator in devices.findall("emulator"):
        if "type" in emulator.attrib:  # Qubes: stub-domain emulator (type, cmdline, ...)
            devices.remove(emulator)
    for graphics in devices.findall("graphics"):
        if graphics.get("type") == "qubes":  # Qubes: the GUI daemon's display
            devices.remove(graphics)
    return ET.tostring(dom, encoding="unicode")


def virt_xml_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["virt-xml-validate", str(path), "domain"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
