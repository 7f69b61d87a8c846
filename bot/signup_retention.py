"""Keeping the consent text's promise: sign-ups are erased `join.retention_months` after
the last contact, unfinished forms (and /forget confirmations holding one) after
handlers.join.form.FORM_TTL.

The same two rules cover everything else that holds a worker's words: every
conversation state (a free-text question remembered for "ask a union officer", a
broadcast draft, a note being typed, whatever the flow) goes after FORM_TTL like a form,
and handed-off questions with their answers after `join.retention_months`.

Runs at start-up and then once a day beside the channels; `unionbot signups purge`
does the same from the shell.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.periodic import PeriodicService
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
    # Forms, an open /forget confirmation (it holds the form it set aside) and any other
    # conversation state (a remembered question, a draft): all on the form's clock.
    forms = await store.purge_states(updated_before=now - FORM_TTL)
    questions = await store.purge_questions(before=cutoff)
    if signups or forms or questions:
        details = {"signups": signups, "forms": forms}
        if questions:
            details["questions"] = questions
        await store.audit(None, "signups.purge", "signups", details)
        logger.info(
            "retention: erased %s sign-ups, %s abandoned forms or drafts and %s old questions",
            signups,
            forms,
            questions,
        )
    return signups, forms


class SignupRetention(PeriodicService):
    """A background service (see bot.app.Service): the purge once a day."""

    name = "signup-retention"

    def __init__(self, store: Store, retention_months: int, *, every: timedelta = timedelta(days=1)) -> None:
        super().__init__(every.total_seconds())
        self.store = store
        self.retention_months = retention_months

    async def run_once(self) -> None:
        await purge_expired(self.store, self.retention_months)
