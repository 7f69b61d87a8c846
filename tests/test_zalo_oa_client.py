"""OA Open API client: payload shapes, error mapping, splitting, uploads."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.channels.zalo.errors import (
    RateLimited,
    Unreachable,
    ZaloAuthError,
    ZaloNetworkError,
    ZaloPermanentError,
    ZaloServerError,
    ZaloTransientError,
)
from bot.channels.zalo.oa_client import SEND_CS_PATH, UPLOAD_IMAGE_PATH, ZaloOAClient
from bot.channels.zalo.tokens import MemoryTokenStore, TokenManager, TokenPair
from tests.fakes.zalo_servers import FakeZaloOA

USER = "6142494823000000000"


@pytest.fixture
async def zalo():
    async with FakeZaloOA() as server:
        yield server


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def client(zalo, http) -> ZaloOAClient:
    issued = zalo.issue_tokens()
    store = MemoryTokenStore(TokenPair(issued.access_token, issued.refresh_token, time.time() + issued.expires_in))
    tokens = TokenManager(zalo.app_id, zalo.app_secret, zalo.oauth_base_url, store, http)
    return ZaloOAClient(zalo.app_id, zalo.openapi_base_url, tokens, http)


async def test_send_text_uses_access_token_header_and_documented_body(zalo, client):
    (sent,) = await client.send_text(USER, "Xin chào", quote_message_id="q1")

    (req,) = zalo.requests_to(SEND_CS_PATH)
    assert req.headers["access_token"] == zalo.delivered[0].access_token
    assert "authorization" not in req.headers
    assert req.json == {
        "recipient": {"user_id": USER},
        "message": {"text": "Xin chào", "quote_message_id": "q1"},
    }
    assert sent.message_id == zalo.delivered[0].message_id
    assert sent.user_id == USER and sent.sent_time_ms and sent.quota is not None
    assert client.rate_limit is not None and client.rate_limit.limit == 4000
    assert client.rate_limit.remaining == 3999


async def test_long_text_goes_out_in_parts_split_on_paragraphs(zalo, client):
    paragraphs = [f"Điều {i}. " + "Người lao động có quyền " * 40 for i in range(5)]
    text = "\n\n".join(p.strip() for p in paragraphs)

    sent = await client.send_text(USER, text, quote_message_id="q1")

    texts = [m.text for m in zalo.delivered]
    assert len(sent) == len(texts) > 1
    assert all(len(t) <= 2000 for t in texts)
    assert "\n\n".join(texts) == text
    assert [m.quote_message_id for m in zalo.delivered] == ["q1"] + [None] * (len(texts) - 1)


async def test_blank_text_is_refused_before_any_call(zalo, client):
    with pytest.raises(ValueError, match="blank text"):
        await client.send_text(USER, "  ")
    assert zalo.log == []


async def test_send_image_by_url_with_caption(zalo, client):
    await client.send_image_url(USER, "https://example.org/poster.png", caption="Lịch họp")

    (req,) = zalo.requests_to(SEND_CS_PATH)
    assert req.json["message"] == {
        "text": "Lịch họp",
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": "https://example.org/poster.png"}],
            },
        },
    }
    assert zalo.delivered[0].image_url == "https://example.org/poster.png"


async def test_long_caption_continues_as_text(zalo, client):
    caption = "\n\n".join(["a" * 1500, "b" * 1500])
    sent = await client.send_image_url(USER, "https://example.org/p.png", caption=caption)
    assert len(sent) == 2
    assert zalo.delivered[0].image_url and zalo.delivered[0].text == "a" * 1500
    assert zalo.delivered[1].text == "b" * 1500 and zalo.delivered[1].image_url is None


async def test_upload_then_send_by_attachment_id(zalo, client):
    attachment_id = await client.upload_image(b"\x89PNG fake", filename="card.png")
    await client.send_image_attachment(USER, attachment_id)

    (upload,) = zalo.requests_to(UPLOAD_IMAGE_PATH)
    assert upload.files == {"file": b"\x89PNG fake"}
    assert upload.headers["access_token"]
    assert zalo.delivered[0].attachment_id == attachment_id
    assert "text" not in zalo.requests_to(SEND_CS_PATH)[0].json["message"]


async def test_expired_attachment_is_a_permanent_error_with_zalo_code(client):
    with pytest.raises(ZaloPermanentError) as info:
        await client.send_image_attachment(USER, "never-uploaded")
    assert info.value.code == -100


@pytest.mark.parametrize("code", [-230, -232, -213, -227])
async def test_unreachable_users_are_not_retried(zalo, client, code):
    zalo.inject_error(USER, code)

    with pytest.raises(Unreachable) as info:
        await client.send_text(USER, "Nhắc lịch họp")

    assert info.value.reason_code == code == info.value.code
    assert info.value.user_id == USER
    assert info.value.http_status == 200  # Zalo's error on HTTP 200
    assert isinstance(info.value, ZaloPermanentError)
    assert len(zalo.requests_to(SEND_CS_PATH)) == 1
    assert zalo.refresh_count == 0


async def test_rate_limit_is_raised_for_the_caller_to_back_off(zalo, client):
    zalo.inject_error(USER, -32, times=1)

    with pytest.raises(RateLimited) as info:
        await client.send_text(USER, "hi")
    assert info.value.code == -32
    assert isinstance(info.value, ZaloTransientError)
    assert len(zalo.requests_to(SEND_CS_PATH)) == 1

    await client.send_text(USER, "hi")  # the caller's later retry goes through
    assert len(zalo.delivered) == 1


async def test_app_wide_rate_limit_from_the_fake_counter(http):
    async with FakeZaloOA(rate_limit=2) as zalo:
        issued = zalo.issue_tokens()
        pair = TokenPair(issued.access_token, issued.refresh_token, time.time() + 9e4)
        tokens = TokenManager(zalo.app_id, zalo.app_secret, zalo.url, MemoryTokenStore(pair), http)
        client = ZaloOAClient(zalo.app_id, zalo.url, tokens, http)
        await client.send_text(USER, "1")
        await client.send_text(USER, "2")
        assert client.rate_limit.remaining == 0
        with pytest.raises(RateLimited):
            await client.send_text(USER, "3")


async def test_other_errors_keep_zalo_code_and_message(zalo, client):
    zalo.inject_error(USER, -201, "recipient is invalid!")
    with pytest.raises(ZaloPermanentError) as info:
        await client.send_text(USER, "hi")
    assert (info.value.code, info.value.description) == (-201, "recipient is invalid!")
    assert not isinstance(info.value, Unreachable | ZaloAuthError)
    assert "-201" in str(info.value)


async def test_send_failed_is_transient(zalo, client):
    zalo.inject_error(USER, -200, times=1)
    with pytest.raises(ZaloServerError):
        await client.send_text(USER, "hi")


async def test_failure_mid_way_reports_how_many_parts_went_out(zalo, client):
    text = "\n\n".join(["a" * 1500, "b" * 1500, "c" * 1500])
    zalo.inject_error(USER, -200, times=1, after=2)

    with pytest.raises(ZaloServerError) as info:
        await client.send_text(USER, text)

    assert info.value.parts_sent == 2
    assert [m.text[0] for m in zalo.delivered] == ["a", "b"]


async def test_token_rejected_twice_is_an_auth_error_not_a_loop(zalo, client):
    zalo.inject_error(USER, -216)  # every call, even with the fresh token
    with pytest.raises(ZaloAuthError) as info:
        await client.send_text(USER, "hi")
    assert info.value.code == -216
    assert zalo.refresh_count == 1
    assert len(zalo.requests_to(SEND_CS_PATH)) == 2


async def test_network_and_http_failures_map_to_transient_errors():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("x-case") == "boom":
            raise httpx.ReadTimeout("slow", request=request)
        status = int(request.url.params.get("status", "200"))
        return httpx.Response(status, text="<html>proxy error</html>")

    pair = TokenPair("tok", "ref", time.time() + 9e4)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock_http:
        tokens = TokenManager("app", "s", "http://oauth.test", MemoryTokenStore(pair), mock_http)
        client = ZaloOAClient("app", "http://oa.test", tokens, mock_http)

        with pytest.raises(ZaloServerError) as info:
            await client.send_text(USER, "hi")  # HTTP 200 but not Zalo's JSON
        assert info.value.http_status == 200

        mock_http.headers["x-case"] = "boom"
        with pytest.raises(ZaloNetworkError):
            await client.send_text(USER, "hi")


async def test_upload_is_retried_once_after_a_token_refresh(zalo, client):
    zalo.expire_access_token()
    attachment_id = await client.upload_image(b"jpeg bytes", filename="a.jpg")

    assert zalo.refresh_count == 1
    assert zalo.uploads[attachment_id] == b"jpeg bytes"
    assert len(zalo.requests_to(UPLOAD_IMAGE_PATH)) == 2
