"""Malformed JSON with valid credentials never gives a 500 on any webhook.

`[]`, `"x"`, `1` and deeply nested documents used to raise AttributeError or
RecursionError inside the routes (HTTP 500, which Telegram retries for ever). Each
platform now gets a deliberate answer, one log line that does not carry the body,
and nothing is processed:

* Telegram: 400. Telegram gives up on a 4xx after a few attempts and shows it in
  getWebhookInfo's last_error_message, so the operator learns of it.
* Zalo Bot: 200 and dropped. Zalo documents no retry policy for its Bot webhooks; a
  body it could not send correctly would only come back.
* Zalo OA: 400. The signature covers fields inside the body, so a body that is not a
  JSON object can be neither verified nor from Zalo, whose events are always objects.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.fakes.zalo_servers import signed_oa_webhook
from tests.harness import running_bot
from tests.test_webhook_body_limits import WEBHOOKS, all_webhooks_config, servers  # noqa: F401
from tests.zalo_harness import OA_SECRET

MARKER = "PRIVATE-WORKER-TEXT-0912345678"
DEPTH = 20_000  # far past Python's recursion limit, well under the body limit
BODIES = {
    "empty-list": json.dumps([MARKER]).encode(),
    "string": json.dumps(MARKER).encode(),
    "number": b"1",
    "null": b"null",
    "deep-list": b"[" * DEPTH + json.dumps(MARKER).encode() + b"]" * DEPTH,
    "deep-object": b'{"a":' * DEPTH + json.dumps(MARKER).encode() + b"}" * DEPTH,
    "not-json": b"{" + MARKER.encode() + b"\xff",
}
EXPECTED = {"telegram": 400, "zalo_bot": 200, "zalo_oa": 400}


def _deep_signed_oa_body(app_id: str) -> tuple[bytes, dict[str, str]]:
    """A correctly signed OA event whose message nests too deep to parse."""
    import time

    event = {"app_id": app_id, "timestamp": str(int(time.time() * 1000)), "event_name": "user_send_text"}
    body, headers = signed_oa_webhook(event, OA_SECRET)
    nested = body[:-1] + b', "x": ' + b"[" * DEPTH + json.dumps(MARKER).encode() + b"]" * DEPTH + b"}"
    import hashlib

    digest = hashlib.sha256(app_id.encode() + nested + event["timestamp"].encode() + OA_SECRET.encode()).hexdigest()
    return nested, {**headers, "X-ZEvent-Signature": "mac=" + digest}


@pytest.mark.parametrize("shape", list(BODIES))
async def test_malformed_bodies_get_a_deliberate_answer_and_one_log_line(
    tmp_path: Path,
    servers,  # noqa: F811
    shape: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tg, oa, bot = servers
    async with running_bot(all_webhooks_config(tmp_path, tg, oa, bot)) as runtime:
        url = f"http://127.0.0.1:{runtime.web_port}"
        async with httpx.AsyncClient() as http:
            for name, (path, headers) in WEBHOOKS.items():
                caplog.clear()
                with caplog.at_level(logging.DEBUG):
                    r = await http.post(url + path, content=BODIES[shape], headers=headers)
                assert r.status_code == EXPECTED[name], (name, shape, r.status_code)
                records = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
                assert len(records) == 1, (name, shape, [rec.getMessage() for rec in records])
                assert MARKER not in caplog.text
        for channel in runtime.test_channels:  # type: ignore[attr-defined]
            if hasattr(channel, "background"):
                await channel.background.idle()
        assert await runtime.store.count_users() == 0
        assert bot.sent == [] and oa.delivered == []


async def test_a_signed_oa_event_nested_too_deep_is_a_400(tmp_path: Path, servers) -> None:  # noqa: F811
    tg, oa, bot = servers
    async with running_bot(all_webhooks_config(tmp_path, tg, oa, bot)) as runtime:
        body, headers = _deep_signed_oa_body(oa.app_id)
        async with httpx.AsyncClient() as http:
            r = await http.post(f"http://127.0.0.1:{runtime.web_port}/zalo/oa/webhook", content=body, headers=headers)
        assert r.status_code == 400
        assert await runtime.store.count_users() == 0
