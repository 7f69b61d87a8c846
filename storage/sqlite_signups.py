"""SQLite implementation of `storage.signups.SignupStore` (a mixin of SQLiteStore)."""

from __future__ import annotations


class SQLiteSignupMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""
