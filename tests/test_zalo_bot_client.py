"""Zalo Bot platform client: long polling, update shapes, sending, errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.channels.zalo.bot_client import (
    BotUpdateKind,
    ZaloBotClient,
    parse_bot_update,
    verify_bot_webhook_secret,
)
from bot.channels.zalo.errors import (
    MalformedPayload,
    RateLimited,
    ZaloAuthError,
    ZaloNetworkError,
    ZaloPermanentError,
    ZaloServerError,
)
from tests.fakes.zalo_servers import FakeZaloBot, bot_text_update, bot_webhook_request

CHAT = "6ede9afa66b88fe6d6a9"


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def fake():
    async with FakeZaloBot(max_poll_wait=0.2) as server:
        yield server


@pytest.fixture
def client(fake, http) -> ZaloBotClient:
    return ZaloBotClient(fake.token, fake.base_url, http)


# -- getUpdates


async def test_empty_poll_408_returns_none(fake, client):
    assert await client.get_updates(timeout=30) is None
    (req,) = fake.log
    assert req.path == f"/bot{fake.token}/getUpdates"
    assert req.json == {"timeout": "30"}  # a string, as the platform documents


async def test_empty_poll_408_as_http_status_returns_none(http):
    async with FakeZaloBot(max_poll_wait=0.05, empty_poll_status=408) as fake:
        client = ZaloBotClient(fake.token, fake.base_url, http)
        assert await client.get_updates(timeout=1) is None


@pytest.mark.parametrize("wrap", [True, False])
async def test_one_update_per_call_wrapped_or_bare(http, wrap):
    async with FakeZaloBot(wrap_updates=wrap, max_poll_wait=0.2) as fake:
        client = ZaloBotClient(fake.token, fake.base_url, http)
        fake.push_update(bot_text_update(CHAT, "checkin", message_id="m1"))
        fake.push_update(bot_text_update(CHAT, "/start", message_id="m2"))

        first = await client.get_updates(timeout=1)
        second = await client.get_updates(timeout=1)
        third = await client.get_updates(timeout=1)

    assert (first.message_id, first.text, first.kind) == ("m1", "checkin", BotUpdateKind.TEXT)
    assert (second.message_id, second.text) == ("m2", "/start")
    assert third is None


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake, client):
    poll = asyncio.create_task(client.get_updates(timeout=30))
    await asyncio.sleep(0.05)
    fake.push_update(bot_text_update(CHAT, "hi"))
    update = await asyncio.wait_for(poll, 2)
    assert update is not None and update.chat_id == CHAT


async def test_poll_with_bad_token_is_an_auth_error(fake, http):
    client = ZaloBotClient("1:wrong", fake.base_url, http)
    with pytest.raises(ZaloAuthError) as info:
        await client.get_updates(timeout=1)
    assert info.value.code == 401
    assert "wrong" not in str(info.value)  # the token never reaches messages


# -- parsing


def test_parse_bare_update():
    update = parse_bot_update(bot_text_update(CHAT, "checkin", message_id="2d75"))
    assert update.event_name == "message.text.received"
    assert (update.message_id, update.chat_id, update.user_id) == ("2d75", CHAT, CHAT)
    assert update.display_name == "Ted" and update.chat_type == "PRIVATE"
    assert update.dedup_key == "message.text.received:2d75"
    assert isinstance(update.date_ms, int)
    assert "checkin" not in repr(update) and "Ted" not in repr(update)


def test_parse_wrapped_update_and_raw_bytes():
    wrapped = bot_text_update(CHAT, "checkin", message_id="2d75", wrapped=True)
    assert parse_bot_update(wrapped) == parse_bot_update(wrapped["result"])
    body, _ = bot_webhook_request(wrapped, "s" * 16)
    assert parse_bot_update(body).message_id == "2d75"


def test_parse_image_sticker_and_unknown_events():
    image = parse_bot_update(
        {
            "event_name": "message.image.received",
            "message": {
                "message_id": "p1",
                "photo": "https://zdn.vn/p.jpg",
                "caption": "hợp đồng",
                "from": {"id": "u1"},
                "chat": {"id": "u1"},
            },
        }
    )
    assert (image.kind, image.photo_url, image.text) == (BotUpdateKind.IMAGE, "https://zdn.vn/p.jpg", "hợp đồng")
    sticker = parse_bot_update(
        {
            "event_name": "message.sticker.received",
            "message": {"message_id": "s1", "sticker": "abc", "from": {"id": 42}},
        }
    )
    assert (sticker.kind, sticker.sticker, sticker.chat_id) == (BotUpdateKind.STICKER, "abc", "42")
    other = parse_bot_update(
        {
            "event_name": "message.link.received",
            "message": {"message_id": "l1", "chat": {"id": "g1", "chat_type": "GROUP"}},
        }
    )
    assert (other.kind, other.chat_type, other.user_id) == (BotUpdateKind.UNKNOWN, "GROUP", "g1")


@pytest.mark.parametrize(
    "obj",
    [
        b"not json",
        b"[]",
        {"ok": False, "error_code": 408, "description": "timeout"},
        {"ok": True, "result": "text"},
        {"event_name": "message.text.received"},
        {"event_name": "message.text.received", "message": {"text": "no ids"}},
    ],
)
def test_parse_rejects_shapes_without_a_message(obj):
    with pytest.raises(MalformedPayload):
        parse_bot_update(obj)


def test_webhook_secret_is_compared_exactly():
    assert verify_bot_webhook_secret("s3cret-token", "s3cret-token")
    assert not verify_bot_webhook_secret("s3cret-tokeN", "s3cret-token")
    assert not verify_bot_webhook_secret(None, "s3cret-token")
    assert not verify_bot_webhook_secret("", "")
    assert not verify_bot_webhook_secret("anything", "")
    assert verify_bot_webhook_secret("bí-mật-123", "bí-mật-123")  # non-ASCII does not raise


# -- sending


async def test_send_message_splits_over_2000_on_paragraphs(fake, client):
    text = "\n\n".join(["Mở đầu", "x" * 1990, "y" * 1990, "kết"])
    ids = await client.send_message(CHAT, text)

    texts = [s.text for s in fake.sent]
    # Paragraphs are packed while they fit, and never cut.
    assert texts == ["Mở đầu\n\n" + "x" * 1990, "y" * 1990 + "\n\nkết"]
    assert ids == [s.message_id for s in fake.sent]
    assert all(r.json["chat_id"] == CHAT for r in fake.log)


async def test_send_photo_chat_action_and_webhook_calls(fake, client):
    await client.send_photo(CHAT, "https://example.org/a.png", caption="Áp phích")
    await client.send_chat_action(CHAT)
    await client.set_webhook("https://bot.example.org/zalo", "secret-token-123")
    assert (await client.get_webhook_info())["url"] == "https://bot.example.org/zalo"
    await client.delete_webhook()
    me = await client.get_me()

    photo, action = fake.sent
    assert (photo.photo, photo.caption) == ("https://example.org/a.png", "Áp phích")
    assert action.action == "typing"
    assert fake.webhook is None
    assert me.id == "12345689" and me.account_type == "BASIC"
    with pytest.raises(ValueError, match="8-256 characters"):
        await client.set_webhook("https://bot.example.org/zalo", "short")
    with pytest.raises(ValueError, match="https URLs"):
        await client.set_webhook("http://bot.example.org/zalo", "secret-token-123")


async def test_long_caption_continues_as_text(fake, client):
    ids = await client.send_photo(CHAT, "https://e.org/a.png", caption="a" * 1500 + "\n\n" + "b" * 1500)
    assert len(ids) == 2
    assert [s.method for s in fake.sent] == ["sendPhoto", "sendMessage"]
    assert fake.sent[1].text == "b" * 1500


async def test_error_mapping_by_error_code(fake, client):
    fake.fail_next("sendMessage", 429, "Too many requests", retry_after=7)
    with pytest.raises(RateLimited) as rate:
        await client.send_message(CHAT, "hi")
    assert (rate.value.code, rate.value.retry_after) == (429, 7.0)

    fake.fail_next("sendMessage", 500, "Internal error", http_status=500)
    with pytest.raises(ZaloServerError):
        await client.send_message(CHAT, "hi")

    fake.fail_next("sendMessage", 400, "chat not found")
    with pytest.raises(ZaloPermanentError) as bad:
        await client.send_message(CHAT, "hi")
    assert (bad.value.code, bad.value.description, bad.value.method) == (400, "chat not found", "sendMessage")
    assert not isinstance(bad.value, ZaloAuthError)


async def test_failure_mid_split_reports_parts_sent(fake, client):
    fake.fail_next("sendMessage", 502, "bad gateway", http_status=502, after=1)

    with pytest.raises(ZaloServerError) as info:
        await client.send_message(CHAT, "a" * 1500 + "\n\n" + "b" * 1500)

    assert info.value.parts_sent == 1
    assert [s.text for s in fake.sent] == ["a" * 1500]


async def test_network_errors_are_transient_and_carry_no_url():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock_http:
        client = ZaloBotClient("1:SECRET", "https://bot-api.test", mock_http)
        with pytest.raises(ZaloNetworkError) as info:
            await client.send_message(CHAT, "hi")
    assert "SECRET" not in str(info.value)
    assert info.value.method == "sendMessage"


async def test_bare_results_and_non_json_answers():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sendMessage"):
            return httpx.Response(200, json={"message_id": "bare-1", "date": 1})
        if request.url.path.endswith("/getUpdates"):
            return httpx.Response(200, json=bot_text_update(CHAT, "hi", message_id="b2"))
        return httpx.Response(502, text="<html>bad gateway</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock_http:
        client = ZaloBotClient("1:x", "https://bot-api.test/", mock_http)
        assert await client.send_message(CHAT, "hi") == ["bare-1"]
        assert (await client.get_updates(timeout=1)).message_id == "b2"
        with pytest.raises(ZaloServerError) as info:
            await client.get_me()
    assert info.value.http_status == 502
