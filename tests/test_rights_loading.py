"""`unionbot run` polls before the rights knowledge base is built (issue 17: polling in
<= 2 s): /start is answered at once, a question waits for the build and is then answered,
and a build that fails stops the bot with the error rather than failing every question."""

from __future__ import annotations

import asyncio
import threading

import pytest

from handlers.rights import chat as qa
from handlers.rights.chat import default_service
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import config_for, running_bot, telegram_env

WORKER = 7301


@pytest.fixture
async def fake():
    async with FakeTelegramServer() as server:
        yield server


async def _reply(fake: FakeTelegramServer, text: str, timeout: float) -> str:
    mark = fake.mark()
    fake.push_update(fake.user_message(WORKER, text))
    await fake.wait_for(lambda r: r.method == "sendMessage", chat_id=WORKER, since=mark, timeout=timeout)
    return "\n".join(r.params.get("text", "") for r in fake.requests(chat_id=WORKER, since=mark))


async def test_commands_answer_while_the_knowledge_base_builds(fake, tmp_path, monkeypatch) -> None:
    built = default_service()  # the real one, built before the bot so the test stays quick
    release = threading.Event()

    def slow_load(extra_dir=None):  # type: ignore[no-untyped-def]
        release.wait(timeout=60)
        return built

    monkeypatch.setattr(qa.RightsService, "load", staticmethod(slow_load))
    config = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(config) as runtime:
        assert runtime.services.rights is None, "serving started before the build ended"
        started = await _reply(fake, "/start", timeout=10)
        assert "công đoàn" in started.lower(), started
        assert runtime.services.rights is None, "/start did not wait for the build"
        mark = fake.mark()
        fake.push_update(fake.user_message(WORKER, "nghỉ phép năm được bao nhiêu ngày"))
        await asyncio.sleep(1.0)
        assert [r for r in fake.requests(chat_id=WORKER, since=mark) if r.method == "sendMessage"] == [], (
            "a question is answered only once the knowledge base is there"
        )
        release.set()
        await fake.wait_for(lambda r: r.method == "sendMessage", chat_id=WORKER, since=mark, timeout=20)
        answer = "\n".join(r.params.get("text", "") for r in fake.requests(chat_id=WORKER, since=mark))
        assert "12" in answer
        assert runtime.services.rights is built


async def test_a_knowledge_base_that_fails_to_load_stops_the_bot(tmp_path, monkeypatch) -> None:
    def broken(extra_dir=None):  # type: ignore[no-untyped-def]
        raise ValueError("topic file damaged")

    monkeypatch.setattr(qa.RightsService, "load", staticmethod(broken))
    config = config_for(tmp_path)  # no channel: the web server alone
    with pytest.raises(ValueError, match="topic file damaged"):
        async with running_bot(config):
            await asyncio.sleep(5)
