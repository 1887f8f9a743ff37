"""Stored settings (QSettings), read defensively: a value of the wrong kind is ignored and removed.

A corrupt entry in losslab.conf must never stop the app from starting: every read checks
the type, and a bad value is dropped so that the next save writes a good one.
"""
from __future__ import annotations

from PyQt6.QtCore import QByteArray, QSettings


def stored_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """A stored byte array (window geometry, dock state), or None if absent or of another kind."""
    value = settings.value(key)
    if value is None:
        return None
    if isinstance(value, QByteArray) and not value.isEmpty():
        return value
    settings.remove(key)
    return None


def stored_text(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    settings.remove(key)
    return default


def stored_list(settings: QSettings, key: str) -> list[str]:
    """A stored list of strings (QSettings gives a lone string for a one-item list, or None for an empty one)."""
    value = settings.value(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    settings.remove(key)
    return []


def restore_window(window, settings: QSettings) -> bool:
    """Put back the window's geometry and dock layout; a stored value Qt cannot read is removed."""
    restored = False
    for key, restore in (("window/geometry", window.restoreGeometry), ("window/state", window.restoreState)):
        value = stored_bytes(settings, key)
        if value is None:
            continue
        if restore(value):
            restored = restored or key == "window/geometry"
        else:
            settings.remove(key)
    return restored
