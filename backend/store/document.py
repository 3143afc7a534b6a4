"""Plain records of a ``qubes.xml`` document, independent of the live model.

The model converts itself to and from a :class:`Core3Document`; the store turns a
document into XML bytes and back, and writes it atomically. Keeping the two apart lets
the writer thread serialise a snapshot while the model keeps changing.

Values are the strings upstream stores, untouched: booleans as ``True``/``False``, the
``label`` property as ``label-<index>``, VM references as qube names. Only a VM
reference (``backend.store.core3.DOMAIN_VM_REFS``/``GLOBAL_VM_REFS``) may be ``None``:
upstream writes it as an empty element, while an empty ordinary property (``kernel``)
stays ``""``.

dom0 (class AdminVM, qid 0) is read with ``name`` = ``dom0``; its fixed ``name``,
``qid`` and ``uuid`` may be present in its record but are never written, because
qubesd refuses to load them. Any other qube's ``qid`` property, if present, must equal
:attr:`DomainRecord.qid`, which is what gets written.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelRecord:
    index: int
    color: str  # "0xRRGGBB"
    name: str


@dataclass(frozen=True)
class DeviceRecord:
    backend_domain: str
    port_id: str
    device_id: str  # "*" when any device on that port matches
    mode: str  # required / ask-to-attach / auto-attach (manual is never persisted)
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainRecord:
    qid: int  # written as the ``qid`` property (never for AdminVM); read into this field
    klass: str  # AdminVM, TemplateVM, AppVM, DispVM, StandaloneVM
    # explicitly set properties only; VM references as names, None as None
    properties: dict[str, str | None] = field(default_factory=dict)
    features: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # device class -> persistent assignments; an empty tuple keeps an empty class
    devices: dict[str, tuple[DeviceRecord, ...]] = field(default_factory=dict)
    # volume name -> all attributes of its <volume> element, "name" included
    volume_config: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Core3Document:
    labels: tuple[LabelRecord, ...] = ()
    pools: tuple[dict[str, str], ...] = ()  # each pool's config, incl. name and driver
    properties: dict[str, str | None] = field(default_factory=dict)  # global, explicit
    domains: tuple[DomainRecord, ...] = ()
