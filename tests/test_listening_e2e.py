"""Listening to workers, end to end on the fake Bot API and the fake Zalo Bot server:
an organizer composes a poll in the chat, the broadcast engine delivers it to 12
subscribers on Telegram (buttons) and Zalo (numbered choices), they answer, and
`unionbot poll results --json` shows the counts with small province cells hidden;
three anonymous reports about one company in three spellings raise one alert, and
the stored reports cannot be joined back to the people who sent them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3

from bot.cli import main
from storage.signups import SignupDraft, SignupSource
from tests.fakes.telegram_api import FakeTelegramServer
from tests.fakes.zalo_servers import FakeZaloBot, bot_text_update
from tests.harness import bot_idle, config_for, running_bot, telegram_env, wait_until

ORGANIZER = 9300
HN_TG = [201, 202, 203, 204, 205, 206, 207]  # Hà Nội, Telegram
BN_TG = [208, 209]  # Bắc Ninh, Telegram
BN_ZALO = ["zb01", "zb02", "zb03"]  # Bắc Ninh, Zalo Bot
ALERT_CHAT = -100777
REPORTERS = [5550000301, 5550000302, 5550000303, 5550000304]  # Bắc Ninh workers (long ids: no chance match in a hash)

CONFIG = f"""
[telegram]
admins = [{ORGANIZER}]

[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"

[[broadcast.topics]]
id = "union_news"
name_vi = "Tin công đoàn"
name_en = "Union news"

[zalo]
night_start = "00:00"
night_end = "00:00"

[join]
alert_chats = {{ bac_ninh = [{ALERT_CHAT}] }}
"""


async def say(fake: FakeTelegramServer, user: int, text: str) -> str:
    mark = fake.mark()
    fake.push_update(fake.user_message(user, text))
    r = await fake.wait_for(method="sendMessage", chat_id=user, since=mark)
    return r.params.get("text", "")


async def press(fake: FakeTelegramServer, user: int, label: str, *, chat_id: int | None = None) -> str:
    mark = fake.mark()
    fake.push_update(fake.press_button(user, label, chat_id=chat_id))
    r = await fake.wait_for(lambda r: r.method in {"sendMessage", "editMessageText"}, chat_id=user, since=mark)
    return r.params.get("text", "")


async def sign_up(store, channel: str, external_id: str, province: str, n: int) -> int:  # type: ignore[no-untyped-def]
    user = await store.touch_user(channel, external_id, language="vi")
    await store.submit_signup(
        SignupDraft(
            full_name=f"Công nhân {n}",
            phone_e164=f"+8491{n:07d}",
            workplace="KCN Quế Võ",
            province_id=province,
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="test",
            consent_lang="vi",
            consent_channel=channel,
            owner_id=user.id,
        )
    )
    return user.id


async def rows_in_table(db_url: str, table: str, user_id: int) -> int:
    """A table's rows about one user, read straight from the database of either backend."""
    if db_url.startswith("postgresql://"):
        import asyncpg

        conn = await asyncpg.connect(db_url)
        try:
            return int(await conn.fetchval(f"SELECT COUNT(*) FROM {table} WHERE user_id = $1", user_id))
        finally:
            await conn.close()
    db = sqlite3.connect(db_url)
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user_id,)).fetchone()[0])
    finally:
        db.close()


