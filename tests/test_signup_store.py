"""The sign-up part of the store contract: runs against every backend in BACKENDS."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import Store
from storage.signups import FormClaim, SignupDraft, SignupSource, SignupStatus, SubmitOutcome


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
