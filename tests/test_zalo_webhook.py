"""OA webhook signature and event parsing."""

from __future__ import annotations

import hashlib
import json

import pytest

from bot.channels.zalo.errors import MalformedPayload
from bot.channels.zalo.webhook import OAEventKind, parse_oa_event, verify_oa_signature
from tests.fakes.zalo_servers import (
    oa_follow_event,
    oa_image_event,
    oa_text_event,
    signed_oa_webhook,
)

APP_ID = "2553928453557884079"
OA_SECRET = "oa-secret-key"
USER = "6142494823000000000"


def _header(headers: dict[str, str]) -> str:
    return headers["X-ZEvent-Signature"]


def test_valid_signature_with_mac_prefix():
    body, headers = signed_oa_webhook(oa_text_event(USER, "Chào A4B"), OA_SECRET)
    assert _header(headers).startswith("mac=")
    assert verify_oa_signature(body, _header(headers), APP_ID, OA_SECRET)


def test_valid_signature_without_prefix_and_in_upper_case():
    body, headers = signed_oa_webhook(oa_text_event(USER, "hi"), OA_SECRET, prefix="")
    assert verify_oa_signature(body, _header(headers), APP_ID, OA_SECRET)
    assert verify_oa_signature(body, " MAC=" + _header(headers).upper(), APP_ID, OA_SECRET)


def test_signature_matches_reference_formula_on_raw_bytes():
    # Spacing unlike json.dumps: the MAC covers the bytes as received, not re-serialised JSON.
    body = b'{ "app_id":"1","timestamp":"1699003881354","event_name":"follow" }'
    digest = hashlib.sha256(b"1" + body + b"1699003881354" + b"k").hexdigest()
    assert verify_oa_signature(body, f"mac={digest}", "1", "k")
    assert not verify_oa_signature(json.dumps(json.loads(body)).encode(), digest, "1", "k")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, sig: (body.replace(b"hi", b"ho"), sig),  # body changed in transit
        lambda body, sig: (body, "mac=" + "0" * 64),  # forged
        lambda body, sig: (body, sig[:-1]),  # truncated
        lambda body, sig: (body, "sha256=" + sig[4:]),  # unknown scheme
        lambda body, sig: (body, None),  # missing header
        lambda body, sig: (body, ""),
        lambda body, sig: (body, "mac=" + "g" * 64),  # not hex
    ],
)
def test_forged_or_missing_signatures_fail(tamper):
    body, headers = signed_oa_webhook(oa_text_event(USER, "hi"), OA_SECRET)
    body, sig = tamper(body, _header(headers))
    assert verify_oa_signature(body, sig, APP_ID, OA_SECRET) is False


def test_wrong_secret_or_other_app_fails():
    body, headers = signed_oa_webhook(oa_text_event(USER, "hi"), OA_SECRET)
    assert not verify_oa_signature(body, _header(headers), APP_ID, "app-secret-not-oa-secret")
    assert not verify_oa_signature(body, _header(headers), "another-app", OA_SECRET)
    assert not verify_oa_signature(body, _header(headers), APP_ID, "")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'{"app_id": "2553928453557884079"}',  # no timestamp
        b'{"timestamp": "1"}',  # no app_id
        b'{"app_id": "2553928453557884079", "timestamp": 1.5e12}',  # float timestamp
        b'{"app_id": true, "timestamp": "1"}',
        b"[" * 100000,
    ],
)
def test_malformed_bodies_fail_without_raising(body):
    assert verify_oa_signature(body, "mac=" + "a" * 64, APP_ID, OA_SECRET) is False


def test_integer_timestamp_in_body_is_accepted():
    body = b'{"app_id":"1","timestamp":1699003881354,"event_name":"follow"}'
    digest = hashlib.sha256(b"1" + body + b"1699003881354" + b"k").hexdigest()
    assert verify_oa_signature(body, digest, "1", "k")


