"""The console's broadcasts page over the broadcast store and control the chat uses."""

from __future__ import annotations

import re

import pytest

from bot.console import app as console_module
from bot.console.security import RateLimit
from handlers.context import Services
from storage import Role, Store
from storage.broadcasts import Audience, BroadcastStatus, NewBroadcast
from storage.signups import SignupDraft, SignupSource
from tests.console_support import client_for, console_app, person, sign_in
from tests.fakes.broadcast_support import RecordingControl, RecordingSender, make_engine
from tests.fakes.telegram_api import tiny_png


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


async def workers(store: Store, n: int, province: str) -> None:
    for i in range(n):
        user = await store.touch_user("telegram", f"{province}-{i}", language="vi")
        await store.submit_signup(
            SignupDraft(
                full_name=f"Người {i}",
                phone_e164=f"+8491{abs(hash(province)) % 1000:03d}{i:04d}",
                workplace="Cty",
                province_id=province,
                commune=None,
                source=SignupSource.SELF,
                volunteer_id=None,
                consent_version="v1",
                consent_lang="vi",
                consent_channel="telegram",
                owner_id=user.id,
            )
        )


async def test_compose_preview_and_send_with_an_image_within_scope(services: Services, store: Store) -> None:
    control = RecordingControl()
    services.broadcast_control = control
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await workers(store, 3, "ha_noi")
    await workers(store, 2, "hue")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        fields = {"csrf": csrf, "text_vi": "Họp công đoàn <b>thứ Bảy</b>", "everyone": "1", "when": "now"}
        preview = await client.post(
            "/console/broadcasts/preview", data=fields, files={"photo": ("poster.png", tiny_png(), "image/png")}
        )
        assert preview.status_code == 200
        assert "Họp công đoàn &lt;b&gt;thứ Bảy&lt;/b&gt;" in preview.text
        assert re.search(r'id="audience-size">Số người nhận: 3\b', preview.text)
        assert "data:image/png;base64," in preview.text
        image_key = re.search(r'name="image" value="([^"]+)"', preview.text)
        assert image_key and image_key.group(1)
        # Another province is refused, never widened or silently narrowed.
        hue = await client.post("/console/broadcasts/preview", data={**fields, "provinces": "hue"})
        assert "tỉnh/thành phố bạn phụ trách" in hue.text
        bad = await client.post(
            "/console/broadcasts/preview", data=fields, files={"photo": ("x.png", b"not an image", "image/png")}
        )
        assert "không phải ảnh" in bad.text
        sent = await client.post("/console/broadcasts/create", data={**fields, "image": image_key.group(1)})
        assert sent.status_code == 303  # post/redirect/get: a reload cannot send it twice
        listing = await client.get(sent.headers["location"])
        assert "Đã tạo thông báo #" in listing.text and "Họp công đoàn" in listing.text
    [b] = await store.list_broadcasts()
    assert b.audience == Audience(everyone=True, provinces=("ha_noi",))
    assert b.photo_id is not None and (await store.get_photo(b.photo_id)).data == tiny_png()  # type: ignore[union-attr]
    assert control.changed_ids == [b.id]
    [entry] = await store.list_audit(action="broadcast.create")
    assert entry.actor_id == org.id and entry.details["via"] == "console" and entry.details["photo"] is True


