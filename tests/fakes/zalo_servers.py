"""Fake Zalo servers on 127.0.0.1 for tests, run in the test's own event loop.

    async with FakeZaloOA() as zalo, httpx.AsyncClient() as http:
        tokens = zalo.issue_tokens()          # as if an admin had authorised the OA
        ...point the clients at zalo.openapi_base_url / zalo.oauth_base_url...
        assert zalo.refresh_count == 1

* `FakeZaloOA` serves the OA Open API (message/cs, upload/image) and OAuth v4
  (access_token) from one port, because they share token state; both base URLs
  point at it. Errors come back as Zalo sends them: HTTP 200 with
  `{"error": <negative>, "message": ...}`.
* `FakeZaloBot` serves the Bot API (`/bot<token>/<method>`) with getUpdates long polling.
* Builders make inbound traffic: OA webhook events and their signed POST, Bot updates.

Every request lands in `.log` (a `RecordedRequest` each, in arrival order), so tests
assert on what was sent rather than on client internals. A request to a route the
fake does not know gets HTTP 404 and is logged too: a double that silently accepted
it would hide a wrong URL.

Facts marked [UNCONFIRMED] in the Zalo reference are modelled as the reference
guesses; where Zalo documents nothing (OAuth error codes), the values are invented
and named as such.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TEXT_LIMIT = 2000
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]

# Invented: Zalo documents no code for refresh failures (community threads hint at -140xx).
OAUTH_INVALID_REFRESH_TOKEN = -14014
OAUTH_INVALID_SECRET = -14002
OAUTH_INVALID_REQUEST = -14001

_OA_MESSAGES = {
    -32: "Your application reached limit call api",
    -100: "attachment_id was expired",
    -200: "Send message failed",
    -201: "data is invalid!",
    -210: "Parameter exceeds allowable limit",
    -213: "User has not followed OA",
    -216: "Access token is invalid",
    -220: "access_token is expired or removed",
    -227: "User is banned or has been inactive for more than 45 days",
    -230: "User has not interacted with the OA in the past 7 days",
    -232: "User has not interacted with the OA, or the last interaction has expired",
    -217: "User has blocked invitation from OA",
    -244: "User has restricted this message type from your OA",
}


@dataclass
class RecordedRequest:
    seq: int
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class _FakeServer(abc.ABC):
    """Runs a Starlette app under uvicorn on an ephemeral 127.0.0.1 port while entered."""

    def __init__(self) -> None:
        self.log: list[RecordedRequest] = []
        self.url = ""
        self._seq = itertools.count()
        self._closing = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    def _routes(self) -> list[Route]:
        """The fake API's own routes; a fallback logs and 404s anything else."""

    async def __aenter__(self) -> Self:
        fallback = Route("/{rest:path}", self._unknown, methods=_ANY_METHOD)
        app = Starlette(routes=[*self._routes(), fallback])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            http="h11",
            ws="none",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        # serve() in a task, not the lower-level startup(): it is uvicorn's public entry
        # point, and port 0 lets the OS pick a free port so parallel runs never collide.
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task  # surfaces why it could not start
                raise RuntimeError("fake server stopped during start-up")
            await asyncio.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes long polls so shutdown does not wait them out
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task

    async def _record(self, request: Request) -> RecordedRequest:
        body = await request.body()
        rec = RecordedRequest(
            seq=next(self._seq),
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
        )
        content_type = rec.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                rec.json = json.loads(body)
            except ValueError:
                rec.json = None
        elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        rec.files[key] = await value.read()
                    else:
                        rec.form[key] = value
        self.log.append(rec)
        return rec

    async def _unknown(self, request: Request) -> JSONResponse:
        await self._record(request)
        return JSONResponse({"error": 404, "message": "fake: no such route"}, status_code=404)


# ---------------------------------------------------------------- OA Open API + OAuth


@dataclass(frozen=True)
class FakeTokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass
class DeliveredMessage:
    """A CS message the fake OA accepted."""

    message_id: str
    user_id: str
    access_token: str
    text: str | None = None
    image_url: str | None = None
    attachment_id: str | None = None
    quote_message_id: str | None = None


@dataclass
class _Injection:
    code: int
    message: str
    times: int | None  # None: every time
    after: int = 0  # sends to let through first


