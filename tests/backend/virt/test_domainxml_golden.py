"""Generated domain XML equals the golden files, and libvirt's schema accepts it.

Run with ``REGENERATE_GOLDEN=1`` to rewrite the golden files, then review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from backend.virt.domainxml import kvm_domain_xml, xen_domain_xml
from tests.backend.virt import specs
from tests.backend.virt.xmlcheck import stock_view, virt_xml_validate

GOLDEN = Path(__file__).parent / "golden"

CASES: dict[str, Callable[[], str]] = {
    "xen-pvh.xml": lambda: xen_domain_xml(specs.PVH),
    "xen-hvm.xml": lambda: xen_domain_xml(specs.HVM),
    "xen-pv.xml": lambda: xen_domain_xml(specs.PV),
    "kvm.xml": lambda: kvm_domain_xml(specs.KVM),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_xml_matches_golden_file(name: str) -> None:
    generated = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("REGENERATE_GOLDEN"):
        path.write_text(generated)
    assert path.exists(), f"missing {path}; run with REGENERATE_GOLDEN=1 and review it"
    assert generated == path.read_text()


def test_same_spec_gives_identical_bytes() -> None:
    assert xen_domain_xml(specs.HVM) == xen_domain_xml(specs.HVM)
    assert kvm_domain_xml(specs.KVM) == kvm_domain_xml(specs.KVM)


def test_kvm_golden_file_validates_against_stock_schema() -> None:
    result = virt_xml_validate(GOLDEN / "kvm.xml")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["xen-pvh.xml", "xen-hvm.xml", "xen-pv.xml"])
def test_xen_golden_file_validates_apart_from_qubes_extensions(name: str, tmp_path: Path) -> None:
    stock = tmp_path / name
    stock.write_text(stock_view((GOLDEN / name).read_text()))
    result = virt_xml_validate(stock)
    assert result.returncode == 0, result.stderr


def test_validation_catches_a_broken_document(tmp_path: Path) -> None:
    # guards the two tests above against a validator that accepts anything
    broken = tmp_path / "broken.xml"
    broken.write_text(
        (GOLDEN / "kvm.xml")
        .read_text()
        .replace('<vcpu placement="static">', '<vcpu placement="x">')
    )
    assert virt_xml_validate(broken).returncode != 0


def test_hvm_golden_carries_every_qubes_extension() -> None:
    # the HVM case must exercise what stock_view strips, or the check above is hollow
    hvm = (GOLDEN / "xen-hvm.xml").read_text()
    for needle in (
        '<loader type="rom">hvmloader</loader>',
        '<script path="/etc/xen/scripts/qubes-block" />',
        'nostrictreset="yes"',
        'powerManagementFiltering="no"',
        '<emulator type="stubdom-linux"',
        '<graphics type="qubes"',
    ):
        assert needle in hvm
