"""A sign-up or a support request reaches a person: the province's officers are told by
number (found by an outside tester: the worker was promised a call, and nobody was told
unless an alert chat was configured for the province). Never a name, a number or words."""

from __future__ import annotations

from tests.conftest import ChatDriver
from tests.test_care_support import STORY, open_case, organizer
from tests.test_join_form import LAN, fill_form


def told(replies: list, external: str) -> list[str]:  # type: ignore[type-arg]
    return [r.text for r in replies if r.to_user == external]


async def test_a_new_sign_up_is_announced_to_the_provinces_organizers(store, make_chat) -> None:
    await organizer(store, "o1", ["ho_chi_minh"])
    await organizer(store, "o2", ["ha_noi"])  # another province's organizer hears nothing
    worker: ChatDriver = make_chat("w1")
    replies = await fill_form(worker)
    user = await store.find_user("test", "w1")
    signup = await store.signup_of_user(user.id)
    (notice,) = told(replies, "o1")
    assert notice.startswith(f"🆕 Đăng ký mới #{signup.id} ở Hồ Chí Minh") and f"/signups {signup.id}" in notice
    for private in (LAN["name"], "912", LAN["workplace"]):
        assert private not in notice
    assert told(replies, "o2") == []
    assert "sẽ gọi" in worker.text() or "liên hệ" in worker.text(), worker.text()


async def test_a_new_sign_up_in_a_province_nobody_covers_goes_to_the_admins(store, make_chat) -> None:
    from storage import Role

    admin = await store.touch_user("test", "a1", language="en")
    await store.set_role(admin.id, Role.ADMIN)
    replies = await fill_form(make_chat("w2"))
    (notice,) = told(replies, "a1")
    assert notice.startswith("🆕 New sign-up #") and "Ho Chi Minh" in notice  # in the admin's language


async def test_a_support_request_is_announced_to_the_provinces_organizers(store, chat) -> None:
    await organizer(store, "o3", ["ho_chi_minh"])
    await open_case(chat, category="Ốm đau")
    (case,) = await store.list_cases(provinces=None)
    notices = [r for r in chat.last if r.to_user == "o3"]
    assert [r.text for r in notices] == [f"🤝 Hồ sơ hỗ trợ mới #{case.id} ở Hồ Chí Minh. Xem: /cases"]
    assert STORY[:20] not in notices[0].text
