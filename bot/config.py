"""Configuration: `config.toml` read once into typed sections, secrets from the environment.

An invalid value stops start-up with `section.key: what is wrong`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.i18n import LANGUAGES
from handlers.join.provinces import get_province

DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"
# Zalo's real hosts; the ZALO_*_BASE_URL variables point them elsewhere (tests, proxies).
DEFAULT_ZALO_BOT_API = "https://bot-api.zaloplatforms.com"
DEFAULT_ZALO_OPENAPI = "https://openapi.zalo.me"
DEFAULT_ZALO_OAUTH = "https://oauth.zaloapp.com"


class ConfigError(Exception):
    """A user error in configuration; the message names `section.key`."""


def _from_env(var: str, default: str | None = None, *, secret: bool = False) -> Any:
    """A field set only from the environment variable `var`, never from the file; a
    secret one is kept out of repr, so a logged config leaks nothing."""
    return field(default=default, repr=not secret, metadata={"env": var})


@dataclass(frozen=True)
class BotSection:
    default_language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: str = "INFO"


@dataclass(frozen=True)
class UnionSection:
    hotline: str = ""
    office: str = ""


@dataclass(frozen=True)
class StorageSection:
    path: str = "data/unionbot.sqlite3"
    # A database URL (postgresql://...) instead of `path`; UNIONBOT_DB overrides both.
    url: str = ""
    # PostgreSQL: connections each process keeps at most (updates queue beyond that).
    pool_size: int = 10


@dataclass(frozen=True)
class ServerSection:
    host: str = "127.0.0.1"
    port: int = 8080
    # Largest request body any webhook reads, in KiB; bigger ones get 413 unread.
    max_body_kib: int = 256
    # The address organizers open the web console at (behind a proxy: its https URL);
    # empty: http://host:port.
    public_url: str = ""

    @property
    def max_body_bytes(self) -> int:
        return self.max_body_kib * 1024


@dataclass(frozen=True)
class TelegramSection:
    mode: str = "polling"
    webhook_url: str = ""
    webhook_path: str = "/telegram/webhook"
    admins: tuple[int, ...] = ()
    token: str | None = _from_env("TELEGRAM_BOT_TOKEN", secret=True)
    api_base_url: str = _from_env("TELEGRAM_API_BASE_URL", DEFAULT_TELEGRAM_API)
    webhook_secret: str | None = _from_env("TELEGRAM_WEBHOOK_SECRET", secret=True)

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def file_base_url(self) -> str:
        # PTB wants the file endpoint too: ".../bot" -> ".../file/bot"
        base = self.api_base_url.rstrip("/")
        head, _, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if head else base


@dataclass(frozen=True)
class LimitsSection:
    flood_messages: int = 20
    flood_window_seconds: float = 5.0


@dataclass(frozen=True)
class RightsSection:
    # Directory of extra or overriding knowledge-base entries (a federation's own).
    extra_dir: str = ""
    # How long a worker should expect to wait for an officer's answer, in hours.
    answer_within_hours: int = 48


@dataclass(frozen=True)
class JoinSection:
    # Sign-ups are kept this many months after the last contact, then erased.
    retention_months: int = 24
    # province id -> Telegram chat ids that get new sign-up alerts.
    alert_chats: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ListeningSection:
    """Quick polls and anonymous workplace reports."""

    # Breakdown cells with fewer respondents are shown as "< min_group" (k-anonymity).
    min_group: int = 5
    # Days after a poll closes that answers stay linked to people; then only counts.
    answer_retention_days: int = 30
    # Early warning: this many reports on one company and category within the window...
    alert_threshold: int = 3
    alert_window_days: int = 7
    # ...or an estimate of at least this many affected workers.
    alert_workers: int = 50
    # Reports one person may send a day.
    reports_per_day: int = 3
    # Days the reporter's keyed hash is kept for that limit, then dropped.
    report_hash_days: int = 7
    # The key of the reporter hash.
    report_salt: str | None = _from_env("UNIONBOT_REPORT_SALT", secret=True)


@dataclass(frozen=True)
class TopicConfig:
    id: str
    name_vi: str
    name_en: str
    description_vi: str = ""
    description_en: str = ""


@dataclass(frozen=True)
class BroadcastSection:
    quiet_start: str = "21:00"
    quiet_end: str = "07:00"
    # Messages per second per channel; Telegram allows about 30 to different users.
    telegram_rate: float = 30.0
    # Telegram paid broadcasts (allow_paid_broadcast) up to 1000/s, billed in Stars.
    paid_broadcast: bool = False
    # A send missed while the bot was down is still sent if it is at most this old.
    missed_limit_hours: float = 12.0
    # Rows left "sending" by a crash: "leave" (report as in doubt) or "resend".
    in_doubt: str = "leave"
    max_attempts: int = 5
    topics: tuple[TopicConfig, ...] = ()


@dataclass(frozen=True)
class ZaloSection:
    """Zalo's two products: the Bot platform (static token) and the Official Account API."""

    # Bot platform: "polling" or "webhook" (webhook needs bot_webhook_url and a secret).
    bot_mode: str = "polling"
    bot_webhook_url: str = ""
    # Seconds Zalo holds a getUpdates long poll open when nothing arrives.
    bot_poll_timeout: int = 30
    # OA customer-service messages reach only workers who wrote within this many days.
    oa_window_days: int = 7
    # Zalo's night (local time): no broadcast goes out on Zalo inside it.
    night_start: str = "22:00"
    night_end: str = "06:00"
    # OA broadcast messages per second (both Zalo products are paced by the broadcast
    # engine). Zalo allows about 4,000 requests a minute per app (~66/s) shared with
    # replies and token calls; 10/s leaves room for both.
    oa_rate: float = 10.0
    # Which formula signs OA webhooks: sha256(<app_id or oa_id> + body + timestamp + OA
    # secret key). Zalo documents neither; "app_id" is the official Java SDK's.
    oa_signature: str = "app_id"
    # Signed OA events dated further than this from now (either side) are refused, so an
    # old captured body cannot be replayed once its dedupe key has been pruned.
    oa_event_window_minutes: int = 15
    # Secrets and hosts come from the environment; behaviour is in the file.
    bot_token: str | None = _from_env("ZALO_BOT_TOKEN", secret=True)
    bot_api_base_url: str = _from_env("ZALO_BOT_API_BASE_URL", DEFAULT_ZALO_BOT_API)
    bot_webhook_secret: str | None = _from_env("ZALO_BOT_WEBHOOK_SECRET", secret=True)
    oa_app_id: str | None = _from_env("ZALO_OA_APP_ID")
    oa_app_secret: str | None = _from_env("ZALO_OA_APP_SECRET", secret=True)
    oa_secret_key: str | None = _from_env("ZALO_OA_SECRET_KEY", secret=True)
    oa_access_token: str | None = _from_env("ZALO_OA_ACCESS_TOKEN", secret=True)
    oa_refresh_token: str | None = _from_env("ZALO_OA_REFRESH_TOKEN", secret=True)
    openapi_base_url: str = _from_env("ZALO_OPENAPI_BASE_URL", DEFAULT_ZALO_OPENAPI)
    oauth_base_url: str = _from_env("ZALO_OAUTH_BASE_URL", DEFAULT_ZALO_OAUTH)

    @property
    def bot_enabled(self) -> bool:
        return bool(self.bot_token)

    @property
    def oa_enabled(self) -> bool:
        # The token pair is not required here: after the first run it lives in the store.
        # Nor is the OA secret key: Zalo shows it only after the webhook URL is saved,
        # so without it the channel runs in set-up mode (see `oa_setup_mode`).
        return bool(self.oa_app_id and self.oa_app_secret)

    @property
    def oa_setup_mode(self) -> bool:
        """The OA channel answers Zalo's URL check but refuses every event."""
        return self.oa_enabled and not self.oa_secret_key

    @property
    def needs_web_server(self) -> bool:
        return self.oa_enabled or (self.bot_enabled and self.bot_mode == "webhook")


