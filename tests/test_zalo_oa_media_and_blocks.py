"""OA events beyond plain text, and workers who blocked the OA.

* Stickers, links, files, GIFs, audio, video and locations used to get silence. Text
  riding on them (a link often carries the worker's question in `message.text`) is
  answered as text; otherwise the worker is told once per conversation what the bot
  can read (item 15).
* -217 (the worker blocked the OA) and -244 (restricted this message type) mean the
  worker cannot be reached: marked unreachable, not "rejected", never retried (item 16).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.broadcast.senders import Part, RecipientGone
from bot.broadcast.zalo_sender import zalo_senders
from bot.channels.zalo.errors import ZaloError
from bot.channels.zalo.oa_client import SEND_CS_PATH
from bot.channels.zalo.rules import Outcome, classify_error
from handlers.i18n import load_catalog
from handlers.types import Reply
from tests.fakes.broadcast_support import FakeClock, RecordingSender, add_workers, local, make_engine
from tests.fakes.zalo_servers import FakeZaloOA, oa_attachment_event, oa_text_event
from tests.zalo_harness import oa_env, running

CATALOG = load_catalog()
UNSUPPORTED = CATALOG.t("vi", "fallback.unsupported")
HELP = CATALOG.t("vi", "help.text")
WORKER = "6142494823000000055"
KINDS = ["sticker", "link", "file", "gif", "audio", "video", "location"]

# The PHP test-data user_send_link sample from the reference, verbatim but for the
# timestamp (now, or the window refuses it) and the text (a question the bot knows).
PHP_LINK = json.loads(
    '{"app_id":"1163843031413526746","user_id_by_app":"2372735685249892743","event_name":"user_send_link",'
    '"timestamp":"1609984527175","sender":{"id":"4339761418830368436"},"recipient":{"id":"2197174064623873199"},'
    '"message":{"msg_id":"This is message id 4","text":"This is testing message","attachments":[{"payload":'
    '{"thumbnail":"url_to_thumbnail","description":"description_of_link","url":"link"},"type":"link"}]}}'
)


@pytest.fixture
async def zalo():
    async with FakeZaloOA() as server:
        yield server


def texts_to(zalo: FakeZaloOA, user_id: str) -> list[str]:
    return [m.text or "" for m in zalo.delivered if m.user_id == user_id]


@pytest.mark.parametrize("kind", KINDS)
async def test_text_riding_on_any_event_is_answered_as_text(tmp_path: Path, zalo: FakeZaloOA, kind: str) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        assert (await h.post_oa(oa_attachment_event(WORKER, kind, text="/help", app_id=zalo.app_id))).status_code == 200
        await h.settle()
        replies = texts_to(zalo, WORKER)
        assert replies and HELP in replies[0]


@pytest.mark.parametrize("kind", KINDS)
async def test_without_text_the_worker_is_told_once_per_conversation_what_the_bot_reads(
    tmp_path: Path,
    zalo: FakeZaloOA,
    kind: str,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        for _ in range(3):
            await h.post_oa(oa_attachment_event(WORKER, kind, app_id=zalo.app_id))
            await h.settle()
        assert [UNSUPPORTED in t for t in texts_to(zalo, WORKER)] == [True]

        # Writing text starts a new conversation: the next sticker is explained again.
        await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        await h.settle()
        await h.post_oa(oa_attachment_event(WORKER, kind, app_id=zalo.app_id))
        await h.settle()
        replies = texts_to(zalo, WORKER)
        assert len(replies) == 3 and HELP in replies[1] and UNSUPPORTED in replies[2]


async def test_the_real_php_link_sample_is_answered(tmp_path: Path, zalo: FakeZaloOA) -> None:
    event = PHP_LINK | {"app_id": zalo.app_id, "timestamp": str(int(time.time() * 1000))}
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        replies = texts_to(zalo, "4339761418830368436")
        assert replies and UNSUPPORTED not in replies[0]


async def test_an_image_with_a_caption_is_answered_as_text(tmp_path: Path, zalo: FakeZaloOA) -> None:
    from tests.fakes.zalo_servers import oa_image_event

    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        await h.post_oa(oa_image_event(WORKER, ["https://f.zdn.vn/a.jpg"], caption="/help", app_id=zalo.app_id))
        await h.settle()
        assert HELP in texts_to(zalo, WORKER)[0]


# -- item 16 ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [-217, -244])
async def test_blocked_or_restricted_marks_the_worker_unreachable(tmp_path: Path, zalo: FakeZaloOA, code: int) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        store = h.runtime.store
        await add_workers(store, [WORKER], topics=(), channel="zalo_oa")
        zalo.inject_error(WORKER, code)
        with pytest.raises(ZaloError) as raised:
            await h.oa.send(WORKER, Reply("Thông báo"))
        failure = classify_error(raised.value)
        assert failure.outcome is Outcome.BLOCKED and failure.outcome is not Outcome.REJECTED
        user = await store.find_user("zalo_oa", WORKER)
        assert user is not None and not user.reachable

        # Through the broadcast sender: the engine's "blocked" path, which marks the user.
        (sender,) = zalo_senders(h.runtime.config, list(h.channels.values())).values()
        with pytest.raises(RecipientGone):
            await sender.send(WORKER, Part(text="Thông báo"))
        assert len([r for r in zalo.requests_to(SEND_CS_PATH)]) == 2, "never retried"


@pytest.mark.parametrize("code", [-217, -244])
async def test_a_broadcast_marks_blocked_workers_unreachable_and_counts_them_blocked(
    tmp_path: Path,
    zalo: FakeZaloOA,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from storage.broadcasts import Audience, NewBroadcast

    noon = local(2026, 5, 1, 12, 0)
    config = '[broadcast]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
    async with running(tmp_path, oa_env(tmp_path, zalo), config) as h:
        store = h.runtime.store
        monkeypatch.setattr("storage.sqlite.store.now_utc", lambda: noon - timedelta(hours=1))
        await add_workers(store, [WORKER], topics=(), channel="zalo_oa")
        monkeypatch.undo()
        zalo.inject_error(WORKER, code)
        senders = {"telegram": RecordingSender(), **zalo_senders(h.runtime.config, list(h.channels.values()))}
        engine = make_engine(store, senders, clock=FakeClock(noon))
        b = await store.create_broadcast(NewBroadcast(text_vi="Chào", audience=Audience(everyone=True), run_at=noon))
        assert (await engine.run(b.id)).outcome == "done"
        stats = await store.delivery_stats(b.id)
        assert stats.blocked == 1
        user = await store.find_user("zalo_oa", WORKER)
        assert user is not None and not user.reachable


async def test_a_reply_refused_with_217_marks_the_worker_and_sends_no_apology(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        zalo.inject_error(WORKER, -217)
        await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        await h.settle()
        assert len(zalo.requests_to(SEND_CS_PATH)) == 1, "no retry and no apology to a worker who blocked the OA"
        user = await h.runtime.store.find_user("zalo_oa", WORKER)
        assert user is not None and not user.reachable
