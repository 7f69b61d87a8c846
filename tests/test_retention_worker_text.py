"""Issue 14 item 6: everything that holds a worker's words expires like the sign-up form.

Free-text questions remembered for "ask a union officer", drafts and notes live in
conversation_state; handed-off questions and answers in `questions`. With the clock at
now + 400 days none of it may be left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.signup_retention import purge_expired
from handlers.join.form import FORM_TTL

QUESTION = "Công ty nợ lương em ba tháng rồi, em phải làm sao để đòi lại ạ?"


async def _state_rows(store) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with store.db.execute("SELECT flow, data FROM conversation_state") as cur:
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def test_free_text_questions_and_drafts_are_gone_at_now_plus_400_days(make_chat, store) -> None:
    worker = make_chat("w1")
    await worker.say(QUESTION)  # answered by the knowledge base, remembered for the hand-off
    typing = make_chat("w2")
    await typing.say("/ask")  # waiting for the question to be typed
    admin = make_chat("admin")
    await admin.say("/broadcast new")
    await admin.say("Họp công đoàn tối thứ Sáu tại nhà văn hoá")  # a draft holding text

    rows = await _state_rows(store)
    assert {flow for flow, _ in rows} >= {"qa", "ask", "bc_compose"}
    assert any(QUESTION in data for _, data in rows), "the question is remembered for the hand-off"

    # Nothing goes early: a day later everything is still there.
    now = datetime.now(UTC)
    assert await purge_expired(store, 24, now=now + timedelta(days=1)) == (0, 0)
    assert len(await _state_rows(store)) == len(rows)

    signups, states = await purge_expired(store, 24, now=now + timedelta(days=400))
    assert (signups, states) == (0, len(rows))
    assert await _state_rows(store) == []
    assert (await store.list_audit(action="signups.purge"))[0].details["forms"] == len(rows)


async def test_state_follows_the_form_clock_not_the_flow(store) -> None:
    u = await store.touch_user("test", "w", language="vi")
    await store.set_state(u.id, "some_future_flow", "x", {"text": QUESTION})
    now = datetime.now(UTC)
    assert await purge_expired(store, 24, now=now + FORM_TTL - timedelta(minutes=1)) == (0, 0)
    assert await purge_expired(store, 24, now=now + FORM_TTL + timedelta(minutes=1)) == (0, 1)
    assert await store.get_state(u.id) is None


async def test_handed_off_questions_and_answers_follow_the_signup_retention(make_chat, store) -> None:
    worker = make_chat("w1")
    await worker.say(f"/ask {QUESTION}")
    await worker.say("/ask Em bị đuổi việc khi đang mang thai có đúng luật không?")
    admin = make_chat("admin")
    await admin.say("/reply 1 Bạn có quyền khiếu nại lên công đoàn cơ sở.")
    user = await store.find_user("test", "w1")
    assert len(await store.questions_of(user.id)) == 2

    now = datetime.now(UTC)
    # 400 days is inside 24 months: kept.
    await purge_expired(store, 24, now=now + timedelta(days=400))
    assert len(await store.questions_of(user.id)) == 2
    # With 12 months' retention, 400 days later both the answered and the open one go.
    await purge_expired(store, 12, now=now + timedelta(days=400))
    assert await store.questions_of(user.id) == []
    async with store.db.execute("SELECT COUNT(*) FROM questions") as cur:
        assert (await cur.fetchone())[0] == 0
    entry = (await store.list_audit(action="signups.purge"))[0]
    assert entry.details["questions"] == 2