@dataclass(frozen=True)
class Config:
    bot: BotSection = field(default_factory=BotSection)
    union: UnionSection = field(default_factory=UnionSection)
    storage: StorageSection = field(default_factory=StorageSection)
    server: ServerSection = field(default_factory=ServerSection)
    telegram: TelegramSection = field(default_factory=TelegramSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    rights: RightsSection = field(default_factory=RightsSection)
    join: JoinSection = field(default_factory=JoinSection)
    broadcast: BroadcastSection = field(default_factory=BroadcastSection)
    zalo: ZaloSection = field(default_factory=ZaloSection)
    listening: ListeningSection = field(default_factory=ListeningSection)
    source: Path | None = None

    @property
    def needs_web_server(self) -> bool:
        return (self.telegram.enabled and self.telegram.mode == "webhook") or self.zalo.needs_web_server


def _file_type(hint: Any) -> type | tuple[type, ...]:
    """The TOML value type(s) a field of type `hint` accepts."""
    origin = get_origin(hint) or hint
    if origin is float:
        return (int, float)  # `rate = 30` means 30.0
    if origin is tuple:
        return list  # TOML has arrays; the section keeps a tuple
    return origin  # str, int, bool or dict: the class itself


def _file_keys(section: type) -> dict[str, type | tuple[type, ...]]:
    hints = get_type_hints(section)
    return {f.name: _file_type(hints[f.name]) for f in fields(section) if "env" not in f.metadata}


# section -> key -> expected type(s), read off the dataclasses; anything else in the file
# is a typo worth reporting. Fields set from the environment are not file keys.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    name: _file_keys(section) for name, section in get_type_hints(Config).items() if name != "source"
}
_TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def load_config(path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    explicit = path is not None or "UNIONBOT_CONFIG" in env
    path = path or Path(env.get("UNIONBOT_CONFIG") or "config.toml")
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    elif explicit:
        raise ConfigError(f"{path}: configuration file not found")
    return _build(raw, env, path if path.exists() else None)


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    schema = _SCHEMA[name]
    for key, val in value.items():
        if key not in schema:
            raise ConfigError(f"{name}.{key}: unknown key")
        want = schema[key]
        # bool is an int in Python; a port of `true` is still a mistake.
        if isinstance(val, bool) != (want is bool) or not isinstance(val, want):
            names = want.__name__ if isinstance(want, type) else " or ".join(t.__name__ for t in want)
            raise ConfigError(f"{name}.{key}: must be a {names}, got {val!r}")
    return value


def _build(raw: dict[str, Any], env: dict[str, str], source: Path | None) -> Config:
    for name in raw:
        if name not in _SCHEMA:
            raise ConfigError(f"{name}: unknown section")
    bot = BotSection(**_section(raw, "bot"))
    if bot.default_language not in LANGUAGES:
        raise ConfigError(f"bot.default_language: must be one of {', '.join(LANGUAGES)}")
    try:
        ZoneInfo(bot.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"bot.timezone: unknown time zone {bot.timezone!r}") from None
    if bot.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("bot.log_level: must be DEBUG, INFO, WARNING or ERROR")

    storage = StorageSection(**_section(raw, "storage"))
    if storage.url.strip():
        # One place to read the location from: `path` holds whichever was given.
        storage = dataclasses.replace(storage, path=storage.url.strip())
    if env.get("UNIONBOT_DB"):
        storage = dataclasses.replace(storage, path=env["UNIONBOT_DB"])
    if not storage.path.strip():
        raise ConfigError("storage.path: must not be empty")
    if not 1 <= storage.pool_size <= 200:
        raise ConfigError("storage.pool_size: must be between 1 and 200")

    server_raw = dict(_section(raw, "server"))
    if env.get("UNIONBOT_HTTP_HOST"):
        server_raw["host"] = env["UNIONBOT_HTTP_HOST"]
    if env.get("UNIONBOT_HTTP_PORT"):
        try:
            server_raw["port"] = int(env["UNIONBOT_HTTP_PORT"])
        except ValueError:
            raise ConfigError("server.port: UNIONBOT_HTTP_PORT must be a number") from None
    server = ServerSection(**server_raw)
    if not 0 <= server.port <= 65535:
        raise ConfigError(f"server.port: must be between 0 and 65535, got {server.port}")
    if not 16 <= server.max_body_kib <= 4096:
        raise ConfigError(f"server.max_body_kib: must be between 16 and 4096, got {server.max_body_kib}")
    if server.public_url and not server.public_url.startswith(("http://", "https://")):
        raise ConfigError("server.public_url: must start with https:// (or http://)")

    tg_raw = dict(_section(raw, "telegram"))
    admins = tg_raw.pop("admins", [])
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in admins):
        raise ConfigError("telegram.admins: must be a list of Telegram user ids (numbers)")
    telegram = TelegramSection(
        **tg_raw,
        admins=tuple(admins),
        token=env.get("TELEGRAM_BOT_TOKEN") or None,
        api_base_url=env.get("TELEGRAM_API_BASE_URL") or DEFAULT_TELEGRAM_API,
        webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
    )
    if telegram.mode not in {"polling", "webhook"}:
        raise ConfigError(f"telegram.mode: must be 'polling' or 'webhook', got {telegram.mode!r}")
    if not telegram.webhook_path.startswith("/"):
        raise ConfigError("telegram.webhook_path: must start with '/'")
    if not telegram.api_base_url.startswith(("http://", "https://")):
        raise ConfigError("telegram.api_base_url: TELEGRAM_API_BASE_URL must be an http(s) URL")
    if telegram.enabled and telegram.mode == "webhook":
        if not telegram.webhook_url.startswith("https://"):
            raise ConfigError("telegram.webhook_url: webhook mode needs a public https:// URL")
        if not telegram.webhook_secret:
            raise ConfigError("telegram.webhook_secret: webhook mode needs TELEGRAM_WEBHOOK_SECRET in the environment")

    limits = LimitsSection(**_section(raw, "limits"))
    if limits.flood_messages < 1:
        raise ConfigError("limits.flood_messages: must be at least 1")
    if limits.flood_window_seconds <= 0:
        raise ConfigError("limits.flood_window_seconds: must be positive")

    rights = RightsSection(**_section(raw, "rights"))
    if rights.answer_within_hours < 1:
        raise ConfigError("rights.answer_within_hours: must be at least 1")
    join_raw = dict(_section(raw, "join"))
    alert_chats = join_raw.pop("alert_chats", {})
    for prov, chats in alert_chats.items():
        if get_province(prov) is None:
            raise ConfigError(f"join.alert_chats.{prov}: unknown province id (see `unionbot signups provinces`)")
        if not isinstance(chats, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in chats):
            raise ConfigError(f"join.alert_chats.{prov}: must be a list of Telegram chat ids (numbers)")
    join = JoinSection(**join_raw, alert_chats={k: list(v) for k, v in alert_chats.items()})
    if join.retention_months < 1:
        raise ConfigError("join.retention_months: must be at least 1")

    return Config(
        bot=bot,
        union=UnionSection(**_section(raw, "union")),
        storage=storage,
        server=server,
        telegram=telegram,
        limits=limits,
        rights=rights,
        join=join,
        broadcast=_broadcast(_section(raw, "broadcast")),
        zalo=_zalo(_section(raw, "zalo"), env),
        listening=_listening(_section(raw, "listening"), env),
        source=source,
    )