async def test_pause_resume_cancel_and_other_provinces_broadcasts(services: Services, store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    control = RecordingControl()
    services.broadcast_control = control
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    later = datetime.now(UTC) + timedelta(days=1)
    mine = await store.create_broadcast(
        NewBroadcast("Tin Hà Nội", Audience(everyone=True, provinces=("ha_noi",)), later)
    )
    theirs = await store.create_broadcast(NewBroadcast("Tin Huế", Audience(everyone=True, provinces=("hue",)), later))
    national = await store.create_broadcast(NewBroadcast("Tin cả nước", Audience(everyone=True), later))
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        page = await client.get("/console/broadcasts")
        assert "Tin Hà Nội" in page.text and "Tin Huế" not in page.text and "Tin cả nước" not in page.text
        overview = (await client.get("/console/")).text
        assert "Tin Hà Nội" in overview and "Tin Huế" not in overview and "Tin cả nước" not in overview
        for other in (theirs, national):
            assert (await client.post(f"/console/broadcasts/{other.id}/cancel", data={"csrf": csrf})).status_code == 404
        paused = await client.post(f"/console/broadcasts/{mine.id}/pause", data={"csrf": csrf})
        assert paused.status_code == 303
        assert (await store.get_broadcast(mine.id)).status is BroadcastStatus.PAUSED  # type: ignore[union-attr]
        resumed = await client.post(f"/console/broadcasts/{mine.id}/resume", data={"csrf": csrf}, follow_redirects=True)
        assert "Đã tiếp tục" in resumed.text
        await client.post(f"/console/broadcasts/{mine.id}/cancel", data={"csrf": csrf})
        again = await client.post(f"/console/broadcasts/{mine.id}/pause", data={"csrf": csrf})
        assert "Không làm được" in again.text
        assert (await client.post(f"/console/broadcasts/{mine.id}/pause", data={})).status_code == 403
    assert (await store.get_broadcast(mine.id)).status is BroadcastStatus.CANCELLED  # type: ignore[union-attr]
    assert (await store.get_broadcast(theirs.id)).status is BroadcastStatus.SCHEDULED  # type: ignore[union-attr]
    assert control.changed_ids == [mine.id] * 3
    assert [e.action for e in await store.list_audit()][:3] == [
        "broadcast.cancel",
        "broadcast.resume",
        "broadcast.pause",
    ]


async def test_a_broadcast_narrowed_to_volunteers_reaches_only_volunteers(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    people = {
        ("telegram", "w1"): Role.WORKER,
        ("telegram", "w2"): Role.WORKER,
        ("telegram", "v1"): Role.VOLUNTEER,
        ("zalo_bot", "v2"): Role.VOLUNTEER,
        ("telegram", "o1"): Role.ORGANIZER,
    }
    for i, ((channel, external), role) in enumerate(people.items()):
        user = await store.touch_user(channel, external, language="vi")
        await store.set_role(user.id, role)
        await store.submit_signup(
            SignupDraft(
                f"Người {i}",
                f"+8491200{i:04d}",
                "Cty",
                "ha_noi",
                None,
                SignupSource.SELF,
                None,
                "v1",
                "vi",
                channel,
                user.id,
            )
        )
    # A volunteer of another province stays out: the role narrows, the scope still holds.
    away = await store.touch_user("telegram", "v-hue", language="vi")
    await store.set_role(away.id, Role.VOLUNTEER)
    await store.submit_signup(
        SignupDraft(
            "Người Huế", "+84912999999", "Cty", "hue", None, SignupSource.SELF, None, "v1", "vi", "telegram", away.id
        )
    )
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        form = await client.get("/console/broadcasts")
        assert (
            '<select name="role">' in form.text and '<option value="volunteer">tình nguyện viên</option>' in form.text
        )
        fields = {
            "csrf": csrf,
            "text_vi": "Tập huấn tình nguyện viên sáng Chủ nhật",
            "everyone": "1",
            "role": "volunteer",
        }
        preview = await client.post("/console/broadcasts/preview", data=fields)
        assert re.search(r'id="audience-size">Số người nhận: 2\b', preview.text)
        assert "telegram: 1" in preview.text and "zalo_bot: 1" in preview.text  # the size per channel
        assert "vai trò: tình nguyện viên" in preview.text
        assert '<option value="volunteer" selected>' in preview.text  # the choice survives the preview
        everyone = await client.post("/console/broadcasts/preview", data={**fields, "role": ""})
        assert re.search(r'id="audience-size">Số người nhận: 5\b', everyone.text)
        sent = await client.post("/console/broadcasts/create", data=fields)
        assert sent.status_code == 303
    [b] = await store.list_broadcasts()
    assert b.audience == Audience(everyone=True, provinces=("ha_noi",), roles=("volunteer",))
    senders = {"telegram": RecordingSender("telegram"), "zalo_bot": RecordingSender("zalo_bot")}
    report = await make_engine(store, senders).run(b.id)
    assert report.outcome == "done" and report.stats.sent == 2
    assert senders["telegram"].chats() == ["v1"] and senders["zalo_bot"].chats() == ["v2"]


async def subscriber(store: Store, n: int, *, topics: tuple[str, ...], language: str, province: str = "ha_noi") -> str:
    """A worker signed up in `province`, subscribed to `topics`, reading in `language`."""
    external = f"{province}-{language}-{n}"
    user = await store.touch_user("telegram", external, language=language)
    if topics:
        await store.subscribe(user.id, list(topics))
    await store.submit_signup(
        SignupDraft(
            f"Người {n}",
            f"+849140{abs(hash(external)) % 100:02d}{n:03d}",
            "Cty",
            province,
            None,
            SignupSource.SELF,
            None,
            "v1",
            language,
            "telegram",
            user.id,
        )
    )
    return external


async def test_a_broadcast_at_a_chosen_time_is_stored_for_then(services: Services, store: Store) -> None:
    from datetime import UTC, timedelta

    from tests.harness import local_now

    services.broadcast_control = RecordingControl()
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await workers(store, 2, "ha_noi")
    at = (local_now() + timedelta(days=2)).replace(second=0, microsecond=0)
    fields = {"csrf": "", "text_vi": "Họp tổ công đoàn", "everyone": "1", "when": "at"}
    async with client_for(console_app(services)) as client:
        fields["csrf"] = await sign_in(client, store, org)
        past = await client.post(
            "/console/broadcasts/preview",
            data={**fields, "at": (local_now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")},
        )
        assert "đã qua" in past.text
        garbled = await client.post("/console/broadcasts/preview", data={**fields, "at": "thứ Bảy"})
        assert 'class="error"' in garbled.text
        # A "when" the form does not offer is refused, never taken for "now".
        odd = await client.post("/console/broadcasts/create", data={**fields, "when": "soon"})
        assert odd.status_code == 200 and "Thời gian không hợp lệ" in odd.text
        assert await store.list_broadcasts() == []
        preview = await client.post("/console/broadcasts/preview", data={**fields, "at": at.strftime("%Y-%m-%dT%H:%M")})
        assert f"Gửi lần đầu: {at.strftime('%d/%m/%Y %H:%M')}" in preview.text
        sent = await client.post("/console/broadcasts/create", data={**fields, "at": at.strftime("%Y-%m-%dT%H:%M")})
        assert sent.status_code == 303
    [b] = await store.list_broadcasts()
    assert b.status is BroadcastStatus.SCHEDULED and b.cron is None and not b.is_series
    assert b.run_at == at.astimezone(UTC)  # the organizer's wall clock, Vietnam time
    assert b.audience == Audience(everyone=True, provinces=("ha_noi",))


async def test_a_weekly_broadcast_is_stored_as_a_series_until_its_last_day(services: Services, store: Store) -> None:
    from datetime import UTC, time, timedelta

    from handlers.broadcasts.schedule import end_of_day, next_weekly
    from tests.harness import local_now, local_today

    services.broadcast_control = RecordingControl()
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    until = local_today() + timedelta(days=30)
    fields = {
        "text_vi": "Nhắc lịch sinh hoạt công đoàn",
        "everyone": "1",
        "when": "weekly",
        "weekday": "2",  # Wednesday
        "time": "18:30",
        "until": until.isoformat(),
    }
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        over = await client.post(
            "/console/broadcasts/preview",
            data={**fields, "csrf": csrf, "until": (local_today() - timedelta(days=1)).isoformat()},
        )
        assert "đã qua" in over.text
        # A day the form does not offer is refused, not taken for "every day".
        odd_day = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf, "weekday": "9"})
        assert "Thời gian không hợp lệ" in odd_day.text and 'id="preview"' not in odd_day.text
        daily = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf, "weekday": ""})
        assert 'id="preview"' in daily.text
        preview = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf})
        assert f"đến ngày {until.strftime('%d/%m/%Y')} 23:59" in preview.text
        assert '<option value="2" selected>' in preview.text  # the choice survives the preview
        sent = await client.post("/console/broadcasts/create", data={**fields, "csrf": csrf})
        assert sent.status_code == 303
    tz = local_now().tzinfo
    [b] = [b for b in await store.list_broadcasts() if b.is_series]
    assert b.cron == "30 18 * * wed"
    assert b.until == end_of_day(until, tz).astimezone(UTC)  # type: ignore[arg-type]
    first = next_weekly(local_now(), 2, time(18, 30), tz)  # type: ignore[arg-type]
    assert b.run_at == first.astimezone(UTC), (b.run_at, first)
    assert b.audience == Audience(everyone=True, provinces=("ha_noi",))
    [entry] = await store.list_audit(action="broadcast.create")
    assert entry.details["kind"] == b.kind.value and entry.details["via"] == "console"


