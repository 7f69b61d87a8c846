"""SQLite implementation of `storage.broadcasts.BroadcastStore` (a mixin of SQLiteStore)."""

from __future__ import annotations


class SQLiteBroadcastMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""
