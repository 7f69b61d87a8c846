"""The Zalo OA channel end to end: signed webhooks in through the real web server, the
real handlers and SQLite store, customer-service messages out to the fake OA API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.channels.zalo.adapter_oa import ZaloOAChannel
from bot.channels.zalo.errors import RateLimited, Unreachable, ZaloAuthError, ZaloServerError
from bot.channels.zalo.oa_client import SEND_CS_PATH, UPLOAD_IMAGE_PATH
from bot.channels.zalo.rules import REASON_WINDOW, unreachable_reason
from handlers.i18n import load_catalog
from handlers.types import Button, Photo, Reply
from tests.fakes.zalo_servers import FakeZaloOA, oa_follow_event, oa_image_event, oa_text_event
from tests.zalo_harness import Harness, Wrapped, oa_env, running

WORKER = "6142494823000000001"
CATALOG = load_catalog()


@pytest.fixture
async def zalo():
    async with FakeZaloOA(refresh_delay=0.05) as server:
        yield server


def texts_to(zalo: FakeZaloOA, user_id: str) -> list[str]:
    return [m.text or "" for m in zalo.delivered if m.user_id == user_id]


async def test_rights_question_is_answered_through_the_oa_api(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "luong toi thieu vung 1", app_id=zalo.app_id)
        response = await h.post_oa(event)
        assert response.status_code == 200
        await h.settle()

        requests = zalo.requests_to(SEND_CS_PATH)
        assert requests, "nothing was sent"
        for req in requests:
            assert req.method == "POST"
            assert req.headers["content-type"].startswith("application/json")
            assert req.headers["access_token"] == zalo.delivered[0].access_token
            assert "authorization" not in req.headers
            assert set(req.json) == {"recipient", "message"}
            assert req.json["recipient"] == {"user_id": WORKER}
            assert set(req.json["message"]) == {"text"}
            assert 0 < len(req.json["message"]["text"]) <= 2000
        answer = "\n".join(texts_to(zalo, WORKER))
        assert "5.310.000" in answer  # region I, Decree 293/2025
        user = await h.runtime.store.find_user("zalo_oa", WORKER)
        assert user is not None and user.reachable


async def test_webhook_answers_at_once_and_handles_the_event_in_the_background(
    tmp_path: Path,
    zalo: FakeZaloOA,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        gate = asyncio.Event()
        real = h.oa.dispatcher.handle

        async def slow_handle(inbound):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await real(inbound)

        h.oa.dispatcher = Wrapped(h.oa.dispatcher, slow_handle)
        started = time.monotonic()
        response = await h.post_oa(oa_text_event(WORKER, "/start", app_id=zalo.app_id))
        assert response.status_code == 200 and time.monotonic() - started < 2
        assert h.oa.background.pending == 1 and zalo.delivered == []

        gate.set()
        await h.settle()
        assert CATALOG.t("vi", "start.welcome") in texts_to(zalo, WORKER)[0]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param({"secret": "not-the-oa-secret"}, id="wrong-secret"),
        pytest.param({"signature": "mac=" + "0" * 64}, id="forged"),
        pytest.param({"signature": None}, id="missing"),
        pytest.param({"tamper": True}, id="body-changed"),
    ],
)
async def test_a_forged_signature_is_rejected_and_nothing_is_stored(
    tmp_path: Path,
    zalo: FakeZaloOA,
    forge: dict,
) -> None:
    from tests.fakes.zalo_servers import signed_oa_webhook

    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "luong toi thieu vung 1", app_id=zalo.app_id, msg_id="m-forged")
        body, headers = signed_oa_webhook(event, forge.get("secret", "fake-oa-secret-key"))
        if "signature" in forge:
            headers.pop("X-ZEvent-Signature")
            if forge["signature"] is not None:
                headers["X-ZEvent-Signature"] = forge["signature"]
        if forge.get("tamper"):
            body = body.replace(b"vung 1", b"vung 4")
        response = await h.http.post(h.base_url + "/zalo/oa/webhook", content=body, headers=headers)
        assert response.status_code == 401
        await h.settle()

        store = h.runtime.store
        assert zalo.log == []
        assert await store.count_users() == 0
        # The forged call did not use up the event's id: the genuine delivery is handled.
        assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        assert await store.count_users() == 1
        assert texts_to(zalo, WORKER)


async def test_a_redelivered_event_is_handled_once(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id, msg_id="msg-42")
        assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        once = len(zalo.delivered)
        assert once >= 1

        # Zalo retries with num_retry; a retry may also race the first delivery.
        retries = await asyncio.gather(*(h.post_oa(event, num_retry=n) for n in (1, 2, 3)))
        assert [r.status_code for r in retries] == [200, 200, 200]
        await h.settle()
        assert len(zalo.delivered) == once


async def test_concurrent_duplicates_are_handled_once(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id, msg_id="msg-dup")
        await asyncio.gather(*(h.post_oa(event) for _ in range(5)))
        await h.settle()
        help_text = CATALOG.t("vi", "help.text")
        assert sum(help_text in t for t in texts_to(zalo, WORKER)) == 1


async def test_expired_token_is_refreshed_once_under_20_concurrent_sends(tmp_path: Path, zalo: FakeZaloOA) -> None:
    workers = [f"61424948230000001{i:02d}" for i in range(20)]
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        # Every worker writes once, so each is a known user inside the window.
        await asyncio.gather(*(h.post_oa(oa_text_event(w, "/menu", app_id=zalo.app_id)) for w in workers))
        await h.settle()
        assert zalo.refresh_count == 0
        before = len(zalo.delivered)

        zalo.expire_access_token(-216)
        # Twenty replies at once (twenty workers writing), then twenty sends from outside
        # a turn (what the broadcast engine does), all meeting the dead token.
        await asyncio.gather(*(h.post_oa(oa_text_event(w, "/help", app_id=zalo.app_id)) for w in workers))
        await h.settle()
        assert zalo.refresh_count == 1
        assert zalo.rejected_refresh_tokens == []
        help_text = CATALOG.t("vi", "help.text")
        assert sorted(m.user_id for m in zalo.delivered[before:] if help_text in (m.text or "")) == sorted(workers)

        zalo.expire_access_token(-220)
        sent_before = len(zalo.delivered)
        await asyncio.gather(*(h.oa.send(w, Reply(f"Thông báo {w}")) for w in workers))
        assert zalo.refresh_count == 2
        assert zalo.rejected_refresh_tokens == []
        assert sorted(m.text for m in zalo.delivered[sent_before:]) == sorted(f"Thông báo {w}" for w in workers)

        # The rotated pair is in the store, so a restart does not present a spent token.
        stored = await h.runtime.store.load_zalo_tokens(zalo.app_id)
        assert stored is not None
        assert stored.access_token == zalo.delivered[-1].access_token
        assert stored.refresh_token not in zalo.refresh_tokens_presented


async def test_a_restart_keeps_the_rotated_pair_and_adopts_a_new_configured_one(
    tmp_path: Path,
    zalo: FakeZaloOA,
) -> None:
    env = oa_env(tmp_path, zalo)
    async with running(tmp_path, env) as h:
        zalo.expire_access_token()
        await h.oa.send(WORKER, Reply("một"))
        assert zalo.refresh_count == 1

    # Same environment, whose refresh token is now spent: the stored pair wins.
    async with running(tmp_path, env) as h:
        await h.oa.send(WORKER, Reply("hai"))
        assert zalo.refresh_count == 1 and zalo.rejected_refresh_tokens == []

    # An admin authorised the OA again and configured the new pair: it is adopted.
    fresh = zalo.issue_tokens()
    env |= {"ZALO_OA_ACCESS_TOKEN": fresh.access_token, "ZALO_OA_REFRESH_TOKEN": fresh.refresh_token}
    async with running(tmp_path, env) as h:
        await h.oa.send(WORKER, Reply("ba"))
        assert zalo.delivered[-1].access_token == fresh.access_token
    assert [m.text for m in zalo.delivered] == ["một", "hai", "ba"]


async def test_without_any_token_the_oa_channel_refuses_to_start(tmp_path: Path, zalo: FakeZaloOA) -> None:
    with pytest.raises(ZaloAuthError, match="ZALO_OA_ACCESS_TOKEN"):
        async with running(tmp_path, oa_env(tmp_path, zalo, tokens=False)):
            pass


async def test_follow_gets_the_welcome_and_unfollow_unsubscribes(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        store = h.runtime.store
        await h.post_oa(oa_follow_event(WORKER, app_id=zalo.app_id))
        await h.settle()
        (welcome,) = texts_to(zalo, WORKER)
        assert welcome.startswith(CATALOG.t("vi", "start.welcome"))
        assert "\n1. " + CATALOG.t("vi", "menu.rights") in welcome
        assert CATALOG.t("vi", "zalo.choose_hint") in welcome

        user = await store.find_user("zalo_oa", WORKER)
        assert user is not None
        await store.subscribe(user.id, ["union_news"])

        await h.post_oa(oa_follow_event(WORKER, unfollow=True, app_id=zalo.app_id))
        await h.settle()
        user = await store.find_user("zalo_oa", WORKER)
        assert user is not None and not user.reachable
        assert await store.subscriptions(user.id) == set()
        assert await store.is_opted_out(user.id)
        assert len(zalo.delivered) == 1  # nothing is sent to someone who left


async def test_an_image_is_answered_as_unsupported(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        await h.post_oa(oa_image_event(WORKER, ["https://photo.zdn.vn/x.jpg"], app_id=zalo.app_id))
        await h.settle()
        assert CATALOG.t("vi", "fallback.unsupported") in texts_to(zalo, WORKER)[0]


async def test_receipts_and_unknown_events_are_ignored(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        seen = oa_text_event(WORKER, "", app_id=zalo.app_id)
        seen |= {"event_name": "user_seen_message", "sender": {"id": "oa"}, "recipient": {"id": WORKER}}
        # A GIF is no longer ignored (issue 14, item 15); an event nobody documents still is.
        odd = oa_text_event(WORKER, "x", app_id=zalo.app_id) | {"event_name": "user_send_hologram"}
        for event in (seen, odd):
            assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        assert zalo.log == [] and await h.runtime.store.count_users() == 0


async def test_numbered_choices_by_number_and_by_words(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        await h.post_oa(oa_text_event(WORKER, "/start", app_id=zalo.app_id))
        await h.settle()
        menu = texts_to(zalo, WORKER)[-1]
        number = next(line.split(". ", 1)[0] for line in menu.splitlines() if CATALOG.t("vi", "menu.language") in line)
        await h.post_oa(oa_text_event(WORKER, number, app_id=zalo.app_id))
        await h.settle()
        assert texts_to(zalo, WORKER)[-1].startswith(CATALOG.t("vi", "lang.choose"))

        await h.post_oa(oa_text_event(WORKER, "english", app_id=zalo.app_id))
        await h.settle()
        assert CATALOG.t("en", "lang.changed") in texts_to(zalo, WORKER)[-1]
        assert CATALOG.t("en", "zalo.choose_hint") in texts_to(zalo, WORKER)[-1]

        # Words that name no choice are an ordinary message.
        await h.post_oa(oa_text_event(WORKER, "Tieng Viet please", app_id=zalo.app_id))
        await h.settle()
        user = await h.runtime.store.find_user("zalo_oa", WORKER)
        assert user is not None and user.language == "en"
        await h.post_oa(oa_text_event(WORKER, "/lang", app_id=zalo.app_id))
        await h.settle()
        await h.post_oa(oa_text_event(WORKER, "TIẾNG VIỆT", app_id=zalo.app_id))
        await h.settle()
        assert CATALOG.t("vi", "lang.changed") in texts_to(zalo, WORKER)[-1]


async def test_a_long_reply_is_split_on_paragraphs(tmp_path: Path, zalo: FakeZaloOA) -> None:
    paragraphs = [f"Điều {i}. " + "Người lao động có quyền được trả lương đúng hạn. " * 20 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > 4000
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        await h.oa.send(WORKER, Reply(text, buttons=[[Button("Đồng ý", "x:yes")]]))
    parts = texts_to(zalo, WORKER)
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert "\n\n".join(parts).startswith(text)
    assert parts[-1].endswith(CATALOG.t("vi", "zalo.choose_hint"))


async def test_send_raises_the_platform_errors_the_broadcast_engine_maps(
    tmp_path: Path,
    zalo: FakeZaloOA,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        zalo.inject_error(WORKER, -230, times=1)
        with pytest.raises(Unreachable) as unreachable:
            await h.oa.send(WORKER, Reply("Thông báo"))
        assert unreachable_reason(unreachable.value.reason_code) == REASON_WINDOW

        zalo.inject_error(WORKER, -32, times=1)
        with pytest.raises(RateLimited):
            await h.oa.send(WORKER, Reply("Thông báo"))
        assert len(zalo.requests_to(SEND_CS_PATH)) == 2  # no retry inside send

        # A failure after the first part says how many parts went out.
        zalo.inject_error(WORKER, -200, times=1, after=1)
        with pytest.raises(ZaloServerError) as partial:
            await h.oa.send(WORKER, Reply("a" * 1500 + "\n\n" + "b" * 1500))
        assert partial.value.parts_sent == 1


async def test_a_turn_reply_retries_a_rate_limit(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        zalo.inject_error(WORKER, -32, times=1)
        await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        await h.settle()
        assert CATALOG.t("vi", "help.text") in texts_to(zalo, WORKER)[0]


async def test_a_photo_is_uploaded_once_and_sent_by_attachment(tmp_path: Path, zalo: FakeZaloOA) -> None:
    photo = Photo(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "qr.png")
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        for user in (WORKER, "other-worker"):
            await h.oa.send(user, Reply("Mã QR của bạn", photo=photo))
    assert len(zalo.requests_to(UPLOAD_IMAGE_PATH)) == 1
    images = [m for m in zalo.delivered if m.attachment_id]
    assert [m.user_id for m in images] == [WORKER, "other-worker"]
    assert zalo.uploads[images[0].attachment_id] == photo.data
    assert texts_to(zalo, WORKER)[-1] == "Mã QR của bạn"


async def test_stop_finishes_what_is_in_flight(tmp_path: Path, zalo: FakeZaloOA) -> None:
    gate = asyncio.Event()

    async def hold(h: Harness) -> None:
        real = h.oa.dispatcher.handle

        async def slow_handle(inbound):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await real(inbound)

        h.oa.dispatcher = Wrapped(h.oa.dispatcher, slow_handle)

    async with running(tmp_path, oa_env(tmp_path, zalo), before_start=hold) as h:
        await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        assert zalo.delivered == []
        asyncio.get_running_loop().call_later(0.1, gate.set)
    # Leaving the block stopped the channel, which waited for the reply.
    assert CATALOG.t("vi", "help.text") in texts_to(zalo, WORKER)[0]


async def test_requests_before_start_or_after_stop_are_refused_for_retry(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async def early(h: Harness) -> None:
        response = await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        assert response.status_code == 503

    async with running(tmp_path, oa_env(tmp_path, zalo), before_start=early) as h:
        await h.oa.stop()
        response = await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        assert response.status_code == 503
    assert zalo.delivered == []


async def test_a_handler_failure_gets_an_apology(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:

        async def broken(inbound):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        h.oa.dispatcher = Wrapped(h.oa.dispatcher, broken)
        await h.post_oa(oa_text_event(WORKER, "/help", app_id=zalo.app_id))
        await h.settle()
        assert texts_to(zalo, WORKER) == [CATALOG.t("vi", "errors.apology")]


def test_the_channel_is_built_only_with_all_three_oa_credentials(tmp_path: Path) -> None:
    from bot.app import Runtime
    from bot.config import ConfigError, load_config
    from tests.zalo_harness import write_config

    path = write_config(tmp_path)
    base = {"UNIONBOT_DB": str(tmp_path / "x.sqlite3")}
    assert Runtime(load_config(path, env=base)).build_channels() == []
    env = base | {"ZALO_OA_APP_ID": "1", "ZALO_OA_APP_SECRET": "s", "ZALO_OA_SECRET_KEY": "k"}
    (channel,) = Runtime(load_config(path, env=env)).build_channels()
    assert isinstance(channel, ZaloOAChannel) and [r.path for r in channel.web_routes()] == ["/zalo/oa/webhook"]
    # Without the OA secret key (Zalo shows it only after the webhook URL is saved) the
    # channel is built in set-up mode; without the app secret it is a configuration error.
    setup = load_config(path, env=base | {"ZALO_OA_APP_ID": "1", "ZALO_OA_APP_SECRET": "s"})
    assert setup.zalo.oa_setup_mode
    (channel,) = Runtime(setup).build_channels()
    assert isinstance(channel, ZaloOAChannel)
    with pytest.raises(ConfigError, match="zalo.oa_app_secret"):
        load_config(path, env=base | {"ZALO_OA_APP_ID": "1", "ZALO_OA_SECRET_KEY": "k"})