async def test_a_topic_audience_narrowed_by_language_with_english_text(services: Services, store: Store) -> None:
    from tests.fakes.broadcast_support import with_options

    with_options(services)
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    readers_en = [await subscriber(store, i, topics=("legal_updates",), language="en") for i in range(2)]
    await subscriber(store, 10, topics=("legal_updates",), language="vi")
    await subscriber(store, 11, topics=("union_news",), language="en")  # another topic
    await subscriber(store, 12, topics=("legal_updates",), language="en", province="hue")  # another province
    fields = {
        "text_vi": "Luật Công đoàn 2024 có hiệu lực từ 1/7/2025",
        "text_en": "The 2024 Trade Union Law is in force from 1 July 2025",
        "topics": "legal_updates",
        "language": "en",
        "when": "now",
    }
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        form = await client.get("/console/broadcasts")
        assert 'name="topics" value="legal_updates"' in form.text
        preview = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf})
        assert re.search(r'id="audience-size">Số người nhận: 2\b', preview.text)
        # Only what this audience will get: English readers, the English text.
        [bubble] = re.findall(r'<p class="bubble">(.*?)</p>', preview.text, re.S)
        assert "Trade Union Law" in bubble and "Luật Công đoàn" not in bubble
        assert '<option value="en" selected>' in preview.text
        assert 'name="topics" value="legal_updates" checked' in preview.text
        any_language = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf, "language": ""})
        assert re.search(r'id="audience-size">Số người nhận: 3\b', any_language.text)
        bubbles = re.findall(r'<p class="bubble">(.*?)</p>', any_language.text, re.S)
        assert len(bubbles) == 2 and "Luật Công đoàn 2024" in bubbles[0] and "Trade Union Law" in bubbles[1]
        vi_only = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf, "language": "vi"})
        [bubble] = re.findall(r'<p class="bubble">(.*?)</p>', vi_only.text, re.S)
        assert "Luật Công đoàn 2024" in bubble
        unknown = await client.post("/console/broadcasts/preview", data={**fields, "csrf": csrf, "topics": "nope"})
        assert 'class="error"' in unknown.text and 'id="audience-size"' not in unknown.text
        sent = await client.post("/console/broadcasts/create", data={**fields, "csrf": csrf})
        assert sent.status_code == 303
    [b] = await store.list_broadcasts()
    assert b.text_en == fields["text_en"] and b.text_vi == fields["text_vi"]
    assert b.audience == Audience(topics=("legal_updates",), provinces=("ha_noi",), language="en")
    sender = RecordingSender("telegram")
    report = await make_engine(store, {"telegram": sender}).run(b.id)
    assert report.outcome == "done" and sorted(sender.chats()) == sorted(readers_en)
    assert all("Trade Union Law" in (text or "") for _, text in sender.sent)  # English readers, English text


