"""The web console in a real headless Chromium (Debian's chromium driven by Playwright),
against the whole bot: Telegram through the fake Bot API, the web server, the store.

An organizer asks the bot for a link in the chat, signs in with it, finds a sign-up by a
phone number typed as people type it, changes its status, and answers a worker's
question, which then arrives at the worker through the fake Bot API. Screenshots of each
page (sign-in, overview, sign-ups, a sign-up, questions, broadcasts, import, targets and
the audit log) at phone (390 px) and desktop (1280 px) width go to build/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.app import Runtime, serve
from storage import Role
from storage.signups import SignupDraft, SignupSource, SignupStatus
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import config_for, telegram_env

CHROMIUM = os.environ.get("UNIONBOT_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
ORGANIZER, WORKER, ADMIN = 7001, 7002, 7003
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium"
)


@asynccontextmanager
async def serving(config) -> AsyncIterator[Runtime]:  # type: ignore[no-untyped-def]
    """The bot as `unionbot serve` runs it: web server with the console, and Telegram."""
    stop = asyncio.Event()
    async with Runtime(config) as runtime:
        task = asyncio.create_task(serve(runtime, runtime.build_channels(), stop, web_server=True))
        for _ in range(1000):
            if task.done():
                task.result()
            if runtime.started:
                break
            await asyncio.sleep(0.01)
        try:
            yield runtime
        finally:
            stop.set()
            await task


async def seed(runtime: Runtime) -> tuple[int, int]:
    store = runtime.store
    org = await store.touch_user("telegram", str(ORGANIZER), language="vi")
    await store.set_role(org.id, Role.ORGANIZER)
    await store.add_organizer_provinces(org.id, ["ha_noi"], granted_by=None)
    worker = await store.touch_user("telegram", str(WORKER), language="vi")
    await store.submit_signup(
        SignupDraft(
            full_name="Phạm Thị Hoa",
            phone_e164="+84987654321",
            workplace="Công ty May 10",
            province_id="ha_noi",
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="v1",
            consent_lang="vi",
            consent_channel="telegram",
            owner_id=worker.id,
        )
    )
    found = await store.submit_signup(
        SignupDraft(
            full_name="Nguyễn Văn An",
            phone_e164="+84912345678",
            workplace="Công ty TNHH Sợi Thế Kỷ",
            province_id="ha_noi",
            commune="KCN Thăng Long",
            source=SignupSource.COLLECTED,
            volunteer_id=None,
            consent_version="v1",
            consent_lang="vi",
            consent_channel="paper",
            owner_id=None,
        )
    )
    assert found is not None
    qid = await store.add_question(worker.id, "Công ty nợ lương hai tháng, tôi phải làm gì?", "vi")
    return found.signup_id, qid


async def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_an_organizer_works_through_the_console_in_chromium(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    async with FakeTelegramServer() as fake:
        config = config_for(tmp_path, env=telegram_env(fake))
        async with serving(config) as runtime:
            signup_id, qid = await seed(runtime)
            await fake.wait_for(method="getUpdates")
            # The worker has talked to the bot before (Telegram lets bots write only then).
            fake.push_update(fake.user_message(WORKER, "/start"))
            await fake.wait_for(method="sendMessage", chat_id=WORKER)
            fake.push_update(fake.user_message(ORGANIZER, "/console"))
            sent = await fake.wait_for(method="sendMessage", chat_id=ORGANIZER)
            link = next(w for w in sent.params["text"].split() if "/console/login/" in w)

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1280, "height": 900})
                    await page.goto(link)
                    await shoot(page, "01-sign-in")
                    await page.click("#signin")
                    await expect(page.locator("h1")).to_have_text("Tổng quan")
                    await shoot(page, "02-overview")

                    await page.click("text=Đăng ký")
                    await page.fill("input[name=q]", "0912 345 678")
                    await page.click("#search")
                    rows = page.locator("table.list tbody tr")
                    await expect(rows).to_have_count(1)
                    await expect(rows.first).to_contain_text("Nguyễn Văn An")
                    assert "0912" not in page.url
                    await shoot(page, "03-signups")

                    await page.click("a.name")
                    await expect(page.locator("#full-name")).to_have_text("Nguyễn Văn An")
                    await page.select_option("#status-select", "joined")
                    await page.click("#save-status")
                    await expect(page.locator(".notice")).to_be_visible()
                    await shoot(page, "04-signup")
                    signup = await runtime.store.get_signup(signup_id)
                    assert signup is not None and signup.status is SignupStatus.JOINED

                    await page.click("text=Câu hỏi")
                    question = page.locator(f"#q{qid}")
                    await expect(question).to_contain_text("nợ lương")
                    await shoot(page, "05-questions")
                    mark = fake.mark()
                    answer = "Bạn hãy gửi đơn tới công đoàn cơ sở; chúng tôi sẽ gọi lại."
                    await question.locator("textarea").fill(answer)
                    await question.locator("button.answer").click()
                    await expect(page.locator(".notice")).to_contain_text(f"#{qid}")
                    arrived = await fake.wait_for(method="sendMessage", chat_id=WORKER, since=mark)
                    assert "Bạn hãy gửi đơn tới công đoàn cơ sở" in arrived.params["text"]

                    await page.click("text=Chỉ tiêu")
                    await expect(page.locator("h1")).to_contain_text("Chỉ tiêu năm")
                    await page.fill("input[name=target]", "40")
                    await page.click("#save-target")
                    await expect(page.locator(".notice")).to_be_visible()
                    await expect(page.locator("table.list tbody tr").first).to_contain_text("5.0%")  # 2 sign-ups of 40
                    await shoot(page, "10-targets")

                    await page.click("#signout")
                    await page.goto(link.split("/console/")[0] + "/console/signups")
                    await expect(page.locator("h1")).to_have_text("Đăng nhập")
                finally:
                    await browser.close()


QUIET_OFF = """
[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"
"""


async def test_a_broadcast_with_an_image_reaches_20_subscribers_and_the_counts_follow(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.fakes.telegram_api import tiny_png

    async with FakeTelegramServer() as fake:
        config = config_for(tmp_path, toml=QUIET_OFF, env=telegram_env(fake))
        async with serving(config) as runtime:
            store = runtime.store
            org = await store.touch_user("telegram", str(ORGANIZER), language="vi")
            await store.set_role(org.id, Role.ORGANIZER)
            await store.add_organizer_provinces(org.id, ["ha_noi"], granted_by=None)
            await fake.wait_for(method="getUpdates")
            workers = [8000 + i for i in range(20)]
            for i, chat in enumerate(workers):
                mark = fake.mark()
                fake.push_update(fake.user_message(chat, "/start"))
                await fake.wait_for(method="sendMessage", chat_id=chat, since=mark)
                user = await store.find_user("telegram", str(chat))
                assert user is not None
                await store.submit_signup(
                    SignupDraft(
                        full_name=f"Công nhân {i}",
                        phone_e164=f"+8491300{i:04d}",
                        workplace="Cty",
                        province_id="ha_noi",
                        commune=None,
                        source=SignupSource.SELF,
                        volunteer_id=None,
                        consent_version="v1",
                        consent_lang="vi",
                        consent_channel="telegram",
                        owner_id=user.id,
                    )
                )
            mark = fake.mark()
            fake.push_update(fake.user_message(ORGANIZER, "/console"))
            sent = await fake.wait_for(method="sendMessage", chat_id=ORGANIZER, since=mark)
            link = next(w for w in sent.params["text"].split() if "/console/login/" in w)
            poster = tmp_path / "poster.png"
            poster.write_bytes(tiny_png(40, 30))

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1280, "height": 900})
                    await page.goto(link)
                    await page.click("#signin")
                    await page.click("text=Thông báo")
                    await page.fill("textarea[name=text_vi]", "Mời đoàn viên dự Ngày hội Công nhân, Chủ Nhật 8 giờ.")
                    await page.set_input_files("input[name=photo]", str(poster))
                    await page.check("input[name=everyone]")
                    await page.click("#preview-button")
                    await expect(page.locator("#audience-size")).to_contain_text("20")
                    await expect(page.locator(".phone img").first).to_be_visible()
                    await shoot(page, "06-broadcast-preview")
                    await page.click("#send-button")
                    await expect(page.locator("article.broadcast .stats").first).to_contain_text(
                        "đã gửi 20", timeout=30_000
                    )
                    await expect(page.locator("article.broadcast .status").first).to_contain_text("đã xong")
                    await shoot(page, "07-broadcasts")
                finally:
                    await browser.close()
            photos = [r for r in fake.requests("sendPhoto") if int(r.chat_id or 0) in workers]  # type: ignore[arg-type]
            assert sorted({int(r.chat_id) for r in photos}) == workers  # type: ignore[arg-type]


async def test_import_names_two_bad_rows_and_the_export_opens_in_openpyxl(tmp_path: Path, db_url: str) -> None:
    import openpyxl
    from playwright.async_api import async_playwright, expect

    from handlers.console import issue_link, link_url

    sheet = tmp_path / "cong-nhan.csv"
    sheet.write_text(
        "Họ tên,Số điện thoại,Nơi làm việc,Tỉnh/thành phố,Ngày đăng ký\n"
        "Nguyễn Văn An,0912 345 678,Công ty May 10,Hà Nội,15/11/2026\n"
        "Trần Thị Bình,0123,Công ty May 10,Hà Nội,16/11/2026\n"
        "Lê Văn Cường,0987 654 321,Samsung,Hà Nội,\n"
        "Phạm Thị Dung,0911 111 111,Samsung,Atlantis,\n",
        encoding="utf-8",
    )
    config = config_for(tmp_path, db=db_url)
    async with serving(config) as runtime:
        org = await runtime.store.touch_user("telegram", str(ORGANIZER), language="vi")
        await runtime.store.set_role(org.id, Role.ORGANIZER)
        await runtime.store.add_organizer_provinces(org.id, ["ha_noi"], granted_by=None)
        link = link_url(f"http://127.0.0.1:{runtime.web_port}", await issue_link(runtime.store, org))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
                await page.goto(link)
                await page.click("#signin")
                await page.click("text=Nhập danh sách")
                await page.set_input_files("input[name=file]", str(sheet))
                await page.click("#import-preview")
                problems = page.locator("#problems li")
                await expect(problems).to_have_count(2)
                await expect(problems.nth(0)).to_contain_text("Dòng 3 · Số điện thoại")
                await expect(problems.nth(1)).to_contain_text("Dòng 5 · Tỉnh/thành phố")
                await shoot(page, "08-import-preview")
                await page.click("#import-confirm")
                await expect(page.locator(".notice")).to_contain_text("Đã nhập 2 đăng ký mới")

                await page.click("text=Đăng ký")
                async with page.expect_download() as download_info:
                    await page.click("button[value=xlsx]")
                download = await download_info.value
                saved = tmp_path / "export.xlsx"
                await download.save_as(saved)
                rows = list(openpyxl.load_workbook(saved).active.iter_rows(min_row=2, values_only=True))
                assert sorted((r[2], r[3]) for r in rows) == [
                    ("Lê Văn Cường", "+84987654321"),
                    ("Nguyễn Văn An", "+84912345678"),
                ]
                await shoot(page, "09-signups-after-import")

                # An admin reads who imported and exported (organizers have no such page).
                admin = await runtime.store.touch_user("telegram", str(ADMIN), language="vi")
                await runtime.store.set_role(admin.id, Role.ADMIN)
                admin_link = link_url(f"http://127.0.0.1:{runtime.web_port}", await issue_link(runtime.store, admin))
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(admin_link)
                await page.click("#signin")
                await page.click("text=Nhật ký")
                await expect(page.locator("h1")).to_have_text("Nhật ký thao tác")
                actions = page.locator("table.list tbody tr td:nth-child(3)")
                # Whole cells: the preview is audited too, as "signups.import_preview".
                await expect(actions.filter(has_text=re.compile(r"^\s*signups\.import\s*$"))).to_have_count(1)
                await expect(actions.filter(has_text=re.compile(r"^\s*signups\.import_preview\s*$"))).to_have_count(1)
                await expect(actions.filter(has_text=re.compile(r"^\s*signups\.export\s*$"))).to_have_count(1)
                await shoot(page, "11-audit")
            finally:
                await browser.close()
    exports = await _audits(config, "signups.export")
    assert exports and exports[0]["via"] == "console"


async def _audits(config, action: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    from storage import open_store

    # The store the bot itself opened from the config, whichever backend that is.
    async with open_store(config.storage.path) as store:
        return [e.details for e in await store.list_audit(action=action)]