async def test_poll_over_telegram_and_zalo_then_results_and_forget(tmp_path, capsys, monkeypatch, db_url) -> None:
    async with FakeTelegramServer() as tg, FakeZaloBot(max_poll_wait=0.2) as zbot:
        env = {**telegram_env(tg), "ZALO_BOT_TOKEN": zbot.token, "ZALO_BOT_API_BASE_URL": zbot.base_url}
        cfg = config_for(tmp_path, toml=CONFIG, env=env, db=db_url)
        async with running_bot(cfg) as runtime:
            store = runtime.store
            n = 0
            for uid, province in [*((u, "ha_noi") for u in HN_TG), *((u, "bac_ninh") for u in BN_TG)]:
                n += 1
                await say(tg, uid, "/start")  # Telegram knows a chat once its user wrote
                user_id = await sign_up(store, "telegram", str(uid), province, n)
                await store.subscribe(user_id, ["union_news"])
            for zid in BN_ZALO:
                n += 1
                await store.subscribe(await sign_up(store, "zalo_bot", zid, "bac_ninh", n), ["union_news"])

            # The organizer composes the poll in the chat.
            await say(tg, ORGANIZER, "/poll")
            await press(tg, ORGANIZER, "✍️ Tạo bình chọn mới")
            await say(tg, ORGANIZER, "Công ty bạn đã trả lương tháng này chưa?")
            await press(tg, ORGANIZER, "⏭ Bỏ qua")
            await say(tg, ORGANIZER, "Đã trả | Paid\nChưa trả | Not paid")
            await press(tg, ORGANIZER, "☝️ Chọn một")
            await press(tg, ORGANIZER, "▫️ Tin công đoàn")
            await press(tg, ORGANIZER, "Tiếp ➡️")
            mark = tg.mark()
            tg.push_update(tg.press_button(ORGANIZER, "3 ngày"))
            preview = await tg.wait_for(
                lambda r: "Xác nhận" in (r.params.get("text") or ""),
                method="sendMessage",
                chat_id=ORGANIZER,
                since=mark,
            )
            assert "12 người" in preview.params["text"]
            created = await press(tg, ORGANIZER, "✅ Xác nhận gửi")
            assert "#1" in created
            (poll,) = await store.list_polls()

            async def all_delivered() -> bool:
                stats = await store.delivery_stats(poll.broadcast_id)
                return stats.sent == 12

            await wait_until(all_delivered, 10, "all 12 deliveries")
            got = [m for m in tg.sent_messages(201) if "trả lương tháng này" in m.get("text", "")]
            assert len(got) == 1
            zalo_poll = [s.text for s in zbot.sent if s.chat_id == "zb01" and "trả lương" in (s.text or "")]
            assert len(zalo_poll) == 1 and "1. Đã trả" in zalo_poll[0] and "Trả lời 1 hoặc 2" in zalo_poll[0]

            # Telegram: taps. 201 changes their mind; 202's tap is delivered twice.
            assert "Chưa trả" in await press(tg, 201, "Chưa trả")
            for uid in [*HN_TG[:5], *BN_TG]:
                assert "Cảm ơn" in await press(tg, uid, "Đã trả")
            again = tg.press_button(202, "✅ Đã trả")
            pushed = tg.push_update(again)
            tg.push_update(pushed)  # the same update id again: a redelivery
            for uid in HN_TG[5:]:
                await press(tg, uid, "Chưa trả")

            # Zalo: by number, by words without diacritics, by the words with them.
            for zid, text in zip(BN_ZALO, ["2", "chua tra", "Chưa trả"], strict=True):
                before = len([s for s in zbot.sent if s.chat_id == zid])
                zbot.push_update(bot_text_update(zid, text))

                async def answered(zid: str = zid, before: int = before) -> bool:
                    new = [s for s in zbot.sent if s.chat_id == zid][before:]
                    return any("Cảm ơn" in (s.text or "") for s in new)

                await wait_until(answered, 10, "the thanks on Zalo")

            # Someone the poll was never sent to forges the button: refused, nothing counted.
            forged = await say_callback(tg, ORGANIZER, f"pv:{poll.id}:0")
            assert "không được gửi tới bạn" in forged
            # A number outside the choices, typed on Zalo.
            zbot.push_update(bot_text_update("zb01", "7"))

            async def told_range() -> bool:
                return any("từ 1 đến 2" in (s.text or "") for s in zbot.sent if s.chat_id == "zb01")

            await wait_until(told_range, 10, "the range message on Zalo")

            async def settled() -> bool:
                tally = await store.poll_tally(poll.id)
                return tally.overall.respondents == 12

            await wait_until(settled, 10, "12 answers counted")
            monkeypatch.setenv("UNIONBOT_DB", db_url)
            capsys.readouterr()
            code = await asyncio.to_thread(
                main,
                [
                    "poll",
                    "results",
                    str(poll.id),
                    "--json",
                    "--by",
                    "province",
                    "--config",
                    str(tmp_path / "config.toml"),
                ],
            )
            assert code == 0
            data = json.loads(capsys.readouterr().out)
            assert [c["count"] for c in data["choices"]] == [7, 5]
            assert data["delivered"] == 12 and data["respondents"] == 12 and data["response_rate"] == 1.0
            rows = {r["group"]: r for r in data["breakdowns"]["province"]}
            assert rows["ha_noi"]["respondents"] == 7 and rows["bac_ninh"]["respondents"] == 5
            # Hà Nội 5/2: the 2 is hidden, and so is the 5 (7 - 5 would give it away);
            # Bắc Ninh 2/3: both below 5.
            assert rows["ha_noi"]["counts"] == ["<5", "<5"] and rows["bac_ninh"]["counts"] == ["<5", "<5"]
            # No respondent's id, as a key, a value or inside one (a timestamp's digits may hold "203").
            values = [str(v) for v in _leaves(data)]
            assert not any(v == "203" or "zb01" in v for v in values), values

            # /mydata shows the answer; /forget erases it.
            user203 = await store.find_user("telegram", "203")
            assert "trả lương tháng này" in await say(tg, 203, "/mydata")
            await say(tg, 203, "/forget")
            await press(tg, 203, "🗑 Xóa hết")
            assert await store.poll_answers_of(user203.id) == []
            tally = await store.poll_tally(poll.id)
            assert tally.overall.respondents == 11 and tally.overall.counts == [6, 5]
            # No row left in the table itself, below the store's own queries.
            assert await rows_in_table(db_url, "poll_answers", user203.id) == 0
    assert tg.duplicate_send_count == 0


