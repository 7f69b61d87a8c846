"""The sign-up part of the store contract: runs against every backend in BACKENDS."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import Store
from storage.signups import (
    ErasureOutcome,
    ErasureRequester,
    ErasureStatus,
    FormClaim,
    SignupDraft,
    SignupSource,
    SignupStatus,
    SubmitOutcome,
)


def draft(
    phone: str = "+84912345678",
    *,
    owner: int | None = None,
    province: str = "ho_chi_minh",
    name: str = "Nguyễn Thị Ánh",
    source: SignupSource = SignupSource.SELF,
    volunteer: int | None = None,
) -> SignupDraft:
    return SignupDraft(
        full_name=name,
        phone_e164=phone,
        workplace="Công ty TNHH Sợi Thế Kỷ",
        province_id=province,
        commune=None,
        source=source,
        volunteer_id=volunteer,
        consent_version="v1",
        consent_lang="vi",
        consent_channel="telegram",
        owner_id=owner,
    )


async def user(store: Store, external_id: str) -> int:
    return (await store.touch_user("telegram", external_id, language="vi")).id


async def test_submit_creates_then_updates_for_the_same_owner(backend: Store) -> None:
    u = await user(backend, "1")
    first = await backend.submit_signup(draft(owner=u))
    assert first is not None and first.outcome is SubmitOutcome.CREATED
    again = await backend.submit_signup(draft(owner=u, name="Nguyễn Thị Ánh Hồng", province="dong_nai"))
    assert again is not None and again.outcome is SubmitOutcome.UPDATED
    assert (again.signup_id, again.previous_province_id) == (first.signup_id, "ho_chi_minh")
    s = await backend.get_signup(first.signup_id)
    assert s is not None and (s.full_name, s.province_id, s.user_id) == ("Nguyễn Thị Ánh Hồng", "dong_nai", u)


async def test_one_sign_up_per_account_follows_a_new_number(backend: Store) -> None:
    u = await user(backend, "1")
    first = await backend.submit_signup(draft(owner=u))
    moved = await backend.submit_signup(draft("+84987654321", owner=u))
    assert moved is not None and moved.outcome is SubmitOutcome.UPDATED and moved.signup_id == first.signup_id
    assert [s.phone_e164 for s in await backend.list_signups(provinces=None)] == ["+84987654321"]


async def test_another_account_replaces_and_never_inherits(backend: Store) -> None:
    a, b = await user(backend, "a"), await user(backend, "b")
    old = await backend.submit_signup(draft(owner=a))
    await backend.set_signup_status(old.signup_id, SignupStatus.JOINED)
    await backend.add_signup_note(old.signup_id, None, "note")
    b_old = await backend.submit_signup(draft("+84987654321", owner=b))
    new = await backend.submit_signup(draft(owner=b))
    assert new is not None and new.outcome is SubmitOutcome.CLAIMED and new.replaced_id == old.signup_id
    assert new.signup_id not in {old.signup_id, b_old.signup_id}, "ids are never reused"
    items = await backend.list_signups(provinces=None)
    assert [(s.id, s.user_id, s.status) for s in items] == [(new.signup_id, b, SignupStatus.NEW)]
    assert await backend.signup_notes(new.signup_id) == []
    assert await backend.signup_of_user(a) is None


async def test_collected_sign_ups(backend: Store) -> None:
    v, w = await user(backend, "vol"), await user(backend, "w")
    code = await backend.create_volunteer_code(v, "v_AAAAAAAAAAAA")
    got = await backend.submit_signup(draft(source=SignupSource.COLLECTED, volunteer=v))
    s = await backend.get_signup(got.signup_id)
    assert (s.user_id, s.volunteer_id, s.volunteer_code) == (None, v, code)
    # A volunteer collecting a known number: nothing changes; the attempt is recorded.
    await backend.set_signup_status(got.signup_id, SignupStatus.CONTACTED)
    before = await backend.get_signup(got.signup_id)
    again = await backend.submit_signup(
        draft(name="Nguyễn Ánh", province="ha_noi", source=SignupSource.COLLECTED, volunteer=v)
    )
    assert again.outcome is SubmitOutcome.KNOWN and again.signup_id == got.signup_id
    assert again.province_id == before.province_id and again.previous_province_id is None
    assert await backend.get_signup(got.signup_id) == before
    assert len(await backend.collect_submissions(v)) == 2
    audit = await backend.list_audit(action="signup.collect")
    assert [(e.actor_id, e.details["outcome"]) for e in audit] == [(v, "known"), (v, "created")]
    # The worker signs up in the bot: their account takes it over (fresh).
    mine = await backend.submit_signup(draft(owner=w))
    assert mine.outcome is SubmitOutcome.CLAIMED
    assert (await backend.signup_of_user(w)).source is SignupSource.SELF


async def test_form_claim_is_consumed_once(backend: Store) -> None:
    u = await user(backend, "1")
    await backend.set_state(u, "join", "review", {"fid": "abc123"})
    claim = FormClaim(u, "join", "abc123")
    results = await asyncio.gather(*(backend.submit_signup(draft(owner=u), form=claim) for _ in range(5)))
    assert sum(r is not None for r in results) == 1
    assert await backend.get_state(u) is None
    await backend.set_state(u, "join", "review", {"fid": "other"})
    assert await backend.submit_signup(draft(owner=u), form=claim) is None
    assert (await backend.get_state(u)) is not None, "another form is left alone"


async def test_many_concurrent_submissions(backend: Store) -> None:
    users = [await user(backend, str(i)) for i in range(100)]
    results = await asyncio.gather(
        *(backend.submit_signup(draft(f"+849120{i:05d}", owner=u)) for i, u in enumerate(users)),
        *(backend.submit_signup(draft("+84900000000", source=SignupSource.COLLECTED)) for _ in range(20)),
    )
    assert all(r is not None for r in results)
    assert len(await backend.list_signups(provinces=None, limit=1000)) == 101


async def test_listing_filters_and_pages(backend: Store) -> None:
    ids = []
    for i in range(5):
        r = await backend.submit_signup(draft(f"+8491200000{i}", province="ha_noi" if i % 2 else "ho_chi_minh"))
        ids.append(r.signup_id)
    await backend.set_signup_status(ids[0], SignupStatus.JOINED)
    assert [s.id for s in await backend.list_signups(provinces=None, limit=2)] == [ids[4], ids[3]]
    assert [s.id for s in await backend.list_signups(provinces=None, before_id=ids[3], limit=2)] == [ids[2], ids[1]]
    assert [s.id for s in await backend.list_signups(provinces={"ha_noi"})] == [ids[3], ids[1]]
    assert [s.id for s in await backend.list_signups(provinces=None, status=SignupStatus.JOINED)] == [ids[0]]
    assert await backend.list_signups(provinces=frozenset()) == []
    assert await backend.export_signups(provinces=frozenset()) == []
    assert await backend.signup_facts(provinces=frozenset()) == []


async def test_notes_status_and_export(backend: Store) -> None:
    r = await backend.submit_signup(draft())
    assert await backend.set_signup_status(r.signup_id, SignupStatus.CONTACTED) is SignupStatus.NEW
    assert await backend.set_signup_status(999, SignupStatus.CONTACTED) is None
    assert await backend.add_signup_note(999, None, "x") is None
    await backend.add_signup_note(r.signup_id, None, "thứ nhất")
    await backend.add_signup_note(r.signup_id, None, "thứ hai, có dấu phẩy | và gạch")
    assert [n.text for n in await backend.signup_notes(r.signup_id)] == ["thứ nhất", "thứ hai, có dấu phẩy | và gạch"]
    other = await backend.submit_signup(draft("+84987654321", province="ha_noi"))
    await backend.add_signup_note(other.signup_id, None, "khác")
    exported = await backend.export_signups(provinces={"ho_chi_minh"})
    assert [(e.id, e.notes) for e in exported] == [(r.signup_id, "thứ nhất\nthứ hai, có dấu phẩy | và gạch")]
    assert len(await backend.export_signups(provinces=None)) == 2


async def test_facts_by_time_volunteer_and_province(backend: Store) -> None:
    v = await user(backend, "vol")
    await backend.submit_signup(draft(source=SignupSource.REFERRAL, volunteer=v))
    await backend.submit_signup(draft("+84987654321", province="ha_noi"))
    now = datetime.now(UTC)
    assert len(await backend.signup_facts()) == 2
    assert [f.province_id for f in await backend.signup_facts(volunteer_id=v)] == ["ho_chi_minh"]
    assert len(await backend.signup_facts(since=now - timedelta(hours=1), until=now + timedelta(hours=1))) == 2
    assert await backend.signup_facts(since=now + timedelta(hours=1)) == []
    assert [f.province_id for f in await backend.signup_facts(provinces={"ha_noi"})] == ["ha_noi"]


async def test_volunteer_codes(backend: Store) -> None:
    v = await user(backend, "vol")
    assert await backend.volunteer_code(v) is None
    first = await backend.create_volunteer_code(v, "v_111111111111")
    assert await backend.create_volunteer_code(v, "v_222222222222") == first
    assert await backend.volunteer_by_code(first) == v
    assert await backend.volunteer_by_code("v_222222222222") is None


async def test_scopes_and_targets(backend: Store) -> None:
    o, admin = await user(backend, "o"), await user(backend, "admin")
    await backend.add_organizer_provinces(o, ["ho_chi_minh", "ha_noi", "ha_noi"], admin)
    await backend.remove_organizer_provinces(o, ["ha_noi", "hue"])
    assert await backend.organizer_provinces(o) == {"ho_chi_minh"}
    await backend.set_signup_target("ho_chi_minh", 2025, 100, admin)
    await backend.set_signup_target("ho_chi_minh", 2025, 7965, o)
    await backend.set_signup_target("ha_noi", 2025, 50, o)
    assert await backend.signup_targets(2025) == {"ho_chi_minh": 7965, "ha_noi": 50}
    assert await backend.signup_targets(2025, provinces={"ha_noi"}) == {"ha_noi": 50}
    assert await backend.signup_targets(2026) == {}


async def test_erasure_by_phone(backend: Store) -> None:
    owner = await user(backend, "owner")
    vol = await user(backend, "vol")
    owned = await backend.submit_signup(draft(owner=owner))
    collected = await backend.submit_signup(draft("+84987654321", source=SignupSource.COLLECTED, volunteer=vol))
    await backend.set_state(vol, "collect", "workplace", {"fid": "x", "phone": "+84987654321"})
    assert await backend.forget_signup_by_phone("+84912345678") is None, "owned: not by phone"
    assert await backend.forget_signup_by_phone("+84987654321", form_flows=("collect",)) == (
        collected.signup_id,
        "ho_chi_minh",
    )
    assert await backend.get_state(vol) is None
    assert await backend.forget_signup_by_phone("+84912345678", include_owned=True) == (owned.signup_id, "ho_chi_minh")
    assert await backend.list_signups(provinces=None) == []


def _asking(external_id: str = "stranger") -> ErasureRequester:
    return ErasureRequester("telegram", external_id)


async def _age_erasure_requests(backend, *, days: int) -> datetime:  # type: ignore[no-untyped-def]
    """Every erasure request made `days` ago, on either backend; that moment."""
    old = datetime.now(UTC) - timedelta(days=days)
    if hasattr(backend, "pool"):
        await backend.db.execute("UPDATE signup_erasure_requests SET created_at = $1", old)
    else:
        await backend.db.execute("UPDATE signup_erasure_requests SET created_at = ?", (old.isoformat(),))
    return old


async def _request(backend: Store, phone: str, who: ErasureRequester, requester_id: int, limit: int = 3):  # type: ignore[no-untyped-def]
    since = datetime.now(UTC) - timedelta(hours=24)
    return await backend.request_signup_erasure(phone, who, requester_id=requester_id, limit=limit, since=since)


async def test_erasure_request_is_confirmed_by_an_officer(backend: Store) -> None:
    """Finding 1: a number is no proof. A request erases nothing; an officer's confirmation
    erases the sign-up (and a volunteer's form with its number) and closes every request
    for it; it names nobody to tell (the requesters are never told the outcome)."""
    vol, stranger, other, officer = [await user(backend, n) for n in ("vol", "stranger", "other", "officer")]
    collected = await backend.submit_signup(
        draft("+84911222333", source=SignupSource.COLLECTED, volunteer=vol, province="bac_ninh")
    )
    assert collected is not None
    await backend.set_state(vol, "collect", "workplace", {"fid": "x", "phone": "+84911222333"})
    first = await _request(backend, "+84911222333", _asking(), stranger)
    assert first.outcome is ErasureOutcome.FILED
    assert (first.signup_id, first.province_id) == (collected.signup_id, "bac_ninh")
    again = await _request(backend, "+84911222333", _asking(), stranger)
    assert again.outcome is ErasureOutcome.PENDING and again.request_id not in {None, first.request_id}
    assert again.request_id is not None
    repeat = await backend.get_erasure_request(again.request_id)
    assert repeat is not None and (repeat.status, repeat.signup_id) == (ErasureStatus.NONE, None), "counted only"
    second = await _request(backend, "+84911222333", _asking("other"), other)
    assert second.outcome is ErasureOutcome.FILED and second.request_id != first.request_id
    assert await backend.get_signup(collected.signup_id) is not None, "a request erases nothing"

    assert first.request_id is not None
    request = await backend.get_erasure_request(first.request_id)
    assert request is not None and request.status is ErasureStatus.OPEN
    assert (request.province_id, request.phone_e164) == ("bac_ninh", "+84911222333")
    assert [r.id for r in await backend.open_erasure_requests(provinces={"bac_ninh"})] == [
        first.request_id,
        second.request_id,
    ]
    assert await backend.open_erasure_requests(provinces={"ha_noi"}) == []
    assert await backend.open_erasure_requests(provinces=frozenset()) == []

    decision = await backend.decide_signup_erasure(
        first.request_id, confirm=True, decided_by=officer, form_flows=("collect",)
    )
    assert decision is not None and decision.erased
    assert decision.request.phone_e164 == "+84911222333"
    assert not hasattr(decision, "notify"), "nobody to tell"
    assert await backend.get_signup(collected.signup_id) is None
    assert await backend.get_state(vol) is None
    assert await backend.open_erasure_requests(provinces=None) == []
    done = await backend.get_erasure_request(first.request_id)
    assert done is not None and done.status is ErasureStatus.CONFIRMED and done.decided_by == officer
    assert second.request_id is not None
    also = await backend.get_erasure_request(second.request_id)
    assert also is not None and also.status is ErasureStatus.CONFIRMED, "every open request for it closed"
    assert done.phone_e164 is None, "no number kept once the sign-up is gone"
    assert await backend.decide_signup_erasure(first.request_id, confirm=True, decided_by=officer) is None


async def test_erasure_request_rejected_keeps_the_sign_up(backend: Store) -> None:
    owner, stranger, officer = [await user(backend, n) for n in ("owner", "stranger", "officer")]
    owned = await backend.submit_signup(draft(owner=owner))
    assert owned is not None
    filed = await _request(backend, "+84912345678", _asking(), stranger)
    assert filed.outcome is ErasureOutcome.FILED and filed.request_id is not None
    decision = await backend.decide_signup_erasure(filed.request_id, confirm=False, decided_by=officer)
    assert decision is not None and not decision.erased
    assert await backend.get_signup(owned.signup_id) is not None
    rejected = await backend.get_erasure_request(filed.request_id)
    assert rejected is not None and rejected.status is ErasureStatus.REJECTED
    assert await backend.decide_signup_erasure(filed.request_id, confirm=True, decided_by=officer) is None
    assert await backend.get_signup(owned.signup_id) is not None


async def test_erasure_requests_count_every_attempt_and_expire(backend: Store) -> None:
    owner, stranger = await user(backend, "owner"), await user(backend, "stranger")
    await backend.submit_signup(draft(owner=owner))
    # The owner's own number and an unknown one: no request, but the attempt counts.
    mine = await _request(backend, "+84912345678", _asking("owner"), owner)
    assert mine.outcome is ErasureOutcome.NO_SIGNUP
    nobody = await _request(backend, "+84900000009", _asking(), stranger, limit=2)
    assert nobody.outcome is ErasureOutcome.NO_SIGNUP and nobody.signup_id is None
    assert (await _request(backend, "+84912345678", _asking(), stranger, limit=2)).outcome is ErasureOutcome.FILED
    # The limit is per chat address, whatever account it has now (/forget erases accounts).
    assert (await _request(backend, "+84912345678", _asking(), 999_999, limit=2)).outcome is ErasureOutcome.THROTTLED
    assert (
        len(await backend.erasure_requests_by("telegram", "stranger", since=datetime.now(UTC) - timedelta(days=1))) == 2
    )
    assert (
        await backend.erasure_requests_by("telegram", "stranger", since=datetime.now(UTC) + timedelta(seconds=1)) == []
    )
    # Retention: requests older than ERASURE_REQUEST_TTL go with the daily purge.
    old = await _age_erasure_requests(backend, days=31)
    await backend.purge_signups(last_contact_before=datetime.now(UTC) - timedelta(days=1))
    assert await backend.erasure_requests_by("telegram", "stranger", since=old - timedelta(days=1)) == []
    assert len(await backend.list_signups(provinces=None)) == 1


async def test_repeated_requests_count_the_same_whether_the_number_signed_up(backend: Store) -> None:
    """Review: a repeat for a sign-up the chat already asked about wrote no row, while a
    number with no sign-up wrote one each time, so only unknown numbers reached the limit
    and /mydata listed different counts. Every attempt writes one row now."""
    vol = await user(backend, "vol")
    await backend.submit_signup(draft("+84911222333", source=SignupSource.COLLECTED, volunteer=vol))
    seen = {}
    for phone, chat in (("+84911222333", "asks_collected"), ("+84900000009", "asks_unknown")):
        asker = await user(backend, chat)  # a fresh chat for each number
        outcomes = [(await _request(backend, phone, _asking(chat), asker)).outcome for _ in range(4)]
        listed = await backend.erasure_requests_by("telegram", chat, since=datetime.now(UTC) - timedelta(days=1))
        seen[chat] = (outcomes, len(listed))
    assert seen["asks_collected"] == (
        [ErasureOutcome.FILED, ErasureOutcome.PENDING, ErasureOutcome.PENDING, ErasureOutcome.THROTTLED],
        3,
    )
    assert seen["asks_unknown"] == ([ErasureOutcome.NO_SIGNUP] * 3 + [ErasureOutcome.THROTTLED], 3)
    [open_one] = await backend.open_erasure_requests(provinces=None)
    assert open_one.requester.external_id == "asks_collected", "one request for the officers, not one per repeat"


async def test_an_erasure_request_id_is_never_given_twice(backend: Store) -> None:
    """Review: SQLite gave request #1 again once the 30-day purge had emptied the table,
    so an officer's old "/erasure 1 xoa" would erase another worker's sign-up."""
    stranger = await user(backend, "stranger")
    await backend.submit_signup(draft("+84911222333", source=SignupSource.COLLECTED))
    first = await _request(backend, "+84911222333", _asking(), stranger)
    assert first.outcome is ErasureOutcome.FILED and first.request_id is not None
    await _age_erasure_requests(backend, days=31)
    await backend.purge_signups(last_contact_before=datetime.now(UTC) - timedelta(days=1))
    assert await backend.get_erasure_request(first.request_id) is None, "the purge emptied the table"
    await backend.submit_signup(draft("+84987654321", source=SignupSource.COLLECTED, province="ha_noi"))
    later = await _request(backend, "+84987654321", _asking("other"), await user(backend, "other"))
    assert later.outcome is ErasureOutcome.FILED and later.request_id is not None
    assert later.request_id > first.request_id


async def test_account_deletion_cascades_and_volunteer_leaving_keeps_the_sign_up(backend: Store) -> None:
    w, v, o = await user(backend, "w"), await user(backend, "v"), await user(backend, "o")
    await backend.create_volunteer_code(v, "v_333333333333")
    mine = await backend.submit_signup(draft(owner=w, source=SignupSource.REFERRAL, volunteer=v))
    collected = await backend.submit_signup(draft("+84987654321", source=SignupSource.COLLECTED, volunteer=v))
    await backend.add_signup_note(collected.signup_id, o, "by o")
    await backend.add_organizer_provinces(o, ["ha_noi"], None)
    await backend.set_signup_target("ha_noi", 2025, 5, o)
    await backend.forget_user(v)
    kept = await backend.get_signup(collected.signup_id)
    assert kept is not None and (kept.volunteer_id, kept.volunteer_code) == (None, None)
    await backend.forget_user(o)
    assert [n.author_id for n in await backend.signup_notes(collected.signup_id)] == [None]
    assert await backend.signup_targets(2025) == {"ha_noi": 5}
    await backend.forget_user(w)
    assert await backend.get_signup(mine.signup_id) is None


async def test_retention_purges(backend: Store) -> None:
    u = await user(backend, "u")
    await backend.submit_signup(draft())
    await backend.set_state(u, "join", "phone", {"fid": "x", "name": "Lan"})
    await backend.set_state(await user(backend, "q"), "rights", "ask", {})
    future = datetime.now(UTC) + timedelta(seconds=1)
    assert await backend.purge_signups(last_contact_before=datetime.now(UTC) - timedelta(days=1)) == 0
    assert await backend.purge_forms(["join", "collect"], updated_before=future) == 1
    assert await backend.get_state(u) is None
    assert await backend.purge_signups(last_contact_before=future) == 1
    assert await backend.purge_forms([], updated_before=future) == 0


async def test_export_pages_follow_the_id_with_each_page_s_notes_and_the_scope(backend: Store) -> None:
    ids = []
    for i in range(23):
        out = await backend.submit_signup(draft(f"+8491234{i:04d}", province="ha_noi" if i % 3 else "hue"))
        assert out is not None
        ids.append(out.signup_id)
    await backend.add_signup_note(ids[0], None, "first")
    await backend.add_signup_note(ids[0], None, "second")
    await backend.add_signup_note(ids[22], None, "last")
    pages = [page async for page in backend.export_pages(provinces=None, page_size=5)]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    flat = [item for page in pages for item in page]
    assert [e.id for e in flat] == sorted(ids)
    notes = {e.id: e.notes for e in flat}
    assert notes[ids[0]] == "first\nsecond" and notes[ids[22]] == "last" and notes[ids[1]] is None
    assert flat[0].full_name == "Nguyễn Thị Ánh" and flat[0].source == "self" and flat[0].status == "new"
    hue = [e.province_id async for page in backend.export_pages(provinces={"hue"}, page_size=2) for e in page]
    assert hue == ["hue"] * 8
    assert [p async for p in backend.export_pages(provinces=frozenset())] == []


async def test_two_officers_deciding_one_sign_up_at_once(backend: Store) -> None:
    """Two requests for one sign-up confirmed at the same moment: one erasure, no deadlock."""
    a, b, officer = [await user(backend, n) for n in ("a", "b", "officer")]
    await backend.submit_signup(draft("+84911222333", source=SignupSource.COLLECTED))
    first = await _request(backend, "+84911222333", _asking("a"), a)
    second = await _request(backend, "+84911222333", _asking("b"), b)
    assert first.request_id is not None and second.request_id is not None
    decisions = await asyncio.gather(
        backend.decide_signup_erasure(first.request_id, confirm=True, decided_by=officer),
        backend.decide_signup_erasure(second.request_id, confirm=True, decided_by=officer),
    )
    done = [d for d in decisions if d is not None]
    assert len(done) == 1 and done[0].erased
    for request_id in (first.request_id, second.request_id):
        request = await backend.get_erasure_request(request_id)
        assert request is not None and request.status is ErasureStatus.CONFIRMED
    assert await backend.list_signups(provinces=None) == []
