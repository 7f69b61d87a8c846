"""Joining the union over Telegram: the real bot (Runtime, TelegramChannel on PTB)
against the fake Bot API on 127.0.0.1, from a volunteer's QR code to an organizer's
Excel file."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import openpyxl
import pytest

from storage import Role
from storage.signups import SignupSource
from tests.fakes.telegram_api import FakeTelegramServer, RecordedRequest
from tests.harness import config_for, running_bot, telegram_env

ADMIN, VOLUNTEER, WORKER = 6001, 6002, 6003
ALERT_CHAT = -1001234567890
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPLIES = {"sendMessage", "editMessageText", "sendPhoto", "sendDocument"}


@pytest.fixture
async def fake():  # type: ignore[no-untyped-def]
    async with FakeTelegramServer() as server:
        server.register_chat(ALERT_CHAT, chat_type="supergroup", title="Công đoàn TP.HCM - đăng ký mới")
        yield server


async def exchange(fake, update: dict[str, Any], chat_id: int, *, keyboard: bool = False) -> RecordedRequest:  # type: ignore[no-untyped-def]
    """Push an update and wait for the bot's answer in that chat (the one with buttons)."""
    mark = fake.mark()
    fake.push_update(update)
    return await fake.wait_for(
        lambda r: r.method in REPLIES and r.ok and (not keyboard or "reply_markup" in r.params),
        chat_id=chat_id,
        since=mark,
        timeout=10,
    )


def text_of(request: RecordedRequest) -> str:
    return str(request.params.get("text") or request.params.get("caption") or "")


async def download(runtime, file_id: str) -> bytes:  # type: ignore[no-untyped-def]
    """Fetch a file the bot sent, through the real client's getFile and file URL."""
    bot = runtime.test_channels[0].application.bot
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


async def test_worker_joins_through_a_volunteers_qr_code(fake, tmp_path, db_url) -> None:
    toml = f"[telegram]\nadmins = [{ADMIN}]\n\n[join.alert_chats]\nho_chi_minh = [{ALERT_CHAT}]\n"
    cfg = config_for(tmp_path, env=telegram_env(fake), toml=toml, db=db_url)
    async with running_bot(cfg) as runtime:
        store = runtime.store
        assert runtime.services.settings.bot_username == "unionbot_test_bot"

        # A volunteer gets their link and QR code.
        await exchange(fake, fake.user_message(VOLUNTEER, "/start"), VOLUNTEER)
        volunteer = await store.find_user("telegram", str(VOLUNTEER))
        await store.set_role(volunteer.id, Role.VOLUNTEER)
        sent = await exchange(fake, fake.user_message(VOLUNTEER, "/volunteer"), VOLUNTEER)
        assert sent.method == "sendPhoto"
        link = re.search(r"https://t\.me/unionbot_test_bot\?start=(v_[A-Za-z0-9]+)", text_of(sent))
        assert link is not None, text_of(sent)
        code = link.group(1)
        photo = fake.sent_messages(VOLUNTEER)[-1]["photo"][-1]
        assert (await download(runtime, photo["file_id"])).startswith(PNG_MAGIC)

        # The worker scans it: Telegram sends /start <code>.
        mark = fake.mark()
        fake.push_update(fake.user_message(WORKER, f"/start {code}"))
        # Two messages: the thanks with the sign-up button, then the menu.
        await fake.wait_for(lambda r: "Xin chào" in text_of(r), chat_id=WORKER, since=mark, timeout=10)
        thanks = fake.requests("sendMessage", chat_id=WORKER)[0]
        assert "tình nguyện viên" in text_of(thanks)
        press = fake.press_button(WORKER, "✍️ Đăng ký gia nhập ngay", message_id=thanks.result["message_id"])
        first = await exchange(fake, press, WORKER)
        assert "Họ và tên" in text_of(first)
        for answer, expect in (
            ("Nguyễn Thị Ánh", "Số điện thoại"),
            ("0912 345 678", "công ty"),
            ("Công ty TNHH Sợi Thế Kỷ", "tỉnh/thành phố"),
        ):
            got = await exchange(fake, fake.user_message(WORKER, answer), WORKER)
            assert expect in text_of(got), text_of(got)
        got = await exchange(fake, fake.press_button(WORKER, "Hồ Chí Minh"), WORKER)
        assert got.method == "editMessageText" and "Xã/phường" in text_of(got)
        got = await exchange(fake, fake.user_message(WORKER, "KCN Mỹ Phước"), WORKER)
        assert "Bạn có đồng ý không?" in text_of(got), "no referral question: the link carried the code"
        got = await exchange(fake, fake.press_button(WORKER, "✅ Tôi đồng ý"), WORKER)
        assert "Kiểm tra lại" in text_of(got) and "+84912345678" in text_of(got)
        mark = fake.mark()
        got = await exchange(fake, fake.press_button(WORKER, "📨 Gửi đăng ký"), WORKER)
        assert "Cảm ơn" in text_of(got) and "+84 9•• ••• •78" in text_of(got)

        alert = await fake.wait_for(method="sendMessage", chat_id=ALERT_CHAT, since=mark, timeout=10)
        assert "Hồ Chí Minh" in text_of(alert) and "/signups" in text_of(alert)
        assert "912" not in text_of(alert) and "Ánh" not in text_of(alert)

        worker = await store.find_user("telegram", str(WORKER))
        signup = await store.signup_of_user(worker.id)
        assert signup is not None
        assert (signup.source, signup.volunteer_id, signup.consent_channel) == (
            SignupSource.REFERRAL,
            volunteer.id,
            "telegram",
        )

        # An old button of the finished form.
        review = next(m for m in fake.sent_messages(WORKER) if "Câu 1/" in (m.get("text") or ""))
        got = await exchange(
            fake,
            fake.callback_query(
                WORKER, review["reply_markup"]["inline_keyboard"][0][0]["callback_data"], review["message_id"]
            ),
            WORKER,
        )
        assert "đã xong" in text_of(got)

        # The organizer (an admin here) exports, one file per request, built in the export
        # worker process: the files open with correct Vietnamese.
        got = await exchange(fake, fake.user_message(ADMIN, "/export"), ADMIN)
        assert "CSV" in str(got) and not fake.requests("sendDocument", chat_id=ADMIN)
        await exchange(fake, fake.user_message(ADMIN, "/export xlsx"), ADMIN)
        await fake.wait_for(method="sendDocument", chat_id=ADMIN, timeout=20)
        await exchange(fake, fake.user_message(ADMIN, "/export csv"), ADMIN)
        await fake.wait_for(
            lambda r: len(fake.requests("sendDocument", chat_id=ADMIN)) == 2,
            method="sendDocument",
            chat_id=ADMIN,
            timeout=20,
        )
        docs = [m["document"] for m in fake.sent_messages(ADMIN) if "document" in m]
        assert [d["file_name"].rsplit(".", 1)[1] for d in docs] == ["xlsx", "csv"]
        book = openpyxl.load_workbook(io.BytesIO(await download(runtime, docs[0]["file_id"])))
        row = next(book.active.iter_rows(min_row=2, values_only=True))
        assert (row[2], row[3], row[5], row[6]) == ("Nguyễn Thị Ánh", "+84912345678", "Hồ Chí Minh", "KCN Mỹ Phước")
        raw = await download(runtime, docs[1]["file_id"])
        assert raw.startswith(b"\xef\xbb\xbf")
        assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))[1][2] == "Nguyễn Thị Ánh"
        assert (await store.list_audit(action="signups.export"))[0].details["via"] == "telegram"

        # Progress against a target, with the chart.
        await exchange(fake, fake.user_message(ADMIN, "/targets set hcm 100"), ADMIN)
        chart = await fake.wait_for(method="sendPhoto", chat_id=ADMIN, timeout=10)
        assert "1 / kế hoạch 100" in text_of(chart)

        # The worker erases everything.
        await exchange(fake, fake.user_message(WORKER, "/forget"), WORKER)
        got = await exchange(fake, fake.press_button(WORKER, "🗑 Xóa hết"), WORKER)
        assert "Đã xóa" in text_of(got)
        assert await store.find_user("telegram", str(WORKER)) is None
        assert await store.list_signups(provinces=None) == []
    assert fake.internal_errors == []