async def say_callback(fake: FakeTelegramServer, user: int, data: str) -> str:
    mark = fake.mark()
    message_id = fake.sent_messages(user)[-1]["message_id"]
    fake.push_update(fake.callback_query(user, data, message_id))
    r = await fake.wait_for(lambda r: r.method in {"sendMessage", "editMessageText"}, chat_id=user, since=mark)
    return r.params.get("text", "")


async def report(fake: FakeTelegramServer, user: int, company: str, *, description: str | None = None) -> list[str]:
    texts = [await say(fake, user, "/report")]
    texts.append(await press(fake, user, "💸 Nợ lương, trả lương chậm"))
    texts.append(await say(fake, user, company))
    texts.append(await press(fake, user, "Dưới 10 người"))
    if description is None:
        texts.append(await press(fake, user, "⏭ Không mô tả"))
    else:
        texts.append(await say(fake, user, description))
    return texts


async def test_three_anonymous_reports_raise_one_alert_and_cannot_be_traced(tmp_path) -> None:
    async with FakeTelegramServer() as tg:
        cfg = config_for(tmp_path, toml=CONFIG, env=telegram_env(tg))
        async with running_bot(cfg) as runtime:
            store = runtime.store
            tg.register_chat(ALERT_CHAT, chat_type="supergroup", title="LĐLĐ Bắc Ninh")
            for i, u in enumerate(REPORTERS):
                await say(tg, u, "/start")
                await sign_up(store, "telegram", str(u), "bac_ninh", i)

            # A phone number and a name in the description: warned, not stored, asked again.
            texts = await report(
                tg, REPORTERS[0], "Cty TNHH May Hưng Phát", description="Nợ lương 2 tháng, hỏi anh Tuấn 0912 345 678"
            )
            assert "số điện thoại" in texts[-1] and "tên người" in texts[-1]
            review = await say(tg, REPORTERS[0], "Công ty nợ lương hai tháng nay")
            assert "ẩn danh" in review.lower() and "7 ngày" in review
            assert "Đã nhận" in await press(tg, REPORTERS[0], "📨 Gửi ẩn danh")

            mark = tg.mark()
            for user, spelling in ((REPORTERS[1], "may hung phat"), (REPORTERS[2], "Hưng Phát garment")):
                await report(tg, user, spelling)
                await press(tg, user, "📨 Gửi ẩn danh")
            alert = await tg.wait_for(method="sendMessage", chat_id=ALERT_CHAT, since=mark)
            text = alert.params["text"]
            assert "3 báo cáo" in text and "Nợ lương" in text and "Hưng Phát" in text
            # A fourth report in the same week: counted, but no second alert.
            await report(tg, REPORTERS[3], "CÔNG TY TNHH MAY HUNG PHAT")
            await press(tg, REPORTERS[3], "📨 Gửi ẩn danh")
            await bot_idle(runtime)
            assert len(tg.sent_messages(ALERT_CHAT)) == 1

            (cluster,) = await store.report_clusters()
            assert cluster.reports == 4 and cluster.company_key == "hung phat" and cluster.alerted_on is not None

            # The stored rows cannot be joined back to the reporters.
            db = sqlite3.connect(tmp_path / "bot.sqlite3")
            for table in ("workplace_reports", "report_limits", "report_alerts"):
                columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
                assert not {"user_id", "channel", "external_id", "created_at"} & set(columns)
                dump = json.dumps(db.execute(f"SELECT * FROM {table}").fetchall(), ensure_ascii=False)
                for external in map(str, REPORTERS):
                    assert external not in dump, (table, external)
                for external in map(str, REPORTERS):  # nor an unsalted hash of the id
                    assert hashlib.sha256(f"telegram:{external}".encode()).hexdigest() not in dump
            # No column refers to users: nothing to join on.
            for table in ("workplace_reports", "report_limits", "report_alerts"):
                assert not [fk for fk in db.execute(f"PRAGMA foreign_key_list({table})") if fk[2] == "users"]
            reports = db.execute("SELECT id, created_on, contact_question_id FROM workplace_reports").fetchall()
            assert all(len(day) == 10 and q is None for _, day, q in reports)  # the day only, no contact
            audit = json.dumps(db.execute("SELECT * FROM audit_log").fetchall(), ensure_ascii=False)
            assert "report" not in audit
            states = db.execute("SELECT COUNT(*) FROM conversation_state").fetchone()[0]
            assert states == 0
            db.close()

            # The fourth report that day from one person is refused.
            for _ in range(2):
                await report(tg, REPORTERS[3], "Pou Chen")
                await press(tg, REPORTERS[3], "📨 Gửi ẩn danh")
            assert "tối đa" in await say(tg, REPORTERS[3], "/report")
            assert len(await store.list_reports()) == 6
    # (The same prompts reach a person who reports several times: only the alert is checked for duplicates.)
    assert len(tg.sent_messages(ALERT_CHAT)) == 1


def _leaves(node: object) -> list[object]:
    """Every key and scalar of a decoded JSON document."""
    if isinstance(node, dict):
        return [*node, *(leaf for v in node.values() for leaf in _leaves(v))]
    if isinstance(node, list):
        return [leaf for v in node for leaf in _leaves(v)]
    return [node]
