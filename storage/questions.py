"""Rights Q&A: answer feedback and the organizers' inbox of handed-off questions."""

from __future__ import annotations

import abc


class QuestionStore(abc.ABC):
    """Abstract part of the store for this feature; implemented in `storage/sqlite_questions.py`."""
