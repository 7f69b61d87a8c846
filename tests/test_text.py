from handlers.text import shorten, split_message, text_length


def test_split_counts_utf16_units_like_telegram() -> None:
    text = "Quyền lợi 😀 " * 600  # 7,800 characters, more UTF-16 units
    parts = split_message(text, 4096)
    assert all(text_length(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_shorten_cuts_on_a_word_with_an_ellipsis() -> None:
    assert shorten("một hai ba bốn năm", 10) == "một hai…"
    assert shorten("ngắn", 10) == "ngắn"
