"""Subscriptions, opt-out, and the organizers' composer and management screens, through
the real dispatcher and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.broadcasts.render import render_message
from handlers.context import Services
from handlers.i18n import load_catalog
from handlers.types import Inbound, InboundKind
from storage import Role, Store
from storage.broadcasts import (
    Audience,
    BroadcastKind,
    BroadcastStatus,
    DeliveryResult,
    DeliveryStatus,
    NewBroadcast,
)
from tests.fakes.broadcast_support import OPTS, RecordingControl, add_workers


@pytest.fixture
def control() -> RecordingControl:
    return RecordingControl()


@pytest.fixture
def services(store: Store, settings, control: RecordingControl) -> Services:  # type: ignore[no-untyped-def]
    # Overrides conftest's: the same services with topics and a delivery control.
    return Services(store, load_catalog(), settings, broadcast_options=OPTS, broadcast_control=control)


async def organizer(make_chat, store: Store, user_id: str = "org"):  # type: ignore[no-untyped-def]
    """An officer who may write to the whole country: since issue 14 that is an admin;
    a province organizer's broadcasts are tested in tests/test_scope.py."""
    chat = make_chat(user_id)
    await chat.say("/start")
    user = await store.find_user("test", user_id)
    await store.set_role(user.id, Role.ADMIN)
    return chat


# -- workers -------------------------------------------------------------------
async def test_news_screen_toggles_topics_with_buttons(chat, store: Store) -> None:
    await chat.say("/news")
    assert "Bấm vào một chủ đề" in chat.text() and "chưa đăng ký" in chat.text()
    assert chat.payloads()[:6] == [f"sub:t:{t.id}" for t in OPTS.topics]
    assert chat.labels()[0] == "➕ Tháng Công nhân"
    await chat.press("sub:t:workers_month")
    assert chat.last[0].edit is True and chat.labels()[0] == "✅ Tháng Công nhân"
    assert "✅ Tháng Công nhân: Hoạt động tháng 5." in chat.text()
    user = await store.find_user("test", "u1")
    assert await store.subscriptions(user.id) == {"workers_month"}
    await chat.press("sub:t:workers_month")
    assert await store.subscriptions(user.id) == set()
    await chat.press_label("Nhận tất cả")
    assert await store.subscriptions(user.id) == {t.id for t in OPTS.topics}
    await chat.press("sub:t:not_a_topic")
    assert "không còn dùng được" in chat.text()


async def test_main_menu_news_button_opens_subscriptions(chat) -> None:
    await chat.say("/start")
    await chat.press_label("Nhận thông báo")
    assert chat.payloads()[0] == "sub:t:workers_month"


async def test_english_worker_sees_english_topics(chat, store: Store) -> None:
    await chat.say("/lang en")
    await chat.say("/news")
    assert "Tap a topic" in chat.text() and chat.labels()[0] == "➕ Workers' Month"


@pytest.mark.parametrize("word", ["dừng", "Hủy", "huỷ", "thôi nhận tin", "stop", "Unsubscribe", "/stop", "Stop please"])
async def test_stop_and_opt_out_words_unsubscribe_from_everything(make_chat, store: Store, word: str) -> None:
    chat = make_chat("w")
    (user,) = await add_workers(store, ["w"], topics=["workers_month", "union_news"], channel="test")
    await chat.say(word)
    assert "Đã dừng" in chat.text()
    assert await store.subscriptions(user.id) == set() and await store.is_opted_out(user.id)
    await chat.press_label("Nhận lại như trước")
    assert "Đã đăng ký lại" in chat.text()
    assert await store.subscriptions(user.id) == {"workers_month", "union_news"}


async def test_a_sentence_containing_such_a_word_is_not_an_opt_out(chat, store: Store) -> None:
    await chat.say("/start")
    user = await store.find_user("test", "u1")
    await store.subscribe(user.id, ["workers_month"])
    for text in ("công ty bắt dừng việc không báo trước", "làm sao để hủy hợp đồng lao động", "stop it please now"):
        await chat.say(text)
        assert "Đã dừng" not in chat.text()
    assert await store.subscriptions(user.id) == {"workers_month"}