def _listening(raw: dict[str, Any], env: dict[str, str]) -> ListeningSection:
    section = ListeningSection(**raw, report_salt=env.get("UNIONBOT_REPORT_SALT", "").strip() or None)
    for key, low in (
        ("min_group", 2),
        ("answer_retention_days", 0),
        ("alert_threshold", 1),
        ("alert_window_days", 1),
        ("alert_workers", 1),
        ("reports_per_day", 1),
        ("report_hash_days", 1),
    ):
        if getattr(section, key) < low:
            raise ConfigError(f"listening.{key}: must be at least {low}")
    if section.report_salt is not None and len(section.report_salt) < 16:
        raise ConfigError("listening.report_salt: UNIONBOT_REPORT_SALT must be at least 16 characters")
    return section


def _broadcast(raw: dict[str, Any]) -> BroadcastSection:
    raw = dict(raw)
    topics = []
    for i, t in enumerate(raw.pop("topics", [])):
        where = f"broadcast.topics[{i}]"
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: must be a table with id, name_vi, name_en")
        unknown = set(t) - {"id", "name_vi", "name_en", "description_vi", "description_en"}
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
        for key in ("id", "name_vi", "name_en"):
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise ConfigError(f"{where}.{key}: required text")
        if not _TOPIC_ID.match(t["id"]):
            raise ConfigError(f"{where}.id: lower-case letters, digits and _ only, got {t['id']!r}")
        topics.append(TopicConfig(**t))
    ids = [t.id for t in topics]
    if len(set(ids)) != len(ids):
        raise ConfigError("broadcast.topics: two topics share an id")
    section = BroadcastSection(**raw, topics=tuple(topics))
    for key in ("quiet_start", "quiet_end"):
        if not _HHMM.match(getattr(section, key)):
            raise ConfigError(f"broadcast.{key}: must be HH:MM (24-hour), got {getattr(section, key)!r}")
    if section.telegram_rate <= 0:
        raise ConfigError("broadcast.telegram_rate: must be positive")
    if section.telegram_rate > (1000 if section.paid_broadcast else 30):
        raise ConfigError("broadcast.telegram_rate: at most 30/s, or 1000/s with paid_broadcast = true")
    if section.in_doubt not in {"leave", "resend"}:
        raise ConfigError("broadcast.in_doubt: must be 'leave' or 'resend'")
    if section.max_attempts < 1:
        raise ConfigError("broadcast.max_attempts: must be at least 1")
    if section.missed_limit_hours < 0:
        raise ConfigError("broadcast.missed_limit_hours: must not be negative")
    return section


