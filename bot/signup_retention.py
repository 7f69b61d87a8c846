"""Keeping the consent text's promise: sign-ups are erased `join.retention_months` after
the last contact, unfinished forms (and /forget confirmations holding one) after
handlers.join.form.FORM_TTL.

Runs at start-up and then once a day beside the channels; `unionbot signups purge`
does the same from the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from handlers.join.common import FLOW_FORGET, FORM_FLOWS
from handlers.join.form import FORM_TTL
from storage import Store

logger = logging.getLogger(__name__)

# Months as the retention setting counts them; a day either way does not matter.
DAYS_PER_MONTH = 30.44


async def purge_expired(store: Store, retention_months: int, *, now: datetime | None = None) -> tuple[int, int]:
    """Erase what is past its time; (sign-ups, forms) erased. Audited when anything went."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=round(retention_months * DAYS_PER_MONTH))
    signups = await store.purge_signups(last_contact_before=cutoff)
    # An open /forget confirmation holds the form it set aside (privacy.forget): same limit.
    forms = await store.purge_forms((*FORM_FLOWS, FLOW_FORGET), updated_before=now - FORM_TTL)
    if signups or forms:
        await store.audit(None, "signups.purge", "signups", {"signups": signups, "forms": forms})
        logger.info("retention: erased %s sign-ups and %s abandoned forms", signups, forms)
    return signups, forms


class SignupRetention:
    """A background service (see bot.app.Service)."""

    def __init__(self, store: Store, retention_months: int, *, every: timedelta = timedelta(days=1)) -> None:
        self.store = store
        self.retention_months = retention_months
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="signup-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await purge_expired(self.store, self.retention_months)
            except Exception:  # a failed round must not end the service; the next one retries
                logger.exception("retention: purge failed")
            await asyncio.sleep(self.every.total_seconds())
