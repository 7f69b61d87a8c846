"""The console's part of the store contract (links, sessions, search, counts, exports,
paper imports): runs against every backend in BACKENDS."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import storage.postgres.console as pg_console
from storage import Role, Store
from storage.console import SignupCursor, SignupQuery
from storage.postgres import PostgresStore
from storage.signups import PAPER_CHANNEL, SignupDraft, SignupSource, SignupStatus
from tests.conftest import postgres_database
from tests.console_support import add_signup, person


def paper(phone: str, name: str = "Lê Văn Giấy", province: str = "hue") -> SignupDraft:
    return SignupDraft(
        full_name=name,
        phone_e164=phone,
        workplace="Nhà máy Giấy",
        province_id=province,
        commune="Phường 1",
        source=SignupSource.COLLECTED,
        volunteer_id=None,
        consent_version="v1",
        consent_lang="vi",
        consent_channel=PAPER_CHANNEL,
        owner_id=None,
    )


async def test_a_link_signs_in_once_and_expired_links_are_cleared(backend: Store) -> None:
    org = await person(backend, "100", Role.ORGANIZER)
    now = datetime.now(UTC)
    await backend.add_console_link("old", org.id, expires_at=now - timedelta(seconds=1))
    await backend.add_console_link("new", org.id, expires_at=now + timedelta(minutes=15))
    assert await backend.use_console_link("old", now=now) is None
    # Two tabs at once: exactly one signs in.
    results = await asyncio.gather(*(backend.use_console_link("new", now=now) for _ in range(5)))
    assert sorted(results, key=lambda r: r is None) == [org.id, None, None, None, None]
    assert await backend.use_console_link("unknown", now=now) is None


async def test_sessions_expire_when_idle_and_end_everywhere(backend: Store) -> None:
    org = await person(backend, "100", Role.ORGANIZER)
    other = await person(backend, "200", Role.ORGANIZER)
    await backend.add_console_session("h1", org.id, "c1")
    await backend.add_console_session("h2", org.id, "c2")
    await backend.add_console_session("h3", other.id, "c3")
    got = await backend.console_session("h1", idle_since=datetime.now(UTC) - timedelta(hours=8))
    assert got is not None and (got.user_id, got.csrf) == (org.id, "c1")
    # As if the last request was longer ago than the idle limit: the session is erased.
    assert await backend.console_session("h1", idle_since=datetime.now(UTC) + timedelta(seconds=1)) is None
    assert await backend.console_session("h1", idle_since=datetime.now(UTC) - timedelta(hours=8)) is None
    await backend.add_console_session("h4", org.id, "c4")
    await backend.end_console_session("h4")
    assert await backend.console_session("h4", idle_since=datetime.now(UTC) - timedelta(hours=8)) is None
    assert await backend.end_console_sessions(org.id) == 1  # h2
    assert await backend.end_console_sessions(org.id) == 0
    assert await backend.console_session("h3", idle_since=datetime.now(UTC) - timedelta(hours=8)) is not None
    await backend.forget_user(other.id)
    assert await backend.console_session("h3", idle_since=datetime.now(UTC) - timedelta(hours=8)) is None


async def test_search_by_text_phone_and_filters(backend: Store) -> None:
    an = await add_signup(backend, "Nguyễn Văn An", "+84912345678", workplace="Công ty May Hưng Yên")
    binh = await add_signup(backend, "Trần Thị Bình", "+84987654321", "hue", workplace="Samsung Điện tử")
    odd = await add_signup(backend, "100% Lan_Anh", "+84900000001", workplace="Xưởng 5")
    await backend.set_signup_status(binh, SignupStatus.JOINED)

    async def found(**kw: object) -> list[int]:
        query = SignupQuery(**{"provinces": None, **kw})  # type: ignore[arg-type]
        return [s.id for s in await backend.search_signups(query)]

    assert await found(text="Bình") == [binh]
    assert await found(text="samsung") == [binh], "case-insensitive for ASCII, as SQLite's LIKE"
    assert await found(text="may hưng") == [an]
    assert await found(text="%") == [odd] and await found(text="_") == [odd], "wildcards taken literally"
    assert await found(text="0% L") == [odd]
    assert await found(phone_e164="+84912345678") == [an]
    assert await found(status=SignupStatus.JOINED) == [binh]
    assert await found(provinces=frozenset({"hue"})) == [binh]
    assert await found(provinces=frozenset()) == []
    assert await found(source=SignupSource.SELF) == [odd, binh, an]
    assert await found(paper=True) == [] and await found(paper=False) == [odd, binh, an]
    assert await found(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert await found(until=datetime.now(UTC) + timedelta(hours=1)) == [odd, binh, an]
    assert await found(volunteer_code="v_nobody") == []
    # A real code finds exactly its volunteer's sign-ups, whichever way they came in.
    hoa, nam = await person(backend, "200", Role.VOLUNTEER), await person(backend, "201", Role.VOLUNTEER)
    await backend.create_volunteer_code(hoa.id, "v_hoa")
    await backend.create_volunteer_code(nam.id, "v_nam")
    theirs: dict[int, list[int]] = {hoa.id: [], nam.id: []}
    for i, (who, source) in enumerate(
        [(hoa, SignupSource.REFERRAL), (nam, SignupSource.REFERRAL), (hoa, SignupSource.COLLECTED)]
    ):
        draft = SignupDraft(
            f"Người {i}", f"+8491100000{i}", "Cty", "ha_noi", None, source, who.id, "v1", "vi", "telegram", None
        )
        result = await backend.submit_signup(draft)
        assert result is not None
        theirs[who.id].append(result.signup_id)
    assert await found(volunteer_code="v_hoa") == theirs[hoa.id][::-1]
    assert await found(volunteer_code="v_nam") == theirs[nam.id]
    assert await backend.count_signups(SignupQuery(None, volunteer_code="v_hoa")) == 2


async def test_sorting_keyset_pages_and_capped_counts(backend: Store) -> None:
    made = [
        await add_signup(backend, f"Người {i:03d}", f"+849123{i:05d}", "ha_noi" if i % 2 else "hue")
        for i in range(1, 26)
    ]
    # Byte order, as SQLite's: capitals before small letters, plain before accented.
    lower = await add_signup(backend, "an", "+84900000002")
    upper = await add_signup(backend, "Zoe", "+84900000003")
    accented = await add_signup(backend, "Ánh", "+84900000004")
    everyone = SignupQuery(None)

    newest = await backend.search_signups(everyone, limit=10)
    assert [s.id for s in newest] == [accented, upper, lower, *made[::-1][:7]]
    older = await backend.search_signups(everyone, after=SignupCursor(newest[-1].id), limit=10)
    assert [s.id for s in older] == made[::-1][7:17]
    old_first = SignupQuery(frozenset({"hue"}), sort="old")
    page = await backend.search_signups(old_first, limit=3)
    assert [s.id for s in page] == [made[1], made[3], made[5]]
    page = await backend.search_signups(old_first, after=SignupCursor(page[-1].id), limit=3)
    assert [s.id for s in page] == [made[7], made[9], made[11]]

    by_name = SignupQuery(None, sort="name")
    first = await backend.search_signups(by_name, limit=4)
    assert [s.full_name for s in first] == ["Người 001", "Người 002", "Người 003", "Người 004"]
    nxt = await backend.search_signups(by_name, after=SignupCursor(first[-1].id, first[-1].full_name), limit=3)
    assert [s.id for s in nxt] == made[4:7]
    tail = await backend.search_signups(by_name, after=SignupCursor(made[-1], "Người 025"), limit=10)
    assert [s.id for s in tail] == [upper, lower, accented]

    assert await backend.count_signups(everyone) == 28
    assert await backend.count_signups(everyone, cap=5) == 6
    assert await backend.count_signups(SignupQuery(frozenset({"hue"}))) == 12
    assert await backend.count_signups(SignupQuery(frozenset())) == 0


async def test_query_exports_page_by_id_with_notes(backend: Store) -> None:
    ids = [
        await add_signup(backend, f"Người {i}", f"+8491234{i:04d}", "hue" if i % 3 == 0 else "ha_noi")
        for i in range(12)
    ]
    await backend.add_signup_note(ids[0], None, "một")
    await backend.add_signup_note(ids[0], None, "hai")
    await backend.add_signup_note(ids[3], None, "ba")
    pages = [p async for p in backend.export_query_pages(SignupQuery(frozenset({"hue"})), page_size=3)]
    assert [len(p) for p in pages] == [3, 1]
    flat = [e for p in pages for e in p]
    assert [e.id for e in flat] == [ids[0], ids[3], ids[6], ids[9]]
    assert [e.notes for e in flat] == ["một\nhai", "ba", None, None]
    assert flat[0].created_at.tzinfo is not None and flat[0].source == "self" and flat[0].status == "new"
    texts = [e.id async for p in backend.export_query_pages(SignupQuery(None, text="người 1"), page_size=2) for e in p]
    assert texts == [ids[1], ids[10], ids[11]]
    assert [p async for p in backend.export_query_pages(SignupQuery(frozenset()))] == []


async def test_paper_imports_keep_known_numbers_and_their_dates(backend: Store) -> None:
    known = await add_signup(backend, "Đã có", "+84911111111")
    signed = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    rows = [
        (paper("+84911111111"), signed),
        (paper("+84922222222", "Một"), signed),
        (paper("+84933333333", "Hai"), signed + timedelta(days=1)),
        (paper("+84922222222", "Một lần nữa"), signed),
    ]
    assert await backend.known_phones([r[0].phone_e164 for r in rows]) == {"+84911111111"}
    assert await backend.known_phones([]) == set()
    outcome = await backend.import_signups(rows)
    assert (outcome.created, outcome.known) == (2, 2)
    assert await backend.import_signups([]) == type(outcome)(0, 0)
    kept = await backend.get_signup(known)
    assert kept is not None and kept.full_name == "Đã có" and kept.consent_channel == "telegram"
    imported = await backend.search_signups(SignupQuery(None, paper=True, sort="old"))
    assert [(s.full_name, s.created_at, s.consent_at) for s in imported] == [
        ("Một", signed, signed),
        ("Hai", signed + timedelta(days=1), signed + timedelta(days=1)),
    ]
    assert imported[0].id < imported[1].id and imported[0].user_id is None
    assert imported[0].last_contact_at > signed, "retention runs from the import"
    assert await backend.known_phones(["+84922222222", "+84944444444"]) == {"+84922222222"}


async def test_an_import_and_submissions_of_the_same_numbers_at_once_all_succeed(backend: Store) -> None:
    phones = [f"+849555{i:05d}" for i in range(40)]
    rows = [(paper(p), datetime(2025, 1, 1, tzinfo=UTC)) for p in phones]
    results = await asyncio.gather(
        backend.import_signups(rows[:20]),
        *(add_signup(backend, "Tự đăng ký", p) for p in phones[10:30]),
        backend.import_signups(rows[20:]),
    )
    imported = results[0].created + results[-1].created  # type: ignore[union-attr]
    assert await backend.count_signups(SignupQuery(None)) == 40
    assert imported == await backend.count_signups(SignupQuery(None, paper=True))


# -- PostgreSQL: the search's distinct names and workplaces ---------------------------------


async def test_postgres_search_terms_follow_the_sign_ups_and_go_with_a_forgotten_name() -> None:
    async with postgres_database() as url:
        store = PostgresStore(url)
        await store.open()
        try:

            async def terms() -> set[str]:
                return {r[0] for r in await store.db.fetch("SELECT term FROM signup_terms")}

            only = await add_signup(store, "Nguyễn Văn Duy Nhất", "+84912345601", workplace="Xưởng Chung")
            await add_signup(store, "Trần Thị Chung", "+84912345602", workplace="Xưởng Chung")
            assert await terms() == {"Nguyễn Văn Duy Nhất", "Trần Thị Chung", "Xưởng Chung"}
            await store.set_signup_status(only, SignupStatus.CONTACTED)
            assert await terms() == {"Nguyễn Văn Duy Nhất", "Trần Thị Chung", "Xưởng Chung"}
            await store.db.execute("UPDATE signups SET full_name = 'Nguyễn Văn Đổi Tên' WHERE id = $1", only)
            assert await terms() == {"Nguyễn Văn Đổi Tên", "Trần Thị Chung", "Xưởng Chung"}
            assert await store.forget_signup_by_phone("+84912345601") is not None
            assert await terms() == {"Trần Thị Chung", "Xưởng Chung"}, "the workplace is still someone's"
            everyone = SignupQuery(None, text="chung")
            assert [s.full_name for s in await store.search_signups(everyone)] == ["Trần Thị Chung"]
            assert await store.purge_signups(last_contact_before=datetime.now(UTC) + timedelta(hours=1)) == 1
            assert await terms() == set()
            await add_signup(store, "Lê Văn Cắt", "+84912345603")
            await store.db.execute("TRUNCATE signups CASCADE")  # as `unionbot db copy --force` empties a target
            assert await terms() == set()
        finally:
            await store.close()


async def test_postgres_a_text_matching_many_names_finds_the_same_sign_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over _TERMS_ARRAY_LIMIT matching values the query looks them up itself: same answers.
    async with postgres_database() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            ids = [
                await add_signup(store, f"Nguyễn Văn {i}", f"+849123450{i:02d}", "hue" if i % 2 else "ha_noi")
                for i in range(10)
            ]
            await add_signup(store, "Trần Thị Khác", "+84912345699", workplace="Nhà máy Khác")
            queries = [SignupQuery(None, text="nguyễn"), SignupQuery(frozenset({"hue"}), text="văn", sort="name")]

            async def answers() -> list[object]:
                got: list[object] = []
                for q in queries:
                    got.append([s.id for s in await store.search_signups(q, limit=4)])
                    got.append(await store.count_signups(q, cap=3))
                    got.append([e.id async for page in store.export_query_pages(q, page_size=3) for e in page])
                return got

            as_array = await answers()
            assert as_array[:3] == [ids[::-1][:4], 4, ids]
            monkeypatch.setattr(pg_console, "_TERMS_ARRAY_LIMIT", 2)
            assert await answers() == as_array
        finally:
            await store.close()
