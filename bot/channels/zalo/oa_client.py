"""Client for the Zalo Official Account Open API: customer-service ("tư vấn") messages.

Zalo answers errors with HTTP 200 and `{"error": <negative>, "message": ...}`, so
every answer is judged by its `error` field, never by the status alone. What this
client does about each code (the table is in the Zalo reference, section 1.4):

* -216 / -220 (token invalid / expired): refresh through the shared TokenManager,
  which refreshes once however many sends saw it, then retry this call once.
* -32 (per-minute app limit): RateLimited; the caller backs off. No retry here,
  because a retry inside the same minute fails too.
* -213, -227, -230, -232 (not a follower, inactive, outside the 7-day window):
  Unreachable(reason_code), never retried: the caller falls back to another channel.
* -217, -244 (the worker blocked the OA, or restricted this message type):
  Blocked(reason_code), an Unreachable that marks the worker unreachable.
* -200 (send failed): ZaloServerError, transient; Zalo advises at most one retry.
* anything else: ZaloPermanentError with Zalo's code and message.

Nothing here logs message text; user ids and Zalo codes only.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.channels.zalo.errors import (
    Blocked,
    RateLimited,
    Unreachable,
    ZaloAuthError,
    ZaloError,
    ZaloNetworkError,
    ZaloPermanentError,
    ZaloServerError,
    int_or_none,
)
from bot.channels.zalo.text import split_text
from bot.channels.zalo.tokens import TokenManager

logger = logging.getLogger(__name__)

DEFAULT_OPENAPI_BASE = "https://openapi.zalo.me"
SEND_CS_PATH = "/v3.0/oa/message/cs"
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"

RATE_LIMITED_CODE = -32
SEND_FAILED_CODE = -200
TOKEN_REJECTED_CODES = frozenset({-216, -220})
UNREACHABLE_CODES = frozenset({-213, -227, -230, -232})
# The worker blocked the OA or restricted this message type: unreachable until they write.
BLOCKED_CODES = frozenset({-217, -244})


@dataclass(frozen=True, slots=True)
class OASent:
    """Zalo's receipt for one delivered message."""

    message_id: str
    user_id: str
    sent_time_ms: int | None = None
    # Zalo says the quota fields go away after 2026-03-01; absent means "not reported".
    quota: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """From the X-RateLimit-Limit / X-RateLimit-Remain headers (per app, per minute)."""

    limit: int | None
    remaining: int | None