# Environment variable -> ZaloSection field (secrets and hosts).
_ZALO_ENV = {f.metadata["env"]: f.name for f in fields(ZaloSection) if "env" in f.metadata}


def _zalo(raw: dict[str, Any], env: dict[str, str]) -> ZaloSection:
    from_env = {name: env[var].strip() for var, name in _ZALO_ENV.items() if env.get(var, "").strip()}
    zalo = ZaloSection(**{**raw, **from_env})
    if zalo.bot_mode not in {"polling", "webhook"}:
        raise ConfigError(f"zalo.bot_mode: must be 'polling' or 'webhook', got {zalo.bot_mode!r}")
    if not 1 <= zalo.bot_poll_timeout <= 60:
        raise ConfigError("zalo.bot_poll_timeout: must be between 1 and 60 seconds")
    if not 1 <= zalo.oa_window_days <= 7:
        # Zalo refuses customer-service messages 7 days after the worker's last message.
        raise ConfigError("zalo.oa_window_days: must be between 1 and 7 (Zalo's own limit is 7)")
    if not 0 < zalo.oa_rate <= 60:
        raise ConfigError("zalo.oa_rate: must be more than 0 and at most 60 messages per second")
    for key in ("night_start", "night_end"):
        if not _HHMM.match(getattr(zalo, key)):
            raise ConfigError(f"zalo.{key}: must be HH:MM (24-hour), got {getattr(zalo, key)!r}")
    for key, var in (
        ("bot_api_base_url", "ZALO_BOT_API_BASE_URL"),
        ("openapi_base_url", "ZALO_OPENAPI_BASE_URL"),
        ("oauth_base_url", "ZALO_OAUTH_BASE_URL"),
    ):
        if not getattr(zalo, key).startswith(("http://", "https://")):
            raise ConfigError(f"zalo.{key}: {var} must be an http(s) URL")
    if zalo.bot_enabled and zalo.bot_mode == "webhook":
        if not zalo.bot_webhook_url.startswith("https://"):
            raise ConfigError("zalo.bot_webhook_url: webhook mode needs a public https:// URL")
        if not 8 <= len(zalo.bot_webhook_secret or "") <= 256:
            raise ConfigError("zalo.bot_webhook_secret: webhook mode needs ZALO_BOT_WEBHOOK_SECRET (8-256 characters)")
    if zalo.oa_signature not in ("app_id", "oa_id"):
        raise ConfigError(f"zalo.oa_signature: must be 'app_id' or 'oa_id', got {zalo.oa_signature!r}")
    # Dedupe keys live 2 days (storage PROCESSED_UPDATES_TTL); the window must stay well
    # inside that, or a replay could outlive the key that would catch it.
    if not 1 <= zalo.oa_event_window_minutes <= 1440:
        raise ConfigError("zalo.oa_event_window_minutes: must be between 1 and 1440 (one day)")
    if zalo.oa_secret_key and not (zalo.oa_app_id and zalo.oa_app_secret):
        # The secret key is optional (set-up mode), the app's id and secret are not.
        missing = "oa_app_id" if not zalo.oa_app_id else "oa_app_secret"
        var = "ZALO_OA_APP_ID" if missing == "oa_app_id" else "ZALO_OA_APP_SECRET"
        raise ConfigError(f"zalo.{missing}: the Official Account needs {var} too (ZALO_OA_SECRET_KEY set)")
    oa_keys = {"oa_app_id": "ZALO_OA_APP_ID", "oa_app_secret": "ZALO_OA_APP_SECRET"}
    given = [k for k in oa_keys if getattr(zalo, k)]
    if given and len(given) < len(oa_keys):
        missing = next(k for k in oa_keys if not getattr(zalo, k))
        raise ConfigError(
            f"zalo.{missing}: the Official Account needs {oa_keys[missing]} too"
            f" ({', '.join(oa_keys[k] for k in given)} set)"
        )
    if bool(zalo.oa_access_token) != bool(zalo.oa_refresh_token):
        missing = "oa_refresh_token" if zalo.oa_access_token else "oa_access_token"
        raise ConfigError(f"zalo.{missing}: ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN come as a pair")
    return zalo