@pytest.mark.parametrize(("answer", "stopped"), [("có", True), ("ok", True), ("không", False), ("đúng", False)])
async def test_a_typed_yes_or_no_answers_the_stop_question(make_chat, store: Store, answer: str, stopped: bool) -> None:
    chat = make_chat("w")
    (user,) = await add_workers(store, ["w"], topics=["workers_month"], channel="test")
    await chat.say("dung")
    assert "Bạn muốn dừng nhận thông báo?" in chat.text()
    await chat.say(answer)
    assert ("Đã dừng" in chat.text()) is stopped
    assert (await store.subscriptions(user.id) == set()) is stopped
    if answer == "đúng":  # never an unsubscribe (issue 9): the question and its buttons again
        assert "Bạn muốn dừng nhận thông báo?" in chat.text()
    if answer == "không":
        # Asked once: "có" typed after the answer is an ordinary message again.
        await chat.say("có")
        assert "Đã dừng" not in chat.text() and await store.subscriptions(user.id) == {"workers_month"}


async def test_the_stop_question_takes_dung_with_diacritics_and_expires(make_chat, store: Store) -> None:
    chat = make_chat("w")
    (user,) = await add_workers(store, ["w"], topics=["workers_month"], channel="test")
    await chat.say("dung")
    await chat.say("dừng")  # written with its diacritics: stop, as anywhere else
    assert "Đã dừng" in chat.text() and await store.subscriptions(user.id) == set()
    await store.subscribe(user.id, ["workers_month"])
    await chat.say("dung")
    then = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
    await store.db.execute("UPDATE conversation_state SET updated_at = ?", (then,))
    await chat.say("có")  # an hour later: not an answer to that question any more
    assert "Đã dừng" not in chat.text() and await store.subscriptions(user.id) == {"workers_month"}


async def test_stop_button_on_the_news_screen(chat, store: Store) -> None:
    await chat.say("/news")
    await chat.press("sub:t:osh_month")
    await chat.press_label("Ngừng nhận tất cả")
    assert "Đã dừng" in chat.text()
    await chat.press_label("Chọn chủ đề")
    assert chat.labels()[1] == "➕ Tháng ATVSLĐ"


async def test_writing_again_after_blocking_makes_the_worker_reachable(chat, store: Store) -> None:
    await chat.say("/news")
    await chat.press("sub:t:workers_month")
    user = await store.find_user("test", "u1")
    await store.set_reachable(user.id, False)  # a 403 during a broadcast
    assert await store.count_audience(Audience(topics=("workers_month",))) == 0
    await chat.say("xin chào")
    user = await store.find_user("test", "u1")
    assert user.reachable and await store.subscriptions(user.id) == {"workers_month"}
    assert await store.count_audience(Audience(topics=("workers_month",))) == 1


# -- organizers: who may ------------------------------------------------------------
async def test_workers_cannot_reach_any_organizer_step(chat, store: Store) -> None:
    b = await store.create_broadcast(NewBroadcast("x", Audience(everyone=True), run_at=datetime.now(UTC)))
    for action in (
        chat.say("/broadcast"),
        chat.say("/broadcast new"),
        chat.press("bcc:new"),
        chat.press("bcc:confirm"),
        chat.press("bcm:list"),
        chat.press(f"bcm:cancel_yes:{b.id}"),
        chat.press(f"bcm:pause:{b.id}"),
    ):
        await action
        assert "chỉ dành cho cán bộ công đoàn" in chat.text()
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.SCHEDULED
    user = await store.find_user("test", "u1")
    assert await store.get_state(user.id) is None


