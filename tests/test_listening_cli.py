"""`unionbot poll ...` and `unionbot reports ...` in-process: exit codes, output, and
the chat's composing refusals."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.cli import main
from storage.listening import NewReport
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
                "2099-01-01 18:00",
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
    import asyncio

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