def test_parse_user_send_text():
    event = parse_oa_event(oa_text_event(USER, "Chào A4B", msg_id="cb31", timestamp_ms=1699003881354))
    assert event.kind is OAEventKind.TEXT
    assert event.user_id == USER == event.sender_id
    assert event.oa_id == "3662729599332560487"
    assert event.msg_id == "cb31"
    assert event.text == "Chào A4B"
    assert event.timestamp_ms == 1699003881354
    assert event.dedup_key == "user_send_text:cb31"
    assert "Chào" not in repr(event)


def test_parse_raw_bytes_as_well_as_dicts():
    body, _ = signed_oa_webhook(oa_text_event(USER, "hi", msg_id="m1"), OA_SECRET)
    assert parse_oa_event(body).msg_id == "m1"


def test_parse_user_send_image_with_caption():
    urls = ["https://s120.zdn.vn/a.jpg", "https://s120.zdn.vn/b.jpg"]
    event = parse_oa_event(oa_image_event(USER, urls, caption="bảng lương"))
    assert event.kind is OAEventKind.IMAGE
    assert event.image_urls == tuple(urls)
    assert event.text == "bảng lương"


def test_parse_follow_and_unfollow_use_the_follower():
    follow = parse_oa_event(oa_follow_event(USER))
    assert (follow.kind, follow.user_id, follow.sender_id) == (OAEventKind.FOLLOW, USER, None)
    assert follow.oa_id == "3662729599332560487"
    unfollow = parse_oa_event(oa_follow_event(USER, unfollow=True))
    assert unfollow.kind is OAEventKind.UNFOLLOW
    assert unfollow.dedup_key.startswith("unfollow:" + USER)


def test_parse_receipts_name_the_user_on_the_recipient_side():
    base = {"app_id": APP_ID, "timestamp": "1", "sender": {"id": "OA"}, "recipient": {"id": USER}}
    received = parse_oa_event({**base, "event_name": "user_received_message", "message": {"msg_id": "m9"}})
    assert (received.kind, received.user_id, received.oa_id) == (OAEventKind.RECEIVED, USER, "OA")
    seen = parse_oa_event({**base, "event_name": "user_seen_message", "message": {"msg_ids": ["m1", "m2"]}})
    assert (seen.kind, seen.msg_ids, seen.user_id) == (OAEventKind.SEEN, ("m1", "m2"), USER)


def test_other_events_are_unknown_but_parsed():
    sticker = parse_oa_event(
        {
            "app_id": APP_ID,
            "event_name": "user_send_sticker",
            "timestamp": "5",
            "sender": {"id": USER},
            "recipient": {"id": "OA"},
            "message": {"msg_id": "s1"},
        }
    )
    # Stickers, links, files...: media the bot answers (issue 14, item 15).
    assert (sticker.kind, sticker.user_id, sticker.msg_id) == (OAEventKind.MEDIA, USER, "s1")
    event = parse_oa_event(
        {
            "app_id": APP_ID,
            "event_name": "user_send_hologram",
            "timestamp": "5",
            "sender": {"id": USER},
            "recipient": {"id": "OA"},
            "message": {"msg_id": "s1"},
        }
    )
    assert (event.kind, event.user_id, event.msg_id) == (OAEventKind.UNKNOWN, USER, "s1")
    echo = parse_oa_event(
        {
            "app_id": APP_ID,
            "event_name": "oa_send_text",
            "timestamp": "5",
            "sender": {"id": "OA"},
            "recipient": {"id": USER},
            "message": {"msg_id": "e1"},
        }
    )
    assert (echo.kind, echo.user_id) == (OAEventKind.UNKNOWN, USER)


@pytest.mark.parametrize("obj", [b"nope", b"[]", {}, {"event_name": ""}, {"event_name": 5.0}])
def test_parse_rejects_bodies_without_an_event(obj):
    with pytest.raises(MalformedPayload):
        parse_oa_event(obj)
