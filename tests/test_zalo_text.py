"""Splitting long replies into Zalo's 2,000-character messages."""

from __future__ import annotations

import unicodedata

import pytest

from bot.channels.zalo.text import MAX_TEXT_LENGTH, split_text, text_length


def test_short_text_is_one_unchanged_part():
    assert split_text("  Xin chào\n\nbạn  ") == ["  Xin chào\n\nbạn  "]


def test_blank_text_gives_no_parts():
    assert split_text(" \n\n ") == []


def test_splits_on_paragraph_boundaries_and_packs_paragraphs():
    paragraphs = [f"Đoạn {i}: " + "quyền lợi người lao động " * 30 for i in range(6)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > MAX_TEXT_LENGTH

    parts = split_text(text)

    assert len(parts) > 1
    assert all(text_length(p) <= MAX_TEXT_LENGTH for p in parts)
    # No paragraph is cut: every part is a run of whole paragraphs.
    for part in parts:
        for paragraph in part.split("\n\n"):
            assert paragraph in [p.strip() for p in paragraphs]
    assert "\n\n".join(parts) == text


def test_exactly_at_limit_is_one_part_and_just_over_splits_at_the_break():
    assert split_text("a" * 2000) == ["a" * 2000]
    two = split_text("a" * 1000 + "\n\n" + "b" * 1000)
    assert two == ["a" * 1000, "b" * 1000]


def test_oversized_paragraph_falls_back_to_lines_then_words_then_hard_cut():
    lines = "\n".join(f"- mục {i} " + "x" * 90 for i in range(40))  # ~4,000 chars, one paragraph
    parts = split_text(lines, limit=500)
    assert all(len(p) <= 500 for p in parts)
    assert all(p.startswith("- mục") for p in parts)  # cut between lines, not inside

    words = " ".join(["công-đoàn"] * 300)
    parts = split_text(words, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert all(w == "công-đoàn" for p in parts for w in p.split(" "))

    parts = split_text("z" * 250, limit=100)
    assert parts == ["z" * 100, "z" * 100, "z" * 50]


def test_hard_cut_keeps_decomposed_tone_marks_with_their_vowel():
    text = unicodedata.normalize("NFD", "ệ" * 10)  # e + two combining marks each
    parts = split_text(text, limit=4)
    assert "".join(parts) == text
    assert all(not unicodedata.combining(p[0]) for p in parts)
    assert all(text_length(p) <= 4 for p in parts)


def test_length_counts_utf16_units_so_emoji_never_overflow():
    assert text_length("😀") == 2
    parts = split_text("😀" * 1500)
    assert all(text_length(p) <= MAX_TEXT_LENGTH for p in parts)
    assert "".join(parts) == "😀" * 1500


def test_rejects_nonpositive_limit():
    with pytest.raises(ValueError, match="limit must be positive"):
        split_text("abc", limit=0)
