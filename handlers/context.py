"""What a handler gets: the services (store, catalog, settings) and the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handlers.i18n import Catalog
from handlers.types import Button, Inbound, Reply
from storage import Role, Store, User

if TYPE_CHECKING:  # the features import Ctx from here; these only name their types
    from collections.abc import Awaitable

    from handlers.broadcasts.options import BroadcastControl, BroadcastOptions
    from handlers.join.export import Exporter
    from handlers.listening.options import ListeningOptions
    from handlers.rights.chat import RightsService
    from handlers.router import Router
    from handlers.types import Deliver, OpenStatus


@dataclass(frozen=True, slots=True)
class Settings:
    """The part of the configuration handlers need; no secrets."""

    default_language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    # (channel, external id) pairs that are admins whatever the store says.
    admins: frozenset[tuple[str, str]] = frozenset()
    hotline: str = ""
    office: str = ""
    bot_username: str | None = None
    flood_messages: int = 20
    flood_window_seconds: float = 5.0
    answer_within_hours: int = 48
    # Sign-ups: months kept after the last contact (told in the consent text), and the
    # Telegram chats alerted of new sign-ups, as (province id, chat ids) pairs.
    join_retention_months: int = 24
    join_alert_chats: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # The federation's own knowledge files, on top of the packaged ones (None: none).
    rights_extra_dir: str | None = None


@dataclass(slots=True)
class Services:
    """Everything handlers use besides the request, built by the composition root
    (bot/app.py). The optional ones have a sensible default when a test or a CLI leaves
    them out (see each feature's accessor)."""

    store: Store
    catalog: Catalog
    settings: Settings
    # The knowledge base and its search index (None: the packaged one, on first use).
    rights: RightsService | None = None
    # The running bot builds it in a thread while its channels already poll: handlers
    # that need it wait for this (see handlers.rights.chat.ready); the rest answer at once.
    rights_loading: Awaitable[RightsService] | None = None
    # Broadcast topics and quiet hours; the delivery service's hook when it runs here.
    broadcast_options: BroadcastOptions | None = None
    broadcast_control: BroadcastControl | None = None
    # Polls' k-anonymity and retention, reports' limits and alert thresholds.
    listening_options: ListeningOptions | None = None
    # Sign-up exports in a worker process, and a way to reach a user on any channel.
    exporter: Exporter | None = None
    deliver: Deliver | None = None
    # A message edited in place while long work runs (an export's progress).
    open_status: OpenStatus | None = None
    # The web console's public base URL, set once the web server is up.
    console_url: str | None = None


@dataclass(slots=True)
class Ctx:
    services: Services
    inbound: Inbound
    user: User
    role: Role
    args: tuple[str, ...] = ()  # command args, or button payload parts after the prefix
    # The language of this one reply when it differs from the user's setting (a question
    # written in English is answered in English); the stored setting is not changed.
    reply_lang: str | None = None
    # The route table, for the few handlers that look across features (/cancel, the menu).
    router: Router | None = None

    @property
    def lang(self) -> str:
        return self.reply_lang or self.user.language

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def t(self, key: str, /, **kwargs: Any) -> str:
        return self.services.catalog.t(self.lang, key, **kwargs)

    def back_button(self) -> list[Button]:
        return [Button(self.t("menu.back"), "menu:main")]

    def reply(self, key: str, /, *, back: bool = True, **kwargs: Any) -> Reply:
        """A catalog text with the usual 'back to menu' button."""
        return Reply(self.t(key, **kwargs), buttons=[self.back_button()] if back else [])


def effective_role(user: User, settings: Settings) -> Role:
    if (user.channel, user.external_id) in settings.admins:
        return Role.ADMIN
    return user.role
