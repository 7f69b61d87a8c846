"""Splitting long replies into Zalo-sized messages (both products cap text at 2,000)."""

from __future__ import annotations

from handlers.text import split_message, text_length

MAX_TEXT_LENGTH = 2000

__all__ = ["MAX_TEXT_LENGTH", "split_text", "text_length"]


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """`handlers.text.split_message` at Zalo's limit."""
    return split_message(text, limit)