ORGANIZER = 6010


async def test_the_call_promised_after_a_sign_up_is_announced_to_the_provinces_organizer(fake, tmp_path) -> None:
    """The confirmation says "the officers of Hồ Chí Minh will call you": with no alert chat
    for the province, its organizer is told in their own Telegram chat, by number only
    (until stop 30 nobody was)."""
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:
        store = runtime.store
        await exchange(fake, fake.user_message(ORGANIZER, "/start"), ORGANIZER)
        officer = await store.find_user("telegram", str(ORGANIZER))
        await store.set_role(officer.id, Role.ORGANIZER)
        await store.add_organizer_provinces(officer.id, ["ho_chi_minh"], None)
        for answer, expect in (
            ("/join", "Họ và tên"),
            ("Nguyễn Thị Ánh", "Số điện thoại"),
            ("0912 345 678", "công ty"),
            ("Công ty TNHH Sợi Thế Kỷ", "tỉnh/thành phố"),
            ("Hồ Chí Minh", "Xã/phường"),
            ("KCN Mỹ Phước", "giới thiệu"),
        ):
            got = await exchange(fake, fake.user_message(WORKER, answer), WORKER)
            assert expect in text_of(got), text_of(got)
        await exchange(fake, fake.press_button(WORKER, "⏭ Bỏ qua"), WORKER)
        await exchange(fake, fake.press_button(WORKER, "✅ Tôi đồng ý"), WORKER)
        mark = fake.mark()
        got = await exchange(fake, fake.press_button(WORKER, "📨 Gửi đăng ký"), WORKER)
        assert "sẽ gọi cho bạn" in text_of(got) and "Hồ Chí Minh" in text_of(got)
        signup = await store.signup_of_user((await store.find_user("telegram", str(WORKER))).id)
        told = await fake.wait_for(method="sendMessage", chat_id=ORGANIZER, since=mark, timeout=10)
        assert text_of(told).startswith(f"🆕 Đăng ký mới #{signup.id} ở Hồ Chí Minh")
        assert "912" not in text_of(told) and "Ánh" not in text_of(told)
        # The organizer follows the notice to the sign-up, with the number to call.
        got = await exchange(fake, fake.user_message(ORGANIZER, f"/signups {signup.id}"), ORGANIZER)
        assert "Nguyễn Thị Ánh" in text_of(got) and "912" in text_of(got).replace(" ", "")
