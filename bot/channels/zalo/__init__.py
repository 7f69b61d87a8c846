"""Zalo platform layer: HTTP clients and webhook parsing for Zalo's two chat products.

* The Zalo **Bot** platform (`bot_client`): Telegram-like, a static token, long
  polling or a webhook with a shared secret.
* The Zalo **Official Account** Open API (`oa_client`, `tokens`, `webhook`): OAuth
  tokens that rotate, customer-service messages inside Zalo's 7-day window, and
  signed webhooks.

Nothing here knows the bot's handlers; the channel adapters translate between these
types and `handlers.types`. Every client takes an `httpx.AsyncClient` that its owner
opens at start-up and closes at shutdown, and a base URL that tests point at the
fakes in `tests/fakes/zalo_servers.py`.

The channel adapters built on this layer (`adapter_bot`, `adapter_oa`, sharing
`adapter_common`) and Zalo's sending rules (`rules`) are imported by their users
directly, so importing the platform layer does not pull in the handlers.
"""

from bot.channels.zalo.bot_client import (
    DEFAULT_BOT_API_BASE,
    BotIdentity,
    BotUpdateKind,
    ZaloBotClient,
    ZaloBotUpdate,
    parse_bot_update,
    verify_bot_webhook_secret,
)
from bot.channels.zalo.errors import (
    Blocked,
    MalformedPayload,
    RateLimited,
    TokenRefreshError,
    Unreachable,
    ZaloAuthError,
    ZaloError,
    ZaloNetworkError,
    ZaloPermanentError,
    ZaloServerError,
    ZaloTransientError,
)
from bot.channels.zalo.oa_client import (
    DEFAULT_OPENAPI_BASE,
    OASent,
    RateLimitInfo,
    ZaloOAClient,
)
from bot.channels.zalo.text import MAX_TEXT_LENGTH, split_text
from bot.channels.zalo.tokens import (
    DEFAULT_OAUTH_BASE,
    MemoryTokenStore,
    TokenManager,
    TokenPair,
    TokenStore,
)
from bot.channels.zalo.webhook import OAEvent, OAEventKind, parse_oa_event, verify_oa_signature

__all__ = [
    "DEFAULT_BOT_API_BASE",
    "DEFAULT_OAUTH_BASE",
    "DEFAULT_OPENAPI_BASE",
    "MAX_TEXT_LENGTH",
    "Blocked",
    "BotIdentity",
    "BotUpdateKind",
    "MalformedPayload",
    "MemoryTokenStore",
    "OAEvent",
    "OAEventKind",
    "OASent",
    "RateLimitInfo",
    "RateLimited",
    "TokenManager",
    "TokenPair",
    "TokenRefreshError",
    "TokenStore",
    "Unreachable",
    "ZaloAuthError",
    "ZaloBotClient",
    "ZaloBotUpdate",
    "ZaloError",
    "ZaloNetworkError",
    "ZaloOAClient",
    "ZaloPermanentError",
    "ZaloServerError",
    "ZaloTransientError",
    "parse_bot_update",
    "parse_oa_event",
    "split_text",
    "verify_bot_webhook_secret",
    "verify_oa_signature",
]