class FakeZaloOA(_FakeServer):
    """OA Open API and OAuth v4 with single-use rotating refresh tokens."""

    def __init__(
        self,
        app_id: str = "2553928453557884079",
        app_secret: str = "fake-app-secret",
        *,
        access_ttl: int = 90000,
        rate_limit: int = 4000,
        refresh_delay: float = 0.0,
        token_answer: str = "string",
    ) -> None:
        super().__init__()
        # How a successful refresh is shaped, as real answers differ (reference
        # zalo-real-payloads.md): "string" expires_in as in Zalo's own example,
        # "number", or "nested" inside {"error": 0, "data": {...}}.
        self.token_answer = token_answer
        self.app_id = app_id
        self.app_secret = app_secret
        self.access_ttl = access_ttl
        self.rate_limit = rate_limit
        # Widens the window in which concurrent refreshes could overlap.
        self.refresh_delay = refresh_delay
        self.delivered: list[DeliveredMessage] = []
        self.uploads: dict[str, bytes] = {}
        self.refresh_count = 0
        self.refresh_tokens_presented: list[str] = []
        self.rejected_refresh_tokens: list[str] = []  # reused or unknown
        self._access: dict[str, int] = {}  # token -> 0 when valid, else the error to answer
        self._refresh: dict[str, bool] = {}  # token -> still usable
        self._injections: dict[str, deque[_Injection]] = {}
        self._calls = 0

    @property
    def openapi_base_url(self) -> str:
        return self.url

    @property
    def oauth_base_url(self) -> str:
        return self.url

    def issue_tokens(self) -> FakeTokens:
        """A fresh pair, as the authorization-code exchange would return."""
        pair = FakeTokens("AT-" + secrets.token_hex(8), "RT-" + secrets.token_hex(8), self.access_ttl)
        self._access[pair.access_token] = 0
        self._refresh[pair.refresh_token] = True
        return pair

    def expire_access_token(self, code: int = -216) -> None:
        """Make every access token issued so far fail with `code` (-216 or -220)."""
        for token in self._access:
            self._access[token] = code

    def inject_error(
        self,
        user_id: str,
        code: int,
        message: str | None = None,
        *,
        times: int | None = None,
        after: int = 0,
    ) -> None:
        """Answer sends to `user_id` with `code` (HTTP 200): `times` times, or always.

        `after` lets that many sends through first (a failure in the middle of a split text).
        """
        text = message or _OA_MESSAGES.get(code, "fake error")
        self._injections.setdefault(user_id, deque()).append(_Injection(code, text, times, after))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.log if r.path == path]

    def _routes(self) -> list[Route]:
        return [
            Route("/v3.0/oa/message/cs", self._send_cs, methods=["POST"]),
            Route("/v2.0/oa/upload/image", self._upload_image, methods=["POST"]),
            Route("/v4/oa/access_token", self._access_token, methods=["POST"]),
        ]

    # -- Open API

    def _oa_response(self, payload: dict[str, Any]) -> JSONResponse:
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remain": str(max(self.rate_limit - self._calls, 0)),
        }
        return JSONResponse(payload, headers=headers)

    def _oa_error(self, code: int, message: str | None = None) -> JSONResponse:
        return self._oa_response({"error": code, "message": message or _OA_MESSAGES[code]})

    def _gate(self, rec: RecordedRequest) -> JSONResponse | None:
        """Rate limit and token check shared by every Open API route."""
        self._calls += 1
        if self._calls > self.rate_limit:
            return self._oa_error(-32)
        state = self._access.get(rec.headers.get("access_token", ""))
        if state is None:
            return self._oa_error(-216)
        if state != 0:
            return self._oa_error(state)
        return None

    async def _send_cs(self, request: Request) -> JSONResponse:
        rec = await self._record(request)
        if (refused := self._gate(rec)) is not None:
            return refused
        body = rec.json
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
        if not isinstance(user_id, str) or not user_id or not isinstance(message, dict):
            return self._oa_error(-201, "recipient.user_id or message is invalid!")
        if (injected := self._take_injection(user_id)) is not None:
            return self._oa_error(injected.code, injected.message)

        text = message.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > TEXT_LIMIT):
            return self._oa_error(-210)
        delivered = DeliveredMessage(
            message_id=secrets.token_hex(10),
            user_id=user_id,
            access_token=rec.headers["access_token"],
            text=text,
            quote_message_id=message.get("quote_message_id"),
        )
        if "attachment" in message:
            element = _media_element(message["attachment"])
            if element is None:
                return self._oa_error(-201, "attachment is invalid!")
            if "attachment_id" in element:
                if element["attachment_id"] not in self.uploads:
                    return self._oa_error(-100)
                delivered.attachment_id = element["attachment_id"]
            else:
                delivered.image_url = element.get("url")
        elif not text:
            return self._oa_error(-201, "message.text is invalid!")

        self.delivered.append(delivered)
        return self._oa_response(
            {
                "data": {
                    "message_id": delivered.message_id,
                    "user_id": user_id,
                    "sent_time": str(int(time.time() * 1000)),
                    "quota": {"quota_type": "reply_message_quota", "remain": "7", "total": "8"},
                },
                "error": 0,
                "message": "Success",
            }
        )

    async def _upload_image(self, request: Request) -> JSONResponse:
        rec = await self._record(request)
        if (refused := self._gate(rec)) is not None:
            return refused
        data = rec.files.get("file")
        if not data:
            return self._oa_error(-201, "file is invalid!")
        attachment_id = secrets.token_hex(16)
        self.uploads[attachment_id] = data
        return self._oa_response({"data": {"attachment_id": attachment_id}, "error": 0, "message": "Success"})

    def _take_injection(self, user_id: str) -> _Injection | None:
        queue = self._injections.get(user_id)
        if not queue:
            return None
        injection = queue[0]
        if injection.after > 0:
            injection.after -= 1
            return None
        if injection.times is not None:
            injection.times -= 1
            if injection.times <= 0:
                queue.popleft()
        return injection

    # -- OAuth v4

    async def _access_token(self, request: Request) -> JSONResponse:
        rec = await self._record(request)
        if rec.headers.get("secret_key") != self.app_secret:
            return _oauth_error(OAUTH_INVALID_SECRET, "Invalid secret key")
        if rec.form.get("app_id") != self.app_id or rec.form.get("grant_type") != "refresh_token":
            return _oauth_error(OAUTH_INVALID_REQUEST, "Invalid app_id or grant_type")
        token = rec.form.get("refresh_token", "")
        self.refresh_tokens_presented.append(token)
        if not self._refresh.get(token):
            self.rejected_refresh_tokens.append(token)
            return _oauth_error(OAUTH_INVALID_REFRESH_TOKEN, "Invalid refresh token")
        # Spent the moment it arrives, so two overlapping refreshes cannot both succeed.
        self._refresh[token] = False
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        # The old access tokens die with the old refresh token (VERIF-A).
        self.expire_access_token(-216)
        pair = self.issue_tokens()
        self.refresh_count += 1
        answer: dict[str, Any] = {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": str(pair.expires_in),  # a string, as in Zalo's own example
        }
        if self.token_answer == "number":
            answer["expires_in"] = pair.expires_in
        elif self.token_answer == "nested":
            answer = {"error": 0, "message": "Success", "data": {"oa_id": "1", **answer}}
        return JSONResponse(answer)


