"""A case status changed from the shell reaches the worker through the running bot:
the real Runtime and Telegram channel against the fake Bot API, `unionbot cases set`
as a separate process, the notice delivered from the outbox within the minute."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from storage.broadcasts import BroadcastStatus
from storage.care import CaseCategory, NewProgram, RegistrationDraft
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import config_for, periodic_rounds, running_bot, telegram_env

WORKER = 7101


@pytest.fixture
async def fake():  # type: ignore[no-untyped-def]
    async with FakeTelegramServer() as server:
        yield server


async def test_cli_case_change_is_delivered_by_the_running_bot(fake, tmp_path, db_url) -> None:
    # Quiet hours off: notices wait for the morning otherwise, and CI runs at any hour.
    cfg = config_for(
        tmp_path, toml='[broadcast]\nquiet_start = "00:00"\nquiet_end = "00:00"\n', env=telegram_env(fake), db=db_url
    )
    async with running_bot(cfg) as runtime:
        mark = fake.mark()
        fake.push_update(fake.user_message(WORKER, "/lang en"))
        await fake.wait_for(method="sendMessage", chat_id=WORKER, since=mark, timeout=10)
        user = await runtime.store.find_user("telegram", str(WORKER))
        case_id = await runtime.store.create_case(
            user_id=user.id,
            category=CaseCategory.ILLNESS,
            description="Ốm nặng",
            phone_e164="+84912000444",
            province_id="ho_chi_minh",
            consent_version="t",
        )
        env = {
            **os.environ,
            # The CLI process works on the same database as the running bot, whichever backend.
            "UNIONBOT_DB": db_url,
            "UNIONBOT_CONFIG": str(tmp_path / "config.toml"),
        }
        env.pop("TELEGRAM_BOT_TOKEN", None)
        # Marked before the CLI starts: the bot may deliver while the CLI is still exiting.
        mark = fake.mark()
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "cases",
            "set",
            str(case_id),
            "--status",
            "contacted",
            "--note",
            "Đã gọi",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        sent = await fake.wait_for(
            lambda r: "Support case" in str(r.params.get("text", "")),
            method="sendMessage",
            chat_id=WORKER,
            since=mark,
            timeout=60,
        )
        assert time.monotonic() - started < 60
        assert sent.params["text"] == f"🤝 Support case no. {case_id}: contacted."
        # Exactly once: the next rounds send nothing more.
        await periodic_rounds(runtime, "care-outbox", 2)
        notices = [r for r in fake.requests("sendMessage", chat_id=WORKER) if "Support case" in str(r.params)]
        assert len(notices) == 1
        assert await runtime.store.pending_outbox() == []


async def test_a_due_reminder_reaches_confirmed_participants_through_the_running_bot(fake, tmp_path, db_url) -> None:
    """The wiring: the bot's care service starts the reminder broadcast and the broadcast
    service sends it at once, to the confirmed participant only, once."""
    cfg = config_for(
        tmp_path, toml='[broadcast]\nquiet_start = "00:00"\nquiet_end = "00:00"\n', env=telegram_env(fake), db=db_url
    )
    confirmed, waiting = WORKER + 1, WORKER + 2
    async with running_bot(cfg) as runtime:
        store = runtime.store
        users = {}
        for chat_id in (confirmed, waiting):
            mark = fake.mark()
            fake.push_update(fake.user_message(chat_id, "/lang en"))
            await fake.wait_for(method="sendMessage", chat_id=chat_id, since=mark, timeout=10)
            users[chat_id] = await store.find_user("telegram", str(chat_id))
        now = datetime.now(UTC)
        mark = fake.mark()
        pid = await store.create_program(
            NewProgram(
                title="Tàu Tết 2027",
                province_id="ho_chi_minh",
                places=1,
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(hours=12),
                event_at=now + timedelta(hours=20),
                remind_at=now + timedelta(seconds=1),
            )
        )
        for i, chat_id in enumerate((confirmed, waiting)):
            await store.register(RegistrationDraft(pid, users[chat_id].id, f"+8491200055{i}", "Rem", 1))

        def reminders(chat_id: int) -> list[str]:
            texts = [str(r.params.get("text", "")) for r in fake.requests("sendMessage", chat_id=chat_id, since=mark)]
            return [t for t in texts if "Reminder" in t]

        await fake.wait_for(
            lambda r: "Reminder" in str(r.params.get("text", "")),
            method="sendMessage",
            chat_id=confirmed,
            since=mark,
            timeout=30,
        )
        (broadcast,) = await store.list_broadcasts()
        assert broadcast.audience.program == pid
        for _ in range(300):
            if (await store.get_broadcast(broadcast.id)).status is BroadcastStatus.DONE:
                break
            await asyncio.sleep(0.1)
        assert (await store.delivery_stats(broadcast.id)).sent == 1
        await periodic_rounds(runtime, "care-outbox", 2)
        assert len(reminders(confirmed)) == 1 and reminders(waiting) == []
        assert "tomorrow" in reminders(confirmed)[0]
