"""Client for the Zalo Bot platform: Telegram-like, static token, `POST /bot<token>/<method>`.

Differences from Telegram that shape this module: `getUpdates` returns one update
per call with no offset (the server forgets it once delivered), an empty long poll
is reported as `error_code` 408, and bodies arrive either wrapped in
`{"ok": true, "result": ...}` or bare, so both are accepted everywhere.

The bot token is part of every URL: nothing here logs or raises a URL. Keep the
`httpx` logger at WARNING in production, because httpx logs request URLs at INFO.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from bot.channels.zalo.errors import (
    MalformedPayload,
    RateLimited,
    ZaloAuthError,
    ZaloError,
    ZaloNetworkError,
    ZaloPermanentError,
    ZaloServerError,
)
from bot.channels.zalo.text import split_text

logger = logging.getLogger(__name__)

DEFAULT_BOT_API_BASE = "https://bot-api.zaloplatforms.com"
BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_TIMEOUT_CODE = 408
# The server holds a long poll for up to `timeout` seconds; give the HTTP read
# that much plus this, so a slow empty answer is not mistaken for a dead network.
POLL_READ_SLACK = 10.0


class BotUpdateKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    STICKER = "sticker"
    UNSUPPORTED = "unsupported"  # Zalo's own "message.unsupported.received"
    UNKNOWN = "unknown"  # an event name this module does not know yet


_KIND_BY_EVENT = {
    "message.text.received": BotUpdateKind.TEXT,
    "message.image.received": BotUpdateKind.IMAGE,
    "message.sticker.received": BotUpdateKind.STICKER,
    "message.unsupported.received": BotUpdateKind.UNSUPPORTED,
}


@dataclass(frozen=True, slots=True)
class ZaloBotUpdate:
    """One inbound Bot-platform message. Text and names stay out of repr, hence out of logs."""

    event_name: str
    kind: BotUpdateKind
    message_id: str
    chat_id: str  # where to reply
    user_id: str  # who wrote; equals chat_id in a private chat
    chat_type: str = "PRIVATE"
    text: str = field(default="", repr=False)  # message text, or the caption of an image
    photo_url: str | None = field(default=None, repr=False)
    sticker: str | None = None
    display_name: str | None = field(default=None, repr=False)
    is_bot: bool = False
    date_ms: int | None = None

    @property
    def dedup_key(self) -> str:
        """Updates carry no update_id; Zalo may redeliver, so deduplicate on this.

        The official getUpdates sample even lacks a `message_id` at times; then what
        identifies a message (sender, chat, time, content) makes the key, so two
        workers' messages never share one. The content is hashed: the store keeps keys
        for days, and workers' texts are never kept in the clear.
        """
        if self.message_id:
            return f"{self.event_name}:{self.message_id}"
        content = "\x1f".join(
            (
                self.user_id,
                self.chat_id,
                str(self.date_ms),
                self.kind.value,
                self.text,
                self.photo_url or "",
                self.sticker or "",
            )
        )
        return "nomid:" + hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: str
    account_name: str
    account_type: str | None = None
    can_join_groups: bool = False


def parse_bot_update(obj: Mapping[str, Any] | bytes | str) -> ZaloBotUpdate:
    """Read an update from a webhook body or a getUpdates result, wrapped or bare.

    Raises MalformedPayload when there is no message to read.
    """
    data = _load_json_object(obj)
    if "result" in data and ("ok" in data or "event_name" not in data):
        if data.get("ok") is False:
            raise MalformedPayload("an error envelope, not an update")
        data = data["result"]
        if not isinstance(data, Mapping):
            raise MalformedPayload("result is not an object")

    message = data.get("message")
    if not isinstance(message, Mapping):
        raise MalformedPayload("update has no message object")
    event_name = str(data.get("event_name") or "")
    sender = _mapping(message.get("from"))
    chat = _mapping(message.get("chat"))
    user_id = _id(sender.get("id")) or _id(chat.get("id"))
    chat_id = _id(chat.get("id")) or user_id
    if not user_id:
        raise MalformedPayload("update names neither a sender nor a chat")

    raw_text = message.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    if not text:
        caption = message.get("caption")
        text = caption if isinstance(caption, str) else ""
    # Real image updates carry `photo_url`; the docs' tables say `photo`.
    photo = _first_str(message, "photo_url", "photo")
    sticker = message.get("sticker")
    if event_name:
        kind = _KIND_BY_EVENT.get(event_name, BotUpdateKind.UNKNOWN)
    else:
        # The official getUpdates sample has no event_name: read the kind from the fields.
        kind = _infer_kind(raw_text, photo, sticker)
    date = message.get("date")
    # Real samples name the sender `first_name`, others `display_name`.
    name = _first_str(sender, "display_name", "first_name")
    return ZaloBotUpdate(
        event_name=event_name,
        kind=kind,
        message_id=_id(message.get("message_id")),
        chat_id=chat_id,
        user_id=user_id,
        chat_type=str(chat.get("chat_type") or "PRIVATE"),
        text=text,
        photo_url=photo,
        sticker=sticker if isinstance(sticker, str) and sticker else None,
        display_name=name,
        is_bot=sender.get("is_bot") is True,
        date_ms=date if isinstance(date, int) and not isinstance(date, bool) else None,
    )


def _mapping(value: object) -> Mapping[str, Any]:
    """A JSON object, or an empty one in place of anything else."""
    return value if isinstance(value, Mapping) else {}


def _first_str(obj: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _infer_kind(text: Any, photo: str | None, sticker: Any) -> BotUpdateKind:
    if photo:
        return BotUpdateKind.IMAGE
    if isinstance(sticker, str) and sticker:
        return BotUpdateKind.STICKER
    if isinstance(text, str) and text:
        return BotUpdateKind.TEXT
    return BotUpdateKind.UNKNOWN


def verify_bot_webhook_secret(header_value: str | None, expected: str) -> bool:
    """Check the `X-Bot-Api-Secret-Token` header against our secret, in constant time.

    An empty configured secret never matches: a missing setting must not open the webhook.
    """
    if not header_value or not expected:
        return False
    return hmac.compare_digest(header_value.encode(), expected.encode())


class ZaloBotClient:
    """Calls the Bot API. The caller owns `http` and closes it at shutdown."""

    def __init__(self, token: str, base_url: str, http: httpx.AsyncClient) -> None:
        if not token:
            raise ValueError("a Zalo bot token is required")
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        self._http = http

    async def get_me(self) -> BotIdentity:
        result = await self._call("getMe", {})
        if not isinstance(result, Mapping) or not _id(result.get("id")):
            raise ZaloServerError("getMe returned no bot id", method="getMe")
        return BotIdentity(
            id=_id(result.get("id")),
            account_name=str(result.get("account_name") or ""),
            account_type=result.get("account_type"),
            can_join_groups=result.get("can_join_groups") is True,
        )

    # `timeout` is the server's long-poll wait, a Bot API parameter, not a client deadline.
    async def get_updates(self, timeout: int = 30) -> ZaloBotUpdate | None:  # noqa: ASYNC109
        """Long-poll for the next update; None when nothing arrived within `timeout` seconds.

        Fails while a webhook is set (Zalo's rule); call `delete_webhook` first.
        """
        response = await self._post("getUpdates", {"timeout": str(timeout)}, read_timeout=timeout + POLL_READ_SLACK)
        body = _json_or_none(response)
        if _error_code(body) == POLL_TIMEOUT_CODE or (body is None and response.status_code == POLL_TIMEOUT_CODE):
            return None
        result = _result("getUpdates", response, body)
        if result is None or result == {}:
            return None
        try:
            return parse_bot_update(result)
        except MalformedPayload as exc:
            # The server will not hand this update out again (no offset), so raising
            # would only stall the poll loop; record the shape problem and move on.
            logger.warning("zalo bot: dropped an unreadable update: %s", exc)
            return None

    async def send_message(self, chat_id: str, text: str) -> list[str]:
        """Send text, split into parts of at most 2,000 characters; returns their message ids."""
        parts = split_text(text)
        if not parts:
            raise ValueError("cannot send blank text")
        return await self._send_parts(chat_id, parts)

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> list[str]:
        """Send an image by https URL (the platform takes no uploads).

        A caption over 2,000 characters rides as far as it fits on the photo; the
        rest follows as text. Returns the message ids in order.
        """
        parts = split_text(caption or "")
        payload: dict[str, Any] = {"chat_id": chat_id, "photo": photo_url}
        if parts:
            payload["caption"] = parts[0]
        result = await self._call("sendPhoto", payload)
        ids = [_message_id(result)]
        try:
            ids += await self._send_parts(chat_id, parts[1:])
        except ZaloError as exc:
            exc.parts_sent += 1
            raise
        return ids

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self._call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> None:
        if not url.startswith("https://"):
            raise ValueError("Zalo only delivers webhooks to https URLs")
        if not 8 <= len(secret_token) <= 256:
            raise ValueError("the webhook secret must be 8-256 characters")
        await self._call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        await self._call("deleteWebhook", {})

    async def get_webhook_info(self) -> dict[str, Any]:
        result = await self._call("getWebhookInfo", {})
        return dict(result) if isinstance(result, Mapping) else {}

    async def _send_parts(self, chat_id: str, parts: list[str]) -> list[str]:
        ids: list[str] = []
        for part in parts:
            try:
                result = await self._call("sendMessage", {"chat_id": chat_id, "text": part})
            except ZaloError as exc:
                exc.parts_sent = len(ids)
                raise
            ids.append(_message_id(result))
        if len(parts) > 1:
            logger.debug("zalo bot: sent %d parts to chat %s", len(parts), chat_id)
        return ids

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        response = await self._post(method, payload)
        return _result(method, response, _json_or_none(response))

    async def _post(self, method: str, payload: dict[str, Any], *, read_timeout: float | None = None) -> httpx.Response:
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if read_timeout is not None:
            timeout = httpx.Timeout(read_timeout, connect=10.0)
        try:
            return await self._http.post(self._prefix + method, json=payload, timeout=timeout)
        except httpx.TransportError as exc:
            # str(exc) of an httpx transport error carries no URL, so no token leaks here.
            raise ZaloNetworkError(f"{type(exc).__name__}: {exc}", method=method) from exc


def _result(method: str, response: httpx.Response, body: Any) -> Any:
    status = response.status_code
    if isinstance(body, Mapping):
        code = _error_code(body)
        failed = body.get("ok") is False or ("ok" not in body and code not in (None, 0))
        if failed:
            description = str(body.get("description") or body.get("message") or "request failed")
            raise _error(method, code if code is not None else status, description, response)
        if status >= 400:
            raise _error(method, status, f"HTTP {status}", response)
        if body.get("ok") is True:
            return body.get("result")
        return body  # bare: the result itself
    if status >= 400:
        raise _error(method, status, f"HTTP {status}", response)
    if body is None:
        raise ZaloServerError("response is not JSON", http_status=status, method=method)
    return body


def _error(method: str, code: int, description: str, response: httpx.Response) -> ZaloError:
    kw: dict[str, Any] = {"code": code, "http_status": response.status_code, "method": method}
    if code == 429 or response.status_code == 429:
        return RateLimited(description, retry_after=_retry_after(response), **kw)
    if code >= 500 or response.status_code >= 500:
        return ZaloServerError(description, **kw)
    if code in (401, 403):
        return ZaloAuthError(description, **kw)
    return ZaloPermanentError(description, **kw)


def _retry_after(response: httpx.Response) -> float | None:
    body = _json_or_none(response)
    if isinstance(body, Mapping) and isinstance(body.get("parameters"), Mapping):
        value = body["parameters"].get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(body: Any) -> int | None:
    if not isinstance(body, Mapping) or body.get("error_code") is None:
        return None
    try:
        return int(body["error_code"])
    except (TypeError, ValueError):
        return None


def _message_id(result: Any) -> str:
    return _id(result.get("message_id")) if isinstance(result, Mapping) else ""


def _id(value: Any) -> str:
    # Ids are strings in the docs; tolerate numbers without turning None into "None".
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


def _load_json_object(obj: Mapping[str, Any] | bytes | str) -> Mapping[str, Any]:
    if isinstance(obj, bytes | str):
        try:
            obj = json.loads(obj)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past the decoder's limit
            raise MalformedPayload("body is not JSON") from exc
    if not isinstance(obj, Mapping):
        raise MalformedPayload("body is not a JSON object")
    return obj
