"""Buttons as numbered text choices, for channels without buttons (Zalo, the console).

A reply's buttons are listed under its text as "1. label", numbered on across the
replies of one turn, and remembered per user; the worker answers with the number, the
label, or enough of its words to point to one choice, with or without diacritics, in
any case ("2", "2.", "Gia nhập công đoàn", "gia nhap", "dong y"), and that answer
becomes the button press. Anything else is passed on as typed text. Where a typed number
is the step's own answer (Reply.numbers_typed), the choices are lettered (a, b, c) instead.

What was offered is kept in memory only: after a restart a bare "2" is read as text
again, which the handlers answer like any other message. The handlers' own state
(forms) is in the store and is not affected.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from handlers.text import fold
from handlers.types import Button, Reply

# Enough for every worker active in a day; the oldest are forgotten first.
DEFAULT_MAX_USERS = 10_000
# Choices older than this are stale: a "1" typed the next day is a new message.
DEFAULT_TTL_SECONDS = 24 * 3600.0
# A part of a label must be at least this long (folded) to pick it: "y" picks nothing.
MIN_PARTIAL_ANSWER = 2


def _contains_run(words: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(words[i : i + n] == run for i in range(len(words) - n + 1))


def format_choices(buttons: Iterable[Button], start: int = 1, *, lettered: bool = False) -> list[str]:
    return [f"{choice_mark(n, lettered)}. {b.label}" for n, b in enumerate(buttons, start)]


def choice_mark(n: int, lettered: bool) -> str:
    """The n-th choice's mark: "3", or "c" where a typed number is an answer of its own."""
    return LETTERS[n - 1] if lettered and n <= len(LETTERS) else str(n)


# Lettered choices (Reply.numbers_typed): a screen has far fewer buttons than letters.
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(slots=True)
class _Offer:
    buttons: list[Button]
    at: float
    lettered: bool = False  # marked a, b, c: a typed number is text, not a choice


class NumberedChoices:
    """The choices last offered to each user of one channel, and reading answers to them."""

    def __init__(
        self,
        *,
        max_users: int = DEFAULT_MAX_USERS,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._offers: OrderedDict[str, _Offer] = OrderedDict()
        self._max_users = max_users
        self._ttl = ttl
        self._clock = clock

    def offer(self, user_id: str, buttons: list[Button], *, fresh: bool, lettered: bool = False) -> int:
        """Remember `buttons`, replacing earlier choices when `fresh` (always when
        `lettered`: letters and numbers never mix); returns the first number."""
        now = self._clock()
        current = None if fresh or lettered else self._live(user_id)
        if current is not None and current.lettered:
            current = None
        if current is None:
            current = _Offer([], now, lettered)
        start = len(current.buttons) + 1
        current.buttons.extend(buttons)
        current.at = now
        self._offers[user_id] = current
        self._offers.move_to_end(user_id)
        while len(self._offers) > self._max_users:
            self._offers.popitem(last=False)
        return start

    def forget(self, user_id: str) -> None:
        self._offers.pop(user_id, None)

    def lettered(self, user_id: str) -> bool:
        offer = self._live(user_id)
        return offer is not None and offer.lettered

    def choices(self, user_id: str) -> list[Button]:
        offer = self._live(user_id)
        return list(offer.buttons) if offer else []

    def match(self, user_id: str, text: str) -> str | None:
        """The payload of the choice `text` picks, or None when it picks none.

        By number, by the whole label, by the first words of exactly one label, or by
        a run of words covering half a label or more (the closest label, if one is
        closest). A command ("/start") is never a choice.
        """
        if text.strip().startswith("/"):
            return None
        buttons = self.choices(user_id)
        if not buttons:
            return None
        answer = fold(text)
        if not answer:
            return None
        lettered = self.lettered(user_id)
        if answer.isdigit():
            if lettered:
                return None  # the step's own answer ("6" workers), not a choice
            n = int(answer)
            return buttons[n - 1].payload if 1 <= n <= len(buttons) else None
        if lettered and len(answer) == 1 and answer in LETTERS[: len(buttons)]:
            return buttons[LETTERS.index(answer)].payload
        # A button that must not be pressed by a typed word matches by number only.
        labels = [fold(b.label).split() if b.typed else [] for b in buttons]
        words = answer.split()
        for b, label in zip(buttons, labels, strict=True):
            if label == words:
                return b.payload
        if len(answer) < MIN_PARTIAL_ANSWER:
            return None
        # The label's first words, in one label only: "gửi" for "📨 Gửi đăng ký".
        starts = [i for i, label in enumerate(labels) if label and label[: len(words)] == words]
        if starts:
            return buttons[starts[0]].payload if len(starts) == 1 else None
        # A run of words covering at least half a label; the closest label wins, so
        # "đồng ý" picks "Tôi đồng ý" over "Tôi không đồng ý". A tie picks nothing.
        scored = sorted(
            (len(label) - len(words), i)
            for i, label in enumerate(labels)
            if label and 2 * len(words) >= len(label) and _contains_run(label, words)
        )
        if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
            return None
        return buttons[scored[0][1]].payload

    def render(self, user_id: str, reply: Reply, *, fresh: bool, hint: str | None = None) -> str:
        """The reply's text with its buttons listed as numbered choices (and remembered).

        `fresh` starts the numbering again at 1 and drops what was offered before; a
        reply without buttons and not `fresh` leaves the earlier choices standing.
        """
        flat = [b for row in reply.buttons for b in row]
        if not flat:
            if fresh:
                self.forget(user_id)
            return reply.text
        start = self.offer(user_id, flat, fresh=fresh, lettered=reply.numbers_typed)
        lines = format_choices(flat, start, lettered=reply.numbers_typed)
        if hint:
            lines.append(hint)
        listed = "\n".join(lines)
        return f"{reply.text}\n\n{listed}" if reply.text else listed

    def _live(self, user_id: str) -> _Offer | None:
        offer = self._offers.get(user_id)
        if offer is None:
            return None
        if self._clock() - offer.at > self._ttl:
            del self._offers[user_id]
            return None
        return offer
