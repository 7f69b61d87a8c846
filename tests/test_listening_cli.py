"""`unionbot poll ...` and `unionbot reports ...` in-process: exit codes, output, and
the chat's composing refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from storage.broadcasts import Audience, NewBroadcast
from storage.listening import NewPoll, NewReport, PollChoice
from storage.sqlite import SQLiteStore

CONFIG = """
[[broadcast.topics]]
id = "union_news"
name_vi = "Tin công đoàn"
name_en = "Union news"
"""


@pytest.fixture
def cli_env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("UNIONBOT_DB", str(tmp_path / "cli.sqlite3"))
    monkeypatch.setenv("UNIONBOT_CONFIG", str(cfg))
    return tmp_path


def test_poll_create_list_results_close(cli_env, capsys) -> None:
    assert (
        main(
            [
                "poll",
                "create",
                "--question",
                "Có nên tăng ca thứ Bảy?",
                "--choice",
                "Có | Yes",
                "--choice",
                "Không | No",
                "--topic",
                "union_news",
                "--province",
                "Bắc Ninh",
                "--closes",
                (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d 18:00"),
            ]
        )
        == 0
    )
    assert "created poll #1" in capsys.readouterr().out
    assert main(["poll", "list"]) == 0
    assert "#1" in capsys.readouterr().out
    assert main(["poll", "results", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["respondents"] == 0 and [c["label"] for c in data["choices"]] == ["Yes", "No"]
    assert main(["poll", "results", "1", "--by", "province"]) == 0
    assert "Nobody has answered yet" in capsys.readouterr().out
    assert main(["poll", "close", "1"]) == 0
    assert main(["poll", "close", "1"]) == 1
    assert main(["poll", "results", "9"]) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--choice", "Có"],  # one choice
        ["--choice", "A", "--choice", "A"],  # the same twice
        [part for i in range(7) for part in ("--choice", f"C{i}")],  # seven
    ],
)
def test_poll_create_refuses_bad_choices(cli_env, capsys, args) -> None:  # type: ignore[no-untyped-def]
    assert main(["poll", "create", "--question", "Q?", "--all", *args]) == 2
    assert "--choice" in capsys.readouterr().err


def test_poll_create_refuses_bad_audience_and_time(cli_env, capsys) -> None:
    base = ["poll", "create", "--question", "Q?", "--choice", "A", "--choice", "B"]
    assert main(base) == 2
    assert main([*base, "--all", "--closes", "2000-01-01 10:00"]) == 2
    assert main([*base, "--all", "--closes", "2099-01-01 18:00"]) == 2
    assert "--closes is more than a year ahead" in capsys.readouterr().err
    assert main([*base, "--all", "--province", "Atlantis"]) == 2
    assert main([*base, "--topic", "nope"]) == 2


async def test_reports_list_and_clusters(cli_env, capsys) -> None:
    store = SQLiteStore(cli_env / "cli.sqlite3")
    await store.open()
    for company in ("May Hưng Phát", "may hung phat"):
        await store.add_report(
            NewReport(
                created_on=date(2025, 5, 2),
                province="bac_ninh",
                category="wages",
                company=company,
                company_key="hung phat",
                workers=30,
            )
        )
    await store.close()
    assert await asyncio.to_thread(main, ["reports", "clusters", "--json"]) == 0
    (cluster,) = json.loads(capsys.readouterr().out)
    assert cluster["reports"] == 2 and cluster["company"] == "may hung phat"
    assert await asyncio.to_thread(main, ["reports", "list", "--province", "Bắc Ninh", "--since", "2025-05-01"]) == 0
    assert capsys.readouterr().out.count("bac_ninh") == 2
    assert await asyncio.to_thread(main, ["reports", "list", "--since", "2025-13-01"]) == 2


async def test_composing_refusals(make_chat) -> None:
    admin = make_chat("admin")
    await admin.say("/poll")
    await admin.press("pc:new")
    await admin.say("x" * 301)
    assert "tối đa 300" in admin.text()
    await admin.say("Bạn có muốn thành lập công đoàn cơ sở?")
    await admin.press("pc:skip_en")
    await admin.say("Chỉ một lựa chọn")
    assert "từ 2 đến 6" in admin.text()
    await admin.say("Có\ncó")
    assert "trùng nhau" in admin.text()
    await admin.say("Có\nKhông\nChưa biết")
    await admin.press("pc:kind:1")
    await admin.press("pc:aud_ok")
    assert "ít nhất một chủ đề" in admin.text()
    await admin.press("pc:all")
    await admin.press("pc:aud_ok")
    await admin.say("2001-01-01 10:00")
    assert "tương lai" in admin.text()
    await admin.say("ngày mai")
    assert "không đọc được" in admin.text()
    await admin.press("pc:days:3")
    assert "Xác nhận" in admin.text()
    await admin.press("pc:confirm")
    assert "Đã tạo bình chọn #1" in admin.text()
    worker = make_chat("w")
    await worker.say("/poll")
    assert "chỉ dành cho" in worker.text()


# -- options the audit found untested (issue 11) --------------------------------------
POLL_NOW = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def answered_poll(path: Path, answers: tuple[int, ...] = (1, 1, 1, 1, 2, 2, 2)) -> int:
    """A poll that closed in May 2025, answered by one worker per mask in `answers`."""
    async with SQLiteStore(path) as store:
        poll, _ = await store.create_poll(
            NewPoll(
                question_vi="Công ty đã trả lương tháng này chưa?",
                question_en="Has the company paid this month?",
                choices=(PollChoice("Rồi", "Yes"), PollChoice("Chưa", "No")),
                closes_at=POLL_NOW + timedelta(days=3),
            ),
            NewBroadcast(text_vi="Bình chọn", audience=Audience(everyone=True), run_at=POLL_NOW),
        )
        for i, mask in enumerate(answers):
            worker = await store.touch_user("telegram", f"w{i}", language="vi")
            outcome = await store.answer_poll(
                poll.id,
                worker.id,
                mask=mask,
                mode="set",
                now=POLL_NOW + timedelta(hours=1),
                province="bac_ninh",
                channel="telegram",
                language="vi",
            )
            assert outcome.recorded, outcome
        return poll.id


async def test_poll_results_chart_writes_a_png(cli_env, capsys) -> None:
    poll_id = await answered_poll(cli_env / "cli.sqlite3")
    chart = cli_env / "out" / "chart.png"
    chart.parent.mkdir()
    assert await asyncio.to_thread(main, ["poll", "results", str(poll_id), "--chart", str(chart)]) == 0
    assert chart.read_bytes().startswith(PNG_MAGIC) and chart.stat().st_size > 1000
    assert "Has the company paid" in capsys.readouterr().out


async def test_poll_results_chart_is_not_written_for_too_few_answers(cli_env, capsys) -> None:
    poll_id = await answered_poll(cli_env / "cli.sqlite3", answers=(1, 2))
    chart = cli_env / "chart.png"
    assert await asyncio.to_thread(main, ["poll", "results", str(poll_id), "--chart", str(chart)]) == 0
    assert not chart.exists(), "k-anonymity: two answers draw no chart"
    assert "too few answers" in capsys.readouterr().err


async def test_poll_purge_folds_answers_past_retention_into_counts(cli_env, capsys) -> None:
    poll_id = await answered_poll(cli_env / "cli.sqlite3")
    assert await asyncio.to_thread(main, ["poll", "purge"]) == 0
    assert capsys.readouterr().out.startswith("1 polls folded into counts")
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        worker = await store.find_user("telegram", "w0")
        assert worker is not None and await store.poll_answers_of(worker.id) == [], "no per-person rows left"
    assert await asyncio.to_thread(main, ["poll", "results", str(poll_id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["respondents"] == 7 and [c["count"] for c in data["choices"]] == [4, 3], "the counts stay"
    assert await asyncio.to_thread(main, ["poll", "purge"]) == 0
    assert capsys.readouterr().out.startswith("0 polls folded"), "once"


async def test_poll_create_multi_with_an_english_question(cli_env, capsys) -> None:
    args = ["poll", "create", "--question", "Bạn cần hỗ trợ gì?", "--question-en", "What help do you need?"]
    args += ["--choice", "Pháp lý | Legal", "--choice", "Nhà ở | Housing", "--choice", "Học nghề | Training"]
    assert await asyncio.to_thread(main, [*args, "--multi", "--all"]) == 0
    assert "created poll #1" in capsys.readouterr().out
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        poll = await store.get_poll(1)
    assert poll is not None and poll.multi
    assert poll.question("en") == "What help do you need?" and poll.question("vi") == "Bạn cần hỗ trợ gì?"
    assert [c.label("en") for c in poll.choices] == ["Legal", "Housing", "Training"]
    assert await asyncio.to_thread(main, ["poll", "create", *args[2:4], *args[6:], "--all"]) == 0
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        single = await store.get_poll(2)
    assert single is not None and not single.multi and single.question_en is None, "single answer by default"


async def test_reports_list_json(cli_env, capsys) -> None:
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        first = await store.add_report(
            NewReport(
                created_on=date(2025, 5, 2),
                province="bac_ninh",
                category="wages",
                company="Cty TNHH May Hưng Phát",
                company_key="hung phat",
                workers=30,
                description="Chậm lương hai tháng",
            )
        )
        await store.add_report(
            NewReport(
                created_on=date(2025, 5, 3),
                province="ha_noi",
                category="safety",
                company="Giày Việt",
                company_key="giay viet",
                workers=5,
            )
        )
    assert await asyncio.to_thread(main, ["reports", "list", "--json", "--province", "Bắc Ninh"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {
        "id": first,
        "date": "2025-05-02",
        "province": "bac_ninh",
        "category": "wages",
        "company": "Cty TNHH May Hưng Phát",
        "cluster": "hung phat",
        "workers": 30,
        "description": "Chậm lương hai tháng",
        "contact_question": None,
    }
    assert await asyncio.to_thread(main, ["reports", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


async def test_poll_purge_drops_reporter_hashes_after_the_configured_days(cli_env, capsys) -> None:
    from tests.harness import local_today

    (cli_env / "config.toml").write_text(CONFIG + "\n[listening]\nreport_hash_days = 2\n", encoding="utf-8")
    today = local_today()
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        # Ages a day clear of the cut-off: the purge cuts in UTC, the days here are local.
        for age in (0, 1, 4, 10):
            assert await store.count_report(f"h{age}", today - timedelta(days=age), limit=3)
    assert await asyncio.to_thread(main, ["poll", "purge"]) == 0
    assert "2 old rate-limit entries dropped" in capsys.readouterr().out
    async with SQLiteStore(cli_env / "cli.sqlite3") as store:
        assert await store.reports_today("h1", today - timedelta(days=1)) == 1, "kept: younger than 2 days"
        assert await store.reports_today("h4", today - timedelta(days=4)) == 0
