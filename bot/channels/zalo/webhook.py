"""Zalo OA webhooks: check the `X-ZEvent-Signature` and read events into `OAEvent`.

The signature is undocumented officially (reference section 2.3, [UNCONFIRMED]).
What is implemented is the community consensus, which matches the official Java
SDK's `MacUtils.buildMac`: plain SHA-256 (not HMAC) over
`app_id + raw body + timestamp + OA secret key`, with app_id and timestamp taken
from the body's JSON, sent as `mac=<hex>` (the bare hex is accepted too). Check it
against one real sandbox event before go-live; the OA Secret Key (not the App
Secret) is a parameter so a wrong guess is a configuration change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.channels.zalo.errors import MalformedPayload

SIGNATURE_HEADER = "X-ZEvent-Signature"
# Zalo adds this header when it redelivers a body; the msg_id stays the same.
RETRY_HEADER = "num_retry"

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# The formulas real code uses for the signature: sha256(<id> + raw body + timestamp + key).
# "app_id" is the official Java SDK's `MacUtils.buildMac`; "oa_id" is a variant
# reported as working production code. `[zalo] oa_signature` picks one.
SIGNATURE_FORMULAS = ("app_id", "oa_id")
DEFAULT_SIGNATURE_FORMULA = "app_id"


def load_oa_body(raw_body: bytes) -> dict[str, Any]:
    """The webhook body as a JSON object, or MalformedPayload (never another exception)."""
    try:
        body = json.loads(raw_body)
    except ValueError as exc:
        raise MalformedPayload("body is not JSON") from exc
    except RecursionError as exc:
        raise MalformedPayload("body is nested too deep") from exc
    if not isinstance(body, dict):
        raise MalformedPayload("body is not a JSON object")
    return body


def carries_event(body: Mapping[str, Any]) -> bool:
    """Whether a body names an event at all (Zalo's URL check posts `{}`)."""
    return _scalar(body.get("event_name")) is not None


def oa_signature(formula: str, raw_body: bytes, body: Mapping[str, Any], key: str) -> str | None:
    """The hex signature `formula` gives for this body and key, or None if a field is missing."""
    timestamp = _scalar(body.get("timestamp"))
    prefix = _scalar(body.get("app_id")) if formula == "app_id" else _oa_id_of(body)
    if not timestamp or not prefix or not key:
        return None
    # Hash the bytes as received: re-serialised JSON would differ in spacing and escapes.
    return hashlib.sha256(prefix.encode() + raw_body + timestamp.encode() + key.encode()).hexdigest()


def _given_signature(header: str | None) -> str | None:
    if not header:
        return None
    given = header.strip()
    if given[:4].lower() == "mac=":
        given = given[4:].strip()
    return given.lower() if _HEX_SHA256.fullmatch(given) else None


def verify_oa_signature(
    raw_body: bytes,
    header: str | None,
    app_id: str,
    oa_secret_key: str,
    *,
    formula: str = DEFAULT_SIGNATURE_FORMULA,
) -> bool:
    """True only for a well-formed body of our app whose signature matches; never raises."""
    given = _given_signature(header)
    if given is None or not app_id or not oa_secret_key:
        return False
    try:
        body = load_oa_body(raw_body)
    except MalformedPayload:
        return False
    if _scalar(body.get("app_id")) != app_id:
        return False
    expected = oa_signature(formula, raw_body, body, oa_secret_key)
    return expected is not None and hmac.compare_digest(expected, given)


def matching_signatures(raw_body: bytes, header: str | None, keys: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every (formula, key name) under which `header` is this body's signature.

    For diagnosis only (the refusal log, `unionbot zalo check-signature`): the webhook
    itself accepts the configured formula with the OA secret key and nothing else.
    """
    given = _given_signature(header)
    if given is None:
        return []
    try:
        body = load_oa_body(raw_body)
    except MalformedPayload:
        return []
    found = []
    for formula in SIGNATURE_FORMULAS:
        for name, key in keys.items():
            expected = oa_signature(formula, raw_body, body, key) if key else None
            if expected is not None and hmac.compare_digest(expected, given):
                found.append((formula, name))
    return found


def _oa_id_of(body: Mapping[str, Any]) -> str | None:
    """The OA's own id: `oa_id` (follow events), else whichever side of the message is the OA."""
    oa_id = _scalar(body.get("oa_id"))
    if oa_id:
        return oa_id
    event_name = _scalar(body.get("event_name")) or ""
    oa_sent = event_name.startswith("oa_send_") or event_name in ("user_received_message", "user_seen_message")
    return _nested_id(body, "sender" if oa_sent else "recipient")


class OAEventKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    # Stickers, links, files, GIFs, audio, video, locations, business cards: the bot
    # reads none of them, but a link often carries the worker's words in message.text.
    MEDIA = "media"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    RECEIVED = "received"  # delivery receipt for a message the OA sent
    SEEN = "seen"  # read receipt for messages the OA sent
    UNKNOWN = "unknown"


_KIND_BY_EVENT = {
    "user_send_text": OAEventKind.TEXT,
    "user_send_image": OAEventKind.IMAGE,
    **{
        f"user_send_{kind}": OAEventKind.MEDIA
        for kind in (
            "sticker",
            "link",
            "file",
            "gif",
            "audio",
            "video",
            "location",
            "business_card",
        )
    },
    "follow": OAEventKind.FOLLOW,
    "unfollow": OAEventKind.UNFOLLOW,
    "user_received_message": OAEventKind.RECEIVED,
    "user_seen_message": OAEventKind.SEEN,
}


@dataclass(frozen=True, slots=True)
class OAEvent:
    """One OA webhook event. Text and image links stay out of repr, hence out of logs."""

    event_name: str
    kind: OAEventKind
    # The person, whichever side of the envelope they are on: the sender of user_send_*,
    # the follower of follow/unfollow, the recipient of receipts and oa_send_* echoes.
    # Use it as recipient.user_id when replying.
    user_id: str | None
    sender_id: str | None  # sender.id exactly as sent (the OA itself on receipts)
    oa_id: str | None = None
    app_id: str | None = None
    msg_id: str | None = None
    msg_ids: tuple[str, ...] = ()  # user_seen_message lists every message seen
    text: str = field(default="", repr=False)  # message text, or the caption of an image
    image_urls: tuple[str, ...] = field(default=(), repr=False)
    quote_msg_id: str | None = None
    timestamp_ms: int | None = None

    @property
    def dedup_key(self) -> str:
        """Zalo redelivers the same body on retry; handle each key once."""
        if self.msg_id:
            return f"{self.event_name}:{self.msg_id}"
        if self.msg_ids:
            return f"{self.event_name}:{','.join(self.msg_ids)}"
        return f"{self.event_name}:{self.user_id}:{self.timestamp_ms}"


def parse_oa_event(obj: Mapping[str, Any] | bytes | str) -> OAEvent:
    """Read a webhook body (parsed or raw). Raises MalformedPayload without an event_name."""
    if isinstance(obj, bytes | str):
        try:
            obj = json.loads(obj)
        except (ValueError, RecursionError) as exc:
            raise MalformedPayload("body is not JSON") from exc
    if not isinstance(obj, Mapping):
        raise MalformedPayload("body is not a JSON object")
    event_name = _scalar(obj.get("event_name"))
    if not event_name:
        raise MalformedPayload("body has no event_name")

    kind = _KIND_BY_EVENT.get(event_name, OAEventKind.UNKNOWN)
    sender_id = _nested_id(obj, "sender")
    recipient_id = _nested_id(obj, "recipient")
    oa_sent = kind in (OAEventKind.RECEIVED, OAEventKind.SEEN) or event_name.startswith("oa_send_")
    if kind in (OAEventKind.FOLLOW, OAEventKind.UNFOLLOW):
        user_id = _nested_id(obj, "follower")
    elif oa_sent:
        user_id = recipient_id
    else:
        user_id = sender_id
    oa_id = _scalar(obj.get("oa_id")) or (sender_id if oa_sent else recipient_id)

    message = obj.get("message")
    if not isinstance(message, Mapping):
        message = {}
    text = message.get("text")
    raw_ids = message.get("msg_ids")
    msg_ids = tuple(filter(None, map(_scalar, raw_ids))) if isinstance(raw_ids, list) else ()
    timestamp = _scalar(obj.get("timestamp"))
    return OAEvent(
        event_name=event_name,
        kind=kind,
        user_id=user_id,
        sender_id=sender_id,
        oa_id=oa_id,
        app_id=_scalar(obj.get("app_id")),
        msg_id=_scalar(message.get("msg_id")),
        msg_ids=msg_ids,
        text=text if isinstance(text, str) else "",
        image_urls=_image_urls(message.get("attachments")),
        quote_msg_id=_scalar(message.get("quote_msg_id")),
        timestamp_ms=int(timestamp) if timestamp and timestamp.isdigit() else None,
    )


def _image_urls(attachments: Any) -> tuple[str, ...]:
    if not isinstance(attachments, list):
        return ()
    urls = []
    for item in attachments:
        if not isinstance(item, Mapping) or item.get("type") != "image":
            continue
        payload = item.get("payload")
        url = payload.get("url") if isinstance(payload, Mapping) else None
        if isinstance(url, str) and url:
            urls.append(url)
    return tuple(urls)


def _nested_id(obj: Mapping[str, Any], key: str) -> str | None:
    inner = obj.get(key)
    return _scalar(inner.get("id")) if isinstance(inner, Mapping) else None


def _scalar(value: Any) -> str | None:
    # Zalo sends ids and timestamps as strings; accept integers, but not floats or
    # booleans, whose text form would not match the bytes that were signed.
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
