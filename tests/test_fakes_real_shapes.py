"""The fakes produce the shapes the real Zalo platforms send (issue 14, item 17).

Each sample below is copied from /work/shared/reference/zalo-real-payloads.md (public
SDKs' test data, official docs). The fake's builder must produce the same structure:
the same keys at every level and the same JSON types, so a test written with the fake
exercises what real traffic carries.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.channels.zalo.bot_client import ZaloBotClient
from tests.fakes.zalo_servers import (
    FakeZaloBot,
    FakeZaloOA,
    bot_doc_update,
    bot_image_update,
    oa_attachment_event,
    oa_follow_event,
    oa_probe_request,
    oa_text_event,
)

PHP = '"app_id":"1163843031413526746","user_id_by_app":"2372735685249892743",'
SAMPLES = {
    "sticker": "{"
    + PHP
    + '"event_name":"user_send_sticker","timestamp":"1609984527176","sender":{"id":"4339761418830368435"},"recipient":{"id":"2197174064623873199"},"message":{"msg_id":"This is message id 3","text":"This is testing message","attachments":[{"payload":{"id":"sticker_id","url":"link"},"type":"sticker"}]}}',  # noqa: E501
    "link": "{"
    + PHP
    + '"event_name":"user_send_link","timestamp":"1609984527175","sender":{"id":"4339761418830368436"},"recipient":{"id":"2197174064623873199"},"message":{"msg_id":"This is message id 4","text":"This is testing message","attachments":[{"payload":{"thumbnail":"url_to_thumbnail","description":"description_of_link","url":"link"},"type":"link"}]}}',  # noqa: E501
    "file": "{"
    + PHP
    + '"event_name":"user_send_file","timestamp":"1609984527185","sender":{"id":"4339761418830368437"},"recipient":{"id":"2197174064623873199"},"message":{"msg_id":"This is message id 5","attachments":[{"payload":{"url":"link_to_download_file","size":"9999","name":"file_name","checksum":"checksum","type":"file_type"},"type":"file"}]}}',  # noqa: E501
    "text": '{"event_name":"user_send_text","app_id":"2553928453557884079","sender":{"id":"6142494823xxxxxxxx"},"recipient":{"id":"3662729599332560487"},"message":{"text":"Chào A4B","msg_id":"cb31dff1c39642cc1b83"},"timestamp":"1699003881354","user_id_by_app":"979122185046046317"}',  # noqa: E501
    "follow": '{"oa_id":"140130397183308120","follower":{"id":"8890635404729405962"},"user_id_by_app":"6655413641204889003","event_name":"follow","source":"zalo","app_id":"3310500707791294854","timestamp":"1752295684665"}',  # noqa: E501
    "bot_doc": '{"ok": true, "result": {"message": {"chat": {"id": "e4ea2cd5189df1c3a88c", "chat_type": "PRIVATE"}, "text": "Xin chào", "message_id": "16f6366b3f02645a3d15", "date": 1766619597466, "from": {"id": "e4ea2cd5189df1c3a88c", "first_name": "Nguyen Van A"}}}}',  # noqa: E501
    "bot_image": '{"event_name": "message.image.received", "message": {"message_id": "img-1", "date": 1750316131602, "photo_url": "https://example.com/photo.jpg", "caption": "ảnh", "from": {"id": "u-img", "display_name": "A", "is_bot": false}, "chat": {"id": "u-img", "chat_type": "PRIVATE"}}}',  # noqa: E501
}


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


BUILT = {
    "sticker": lambda: oa_attachment_event("u", "sticker", text="t"),
    "link": lambda: oa_attachment_event("u", "link", text="t"),
    "file": lambda: oa_attachment_event("u", "file"),
    "text": lambda: oa_text_event("u", "t"),
    "follow": lambda: oa_follow_event("u"),
    "bot_doc": lambda: bot_doc_update("u", "t", message_id="m"),
    "bot_image": lambda: bot_image_update("u", caption="c"),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_builders_match_the_real_samples(name: str) -> None:
    real = json.loads(SAMPLES[name])
    built = BUILT[name]()
    if name == "follow":
        real.pop("source")  # "zalo" or "oa_profile": a value, but the key is there in both
        built.pop("source")
    assert shape(built) == shape(real)


def test_the_probe_is_an_unsigned_empty_object() -> None:
    body, headers = oa_probe_request()
    assert json.loads(body) == {} and "X-ZEvent-Signature" not in headers


async def test_the_fake_bot_serves_the_official_sample_shape_to_get_updates() -> None:
    async with FakeZaloBot() as bot, httpx.AsyncClient() as http:
        bot.push_update(bot_doc_update("u1", "Xin chào", wrapped=False, message_id="m1"))
        raw = await http.post(f"{bot.base_url}/bot{bot.token}/getUpdates", json={"timeout": "1"})
        assert shape(raw.json()) == shape(json.loads(SAMPLES["bot_doc"]))
        bot.push_update(bot_doc_update("u1", "Xin chào", wrapped=False, message_id="m2"))
        update = await ZaloBotClient(bot.token, bot.base_url, http).get_updates(timeout=1)
        assert update is not None and update.text == "Xin chào" and update.display_name == "Nguyen Van A"


async def test_the_fake_oa_answers_expires_in_as_a_string_by_default() -> None:
    async with FakeZaloOA() as oa, httpx.AsyncClient() as http:
        pair = oa.issue_tokens()
        r = await http.post(
            f"{oa.oauth_base_url}/v4/oa/access_token",
            headers={"secret_key": oa.app_secret},
            data={"app_id": oa.app_id, "grant_type": "refresh_token", "refresh_token": pair.refresh_token},
        )
        assert isinstance(r.json()["expires_in"], str)
