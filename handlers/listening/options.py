"""What the listening handlers need from the configuration ([listening] in config.toml).

The composition root puts a `ListeningOptions` in `Services.listening_options`; without
one (tests, the terminal chat) the defaults apply, with a salt made for this process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from handlers.context import Ctx

# Workplace report categories, in the order the form shows them. Stored: never rename.
CATEGORIES = ("wages", "insurance", "overtime", "safety", "harassment", "dismissal", "meals", "other")


@dataclass(frozen=True, slots=True)
class ListeningOptions:
    min_group: int = 5
    answer_retention_days: int = 30
    alert_threshold: int = 3
    alert_window_days: int = 7
    alert_workers: int = 50
    reports_per_day: int = 3
    # Days the reporter's hashed id is kept for rate limiting.
    limit_days: int = 7
    # Key of the reporter hash. From UNIONBOT_REPORT_SALT when set (limits survive a
    # restart); otherwise random per process: the stored hashes then mean nothing to
    # anyone, at the price of the daily limit starting over after a restart.
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def reporter_hash(self, channel: str, external_id: str) -> str:
        return hmac.new(self.salt, f"{channel}:{external_id}".encode(), hashlib.sha256).hexdigest()


_DEFAULT = ListeningOptions()


def options(ctx: Ctx) -> ListeningOptions:
    return ctx.services.listening_options or _DEFAULT