async def test_role_revoked_in_the_middle_of_composing(make_chat, store: Store) -> None:
    org = await organizer(make_chat, store)
    await org.say("/broadcast new")
    await org.say("Chào mừng Tháng Công nhân")
    user = await store.find_user("test", "org")
    await store.set_role(user.id, Role.WORKER)
    await org.press("bcc:skip_en")
    assert "chỉ dành cho cán bộ công đoàn" in org.text()
    await org.say("English text")
    assert "chỉ dành cho cán bộ công đoàn" in org.text()
    assert await store.get_state(user.id) is None, "the draft is no longer theirs"
    assert await store.list_broadcasts() == []


# -- organizers: composing -----------------------------------------------------------
async def test_compose_in_the_chat_end_to_end(make_chat, store: Store, control: RecordingControl) -> None:
    await add_workers(store, range(1, 4), topics=["workers_month"])
    await add_workers(store, [9], topics=["osh_month"])
    org = await organizer(make_chat, store)
    await org.say("/broadcast")
    await org.press_label("Soạn thông báo mới")
    assert "bước 1/4" in org.text()
    await org.say("Chào mừng Tháng Công nhân 2025! Hội thao ngày 1/5 tại nhà văn hoá.")
    assert "tiếng Anh" in org.text()
    await org.say("Welcome to Workers' Month 2025! Sports day on 1 May.")
    assert "Kèm một ảnh" in org.text()
    await org.press_label("Không kèm ảnh")
    assert "bước 2/4" in org.text() and "Chưa chọn ai" in org.text()
    await org.press_label("Tiếp")
    assert "ít nhất một chủ đề" in org.text(), "no audience, no next step"
    await org.press_label("Tháng Công nhân")
    assert org.last[0].edit is True and "khoảng 3 người" in org.text()
    await org.press_label("Tiếp")
    assert "bước 3/4" in org.text()
    await org.press_label("Gửi ngay")
    catalog = load_catalog()
    vi = render_message(catalog, "vi", "Chào mừng Tháng Công nhân 2025! Hội thao ngày 1/5 tại nhà văn hoá.", "x")
    en = render_message(catalog, "en", "y", "Welcome to Workers' Month 2025! Sports day on 1 May.")
    texts = [r.text for r in org.last]
    assert texts[1] == vi.text and texts[2] == en.text, "the preview is exactly what workers get"
    assert "3 người" in texts[3] and "gửi ngay" in texts[3]
    await org.press_label("Xác nhận")
    assert "Đã lên lịch thông báo #1" in org.text()
    (b,) = await store.list_broadcasts()
    assert b.kind is BroadcastKind.ONCE and b.status is BroadcastStatus.SCHEDULED
    assert b.audience == Audience(topics=("workers_month",)) and b.text_en.startswith("Welcome")
    assert control.changed_ids == [b.id]
    assert (await store.list_audit(action="broadcast.create"))[0].target == f"broadcast:{b.id}"
    assert await store.get_state((await store.find_user("test", "org")).id) is None
    await org.press("bcc:confirm")
    assert "không còn nữa" in org.text(), "confirming twice does not create two broadcasts"
    assert len(await store.list_broadcasts()) == 1


async def test_compose_at_a_time_in_quiet_hours_and_filters(make_chat, store: Store) -> None:
    await add_workers(store, [1], topics=["legal_updates"], language="en")
    await add_workers(store, [2], topics=["legal_updates"], language="vi")
    org = await organizer(make_chat, store)
    await org.say("/broadcast new")
    await org.say("Nghị định mới về lương tối thiểu")
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:t:legal_updates")
    await org.press("bcc:lang")  # any -> vi
    assert "ngôn ngữ: tiếng Việt" in org.text() and "khoảng 1 người" in org.text()
    await org.press("bcc:role")  # any -> worker
    assert "vai trò: người lao động" in org.text()
    await org.press("bcc:aud_ok")
    await org.press("bcc:at")
    await org.say("ngày mai")
    assert "chưa đọc được" in org.text()
    await org.say("01/05/2020 08:00")
    assert "đã qua" in org.text()
    await org.say("01/05/2099 22:30")
    assert "giờ yên lặng" in org.text() and "02/05/2099 07:00" in org.text()
    await org.press("bcc:confirm")
    (b,) = await store.list_broadcasts()
    assert b.audience == Audience(topics=("legal_updates",), language="vi", roles=("worker",))
    assert b.run_at == datetime(2099, 5, 1, 15, 30, tzinfo=UTC)


