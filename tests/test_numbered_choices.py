"""Buttons as numbered choices: rendering, and reading a worker's answer back."""

from __future__ import annotations

import pytest

from bot.channels.numbered import NumberedChoices, fold
from handlers.types import Button, Reply

MENU = [
    [Button("⚖️ Hỏi về quyền lợi", "menu:rights")],
    [Button("✍️ Gia nhập công đoàn", "menu:join")],
    [Button("☎️ Liên hệ cán bộ công đoàn", "menu:contact")],
    [Button("🇻🇳 Tiếng Việt", "lang:vi"), Button("🇬🇧 English", "lang:en")],
    [Button("🌐 Ngôn ngữ / Language", "menu:lang")],
]
CONSENT = [[Button("✅ Tôi đồng ý", "jf:x:agree"), Button("🚫 Tôi không đồng ý", "jf:x:disagree")]]


def offered(buttons: list[list[Button]]) -> NumberedChoices:
    choices = NumberedChoices()
    choices.render("u1", Reply("Chọn:", buttons=buttons), fresh=True)
    return choices


def test_render_lists_buttons_in_order_under_the_text_with_a_hint() -> None:
    text = NumberedChoices().render("u1", Reply("Menu chính", buttons=MENU), fresh=True, hint="Gõ số.")
    assert text == (
        "Menu chính\n\n1. ⚖️ Hỏi về quyền lợi\n2. ✍️ Gia nhập công đoàn\n"
        "3. ☎️ Liên hệ cán bộ công đoàn\n4. 🇻🇳 Tiếng Việt\n5. 🇬🇧 English\n6. 🌐 Ngôn ngữ / Language\nGõ số."
    )


def test_a_reply_without_buttons_is_its_text() -> None:
    assert NumberedChoices().render("u1", Reply("Xin chào"), fresh=True) == "Xin chào"


@pytest.mark.parametrize(
    ("answer", "payload"),
    [
        ("1", "menu:rights"),
        (" 2 ", "menu:join"),
        ("2.", "menu:join"),
        ("5)", "lang:en"),
        ("５", "lang:en"),  # full-width digit from a phone keyboard
        ("Gia nhập công đoàn", "menu:join"),
        ("gia nhap cong doan", "menu:join"),
        ("GIA NHẬP CÔNG ĐOÀN", "menu:join"),
        ("✍️ Gia nhập công đoàn", "menu:join"),
        ("tieng viet", "lang:vi"),
        ("English", "lang:en"),
        ("gia nhap", "menu:join"),  # words of one label only
        ("lien he", "menu:contact"),
        ("quyen loi", "menu:rights"),
        ("cong doan", "menu:join"),  # half of one label, a third of the other
        ("ngon ngu", "menu:lang"),
    ],
)
def test_an_answer_picks_a_choice(answer: str, payload: str) -> None:
    assert offered(MENU).match("u1", answer) == payload


@pytest.mark.parametrize(
    "answer",
    [
        "0",
        "7",
        "12",  # out of range
        "cong",  # too little of any label
        "language",  # a third of "Ngôn ngữ / Language"
        "c",  # too short to mean anything
        "luong toi thieu vung 1",  # a question, not a choice
        "/start",  # commands stay commands
        "",
        "   ",
        "🙂",
    ],
)
def test_other_text_picks_nothing(answer: str) -> None:
    assert offered(MENU).match("u1", answer) is None


def test_the_closest_label_wins_and_a_negation_is_not_lost() -> None:
    choices = offered(CONSENT)
    assert choices.match("u1", "đồng ý") == "jf:x:agree"
    assert choices.match("u1", "dong y") == "jf:x:agree"
    assert choices.match("u1", "khong dong y") == "jf:x:disagree"
    assert choices.match("u1", "toi") is None  # the first word of both
    assert choices.match("u1", "không") is None  # too little of the label to be sure


def test_first_words_must_point_to_one_label() -> None:
    choices = offered([[Button(name, f"p:{name}")] for name in ("Đồng Nai", "Đồng Tháp", "Lâm Đồng", "Hà Nội")])
    assert choices.match("u1", "dong") is None
    assert choices.match("u1", "dong thap") == "p:Đồng Tháp"
    assert choices.match("u1", "noi") == "p:Hà Nội"
    review = offered([[Button("✏️ Họ tên", "e:name")], [Button("📨 Gửi đăng ký", "e:submit")]])
    assert review.match("u1", "gửi") == "e:submit"
    assert review.match("u1", "ho ten") == "e:name"


