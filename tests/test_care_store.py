"""The member-care part of the store contract, run against every backend: benefits and
province preferences, review decisions, check-in, support cases and their events, the
outbox's leases, erasure and retention. The chat-level tests (test_care_*.py) cover the
same paths through the handlers on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import storage.sqlite.store as sqlite_module
from storage import Store
from storage.care import (
    NATIONWIDE,
    Benefit,
    BenefitCategory,
    CaseCategory,
    CaseStatus,
    CheckinOutcome,
    ProgramMode,
    RegisterOutcome,
    RegisterResult,
    RegistrationDraft,
    RegStatus,
)
from storage.sqlite import SQLiteStore
from tests.conftest import BACKENDS, postgres_database
from tests.test_care_programs import program, same_database


@pytest.fixture
def store(backend: Store) -> Store:
    return backend


def benefit(key: str, **kw) -> Benefit:  # type: ignore[no-untyped-def]
    base = dict(
        key=key,
        title=f"Ưu đãi {key}",
        partner="Điện Máy Xanh",
        category=BenefitCategory.SHOPPING,
        provinces=("ho_chi_minh",),
        gives="Giảm 10%",
        how_to_claim="Xuất trình thẻ",
        valid_from=date(2026, 1, 1),
        valid_until=None,
    )
    base.update(kw)
    return Benefit(**base)  # type: ignore[arg-type]


async def users(store: Store, n: int, prefix: str = "u") -> list[int]:
    return [(await store.touch_user("test", f"{prefix}{i}", language="vi")).id for i in range(n)]


async def test_benefits_upsert_by_key_and_province_preference(store: Store) -> None:
    assert await store.upsert_benefits([benefit("a"), benefit("b", category=BenefitCategory.HEALTH)]) == (2, 0)
    changed = benefit("a", title="Đổi tên", provinces=(NATIONWIDE,), members_only=True, link="https://x.vn")
    assert await store.upsert_benefits([changed, benefit("c"), benefit("d", title="Zalo Pay")]) == (2, 1)
    listed = await store.list_benefits()
    # By category, then title in code-point order on every backend ("Z" before "Đ").
    assert [b.key for b in listed] == ["b", "d", "a", "c"]
    assert listed[2] == changed and listed[0].valid_from == date(2026, 1, 1) and listed[0].valid_until is None
    [uid] = await users(store, 1)
    assert await store.care_province(uid) is None
    await store.set_care_province(uid, "ha_noi")
    await store.set_care_province(uid, "ho_chi_minh")
    assert await store.care_province(uid) == "ho_chi_minh"


async def test_programs_listing_closing_and_refusals(store: Store) -> None:
    now = datetime.now(UTC)
    hcm = await store.create_program(program(questions=("Quê ở đâu?",)))
    nation = await store.create_program(program(province_id=NATIONWIDE, title="Toàn quốc"))
    later = await store.create_program(program(opens_at=now + timedelta(days=1)))
    got = await store.get_program(hcm)
    assert got is not None and got.questions == ("Quê ở đâu?",) and got.opens_at.tzinfo is not None
    assert got.is_open(now) and not got.closed and got.mode is ProgramMode.FIRST_COME
    assert [p.id for p in await store.list_programs()] == [later, nation, hcm]
    assert [p.id for p in await store.list_programs(provinces=["ho_chi_minh"])] == [later, hcm]
    assert [p.id for p in await store.list_programs(provinces=["ho_chi_minh", NATIONWIDE])] == [later, nation, hcm]
    assert await store.list_programs(provinces=[]) == []
    assert await store.get_program(999) is None

    a, b = await users(store, 2)
    assert (await store.register(RegistrationDraft(later, a, "+84900000001", "A", 1))).outcome is (
        RegisterOutcome.NOT_OPEN
    )
    assert (await store.register(RegistrationDraft(hcm, a, "+84900000001", "A", 3))).outcome is (
        RegisterOutcome.TOO_MANY_SEATS
    )
    assert (await store.register(RegistrationDraft(999, a, "+84900000001", "A", 1))).outcome is (
        RegisterOutcome.NO_PROGRAM
    )
    first = await store.register(RegistrationDraft(hcm, a, "+84900000001", "A", 1, answers=("Huế",)))
    assert first.outcome is RegisterOutcome.CONFIRMED and first.registration.answers == ("Huế",)
    # The same account and number again: its own registration. Another account with that
    # number: registered like any other (test_a_number_registered_by_another_account_...).
    again = await store.register(RegistrationDraft(hcm, a, "+84900000001", "A lần nữa", 1))
    assert again.outcome is RegisterOutcome.EXISTING and again.registration.id == first.registration.id
    twin = await store.register(RegistrationDraft(hcm, b, "+84900000001", "A lần nữa", 1))
    assert twin.outcome is RegisterOutcome.CONFIRMED and twin.registration.id != first.registration.id
    assert await store.close_program(hcm) and not await store.close_program(hcm)
    assert not await store.close_program(999)
    assert (await store.register(RegistrationDraft(hcm, b, "+84900000002", "B", 1))).outcome is RegisterOutcome.ENDED
    # Closed: the account's own registration is still shown to it; a new one gets ENDED (above).
    assert (await store.register(RegistrationDraft(hcm, a, "+84900000001", "A", 1))).outcome is (
        RegisterOutcome.EXISTING
    )


async def test_claimed_form_is_consumed_once(store: Store) -> None:
    pid = await store.create_program(program())
    [uid] = await users(store, 1)
    await store.set_state(uid, "care_reg", "confirm", {"fid": "f1", "x": 1})
    draft = RegistrationDraft(pid, uid, "+84900000001", "A", 1)
    assert await store.register(draft, claim=(uid, "care_reg", "f2")) is None  # another form
    result = await store.register(draft, claim=(uid, "care_reg", "f1"))
    assert result is not None and result.outcome is RegisterOutcome.CONFIRMED
    assert await store.get_state(uid) is None
    assert await store.register(draft, claim=(uid, "care_reg", "f1")) is None  # pressed twice


async def test_codes_counts_paging_and_checkin(store: Store) -> None:
    pid = await store.create_program(program(places=3, max_per_person=2))
    ids = await users(store, 4)
    regs = [
        (await store.register(RegistrationDraft(pid, uid, f"+8490000000{i}", f"N{i}", 1 + (i == 0)))).registration
        for i, uid in enumerate(ids)
    ]
    assert [r.status for r in regs] == [RegStatus.CONFIRMED, RegStatus.CONFIRMED, RegStatus.WAITING, RegStatus.WAITING]
    assert regs[0].code and regs[0].decided_at is not None and regs[2].code is None
    assert await store.registration_by_code(f" {regs[0].code.lower()} ") == regs[0]
    assert await store.registration_by_code("XXXXXXX") is None
    assert await store.get_registration(regs[1].id) == regs[1]
    assert await store.registrations_of_user(ids[2]) == [regs[2]]
    assert [r.id for r in await store.registrations(pid, status=RegStatus.WAITING)] == [regs[2].id, regs[3].id]
    page = await store.registrations(pid, after_id=regs[0].id, limit=2)
    assert [r.id for r in page] == [regs[1].id, regs[2].id]
    pages = [[r.id for r in p] async for p in store.export_registration_pages(pid, page_size=3)]
    assert pages == [[r.id for r in regs[:3]], [regs[3].id]]
    assert await store.waiting_position(regs[3].id) == 2 and await store.waiting_position(regs[0].id) is None

    assert (await store.checkin(pid, regs[2].code or "ZZZZZZZ")).outcome is CheckinOutcome.UNKNOWN
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    ok = await store.checkin(pid, regs[0].code.lower(), now=at)
    assert ok.outcome is CheckinOutcome.OK and ok.registration.checked_in_at == at
    again = await store.checkin(pid, regs[0].code)
    assert again.outcome is CheckinOutcome.ALREADY and again.registration.checked_in_at == at
    other = await store.create_program(program(title="Khác"))
    assert (await store.checkin(other, regs[0].code)).outcome is CheckinOutcome.UNKNOWN
    counts = await store.program_counts(pid)
    assert (counts.confirmed_seats, counts.confirmed, counts.waitlisted, counts.checked_in) == (3, 2, 2, 1)
    assert (counts.pending, counts.rejected) == (0, 0)
    assert (await store.program_counts(other)).confirmed == 0


async def test_review_decisions_queue_notices(store: Store) -> None:
    pid = await store.create_program(program(mode=ProgramMode.REVIEW, places=1, max_per_person=1))
    ids = await users(store, 3)
    regs = [
        (await store.register(RegistrationDraft(pid, uid, f"+8490000000{i}", f"N{i}", 1))).registration
        for i, uid in enumerate(ids)
    ]
    assert {r.status for r in regs} == {RegStatus.PENDING}
    assert (await store.program_counts(pid)).pending == 3
    approved = await store.decide_registration(regs[1].id, approve=True, reason=None)
    assert approved is not None and approved.status is RegStatus.CONFIRMED and approved.code
    assert await store.decide_registration(regs[1].id, approve=True, reason=None) is None  # decided already
    waiting = await store.decide_registration(regs[0].id, approve=True, reason=None)
    assert waiting is not None and waiting.status is RegStatus.WAITING and waiting.code is None
    rejected = await store.decide_registration(regs[2].id, approve=False, reason="Không đủ điều kiện")
    assert rejected is not None and rejected.status is RegStatus.REJECTED and rejected.reason == "Không đủ điều kiện"
    notices = {m.user_id: m for m in await store.pending_outbox()}
    assert notices[ids[1]].kind == "approved" and notices[ids[1]].params["code"] == approved.code
    assert notices[ids[1]].params["event_at"]  # an ISO time, as both backends write it
    assert notices[ids[0]].kind == "approved_waiting" and notices[ids[0]].params["position"] == 1
    assert notices[ids[2]].kind == "rejected" and notices[ids[2]].params == {
        "program": "Tàu Tết 2027",
        "reason": "Không đủ điều kiện",
    }
    # Cancelling the confirmed one promotes the approved-but-waiting one.
    promoted = await store.cancel_registration(approved.id, user_id=None)
    assert [r.id for r in promoted] == [waiting.id]
    assert await store.cancel_registration(approved.id, user_id=None) is None


async def test_concurrent_approvals_never_overbook(store: Store) -> None:
    pid = await store.create_program(program(mode=ProgramMode.REVIEW, places=2, max_per_person=1))
    ids = await users(store, 8)
    regs = [
        (await store.register(RegistrationDraft(pid, uid, f"+8490000000{i}", f"N{i}", 1))).registration
        for i, uid in enumerate(ids)
    ]
    other = same_database(store)
    await other.open()
    try:
        decided = await asyncio.gather(
            *((store, other)[i % 2].decide_registration(r.id, approve=True, reason=None) for i, r in enumerate(regs))
        )
    finally:
        await other.close()
    assert sorted(r.status for r in decided if r) == [RegStatus.CONFIRMED] * 2 + [RegStatus.WAITING] * 6
    assert (await store.program_counts(pid)).confirmed_seats == 2


async def test_cases_events_scope_and_notices(store: Store) -> None:
    a, b, org = await users(store, 3)
    first = await store.create_case(
        user_id=a,
        category=CaseCategory.WORK_ACCIDENT,
        description="Ngã giàn giáo",
        phone_e164="+84912000111",
        province_id="ho_chi_minh",
        consent_version="v1",
    )
    second = await store.create_case(
        user_id=b,
        category=CaseCategory.ILLNESS,
        description="Ốm",
        phone_e164="+84912000222",
        province_id="ha_noi",
        consent_version="v1",
    )
    assert first is not None and second is not None and second > first
    case = await store.get_case(first)
    assert case is not None and case.status is CaseStatus.RECEIVED and case.created_at == case.updated_at
    assert await store.get_case(999) is None
    assert [c.id for c in await store.list_cases(provinces=None)] == [second, first]
    assert [c.id for c in await store.list_cases(provinces=["ha_noi"])] == [second]
    assert await store.list_cases(provinces=[]) == []
    assert [c.id for c in await store.list_cases(provinces=None, before_id=second)] == [first]
    assert [c.id for c in await store.list_cases(provinces=None, limit=1)] == [second]
    assert [c.id for c in await store.cases_of_user(a)] == [first]

    contacted = await store.set_case_status(
        first, CaseStatus.CONTACTED, expected=CaseStatus.RECEIVED, note="Đã gọi", author_id=org
    )
    assert contacted is not None and contacted.status is CaseStatus.CONTACTED
    assert contacted.updated_at > case.updated_at
    declined = await store.set_case_status(
        second, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note=None, author_id=None
    )
    assert declined is not None
    assert (
        await store.set_case_status(999, CaseStatus.CLOSED, expected=CaseStatus.SUPPORTED, note=None, author_id=org)
        is None
    )
    assert [c.id for c in await store.list_cases(provinces=None, status=CaseStatus.DECLINED)] == [second]
    events = await store.case_events(first)
    assert [(e.status, e.author_id, e.note) for e in events] == [
        (CaseStatus.RECEIVED, a, None),
        (CaseStatus.CONTACTED, org, "Đã gọi"),
    ]
    assert [(m.kind, m.params) for m in await store.pending_outbox(a)] == [
        ("case_status", {"case": first, "status": "contacted"})
    ]
    assert [m.params for m in await store.pending_outbox(b)] == [{"case": second, "status": "declined", "reason": ""}]

    await store.set_state(a, "support", "consent", {"fid": "s1"})
    kw = dict(
        user_id=a,
        category=CaseCategory.OTHER,
        description="x",
        phone_e164="+84912000111",
        province_id="ho_chi_minh",
        consent_version="v1",
        claim=(a, "support", "s1"),
    )
    assert await store.create_case(**kw) is not None  # type: ignore[arg-type]
    assert await store.create_case(**kw) is None  # type: ignore[arg-type]  # submitted twice


async def test_outbox_leases_kinds_retries_and_two_senders(store: Store) -> None:
    a, b = await users(store, 2)
    for i in range(3):
        await store.create_case(
            user_id=a if i < 2 else b,
            category=CaseCategory.OTHER,
            description=f"c{i}",
            phone_e164="+84912000111",
            province_id="ho_chi_minh",
            consent_version="v1",
        )
    for case in await store.list_cases(provinces=None):
        await store.set_case_status(case.id, CaseStatus.CONTACTED, expected=case.status, note=None, author_id=None)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await store.claim_outbox(now=now, kinds=["reminder"]) == []
    assert await store.claim_outbox(now=now, kinds=[]) == []
    first = await store.claim_outbox(now=now, limit=2, lease_seconds=60)
    assert len(first) == 2 and [m.attempts for m in first] == [1, 1] and first[0].id < first[1].id
    rest = await store.claim_outbox(now=now)
    assert len(rest) == 1 and rest[0].id > first[1].id
    assert await store.claim_outbox(now=now + timedelta(seconds=59)) == []  # leased
    await store.mark_outbox_sent(first[0].id, ok=True, now=now)
    await store.mark_outbox_sent(first[1].id, ok=False, now=now, retry_at=now + timedelta(minutes=5))
    assert await store.claim_outbox(now=now + timedelta(minutes=1)) == []  # lease released, retry not due
    retried = await store.claim_outbox(now=now + timedelta(minutes=5))
    assert [(m.id, m.attempts) for m in retried] == [(first[1].id, 2)]
    expired = await store.claim_outbox(now=now + timedelta(minutes=30))  # every lease ran out
    assert sorted(m.id for m in expired) == sorted([rest[0].id, first[1].id])
    assert [m.id for m in await store.pending_outbox()] == sorted([first[1].id, rest[0].id])

    # Two senders at once on one database: every due notice goes to exactly one of them.
    for case in await store.list_cases(provinces=None):
        await store.set_case_status(case.id, CaseStatus.SUPPORTED, expected=case.status, note=None, author_id=None)
    other = same_database(store)
    await other.open()
    try:
        later = now + timedelta(hours=1)
        batches = await asyncio.gather(
            *(s.claim_outbox(now=later, limit=2) for s in (store, other, store, other, store, other))
        )
    finally:
        await other.close()
    claimed = [m.id for batch in batches for m in batch]
    assert len(claimed) == len(set(claimed)) == len(await store.pending_outbox())


async def test_forget_care_releases_places_and_purge_keeps_what_is_recent(store: Store) -> None:
    now = datetime.now(UTC)
    pid = await store.create_program(program(places=1, max_per_person=1))
    gone, stays, waits = await users(store, 3)
    await store.set_care_province(gone, "ha_noi")
    await store.register(RegistrationDraft(pid, gone, "+84900000001", "Đi", 1))
    await store.register(RegistrationDraft(pid, waits, "+84900000003", "Chờ", 1))
    await store.create_case(
        user_id=gone,
        category=CaseCategory.OTHER,
        description="x",
        phone_e164="+84900000001",
        province_id="ha_noi",
        consent_version="v1",
    )
    case = (await store.cases_of_user(gone))[0]
    await store.set_case_status(case.id, CaseStatus.CONTACTED, expected=case.status, note=None, author_id=stays)
    assert await store.forget_care(gone) == 1
    assert await store.pending_outbox(gone) == []
    [promoted] = await store.registrations(pid)
    assert promoted.user_id == waits and promoted.status is RegStatus.CONFIRMED
    assert [m.kind for m in await store.pending_outbox(waits)] == ["promoted"]
    await store.forget_user(gone)
    assert await store.list_cases(provinces=None) == [] and await store.care_province(gone) is None

    c = await store.create_case(
        user_id=stays,
        category=CaseCategory.OTHER,
        description="y",
        phone_e164="+84900000002",
        province_id="ha_noi",
        consent_version="v1",
    )
    nothing = await store.purge_care(
        programs_before=now - timedelta(days=1),
        cases_before=now - timedelta(days=1),
        outbox_before=now - timedelta(days=1),
    )
    assert nothing == {"registrations": 0, "cases": 0, "outbox": 0}
    later = now + timedelta(days=400)
    counts = await store.purge_care(programs_before=later, cases_before=later, outbox_before=later)
    assert counts == {"registrations": 1, "cases": 1, "outbox": 1}
    assert await store.get_case(c or 0) is None and await store.registrations(pid) == []


async def test_max_per_person_counts_an_accounts_phones_together(store: Store) -> None:
    """Found by an outside tester: one account held 2 of 3 places with two phones."""
    pid = await store.create_program(program(places=5, max_per_person=2))
    a, b = await users(store, 2)

    async def outcome(user: int, phone: str, seats: int) -> RegisterOutcome:
        result = await store.register(RegistrationDraft(pid, user, phone, "N", seats))
        assert result is not None
        return result.outcome

    assert await outcome(a, "+84900000001", 1) is RegisterOutcome.CONFIRMED
    assert await outcome(a, "+84900000002", 2) is RegisterOutcome.ACCOUNT_LIMIT
    assert await outcome(a, "+84900000002", 1) is RegisterOutcome.CONFIRMED
    assert await outcome(a, "+84900000003", 1) is RegisterOutcome.ACCOUNT_LIMIT
    assert await outcome(a, "+84900000001", 1) is RegisterOutcome.EXISTING  # its own registration, as before
    assert await outcome(b, "+84900000004", 2) is RegisterOutcome.CONFIRMED  # another account: its own limit
    assert (await store.program_counts(pid)).confirmed_seats == 4

    # A rejected registration holds no place and does not count.
    review = await store.create_program(program(mode=ProgramMode.REVIEW, max_per_person=1))
    first = await store.register(RegistrationDraft(review, a, "+84900000001", "N", 1))
    assert (await store.register(RegistrationDraft(review, a, "+84900000002", "N", 1))).outcome is (
        RegisterOutcome.ACCOUNT_LIMIT
    )
    await store.decide_registration(first.registration.id, approve=False, reason="x")
    assert (await store.register(RegistrationDraft(review, a, "+84900000002", "N", 1))).outcome is (
        RegisterOutcome.PENDING
    )


async def test_one_account_racing_with_many_phones_gets_max_per_person(store: Store) -> None:
    """The limit per account is taken in the same write transaction as the seats."""
    pid = await store.create_program(program(places=10, max_per_person=2))
    [uid] = await users(store, 1)
    others = [same_database(store), same_database(store)]
    for s in others:
        await s.open()
    try:
        stores = [store, *others]
        results = await asyncio.gather(
            *(stores[i % 3].register(RegistrationDraft(pid, uid, f"+8491200{i:04d}", "N", 1)) for i in range(8))
        )
    finally:
        for s in others:
            await s.close()
    outcomes = [r.outcome for r in results if r is not None]
    assert outcomes.count(RegisterOutcome.CONFIRMED) == 2
    assert outcomes.count(RegisterOutcome.ACCOUNT_LIMIT) == 6


async def test_undo_checkin_and_english_questions(store: Store) -> None:
    pid = await store.create_program(
        program(mode=ProgramMode.FIRST_COME, questions=("Quê ở đâu?",), questions_en=("Where is home?",))
    )
    got = await store.get_program(pid)
    assert got is not None and got.questions_en == ("Where is home?",)
    assert got.questions_in("en") == ("Where is home?",) and got.questions_in("vi") == ("Quê ở đâu?",)
    plain = await store.get_program(await store.create_program(program(questions=("Quê?",))))
    assert plain is not None and plain.questions_en == () and plain.questions_in("en") == ("Quê?",)

    other = await store.create_program(program())
    [uid] = await users(store, 1)
    reg = (await store.register(RegistrationDraft(pid, uid, "+84900000001", "A", 1))).registration
    assert reg is not None and reg.code is not None
    assert await store.undo_checkin(pid, reg.code) is None  # not checked in: nothing to undo
    assert (await store.checkin(pid, reg.code)).outcome is CheckinOutcome.OK
    assert await store.undo_checkin(other, reg.code) is None  # another program's
    undone = await store.undo_checkin(pid, reg.code.lower())
    assert undone is not None and undone.id == reg.id and undone.checked_in_at is None
    assert (await store.checkin(pid, reg.code)).outcome is CheckinOutcome.OK  # checked in again


async def test_a_number_registered_by_another_account_is_registered_and_flagged(store: Store) -> None:
    """An outside tester's find: registering with another worker's number answered "already
    registered", so anyone who knows the numbers (an employer's HR office) could learn who
    applied. A registration belongs to its account; a number shared by two accounts is
    registered like any other, and the officers see the pair through `same_phone`."""
    pid = await store.create_program(program(places=2, max_per_person=1))
    other = await store.create_program(program(title="Khác"))
    a, b, c, d = await users(store, 4)

    async def register(program_id: int, user: int, phone: str) -> RegisterResult:
        result = await store.register(RegistrationDraft(program_id, user, phone, "N", 1))
        assert result is not None
        return result

    first = await register(pid, a, "+84911222333")
    twin = await register(pid, b, "+84911222333")  # A's number, from B: the last place, as any number
    third = await register(pid, c, "+84911222333")  # and from C: the waiting list, position 1
    alone = await register(pid, d, "+84911222444")  # position 2
    elsewhere = await register(other, c, "+84911222333")  # another program: not a twin
    assert [r.outcome for r in (first, twin, third, alone)] == [
        RegisterOutcome.CONFIRMED,
        RegisterOutcome.CONFIRMED,
        RegisterOutcome.WAITING,
        RegisterOutcome.WAITING,
    ]
    assert (third.position, alone.position) == (1, 2)
    ids = [r.registration.id for r in (first, twin, third, alone)]
    assert len(set(ids)) == 4 and first.registration.code != twin.registration.code
    assert [r.phone_e164 for r in await store.registrations(pid)] == ["+84911222333"] * 3 + ["+84911222444"]

    # The same account with the same number: its own registration, refused as before.
    again = await register(pid, b, "+84911222333")
    assert again.outcome is RegisterOutcome.EXISTING and again.registration.id == ids[1]
    assert again.registration.user_id == b
    # The limit per account still holds, whatever the number.
    assert (await register(pid, b, "+84911222555")).outcome is RegisterOutcome.ACCOUNT_LIMIT
    assert len(await store.registrations(pid)) == 4

    # For the officers: each twin points at the others, in arrival order; a lone number,
    # another program's registration and ids not asked about are left out.
    assert await store.same_phone(pid, ids) == {
        ids[0]: (ids[1], ids[2]),
        ids[1]: (ids[0], ids[2]),
        ids[2]: (ids[0], ids[1]),
    }
    assert await store.same_phone(pid, [ids[1], ids[3]]) == {ids[1]: (ids[0], ids[2])}
    assert await store.same_phone(other, [elsewhere.registration.id]) == {}
    assert await store.same_phone(pid, [elsewhere.registration.id]) == {}  # not this program's
    assert await store.same_phone(pid, []) == {}

    # The waiting list and promotions take no notice of the number: A cancels, C (same
    # number) is promoted with a code of its own, then D moves up.
    promoted = await store.cancel_registration(ids[0], user_id=a)
    assert [r.id for r in promoted or []] == [ids[2]] and promoted[0].code not in (None, twin.registration.code)
    assert await store.waiting_position(ids[3]) == 1
    assert await store.same_phone(pid, ids) == {ids[1]: (ids[2],), ids[2]: (ids[1],)}
    assert (await store.checkin(pid, promoted[0].code)).outcome is CheckinOutcome.OK  # check-in is by code

    # Review mode (hardship gifts): both applications stand, pending, for the officers to call.
    review = await store.create_program(program(mode=ProgramMode.REVIEW, max_per_person=1))
    mine = await register(review, a, "+84911222333")
    theirs = await register(review, b, "+84911222333")
    assert (mine.outcome, theirs.outcome) == (RegisterOutcome.PENDING, RegisterOutcome.PENDING)
    rejected = await store.decide_registration(theirs.registration.id, approve=False, reason="Trùng người")
    assert rejected is not None
    # A rejected twin is still shown: the decision is part of the story.
    assert await store.same_phone(review, [mine.registration.id]) == {mine.registration.id: (rejected.id,)}


# The migrations that drop the phone's uniqueness in a program (0020 on SQLite, 0015 on PostgreSQL).
PHONE_NOT_UNIQUE = {"sqlite": 20, "postgres": 15}


@pytest.mark.parametrize("kind", BACKENDS)
async def test_the_migration_keeps_registrations_and_lets_a_second_account_use_a_number(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database with registrations from before: all of them are kept (ids, codes, check-
    ins, the waiting list), no id is handed out again, and a number already registered can
    then be registered by another account; the flag lookups have their index."""
    if kind == "sqlite":
        module, every, url = sqlite_module, sqlite_module.load_migrations(), str(tmp_path / "old.sqlite3")
    else:
        import storage.postgres.store as module  # type: ignore[no-redef]

        every = module.load_migrations()
    new = PHONE_NOT_UNIQUE[kind]
    assert [v for v, _, _ in every][-1] >= new and new in [v for v, _, _ in every]

    @asynccontextmanager
    async def opened(upto: int, where: str) -> AsyncIterator[Store]:
        monkeypatch.setattr(module, "load_migrations", lambda: [m for m in every if m[0] <= upto])
        if kind == "sqlite":
            store: Store = SQLiteStore(Path(where))
        else:
            from storage.postgres import PostgresStore

            store = PostgresStore(where)
        await store.open()
        try:
            yield store
        finally:
            await store.close()

    async def run(where: str) -> None:
        async with opened(new - 1, where) as old:
            assert await old.schema_version() == new - 1
            pid = await old.create_program(program(places=2, max_per_person=1))
            a, b, c, d = await users(old, 4)
            first = (await old.register(RegistrationDraft(pid, a, "+84911222333", "An", 1))).registration
            await old.register(RegistrationDraft(pid, b, "+84911222444", "Bình", 1))
            await old.register(RegistrationDraft(pid, c, "+84911222555", "Cúc", 1))  # waiting
            last = (await old.register(RegistrationDraft(pid, d, "+84911222666", "Dũng", 1))).registration
            await old.cancel_registration(last.id, user_id=d)  # the newest id is free now
            await old.checkin(pid, first.code)
            before = await old.registrations(pid)
        async with opened(every[-1][0], where) as store:
            assert await store.schema_version() == every[-1][0]
            assert await store.registrations(pid) == before
            assert await store.waiting_position(before[2].id) == 1
            twin = await store.register(RegistrationDraft(pid, d, "+84911222333", "Dũng", 1))
            assert twin is not None and twin.outcome is RegisterOutcome.WAITING and twin.position == 2
            assert twin.registration.id > last.id, "an id is never handed out twice"
            again = await store.register(RegistrationDraft(pid, a, "+84911222333", "An", 1))
            assert again is not None and again.outcome is RegisterOutcome.EXISTING
            assert await store.same_phone(pid, [first.id]) == {first.id: (twin.registration.id,)}
            # Links still act: erasing a worker's account erases their registrations.
            await store.forget_user(b)
            assert [r.id for r in await store.registrations(pid)] == [first.id, before[2].id, twin.registration.id]
            if isinstance(store, SQLiteStore):
                rows = await store.db.execute_fetchall(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'care_registrations'"
                )
                [[on]] = await store.db.execute_fetchall("PRAGMA foreign_keys")
                assert on == 1
            else:
                rows = await store.db.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'care_registrations'"
                )
            indexes = {r[0]: r[1] or "" for r in rows}
            assert "care_registrations_by_phone" in indexes
            assert "care_registrations_by_program" in indexes and "care_registrations_by_user" in indexes
            assert not any("UNIQUE" in sql.upper() and "PHONE" in sql.upper() for sql in indexes.values())
            if isinstance(store, SQLiteStore):  # SQLite's own unique indexes have no SQL: the code's
                unique = await store.db.execute_fetchall("PRAGMA index_list(care_registrations)")
                columns = [
                    [c["name"] for c in await store.db.execute_fetchall(f"PRAGMA index_info('{u['name']}')")]
                    for u in unique
                    if u["unique"]
                ]
                assert columns == [["code"]], columns

    if kind == "sqlite":
        await run(url)
    else:
        async with postgres_database() as pg_url:
            await run(pg_url)