class ZaloOAClient:
    """Sends customer-service messages as the OA. The caller owns `http`."""

    def __init__(self, app_id: str, openapi_base_url: str, tokens: TokenManager, http: httpx.AsyncClient) -> None:
        self.app_id = app_id
        self._base = openapi_base_url.rstrip("/")
        self._tokens = tokens
        self._http = http
        self.rate_limit: RateLimitInfo | None = None  # as of the last answer

    async def send_text(self, user_id: str, text: str, *, quote_message_id: str | None = None) -> list[OASent]:
        """Send text, split into parts of at most 2,000 characters; one receipt per part.

        `quote_message_id` quotes the user's message on the first part.
        """
        parts = split_text(text)
        if not parts:
            raise ValueError("cannot send blank text")
        messages: list[dict[str, Any]] = [{"text": part} for part in parts]
        if quote_message_id:
            messages[0]["quote_message_id"] = quote_message_id
        return await self._send_all(user_id, messages)

    async def send_image_url(self, user_id: str, url: str, caption: str | None = None) -> list[OASent]:
        """Send an image Zalo fetches from `url`; a caption over 2,000 continues as text."""
        return await self._send_image(user_id, {"media_type": "image", "url": url}, caption)

    async def send_image_attachment(self, user_id: str, attachment_id: str, caption: str | None = None) -> list[OASent]:
        """Send an image uploaded with `upload_image`. Zalo answers -100 once the id expires."""
        element = {"media_type": "image", "attachment_id": attachment_id}
        return await self._send_image(user_id, element, caption)

    async def upload_image(self, data: bytes, filename: str = "image.png", content_type: str | None = None) -> str:
        """Upload image bytes (jpg/png); returns the attachment_id to send them with."""
        mime = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        result = await self._call(UPLOAD_IMAGE_PATH, files={"file": (filename, data, mime)})
        attachment_id = result.get("attachment_id")
        if not isinstance(attachment_id, str) or not attachment_id:
            raise ZaloServerError("upload returned no attachment_id", method=UPLOAD_IMAGE_PATH)
        return attachment_id

    async def _send_image(self, user_id: str, element: dict[str, Any], caption: str | None) -> list[OASent]:
        parts = split_text(caption or "")
        first: dict[str, Any] = {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        }
        if parts:
            first["text"] = parts[0]
        return await self._send_all(user_id, [first] + [{"text": p} for p in parts[1:]])

    async def _send_all(self, user_id: str, messages: list[dict[str, Any]]) -> list[OASent]:
        sent: list[OASent] = []
        for message in messages:
            body = {"recipient": {"user_id": user_id}, "message": message}
            try:
                data = await self._call(SEND_CS_PATH, json=body, user_id=user_id)
            except ZaloError as exc:
                exc.parts_sent = len(sent)
                raise
            sent.append(_receipt(data, user_id))
        return sent

    async def _call(
        self,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> Mapping[str, Any]:
        token = await self._tokens.access_token()
        try:
            return await self._request(path, token, json=json, files=files, user_id=user_id)
        except ZaloAuthError as exc:
            if exc.code not in TOKEN_REJECTED_CODES:
                raise
            logger.info("zalo oa: token rejected (%s) on %s, refreshing", exc.code, path)
        # Safe to repeat: a rejected token means Zalo did not act on the request.
        token = await self._tokens.refresh_after_rejection(token)
        return await self._request(path, token, json=json, files=files, user_id=user_id)

    async def _request(
        self,
        path: str,
        token: str,
        *,
        json: dict[str, Any] | None,
        files: dict[str, Any] | None,
        user_id: str | None,
    ) -> Mapping[str, Any]:
        try:
            response = await self._http.post(self._base + path, json=json, files=files, headers={"access_token": token})
        except httpx.TransportError as exc:
            raise ZaloNetworkError(f"{type(exc).__name__}: {exc}", method=path) from exc
        self._note_rate_limit(response)

        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping):
            raise _status_error(path, response, "answer is not Zalo JSON")

        code = int_or_none(body.get("error"))
        if code in (None, 0):
            if status >= 400:
                raise _status_error(path, response, f"HTTP {status}")
            data = body.get("data")
            return data if isinstance(data, Mapping) else {}
        description = str(body.get("message") or body.get("error_name") or "error")
        raise _oa_error(code, description, path=path, user_id=user_id, response=response)

    def _note_rate_limit(self, response: httpx.Response) -> None:
        limit = int_or_none(response.headers.get("x-ratelimit-limit"))
        remaining = int_or_none(response.headers.get("x-ratelimit-remain"))
        if limit is not None or remaining is not None:
            self.rate_limit = RateLimitInfo(limit, remaining)


def _oa_error(code: int, description: str, *, path: str, user_id: str | None, response: httpx.Response) -> ZaloError:
    kw: dict[str, Any] = {"http_status": response.status_code, "method": path}
    if code == RATE_LIMITED_CODE:
        logger.warning("zalo oa: rate limited on %s", path)
        return RateLimited(description, code=code, retry_after=_retry_after(response), **kw)
    if code in TOKEN_REJECTED_CODES:
        return ZaloAuthError(description, code=code, **kw)
    if code in BLOCKED_CODES:
        logger.info("zalo oa: user %s blocked or restricted the OA (%d)", user_id, code)
        return Blocked(code, description, user_id=user_id, **kw)
    if code in UNREACHABLE_CODES:
        logger.info("zalo oa: user %s unreachable (%d)", user_id, code)
        return Unreachable(code, description, user_id=user_id, **kw)
    if code == SEND_FAILED_CODE or response.status_code >= 500:
        return ZaloServerError(description, code=code, **kw)
    logger.warning("zalo oa: %s refused with %d", path, code)
    return ZaloPermanentError(description, code=code, **kw)


def _status_error(path: str, response: httpx.Response, description: str) -> ZaloError:
    status = response.status_code
    if status == 429:
        return RateLimited(description, retry_after=_retry_after(response), http_status=status, method=path)
    if 400 <= status < 500:
        return ZaloPermanentError(description, http_status=status, method=path)
    return ZaloServerError(description, http_status=status, method=path)


def _receipt(data: Mapping[str, Any], user_id: str) -> OASent:
    quota = data.get("quota")
    return OASent(
        message_id=str(data.get("message_id") or ""),
        user_id=str(data.get("user_id") or user_id),
        sent_time_ms=int_or_none(data.get("sent_time")),
        quota=quota if isinstance(quota, Mapping) else None,
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None
