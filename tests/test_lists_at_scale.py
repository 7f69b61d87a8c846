"""Organizer and volunteer commands stay short at a federation's size (issue 17 item 4).

20,000 sign-ups and 2,000 volunteers' codes, seeded by bulk SQL as the benchmarks do: no
command may answer with more than 3 messages or 6,000 characters in all.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bench.scale_seed import seed_rows
from storage import Role

MAX_MESSAGES = 3
MAX_CHARS = 6000


async def test_every_list_stays_within_three_messages_and_6000_characters(make_chat, store, tmp_path: Path) -> None:
    await asyncio.to_thread(seed_rows, tmp_path / "test.sqlite3", 20_000, 2_000)
    asker = await store.touch_user("test", "asker", language="vi")
    for i in range(40):
        await store.add_question(asker.id, f"câu hỏi {i} " + "chi tiết " * 100, "vi")
    admin = make_chat("admin")
    await admin.say("/start")
    org = make_chat("org")
    await org.say("/start")
    org_user = await store.find_user("test", "org")
    await store.set_role(org_user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(org_user.id, ["hue"], None)
    volunteer = make_chat("900000000", channel="telegram")  # one of the seeded volunteers
    await volunteer.say("/start")

    for who, command in (
        (admin, "/targets"),
        (admin, "/signups"),
        (admin, "/inbox"),
        (admin, "/export"),
        (org, "/targets"),
        (org, "/signups"),
        (org, "/export"),
        (volunteer, "/mystats"),
    ):
        replies = await who.say(command)
        total = sum(len(r.text) for r in replies)
        assert len(replies) <= MAX_MESSAGES, (command, len(replies))
        assert total <= MAX_CHARS, (command, total)
        if who is org:
            assert "Huế" in replies[0].text and "tất cả" not in replies[0].text, command
    targets = (await admin.say("/targets"))[0].text
    assert targets.count("tình nguyện viên v_") == 10, "the ten who brought most, by name"
    more = re.search(r"và (\d+) tình nguyện viên khác", targets)
    assert more is not None and int(more.group(1)) > 1000


async def test_progress_counted_in_the_database_equals_counting_every_sign_up(store, tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from handlers.join.common import load_progress, progress, year_bounds

    await asyncio.to_thread(seed_rows, tmp_path / "test.sqlite3", 3_000, 50)
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    year = datetime.now(UTC).astimezone(tz).year
    since, until = year_bounds(year, tz)
    for provinces in (None, frozenset({"hue", "ha_noi"}), frozenset()):
        counted = await load_progress(store, provinces=provinces, year=year, tz=tz)
        facts = await store.signup_facts(provinces=provinces, since=since, until=until)
        assert counted == progress(facts, year=year, tz=tz), provinces
    assert counted.total == 0 and (await load_progress(store, provinces=None, year=year, tz=tz)).total == 3_000
