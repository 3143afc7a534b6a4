"""libvirt's default event loop, run on one daemon thread for the whole process.

libvirt needs an event loop implementation registered before the first connection is
opened, or domain events cannot be registered at all. We use its own default
implementation on a dedicated thread and hand events to asyncio with
``call_soon_threadsafe``: libvirtaio under qasync has been seen to drop events when
libvirt calls come from worker threads (reference/virt-manager.md §6.7).
"""

from __future__ import annotations

import logging
import threading

import libvirt

log = logging.getLogger("backend.virt")

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _run() -> None:
    while True:
        if libvirt.virEventRunDefaultImpl() < 0:
            log.error("libvirt event loop iteration failed")


def _ignore_error(_ctx: object, _err: object) -> None:
    # libvirt prints every error to stderr by default; ours become exceptions instead
    pass


def ensure_event_loop() -> None:
    """Register the default implementation and start its thread, once per process."""
    global _thread
    with _lock:
        if _thread is not None:
            return
        libvirt.registerErrorHandler(_ignore_error, None)
        if libvirt.virEventRegisterDefaultImpl() < 0:
            raise RuntimeError("cannot register libvirt's default event loop")
        _thread = threading.Thread(target=_run, name="libvirt-events", daemon=True)
        _thread.start()
        log.debug("libvirt event loop thread started")
