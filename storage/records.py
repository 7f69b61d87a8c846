"""Record types shared by every store backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    """Where a person talks to the bot. The value is what the database stores; a StrEnum
    equals its string, so rows written before it existed, and tests' own names, still match."""

    TELEGRAM = "telegram"
    ZALO_OA = "zalo_oa"  # Zalo Official Account
    ZALO_BOT = "zalo_bot"  # Zalo Bot platform
    CONSOLE = "console"  # the terminal chat (`unionbot chat`)


class Role(StrEnum):
    WORKER = "worker"
    VOLUNTEER = "volunteer"
    ORGANIZER = "organizer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.WORKER: 0, Role.VOLUNTEER: 1, Role.ORGANIZER: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class User:
    id: int
    channel: str
    external_id: str
    language: str
    role: Role
    referral_code: str | None
    created_at: datetime
    last_seen_at: datetime
    reachable: bool


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConversationState:
    user_id: int
    flow: str
    step: str
    data: dict[str, Any]
    updated_at: datetime