def _oauth_error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_name": description, "error_description": description})


def _media_element(attachment: Any) -> dict[str, Any] | None:
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        return None
    payload = attachment.get("payload")
    if not isinstance(payload, dict) or payload.get("template_type") != "media":
        return None
    elements = payload.get("elements")
    if not isinstance(elements, list) or len(elements) != 1 or not isinstance(elements[0], dict):
        return None
    element = elements[0]
    if element.get("media_type") != "image" or not (element.get("url") or element.get("attachment_id")):
        return None
    return element


# ---------------------------------------------------------------- OA webhooks (Zalo -> us)


def oa_text_event(
    user_id: str,
    text: str,
    *,
    app_id: str = "2553928453557884079",
    oa_id: str = "3662729599332560487",
    msg_id: str | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "user_id_by_app": "979122185046046317",
        "event_name": "user_send_text",
        "timestamp": str(timestamp_ms or int(time.time() * 1000)),
        "sender": {"id": user_id},
        "recipient": {"id": oa_id},
        "message": {"msg_id": msg_id or secrets.token_hex(10), "text": text},
    }


def oa_image_event(user_id: str, urls: list[str], caption: str = "", **kw: Any) -> dict[str, Any]:
    event = oa_text_event(user_id, caption, **kw)
    event["event_name"] = "user_send_image"
    event["message"]["attachments"] = [{"type": "image", "payload": {"url": url, "thumbnail": url}} for url in urls]
    return event


