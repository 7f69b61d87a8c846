"""Union sign-ups, volunteers' referral codes, organizer scopes and targets.

Who owns a sign-up, and how it is erased
----------------------------------------
A phone number is the only identity a sign-up has, and nobody verified it. So:

* One sign-up per phone number and at most one per bot account. The account that
  submitted it itself (`user_id`) owns it; /forget erases it with the account.
* A sign-up a volunteer collected for a worker standing next to them has no owner:
  the worker may have no bot account at all. The worker erases it with
  `/forget <phone>`, or asks the union, whose officer runs
  `unionbot signups forget --phone ...`. If the worker later signs up in the bot with
  the same number, their account takes it over and /forget covers it from then on.
* Taking over a sign-up someone else owns (another account, or none) replaces it with
  a fresh one (new id, status "new", no notes, this submission's source): otherwise
  anyone who knows a colleague's number could sign up with it and read, through
  /mydata, whether and since when that colleague talks to the union. The organizers
  are told which sign-up the new one replaces; the person submitting is not told that
  the number was known (only an account's own earlier sign-up is "updated").
  A volunteer collecting a number already signed up changes nothing: the existing
  sign-up stays as it is, the volunteer is told the same as for a new one, and /mystats
  counts the submission, not the sign-up, so it cannot tell the two apart either.
  The account that held the replaced sign-up is not told either: if an impostor (a
  manager who knows a worker's number) had signed up first, a notice would tell them the
  moment the worker joins, which can cost the worker their job (tried in stop 28 and
  reverted after review).
  What remains possible, and is accepted: someone who knows the number can overwrite a
  sign-up collected for it (audited, ids only, and the organizers of the province are
  alerted, so they can call the number again); it reveals nothing.
* Erasing by number needs proof, because a number is no proof of anything: an employer's
  HR office knows every worker's number (found by an outside tester: a stranger's
  `/forget <phone>` erased a collected sign-up). `/forget <phone>` for a sign-up the
  asking account does not own files an erasure request (`request_signup_erasure`); the
  province's officers call the number and confirm or reject it (`decide_signup_erasure`),
  and tell the person on the call what they did. The requester is never told the
  outcome: if the employer asked and the worker agreed on the call, "erased" would tell
  the employer that the number had signed up.
  A request holds no number (its sign-up has it) and no name: only the sign-up's id, the
  requesting chat's address (to count its requests: the daily limit, and its /mydata)
  and dates. Every attempt writes exactly one row, whatever the number: a number with
  no sign-up (or the requester's own) gets one without a sign-up, and so does a chat's
  repeat for a sign-up it already has a request open for. So the limit and /mydata count
  the same for a number that signed up and one that did not; only the officers' notices
  (which the requester never sees) differ. Every request goes after ERASURE_REQUEST_TTL
  (`purge_signups`). Request ids are never reused (AUTOINCREMENT on SQLite, an identity
  on PostgreSQL): an old "/erasure <id> xoa" must not reach another worker's sign-up.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from storage.records import User

# The audit action recording a volunteer's /collect submission (see submit_signup).
COLLECT_ACTION = "signup.collect"
# How long an erasure request (and the requester's chat address in it) is kept: an open
# one not decided by then lapses, with nothing erased.
ERASURE_REQUEST_TTL = timedelta(days=30)


class SignupStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    JOINED = "joined"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"


# The consent channel of sign-ups imported from paper sheets (handlers/join/importer.py).
# Their source stays COLLECTED (someone other than the worker entered them), and progress
# reports count them apart from every volunteer: no volunteer is on record for them.
PAPER_CHANNEL = "paper"


class SignupSource(StrEnum):
    SELF = "self"  # the worker, in the bot, with no volunteer involved
    REFERRAL = "referral"  # the worker, in the bot, through a volunteer's link or code
    COLLECTED = "collected"  # a volunteer filled it in for a worker next to them


class SubmitOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # the same owner again
    KNOWN = "known"  # a volunteer collected a number already signed up: nothing changed
    CLAIMED = "claimed"  # another account's (or an unowned) sign-up replaced by a fresh one


@dataclass(frozen=True, slots=True)
class SignupDraft:
    full_name: str
    phone_e164: str
    workplace: str
    province_id: str
    commune: str | None
    source: SignupSource
    volunteer_id: int | None
    consent_version: str
    consent_lang: str
    consent_channel: str
    owner_id: int | None  # the worker's own account; None when a volunteer collected it


@dataclass(frozen=True, slots=True)
class FormClaim:
    """The conversation state a submission consumes, so that pressing "submit" twice, or
    an old button of the same form, cannot submit twice."""

    user_id: int
    flow: str
    form_id: str


@dataclass(frozen=True, slots=True)
class SubmitResult:
    signup_id: int
    outcome: SubmitOutcome
    province_id: str
    previous_province_id: str | None = None  # when an update moved the sign-up to another province
    replaced_id: int | None = None  # the sign-up a claim replaced (CLAIMED only)


@dataclass(frozen=True, slots=True)
class Signup:
    id: int
    user_id: int | None
    full_name: str
    phone_e164: str
    workplace: str
    province_id: str
    commune: str | None
    source: SignupSource
    volunteer_id: int | None
    volunteer_code: str | None
    consent_version: str
    consent_lang: str
    consent_channel: str
    consent_at: datetime
    status: SignupStatus
    created_at: datetime
    updated_at: datetime
    last_contact_at: datetime


class SignupExport(NamedTuple):
    """One sign-up as exports need it: a plain tuple, because an export builds 200,000."""

    id: int
    created_at: datetime
    full_name: str
    phone_e164: str
    workplace: str | None
    province_id: str | None
    commune: str | None
    source: str  # a SignupSource value
    volunteer_code: str | None
    status: str  # a SignupStatus value
    notes: str | None  # the notes' text, oldest first, one per line


@dataclass(frozen=True, slots=True)
class SignupNote:
    id: int
    signup_id: int
    author_id: int | None
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class SignupDayCount:
    """Sign-ups of one local day in one province: what /targets counts, done in the database."""

    day: date
    province_id: str
    count: int
    joined: int
    self_count: int
    paper_count: int = 0  # imported from paper (PAPER_CHANNEL)


@dataclass(frozen=True, slots=True)
class SignupVolunteerCount:
    volunteer_code: str | None  # None: the volunteer has left
    source: SignupSource  # REFERRAL or COLLECTED
    count: int


@dataclass(frozen=True, slots=True)
class SignupFact:
    """One sign-up reduced to what statistics need: no name, no number."""

    created_at: datetime
    province_id: str
    source: SignupSource
    volunteer_id: int | None
    volunteer_code: str | None
    status: SignupStatus
    paper: bool = False  # imported from paper (PAPER_CHANNEL)


class ErasureStatus(StrEnum):
    OPEN = "open"  # waiting for an officer's call
    CONFIRMED = "confirmed"  # the number's holder confirmed: the sign-up was erased
    REJECTED = "rejected"  # not confirmed on the call: nothing erased
    # Only counted (the daily limit, /mydata), nothing for the officers: no sign-up the
    # requester does not own had the number, or this chat already has one open for it.
    NONE = "none"


class ErasureOutcome(StrEnum):
    FILED = "filed"  # a new request: the province's officers are to be told
    PENDING = "pending"  # this chat already has one open for the sign-up: counted, nothing new
    NO_SIGNUP = "no_signup"  # no such sign-up (or the requester's own): counted
    THROTTLED = "throttled"  # too many requests from this chat in the window: nothing recorded


@dataclass(frozen=True, slots=True)
class ErasureRequester:
    """The chat that filed a request. Kept only because the daily limit needs it (and
    /mydata lists the chat's requests): /forget erases the requesting account, so
    requests are counted by chat address. It is never used to tell the requester the
    outcome (see the module docstring), so no language is kept either."""

    channel: str
    external_id: str


@dataclass(frozen=True, slots=True)
class ErasureRequestResult:
    outcome: ErasureOutcome
    request_id: int | None = None  # the row written: every outcome but THROTTLED
    signup_id: int | None = None  # FILED and PENDING
    province_id: str | None = None  # FILED and PENDING


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    id: int
    # None once the sign-up is gone (erased, replaced, purged), or for a row only counted (NONE)
    signup_id: int | None
    province_id: str | None  # the sign-up's, while it exists
    phone_e164: str | None  # the sign-up's, while it exists: for masked display only
    requester: ErasureRequester
    status: ErasureStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: int | None


@dataclass(frozen=True, slots=True)
class ErasureDecision:
    request: ErasureRequest  # as it was before the decision (with the sign-up's number)
    erased: bool  # confirmed: the sign-up (and unfinished forms with its number) erased


class SignupStore(abc.ABC):
    """Abstract part of the store for this feature; implemented in `storage/sqlite/signups.py`.

    `provinces=None` means every province (an admin); an empty collection means none.
    """

    # -- sign-ups ------------------------------------------------------------
    @abc.abstractmethod
    async def submit_signup(self, draft: SignupDraft, *, form: FormClaim | None = None) -> SubmitResult | None:
        """Store a sign-up, or update the one with the same phone number (see the module
        docstring for ownership). With `form`, the conversation state is consumed in the
        same transaction; None if it was already gone (the form was submitted already).

        A collected draft (`owner_id` None) never changes an existing sign-up: a known
        number leaves it untouched (outcome KNOWN). Every collected draft is recorded, in
        the same transaction, as a COLLECT_ACTION audit entry by the volunteer (ids only)."""

    @abc.abstractmethod
    async def collect_submissions(self, volunteer_id: int) -> list[datetime]:
        """When the volunteer submitted /collect forms, oldest first: new and known numbers
        alike, whatever became of the sign-ups since."""

    @abc.abstractmethod
    async def get_signup(self, signup_id: int) -> Signup | None: ...

    @abc.abstractmethod
    async def signup_of_user(self, user_id: int) -> Signup | None: ...

    @abc.abstractmethod
    async def list_signups(
        self,
        *,
        provinces: Collection[str] | None,
        status: SignupStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[Signup]:
        """Newest first."""

    @abc.abstractmethod
    async def set_signup_status(self, signup_id: int, status: SignupStatus) -> SignupStatus | None:
        """Set the status; the previous one, or None for an unknown sign-up."""

    @abc.abstractmethod
    async def add_signup_note(self, signup_id: int, author_id: int | None, text: str) -> int | None:
        """The new note's id, or None for an unknown sign-up."""

    @abc.abstractmethod
    async def signup_notes(self, signup_id: int) -> list[SignupNote]:
        """Oldest first."""

    @abc.abstractmethod
    def export_pages(
        self, *, provinces: Collection[str] | None, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        """Every sign-up of the provinces with its notes, oldest first, a page at a time.

        Pages follow the id (keyset), so memory stays flat at any size and other work on
        the database is not held up for the whole export.
        """

    async def export_signups(self, *, provinces: Collection[str] | None) -> list[SignupExport]:
        """All of `export_pages` in one list: for small sets and tests."""
        return [item async for page in self.export_pages(provinces=provinces) for item in page]

    @abc.abstractmethod
    async def signup_facts(
        self,
        *,
        provinces: Collection[str] | None = None,
        volunteer_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SignupFact]:
        """Sign-ups created in [since, until), for statistics."""

    @abc.abstractmethod
    async def signup_day_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
        utc_offset: timedelta,
    ) -> list[SignupDayCount]:
        """Sign-ups created in [since, until), counted per local day (UTC + `utc_offset`) and
        province: at a federation's size, progress is counted where the rows are."""

    @abc.abstractmethod
    async def signup_volunteer_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
    ) -> list[SignupVolunteerCount]:
        """Sign-ups created in [since, until) through volunteers, per volunteer code and source
        (paper imports are not a volunteer's: they are counted in SignupDayCount.paper_count)."""

    # -- volunteers ----------------------------------------------------------
    @abc.abstractmethod
    async def volunteer_code(self, user_id: int) -> str | None: ...

    @abc.abstractmethod
    async def create_volunteer_code(self, user_id: int, code: str) -> str:
        """Give the volunteer `code` unless they have one already; the code they hold."""

    @abc.abstractmethod
    async def volunteer_by_code(self, code: str) -> int | None:
        """The user id of the volunteer holding `code`."""

    # -- organizers' provinces -----------------------------------------------
    @abc.abstractmethod
    async def organizer_provinces(self, user_id: int) -> frozenset[str]: ...

    @abc.abstractmethod
    async def admins(self) -> list[User]:
        """Users with the admin role who can be written to, by id (admins named in the
        configuration are found by the caller)."""

    @abc.abstractmethod
    async def organizers_of(self, province_id: str) -> list[User]:
        """The organizers (and admins) who hold the province and can be written to, by id:
        who an alert about it reaches when the province has no alert chat."""

    @abc.abstractmethod
    async def add_organizer_provinces(
        self, user_id: int, province_ids: Collection[str], granted_by: int | None
    ) -> None: ...

    @abc.abstractmethod
    async def remove_organizer_provinces(self, user_id: int, province_ids: Collection[str]) -> None: ...

    # -- targets ---------------------------------------------------------------
    @abc.abstractmethod
    async def set_signup_target(self, province_id: str, year: int, target: int, set_by: int | None) -> None: ...

    @abc.abstractmethod
    async def signup_targets(self, year: int, *, provinces: Collection[str] | None = None) -> dict[str, int]:
        """province id -> target for `year`."""

    # -- erasure ----------------------------------------------------------------
    @abc.abstractmethod
    async def forget_signup_by_phone(
        self, phone_e164: str, *, include_owned: bool = False, form_flows: Collection[str] = ()
    ) -> tuple[int, str] | None:
        """Erase the sign-up with this number if no account owns it (any, with
        `include_owned`: an officer acting on a request), and every unfinished form of
        `form_flows` whose `phone` is this number (a volunteer's form left half-way),
        also when another flow holds it under `resume` (`$.resume.flow`, `$.resume.data`).
        The erased sign-up's (id, province id), or None."""

    @abc.abstractmethod
    async def request_signup_erasure(
        self, phone_e164: str, requester: ErasureRequester, *, requester_id: int, limit: int, since: datetime
    ) -> ErasureRequestResult:
        """File a request to erase the sign-up with this number (see the module docstring),
        unless the requester's chat (by address, not account: /forget erases the account)
        filed `limit` requests since `since` (THROTTLED, nothing recorded). A sign-up the
        account `requester_id` owns is not a request's (the caller erases it): NO_SIGNUP,
        as when no sign-up has the number. A chat's repeat for a sign-up it already has a
        request open for is PENDING (the officers are not told again). Every outcome but
        THROTTLED writes exactly one row, so the count never tells whether the number
        signed up. Ids only; the number is not stored."""

    @abc.abstractmethod
    async def erasure_requests_by(self, channel: str, external_id: str, *, since: datetime) -> list[ErasureRequest]:
        """The requests a chat filed since the date, newest first (throttling, /mydata)."""

    @abc.abstractmethod
    async def get_erasure_request(self, request_id: int) -> ErasureRequest | None: ...

    @abc.abstractmethod
    async def open_erasure_requests(self, *, provinces: Collection[str] | None) -> list[ErasureRequest]:
        """Open requests whose sign-up still exists, in the provinces, oldest first."""

    @abc.abstractmethod
    async def decide_signup_erasure(
        self, request_id: int, *, confirm: bool, decided_by: int | None, form_flows: Collection[str] = ()
    ) -> ErasureDecision | None:
        """An officer's decision on an open request, in one transaction: confirmed erases
        the sign-up (whoever owns it: the number's holder said so on the call) and every
        unfinished form of `form_flows` with its number, and closes every open request for
        it; rejected closes this one. Nobody is named to be told: the officer tells the
        number's holder on the call, the requesters never hear. None when the request is not open or its sign-up is
        gone (decided already, erased another way)."""

    @abc.abstractmethod
    async def purge_signups(self, *, last_contact_before: datetime) -> int:
        """Erase sign-ups not contacted since the date (retention); how many. Erasure
        requests older than ERASURE_REQUEST_TTL go too (not counted)."""

    @abc.abstractmethod
    async def purge_forms(self, flows: Collection[str], *, updated_before: datetime) -> int:
        """Erase unfinished forms of `flows` left alone since the date; how many."""
