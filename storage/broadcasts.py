"""Topic subscriptions, scheduled broadcasts and per-recipient delivery rows.

The store is the source of truth for broadcasting: timers are re-armed from it at
start-up, and a delivery row per recipient (unique on broadcast and recipient) records
where each send stands, so a restart never sends a row twice:

    queued -> sending -> sent
                      -> failed (reason) | skipped (reason)
              sending --(crash)--> in_doubt   (or back to queued if configured)
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.records import Channel


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for run_at (a series: for its next occurrence)
    RUNNING = "running"  # delivering, or waiting for quiet hours to end
    PAUSED = "paused"  # by an organizer; queued rows wait
    DONE = "done"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # missed by more than the configured limit while the bot was down


ACTIVE_STATUSES = frozenset({BroadcastStatus.SCHEDULED, BroadcastStatus.RUNNING})
FINAL_STATUSES = frozenset({BroadcastStatus.DONE, BroadcastStatus.CANCELLED, BroadcastStatus.SKIPPED})
# A broadcast whose text may still be replaced: waiting, or paused before a sender ever
# claimed it (`started_at` unset). A series never starts itself; its occurrences copy its
# text when they are created, so an edit reaches the sends still to come.
TEXT_EDITABLE_STATUSES = frozenset({BroadcastStatus.SCHEDULED, BroadcastStatus.PAUSED})


class BroadcastKind(StrEnum):
    ONCE = "once"
    SERIES = "series"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    IN_DOUBT = "in_doubt"


# Delivery reasons the code branches on; others are free text from the platform.
REASON_BLOCKED = "blocked"
REASON_UNREACHABLE = "unreachable"
REASON_OPTED_OUT = "opted_out"
REASON_CANCELLED = "cancelled"
REASON_CRASH = "crash"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast reaches. Filters combine with AND; `everyone` drops the topic
    filter. Only reachable users are ever selected.

    `program` (a member-care program's id) replaces topics and `everyone`: the workers
    holding a confirmed place in it when the broadcast runs (its day-before reminder).
    They asked for that place, so a reminder reaches them even after /stop, which is
    about announcements.
    """

    topics: tuple[str, ...] = ()
    everyone: bool = False
    provinces: tuple[str, ...] = ()
    language: str | None = None
    roles: tuple[str, ...] = ()
    program: int | None = None

    @property
    def valid(self) -> bool:
        return self.everyone or bool(self.topics) or self.program is not None

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "topics": list(self.topics),
            "everyone": self.everyone,
            "provinces": list(self.provinces),
            "language": self.language,
            "roles": list(self.roles),
        }
        if self.program is not None:  # absent otherwise: stored audiences keep their text
            doc["program"] = self.program
        return json.dumps(doc, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Audience:
        return Audience(
            topics=tuple(d.get("topics") or ()),
            everyone=bool(d.get("everyone")),
            provinces=tuple(d.get("provinces") or ()),
            language=d.get("language") or None,
            roles=tuple(d.get("roles") or ()),
            program=int(d["program"]) if d.get("program") is not None else None,
        )

    @staticmethod
    def from_json(text: str) -> Audience:
        return Audience.from_dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class NewBroadcast:
    text_vi: str
    audience: Audience
    # once: when to send (UTC); series: first occurrence, if the caller computed it.
    run_at: datetime | None
    text_en: str | None = None
    created_by: int | None = None
    photo: bytes | None = None
    photo_name: str = "photo.jpg"
    # Or a photo that exists only on a channel, by that channel's file id (an organizer
    # sent it in the chat): kept without bytes. Only "telegram" file ids can be stored.
    photo_ref: str | None = None
    photo_ref_channel: str | None = None
    cron: str | None = None  # a series when set
    starts_at: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    kind: BroadcastKind
    series_id: int | None
    created_by: int | None
    created_at: datetime
    text_vi: str
    text_en: str | None
    photo_id: int | None
    audience: Audience
    cron: str | None
    starts_at: datetime | None
    until: datetime | None
    run_at: datetime | None
    status: BroadcastStatus
    reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    audience_size: int | None
    lease_owner: str | None
    lease_until: datetime | None
    summary_sent: bool

    @property
    def is_series(self) -> bool:
        return self.kind is BroadcastKind.SERIES

    @property
    def text_editable(self) -> bool:
        """Whether nothing of it was sent, so its text may still change (the store decides
        for good, in `edit_broadcast_text`; this is for what screens offer)."""
        return self.status in TEXT_EDITABLE_STATUSES and self.started_at is None


@dataclass(frozen=True, slots=True)
class BroadcastPhoto:
    id: int
    filename: str
    data: bytes  # empty when the photo exists only as a Telegram file id
    telegram_file_id: str | None

    def available_on(self, channel: str) -> bool:
        """Whether a sender on `channel` can send this photo: from its bytes, or on
        Telegram by its file id. Elsewhere a file-id-only photo is left out (text only)."""
        return bool(self.data) or (channel == Channel.TELEGRAM and bool(self.telegram_file_id))


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """A queued delivery row with what the sender needs about its recipient."""

    delivery_id: int
    user_id: int
    channel: str
    external_id: str
    language: str
    reachable: bool
    opted_out: bool
    # The recipient's last message to the bot: Zalo OA may only answer within a window.
    last_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AudienceReach:
    """An audience counted per channel, for the organizer's preview.

    `recent` counts, per channel, those who wrote to the bot since the `seen_since`
    the caller gave (the Zalo OA's customer-service window); empty when none was given.
    """

    by_channel: dict[str, int] = field(default_factory=dict)
    recent: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_channel.values())


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivery_id: int
    status: DeliveryStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastStats:
    audience: int
    by_status: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    def count(self, status: DeliveryStatus) -> int:
        return self.by_status.get(status.value, 0)

    @property
    def sent(self) -> int:
        return self.count(DeliveryStatus.SENT)

    @property
    def failed(self) -> int:
        return self.count(DeliveryStatus.FAILED)

    @property
    def skipped(self) -> int:
        return self.count(DeliveryStatus.SKIPPED)

    @property
    def in_doubt(self) -> int:
        return self.count(DeliveryStatus.IN_DOUBT)

    @property
    def queued(self) -> int:
        return self.count(DeliveryStatus.QUEUED) + self.count(DeliveryStatus.SENDING)

    @property
    def blocked(self) -> int:
        return self.failed_by_reason.get(REASON_BLOCKED, 0)