async def test_compose_recurring_every_monday_during_may(make_chat, store: Store) -> None:
    org = await organizer(make_chat, store)
    await org.say("/broadcast new")
    await org.say("Sinh hoạt công đoàn tối thứ Hai")
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:all")
    await org.press("bcc:aud_ok")
    await org.press("bcc:every")
    await org.press_label("Thứ Hai")
    await org.say("7 giờ tối")
    assert "chưa đọc được giờ" in org.text()
    await org.say("19:00")
    await org.say("01/05/2099 - 31/05/2099")
    assert "mỗi Thứ Hai lúc 19:00" in org.text() and "04/05/2099 19:00" in org.text()
    await org.press("bcc:confirm")
    (s,) = await store.list_broadcasts()
    assert s.is_series and s.cron == "0 19 * * mon" and s.audience.everyone
    assert s.run_at == datetime(2099, 5, 4, 12, 0, tzinfo=UTC)
    assert s.until == datetime(2099, 5, 31, 16, 59, 59, tzinfo=UTC)


async def test_compose_rejects_stale_buttons_photos_and_empty_periods(make_chat, store: Store, dispatcher) -> None:
    org = await organizer(make_chat, store)
    await org.press("bcc:now")
    assert "không còn nữa" in org.text()
    await org.say("/broadcast new")
    await org.press("bcc:now")
    assert "bước trước" in org.text() and "bước 1/4" in org.text()
    replies = await dispatcher.handle(Inbound("test", "org", InboundKind.UNSUPPORTED))
    assert "bước kèm ảnh" in replies[0].text
    await org.say("a" * 5000)
    assert "5000" in org.text()
    await org.say("dừng")  # inside the composer this is the text, not an opt-out
    user = await store.find_user("test", "org")
    assert (await store.get_state(user.id)).data["text_vi"] == "dừng"
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:t:union_news")
    await org.press("bcc:aud_ok")
    await org.press("bcc:every")
    await org.press("bcc:day:6")
    await org.say("08:00")
    await org.say("01/05/2099 - 01/05/2099")  # a Friday: no Sunday in that period
    assert "không có lần gửi nào" in org.text()
    await org.press_label("Huỷ soạn")
    assert "Đã huỷ bản nháp" in org.text() and await store.get_state(user.id) is None


async def test_compose_province_filter(make_chat, store: Store) -> None:
    org = await organizer(make_chat, store)
    await make_chat("admin").say(f"/scope {org.user_id} ha_noi bac_ninh")
    await org.say("/broadcast new")
    await org.say("Tin cho Hà Nội")
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:all")
    await org.press("bcc:prov")
    await org.say("Hà Nội, Atlantis")
    assert "Atlantis" in org.text()
    await org.say("ha noi, Bắc Ninh")
    assert "tỉnh/thành: Hà Nội, Bắc Ninh" in org.text()
    await org.press("bcc:aud_ok")
    await org.press("bcc:now")
    await org.press("bcc:confirm")
    (b,) = await store.list_broadcasts()
    assert b.audience.provinces == ("ha_noi", "bac_ninh")


