"""Channel-neutral message types.

A channel adapter turns a platform update into an `Inbound` and renders each `Reply`
for its platform. Handlers only ever see these types, so Telegram, Zalo and the
terminal chat share every feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# Storage records a user's channel; handlers and channels name it from here.
from storage.records import Channel as Channel


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    # A sticker, photo, voice note...: anything that is not text where text is expected.
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class InboundPhoto:
    """A photo the person sent. `file_ref` is the platform's id of the file on the channel
    the message came from (Telegram's file_id): opaque to handlers, only that channel's
    adapter can turn it back into an image."""

    file_ref: str
    # The caption typed with it. Kept here, not in `Inbound.text`, so that flows reading
    # text without checking the kind (a question, an answer) do not take a caption for
    # a message whose photo they would drop.
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    channel: str  # a Channel (tests use names of their own)
    user_id: str  # the platform's id of the person, as text
    kind: InboundKind
    text: str = ""  # message text (TEXT), or the raw text of a command
    command: str = ""  # without the slash, lower-case: "start"
    args: tuple[str, ...] = ()
    payload: str = ""  # button payload as the platform returned it: never trusted
    language: str | None = None  # the platform's hint (Telegram language_code)
    chat_id: str | None = None  # where to answer, when it differs from user_id
    display_name: str | None = None  # never stored or logged: only for greetings
    # A photo sent with the message. The kind stays UNSUPPORTED and `text` empty, so
    # handlers that expect text behave as before; only flows that ask for a photo read it.
    photo: InboundPhoto | None = None

    @staticmethod
    def parse_text(
        channel: str,
        user_id: str,
        text: str,
        *,
        language: str | None = None,
        chat_id: str | None = None,
    ) -> Inbound:
        """Build an Inbound from typed text, recognising `/command args`."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            head, *rest = stripped[1:].split()
            # Telegram appends @botname in groups: /start@unionbot
            command = head.split("@", 1)[0].lower()
            return Inbound(
                channel,
                user_id,
                InboundKind.COMMAND,
                text=text,
                command=command,
                args=tuple(rest),
                language=language,
                chat_id=chat_id,
            )
        return Inbound(channel, user_id, InboundKind.TEXT, text=text, language=language, chat_id=chat_id)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str  # short, <= 64 bytes (Telegram's callback_data limit)
    # On channels that list buttons as numbered choices (Zalo, the console), whether
    # typing the label's words presses it. False for buttons a typed word must never
    # press by accident: a form's cancel ("Huy" is a name), "stop announcements"
    # ("dung" may be "đúng"). Their number still works.
    typed: bool = True


@dataclass(frozen=True, slots=True)
class Photo:
    data: bytes
    filename: str = "image.png"


@dataclass(frozen=True, slots=True)
class Document:
    data: bytes
    filename: str
    mime_type: str = "application/octet-stream"


@dataclass(slots=True)
class Reply:
    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)  # rows of buttons
    photo: Photo | None = None
    # A photo the current channel already holds, by its file reference (an
    # `InboundPhoto.file_ref` from the same channel): sent like `photo`, without bytes.
    # Channels that cannot resolve it send the text only.
    photo_ref: str | None = None
    document: Document | None = None
    # Replace the message whose button was pressed instead of sending a new one,
    # where the channel can (Telegram editMessageText); others send a new message.
    edit: bool = False
    # Deliver to another user (an organizer's answer reaching a worker, a sign-up alert).
    to_channel: str | None = None
    to_user: str | None = None
    # Shown to the current user when a reply addressed to someone else cannot be
    # delivered (blocked the bot, outside Zalo's 7-day window...).
    on_failure: Reply | None = None
    # For a reply to another user (`to_user`): sent after this message's own replies, in
    # the background, never delaying the sender's conversation; for notices whose timing
    # must not tell the sender anything. Channels ignore `on_failure` on it: by the time
    # it fails the sender has moved on, and telling them would tell what the timing hid.
    detached: bool = False
    # A typed number answers this step itself ("about how many workers?"): channels that
    # list buttons as numbered choices letter them instead (a, b, c) and pass a typed
    # number on as text, or "6" (six workers) would press the sixth choice, Cancel.
    numbers_typed: bool = False

    @property
    def sent_detached(self) -> bool:
        """Whether a channel sends this in the background (`detached` applies to replies
        to another user only)."""
        return self.detached and self.to_user is not None


# Sends a reply to (channel, external user id); False when it could not be delivered.
Deliver = Callable[[str, str, "Reply"], Awaitable[bool]]


class StatusMessage(Protocol):
    """A message sent once and then edited in place as long work goes on (an export's
    progress). On a channel that cannot edit what it sent, `edit` does nothing: the
    person gets the first text only, never a stream of new messages."""

    async def edit(self, text: str) -> None: ...


# Sends `text` to (channel, external user id) as a status message; None when it could
# not be delivered.
OpenStatus = Callable[[str, str, str], Awaitable[StatusMessage | None]]
