"""A fake Telegram Bot API server that the real python-telegram-bot client talks to.

Why a real HTTP server rather than patching PTB: tests then run PTB's own
serialization (form-urlencoded, multipart uploads), its error mapping
(``BadRequest``, ``Forbidden``, ``RetryAfter``, ``Conflict``, ``InvalidToken``)
and its connection handling, exactly as in production. Answers follow the Bot
API: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": ...}`` with the HTTP status equal to ``error_code``.

In the test's own event loop::

    async with FakeTelegramServer() as fake:
        bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
        fake.push_update(fake.user_message(42, "/start"))   # the chat is now known
        ...
        rec = await fake.wait_for(method="sendMessage", chat_id=42)

As its own process (benchmarks), driven through the JSON control API under ``/_fake/``::

    python -m tests.fakes.telegram_api --port 0 --port-file /tmp/tg.port

    async with FakeTelegramProcess() as proc:           # spawns the command above
        await proc.control.register_chats(range(1, 10_001))
        ...
        stats = await proc.control.stats()

Deliberate differences from Telegram, each because tests need it:
webhooks may be plain ``http://`` on any port; flood limits apply only when
configured (``retry_after_every``, ``set_flood_limit``). As on Telegram, method
names are case-insensitive and parameters may come in the query string, a JSON body,
a form or a multipart body.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import html
import io
import json
import logging
import mimetypes
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

logger = logging.getLogger(__name__)

# The example token from Telegram's own documentation: well-formed, obviously not real.
DEFAULT_TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"
MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Requests that deliver a message: what rate windows, duplicates and flood injection count.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})

_REPO_ROOT = Path(__file__).resolve().parents[2]
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE_RE = re.compile(r"[a-z]{2}")
_CHAT_ACTIONS = frozenset(
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note".split()
)
_UPDATE_KINDS = tuple(
    "message edited_message channel_post edited_channel_post callback_query "
    "inline_query chosen_inline_result my_chat_member chat_member chat_join_request "
    "message_reaction poll poll_answer pre_checkout_query shipping_query".split()
)

# Form and query values arrive as strings; Telegram's server types them by parameter
# name, so the fake does too (and a JSON body may still carry JSON-in-a-string).
_CHAT_PARAMS = frozenset({"chat_id", "from_chat_id"})
_INT_PARAMS = frozenset(
    "message_id offset limit cache_time max_connections message_thread_id "
    "reply_to_message_id width height duration user_id".split()
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    "show_alert disable_notification protect_content drop_pending_updates "
    "disable_web_page_preview allow_sending_without_reply allow_paid_broadcast "
    "has_spoiler disable_content_type_detection show_caption_above_media".split()
)
_JSON_PARAMS = {
    "reply_markup": "reply keyboard markup",
    "entities": "entities",
    "caption_entities": "caption entities",
    "commands": "bot commands",
    "scope": "BotCommandScope",
    "allowed_updates": "allowed updates",
    "reply_parameters": "reply parameters",
    "link_preview_options": "link preview options",
}
_INLINE_BUTTON_ACTIONS = tuple(
    "url callback_data web_app login_url switch_inline_query "
    "switch_inline_query_current_chat switch_inline_query_chosen_chat copy_text "
    "callback_game pay".split()
)


class ApiError(Exception):
    """A Bot API error answer, raised inside a method and rendered as Telegram renders it."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def _default_description(status: int, retry_after: int | None) -> str:
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: BLOCKED_DESCRIPTION,
        404: "Not Found",
        409: "Conflict",
        429: f"Too Many Requests: retry after {retry_after}",
    }
    if status in known:
        return known[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


@dataclass(slots=True)
class RecordedRequest:
    """One Bot API call as the fake saw it: typed params (uploads described, not stored).

    Logged on arrival with ``status=None`` and completed when answered, so a test can see
    a long poll that is still waiting; only the fake writes to it.
    """

    seq: int
    method: str
    params: dict[str, Any]
    time: float  # wall clock at arrival, time.time()
    status: int | None = None
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def pending(self) -> bool:
        return self.status is None

    @property
    def chat_id(self) -> int | str | None:
        return self.params.get("chat_id")

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "params": self.params,
            "time": self.time,
            "status": self.status,
            "description": self.description,
            "result": self.result,
        }


@dataclass(slots=True)
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo", "document" or "sticker"
    size: int
    content: bytes | None = None
    width: int = 0
    height: int = 0
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str | None = None


@dataclass(slots=True)
class _QueuedUpdate:
    update_id: int
    update: dict[str, Any]
    kind: str
    delivered: bool = False


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    retry_after: int | None
    chat_id: int | str | None


@dataclass(slots=True)
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class _RateWindow:
    """Counts events in a sliding one-second window in O(1) amortized per event."""

    __slots__ = ("_origin", "_times", "peak", "per_second")

    def __init__(self) -> None:
        self._times: deque[float] = deque()
        self._origin: float | None = None
        self.peak = 0
        self.per_second: Counter[int] = Counter()

    @property
    def current(self) -> int:
        """Events in the window that ended at the latest hit."""
        return len(self._times)

    def hit(self, now: float) -> int:
        times = self._times
        times.append(now)
        while now - times[0] >= 1.0:
            times.popleft()
        if len(times) > self.peak:
            self.peak = len(times)
        if self._origin is None:
            self._origin = now
        self.per_second[int(now - self._origin)] += 1
        return len(times)


# ---------------------------------------------------------------------------
# Text: lengths, HTML / MarkdownV2 / Markdown parsing into plain text + entities
# ---------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's entity offsets and length limits."""
    return len(text.encode("utf-16-le")) // 2


def _entities_error(detail: str) -> ApiError:
    return _bad(f"can't parse entities: {detail}")


