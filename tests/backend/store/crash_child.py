"""Child of the crash test: applies numbered changes through StoreWriter until killed.

Usage: crash_child.py QUBES_XML TAG. Prints ``ready``, then ``ack N`` once change N (a
dom0 feature ``TAG-N`` and the global property ``last-TAG`` = N) is durably saved.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import deque
from concurrent.futures import Future
from functools import partial
from itertools import count

from backend.store.document import Core3Document, DomainRecord, LabelRecord
from backend.store.store import Store
from backend.store.writer import StoreWriter

OUTSTANDING = 8  # submissions in flight, so that the writer coalesces some of them

_print_lock = threading.Lock()


def first_document() -> Core3Document:
    return Core3Document(
        labels=(LabelRecord(8, "0x000000", "black"),),
        domains=(DomainRecord(0, "AdminVM", {"name": "dom0", "label": "label-8"}),),
    )


def change(doc: Core3Document, tag: str, n: int) -> Core3Document:
    dom0 = doc.domains[0]
    dom0 = dataclasses.replace(dom0, features={**dom0.features, f"{tag}-{n}": str(n)})
    return dataclasses.replace(
        doc, domains=(dom0, *doc.domains[1:]), properties={**doc.properties, f"last-{tag}": str(n)}
    )


def ack(n: int, future: Future[None]) -> None:
    with _print_lock:
        if future.exception() is not None:
            print(f"error {n} {future.exception()}", flush=True)
        else:
            print(f"ack {n}", flush=True)


def main() -> None:
    path, tag = sys.argv[1], sys.argv[2]
    store = Store(path)
    doc = store.load() or first_document()
    writer = StoreWriter(store)
    print("ready", flush=True)
    in_flight: deque[Future[None]] = deque()
    for n in count():
        doc = change(doc, tag, n)
        future = writer.submit(doc)
        future.add_done_callback(partial(ack, n))
        in_flight.append(future)
        if len(in_flight) > OUTSTANDING:
            in_flight.popleft().result()


if __name__ == "__main__":
    main()
