"""Reusable widgets, delegates and Qt models over backend.client data."""