# -- organizers: managing ------------------------------------------------------------
async def test_list_show_pause_resume_cancel(make_chat, store: Store, control: RecordingControl) -> None:
    await add_workers(store, range(1, 4))
    org = await organizer(make_chat, store)
    b = await store.create_broadcast(
        NewBroadcast("Thông báo A", Audience(topics=("workers_month",)), run_at=datetime(2099, 5, 1, tzinfo=UTC))
    )
    await org.say("/broadcast list")
    assert f"#{b.id}" in org.text() and "đã lên lịch" in org.text()
    await org.press(f"bcm:show:{b.id}")
    assert "Tạm dừng" in " ".join(org.labels())
    await org.press(f"bcm:pause:{b.id}")
    assert "Đã tạm dừng" in org.text() and (await store.get_broadcast(b.id)).status is BroadcastStatus.PAUSED
    await org.press(f"bcm:pause:{b.id}")
    assert "Không thực hiện được" in org.text()
    await org.press(f"bcm:resume:{b.id}")
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.SCHEDULED
    await store.materialize_audience(b.id)
    await org.press(f"bcm:cancel:{b.id}")
    assert "Huỷ thông báo" in org.text()
    await org.press_label("Có, huỷ")
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.CANCELLED
    assert (await store.delivery_stats(b.id)).skipped_by_reason == {"cancelled": 3}
    await org.press(f"bcm:show:{b.id}")
    assert "Lý do: " in org.text() and "cancelled" not in org.text()  # the reason in Vietnamese
    assert control.changed_ids == [b.id, b.id, b.id]
    actions = [e.action for e in await store.list_audit()]
    assert actions[:3] == ["broadcast.cancel", "broadcast.resume", "broadcast.pause"]
    for payload in ("bcm:show:999", "bcm:show:abc", "bcm:show", "bcm:zap:1"):
        await org.press(payload)
        assert "Không tìm thấy" in org.text()


async def test_resend_to_failed_only(make_chat, store: Store) -> None:
    users = await add_workers(store, range(1, 4))
    org = await organizer(make_chat, store)
    b = await store.create_broadcast(NewBroadcast("B", Audience(topics=("workers_month",)), run_at=datetime.now(UTC)))
    await store.materialize_audience(b.id)
    ids = [r.delivery_id for r in await store.queued_deliveries(b.id, after_id=0, limit=9)]
    await store.journal_deliveries(b.id, ids, [])
    await store.journal_deliveries(
        b.id,
        [],
        [
            DeliveryResult(ids[0], DeliveryStatus.SENT),
            DeliveryResult(ids[1], DeliveryStatus.FAILED, "bad_request: x"),
            DeliveryResult(ids[2], DeliveryStatus.FAILED, "blocked"),
        ],
    )
    await store.set_reachable(users[2].id, False)
    await org.press(f"bcm:resend:{b.id}")
    assert "Không có ai" in org.text(), "only a finished broadcast is resent"
    await store.set_broadcast_status(b.id, BroadcastStatus.DONE)
    await org.press(f"bcm:show:{b.id}")
    assert "đã gửi 1" in org.text() and "lỗi 2 (chặn bot 1)" in org.text()
    await org.press_label("Gửi lại cho người bị lỗi")
    assert "1 người" in org.text()
    got = await store.get_broadcast(b.id)
    assert got.status is BroadcastStatus.RUNNING
    assert (await store.delivery_stats(b.id)).queued == 1


async def test_province_filter_is_limited_to_the_organizers_provinces(make_chat, store) -> None:
    admin, org = make_chat("admin"), make_chat("org-hcm")
    await org.say("/start")
    await admin.say("/grant org-hcm organizer")
    await admin.say("/scope org-hcm ho_chi_minh")
    await org.say("/broadcast")
    await org.press("bcc:new")
    await org.say("Xin chào các bạn công nhân")
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:all")
    await org.press("bcc:prov")
    await org.say("Hà Nội")
    assert "Hà Nội" in org.text() and "Hồ Chí Minh" in org.text()  # refused, with what is allowed
    assert "khoảng" not in org.text(), "no audience count for a province outside the scope"
    await org.say("Sài Gòn")
    assert "Hồ Chí Minh" in org.text() and "phụ trách" not in org.text()
