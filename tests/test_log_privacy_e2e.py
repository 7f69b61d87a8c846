"""Issue 14 item 2: at DEBUG, no log line holds a worker's words or a secret.

The real bot (Runtime, PTB Application, httpx, aiosqlite) runs against the fake Bot API
on 127.0.0.1 with logging set up exactly as `unionbot run` does it, at DEBUG. A worker
signs up, asks a question and hands it off; an organizer answers it and writes a note on
the sign-up. Every line logged on the way is captured and searched for each name, phone
number (in every spelling), company, question, answer, note and the bot token, also in
JSON-escaped and URL-encoded form.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from bot.logsetup import NOISY_LOGGERS, PHONE, REDACTED, redact, secrets_of, setup_logging
from tests.fakes.telegram_api import FakeTelegramServer, RecordedRequest
from tests.harness import config_for, running_bot, telegram_env

ADMIN, WORKER = 7001, 7002
REPLIES = {"sendMessage", "editMessageText", "sendPhoto", "sendDocument"}

NAME = "Nguyễn Thị Ánh"
PROFILE_FIRST, PROFILE_LAST, USERNAME = "Ánhxinh", "Nguyễnthị", "anh_soi_the_ky"
PHONE_TYPED = "0912 345 678"
PHONES = ("0912 345 678", "0912345678", "+84912345678", "84912345678", "912345678", "+84 912 345 678", "912 345 678")
COMPANY = "Công ty TNHH Sợi Thế Kỷ"
COMMUNE = "KCN Mỹ Phước"
QUESTION = "Quản đốc Trần Văn Bình không trả tiền làm thêm giờ cho em ở xưởng số bảy, công ty giữ căn cước của em"
ANSWER = "Không, chủ sử dụng lao động không được giữ giấy tờ tùy thân bản chính của người lao động."
NOTE = "Đã gọi chị Ánh lúc chiều, hẹn gặp ở cổng xưởng thứ Bảy"
WEBHOOK_SECRET = "wh-secret-4c1d9e7a2b"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Logging as the CLI sets it up, at DEBUG, into a buffer; restored afterwards."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level, {name: logging.getLogger(name).level for name in NOISY_LOGGERS})
    buffer = io.StringIO()
    yield buffer
    for h in list(root.handlers):
        if h not in before[0]:
            root.removeHandler(h)
    for h in root.handlers:
        h.filters = [f for f in h.filters if type(f).__name__ != "RedactingFilter"]
    root.setLevel(before[1])
    for name, level in before[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def fake():  # type: ignore[no-untyped-def]
    async with FakeTelegramServer() as server:
        yield server


async def exchange(fake, update: dict[str, Any], chat_id: int) -> RecordedRequest:  # type: ignore[no-untyped-def]
    mark = fake.mark()
    fake.push_update(update)
    return await fake.wait_for(lambda r: r.method in REPLIES and r.ok, chat_id=chat_id, since=mark, timeout=10)


def text_of(request: RecordedRequest) -> str:
    return str(request.params.get("text") or request.params.get("caption") or "")


def spellings(value: str) -> set[str]:
    """The value as it could appear in a log: plain, JSON-escaped, URL-encoded."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value),
        quote_plus(value),
    }