class _TextBuilder:
    __slots__ = ("entities", "parts", "pos")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.pos += utf16_len(chunk)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:  # Telegram drops empty entities
            self.entities.append({"offset": start, "length": self.pos - start, "type": kind, **extra})

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_SPECIAL_RE = re.compile(r"[<&]")
_HTML_CHARREF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR_RE = re.compile(r"""([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i, n = 0, len(src)
    while i < n:
        match = _HTML_SPECIAL_RE.search(src, i)
        if match is None:
            out.add(src[i:])
            break
        out.add(src[i : match.start()])
        i = match.start()
        if src[i] == "&":
            ref = _HTML_CHARREF_RE.match(src, i)
            char = None
            if ref is not None:
                body = ref.group(1)
                if body[0] == "#":
                    code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
                    char = chr(code) if 0 < code <= 0x10FFFF else None
                else:
                    char = _HTML_NAMED.get(body)
            if char is None or ref is None:
                out.add("&")  # unknown entities stay literal, as Telegram leaves them
                i += 1
            else:
                out.add(char)
                i = ref.end()
            continue
        end = src.find(">", i)
        closing = src.startswith("</", i)
        if end < 0:
            kind = "end" if closing else "start"
            raise _entities_error(f"Unclosed {kind} tag at byte offset {_byte_offset(src, i)}")
        if closing:
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise _entities_error(f"Unexpected end tag at byte offset {_byte_offset(src, i)}")
            open_name, start, attrs = stack.pop()
            if name and name != open_name:
                raise _entities_error(
                    f"Unmatched end tag at byte offset {_byte_offset(src, i)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            _close_html_entity(out, open_name, start, attrs, stack)
            i = end + 1
            continue
        inner = src[i + 1 : end]
        name = re.split(r"[\s/]", inner, maxsplit=1)[0].lower()
        attrs = {
            m.group(1).lower(): html.unescape(next((g for g in m.groups()[1:] if g is not None), ""))
            for m in _HTML_ATTR_RE.finditer(inner[len(name) :])
        }
        if name not in _HTML_TAGS or (name == "span" and attrs.get("class") != "tg-spoiler"):
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, i)}')
        stack.append((name, out.pos, attrs))
        i = end + 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html_entity(
    out: _TextBuilder, name: str, start: int, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, str]]]
) -> None:
    kind = _HTML_TAGS[name]
    if name == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1][2]["language"] = language.removeprefix("language-")
        return
    if name == "a":
        if "href" in attrs:
            out.entity("text_link", start, url=attrs["href"])
        return
    if name == "pre" and attrs.get("language"):
        out.entity("pre", start, language=attrs["language"])
    elif name == "blockquote" and "expandable" in attrs:
        out.entity("expandable_blockquote", start)
    elif name == "tg-emoji":
        out.entity("custom_emoji", start, custom_emoji_id=attrs.get("emoji-id", ""))
    else:
        out.entity(kind, start)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_MD_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


def _reserved_error(char: str) -> ApiError:
    return _entities_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")


def _scan_code(src: str, i: int, fence: str, *, escapes: bool) -> tuple[str, int]:
    """Returns the unescaped body of a code span starting after `fence` at i and the end index."""
    body: list[str] = []
    j, n = i, len(src)
    while j < n:
        if escapes and src[j] == "\\" and j + 1 < n:
            body.append(src[j + 1])
            j += 2
            continue
        if src.startswith(fence, j):
            return "".join(body), j + len(fence)
        body.append(src[j])
        j += 1
    return "".join(body), -1


def _parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 start, byte offset of the marker)
    quote_start: int | None = None
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) <= 126:
                out.add(src[i + 1])
                i += 2
                continue
            raise _reserved_error("\\")
        if c == "`":
            fence = "```" if src.startswith("```", i) else "`"
            body, end = _scan_code(src, i + len(fence), fence, escapes=True)
            if end < 0:
                kind = "Pre" if fence == "```" else "Code"
                raise _entities_error(f"Can't find end of {kind} entity at byte offset {_byte_offset(src, i)}")
            start = out.pos
            if fence == "```":
                language, newline, rest = body.partition("\n")
                if newline and language and " " not in language:
                    body = rest
                out.add(body)
                extra = {"language": language} if newline and language and " " not in language else {}
                out.entity("pre", start, **extra)
            else:
                out.add(body)
                out.entity("code", start)
            i = end
            continue
        if c in "*_~|":
            marker = src[i : i + 2] if src.startswith(("__", "||"), i) else c
            if marker == "|":
                raise _reserved_error("|")
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.entity(_MDV2_MARKERS[marker], start)
            elif any(opened[0] == marker for opened in stack):
                _, _, offset = next(o for o in stack if o[0] == marker)
                name = _MD_ENTITY_NAMES[_MDV2_MARKERS[marker]]
                raise _entities_error(f"Can't find end of {name} entity at byte offset {offset}")
            else:
                stack.append((marker, out.pos, _byte_offset(src, i)))
            i += len(marker)
            continue
        if c == "[":
            stack.append(("[", out.pos, _byte_offset(src, i)))
            i += 1
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            _, start, offset = stack.pop()
            if not src.startswith("(", i + 1):
                raise _entities_error(f"Can't find end of TextUrl entity at byte offset {offset}")
            url, end = _scan_code(src, i + 2, ")", escapes=True)
            if end < 0:
                raise _entities_error(f"Can't find end of a URL at byte offset {_byte_offset(src, i + 1)}")
            out.entity("text_link", start, url=url)
            i = end
            continue
        if c == ">" and (i == 0 or src[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.pos
            i += 1
            continue
        if c == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if c in _MDV2_RESERVED:
            raise _reserved_error(c)
        out.add(c)
        i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        marker, _, offset = stack[-1]
        name = "TextUrl" if marker == "[" else _MD_ENTITY_NAMES[_MDV2_MARKERS[marker]]
        raise _entities_error(f"Can't find end of {name} entity at byte offset {offset}")
    return out.result()


def _parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no reserved characters."""
    out = _TextBuilder()
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if c in "*_`[":
            fence = "```" if src.startswith("```", i) else ("]" if c == "[" else c)
            body, end = _scan_code(src, i + (3 if fence == "```" else 1), fence, escapes=False)
            if end < 0 or (c == "[" and not src.startswith("(", end)):
                raise _entities_error(f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}")
            start = out.pos
            out.add(body)
            if c == "[":
                url, close = _scan_code(src, end + 1, ")", escapes=False)
                if close < 0:
                    raise _entities_error(
                        f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
                    )
                out.entity("text_link", start, url=url)
                end = close
            else:
                kind = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}[fence]
                out.entity(kind, start)
            i = end
            continue
        out.add(c)
        i += 1
    return out.result()


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace after parsing; entities shift with the text."""
    left = text.lstrip()
    plain = left.rstrip()
    if plain == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(left)])
    total = utf16_len(plain)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return plain, kept


def render_text(
    raw: str, parse_mode: str | None = None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Parse text as Telegram does: plain text and entities, or ApiError(400) "can't parse"."""
    if entities is not None:
        if not isinstance(entities, list):
            raise _bad("can't parse entities JSON object")
        return _strip_text(raw, list(entities))
    mode = (parse_mode or "").lower()
    if not mode:
        return _strip_text(raw, [])
    parsers = {"html": _parse_html, "markdownv2": _parse_markdown_v2, "markdown": _parse_markdown}
    if mode not in parsers:
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    return _strip_text(*parsers[mode](raw))


