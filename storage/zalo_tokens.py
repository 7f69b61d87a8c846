"""The Zalo OA's OAuth token pair, kept where it survives a restart.

Zalo's OA refresh token is single-use: each refresh returns a new pair and kills the
old refresh token. The new pair must be on disk before anyone uses it, all of it or
none, or a crash at the wrong moment locks the bot out of the OA until an admin
authorises it again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ZaloTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds, wall clock


class ZaloTokenStore(abc.ABC):
    """Abstract part of the store for Zalo; implemented in `storage/sqlite/zalo_tokens.py`."""

    @abc.abstractmethod
    async def load_zalo_tokens(self, app_id: str) -> ZaloTokens | None: ...

    @abc.abstractmethod
    async def save_zalo_tokens(self, app_id: str, tokens: ZaloTokens) -> None:
        """Replace the pair, durably, in one transaction."""

    @abc.abstractmethod
    async def seed_zalo_tokens(self, app_id: str, tokens: ZaloTokens, *, seed: str) -> ZaloTokens:
        """Adopt a pair an operator configured, once; return the pair to use.

        `seed` identifies the configured pair (a fingerprint, never the token). The
        first time a seed is seen, `tokens` replace whatever is stored; after that the
        stored pair, which has rotated since, wins over the now-spent configured one.
        One transaction, so two processes starting together adopt it once.
        """