async def test_a_signup_question_handoff_answer_and_note_at_debug_leak_nothing(fake, tmp_path, debug_log) -> None:
    env = {**telegram_env(fake), "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    cfg = config_for(tmp_path, env=env, toml=f'[bot]\nlog_level = "DEBUG"\n\n[telegram]\nadmins = [{ADMIN}]\n')
    assert fake.token in secrets_of(cfg)
    setup_logging("DEBUG", stream=debug_log, secrets=secrets_of(cfg))

    def worker_says(text: str) -> dict[str, Any]:
        return fake.user_message(WORKER, text, first_name=PROFILE_FIRST, last_name=PROFILE_LAST, username=USERNAME)

    async with running_bot(cfg) as runtime:
        # Sign-up.
        await exchange(fake, worker_says("/start"), WORKER)
        got = await exchange(fake, fake.press_button(WORKER, "✍️ Gia nhập công đoàn"), WORKER)
        assert "Họ và tên" in text_of(got)
        for answer in (NAME, PHONE_TYPED, COMPANY):
            await exchange(fake, worker_says(answer), WORKER)
        await exchange(fake, fake.press_button(WORKER, "Hồ Chí Minh"), WORKER)
        await exchange(fake, worker_says(COMMUNE), WORKER)
        await exchange(fake, fake.press_button(WORKER, "⏭ Bỏ qua"), WORKER)
        await exchange(fake, fake.press_button(WORKER, "✅ Tôi đồng ý"), WORKER)
        got = await exchange(fake, fake.press_button(WORKER, "📨 Gửi đăng ký"), WORKER)
        assert "Cảm ơn" in text_of(got), text_of(got)

        # A free-text question, handed to a union officer.
        await exchange(fake, worker_says(QUESTION), WORKER)
        got = await exchange(fake, fake.press_button(WORKER, "🙋 Hỏi cán bộ công đoàn"), WORKER)
        assert "#1" in text_of(got), text_of(got)

        # The organizer reads the inbox and answers; the answer reaches the worker.
        got = await exchange(fake, fake.user_message(ADMIN, "/inbox"), ADMIN)
        await fake.wait_for(lambda r: "căn cước" in r.params.get("text", ""), method="sendMessage", chat_id=ADMIN)
        await exchange(fake, fake.press_button(ADMIN, "✏️ Trả lời #1"), ADMIN)
        mark = fake.mark()
        fake.push_update(fake.user_message(ADMIN, ANSWER))
        delivered = await fake.wait_for(
            lambda r: "📩" in r.params.get("text", ""), method="sendMessage", chat_id=WORKER, since=mark, timeout=10
        )
        assert ANSWER in text_of(delivered)

        # The organizer looks at the sign-up (name and phone on screen) and adds a note.
        got = await exchange(fake, fake.user_message(ADMIN, "/signups 1"), ADMIN)
        assert NAME in text_of(got) and "+84912345678" in text_of(got)
        await exchange(fake, fake.press_button(ADMIN, "📝 Thêm ghi chú"), ADMIN)
        got = await exchange(fake, fake.user_message(ADMIN, NOTE), ADMIN)
        assert NOTE in text_of(got)
        assert len(await runtime.store.questions_of((await runtime.store.find_user("telegram", str(WORKER))).id)) == 1
    assert fake.internal_errors == []

    log = debug_log.getvalue()
    # The capture worked: our own lines are there, at the level that was asked for.
    assert "inbox: user" in log and "inbox: organizer" in log, log[-2000:]
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG

    _, token_secret = fake.token.split(":", 1)
    needles = {
        "name": NAME,
        "name (family)": "Nguyễn Thị",
        "profile first name": PROFILE_FIRST,
        "profile last name": PROFILE_LAST,
        "username": USERNAME,
        "company": COMPANY,
        "commune": COMMUNE,
        "question": QUESTION,
        "question (part)": "Trần Văn Bình",
        "answer": ANSWER,
        "answer (part)": "giấy tờ tùy thân",
        "note": NOTE,
        "note (part)": "cổng xưởng",
        "token": fake.token,
        "token secret": token_secret,
        "webhook secret": WEBHOOK_SECRET,
        **{f"phone {p!r}": p for p in PHONES},
    }
    leaks = {label: s for label, value in needles.items() for s in spellings(value) if s in log}
    assert not leaks, f"leaked into the DEBUG log: {leaks}"


def test_redaction_of_secrets_urls_fields_and_phones() -> None:
    setup_logging("WARNING", stream=io.StringIO(), secrets=["s3cr3t-value-xyz"])
    try:
        assert redact("key s3cr3t-value-xyz here") == f"key {REDACTED} here"
        url = "POST https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
        assert "AAHdq" not in redact(url) and "/sendMessage" in redact(url)
        assert "AAHdq" not in redact("token 123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
        for text in (
            '{"access_token": "abcDEF123"}',
            "refresh_token=abcDEF123&x=1",
            "X-Telegram-Bot-Api-Secret-Token: abcDEF123",
            "oa_secret_key='abcDEF123'",
        ):
            assert "abcDEF123" not in redact(text), text
        for phone in (
            "0912345678",
            "0912 345 678",
            "0912.345.678",
            "+84912345678",
            "+84 912 345 678",
            "(+84) 912-345-678",
            "84912345678",
            "028 3829 1234",
            "+1 415 555 0100",
        ):
            assert redact(f"call {phone} now") == f"call {PHONE} now", phone
        # Ids, times, dates and scores are not phone numbers.
        for keep in (
            "user 42 question 7",
            "update 123456789",
            "chat -1001234567890",
            "at 2026-12-03 09:35:34",
            "score=0.52",
            "03/12/2026 07:00",
            "broadcast 12 running for 900 recipients",
        ):
            assert redact(keep) == keep, keep
    finally:
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "unionbot", False)]:
            root.removeHandler(h)
        for h in root.handlers:
            h.filters = [f for f in h.filters if type(f).__name__ != "RedactingFilter"]


def test_library_chatter_below_warning_is_dropped_and_tracebacks_redacted() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    setup_logging("DEBUG", stream=buffer)
    try:
        logging.getLogger("some.library").debug("update %s", {"text": "tên tôi là Lan"})
        logging.getLogger("some.library").info("GET /botX")
        logging.getLogger("bot.channels.telegram").info("user %s", 42)
        try:
            raise ValueError("bad number 0912345678")
        except ValueError:
            logging.getLogger("bot.x").exception("failed")
        out = buffer.getvalue()
        assert "Lan" not in out and "/botX" not in out
        assert "user 42" in out and "failed" in out and "ValueError" in out
        assert "0912345678" not in out and PHONE in out
    finally:
        for h in [h for h in root.handlers if getattr(h, "unionbot", False)]:
            root.removeHandler(h)
        for h in root.handlers:
            h.filters = [f for f in h.filters if type(f).__name__ != "RedactingFilter"]
        root.setLevel(level)
