"""The store interface: everything the handlers and the bot may ask of persistence.

`CoreStore` holds users, roles, audit, conversation state; each feature declares its own
abstract part in its own module (`storage/questions.py`, `storage/signups.py`,
`storage/broadcasts.py`, `storage/zalo_tokens.py`), and `Store` is all of them. Backends (SQLite now, PostgreSQL
later) implement `Store`; the contract tests run unchanged against each backend.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any, ClassVar, Self

from storage.records import AuditEntry, ConversationState, Role, User


class StoreError(Exception):
    """A persistence failure the caller cannot fix by changing its input."""


class StoreOpenError(StoreError):
    """The database could not be opened (missing rights, not a database, corrupt...)."""


class CoreStore(abc.ABC):
    # Whether other processes may use the same database at once (and so share the
    # platforms' send limits with this one): PostgreSQL yes, SQLite's lone process no.
    shared_by_processes: ClassVar[bool] = False

    # -- lifecycle ---------------------------------------------------------
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def schema_version(self) -> int: ...

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- leadership: one process of several runs the schedules ------------
    @abc.abstractmethod
    async def hold_leadership(self, role: str) -> bool:
        """Become, or stay, the one process that runs `role` (the scheduler); True while
        this process holds it. Called every few seconds by one task: each call also checks
        that the hold is still alive, and a holder that died frees it for the others."""

    @abc.abstractmethod
    async def release_leadership(self, role: str) -> None:
        """Give `role` up (at shutdown), so another process takes it over at once."""

    # -- send rate shared by processes --------------------------------------
    @abc.abstractmethod
    async def reserve_send_slots(self, key: str, per_second: float, count: int = 1) -> float:
        """Reserve the next `count` send slots for `key` (a hash naming one bot token,
        never the token) at `per_second` slots per second, over every process on the
        database; the seconds from now until the first slot (0 or less: send now). The
        others follow 1/per_second apart, and the next reservation, by whatever process,
        starts after the last of them. A backend no other process shares returns 0: its
        process's own limiter already paces every send."""

    @abc.abstractmethod
    async def pause_send_slots(self, key: str, seconds: float) -> None:
        """The platform said "retry after `seconds`" to one process: no slot for `key` is
        handed out, to any process, before then. A lone process pauses its own limiter."""

    # -- users -------------------------------------------------------------
    @abc.abstractmethod
    async def touch_user(self, channel: str, external_id: str, *, language: str) -> User:
        """Return the user, creating it with `language` if new.

        Marks the user seen now and reachable again: a worker who writes after
        blocking the bot wants to hear from it again.
        """

    @abc.abstractmethod
    async def get_user(self, user_id: int) -> User | None: ...

    @abc.abstractmethod
    async def find_user(self, channel: str, external_id: str) -> User | None: ...

    @abc.abstractmethod
    async def set_language(self, user_id: int, language: str) -> None: ...

    @abc.abstractmethod
    async def set_role(self, user_id: int, role: Role) -> None: ...

    @abc.abstractmethod
    async def set_referral_code(self, user_id: int, code: str | None) -> None: ...

    @abc.abstractmethod
    async def set_reachable(self, user_id: int, reachable: bool) -> None: ...

    @abc.abstractmethod
    async def count_users(self) -> int: ...

    @abc.abstractmethod
    async def forget_user(self, user_id: int) -> None:
        """Erase the user and everything stored about them (sign-up, questions,
        subscriptions, conversation state), leaving no readable trace in the file."""

    # -- audit log ---------------------------------------------------------
    @abc.abstractmethod
    async def audit(
        self, actor_id: int | None, action: str, target: str, details: dict[str, Any] | None = None
    ) -> None: ...

    @abc.abstractmethod
    async def list_audit(self, *, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""

    # -- durable conversation state (multi-step forms survive restarts) ----
    @abc.abstractmethod
    async def get_state(self, user_id: int) -> ConversationState | None: ...

    @abc.abstractmethod
    async def set_state(self, user_id: int, flow: str, step: str, data: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def clear_state(self, user_id: int) -> None: ...

    @abc.abstractmethod
    async def purge_states(self, *, updated_before: datetime) -> int:
        """Erase every conversation state, whatever its flow, left alone since the date
        (a remembered question, a draft, a note in progress); and from every other state,
        the form it holds set aside (`resume`, handlers/forms.py) if that last moved before
        the date, however recently the state holding it was written: the Q&A rewrites its
        state with every question, and a sign-up form held there lived on. The step holding
        it stays. How many states were erased or had a form taken out."""

    # -- at-least-once delivery from platforms -----------------------------
    @abc.abstractmethod
    async def mark_processed(self, channel: str, key: str) -> bool:
        """Record an inbound update id; False if it was seen before (a redelivery)."""


from storage.broadcasts import BroadcastStore  # noqa: E402
from storage.care import CareStore  # noqa: E402
from storage.console import ConsoleStore  # noqa: E402
from storage.inbound import InboundJournalStore  # noqa: E402
from storage.listening import ListeningStore  # noqa: E402
from storage.questions import QuestionStore  # noqa: E402
from storage.signups import SignupStore  # noqa: E402
from storage.zalo_tokens import ZaloTokenStore  # noqa: E402


class Store(
    CoreStore,
    QuestionStore,
    SignupStore,
    BroadcastStore,
    ZaloTokenStore,
    InboundJournalStore,
    ListeningStore,
    CareStore,
    ConsoleStore,
    abc.ABC,
):
    """Everything persistence offers; what handlers and the bot depend on."""
