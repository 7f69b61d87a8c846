"""Telegram, the Zalo Bot and the Zalo OA configured at once: one bot, one store, one web
server; a worker on each channel is served, and an organizer on Telegram answers a
question a worker asked on the Zalo OA."""

from __future__ import annotations

import httpx

from storage import Role
from tests.fakes.telegram_api import FakeTelegramServer
from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA, bot_text_update, oa_text_event, signed_oa_webhook
from tests.harness import config_for, running_bot, telegram_env, wait_until
from tests.zalo_harness import OA_SECRET

ORGANIZER = 9100
OA_WORKER = "5e1f0c0a11aa22bb33cc"
BOT_WORKER = "b0c1d2e3f4"


async def test_three_channels_at_once(tmp_path) -> None:
    async with FakeTelegramServer() as tg, FakeZaloOA() as oa, FakeZaloBot(max_poll_wait=0.2) as zbot:
        issued = oa.issue_tokens()
        env = {
            **telegram_env(tg),
            "ZALO_OA_APP_ID": oa.app_id,
            "ZALO_OA_APP_SECRET": oa.app_secret,
            "ZALO_OA_SECRET_KEY": OA_SECRET,
            "ZALO_OPENAPI_BASE_URL": oa.openapi_base_url,
            "ZALO_OAUTH_BASE_URL": oa.oauth_base_url,
            "ZALO_OA_ACCESS_TOKEN": issued.access_token,
            "ZALO_OA_REFRESH_TOKEN": issued.refresh_token,
            "ZALO_BOT_TOKEN": zbot.token,
            "ZALO_BOT_API_BASE_URL": zbot.base_url,
        }
        cfg = config_for(tmp_path, env=env, toml=f"[telegram]\nadmins = [{ORGANIZER}]\n")
        async with running_bot(cfg) as runtime, httpx.AsyncClient() as http:
            assert {c.name for c in runtime.registry.channels.values()} == {"telegram", "zalo_oa", "zalo_bot"}
            base = f"http://127.0.0.1:{runtime.web_port}"
            health = (await http.get(f"{base}/healthz")).json()
            # One SQLite process is always the scheduler's leader, and says so.
            assert health["ok"] is True and health["leading"] is True

            async def oa_says(text: str) -> None:
                body, headers = signed_oa_webhook(oa_text_event(OA_WORKER, text, app_id=oa.app_id), OA_SECRET)
                assert (await http.post(f"{base}/zalo/oa/webhook", content=body, headers=headers)).status_code == 200

            def oa_texts() -> str:
                return "\n".join(m.text or "" for m in oa.delivered if m.user_id == OA_WORKER)

            # A worker on the Zalo OA asks about the minimum wage, then asks an officer.
            await oa_says("luong toi thieu vung 1")
            await wait_until(lambda: "5.310.000" in oa_texts(), 10, "the minimum wage answer on the OA")
            await oa_says("/ask công ty bắt làm thêm 4 tiếng mỗi ngày có đúng luật không")
            await wait_until(lambda: "#1" in oa_texts(), 10, "question #1 acknowledged on the OA")

            # A worker on the Zalo Bot gets the menu and an answer.
            zbot.push_update(bot_text_update(BOT_WORKER, "/start"))
            zbot.push_update(bot_text_update(BOT_WORKER, "nghi phep nam duoc bao nhieu ngay"))
            await wait_until(
                lambda: any(
                    "12" in (s.text or "") and "Căn cứ" in (s.text or "") for s in zbot.sent if s.chat_id == BOT_WORKER
                ),
                10,
                "the annual leave answer on the Zalo Bot",
            )

            # The organizer on Telegram answers the OA worker's question.
            tg.push_update(tg.user_message(ORGANIZER, "/inbox"))
            await tg.wait_for(lambda r: "4 tiếng" in r.params.get("text", ""), chat_id=ORGANIZER, timeout=10)
            tg.push_update(tg.user_message(ORGANIZER, "/reply 1 Làm thêm không quá 50% giờ bình thường trong ngày."))
            await tg.wait_for(lambda r: "Đã gửi" in r.params.get("text", ""), chat_id=ORGANIZER, timeout=10)
            await wait_until(lambda: "không quá 50% giờ bình thường" in oa_texts(), 10, "the answer on the OA")

            store = runtime.store
            for channel, uid in (("zalo_oa", OA_WORKER), ("zalo_bot", BOT_WORKER), ("telegram", str(ORGANIZER))):
                assert await store.find_user(channel, uid) is not None, channel
            org = await store.find_user("telegram", str(ORGANIZER))
            assert org.role is Role.WORKER  # admin by configuration, not by a stored role
