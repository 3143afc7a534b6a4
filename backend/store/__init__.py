"""Persistence of the qubes model in the upstream core3 ``qubes.xml`` format."""

from backend.store.core3 import from_xml, to_xml
from backend.store.document import Core3Document, DeviceRecord, DomainRecord, LabelRecord
from backend.store.store import Store, StoreBusyError
from backend.store.writer import StoreWriter

__all__ = [
    "Core3Document",
    "DeviceRecord",
    "DomainRecord",
    "LabelRecord",
    "Store",
    "StoreBusyError",
    "StoreWriter",
    "from_xml",
    "to_xml",
]