def oa_follow_event(
    user_id: str,
    *,
    unfollow: bool = False,
    app_id: str = "2553928453557884079",
    oa_id: str = "3662729599332560487",
) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "oa_id": oa_id,
        "user_id_by_app": "979122185046046317",
        "event_name": "unfollow" if unfollow else "follow",
        "source": "oa_profile",
        "timestamp": str(int(time.time() * 1000)),
        "follower": {"id": user_id},
    }


# The payloads of the other user_send_* events, as the real samples carry them
# (reference zalo-real-payloads.md: the PHP test-data set, CHATWOOT's field names).
_ATTACHMENT_PAYLOADS: dict[str, dict[str, Any]] = {
    "sticker": {"id": "sticker_id", "url": "https://zalo-api.zadn.vn/sticker.png"},
    "link": {"thumbnail": "url_to_thumbnail", "description": "description_of_link", "url": "https://example.org/a"},
    "file": {
        "url": "link_to_download_file",
        "size": "9999",
        "name": "file_name",
        "checksum": "checksum",
        "type": "file_type",
    },
    "gif": {"url": "https://example.org/a.gif", "thumbnail": "https://example.org/a.jpg"},
    "audio": {"url": "https://example.org/voice.aac"},
    "video": {"url": "https://example.org/v.mp4", "thumbnail": "https://example.org/v.jpg", "description": ""},
    "location": {"coordinates": {"latitude": "10.7769", "longitude": "106.7009"}},
}


def oa_attachment_event(user_id: str, kind: str, *, text: str | None = None, **kw: Any) -> dict[str, Any]:
    """A `user_send_<kind>` event (sticker, link, file, gif, audio, video, location).

    As in the real samples, `message.text` is there only when given (a link often
    carries the worker's words in it; the file sample has none).
    """
    event = oa_text_event(user_id, "", **kw)
    event["event_name"] = f"user_send_{kind}"
    message = event["message"]
    message.pop("text")
    if text is not None:
        message["text"] = text
    message["attachments"] = [{"payload": dict(_ATTACHMENT_PAYLOADS[kind]), "type": kind}]
    return event


def oa_probe_request() -> tuple[bytes, dict[str, str]]:
    """Zalo's check of a webhook URL being saved in the console: unsigned, body `{}`."""
    return b"{}", {"Content-Type": "application/json"}


def oa_signature_for(event: dict[str, Any], body: bytes, key: str, formula: str = "app_id") -> str:
    """sha256(<app_id or the OA id> + body + timestamp + key): the two formulas real code uses."""
    prefix = str(event["app_id"]) if formula == "app_id" else str(event.get("oa_id") or event["recipient"]["id"])
    return hashlib.sha256(prefix.encode() + body + str(event["timestamp"]).encode() + key.encode()).hexdigest()


