"""Exceptions raised by the Zalo clients (OA Open API, OAuth, Bot platform).

Both Zalo products share one tree, so the adapter and the broadcast engine decide
what to do from the class alone, whichever product raised it:

* ZaloError                   - anything the Zalo clients raise on purpose
  + ZaloTransientError        - the same request may succeed later: back off, retry
  | + ZaloNetworkError        - connect/read failure or timeout; delivery unknown
  | + ZaloServerError         - HTTP 5xx, OA -200, a body that is not Zalo JSON
  | + RateLimited             - OA -32, Bot 429; `retry_after` when Zalo says so
  + ZaloPermanentError        - retrying the same request will not help
    + ZaloAuthError           - token rejected (OA -216/-220 after one refresh, Bot 401/403)
    | + TokenRefreshError     - the OAuth server refused the refresh: re-authorise the OA
    + Unreachable             - OA -213/-227/-230/-232: this user cannot be messaged now
      + Blocked               - OA -217/-244: the user blocked or restricted the OA

Every instance carries the platform's own `code` (OA `error`, Bot `error_code`,
None for network errors) and `description` (Zalo's message, never user text), plus
`http_status` when a response arrived.

A text longer than 2,000 characters goes out as several messages; when a later
part fails, `parts_sent` says how many went out first, so a caller that retries
can skip them instead of sending duplicates.

Outside the tree, `MalformedPayload` (a ValueError) flags an inbound update or
webhook body that cannot be parsed.
"""

from __future__ import annotations


class ZaloError(Exception):
    """Base class; see the module docstring for the tree."""

    def __init__(
        self,
        description: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        method: str | None = None,
    ) -> None:
        self.description = description
        self.code = code
        self.http_status = http_status
        # The API method or path ("sendMessage", "/v3.0/oa/message/cs"); never a URL,
        # because Bot-platform URLs embed the bot token.
        self.method = method
        self.parts_sent = 0
        super().__init__(description)

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{where}{self.description}{code}"


class ZaloTransientError(ZaloError):
    """Retrying later, with backoff, may succeed."""


class ZaloNetworkError(ZaloTransientError):
    """No usable response. For a send, the message may or may not have arrived."""


class ZaloServerError(ZaloTransientError):
    """Zalo failed on its side (5xx, OA -200) or answered with something that is not its JSON."""


class RateLimited(ZaloTransientError):
    """Too many calls. OA limits are per minute per app, so back off for tens of seconds."""

    def __init__(
        self,
        description: str,
        *,
        retry_after: float | None = None,
        code: int | None = None,
        http_status: int | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(description, code=code, http_status=http_status, method=method)
        self.retry_after = retry_after


class ZaloPermanentError(ZaloError):
    """Zalo refused the request; sending it again unchanged fails again."""


class ZaloAuthError(ZaloPermanentError):
    """The token is wrong, expired or missing and could not be replaced."""


class TokenRefreshError(ZaloAuthError):
    """The OAuth server refused the refresh token; an admin must authorise the OA again."""


class Unreachable(ZaloPermanentError):
    """This user cannot be messaged through this channel now (outside the window, unfollowed...).

    `reason_code` is Zalo's code: -230/-232 mean outside the 7-day customer-service window,
    -213 not a follower, -227 banned or inactive for 45 days. Fall back to another channel.
    """

    def __init__(
        self,
        reason_code: int,
        description: str,
        *,
        user_id: str | None = None,
        http_status: int | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(description, code=reason_code, http_status=http_status, method=method)
        self.reason_code = reason_code
        self.user_id = user_id


class Blocked(Unreachable):
    """The worker blocked the OA (-217) or restricted this message type (-244).

    Unlike the window codes this is the worker's own choice and lasts until they write
    again: mark them unreachable (as a Telegram user who blocked the bot), never retry.
    """


class MalformedPayload(ValueError):
    """An inbound update or webhook body that does not have the documented shape.

    Not a ZaloError: nothing was sent, so there is nothing to retry. Webhook endpoints
    answer 200 and drop it, because Zalo would only deliver the same body again.
    """


def int_or_none(value: object) -> int | None:
    """A number as Zalo sends it: an int, or a string ("90000" in its own examples)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None  # JSON's other values (null, lists, objects) are no number
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
