"""Tray widgets: devices, clipboard, updates, domains."""