def signed_oa_webhook(
    event: dict[str, Any],
    oa_secret_key: str,
    *,
    prefix: str = "mac=",
    num_retry: int | None = None,
    formula: str = "app_id",
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Zalo would POST for `event` (signature per reference 2.3)."""
    body = json.dumps(event, ensure_ascii=False).encode()
    digest = oa_signature_for(event, body, oa_secret_key, formula)
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": prefix + digest}
    if num_retry is not None:
        headers["num_retry"] = str(num_retry)
    return body, headers


# ---------------------------------------------------------------- Bot platform


def bot_text_update(
    chat_id: str,
    text: str,
    *,
    display_name: str = "Ted",
    message_id: str | None = None,
    wrapped: bool = False,
) -> dict[str, Any]:
    update = {
        "event_name": "message.text.received",
        "message": {
            "message_id": message_id or secrets.token_hex(10),
            "date": int(time.time() * 1000),
            "text": text,
            "from": {"id": chat_id, "display_name": display_name, "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
        },
    }
    return {"ok": True, "result": update} if wrapped else update


def bot_doc_update(
    chat_id: str,
    text: str,
    *,
    first_name: str = "Nguyen Van A",
    message_id: str | None = None,
    wrapped: bool = True,
    date_ms: int | None = None,
) -> dict[str, Any]:
    """The official getUpdates sample's shape: no `event_name`, the sender's `first_name`."""
    message: dict[str, Any] = {
        "chat": {"id": chat_id, "chat_type": "PRIVATE"},
        "text": text,
        "date": date_ms or int(time.time() * 1000),
        "from": {"id": chat_id, "first_name": first_name},
    }
    if message_id is not None:
        message["message_id"] = message_id
    update = {"message": message}
    return {"ok": True, "result": update} if wrapped else update


def bot_image_update(
    chat_id: str,
    photo_url: str = "https://example.com/photo.jpg",
    caption: str = "",
    *,
    event_name: str | None = "message.image.received",
) -> dict[str, Any]:
    """An image as the real samples send it: the link in `photo_url`."""
    message: dict[str, Any] = {
        "message_id": secrets.token_hex(10),
        "date": int(time.time() * 1000),
        "photo_url": photo_url,
        "from": {"id": chat_id, "display_name": "A", "is_bot": False},
        "chat": {"id": chat_id, "chat_type": "PRIVATE"},
    }
    if caption:
        message["caption"] = caption
    update: dict[str, Any] = {"message": message}
    if event_name is not None:
        update["event_name"] = event_name
    return update


def bot_sticker_update(chat_id: str, *, event_name: str | None = "message.sticker.received") -> dict[str, Any]:
    update: dict[str, Any] = {
        "message": {
            "message_id": secrets.token_hex(10),
            "date": int(time.time() * 1000),
            "sticker": "sticker-id-1",
            "from": {"id": chat_id, "display_name": "A", "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
        }
    }
    if event_name is not None:
        update["event_name"] = event_name
    return update


def bot_webhook_request(update: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(update, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Bot-Api-Secret-Token": secret}


@dataclass
class BotSent:
    method: str
    chat_id: str
    message_id: str
    text: str | None = None
    photo: str | None = None
    caption: str | None = None
    action: str | None = None


class FakeZaloBot(_FakeServer):
    """The Bot API: one update per getUpdates call, error_code 408 when none arrives."""

    def __init__(
        self,
        token: str = "12345689:fake-bot-secret",
        *,
        wrap_updates: bool = True,
        empty_poll_status: int = 200,
        max_poll_wait: float = 1.0,
    ) -> None:
        super().__init__()
        self.token = token
        self.wrap_updates = wrap_updates
        # Zalo's HTTP status for an empty poll is undocumented; tests try both.
        self.empty_poll_status = empty_poll_status
        # Caps the server-side wait so a test asking for timeout=30 is not held 30 s.
        self.max_poll_wait = max_poll_wait
        self.sent: list[BotSent] = []
        self.webhook: dict[str, Any] | None = None
        self._updates: deque[dict[str, Any]] = deque()
        self._update_arrived = asyncio.Event()
        self._failures: dict[str, deque[list[Any]]] = {}  # [after, http_status, body]
        self._latency = 0.0
        self._latency_chats: frozenset[str] | None = None

    @property
    def base_url(self) -> str:
        return self.url

    def set_latency(self, seconds: float, *, chats: Iterable[str] | None = None) -> None:
        """Delay the answers to sendMessage and sendPhoto (only for `chats`, when given: one
        slow chat). The delay comes after the message was sent, as on a slow network."""
        self._latency = max(seconds, 0.0)
        self._latency_chats = frozenset(chats) if chats else None

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue a bare update (`event_name` + `message`); wrapping follows `wrap_updates`."""
        self._updates.append(update)
        self._update_arrived.set()

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str = "fake failure",
        *,
        http_status: int = 200,
        retry_after: int | None = None,
        after: int = 0,
    ) -> None:
        """Refuse the next call to `method`, after letting `after` calls through."""
        body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        self._failures.setdefault(method, deque()).append([after, http_status, body])

    def _routes(self) -> list[Route]:
        return [Route("/bot{token}/{method}", self._dispatch, methods=["POST"])]

    async def _dispatch(self, request: Request) -> JSONResponse:
        rec = await self._record(request)
        if request.path_params["token"] != self.token:
            return _bot_error(401, "Unauthorized", 401)
        method = request.path_params["method"]
        if failures := self._failures.get(method):
            if failures[0][0] > 0:
                failures[0][0] -= 1
            else:
                _, status, body = failures.popleft()
                return JSONResponse(body, status_code=status)
        args = rec.json if isinstance(rec.json, dict) else {}
        handler = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }.get(method)
        if handler is None:
            return _bot_error(404, f"fake: unknown method {method}", 404)
        response = await handler(args)
        chat = str(args.get("chat_id"))
        if (
            self._latency > 0
            and method in ("sendMessage", "sendPhoto")
            and (self._latency_chats is None or chat in self._latency_chats)
        ):
            await asyncio.sleep(self._latency)
        return response

    async def _get_me(self, args: dict[str, Any]) -> JSONResponse:
        return _bot_ok(
            {
                "id": self.token.split(":", 1)[0],
                "account_name": "bot.fake",
                "account_type": "BASIC",
                "can_join_groups": False,
            }
        )

    async def _get_updates(self, args: dict[str, Any]) -> JSONResponse:
        try:
            wait = min(float(args.get("timeout", 30)), self.max_poll_wait)
        except (TypeError, ValueError):
            return _bot_error(400, "timeout is invalid")
        deadline = asyncio.get_running_loop().time() + wait
        while not self._updates and not self._closing.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._update_arrived.clear()
            closing = asyncio.ensure_future(self._closing.wait())
            arrived = asyncio.ensure_future(self._update_arrived.wait())
            await asyncio.wait({closing, arrived}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            arrived.cancel()
        if not self._updates:
            return _bot_error(408, "Request timeout", self.empty_poll_status)
        update = self._updates.popleft()
        return JSONResponse(_bot_envelope(update) if self.wrap_updates else update)

    async def _send_message(self, args: dict[str, Any]) -> JSONResponse:
        text = args.get("text")
        if not args.get("chat_id"):
            return _bot_error(400, "chat_id is required")
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
            return _bot_error(400, "text must be 1-2000 characters")
        sent = BotSent("sendMessage", str(args["chat_id"]), secrets.token_hex(10), text=text)
        self.sent.append(sent)
        return _bot_ok({"message_id": sent.message_id, "date": int(time.time() * 1000)})

    async def _send_photo(self, args: dict[str, Any]) -> JSONResponse:
        photo, caption = args.get("photo"), args.get("caption")
        if not args.get("chat_id") or not isinstance(photo, str) or not photo.startswith("http"):
            return _bot_error(400, "chat_id and a photo URL are required")
        if caption is not None and (not isinstance(caption, str) or len(caption) > TEXT_LIMIT):
            return _bot_error(400, "caption must be 1-2000 characters")
        sent = BotSent("sendPhoto", str(args["chat_id"]), secrets.token_hex(10), photo=photo, caption=caption)
        self.sent.append(sent)
        return _bot_ok({"message_id": sent.message_id, "date": int(time.time() * 1000)})

    async def _send_chat_action(self, args: dict[str, Any]) -> JSONResponse:
        if not args.get("chat_id") or args.get("action") not in ("typing", "upload_photo"):
            return _bot_error(400, "chat_id and a known action are required")
        self.sent.append(BotSent("sendChatAction", str(args["chat_id"]), "", action=args["action"]))
        return JSONResponse({"ok": True})

    async def _set_webhook(self, args: dict[str, Any]) -> JSONResponse:
        secret = args.get("secret_token")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return _bot_error(400, "secret_token must be 8-256 characters")
        self.webhook = {"url": args.get("url"), "updated_at": int(time.time() * 1000)}
        return _bot_ok(self.webhook)

    async def _delete_webhook(self, args: dict[str, Any]) -> JSONResponse:
        self.webhook = None
        return _bot_ok({"url": "", "updated_at": int(time.time() * 1000)})

    async def _get_webhook_info(self, args: dict[str, Any]) -> JSONResponse:
        return _bot_ok(self.webhook or {"url": ""})


def _bot_envelope(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _bot_ok(result: Any) -> JSONResponse:
    return JSONResponse(_bot_envelope(result))


def _bot_error(code: int, description: str, http_status: int = 200) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=http_status)
