"""A short message naming a feature runs it (found by an outside tester: "uu dai" was told
the bot only knows labour rights, "co xe tet ve que ko" got the Tết bonus article)."""

from __future__ import annotations

import pytest

from handlers.shortcuts import feature_named


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("uu dai", "benefits"),
        ("Ưu đãi", "benefits"),
        ("cho em xem ưu đãi ạ", "benefits"),
        ("dang ky xe ve que tet", "programs"),
        ("co xe tet ve que ko", "programs"),
        ("Tết này có tàu Tết không", "programs"),
        ("ve cua toi", "mytickets"),
        ("huy ve xe", "mytickets"),
        ("xem vé", "mytickets"),
        ("I want to see my tickets", "mytickets"),
        ("xin hỗ trợ khó khăn", "support"),
        ("gia đình em hoàn cảnh khó khăn", "support"),
        # Words every request holds do not make it a rights question (found in review).
        ("nhà bị cháy xin hỗ trợ khó khăn", "support"),
        ("em bị ốm xin hỗ trợ khó khăn", "support"),
        ("xe tết về quê có mất tiền không", "programs"),
        ("vé xe tết của tôi bị hủy", "programs"),
        ("tra cứu ưu đãi", "benefits"),
        # "help" alone got the legal aid answer (stop 31's outside tester).
        ("help", "help"),
        ("Help me please", "help"),
        ("giúp em với", "help"),
        ("Hướng dẫn", "help"),
        # The worker's own data (stop 31's second outside tester).
        ("tôi muốn xóa thông tin của tôi", "forget"),
        ("delete my data", "forget"),
        ("xem thong tin cua toi", "mydata"),
        ("cho em xem dữ liệu của em", "mydata"),
    ],
)
def test_a_feature_named_in_a_short_message(text: str, command: str) -> None:
    assert feature_named(text) == command


@pytest.mark.parametrize(
    "text",
    [
        "xem ve luong toi thieu",  # "về": about wages, not tickets
        "hỗ trợ pháp lý",  # legal aid is a rights topic
        "cong doan co ho tro khi om dau ko",
        "thuong tet",
        "tet co duoc nghi may ngay",
        # A feature named inside a real question is the question's.
        "công ty có bắt đóng tiền xe Tết không vì lương em thấp quá mà còn bị trừ",
        "ve",
        "",
        # Rights questions about a feature's subject are the Q&A's (found in review).
        "tien xe tet co bi tru luong khong",
        "uu dai cho lao dong nu mang thai",
        "cty tru tien xe tet vao luong",
        "cty khong tra tien xe ve que",
        "phu cap xe tet co tinh thue khong",
        "lao dong nu co uu dai gi khong",
        "giup em tinh luong tang ca",
        "help with unpaid wages",
        "cong ty co duoc xoa du lieu cua toi khong",  # the employer's duty: a rights question
    ],
)
def test_questions_are_not_shortcuts(text: str) -> None:
    assert feature_named(text) is None


async def test_typed_names_run_the_features(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.say("uu dai")
    assert "ưu đãi" in chat.text().lower() and "chỉ có thể giúp về quyền lợi" not in chat.text()
    await chat.say("co xe tet ve que ko")
    assert "chương trình" in chat.text().lower() and "Điều 104" not in chat.text()
    await chat.say("help")
    assert "/news" in chat.text() and "trợ giúp pháp lý" not in chat.text().lower()
    await chat.say("xin hỗ trợ khó khăn")
    assert "Bạn đang gặp khó khăn gì?" in chat.text()
    await chat.say("/cancel")
    # A rights question is still answered by the Q&A.
    await chat.say("lương tối thiểu vùng 1 là bao nhiêu")
    assert "5.310.000" in chat.text()