class BroadcastStore(abc.ABC):
    """Abstract part of the store for this feature; implemented in `storage/sqlite/broadcasts.py`."""

    # -- subscriptions -----------------------------------------------------
    @abc.abstractmethod
    async def subscriptions(self, user_id: int) -> set[str]: ...

    @abc.abstractmethod
    async def subscribe(self, user_id: int, topics: Iterable[str]) -> None:
        """Add topics; subscribing to anything also lifts an opt-out."""

    @abc.abstractmethod
    async def unsubscribe(self, user_id: int, topics: Iterable[str]) -> None: ...

    @abc.abstractmethod
    async def opt_out(self, user_id: int) -> list[str]:
        """Unsubscribe from everything and leave "everyone" broadcasts; returns the topics
        the user had (kept so they can be restored)."""

    @abc.abstractmethod
    async def opt_back_in(self, user_id: int) -> list[str]:
        """Restore the topics held before the last opt-out; returns them."""

    @abc.abstractmethod
    async def is_opted_out(self, user_id: int) -> bool: ...

    # -- broadcasts --------------------------------------------------------
    @abc.abstractmethod
    async def create_broadcast(self, new: NewBroadcast) -> Broadcast: ...

    @abc.abstractmethod
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None: ...

    @abc.abstractmethod
    async def list_broadcasts(
        self,
        statuses: Iterable[BroadcastStatus] | None = None,
        *,
        limit: int = 50,
        kind: BroadcastKind | None = None,
        within_provinces: Iterable[str] | None = None,
    ) -> list[Broadcast]:
        """Newest first. With `within_provinces`, only broadcasts aimed at some of those
        provinces and no other (a broadcast without a province filter is not among them)."""

    @abc.abstractmethod
    async def get_photo(self, photo_id: int) -> BroadcastPhoto | None: ...

    @abc.abstractmethod
    async def set_photo_file_id(self, photo_id: int, channel: str, file_id: str) -> None: ...

    @abc.abstractmethod
    async def set_broadcast_status(
        self,
        broadcast_id: int,
        status: BroadcastStatus,
        *,
        reason: str | None = None,
        expect: Iterable[BroadcastStatus] | None = None,
        run_at: datetime | None = None,
        clear_run_at: bool = False,
    ) -> bool:
        """Move to `status` (only from one of `expect`, when given); returns whether it
        moved. Final statuses stamp finished_at and drop the lease; `clear_run_at` lets the
        scheduler compute a series' next occurrence afresh."""

    @abc.abstractmethod
    async def edit_broadcast_text(
        self, broadcast_id: int, text_vi: str, text_en: str | None, *, old_vi: str, old_en: str | None
    ) -> Broadcast | None:
        """Replace the texts of a broadcast nothing of which was sent (`text_editable`) and
        that still holds `old_vi`/`old_en`, the texts the edit started from ("" and None
        both mean no English); the broadcast as changed, or None when it is gone, has
        started, or holds other texts (another edit was saved since: writing over it would
        undo it unseen). One conditional write: against a sender's claim
        (`claim_broadcast`) it lands wholly before, and the send uses the new text, or not
        at all, so no recipient gets a mix of the two; of two edits from the same texts,
        one lands."""

    @abc.abstractmethod
    async def set_next_run(self, series_id: int, run_at: datetime | None) -> None:
        """A series' next occurrence; None ends the series (done)."""

    @abc.abstractmethod
    async def create_occurrence(
        self,
        series: Broadcast,
        run_at: datetime,
        *,
        status: BroadcastStatus = BroadcastStatus.SCHEDULED,
        reason: str | None = None,
    ) -> Broadcast | None:
        """One occurrence of a series; None if that occurrence already exists."""

    @abc.abstractmethod
    async def claim_broadcast(
        self,
        broadcast_id: int,
        owner: str,
        *,
        now: datetime,
        lease_until: datetime,
        steal_from: str | None = None,
    ) -> Broadcast | None:
        """Take the sending lease and mark the broadcast running. Succeeds when nobody
        holds a live lease, the lease is already `owner`'s, or its holder is `steal_from`
        (known dead). Returns the claimed broadcast or None."""

    @abc.abstractmethod
    async def renew_lease(self, broadcast_id: int, owner: str, lease_until: datetime) -> bool: ...

    @abc.abstractmethod
    async def release_broadcast(self, broadcast_id: int, owner: str) -> None: ...

    @abc.abstractmethod
    async def mark_summary_sent(self, broadcast_id: int) -> bool:
        """True the first time only: the organizer's summary is sent once."""

    # -- audience and deliveries ------------------------------------------
    @abc.abstractmethod
    async def count_audience(self, audience: Audience) -> int: ...

    @abc.abstractmethod
    async def audience_by_channel(self, audience: Audience, *, seen_since: datetime | None = None) -> AudienceReach:
        """`count_audience` per channel; with `seen_since`, also how many per channel
        wrote to the bot at or after it."""

    @abc.abstractmethod
    async def materialize_audience(self, broadcast_id: int) -> int:
        """Create a queued delivery row per recipient, once; returns the audience size."""

    @abc.abstractmethod
    async def recover_deliveries(self, broadcast_id: int, *, resend: bool) -> int:
        """Rows left 'sending' by a crash become in doubt (or queued again if `resend`)."""

    @abc.abstractmethod
    async def queued_deliveries(
        self, broadcast_id: int, *, after_id: int = 0, limit: int, before_id: int | None = None
    ) -> list[DeliveryTarget]:
        """Queued rows with id > after_id, in id order; with `before_id`, rows with id <
        before_id, highest first (a second process works through the rows from the other
        end, so two senders seldom reach for the same row)."""

    @abc.abstractmethod
    async def journal_deliveries(
        self,
        broadcast_id: int,
        claim: Sequence[int],
        results: Sequence[DeliveryResult],
    ) -> set[int]:
        """Record `results` of rows that were sending, then mark the queued rows in `claim`
        sending (attempts + 1). Returns the ids actually claimed; a row no longer queued
        (cancelled, or claimed by another sender) is not."""

    @abc.abstractmethod
    async def requeue_failed(self, broadcast_id: int) -> int:
        """Queue failed rows again for "resend to failed only" (not users still blocked)."""

    @abc.abstractmethod
    async def skip_queued(self, broadcast_id: int, reason: str) -> int: ...

    @abc.abstractmethod
    async def delivery_stats(self, broadcast_id: int) -> BroadcastStats: ...

    @abc.abstractmethod
    async def any_sending(self, broadcast_id: int) -> bool:
        """Whether a row of the broadcast is in flight: one index probe, cheap enough to
        poll while another process finishes its sends (a full delivery_stats is not, at a
        million rows)."""

    @abc.abstractmethod
    async def delivery_statuses(self, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
        """user id -> (status, reason), for reports and tests."""
