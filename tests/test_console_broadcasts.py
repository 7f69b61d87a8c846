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
from tests.fakes.broadcast_support import RecordingSender, make_engine
from tests.fakes.telegram_api import tiny_png


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


class RecordingControl:
    def __init__(self) -> None:
        self.changed_ids: list[int] = []

    async def changed(self, broadcast_id: int) -> None:
        self.changed_ids.append(broadcast_id)


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