async def test_resend_reaches_only_the_recipients_that_failed(services: Services, store: Store) -> None:
    from bot.broadcast.senders import Rejected

    control = RecordingControl()
    services.broadcast_control = control
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await workers(store, 4, "ha_noi")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        fields = {"csrf": csrf, "text_vi": "Mời dự Đại hội công đoàn", "everyone": "1", "when": "now"}
        assert (await client.post("/console/broadcasts/create", data=fields)).status_code == 303
        [b] = await store.list_broadcasts()
        # Nothing failed yet: there is nothing to resend.
        early = await client.post(f"/console/broadcasts/{b.id}/resend", data={"csrf": csrf})
        assert "Không làm được" in early.text

        async def refuse_two(chat_id: str, part: object) -> None:
            if chat_id in ("ha_noi-1", "ha_noi-3"):
                raise Rejected("bad_request: chat not found")

        first = RecordingSender("telegram", hook=refuse_two)
        report = await make_engine(store, {"telegram": first}).run(b.id)
        assert report.outcome == "done" and sorted(first.chats()) == ["ha_noi-0", "ha_noi-2"]
        listing = await client.get("/console/broadcasts")
        assert f'action="/console/broadcasts/{b.id}/resend"' in listing.text
        resent = await client.post(f"/console/broadcasts/{b.id}/resend", data={"csrf": csrf})
        assert resent.status_code == 303 and "done=resend" in resent.headers["location"]
        assert (await store.get_broadcast(b.id)).status is BroadcastStatus.RUNNING  # type: ignore[union-attr]
        again = RecordingSender("telegram")
        report = await make_engine(store, {"telegram": again}).run(b.id)
        assert report.outcome == "done"
        assert sorted(again.chats()) == ["ha_noi-1", "ha_noi-3"]  # the two that failed, nobody twice
        stats = await store.delivery_stats(b.id)
        assert (stats.sent, stats.failed) == (4, 0)
        after = await client.get("/console/broadcasts")
        assert f'action="/console/broadcasts/{b.id}/resend"' not in after.text
    assert control.changed_ids == [b.id, b.id]  # created, then resent
    [entry] = await store.list_audit(action="broadcast.resend")
    assert entry.actor_id == org.id and entry.details == {"via": "console"}


async def test_a_long_text_is_kept_whole_up_to_the_chats_limit_and_refused_beyond(
    services: Services, store: Store
) -> None:
    # Found by an outside tester: the console cut anything past 3,000 characters without
    # a word, while the chat takes 3,800.
    from handlers.broadcasts.render import MAX_TEXT

    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await workers(store, 1, "ha_noi")
    fields = {"csrf": "", "everyone": "1", "when": "now"}
    async with client_for(console_app(services)) as client:
        fields["csrf"] = await sign_in(client, store, org)
        page = await client.get("/console/broadcasts")
        assert f'maxlength="{MAX_TEXT}"' in page.text
        text = "Họp tổ. " * 430 + "KẾT"  # 3,443 characters: past the old cut
        ok = await client.post("/console/broadcasts/create", data={**fields, "text_vi": text})
        assert ok.status_code in (200, 303)
        (b,) = await store.list_broadcasts()
        assert b.text_vi == text.strip() and b.text_vi.endswith("KẾT")
        over = await client.post("/console/broadcasts/preview", data={**fields, "text_vi": "x" * (MAX_TEXT + 1)})
        assert f"tối đa {MAX_TEXT} ký tự" in over.text
