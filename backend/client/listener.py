"""Callbacks of :class:`~backend.client.cache.SystemCache` (override what you need)."""

from __future__ import annotations

from backend.client.model import PropertyValue, QubeSnapshot


class CacheListener:
    """Told about every change of the cache, on the event loop's thread, after the change.

    Callbacks must be quick and must not call back into the backend synchronously;
    ``old``/``new`` are the snapshots before and after.
    """

    def loaded(self) -> None:
        """The qubes and their properties are in (first load, and after a reconcile)."""

    def details_loaded(self) -> None:
        """Features and tags of every qube are in (first load, and after a reconcile)."""

    def qube_added(self, qube: QubeSnapshot) -> None:
        """A qube appeared (created, or found while reconciling)."""

    def qube_removed(self, qube: QubeSnapshot) -> None:
        """A qube is gone; ``qube`` is its last snapshot."""

    def qube_changed(self, old: QubeSnapshot, new: QubeSnapshot) -> None:
        """Something of one qube changed (state, a property, features, tags, volumes)."""

    def global_property_changed(self, name: str, old: PropertyValue | None,
                                new: PropertyValue | None) -> None:
        """A global property (``admin.property.*``) changed."""

    def labels_changed(self) -> None:
        """The label table was (re)loaded or got a new label."""

    def connection_changed(self, connected: bool) -> None:
        """The event stream was lost (False) or is back and reconciled (True)."""