def test_numbering_runs_on_across_a_turn_and_a_fresh_turn_starts_again() -> None:
    choices = NumberedChoices()
    first = choices.render("u1", Reply("Có giúp ích không?", buttons=[[Button("👍 Có", "fb:y")]]), fresh=True)
    second = choices.render("u1", Reply("Menu", buttons=MENU), fresh=False)
    assert "1. 👍 Có" in first and "2. ⚖️ Hỏi về quyền lợi" in second
    assert choices.match("u1", "2") == "menu:rights"

    choices.render("u1", Reply("Đã lưu."), fresh=True)  # a turn without buttons
    assert choices.match("u1", "1") is None


def test_a_later_message_without_buttons_keeps_the_choices_unless_fresh() -> None:
    choices = offered(MENU)
    choices.render("u1", Reply("Thông báo"), fresh=False)  # a broadcast arriving meanwhile
    assert choices.match("u1", "1") == "menu:rights"


def test_choices_are_per_user_bounded_and_expire() -> None:
    now = [0.0]
    choices = NumberedChoices(max_users=2, ttl=60, clock=lambda: now[0])
    for user in ("a", "b", "c"):
        choices.offer(user, [Button("Có", "yes")], fresh=True)
    assert choices.match("a", "1") is None  # the oldest was forgotten
    assert choices.match("b", "1") == "yes" and choices.match("c", "co") == "yes"
    now[0] = 61
    assert choices.match("c", "1") is None


@pytest.mark.parametrize(
    ("text", "folded"),
    [("⬅️ Về menu chính", "ve menu chinh"), ("Đồng ý!", "dong y"), ("2.", "2"), ("TP. Hồ Chí Minh", "tp ho chi minh")],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize("typed", ["Huy", "hủy", "HUY", "dung", "Dừng nhận tin", "dung nhan"])
def test_a_button_marked_untyped_is_pressed_by_its_number_only(typed: str) -> None:
    # "Huy" is a name at the form's name step; "dung" may be "đúng".
    choices = offered(
        [
            [Button("❌ Hủy", "jf:x:x", typed=False)],
            [Button("Dừng nhận tin", "sub:stop", typed=False), Button("Không", "sub:keep")],
        ]
    )
    assert choices.match("u1", typed) is None
    assert choices.match("u1", "1") == "jf:x:x"
    assert choices.match("u1", "2") == "sub:stop"
    assert choices.match("u1", "không") == "sub:keep"


def test_where_a_typed_number_is_the_answer_the_choices_are_lettered() -> None:
    choices = NumberedChoices()
    buttons = [[Button("Chỉ mình tôi", "rp:w:1")], [Button("Khoảng 2–10 người", "rp:w:5")], [Button("❌ Hủy", "rp:x")]]
    text = choices.render("u1", Reply("Bao nhiêu người?", buttons=buttons, numbers_typed=True), fresh=True)
    assert text == "Bao nhiêu người?\n\na. Chỉ mình tôi\nb. Khoảng 2–10 người\nc. ❌ Hủy"
    assert choices.match("u1", "3") is None and choices.match("u1", "1") is None  # the step reads them
    assert choices.match("u1", "c") == "rp:x" and choices.match("u1", "B") == "rp:w:5"
    assert choices.match("u1", "chi minh toi") == "rp:w:1"
    assert choices.match("u1", "d") is None
    # The next screen numbers again, even one added to the same turn.
    choices.render("u1", Reply("Tiếp", buttons=[[Button("Bỏ qua", "rp:skip")]]), fresh=False)
    assert choices.match("u1", "1") == "rp:skip" and choices.match("u1", "a") is None


def test_no_worker_forms_cancel_is_pressed_by_a_typed_name() -> None:
    # Found by an outside tester: "Huy" typed as the name in a program registration on
    # Zalo pressed "❌ Hủy". Every form's cancel a worker meets is pressed by number only.
    from types import SimpleNamespace

    from handlers.care.programs import _nav
    from handlers.care.support import _cancel_row as support_cancel
    from handlers.i18n import load_catalog
    from handlers.listening.reports import _cancel_row as report_cancel

    catalog = load_catalog()
    ctx = SimpleNamespace(t=lambda key, **kw: catalog.t("vi", key, **kw))
    for row in (_nav(ctx, "f1"), support_cancel(ctx, "f1"), report_cancel(ctx)):  # type: ignore[arg-type]
        choices = NumberedChoices()
        choices.render("u1", Reply("Họ tên?", buttons=[row]), fresh=True)
        assert choices.match("u1", "Huy") is None and choices.match("u1", "huỷ") is None
        assert choices.match("u1", "1") == row[0].payload
