"""Issue 14 item 3: every organizer action is scoped by province.

The reproduced attack: an organizer of Hà Nội cancelled a broadcast aimed at Hồ Chí Minh,
revoked an organizer of Hồ Chí Minh, and granted the organizer role to a new user who,
with no province at all, read every worker's question in /inbox and scheduled a broadcast
to everyone. Each step is tried here through the real dispatcher and store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.context import Services, Settings
from handlers.i18n import load_catalog
from storage import Role, Store
from storage.broadcasts import Audience, BroadcastStatus, DeliveryResult, DeliveryStatus, NewBroadcast
from tests.conftest import ChatDriver
from tests.fakes.broadcast_support import OPTS, RecordingControl
from tests.test_join_organizer import add_signup

NOT_YET = "Bạn chưa được giao tỉnh/thành phố nào"
OUT_OF_SCOPE = "không thuộc tỉnh/thành phố bạn phụ trách"
BROADCAST_NOT_FOUND = "Không tìm thấy thông báo này."
LATER = datetime(2099, 5, 1, tzinfo=UTC)


@pytest.fixture
def settings() -> Settings:
    # Conftest's, with room for the many presses a test makes in a few seconds.
    return Settings(admins=frozenset({("test", "admin")}), flood_messages=10_000)


@pytest.fixture
def services(store: Store, settings, rights_service) -> Services:  # type: ignore[no-untyped-def]
    return Services(
        store,
        load_catalog(),
        settings,
        broadcast_options=OPTS,
        broadcast_control=RecordingControl(),
        rights=rights_service,
    )


async def person(
    make_chat,
    store: Store,
    uid: str,
    *,
    role: Role = Role.WORKER,
    provinces=(),  # type: ignore[no-untyped-def]
    signed_up_in: str | None = None,
    phone: str | None = None,
) -> ChatDriver:
    chat = make_chat(uid)
    await chat.say("/start")
    user = await store.find_user("test", uid)
    if role is not Role.WORKER:
        await store.set_role(user.id, role)
    if provinces:
        await store.add_organizer_provinces(user.id, list(provinces), None)
    if signed_up_in:
        await add_signup(store, phone or f"+8491200{abs(hash(uid)) % 10000:04d}", signed_up_in, owner_id=user.id)
    return chat


@pytest.fixture
async def hanoi(make_chat, store) -> ChatDriver:  # type: ignore[no-untyped-def]
    return await person(make_chat, store, "org_hn", role=Role.ORGANIZER, provinces=["ha_noi"])


# -- the inbox -------------------------------------------------------------------
async def _ask(make_chat, store, uid: str, province: str | None, phone: str, text: str) -> int:  # type: ignore[no-untyped-def]
    worker = await person(make_chat, store, uid, signed_up_in=province, phone=phone)
    await worker.say(f"/ask {text}")
    user = await store.find_user("test", uid)
    return (await store.questions_of(user.id))[-1].id


async def test_inbox_shows_only_the_organizers_provinces(make_chat, store, hanoi) -> None:
    q_hn = await _ask(make_chat, store, "w_hn", "ha_noi", "+84912000101", "Câu hỏi của công nhân Hà Nội về lương")
    q_hcm = await _ask(make_chat, store, "w_hcm", "ho_chi_minh", "+84912000102", "Câu hỏi của công nhân HCM về BHXH")
    q_none = await _ask(make_chat, store, "w_none", None, "+84912000103", "Câu hỏi của người chưa đăng ký")

    await hanoi.say("/inbox")
    text = hanoi.text()
    assert "Có 1 câu hỏi" in text and "công nhân Hà Nội" in text
    assert "HCM" not in text and "chưa đăng ký" not in text
    assert hanoi.payloads().count(f"inbox:r:{q_hn}") == 1

    # Forged buttons and /reply for questions outside: as if they did not exist.
    for qid in (q_hcm, q_none):
        await hanoi.press(f"inbox:r:{qid}")
        assert f"#{qid} không còn chờ" in hanoi.text()
        await hanoi.say(f"/reply {qid} Trả lời từ Hà Nội")
        assert f"#{qid} không còn chờ" in hanoi.text()
        assert (await store.get_question(qid)).status == "open"

    # Their own question they answer.
    await hanoi.press(f"inbox:r:{q_hn}")
    await hanoi.say("Bạn được trả lương đúng hạn theo hợp đồng.")
    assert (await store.get_question(q_hn)).status == "answered"

    # An admin (the national level) sees the rest, the unplaced question included.
    admin = make_chat("admin")
    await admin.say("/inbox")
    assert "Có 2 câu hỏi" in admin.text() and "HCM" in admin.text() and "chưa đăng ký" in admin.text()


async def test_the_scope_is_checked_again_when_the_answer_comes(make_chat, store, hanoi) -> None:
    qid = await _ask(make_chat, store, "w_hn", "ha_noi", "+84912000101", "Câu hỏi về hợp đồng lao động")
    await hanoi.press(f"inbox:r:{qid}")
    assert "Hãy gõ câu trả lời" in hanoi.text()
    org = await store.find_user("test", "org_hn")
    await store.remove_organizer_provinces(org.id, ["ha_noi"])
    await store.add_organizer_provinces(org.id, ["hai_phong"], None)
    await hanoi.say("Câu trả lời gửi sau khi đổi phạm vi")
    assert f"#{qid} không còn chờ" in hanoi.text()
    assert (await store.get_question(qid)).status == "open"


async def test_a_freshly_granted_organizer_without_a_province_sees_and_sends_nothing(make_chat, store) -> None:
    await _ask(make_chat, store, "w_hn", "ha_noi", "+84912000101", "Câu hỏi nhạy cảm của công nhân")
    new = await person(make_chat, store, "fresh")
    admin = make_chat("admin")
    await admin.say("/grant fresh organizer")
    assert (await store.find_user("test", "fresh")).role is Role.ORGANIZER

    await new.say("/inbox")
    assert NOT_YET in new.text() and "nhạy cảm" not in new.text()
    await new.press("inbox:r:1")
    assert "nhạy cảm" not in new.text()
    for command in ("/broadcast", "/broadcast new", "/broadcast list", "/grant w_hn volunteer", "/revoke w_hn"):
        await new.say(command)
        assert NOT_YET in new.text(), command
    # Pressing through the composer without a draft does nothing either.
    await new.press("bcc:all")
    await new.press("bcc:now")
    await new.press("bcc:confirm")
    assert await store.list_broadcasts() == []
    assert (await store.find_user("test", "w_hn")).role is Role.WORKER

    # Once an admin scopes them, they see their province.
    await admin.say("/scope fresh Hà Nội")
    await new.say("/inbox")
    assert "nhạy cảm" in new.text()


# -- broadcasts ------------------------------------------------------------------
async def _broadcasts(store: Store) -> dict[str, int]:
    made = {}
    for key, provinces in (
        ("hn", ("ha_noi",)),
        ("hcm", ("ho_chi_minh",)),
        ("both", ("ha_noi", "ho_chi_minh")),
        ("country", ()),
    ):
        b = await store.create_broadcast(
            NewBroadcast(f"Thông báo {key}", Audience(everyone=True, provinces=provinces), run_at=LATER)
        )
        made[key] = b.id
    return made


async def test_broadcasts_are_listed_shown_and_steered_within_the_provinces_only(make_chat, store, hanoi) -> None:
    made = await _broadcasts(store)
    await hanoi.say("/broadcast list")
    listed = hanoi.text()
    assert f"#{made['hn']}" in listed
    for key in ("hcm", "both", "country"):
        assert f"#{made[key]} " not in listed, key

    # The reproduced attack: cancelling (and everything else) on a broadcast aimed at HCM.
    for key in ("hcm", "both", "country"):
        bid = made[key]
        await hanoi.say(f"/broadcast {bid}")
        assert BROADCAST_NOT_FOUND in hanoi.text()
        for action in ("show", "pause", "resume", "cancel", "cancel_yes", "resend"):
            await hanoi.press(f"bcm:{action}:{bid}")
            assert BROADCAST_NOT_FOUND in hanoi.text(), (key, action)
        assert (await store.get_broadcast(bid)).status is BroadcastStatus.SCHEDULED
    assert not [e for e in await store.list_audit() if e.action.startswith("broadcast.")]

    # Their own they steer.
    await hanoi.press(f"bcm:cancel_yes:{made['hn']}")
    assert (await store.get_broadcast(made["hn"])).status is BroadcastStatus.CANCELLED

    # The admin sees and steers all of them.
    admin = make_chat("admin")
    await admin.say("/broadcast list")
    assert all(f"#{bid}" in admin.text() for bid in made.values())
    await admin.press(f"bcm:cancel_yes:{made['hcm']}")
    assert (await store.get_broadcast(made["hcm"])).status is BroadcastStatus.CANCELLED


async def test_resend_is_scoped_too(make_chat, store, hanoi) -> None:
    w = await person(make_chat, store, "w_hcm", signed_up_in="ho_chi_minh", phone="+84912000202")
    await w.say("/start")
    b = await store.create_broadcast(
        NewBroadcast("HCM", Audience(everyone=True, provinces=("ho_chi_minh",)), run_at=LATER)
    )
    await store.materialize_audience(b.id)
    rows = await store.queued_deliveries(b.id, after_id=0, limit=10)
    await store.journal_deliveries(b.id, [r.delivery_id for r in rows], [])
    await store.journal_deliveries(b.id, [], [DeliveryResult(rows[0].delivery_id, DeliveryStatus.FAILED, "timeout")])
    await store.set_broadcast_status(b.id, BroadcastStatus.DONE)
    await hanoi.press(f"bcm:resend:{b.id}")
    assert BROADCAST_NOT_FOUND in hanoi.text()
    assert (await store.delivery_stats(b.id)).failed == 1


async def test_everyone_from_an_organizer_means_everyone_in_their_provinces(make_chat, store, hanoi) -> None:
    for uid, province, phone in (("w_hn", "ha_noi", "+84912000301"), ("w_hcm", "ho_chi_minh", "+84912000302")):
        await person(make_chat, store, uid, signed_up_in=province, phone=phone)
    await person(make_chat, store, "w_none")  # never signed up: no province

    await hanoi.say("/broadcast new")
    await hanoi.say("Họp công đoàn Hà Nội tối thứ Sáu")
    await hanoi.press("bcc:skip_en")
    await hanoi.press("bcc:skip_photo")
    await hanoi.press("bcc:all")
    assert "mọi người đã đăng ký ở: Hà Nội" in hanoi.text()
    assert "khoảng 1 người" in hanoi.text(), hanoi.text()
    # Trying to widen it to Hồ Chí Minh is refused.
    await hanoi.press("bcc:prov")
    await hanoi.say("Hồ Chí Minh")
    assert "Ngoài phạm vi: Hồ Chí Minh" in hanoi.text()
    await hanoi.say("-")
    await hanoi.press("bcc:aud_ok")
    await hanoi.press("bcc:now")
    assert "khoảng 1 người" in hanoi.text() or " 1 người" in hanoi.text(), hanoi.text()
    await hanoi.press("bcc:confirm")
    assert "Đã lên lịch thông báo" in hanoi.text()

    b = (await store.list_broadcasts())[0]
    assert b.audience.everyone and b.audience.provinces == ("ha_noi",)
    assert await store.materialize_audience(b.id) == 1
    reached = await store.delivery_statuses(b.id)
    assert set(reached) == {(await store.find_user("test", "w_hn")).id}
    # It is theirs to steer afterwards.
    await hanoi.say("/broadcast list")
    assert f"#{b.id}" in hanoi.text()


async def test_a_draft_aimed_outside_after_the_scope_shrank_is_not_sent(make_chat, store, hanoi) -> None:
    org = await store.find_user("test", "org_hn")
    await store.add_organizer_provinces(org.id, ["ho_chi_minh"], None)
    await hanoi.say("/broadcast new")
    await hanoi.say("Thông báo cho HCM")
    await hanoi.press("bcc:skip_en")
    await hanoi.press("bcc:skip_photo")
    await hanoi.press("bcc:all")
    await hanoi.press("bcc:prov")
    await hanoi.say("Hồ Chí Minh")
    await hanoi.press("bcc:aud_ok")
    await hanoi.press("bcc:now")
    await store.remove_organizer_provinces(org.id, ["ho_chi_minh"])
    await hanoi.press("bcc:confirm")
    assert "Ngoài phạm vi: Hồ Chí Minh" in hanoi.text()
    assert await store.list_broadcasts() == []


# -- roles -----------------------------------------------------------------------
async def test_an_organizer_cannot_revoke_or_rescope_another_provinces_organizer(make_chat, store, hanoi) -> None:
    await person(
        make_chat,
        store,
        "org_hcm",
        role=Role.ORGANIZER,
        provinces=["ho_chi_minh"],
        signed_up_in="ho_chi_minh",
        phone="+84912000401",
    )
    await person(make_chat, store, "org_both", role=Role.ORGANIZER, provinces=["ha_noi", "ho_chi_minh"])
    for command in (
        "/revoke org_hcm",
        "/grant org_hcm volunteer",
        "/scope org_hcm remove hcm",
        "/revoke org_both",
        "/scope org_both remove ha_noi",
    ):
        await hanoi.say(command)
        assert OUT_OF_SCOPE in hanoi.text(), command
    assert (await store.find_user("test", "org_hcm")).role is Role.ORGANIZER
    assert await store.organizer_provinces((await store.find_user("test", "org_hcm")).id) == {"ho_chi_minh"}
    assert await store.organizer_provinces((await store.find_user("test", "org_both")).id) == {"ha_noi", "ho_chi_minh"}
    assert not [e for e in await store.list_audit() if e.action.startswith(("role.", "scope."))]


async def test_an_organizer_appoints_within_their_provinces_and_never_above_themselves(make_chat, store, hanoi) -> None:
    await person(make_chat, store, "w_hn", signed_up_in="ha_noi", phone="+84912000501")
    await person(make_chat, store, "w_hcm", signed_up_in="ho_chi_minh", phone="+84912000502")
    await person(make_chat, store, "w_none")

    await hanoi.say("/grant w_hcm organizer")
    assert OUT_OF_SCOPE in hanoi.text()
    await hanoi.say("/grant w_none volunteer")
    assert OUT_OF_SCOPE in hanoi.text()
    await hanoi.say("/grant w_hn admin")
    assert "/grant" in hanoi.text()  # the usage: admin is not grantable
    assert (await store.find_user("test", "w_hn")).role is Role.WORKER

    await hanoi.say("/grant w_hn organizer")
    assert (await store.find_user("test", "w_hn")).role is Role.ORGANIZER
    await hanoi.say("/scope w_hn Hồ Chí Minh")
    assert "Không phải của bạn" in hanoi.text()
    await hanoi.say("/scope w_hn Hà Nội")
    assert await store.organizer_provinces((await store.find_user("test", "w_hn")).id) == {"ha_noi"}
    await hanoi.say("/revoke w_hn")
    assert (await store.find_user("test", "w_hn")).role is Role.WORKER
    # And admins stay out of reach.
    await make_chat("admin").say("/start")
    await hanoi.say("/revoke admin")
    assert "cấu hình" in hanoi.text()