def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate any reply markup; return it only if inline (Message.reply_markup holds only those)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not any(action in button for action in _INLINE_BUTTON_ACTIONS):
                    raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button and not button["url"]:
                    raise _bad("BUTTON_URL_INVALID")
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        for row in rows:
            for button in row:
                text = button if isinstance(button, str) else (button or {}).get("text")
                if not isinstance(text, str):
                    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
        return None
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None
    raise _bad("can't parse reply keyboard markup JSON object")


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def tiny_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 16, 46)) -> bytes:
    """A valid solid-colour PNG, for tests that upload photos (Telegram rejects non-images)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a project dependency
        return (800, 600)
    try:
        with warnings.catch_warnings():
            # A huge image is Telegram's problem to resize, not a reason to fail the test run.
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Exception:
        return None


def _unique_id(seed: bytes) -> str:
    return "AQAD" + hashlib.sha1(seed).hexdigest()[:12]


# ---------------------------------------------------------------------------
# The fake itself
# ---------------------------------------------------------------------------

Handler = Callable[[dict[str, Any], dict[str, _Upload]], Awaitable[Any]]


class FakeBotApi:
    """State and behaviour of one bot's Bot API; ``app`` is its ASGI application.

    Everything runs in one event loop, so no locking. Use ``FakeTelegramServer`` to
    serve it on a port in the test's loop, or ``python -m tests.fakes.telegram_api``.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_first_name: str = "Union Bot",
        bot_username: str = "unionbot_test_bot",
        max_log: int | None = None,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 5.0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._max_log = max_log
        self._webhook_retry_delay = webhook_retry_delay
        self._webhook_timeout = webhook_timeout
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }
        self._factories: dict[str, Callable[..., dict[str, Any]]] = {
            "user_message": self.user_message,
            "callback_query": self.callback_query,
            "press_button": self.press_button,
            "sticker": self.sticker,
            "photo": self.photo,
            "document": self.document,
            "contact": self.contact,
            "my_chat_member": self.my_chat_member,
        }
        self._wake = asyncio.Event()
        self._closing = False
        self._waiters: list[tuple[Callable[[RecordedRequest], bool], asyncio.Future[RecordedRequest]]] = []
        self._webhook_task: asyncio.Task[None] | None = None
        self._next_update_id = 0
        self._next_seq = 0
        self._id_counter = 0
        self._next_message_id: dict[int, int] = {}
        self._poller: object | None = None
        self._poll_end_reason = ""
        self.internal_errors: list[str] = []
        self.reset()
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------

    def reset(self, *, keep_chats: bool = False) -> None:
        """Forget traffic, messages, injections and webhook; ids keep increasing."""
        if not keep_chats:
            self._chats: dict[int, dict[str, Any]] = {}
            self._users: dict[int, dict[str, Any]] = {}
            self._usernames: dict[str, int] = {}
            self._blocked: dict[int, str] = {}
        self._log: list[RecordedRequest] = []
        self._log_base = self._next_seq
        self.counters: Counter[str] = Counter()
        self.method_counts: Counter[str] = Counter()
        self.status_counts: Counter[int] = Counter()
        self._queue: deque[_QueuedUpdate] = deque()  # update_id strictly increasing
        self._redeliveries: deque[_QueuedUpdate] = deque()  # explicit repeats of older ids
        self._allowed_updates: frozenset[str] | None = None
        self._webhook: _Webhook | None = None
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._sent: list[dict[str, Any]] = []
        self._sent_by_chat: dict[int, list[dict[str, Any]]] = {}
        self._send_keys: dict[tuple[Any, ...], int] = {}
        self._duplicate_sends = 0
        self._last_delivery_by_chat: dict[int, float] = {}
        self._min_chat_gap: float | None = None
        self._attempts = _RateWindow()
        self._deliveries = _RateWindow()
        self._send_attempts = 0
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._photo_sets: dict[str, list[dict[str, Any]]] = {}
        self._open_callbacks: set[str] = set()
        self._fail_next: deque[tuple[str, _Failure]] = deque()
        self._retry_every: tuple[int, int, int] | None = None  # (n, seconds, base attempt)
        self._error_every: tuple[int, int, str, int] | None = None  # (n, status, description, base)
        self._flood: tuple[int | None, float | None, int] | None = None
        self._last_attempt_by_chat: dict[int | str, float] = {}
        self._latency = 0.0
        self._latency_jitter = 0.0
        self._latency_methods: frozenset[str] | None = None
        self._latency_chats: frozenset[str] | None = None
        self._notify()

    def begin_shutdown(self) -> None:
        """Answer pending long polls now, so the HTTP server can stop without waiting them out."""
        self._closing = True
        self._notify()

    def reopen(self) -> None:
        self._closing = False

    async def aclose(self) -> None:
        """Stop webhook delivery and release its HTTP client."""
        self.begin_shutdown()
        await self._stop_webhook_delivery()

    # -- chats, users, blocking ---------------------------------------------

    def register_chat(
        self,
        chat_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        """Make a chat known, as if its user had written to the bot; returns the Chat object."""
        if chat_type == "private":
            user = self._user(chat_id, first_name, last_name, username, language_code)
            chat = self._private_chat(user)
        else:
            chat = {"id": chat_id, "title": title or f"Group {chat_id}", "type": chat_type}
            if username:
                chat["username"] = username
        self._remember_chat(chat)
        return chat

    def register_chats(self, chat_ids: Iterable[int], **chat_fields: Any) -> int:
        """Register many subscribers at once (broadcast benchmarks); returns how many."""
        count = 0
        for chat_id in chat_ids:
            self.register_chat(int(chat_id), **chat_fields)
            count += 1
        return count

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        return self._chats.get(chat_id)

    def block(self, *chat_ids: int, description: str = BLOCKED_DESCRIPTION) -> None:
        """Make sends to these chats answer 403 until the user writes again (as on Telegram,
        where a user must unblock a bot to message it)."""
        for chat_id in chat_ids:
            self._blocked[chat_id] = description

    def unblock(self, *chat_ids: int) -> None:
        for chat_id in chat_ids:
            self._blocked.pop(chat_id, None)

    def is_blocked(self, chat_id: int) -> bool:
        return chat_id in self._blocked

    # -- error injection ---------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        """Queue one failure for the next call of `method` ("*" = any), optionally only for
        `chat_id`. A 429 always carries retry_after (1 s unless given), as Telegram's does."""
        if status == 429 and retry_after is None:
            retry_after = 1
        text = description or _default_description(status, retry_after)
        self._fail_next.append((method.lower(), _Failure(status, text, retry_after, chat_id)))

    def retry_after_every(self, n: int, seconds: int) -> None:
        """Every n-th send attempt from now answers 429 with retry_after=seconds; n=0 turns off."""
        self._retry_every = (n, seconds, self._send_attempts) if n > 0 else None

    def server_error_every(self, n: int, status: int = 500, description: str | None = None) -> None:
        """Every n-th send attempt from now answers a 5xx; n=0 turns off."""
        text = description or _default_description(status, None)
        self._error_every = (n, status, text, self._send_attempts) if n > 0 else None

    def set_flood_limit(
        self, per_second: int | None = None, *, per_chat_interval: float | None = None, retry_after: int = 1
    ) -> None:
        """Answer 429 when send attempts exceed `per_second` in any sliding second, or come
        faster than `per_chat_interval` seconds apart in one chat. Both None turns it off."""
        enabled = per_second is not None or per_chat_interval is not None
        self._flood = (per_second, per_chat_interval, retry_after) if enabled else None

    def set_latency(
        self,
        seconds: float,
        *,
        jitter: float = 0.0,
        methods: Iterable[str] | None = None,
        chats: Iterable[int | str] | None = None,
    ) -> None:
        """Delay answers (only of `methods`, only of calls for `chat_id`s in `chats`, when
        given: one slow chat). The delay comes after the call took effect, so a client that
        times out has still sent its message: the "in doubt" case a sender must handle."""
        self._latency = max(seconds, 0.0)
        self._latency_jitter = max(jitter, 0.0)
        self._latency_methods = frozenset(m.lower() for m in methods) if methods else None
        self._latency_chats = frozenset(str(c) for c in chats) if chats else None

    # -- updates: factories and queue ------------------------------------------

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
    ) -> dict[str, Any]:
        """A text message update (no update_id yet); commands get a bot_command entity."""
        message = self._incoming(
            user_id, first_name, last_name, username, language_code, chat_id, chat_type, chat_title
        )
        message["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"offset": 0, "length": utf16_len(command), "type": "bot_command"}]
        return {"message": message}

    def callback_query(
        self,
        user_id: int,
        data: str,
        message_id: int | None = None,
        *,
        chat_id: int | None = None,
        first_name: str | None = None,
        language_code: str | None = "vi",
    ) -> dict[str, Any]:
        """A button press on `message_id` (default: the bot's latest keyboard in that chat)."""
        user = self._user(user_id, first_name, None, None, language_code)
        chat_id = user_id if chat_id is None else chat_id
        message = (
            self._messages.get((chat_id, message_id))
            if message_id is not None
            else self._last_keyboard_message(chat_id)
        )
        if message is None:
            chat = self._chats.get(chat_id) or self._private_chat(user)
            message = {
                "message_id": message_id or self._allocate_message_id(chat_id),
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": "…",
            }
            # Stored, so the bot can edit the message it "showed" earlier, as on Telegram.
            self._messages[(chat_id, message["message_id"])] = message
        query_id = str(4_000_000_000_000_000_000 + self._new_id())
        self._open_callbacks.add(query_id)
        return {
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": str(abs(hash((self.bot_id, chat_id)))),
                "data": data,
            }
        }

    def press_button(
        self, user_id: int, text: str, *, message_id: int | None = None, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The callback query for the inline button labelled `text` that the bot showed."""
        chat_id = user_id if chat_id is None else chat_id
        message = (
            self._messages.get((chat_id, message_id))
            if message_id is not None
            else self._last_keyboard_message(chat_id)
        )
        if message is None:
            raise LookupError(f"chat {chat_id} has no message with an inline keyboard")
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        for button in buttons:
            if button["text"] == text:
                if "callback_data" not in button:
                    raise ValueError(f"button {text!r} sends no callback query: {button}")
                return self.callback_query(user_id, button["callback_data"], message["message_id"], chat_id=chat_id)
        labels = [b["text"] for b in buttons]
        raise LookupError(f"no button {text!r} on message {message['message_id']}; buttons: {labels}")

    def sticker(self, user_id: int, *, emoji: str = "👍", first_name: str | None = None) -> dict[str, Any]:
        message = self._incoming(user_id, first_name, None, None, "vi", None, "private", None)
        stored = self._store_file(
            "sticker", f"sticker:{emoji}".encode(), size=23_000, width=512, height=512, mime_type="image/webp"
        )
        message["sticker"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.size,
        }
        return {"message": message}

    def photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        message = self._incoming(user_id, first_name, None, None, "vi", None, "private", None)
        seed = f"user-photo:{user_id}:{self._new_id()}".encode()
        message["photo"] = self._photo_sizes(seed, width, height, None)
        if caption:
            message["caption"] = caption
        return {"message": message}

    def document(
        self,
        user_id: int,
        *,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        content: bytes | None = None,
        caption: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        message = self._incoming(user_id, first_name, None, None, "vi", None, "private", None)
        data = content if content is not None else b"%PDF-1.4\n%fake\n"
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        message["document"] = self._document_object(_Upload(file_name, mime, data))
        if caption:
            message["caption"] = caption
        return {"message": message}

    def contact(
        self, user_id: int, phone_number: str, *, first_name: str | None = None, own: bool = True
    ) -> dict[str, Any]:
        """A shared contact; own=True is what a request_contact keyboard button sends."""
        message = self._incoming(user_id, first_name, None, None, "vi", None, "private", None)
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or message["from"]["first_name"],
        }
        if own:
            contact["user_id"] = user_id
        message["contact"] = contact
        return {"message": message}

    def my_chat_member(self, user_id: int, *, blocked: bool = True) -> dict[str, Any]:
        """What Telegram sends when a user blocks (or unblocks) the bot; pushing it blocks the chat."""
        user = self._user(user_id, None, None, None, None)
        bot_member = {"user": self.bot_user}
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        return {
            "my_chat_member": {
                "chat": self._chats.get(user_id) or self._private_chat(user),
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"status": old, **bot_member, **({"until_date": 0} if old == "kicked" else {})},
                "new_chat_member": {"status": new, **bot_member, **({"until_date": 0} if new == "kicked" else {})},
            }
        }

    def push_update(self, update: dict[str, Any], *, update_id: int | None = None) -> dict[str, Any]:
        """Queue an update for getUpdates / the webhook; returns it with its update_id.

        An explicit update_id at or below the last one is a re-delivery: it is handed out
        once even past the confirmed offset, for handlers that must tolerate duplicates.
        """
        if update_id is None:
            update_id = update.get("update_id")  # re-pushing a returned update re-delivers it
        update = {k: v for k, v in update.items() if k != "update_id"}
        explicit = update_id
        if explicit is None:
            self._next_update_id += 1
            explicit = self._next_update_id
            forced = False
        else:
            forced = explicit <= self._next_update_id
            self._next_update_id = max(self._next_update_id, explicit)
        full = {"update_id": explicit, **update}
        kind = next((k for k in update if k in _UPDATE_KINDS), next(iter(update), ""))
        self._absorb(full)
        self.counters["updates_pushed"] += 1
        if self._allowed_updates is not None and kind not in self._allowed_updates:
            # Telegram never stores updates of types the bot did not subscribe to.
            self.counters["updates_filtered"] += 1
            return full
        (self._redeliveries if forced else self._queue).append(_QueuedUpdate(explicit, full, kind))
        self._notify()
        return full

    def push_updates(self, updates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.push_update(u, update_id=u.get("update_id")) for u in updates]

    @property
    def pending_updates(self) -> int:
        return len(self._queue) + len(self._redeliveries)

    # -- observation ----------------------------------------------------------

    @property
    def log(self) -> list[RecordedRequest]:
        """Every Bot API call in arrival order (bounded by max_log if set)."""
        return list(self._log)

    def mark(self) -> int:
        """The seq the next request will get: pass it as `since` to ignore earlier traffic."""
        return self._next_seq

    def requests(
        self, method: str | None = None, *, chat_id: int | str | None = None, ok: bool | None = None, since: int = 0
    ) -> list[RecordedRequest]:
        match = _request_filter(method, chat_id, ok)
        return [r for r in self._log_since(since) if match(r)]

    def last_request(self, method: str | None = None, *, chat_id: int | str | None = None) -> RecordedRequest | None:
        match = _request_filter(method, chat_id, None)
        return next((r for r in reversed(self._log) if match(r)), None)

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot delivered, as returned at send time (edits: see `message()`)."""
        if chat_id is None:
            return list(self._sent)
        return list(self._sent_by_chat.get(chat_id, ()))

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Current state of a message (after edits); None once deleted."""
        return self._messages.get((chat_id, message_id))

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None) -> list[dict[str, str]]:
        return list(self._commands.get((_scope_key(scope), language_code), ()))

    @property
    def webhook_url(self) -> str:
        return self._webhook.url if self._webhook else ""

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        method: str | None = None,
        chat_id: int | str | None = None,
        ok: bool | None = None,
        since: int = 0,
        timeout: float = 5.0,
    ) -> RecordedRequest:
        """The first request from `since` on matching all filters, waiting up to `timeout`.

        Earlier requests count too (a fast bot may answer before the test starts waiting);
        use ``since=fake.mark()`` taken before the trigger to wait for a new one. A request
        matches from its arrival (e.g. a getUpdates still waiting, ``status`` None) unless
        `ok` or the predicate look at the answer. Methods that answer at once (sendMessage,
        editMessageText...) have taken effect by the time this returns.
        """
        base = _request_filter(method, chat_id, ok)

        def match(record: RecordedRequest) -> bool:
            return base(record) and (predicate is None or predicate(record))

        for record in self._log_since(since):
            if match(record):
                return record
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        waiter = (lambda r: r.seq >= since and match(r), future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            recent = ", ".join(f"{r.method}->{r.status}" for r in self._log[-8:]) or "none"
            raise TimeoutError(
                f"no request matching method={method!r} chat_id={chat_id!r} within {timeout}s; last requests: {recent}"
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def max_sends_per_second_window(self, *, delivered_only: bool = False) -> int:
        """Peak number of send attempts (or deliveries) within any sliding one-second window."""
        return (self._deliveries if delivered_only else self._attempts).peak

    def sends_per_second(self, *, delivered_only: bool = False) -> dict[int, int]:
        """Send attempts (or deliveries) per whole second since the first one."""
        return dict(sorted((self._deliveries if delivered_only else self._attempts).per_second.items()))

    @property
    def duplicate_send_count(self) -> int:
        """Deliveries of the same content to the same chat beyond the first."""
        return self._duplicate_sends

    def duplicate_sends(self) -> list[tuple[int, str | None, int]]:
        """(chat_id, text or caption, times delivered) for every content delivered twice or more."""
        return [(key[0], key[2], n) for key, n in self._send_keys.items() if n > 1]

    @property
    def min_same_chat_interval(self) -> float | None:
        """Shortest gap between two deliveries to one chat (Telegram asks for about 1 s)."""
        return self._min_chat_gap

    def stats(self) -> dict[str, Any]:
        attempts = self._send_attempts
        return {
            "requests": self.counters["requests"],
            "next_seq": self._next_seq,
            "by_method": dict(self.method_counts),
            "by_status": {str(k): v for k, v in self.status_counts.items()},
            "sends_attempted": attempts,
            "sends_ok": self.counters["sends_ok"],
            "sends_failed": attempts - self.counters["sends_ok"],
            "max_sends_per_second": self._attempts.peak,
            "max_delivered_per_second": self._deliveries.peak,
            "duplicate_sends": self._duplicate_sends,
            "min_same_chat_interval": self._min_chat_gap,
            "pending_updates": self.pending_updates,
            "chats": len(self._chats),
            "blocked": len(self._blocked),
            "webhook_url": self.webhook_url,
            "counters": dict(self.counters),
            "internal_errors": list(self.internal_errors),
        }

    # -- HTTP plumbing ---------------------------------------------------------

    def _build_app(self) -> Starlette:
        control = [
            Route("/health", self._ctl_health, methods=["GET"]),
            Route("/updates", self._ctl_updates, methods=["POST"]),
            Route("/chats", self._ctl_chats, methods=["POST"]),
            Route("/block", self._ctl_block, methods=["POST"]),
            Route("/unblock", self._ctl_unblock, methods=["POST"]),
            Route("/inject", self._ctl_inject, methods=["POST"]),
            Route("/stats", self._ctl_stats, methods=["GET"]),
            Route("/requests", self._ctl_requests, methods=["GET"]),
            Route("/sent", self._ctl_sent, methods=["GET"]),
            Route("/wait", self._ctl_wait, methods=["POST"]),
            Route("/reset", self._ctl_reset, methods=["POST"]),
        ]
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._bot_endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file_endpoint, methods=["GET"]),
                Mount("/_fake", routes=control),
            ]
        )

    async def _bot_endpoint(self, request: Request) -> Response:
        token: str = request.path_params["token"]
        name: str = request.path_params["method"]
        wall, now = time.time(), time.monotonic()
        spec = self._methods.get(name.lower())
        method = spec[0] if spec is not None else name
        params: dict[str, Any] = {}
        record: RecordedRequest | None = None
        result: Any = None
        description: str | None = None
        try:
            if token != self.token:
                # Telegram: 401 for a well-formed but unknown token, 404 for a malformed one.
                raise ApiError(401, "Unauthorized") if _TOKEN_RE.fullmatch(token) else ApiError(404, "Not Found")
            if spec is None:
                raise ApiError(404, "Not Found")
            params, uploads = await _read_params(request)
            record = self._open_record(method, params, wall)
            if method in SEND_METHODS:
                self._send_attempts += 1
                self._attempts.hit(now)
            self._inject(method, params, now)
            result = await spec[1](params, uploads)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, payload, description, result = exc.status, exc.payload(), exc.description, None
        except Exception as exc:
            # A bug in the fake must fail the test loudly, not pass for a Telegram answer.
            logger.exception("fake Bot API failed on %s", method)
            self.internal_errors.append(f"{method}: {exc!r}")
            status, description = 500, f"Internal Server Error: fake Bot API bug: {exc!r}"
            payload = {"ok": False, "error_code": 500, "description": description}
        if record is None:
            record = self._open_record(method, params, wall)
        self._close_record(record, status, description, result)
        delay = self._latency_for(method, params.get("chat_id"))
        if delay > 0:
            await asyncio.sleep(delay)
        return Response(_dumps(payload), status_code=status, media_type="application/json")

    async def _file_endpoint(self, request: Request) -> Response:
        stored = self._files_by_path.get(request.path_params["path"])
        if request.path_params["token"] != self.token or stored is None:
            return Response(
                _dumps({"ok": False, "error_code": 404, "description": "Not Found"}),
                status_code=404,
                media_type="application/json",
            )
        content = stored.content
        if content is None:  # generated lazily: most fake photos are never downloaded
            content = tiny_png(max(stored.width, 1), max(stored.height, 1))
        return Response(content, media_type=stored.mime_type or "application/octet-stream")

    def _open_record(self, method: str, params: dict[str, Any], wall: float) -> RecordedRequest:
        record = RecordedRequest(self._next_seq, method, params, wall)
        self._next_seq += 1
        self._log.append(record)
        if self._max_log is not None and len(self._log) > 2 * self._max_log:
            # Trim in bulk so a bounded log stays O(1) amortized per request.
            drop = len(self._log) - self._max_log
            del self._log[:drop]
            self._log_base += drop
        self.counters["requests"] += 1
        self.method_counts[method] += 1
        self._wake_waiters(record)
        return record

    def _close_record(self, record: RecordedRequest, status: int, description: str | None, result: Any) -> None:
        record.status, record.description, record.result = status, description, result
        self.status_counts[status] += 1
        self._wake_waiters(record)

    def _wake_waiters(self, record: RecordedRequest) -> None:
        # Checked on arrival and on answer: `ok=` filters and predicates on results match
        # once answered, a bare method filter already while a long poll is waiting.
        for match, future in list(self._waiters):
            if future.done():
                continue
            try:
                matched = match(record)
            except Exception as exc:  # the test's predicate failed: that is the test's error
                future.set_exception(exc)
                continue
            if matched:
                future.set_result(record)

    def _log_since(self, since: int) -> list[RecordedRequest]:
        return self._log[max(since - self._log_base, 0) :]

    def _latency_for(self, method: str, chat_id: object) -> float:
        if self._latency <= 0 and self._latency_jitter <= 0:
            return 0.0
        if self._latency_methods is not None and method.lower() not in self._latency_methods:
            return 0.0
        if self._latency_chats is not None and str(chat_id) not in self._latency_chats:
            return 0.0
        return self._latency + (random.uniform(0, self._latency_jitter) if self._latency_jitter else 0.0)

    def _inject(self, method: str, params: dict[str, Any], now: float) -> None:
        if self._fail_next:
            failure = self._take_failure(method.lower(), params.get("chat_id"))
            if failure is not None:
                self.counters["injected_fail_next"] += 1
                raise ApiError(failure.status, failure.description, retry_after=failure.retry_after)
        if method not in SEND_METHODS:
            return
        if self._flood is not None:
            per_second, per_chat, retry_after = self._flood
            chat_key = params.get("chat_id")
            last = self._last_attempt_by_chat.get(chat_key) if chat_key is not None else None
            if chat_key is not None:
                self._last_attempt_by_chat[chat_key] = now
            too_fast_chat = per_chat is not None and last is not None and now - last < per_chat
            if too_fast_chat or (per_second is not None and self._attempts.current > per_second):
                self.counters["injected_429"] += 1
                raise _too_many(retry_after)
        if self._retry_every is not None:
            n, seconds, base = self._retry_every
            if (self._send_attempts - base) % n == 0:
                self.counters["injected_429"] += 1
                raise _too_many(seconds)
        if self._error_every is not None:
            n, status, text, base = self._error_every
            if (self._send_attempts - base) % n == 0:
                self.counters["injected_5xx"] += 1
                raise ApiError(status, text)

    def _take_failure(self, method: str, chat_id: Any) -> _Failure | None:
        for index, (target, failure) in enumerate(self._fail_next):
            if target in ("*", method) and (failure.chat_id is None or failure.chat_id == chat_id):
                del self._fail_next[index]
                return failure
        return None

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _wait_wake(self, timeout: float | None) -> None:
        event = self._wake
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()

    def _new_id(self) -> int:
        self._id_counter += 1
        return self._id_counter

    # -- Bot API methods -------------------------------------------------------

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._accept,
            "close": self._accept,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._accept,
            "setMyShortDescription": self._accept,
            "setMyName": self._accept,
            "setChatMenuButton": self._accept,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getChat": self._get_chat,
            "getFile": self._get_file,
        }

    async def _accept(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any], files: dict[str, _Upload]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        self._set_allowed_updates(params.get("allowed_updates"))
        self._confirm(params.get("offset"))
        if self._poller is not None:
            # Telegram answers the older of two concurrent long polls with 409.
            self._poll_end_reason = (
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
            )
            self._notify()
        poll = object()
        self._poller = poll
        deadline = time.monotonic() + timeout
        try:
            while True:
                batch = self._take_updates(limit)
                if batch or self._closing:
                    return batch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                await self._wait_wake(remaining)
                if self._poller is not poll:
                    raise ApiError(409, self._poll_end_reason)
        finally:
            if self._poller is poll:
                self._poller = None

    def _set_allowed_updates(self, allowed: Any) -> None:
        if not isinstance(allowed, list):
            return  # not given: Telegram keeps the previous setting
        wanted = frozenset(allowed) or None
        if wanted != self._allowed_updates:
            self._allowed_updates = wanted
            if wanted is not None:
                self._queue = deque(e for e in self._queue if e.kind in wanted)
                self._redeliveries = deque(e for e in self._redeliveries if e.kind in wanted)

    def _confirm(self, offset: Any) -> None:
        """getUpdates' offset confirms every update with a lower id; a negative one keeps the last few."""
        if not offset:
            return
        queue = self._queue
        if offset < 0:
            self._redeliveries.clear()
            while len(queue) > -offset:
                queue.popleft()
            return
        while queue and queue[0].update_id < offset:
            queue.popleft()
        if self._redeliveries:
            # A repeat is handed out once even below the offset, then confirmed like any update.
            kept = (e for e in self._redeliveries if not (e.delivered and e.update_id < offset))
            self._redeliveries = deque(kept)

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for queue in (self._redeliveries, self._queue):  # repeats carry the lower ids
            for entry in queue:
                if len(batch) >= limit:
                    return batch
                if not entry.delivered:
                    entry.delivered = True
                    self.counters["updates_delivered"] += 1
                batch.append(entry.update)
        return batch

    async def _set_webhook(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
            self._redeliveries.clear()
        await self._stop_webhook_delivery()
        if not url:
            self._webhook = None
            return True
        allowed = params.get("allowed_updates")
        self._set_allowed_updates(allowed)
        self._webhook = _Webhook(
            url, secret, int(params.get("max_connections") or 40), allowed if isinstance(allowed, list) else None
        )
        if self._poller is not None:
            self._poll_end_reason = "Conflict: terminated by setWebhook request"
            self._poller = None
            self._notify()
        self._webhook_task = asyncio.create_task(self._deliver_webhooks(self._webhook))
        return True

    async def _delete_webhook(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.clear()
            self._redeliveries.clear()
        await self._stop_webhook_delivery()
        self._webhook = None
        return True

    async def _get_webhook_info(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        hook = self._webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.pending_updates,
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_webhooks(self, hook: _Webhook) -> None:
        """POST queued updates one at a time, in order, retrying until the endpoint says 2xx."""
        headers = {"content-type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        async with httpx.AsyncClient(timeout=self._webhook_timeout) as client:
            while self._webhook is hook and not self._closing:
                queue = self._redeliveries or self._queue
                if not queue:
                    await self._wait_wake(None)
                    continue
                entry = queue[0]
                try:
                    response = await client.post(hook.url, content=_dumps(entry.update), headers=headers)
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {type(exc).__name__}"
                else:
                    if 200 <= response.status_code < 300:
                        if queue and queue[0] is entry:
                            queue.popleft()
                        entry.delivered = True
                        self.counters["webhook_deliveries"] += 1
                        continue
                    error = f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
                hook.last_error_date = int(time.time())
                hook.last_error_message = error
                self.counters["webhook_failures"] += 1
                logger.debug("webhook delivery to %s failed: %s", hook.url, error)
                await asyncio.sleep(self._webhook_retry_delay)

    async def _set_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("too many commands")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name.removeprefix("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name.removeprefix("/"), "description": description})
        self._commands[(_scope_key(params.get("scope")), _language(params))] = cleaned
        return True

    async def _get_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> list[dict[str, str]]:
        return list(self._commands.get((_scope_key(params.get("scope")), _language(params)), ()))

    async def _delete_my_commands(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        self._commands.pop((_scope_key(params.get("scope")), _language(params)), None)
        return True

    async def _send_message(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        text, entities = self._render(params, "text", params.get("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad("message is too long")
        markup = _check_reply_markup(params.get("reply_markup"))
        reply = self._reply_target(chat["id"], params)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if markup is not None:
            content["reply_markup"] = markup
        return self._deliver(chat, content, params, reply, ("text", text, None))

    async def _send_photo(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        caption, caption_entities = self._caption(params)
        markup = _check_reply_markup(params.get("reply_markup"))
        reply = self._reply_target(chat["id"], params)
        sizes = self._input_photo(params, files)
        content: dict[str, Any] = {"photo": sizes}
        _add_caption(content, caption, caption_entities)
        if markup is not None:
            content["reply_markup"] = markup
        return self._deliver(chat, content, params, reply, ("photo", caption, sizes[-1]["file_unique_id"]))

    async def _send_document(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        caption, caption_entities = self._caption(params)
        markup = _check_reply_markup(params.get("reply_markup"))
        reply = self._reply_target(chat["id"], params)
        document = self._input_document(params, files)
        content: dict[str, Any] = {"document": document}
        _add_caption(content, caption, caption_entities)
        if markup is not None:
            content["reply_markup"] = markup
        return self._deliver(chat, content, params, reply, ("document", caption, document["file_unique_id"]))

    async def _send_chat_action(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        self._resolve_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _edit_message_text(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        text, entities = self._render(params, "text", params.get("entities"))
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad("message is too long")
        markup = _check_inline_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._resolve_chat(params)
        current = self._editable_message(chat["id"], params)
        if "text" not in current:
            raise _bad("there is no text in the message to edit")
        return self._apply_edit(current, {"text": text, "entities": entities, "reply_markup": markup})

    async def _edit_message_caption(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        caption, caption_entities = self._caption(params)
        markup = _check_inline_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._resolve_chat(params)
        current = self._editable_message(chat["id"], params)
        if "text" in current:
            raise _bad("there is no caption in the message to edit")
        return self._apply_edit(
            current, {"caption": caption or None, "caption_entities": caption_entities, "reply_markup": markup}
        )

    async def _edit_message_reply_markup(self, params: dict[str, Any], files: dict[str, _Upload]) -> Any:
        markup = _check_inline_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._resolve_chat(params)
        current = self._editable_message(chat["id"], params)
        return self._apply_edit(current, {"reply_markup": markup})

    async def _delete_message(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        chat = self._resolve_chat(params)
        key = (chat["id"], params.get("message_id") or 0)
        if key not in self._messages:
            raise _bad("message to delete not found")
        del self._messages[key]
        self.counters["messages_deleted"] += 1
        return True

    async def _answer_callback_query(self, params: dict[str, Any], files: dict[str, _Upload]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.counters["callbacks_answered"] += 1
        return True

    async def _get_chat(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        chat = self._resolve_chat(params, write=False)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def _get_file(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        if stored.file_path is None:
            extension = {"photo": ".jpg", "sticker": ".webp"}.get(stored.kind) or Path(stored.file_name or "").suffix
            stored.file_path = f"{stored.kind}s/file_{self._new_id()}{extension}"
            self._files_by_path[stored.file_path] = stored
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # -- method helpers ----------------------------------------------------------

    def _resolve_chat(self, params: dict[str, Any], *, write: bool = True) -> dict[str, Any]:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            chat_id = self._usernames.get(raw[1:].lower())
            chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad("chat not found")
        if write and chat["id"] in self._blocked:
            raise ApiError(403, self._blocked[chat["id"]])
        return chat

    def _render(self, params: dict[str, Any], key: str, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        raw = params.get(key)
        if raw is None:
            return "", []
        return render_text(str(raw), params.get("parse_mode"), entities)

    def _caption(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        caption, entities = self._render(params, "caption", params.get("caption_entities"))
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return caption, entities

    def _reply_target(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id, lenient = reply.get("message_id"), reply.get("allow_sending_without_reply")
        elif params.get("reply_to_message_id"):
            message_id, lenient = params["reply_to_message_id"], params.get("allow_sending_without_reply")
        else:
            return None
        target = self._messages.get((chat_id, message_id))
        if target is None and not lenient:
            raise _bad("message to be replied not found")
        if target is None:
            return None
        # Telegram does not nest replies further than one level.
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _deliver(
        self,
        chat: dict[str, Any],
        content: dict[str, Any],
        params: dict[str, Any],
        reply: dict[str, Any] | None,
        key: tuple[str, str | None, str | None],
    ) -> dict[str, Any]:
        chat_id = chat["id"]
        message: dict[str, Any] = {
            "message_id": self._allocate_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        if reply is not None:
            message["reply_to_message"] = reply
        message.update(content)
        if params.get("protect_content"):
            message["has_protected_content"] = True
        self._messages[(chat_id, message["message_id"])] = message
        self._sent.append(message)
        self._sent_by_chat.setdefault(chat_id, []).append(message)
        now = time.monotonic()
        self._deliveries.hit(now)
        self.counters["sends_ok"] += 1
        last = self._last_delivery_by_chat.get(chat_id)
        if last is not None and (self._min_chat_gap is None or now - last < self._min_chat_gap):
            self._min_chat_gap = now - last
        self._last_delivery_by_chat[chat_id] = now
        dedupe = (chat_id, *key)
        count = self._send_keys.get(dedupe, 0) + 1
        self._send_keys[dedupe] = count
        if count > 1:
            self._duplicate_sends += 1
        return message

    def _editable_message(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        message_id = params.get("message_id")
        if not message_id:
            raise _bad("message identifier is not specified")
        current = self._messages.get((chat_id, message_id))
        if current is None:
            raise _bad("message to edit not found")
        if current.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return current

    def _apply_edit(self, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        # Unset keys are removed: an edit without reply_markup drops the keyboard, as on Telegram.
        if all(current.get(k) == (v or None) for k, v in changes.items()):
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        updated = {k: v for k, v in current.items() if k not in changes}
        updated.update({k: v for k, v in changes.items() if v})
        updated["edit_date"] = int(time.time())
        chat_id = updated["chat"]["id"]
        self._messages[(chat_id, updated["message_id"])] = updated
        self.counters["messages_edited"] += 1
        return updated

    def _input_photo(self, params: dict[str, Any], files: dict[str, _Upload]) -> list[dict[str, Any]]:
        upload, reference = _file_input(params, files, "photo")
        if upload is not None:
            size = _image_size(upload.data)
            if size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            width, height = size
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise _bad("PHOTO_INVALID_DIMENSIONS")
            return self._photo_sizes(upload.data, width, height, upload.data)
        if reference is None:
            raise _bad("there is no photo in the request")
        if reference.startswith(("http://", "https://")):
            return self._photo_sizes(reference.encode(), 800, 600, None)
        sizes = self._photo_sets.get(reference)
        if sizes is None:
            if reference in self._files:
                raise _bad("type of file mismatch")
            raise _bad("wrong file identifier/HTTP URL specified")
        return sizes

    def _input_document(self, params: dict[str, Any], files: dict[str, _Upload]) -> dict[str, Any]:
        upload, reference = _file_input(params, files, "document")
        if upload is not None:
            return self._document_object(upload)
        if reference is None:
            raise _bad("there is no document in the request")
        if reference.startswith(("http://", "https://")):
            name = reference.rsplit("/", 1)[-1] or "file"
            return self._document_object(
                _Upload(name, mimetypes.guess_type(name)[0] or "application/octet-stream", reference.encode())
            )
        stored = self._files.get(reference)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != "document":
            raise _bad("type of file mismatch")
        return _document_dict(stored)

    def _document_object(self, upload: _Upload) -> dict[str, Any]:
        stored = self._store_file(
            "document",
            upload.data,
            size=len(upload.data),
            content=upload.data,
            file_name=upload.filename,
            mime_type=upload.content_type,
        )
        return _document_dict(stored)

    def _photo_sizes(self, seed: bytes, width: int, height: int, content: bytes | None) -> list[dict[str, Any]]:
        # Telegram stores a photo as thumbnails with longest sides 90/320/800 and the photo
        # itself scaled to at most 1280; clients pick the last (largest) entry.
        longest = max(width, height)
        sizes: list[dict[str, Any]] = []
        for limit in (90, 320, 800, 1280):
            last = longest <= limit or limit == 1280
            scale = min(1.0, limit / longest)
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            file_size = len(content) if (last and content is not None) else max(1, w * h // 10)
            stored = self._store_file(
                "photo",
                seed + f":{limit}".encode(),
                size=file_size,
                content=content if last else None,
                width=w,
                height=h,
                mime_type="image/jpeg",
            )
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": file_size,
                    "width": w,
                    "height": h,
                }
            )
            if last:
                break
        for entry in sizes:
            self._photo_sets[entry["file_id"]] = sizes
        return sizes

    def _store_file(
        self,
        kind: str,
        seed: bytes,
        *,
        size: int,
        content: bytes | None = None,
        width: int = 0,
        height: int = 0,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        prefix = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI", "sticker": "CAACAgIAAxkBAAI"}[kind]
        file_id = f"{prefix}{self._new_id():06d}{hashlib.md5(seed).hexdigest()[:16]}"
        stored = _StoredFile(file_id, _unique_id(seed), kind, size, content, width, height, file_name, mime_type)
        self._files[file_id] = stored
        return stored

    # -- update helpers ----------------------------------------------------------

    def _user(
        self,
        user_id: int,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> dict[str, Any]:
        known = self._users.get(user_id, {})
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or known.get("first_name") or f"Worker {user_id}",
        }
        if last_name or known.get("last_name"):
            user["last_name"] = last_name or known["last_name"]
        if username or known.get("username"):
            user["username"] = username or known["username"]
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    @staticmethod
    def _private_chat(user: dict[str, Any]) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": user["id"], "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        chat["type"] = "private"
        return chat

    def _incoming(
        self,
        user_id: int,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        chat_id: int | None,
        chat_type: str,
        chat_title: str | None,
    ) -> dict[str, Any]:
        user = self._user(user_id, first_name, last_name, username, language_code)
        if chat_type == "private":
            chat = self._private_chat(user)
        else:
            chat = self._chats.get(chat_id or 0) or {
                "id": chat_id,
                "title": chat_title or f"Group {chat_id}",
                "type": chat_type,
            }
        return {
            "message_id": self._allocate_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }

    def _allocate_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    def _remember_chat(self, chat: dict[str, Any]) -> None:
        self._chats[chat["id"]] = chat
        if chat.get("username"):
            self._usernames[chat["username"].lower()] = chat["id"]

    def _absorb(self, update: dict[str, Any]) -> None:
        """What Telegram learns when a user acts: the chat becomes known, a blocked user is back."""
        for key in ("message", "edited_message", "channel_post"):
            message = update.get(key)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                chat = message["chat"]
                self._remember_chat(chat)
                sender = message.get("from")
                if isinstance(sender, dict):
                    self._users.setdefault(sender["id"], sender)
                    if chat.get("type") == "private":
                        self._blocked.pop(chat["id"], None)
                mid = message.get("message_id")
                if isinstance(mid, int):
                    self._messages[(chat["id"], mid)] = message
                    if mid > self._next_message_id.get(chat["id"], 0):
                        self._next_message_id[chat["id"]] = mid
        query = update.get("callback_query")
        if isinstance(query, dict):
            self._open_callbacks.add(str(query.get("id")))
            chat = (query.get("message") or {}).get("chat")
            if isinstance(chat, dict) and chat.get("id") not in self._chats:
                self._remember_chat(chat)
        member = update.get("my_chat_member")
        if isinstance(member, dict) and isinstance(member.get("chat"), dict):
            chat = member["chat"]
            self._remember_chat(chat)
            status = (member.get("new_chat_member") or {}).get("status")
            if status == "kicked":
                self._blocked[chat["id"]] = BLOCKED_DESCRIPTION
            elif status == "member":
                self._blocked.pop(chat["id"], None)

    def _last_keyboard_message(self, chat_id: int) -> dict[str, Any] | None:
        for sent in reversed(self._sent_by_chat.get(chat_id, ())):
            current = self._messages.get((chat_id, sent["message_id"]))
            if current is not None and "inline_keyboard" in (current.get("reply_markup") or {}):
                return current
        return None

    def _materialize(self, item: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """A control-API update item: a raw update, or {"factory": name, **arguments}."""
        if "factory" not in item:
            return item, item.get("update_id")
        arguments = dict(item)
        name = arguments.pop("factory")
        update_id = arguments.pop("update_id", None)
        factory = self._factories.get(name)
        if factory is None:
            raise ValueError(f"unknown factory {name!r}; known: {sorted(self._factories)}")
        return factory(**arguments), update_id

    # -- control API (/_fake/...) ----------------------------------------------

    async def _ctl_health(self, request: Request) -> Response:
        return _ctl_ok({"token": self.token, "bot": self.bot_user})

    async def _ctl_updates(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            pushed = []
            for item in body.get("updates", []):
                update, update_id = self._materialize(item)
                pushed.append(self.push_update(update, update_id=update_id)["update_id"])
        except (TypeError, ValueError, LookupError) as exc:
            return _ctl_error(400, str(exc))
        return _ctl_ok(pushed)

    async def _ctl_chats(self, request: Request) -> Response:
        body = await _json_body(request)
        fields = {k: v for k, v in body.items() if k != "chat_ids"}
        try:
            return _ctl_ok(self.register_chats(body.get("chat_ids", []), **fields))
        except TypeError as exc:
            return _ctl_error(400, str(exc))

    async def _ctl_block(self, request: Request) -> Response:
        body = await _json_body(request)
        self.block(*map(int, body.get("chat_ids", [])), description=body.get("description") or BLOCKED_DESCRIPTION)
        return _ctl_ok(True)

    async def _ctl_unblock(self, request: Request) -> Response:
        body = await _json_body(request)
        self.unblock(*map(int, body.get("chat_ids", [])))
        return _ctl_ok(True)

    async def _ctl_inject(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            failures = body.get("fail_next") or []
            for failure in [failures] if isinstance(failures, dict) else failures:
                self.fail_next(**failure)
            if "retry_after_every" in body:
                self.retry_after_every(**body["retry_after_every"])
            if "server_error_every" in body:
                self.server_error_every(**body["server_error_every"])
            if "flood_limit" in body:
                self.set_flood_limit(**body["flood_limit"])
            if "latency" in body:
                self.set_latency(**body["latency"])
        except TypeError as exc:
            return _ctl_error(400, str(exc))
        return _ctl_ok(True)

    async def _ctl_stats(self, request: Request) -> Response:
        return _ctl_ok(self.stats())

    async def _ctl_requests(self, request: Request) -> Response:
        query = request.query_params
        records = self.requests(
            query.get("method") or None,
            chat_id=_chat_id_value(query["chat_id"]) if "chat_id" in query else None,
            since=int(query.get("since") or 0),
        )
        if query.get("limit"):
            records = records[-int(query["limit"]) :]
        return _ctl_ok([r.to_json() for r in records])

    async def _ctl_sent(self, request: Request) -> Response:
        chat_id = request.query_params.get("chat_id")
        return _ctl_ok(self.sent_messages(int(chat_id) if chat_id else None))

    async def _ctl_wait(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            record = await self.wait_for(
                method=body.get("method"),
                chat_id=body.get("chat_id"),
                ok=body.get("ok"),
                since=int(body.get("since") or 0),
                timeout=float(body.get("timeout") or 5.0),
            )
        except TimeoutError as exc:
            return _ctl_error(408, str(exc))
        return _ctl_ok(record.to_json())

    async def _ctl_reset(self, request: Request) -> Response:
        body = await _json_body(request)
        await self._stop_webhook_delivery()
        self.reset(keep_chats=bool(body.get("keep_chats")))
        return _ctl_ok(True)


def _request_filter(
    method: str | None, chat_id: int | str | None, ok: bool | None
) -> Callable[[RecordedRequest], bool]:
    wanted = method.lower() if method else None

    def match(record: RecordedRequest) -> bool:
        return (
            (wanted is None or record.method.lower() == wanted)
            and (chat_id is None or record.params.get("chat_id") == chat_id)
            and (ok is None or record.ok == ok)
        )

    return match


def _check_inline_markup(markup: Any) -> dict[str, Any] | None:
    if markup is not None and (not isinstance(markup, dict) or "inline_keyboard" not in markup):
        raise _bad("inline keyboard expected")
    return _check_reply_markup(markup)


def _add_caption(content: dict[str, Any], caption: str, entities: list[dict[str, Any]]) -> None:
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities


def _document_dict(stored: _StoredFile) -> dict[str, Any]:
    return {
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }


def _file_input(params: dict[str, Any], files: dict[str, _Upload], key: str) -> tuple[_Upload | None, str | None]:
    """An upload in the multipart body, or a file_id / URL string (attach:// resolves to a part)."""
    if key in files:
        return files[key], None
    value = params.get(key)
    if isinstance(value, str) and value.startswith("attach://"):
        part = files.get(value.removeprefix("attach://"))
        if part is None:
            raise _bad(f"can't find attached file {value!r}")
        return part, None
    return None, value if isinstance(value, str) and value else None


def _scope_key(scope: Any) -> str:
    if scope is None:
        return '{"type": "default"}'
    if not isinstance(scope, dict) or "type" not in scope:
        raise _bad("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True)


def _language(params: dict[str, Any]) -> str:
    language = str(params.get("language_code") or "")
    if language and not _LANGUAGE_RE.fullmatch(language):
        raise _bad("invalid language code specified")
    return language


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _chat_id_value(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def _to_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        # Telegram's server reads a malformed number as 0 rather than rejecting the call.
        try:
            return int(float(value))
        except ValueError:
            return 0


def _coerce_params(raw: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _CHAT_PARAMS:
                value = _chat_id_value(value)
            elif key in _INT_PARAMS:
                value = _to_int(value)
            elif key in _FLOAT_PARAMS:
                try:
                    value = float(value)
                except ValueError:
                    value = 0.0
            elif key in _BOOL_PARAMS:
                value = value.lower() in ("true", "1")
            elif key in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    raise _bad(f"can't parse {_JSON_PARAMS[key]} JSON object") from None
        params[key] = value
    return params


async def _read_params(request: Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
    """Query string and body (JSON, form-urlencoded or multipart), typed like Telegram does."""
    raw: dict[str, Any] = dict(request.query_params)
    uploads: dict[str, _Upload] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type == "application/json":
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise _bad("can't parse JSON encoded request parameters") from None
                if not isinstance(data, dict):
                    raise _bad("can't parse JSON encoded request parameters")
                raw.update(data)
        elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            try:
                async with request.form(max_files=50, max_fields=1000) as form:
                    for key, value in form.multi_items():
                        if isinstance(value, UploadFile):
                            data = await value.read()
                            if len(data) > MAX_UPLOAD_BYTES:
                                raise ApiError(413, "Request Entity Too Large")
                            filename = value.filename or key
                            mime = value.content_type or "application/octet-stream"
                            uploads[key] = _Upload(filename, mime, data)
                            raw[key] = {"upload": filename, "content_type": mime, "size": len(data)}
                        else:
                            raw[key] = value
            except HTTPException as exc:
                raise _bad(str(exc.detail)) from None
    return _coerce_params(raw), uploads


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    data = json.loads(body) if body.strip() else {}
    return data if isinstance(data, dict) else {}


def _ctl_ok(result: Any) -> Response:
    return Response(_dumps({"ok": True, "result": result}), media_type="application/json")


def _ctl_error(status: int, description: str) -> Response:
    return Response(
        _dumps({"ok": False, "description": description}), status_code=status, media_type="application/json"
    )


# ---------------------------------------------------------------------------
# Serving: in the current event loop, or as its own process
# ---------------------------------------------------------------------------


class _UvicornServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown
        self._stop_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        # The test runner (or our own process main) owns signal handling, not uvicorn.
        yield

    def request_stop(self) -> None:
        self.should_exit = True
        self._stop_requested.set()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; waking on request_stop() instead shortens
        # every test's teardown. on_tick still runs once a second for the Date header.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._stop_requested.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._before_shutdown is not None:
            self._before_shutdown()  # pending long polls answer now instead of at their timeout
        await super().shutdown(sockets)


class InLoopServer:
    """Serves an ASGI app with uvicorn as a task of the current event loop, on 127.0.0.1.

    Binding the socket ourselves gives the ephemeral port before start-up and works the
    same for port 0 and a fixed port.
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, before_shutdown: Callable[[], None] | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._before_shutdown = before_shutdown
        self._server: _UvicornServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        # proto must say TCP explicitly: asyncio only disables Nagle on accepted sockets whose
        # proto is IPPROTO_TCP, and Nagle + delayed ACK costs ~40 ms per request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=3,
            backlog=4096,
        )
        self._server = _UvicornServer(config, self._before_shutdown)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"uvicorn:{self.port}")
        while not self._server.started:
            if self._task.done():
                sock.close()
                await self._task  # surfaces why it could not start
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.005)

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.request_stop()

    async def wait_stopped(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self.request_stop()
        await self.wait_stopped()
        self._task = None

    async def __aenter__(self) -> InLoopServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class FakeTelegramServer(FakeBotApi):
    """The fake Bot API served in the test's event loop: ``async with FakeTelegramServer() as fake``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self._http = InLoopServer(self.app, host=host, port=port, before_shutdown=self.begin_shutdown)

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url``: PTB appends the token and then ``/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        self.reopen()
        await self._http.start()

    async def stop(self) -> None:
        await self._http.stop()
        await self.aclose()

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.stop()
        if exc_type is None and self.internal_errors:
            raise AssertionError(f"fake Bot API hit internal errors: {self.internal_errors}")


class FakeControlError(RuntimeError):
    """The control API refused a call (bad arguments, or a wait that timed out)."""


class FakeTelegramControl:
    """Async client for the ``/_fake/`` control API of an out-of-process fake."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=f"{self.url}/_fake", timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> FakeTelegramControl:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _call(
        self, verb: str, path: str, *, body: Any = None, query: Any = None, timeout: float | None = None
    ) -> Any:
        extra = {"timeout": timeout} if timeout is not None else {}
        response = await self._client.request(verb, path, json=body, params=query, **extra)
        payload = response.json()
        if response.status_code == 408:
            raise TimeoutError(payload.get("description"))
        if not payload.get("ok"):
            raise FakeControlError(payload.get("description") or f"HTTP {response.status_code}")
        return payload["result"]

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "/health")

    async def push_updates(self, updates: Iterable[dict[str, Any]]) -> list[int]:
        """Raw updates or factory specs like {"factory": "user_message", "user_id": 1, "text": "hi"}."""
        return await self._call("POST", "/updates", body={"updates": list(updates)})

    async def push_user_message(self, user_id: int, text: str, **options: Any) -> int:
        spec = {"factory": "user_message", "user_id": user_id, "text": text, **options}
        return (await self.push_updates([spec]))[0]

    async def register_chats(self, chat_ids: Iterable[int], **chat_fields: Any) -> int:
        return await self._call("POST", "/chats", body={"chat_ids": list(chat_ids), **chat_fields})

    async def block(self, chat_ids: Iterable[int], description: str | None = None) -> None:
        await self._call("POST", "/block", body={"chat_ids": list(chat_ids), "description": description})

    async def unblock(self, chat_ids: Iterable[int]) -> None:
        await self._call("POST", "/unblock", body={"chat_ids": list(chat_ids)})

    async def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        *,
        chat_id: int | str | None = None,
    ) -> None:
        failure = {
            "method": method,
            "status": status,
            "description": description,
            "retry_after": retry_after,
            "chat_id": chat_id,
        }
        await self._call("POST", "/inject", body={"fail_next": failure})

    async def retry_after_every(self, n: int, seconds: int) -> None:
        await self._call("POST", "/inject", body={"retry_after_every": {"n": n, "seconds": seconds}})

    async def server_error_every(self, n: int, status: int = 500) -> None:
        await self._call("POST", "/inject", body={"server_error_every": {"n": n, "status": status}})

    async def set_flood_limit(
        self, per_second: int | None = None, *, per_chat_interval: float | None = None, retry_after: int = 1
    ) -> None:
        limit = {"per_second": per_second, "per_chat_interval": per_chat_interval, "retry_after": retry_after}
        await self._call("POST", "/inject", body={"flood_limit": limit})

    async def set_latency(
        self,
        seconds: float,
        *,
        jitter: float = 0.0,
        methods: Sequence[str] | None = None,
        chats: Sequence[int | str] | None = None,
    ) -> None:
        latency = {
            "seconds": seconds,
            "jitter": jitter,
            "methods": list(methods) if methods else None,
            "chats": list(chats) if chats else None,
        }
        await self._call("POST", "/inject", body={"latency": latency})

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/stats")

    async def mark(self) -> int:
        return (await self.stats())["next_seq"]

    async def requests(
        self, method: str | None = None, *, chat_id: int | None = None, since: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"since": since}
        if method:
            query["method"] = method
        if chat_id is not None:
            query["chat_id"] = chat_id
        if limit:
            query["limit"] = limit
        return await self._call("GET", "/requests", query=query)

    async def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return await self._call("GET", "/sent", query={"chat_id": chat_id} if chat_id is not None else None)

    async def wait_for(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        ok: bool | None = None,
        since: int = 0,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        body = {"method": method, "chat_id": chat_id, "ok": ok, "since": since, "timeout": timeout}
        return await self._call("POST", "/wait", body=body, timeout=timeout + 10)

    async def reset(self, *, keep_chats: bool = False) -> None:
        await self._call("POST", "/reset", body={"keep_chats": keep_chats})


class FakeTelegramProcess:
    """Runs the fake as ``python -m tests.fakes.telegram_api`` for benchmarks.

    A separate process keeps the fake's CPU out of the measured bot's event loop.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self._args = list(args)
        self._startup_timeout = startup_timeout
        self._dir: Path | None = None
        self._stderr: Any = None
        self.process: subprocess.Popen[bytes] | None = None
        self.control: FakeTelegramControl | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def _spawn(self) -> Path:
        self._dir = Path(tempfile.mkdtemp(prefix="fake-telegram-"))
        port_file = self._dir / "port"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
        self._stderr = (self._dir / "stderr.log").open("wb")
        command = [
            sys.executable,
            "-m",
            "tests.fakes.telegram_api",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--port-file",
            str(port_file),
            "--token",
            self.token,
            *self._args,
        ]
        self.process = subprocess.Popen(
            command, cwd=_REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        return port_file

    def _read_port(self, port_file: Path) -> int | None:
        return int(port_file.read_text()) if port_file.exists() else None

    def _stderr_text(self) -> str:
        if self._dir is None:
            return ""
        return (self._dir / "stderr.log").read_text(errors="replace")[-2000:]

    async def start(self) -> None:
        port_file = self._spawn()
        assert self.process is not None
        deadline = time.monotonic() + self._startup_timeout
        while (port := self._read_port(port_file)) is None:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"fake Telegram process exited with {self.process.returncode}: {self._stderr_text()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake Telegram process did not start: {self._stderr_text()}")
            await asyncio.sleep(0.02)
        self.port = port
        self.control = FakeTelegramControl(self.url)

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.aclose()
            self.control = None
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def __aenter__(self) -> FakeTelegramProcess:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _write_port_file(path: str, port: int) -> None:
    # Write then rename, so a reader never sees a half-written number.
    temporary = f"{path}.tmp"
    Path(temporary).write_text(str(port))
    os.replace(temporary, path)


async def _serve_process(args: argparse.Namespace) -> None:
    api = FakeBotApi(token=args.token, max_log=args.max_log)
    if args.latency:
        api.set_latency(args.latency)
    server = InLoopServer(api.app, host=args.host, port=args.port, before_shutdown=api.begin_shutdown)
    await server.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_stop)
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    logger.info("fake Telegram Bot API listening on %s (token %s)", server.url, args.token)
    try:
        await server.wait_stopped()
    finally:
        await api.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram_api",
        description="Fake Telegram Bot API server with a JSON control API under /_fake/.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--max-log", type=int, default=None, help="keep at most about this many requests")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve_process(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
