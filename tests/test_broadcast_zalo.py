"""Broadcasts on Zalo end to end: the real Runtime and Zalo channels against the fake OA
and Bot servers, the real delivery engine and SQLite store, a settable wall clock."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.broadcast.engine import DeliveryEngine
from bot.broadcast.senders import Sender
from bot.broadcast.zalo_sender import ZaloSender, zalo_senders
from bot.channels.zalo.oa_client import SEND_CS_PATH
from bot.channels.zalo.rules import REASON_NIGHT, REASON_WINDOW, unreachable_reason
from handlers.broadcasts.render import reach_text
from handlers.context import Services
from handlers.i18n import load_catalog
from storage import Role, Store
from storage.broadcasts import Audience, AudienceReach, BroadcastStatus, NewBroadcast
from storage.sqlite import SQLiteStore
from tests.fakes.broadcast_support import OPTS, FakeClock, RecordingSender, add_workers, local, make_engine
from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA, oa_text_event
from tests.harness import wait_until
from tests.zalo_harness import Harness, bot_env, oa_env, running

CATALOG = load_catalog()
TOPIC = ("workers_month",)
# Zalo's night must not hide in the bot's quiet hours for these tests: quiet hours off.
CONFIG = """
[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"

[[broadcast.topics]]
id = "workers_month"
name_vi = "Tháng Công nhân"
name_en = "Workers' Month"
"""
NOON = local(2026, 5, 1, 12, 0)
NIGHT = local(2026, 5, 1, 22, 30)
OA_IN, OA_OUT, OA_BAD = "6142494823000000001", "6142494823000000002", "6142494823000000003"
BOT_USER = "b7a2c0ffee0000000001"


@pytest.fixture
async def oa():
    async with FakeZaloOA() as server:
        yield server


@pytest.fixture
async def zbot():
    async with FakeZaloBot(max_poll_wait=0.05) as server:
        yield server


async def seen_at(store: Store, monkeypatch: pytest.MonkeyPatch, when: datetime, channel: str, *ids: str) -> None:
    """Workers who last wrote to the bot at `when`."""
    monkeypatch.setattr("storage.sqlite.store.now_utc", lambda: when)
    try:
        await add_workers(store, ids, topics=TOPIC, channel=channel)
    finally:
        monkeypatch.undo()


def engine_for(h: Harness, clock: FakeClock, telegram: RecordingSender | None = None) -> DeliveryEngine:
    senders: dict[str, Sender] = {"telegram": telegram or RecordingSender()}
    senders.update(zalo_senders(h.runtime.config, list(h.channels.values())))
    for sender in senders.values():
        if isinstance(sender, ZaloSender):
            sender.max_pause = 0.05  # a -32 pauses the channel; tests should not wait a minute
    return make_engine(h.runtime.store, senders, clock=clock)


async def broadcast(store: Store, at: datetime, text: str = "Chào mừng Tháng Công nhân") -> int:
    b = await store.create_broadcast(NewBroadcast(text_vi=text, audience=Audience(topics=TOPIC), run_at=at))
    return b.id


def cs_to(oa: FakeZaloOA, user_id: str) -> list[dict]:
    return [r.json for r in oa.requests_to(SEND_CS_PATH) if r.json["recipient"]["user_id"] == user_id]


async def test_oa_sends_inside_the_window_once_and_skips_the_rest_without_a_call(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON - timedelta(days=2), "zalo_oa", OA_IN)
        await seen_at(store, monkeypatch, NOON - timedelta(days=8), "zalo_oa", OA_OUT)
        engine = engine_for(h, FakeClock(NOON))
        bid = await broadcast(store, NOON)

        report = await engine.run(bid)
        assert report.outcome == "done"
        sent = cs_to(oa, OA_IN)
        assert len(sent) == 1 and "Chào mừng Tháng Công nhân" in sent[0]["message"]["text"]
        assert cs_to(oa, OA_OUT) == [], "outside the window: no API call at all"
        statuses = await store.delivery_statuses(bid)
        by_ext = {(await store.get_user(uid)).external_id: st for uid, st in statuses.items()}  # type: ignore[union-attr]
        assert by_ext == {OA_IN: ("sent", None), OA_OUT: ("skipped", REASON_WINDOW)}

        # Running it again sends nothing twice.
        await engine.run(bid)
        assert len(cs_to(oa, OA_IN)) == 1


async def test_oa_unreachable_code_is_skipped_with_its_reason_and_not_retried(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON - timedelta(hours=1), "zalo_oa", OA_IN, OA_BAD)
        oa.inject_error(OA_BAD, -230)
        engine = engine_for(h, FakeClock(NOON))
        bid = await broadcast(store, NOON)

        assert (await engine.run(bid)).outcome == "done"
        assert len(cs_to(oa, OA_BAD)) == 1, "-230 is never retried"
        assert len(cs_to(oa, OA_IN)) == 1
        stats = await store.delivery_stats(bid)
        assert stats.sent == 1 and stats.failed == 0
        assert stats.skipped_by_reason == {unreachable_reason(-230): 1}
        user = await store.find_user("zalo_oa", OA_BAD)
        assert user is not None and user.reachable, "the window can open again when the worker writes"


async def test_oa_rate_limit_pauses_the_channel_then_sends(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON - timedelta(hours=1), "zalo_oa", OA_IN)
        oa.inject_error(OA_IN, -32, times=1)
        engine = engine_for(h, FakeClock(NOON))
        bid = await broadcast(store, NOON)

        assert (await engine.run(bid)).outcome == "done"
        assert engine.limiters["zalo_oa"].pauses == 1
        assert len(cs_to(oa, OA_IN)) == 2, "refused once, then sent"
        assert [m.user_id for m in oa.delivered] == [OA_IN]
        assert (await store.delivery_stats(bid)).sent == 1


async def test_oa_token_refused_keeps_zalo_rows_queued_while_telegram_finishes(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON - timedelta(hours=1), "zalo_oa", OA_IN)
        await seen_at(store, monkeypatch, NOON - timedelta(hours=1), "telegram", "101")
        oa.inject_error(OA_IN, -216)  # every token refused, refresh or not
        telegram = RecordingSender()
        engine = engine_for(h, FakeClock(NOON), telegram)
        bid = await broadcast(store, NOON)

        report = await engine.run(bid)
        assert report.outcome == "channel_down"
        assert telegram.chats() == ["101"]
        stats = await store.delivery_stats(bid)
        assert stats.sent == 1 and stats.queued == 1 and stats.failed == 0


async def test_zalo_night_holds_zalo_rows_while_telegram_goes(
    tmp_path: Path,
    oa: FakeZaloOA,
    zbot: FakeZaloBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = oa_env(tmp_path, oa) | bot_env(tmp_path, zbot)
    async with running(tmp_path, env, CONFIG) as h:
        store = h.runtime.store
        seen = NIGHT - timedelta(hours=1)
        await seen_at(store, monkeypatch, seen, "telegram", "101", "102")
        await seen_at(store, monkeypatch, seen, "zalo_oa", OA_IN)
        await seen_at(store, monkeypatch, seen - timedelta(days=30), "zalo_bot", BOT_USER)  # no window on the Bot
        clock = FakeClock(NIGHT)
        telegram = RecordingSender()
        engine = engine_for(h, clock, telegram)
        bid = await broadcast(store, NIGHT)

        task = asyncio.create_task(engine.run(bid))
        await wait_until(lambda: len(telegram.sent) == 2 and bool(clock.sleeps))
        morning = local(2026, 5, 2, 6, 0)
        assert clock.sleeps[-1] == morning
        b = await store.get_broadcast(bid)
        assert b is not None and b.status is BroadcastStatus.RUNNING and b.reason == REASON_NIGHT
        assert oa.requests_to(SEND_CS_PATH) == [] and [s for s in zbot.sent if s.method == "sendMessage"] == []
        assert (await store.delivery_stats(bid)).queued == 2

        clock.set(morning + timedelta(minutes=1))
        report = await asyncio.wait_for(task, 10)
        assert report.outcome == "done"
        assert [m.user_id for m in oa.delivered] == [OA_IN]
        bot_msgs = [s for s in zbot.sent if s.method == "sendMessage"]
        assert [s.chat_id for s in bot_msgs] == [BOT_USER]
        assert "Chào mừng Tháng Công nhân" in (bot_msgs[0].text or "")
        assert (await store.delivery_stats(bid)).sent == 4
        b = await store.get_broadcast(bid)
        assert b is not None and b.status is BroadcastStatus.DONE


async def test_runtime_registers_zalo_senders_paced_by_config(
    tmp_path: Path,
    oa: FakeZaloOA,
    zbot: FakeZaloBot,
) -> None:
    env = oa_env(tmp_path, oa) | bot_env(tmp_path, zbot)
    async with running(tmp_path, env, CONFIG + "\n[zalo]\noa_rate = 8\n") as h:
        services = h.runtime.build_services(list(h.channels.values()))
        engine = services[0].engine  # type: ignore[attr-defined]
        assert set(engine.senders) == {"zalo_oa", "zalo_bot"}
        oa_sender, bot_sender = engine.senders["zalo_oa"], engine.senders["zalo_bot"]
        assert oa_sender.limits.rate == 8 and oa_sender.window_days == 7
        assert bot_sender.window_days is None


async def test_store_counts_the_audience_per_channel_and_inside_the_window(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON, "telegram", "101", "102", "103")
        await seen_at(store, monkeypatch, NOON - timedelta(days=1), "zalo_oa", OA_IN, OA_BAD)
        await seen_at(store, monkeypatch, NOON - timedelta(days=9), "zalo_oa", OA_OUT)
        await seen_at(store, monkeypatch, NOON - timedelta(days=9), "zalo_bot", BOT_USER)
        audience = Audience(topics=TOPIC)
        reach = await store.audience_by_channel(audience, seen_since=NOON - timedelta(days=7))
        assert reach.by_channel == {"telegram": 3, "zalo_oa": 3, "zalo_bot": 1}
        assert reach.recent["zalo_oa"] == 2 and reach.total == await store.count_audience(audience)
        plain = await store.audience_by_channel(audience)
        assert plain.by_channel == reach.by_channel and plain.recent == {}

        assert reach_text(CATALOG, "en", reach, 7) == (
            "By channel: Telegram 3 · Zalo OA 3 (1 outside the 7-day window) · Zalo Bot 1"
        )
        assert "Zalo OA 3 (1 người ngoài hạn 7 ngày)" in (reach_text(CATALOG, "vi", reach, 7) or "")
        assert reach_text(CATALOG, "en", AudienceReach(), 7) is None


def numbered(shown: str, label: str) -> str:
    """The number Zalo lists next to the choice whose label contains `label`."""
    for line in shown.splitlines():
        m = re.match(r"\s*(\d+)[.)] (.*)", line)
        if m and label in m.group(2):
            return m.group(1)
    raise AssertionError(f"no choice {label!r} in {shown!r}")


async def test_an_organizer_on_the_zalo_oa_edits_a_scheduled_broadcast_by_numbers(
    tmp_path: Path,
    oa: FakeZaloOA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organizer = "6142494823000000099"
    typo, fixed = "Hội thao lúc 7 giơ sáng Chủ nhật", "Hội thao lúc 7 giờ sáng Chủ nhật"
    async with running(tmp_path, oa_env(tmp_path, oa), CONFIG) as h:
        store = h.runtime.store
        await seen_at(store, monkeypatch, NOON - timedelta(hours=1), "zalo_oa", OA_IN)
        org = await store.touch_user("zalo_oa", organizer, language="vi")
        await store.set_role(org.id, Role.ADMIN)
        bid = await broadcast(store, NOON, typo)

        async def org_says(text: str) -> str:
            before = len(oa.delivered)
            assert (await h.post_oa(oa_text_event(organizer, text, app_id=oa.app_id))).status_code == 200
            await h.settle()
            return "\n".join(m.text or "" for m in oa.delivered[before:] if m.user_id == organizer)

        shown = await org_says(numbered(await org_says(f"/broadcast {bid}"), "Sửa nội dung"))
        assert typo in shown
        # Typed, a choice's words are the new text at this step; only its number picks it.
        shown = await org_says(fixed)
        assert fixed in shown and "Lưu nội dung mới" in shown
        assert "Đã lưu nội dung mới" in await org_says(numbered(shown, "Lưu nội dung mới"))

        report = await engine_for(h, FakeClock(NOON)).run(bid)
        assert report.outcome == "done"
        (sent,) = cs_to(oa, OA_IN)
        assert sent["message"]["text"].startswith(fixed)


# -- the organizer's preview -----------------------------------------------------
@pytest.fixture
def services(store: Store, settings):  # type: ignore[no-untyped-def]
    # Overrides conftest's: the same services with broadcast topics.
    return Services(store, CATALOG, settings, broadcast_options=OPTS)


async def reach_audience(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    await seen_at(store, monkeypatch, now, "telegram", "101", "102")
    await seen_at(store, monkeypatch, now - timedelta(days=1), "zalo_oa", OA_IN)
    await seen_at(store, monkeypatch, now - timedelta(days=9), "zalo_oa", OA_OUT, OA_BAD)
    await seen_at(store, monkeypatch, now - timedelta(days=9), "zalo_bot", BOT_USER)


async def test_chat_preview_shows_who_each_channel_reaches(
    make_chat,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    await reach_audience(store, monkeypatch)
    org = make_chat("org")
    await org.say("/start")
    # The whole country's reach: an admin's (an organizer's is their provinces', test_scope.py).
    await store.set_role((await store.find_user("test", "org")).id, Role.ADMIN)  # type: ignore[union-attr]
    await org.say("/broadcast new")
    await org.say("Chào mừng Tháng Công nhân")
    await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:t:workers_month")
    await org.press("bcc:aud_ok")
    await org.press_label("Gửi ngay")
    summary = org.last[-1].text
    assert "6 người" in summary
    assert "Theo kênh: Telegram 2 · Zalo OA 3 (2 người ngoài hạn 7 ngày) · Zalo Bot 1" in summary


async def test_cli_create_prints_the_reach_per_channel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_broadcast_cli import cli, env_for

    env = env_for(tmp_path)
    store = SQLiteStore(Path(env["UNIONBOT_DB"]))
    await store.open()
    try:
        await reach_audience(store, monkeypatch)
    finally:
        await store.close()
    code, out, err = await cli(
        tmp_path,
        "create",
        "--text",
        "Chào mừng",
        "--topic",
        "workers_month",
        "--at",
        "2099-05-01 08:00",
        "--dry-run",
        env=env,
    )
    assert code == 0, err
    assert "By channel: Telegram 2 · Zalo OA 3 (2 outside the 7-day window) · Zalo Bot 1\n" in out


@pytest.mark.parametrize("value", ["0", "61", '"fast"'])
def test_oa_rate_is_validated(tmp_path: Path, value: str) -> None:
    from bot.config import ConfigError, load_config

    path = tmp_path / "config.toml"
    path.write_text(f"[zalo]\noa_rate = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="zalo.oa_rate"):
        load_config(path, env={})
    path.write_text("[zalo]\noa_rate = 12.5\n", encoding="utf-8")
    assert load_config(path, env={}).zalo.oa_rate == 12.5


def test_a_photo_known_only_by_its_telegram_file_id_goes_to_zalo_as_text_only() -> None:
    from bot.broadcast.zalo_sender import ZaloSender
    from storage.broadcasts import BroadcastPhoto

    sender = ZaloSender.__new__(ZaloSender)
    sender.channel = "zalo_oa"
    ref_only = BroadcastPhoto(id=1, filename="photo.jpg", data=b"", telegram_file_id="AgACAgIAAxk")
    assert [p.photo for p in sender.plan("Xin chào", ref_only)] == [None]
