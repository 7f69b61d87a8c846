"""SQLite implementation of `storage.questions.QuestionStore` (a mixin of SQLiteStore)."""

from __future__ import annotations


class SQLiteQuestionMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""
