"""Issue 14 item 19: property-based tests over every parser that takes outside input.

No input may raise anything but the documented errors:

- Zalo OA webhook bodies (`parse_oa_event`) and Zalo Bot updates (`parse_bot_update`):
  MalformedPayload only; signature and secret checks: a bool, never an exception.
- Telegram updates (`to_inbound`, on whatever PTB accepts) and the Telegram webhook
  (in-process, no network): never an exception.
- Phone numbers (`parse_vn_mobile`, `mask_phone`), provinces (`resolve_province`,
  `parse_province`), broadcast dates and times (`parse_time_of_day`,
  `parse_local_datetime`, `parse_local_date`, `parse_period`), typed commands
  (`Inbound.parse_text`), free text cleaning: never an exception.
- Callback payloads: any button payload, through the real router and store, as a worker,
  an organizer and an admin: a reply, never an exception.

The number of cases run is printed at the end of the module (also without -s).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import to_inbound
from bot.channels.zalo.bot_client import parse_bot_update, verify_bot_webhook_secret
from bot.channels.zalo.errors import MalformedPayload
from bot.channels.zalo.webhook import parse_oa_event, verify_oa_signature
from handlers.broadcasts.schedule import parse_local_date, parse_local_datetime, parse_period, parse_time_of_day
from handlers.care.benefit_import import COLUMNS as BENEFIT_COLUMNS
from handlers.join.common import clean_note, clean_text, parse_province, parse_year
from handlers.join.phone import PHONE_ERRORS, mask_phone, parse_vn_mobile
from handlers.join.provinces import fold, get_province, resolve_province
from handlers.types import Inbound, InboundKind

CASES: Counter[str] = Counter()
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class _CaseReport:
    """Prints the number of generated cases in pytest's end-of-run summary (not captured)."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
        if not CASES:
            return
        terminalreporter.write_sep("-", f"hypothesis: {sum(CASES.values())} generated cases over {len(CASES)} parsers")
        for name, n in sorted(CASES.items()):
            terminalreporter.write_line(f"  {name}: {n}")


@pytest.fixture(scope="module", autouse=True)
def report_cases(pytestconfig) -> None:  # type: ignore[no-untyped-def]
    if not pytestconfig.pluginmanager.has_plugin("unionbot-fuzz-cases"):
        pytestconfig.pluginmanager.register(_CaseReport(), "unionbot-fuzz-cases")


# -- strategies -----------------------------------------------------------------
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
ids = st.one_of(st.text(max_size=25), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
texts = st.text(max_size=200)
DEEP = b"[" * 5_000 + b"]" * 5_000  # deeper than the JSON decoder's recursion limit


def maybe(strategy):  # type: ignore[no-untyped-def]
    return st.one_of(strategy, json_values)


OA_EVENTS = (
    "user_send_text",
    "user_send_image",
    "user_send_sticker",
    "user_send_link",
    "follow",
    "unfollow",
    "user_received_message",
    "user_seen_message",
    "oa_send_text",
    "user_send_file",
    "x",
)
oa_bodies = st.fixed_dictionaries(
    {},
    optional={
        "event_name": maybe(st.sampled_from(OA_EVENTS)),
        "app_id": maybe(ids),
        "oa_id": maybe(ids),
        "timestamp": maybe(st.integers(0, 2**63).map(str)),
        "sender": maybe(st.fixed_dictionaries({}, optional={"id": ids})),
        "recipient": maybe(st.fixed_dictionaries({}, optional={"id": ids})),
        "follower": maybe(st.fixed_dictionaries({}, optional={"id": ids})),
        "message": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": maybe(texts),
                    "msg_id": maybe(ids),
                    "msg_ids": maybe(st.lists(ids, max_size=3)),
                    "quote_msg_id": ids,
                    "attachments": maybe(
                        st.lists(
                            maybe(
                                st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "type": maybe(st.sampled_from(["image", "sticker", "link", "file"])),
                                        "payload": maybe(st.fixed_dictionaries({}, optional={"url": maybe(texts)})),
                                    },
                                )
                            ),
                            max_size=3,
                        )
                    ),
                },
            )
        ),
    },
)

BOT_EVENTS = ("message.text.received", "message.image.received", "message.sticker.received", "", "x")
bot_messages = st.fixed_dictionaries(
    {},
    optional={
        "from": maybe(
            st.fixed_dictionaries(
                {}, optional={"id": ids, "display_name": maybe(texts), "is_bot": maybe(st.booleans())}
            )
        ),
        "chat": maybe(st.fixed_dictionaries({}, optional={"id": ids, "chat_type": maybe(texts)})),
        "text": maybe(texts),
        "caption": maybe(texts),
        "photo": maybe(texts),
        "sticker": maybe(texts),
        "date": maybe(st.integers()),
        "message_id": ids,
    },
)
bot_updates = st.fixed_dictionaries(
    {}, optional={"event_name": maybe(st.sampled_from(BOT_EVENTS)), "message": maybe(bot_messages)}
)
bot_bodies = st.one_of(
    bot_updates, st.fixed_dictionaries({"result": maybe(bot_updates)}, optional={"ok": maybe(st.booleans())})
)


def _bodies(structured):  # type: ignore[no-untyped-def]
    """A body as the parser may get it: parsed, JSON text, JSON bytes, or any bytes."""
    return st.one_of(
        structured,
        json_values,
        structured.map(json.dumps),
        structured.map(lambda o: json.dumps(o).encode()),
        st.binary(max_size=300),
        st.text(max_size=100),
    )


# -- Zalo --------------------------------------------------------------------------
@FUZZ
@given(_bodies(oa_bodies))
@example(DEEP)
@example(b"\xff\xfe")
@example({"event_name": "user_send_text", "message": {"text": 5, "msg_ids": [None, 1.5]}, "timestamp": "١٢"})
def test_zalo_oa_bodies_parse_or_are_refused_as_malformed(body) -> None:  # type: ignore[no-untyped-def]
    CASES["zalo oa webhook body"] += 1
    try:
        event = parse_oa_event(body)
    except MalformedPayload:
        return
    assert event.event_name and isinstance(event.text, str) and isinstance(event.dedup_key, str)
    assert event.timestamp_ms is None or event.timestamp_ms >= 0


@FUZZ
@given(_bodies(bot_bodies))
@example(DEEP)
@example({"ok": False, "result": {}})
@example({"result": {"message": {"from": {"id": True}, "chat": {"id": 0.5}}}})
def test_zalo_bot_updates_parse_or_are_refused_as_malformed(body) -> None:  # type: ignore[no-untyped-def]
    CASES["zalo bot update"] += 1
    try:
        update = parse_bot_update(body)
    except MalformedPayload:
        return
    assert update.user_id and isinstance(update.text, str) and isinstance(update.chat_id, str)


# Header values as Starlette hands them over (decoded as latin-1), and configured secrets.
header_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=120)
config_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)


@FUZZ
@given(
    st.binary(max_size=200),
    st.one_of(st.none(), header_text),
    config_text,
    config_text,
    st.one_of(st.none(), header_text),
    config_text,
)
@example(b"{}", "mac=abc", "", "", None, "")
@example(b"{}", "\xff", "app", "kh\u00f3a", "\xe9", "\u00e9")
def test_signature_and_secret_checks_answer_a_bool(body, header, app_id, key, given_secret, expected) -> None:  # type: ignore[no-untyped-def]
    CASES["zalo signature/secret check"] += 1
    assert verify_oa_signature(body, header, app_id, key) in (True, False)
    assert verify_bot_webhook_secret(given_secret, expected) in (True, False)
    if not expected:
        assert verify_bot_webhook_secret(given_secret, expected) is False


# -- Telegram ----------------------------------------------------------------------
def _telegram_update(fake, kind: str, user_id: int, text: str, data: str):  # type: ignore[no-untyped-def]
    if kind == "text":
        return fake.user_message(user_id, text)
    if kind == "button":
        return fake.callback_query(user_id, data)
    if kind == "photo":
        return fake.photo(user_id, caption=text)
    if kind == "group":
        return fake.user_message(user_id, text, chat_id=-100123, chat_type="supergroup", chat_title="g")
    return fake.sticker(user_id)


@pytest.fixture(scope="module")
def fake_api():  # type: ignore[no-untyped-def]
    from tests.fakes.telegram_api import FakeBotApi

    return FakeBotApi()


@pytest.fixture(scope="module")
def ptb_bot():  # type: ignore[no-untyped-def]
    from telegram import Bot

    return Bot("123:abc")


@FUZZ
@given(
    kind=st.sampled_from(["text", "button", "photo", "group", "sticker"]),
    user_id=st.integers(1, 2**52),
    text=st.text(min_size=1, max_size=300),
    data=st.text(max_size=64),
)
@example(kind="text", user_id=1, text="/", data="")
@example(kind="text", user_id=1, text="/@", data="")
@example(kind="text", user_id=1, text="/ \u2028", data="")
def test_telegram_updates_become_inbound_or_nothing(fake_api, ptb_bot, kind, user_id, text, data) -> None:  # type: ignore[no-untyped-def]
    from telegram import Update

    CASES["telegram update -> inbound"] += 1
    raw = {"update_id": 1, **_telegram_update(fake_api, kind, user_id, text, data)}
    update = Update.de_json(json.loads(json.dumps(raw)), ptb_bot)
    inbound = to_inbound(update)
    if kind == "group":
        assert inbound is None
    elif inbound is not None:
        assert inbound.user_id == str(user_id)
        if kind == "button":
            assert inbound.kind is InboundKind.BUTTON and inbound.payload == data


# -- typed text ----------------------------------------------------------------------
@FUZZ
@given(texts)
@example("/")
@example("/ ")
@example("/@")
@example("/start@")
@example("/\u00a0x")
def test_typed_commands_parse(text: str) -> None:
    CASES["typed command"] += 1
    inbound = Inbound.parse_text("test", "u", text)
    if inbound.kind is InboundKind.COMMAND:
        assert inbound.command == inbound.command.lower()


@FUZZ
@given(
    st.one_of(
        texts,
        st.from_regex(r"\A[+(]?[0-9 .\-()/]{0,20}\Z"),
        st.builds(
            lambda p, n: p + n,
            st.sampled_from(["0", "+84", "84", "0084", "(+84) "]),
            st.text(alphabet="0123456789 .-", max_size=14),
        ),
    )
)
@example("٠٩١٢٣٤٥٦٧٨")
@example("+" * 50)
@example("0" * 300)
def test_phone_numbers_parse_to_e164_or_a_known_error(text: str) -> None:
    CASES["phone number"] += 1
    result = parse_vn_mobile(text)
    assert (result.e164 is None) != (result.error is None)
    if result.e164 is not None:
        assert result.e164.startswith("+84") and result.e164[1:].isdigit()
        assert parse_vn_mobile(result.e164).e164 == result.e164
    else:
        assert result.error in PHONE_ERRORS
    masked = mask_phone(result.e164)
    assert result.e164 is None or result.e164[3:-2] not in masked
    mask_phone(text)


@FUZZ
@given(
    st.one_of(
        texts,
        st.sampled_from(["hcm", "Hà Nội", "tp hcm", "Sai Gon", "ha_noi", "ĐỒNG NAI", "x"]).flatmap(
            lambda s: st.builds(lambda a, b: a + s + b, st.text(max_size=5), st.text(max_size=5))
        ),
    )
)
@example("\u0301" * 50)
@example("ß" * 10)
@example("İ")
def test_provinces_resolve_to_a_known_province_or_suggestions(text: str) -> None:
    CASES["province"] += 1
    fold(text)
    match = resolve_province(text)
    if match.province is not None:
        assert get_province(match.province.id) is match.province
    assert all(get_province(p.id) is not None for p in match.suggestions)
    province, suggestions = parse_province(text)
    assert province is None or get_province(province) is not None
    assert all(get_province(p) is not None for p in suggestions)


@FUZZ
@given(texts, st.integers(1, 2000))
def test_free_text_cleaning_never_raises(text: str, limit: int) -> None:
    CASES["free text / note / year"] += 1
    cleaned = clean_text(text, min_len=1, max_len=limit)
    assert cleaned is None or 1 <= len(cleaned) <= limit
    note = clean_note(text, max_len=limit)
    assert note is None or 1 <= len(note) <= limit
    parse_year(text)


dates_typed = st.one_of(
    texts,
    st.builds("{}/{}".format, st.integers(0, 99), st.integers(0, 99)),
    st.builds("{}/{}/{}".format, st.integers(0, 99), st.integers(0, 99), st.integers(0, 99999)),
    st.builds("{}-{}-{}".format, st.integers(0, 99999), st.integers(0, 99), st.integers(0, 99)),
)
clock_typed = st.one_of(
    st.just(""),
    st.builds("{}:{}".format, st.integers(0, 99), st.integers(0, 99)),
    st.builds("{}h{}".format, st.integers(0, 99), st.integers(0, 99)),
    st.text(max_size=8),
)
nows = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC))


@FUZZ
@given(dates_typed, clock_typed, nows)
@example("29/02", "08:00", datetime(2028, 3, 1, tzinfo=UTC))
@example("31/12", "08:00", datetime(9997, 12, 31, 20, tzinfo=UTC))
@example("01/01/0", "8h", datetime(2026, 1, 1, tzinfo=UTC))
def test_broadcast_dates_and_times_parse_or_are_none(day: str, clock: str, now: datetime) -> None:
    CASES["broadcast date/time"] += 1
    for text in (f"{day} {clock}", f"{clock} {day}", day):
        at = parse_local_datetime(text, TZ, now)
        assert at is None or at.tzinfo is not None
        parse_local_date(text, TZ, now)
    period = parse_period(f"{day} - {day}", TZ, now)
    assert period is None or period[0] is None or period[0] <= period[1]
    assert parse_period(day, TZ, now) is None or isinstance(parse_period(day, TZ, now), tuple)
    t = parse_time_of_day(clock)
    assert t is None or (0 <= t.hour <= 23 and 0 <= t.minute <= 59)


# -- callback payloads through the real router -----------------------------------
PREFIXES = ("menu", "lang", "kb", "qa", "fb", "ask", "inbox", "bcc", "bcm", "sub", "jo", "jf", "jv", "fg", "x", "")


@pytest.fixture(scope="module")
def chat_world(tmp_path_factory) -> Iterator[tuple[asyncio.AbstractEventLoop, object, object]]:  # type: ignore[no-untyped-def]
    """One store and dispatcher for all payload cases (a fresh one per case would be slow)."""
    from handlers.context import Services, Settings
    from handlers.dispatcher import Dispatcher
    from handlers.i18n import load_catalog
    from handlers.rights.chat import default_service
    from handlers.routes import build_router
    from storage import Role
    from storage.sqlite import SQLiteStore
    from tests.fakes.broadcast_support import OPTS

    class Control:
        async def changed(self, broadcast_id: int) -> None:
            pass

    loop = asyncio.new_event_loop()
    store = SQLiteStore(Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.sqlite3")
    loop.run_until_complete(store.open())
    settings_ = Settings(admins=frozenset({("test", "admin")}), flood_messages=10**9)
    services = Services(
        store, load_catalog(), settings_, broadcast_options=OPTS, broadcast_control=Control(), rights=default_service()
    )
    dispatcher = Dispatcher(services, build_router())

    async def setup() -> None:
        for uid in ("worker", "organizer", "admin"):
            await dispatcher.handle(Inbound.parse_text("test", uid, "/start"))
        org = await store.find_user("test", "organizer")
        await store.set_role(org.id, Role.ORGANIZER)
        await store.add_organizer_provinces(org.id, ["ha_noi"], None)
        await dispatcher.handle(Inbound.parse_text("test", "worker", "/ask Công ty nợ lương ba tháng thì sao ạ"))

    loop.run_until_complete(setup())
    try:
        yield loop, dispatcher, store
    finally:
        loop.run_until_complete(store.close())
        loop.close()


payload_parts = st.one_of(
    st.text(max_size=12),
    st.integers(-3, 10**13).map(str),
    st.sampled_from(
        [
            "r",
            "v",
            "l",
            "s",
            "n",
            "c",
            "t",
            "*",
            "show",
            "pause",
            "cancel_yes",
            "resend",
            "new",
            "all",
            "confirm",
            "ha_noi",
            "workers_month",
            "1",
            "0",
            "-1",
            "",
            "９",
        ]
    ),
)
payloads = st.builds(
    lambda prefix, parts: ":".join([prefix, *parts])[:64],
    st.sampled_from(PREFIXES),
    st.lists(payload_parts, max_size=4),
) | st.text(max_size=64)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(who=st.sampled_from(["worker", "organizer", "admin"]), data=payloads)
@example(who="admin", data="inbox:r:99999999999999999999")
@example(who="admin", data="bcm:show:١")
@example(who="organizer", data="jo:l:*:*:x")
@example(who="worker", data=":::")
def test_any_button_payload_gets_a_reply_not_an_exception(chat_world, who: str, data: str) -> None:  # type: ignore[no-untyped-def]
    loop, dispatcher, _ = chat_world
    CASES["callback payload"] += 1
    replies = loop.run_until_complete(dispatcher.handle(Inbound("test", who, InboundKind.BUTTON, payload=data)))  # type: ignore[attr-defined]
    assert isinstance(replies, list) and replies, data


def test_deep_json_is_refused_by_both_zalo_parsers() -> None:
    """The one case the fuzzers cannot reach by chance: nesting past the decoder's limit."""
    for parse in (parse_oa_event, parse_bot_update):
        with pytest.raises(MalformedPayload):
            parse(DEEP)
    # Huge ids are still a plain parse.
    assert parse_bot_update({"message": {"from": {"id": 10**40}}}).user_id == str(10**40)


# -- the Telegram webhook, in-process (no network) -----------------------------------
TG_SECRET = "fuzz-secret-1234"


@pytest.fixture(scope="module")
def telegram_webhook():  # type: ignore[no-untyped-def]
    """The real webhook endpoint of a TelegramChannel in webhook mode, called directly with
    a Starlette request; the PTB application is marked running without any network."""
    import tempfile

    from bot.channels.telegram import TelegramChannel
    from bot.config import TelegramSection
    from storage.sqlite import SQLiteStore

    config = TelegramSection(
        mode="webhook",
        webhook_url="https://bot.example.org/telegram/webhook",
        token="123:abc",
        webhook_secret=TG_SECRET,
    )
    loop = asyncio.new_event_loop()
    tmp = tempfile.TemporaryDirectory()
    # A real store: the webhook journals each update before it answers 200.
    store = SQLiteStore(Path(tmp.name) / "fuzz.sqlite3")
    loop.run_until_complete(store.open())
    channel = TelegramChannel(config, None, None, None, store)  # type: ignore[arg-type]
    channel.application._running = True  # what start() sets; the endpoint only reads it

    def post(body: bytes, secret: str = TG_SECRET) -> int:
        from starlette.requests import Request

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        scope = {
            "type": "http",
            "method": "POST",
            "path": config.webhook_path,
            "query_string": b"",
            "headers": [
                (b"x-telegram-bot-api-secret-token", secret.encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
        response = loop.run_until_complete(channel._webhook(Request(scope, receive)))
        while not channel.application.update_queue.empty():
            channel.application.update_queue.get_nowait()
        return response.status_code

    yield post
    channel.application._running = False
    loop.run_until_complete(store.close())
    loop.close()
    tmp.cleanup()


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())), secret=header_text)
@example(body=b"{}", secret="")
@example(body=b"{not json", secret="x")
def test_telegram_webhook_without_the_secret_is_refused_before_reading(telegram_webhook, body, secret) -> None:  # type: ignore[no-untyped-def]
    CASES["telegram webhook (wrong secret)"] += 1
    if secret == TG_SECRET:
        return
    assert telegram_webhook(body, secret) == 403


@FUZZ
@given(
    kind=st.sampled_from(["text", "button", "photo", "group", "sticker"]),
    user_id=st.integers(1, 2**52),
    text=st.text(min_size=1, max_size=300),
    data=st.text(max_size=64),
    update_id=st.integers(0, 2**40),
    junk=st.binary(max_size=200),
)
@example(kind="text", user_id=1, text="x", data="", update_id=1, junk=b"{not json")
def test_telegram_webhook_takes_updates_and_refuses_garbage(
    telegram_webhook,
    fake_api,
    kind,
    user_id,
    text,
    data,  # type: ignore[no-untyped-def]
    update_id,
    junk,
) -> None:
    CASES["telegram webhook (updates and non-JSON)"] += 1
    update = {"update_id": update_id, **_telegram_update(fake_api, kind, user_id, text, data)}
    assert telegram_webhook(json.dumps(update).encode()) == 200
    try:
        json.loads(junk)
    except (ValueError, RecursionError):
        assert telegram_webhook(junk) == 400


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"update_id": st.integers()},
            optional={"message": json_values, "callback_query": json_values, "edited_message": json_values},
        ),
    ).map(lambda v: json.dumps(v).encode())
)
@example(body=b"[]")
@example(body=b'{"update_id": 1, "message": 1}')
@example(body=DEEP)
def test_telegram_webhook_never_fails_on_any_json_with_the_secret(telegram_webhook, body) -> None:  # type: ignore[no-untyped-def]
    CASES["telegram webhook (any JSON)"] += 1
    assert telegram_webhook(body) in (200, 400)


# -- CSV/XLSX import rows ------------------------------------------------------------
# A sheet's cells as csv gives them (text) or openpyxl gives them (numbers, dates, bools,
# empty cells), mixed with values that pass the checks so that some rows are planned.
_IMPORT_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
_import_cells = st.one_of(
    st.none(),
    _IMPORT_TEXT,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.sampled_from(
        ["Nguyễn Văn An", "Trần Thị Bình", "0912 345 678", "+84987654321", 912345678, "Công ty May 10", "Samsung"]
    ),
    st.sampled_from(["Hà Nội", "hcm", "Huế", "Atlantis", "KCN Thăng Long", "15/11/2026", "2026-11-16", "'=1+1"]),
)
_SIGNUP_HEADINGS = {
    "name": ["Họ tên", "name", "HỌ VÀ TÊN"],
    "phone": ["Số điện thoại", "sdt", "Phone number"],
    "workplace": ["Nơi làm việc", "company"],
    "province": ["Tỉnh/thành phố", "province", "tinh / tp"],
    "commune": ["Xã/phường/KCN", "ward"],
    "date": ["Ngày đăng ký", "date"],
}
_SIGNUP_GOOD: dict[str, list[object]] = {
    "name": ["Nguyễn Văn An", "Trần Thị Bình", "Le Van Cuong"],
    "phone": ["0912 345 678", "+84987654321", 912345678, "0911.111.111"],
    "workplace": ["Công ty May 10", "Samsung"],
    "province": ["Hà Nội", "hcm", "Huế"],
    "commune": ["KCN Thăng Long", None, ""],
    "date": ["15/11/2026", "2026-11-16", None, date(2026, 1, 1)],
}


def _signup_sheet(keys: list[str]):  # type: ignore[no-untyped-def]
    """A full header in this column order, and rows whose cells are mostly good for their column."""
    header = st.tuples(*(st.sampled_from(_SIGNUP_HEADINGS[k]) for k in keys)).map(list)
    # one_of() would flatten _import_cells' own branches and drown the good values
    cell = [
        st.integers(0, 3).flatmap(lambda n, k=k: st.sampled_from(_SIGNUP_GOOD[k]) if n else _import_cells) for k in keys
    ]
    row = st.one_of(st.tuples(*cell).map(list), st.lists(_import_cells, max_size=8))
    return st.tuples(header, st.lists(row, max_size=12))


_signup_tables = st.one_of(
    # every column, in any order, under any of its names
    st.permutations(list(_SIGNUP_HEADINGS)).flatmap(_signup_sheet),
    # anything at all, so that missing columns are reported too
    st.tuples(
        st.lists(st.one_of(_import_cells, st.sampled_from([h for hs in _SIGNUP_HEADINGS.values() for h in hs]))),
        st.lists(st.lists(_import_cells, max_size=8), max_size=12),
    ),
)


def _blank(values: list[object]) -> bool:
    return all(v is None or str(v).strip() == "" for v in values)


def _check_plan(header: list[object], rows: list[list[object]], plan) -> None:  # type: ignore[no-untyped-def]
    """Nothing lost: every non-blank row is planned, reported or merged into an earlier row."""
    from handlers.join.importer import ImportPlan

    assert isinstance(plan, ImportPlan)
    if any(p.code == "missing_column" for p in plan.problems):
        assert all(p.row == 1 for p in plan.problems) and not plan.rows  # the file as a whole is refused
        return
    planned = {r.row for r in plan.rows}
    reported = {p.row for p in plan.problems}
    filled = {n for n, values in enumerate(rows, start=2) if not _blank(values)}
    assert planned | reported <= filled
    assert not planned & reported
    assert len(filled - planned - reported) == plan.merged
    assert len({r.draft.phone_e164 for r in plan.rows}) == len(plan.rows)  # a number twice: one sign-up
    for r in plan.rows:
        assert r.draft.phone_e164.startswith("+84") and r.draft.full_name and r.draft.province_id
        assert r.signed_at.tzinfo is not None


@FUZZ
@given(_signup_tables, st.sampled_from([None, frozenset({"ha_noi"}), frozenset()]))
@example((["Họ tên", "Số điện thoại", "Nơi làm việc", "Tỉnh/thành phố"], [["", None, " "]]), None)
@example(
    (["name", "phone", "workplace", "province", "date"], [["A B", 912345678, "May", "Hà Nội", float("nan")]]), None
)
@example((["name", "phone", "workplace", "province"], [["An", "0912345678", "May 10", "Hà Nội"]] * 3), None)
def test_signup_import_rows_are_planned_or_reported(table, scope) -> None:  # type: ignore[no-untyped-def]
    from handlers.join.importer import plan_import

    CASES["sign-up import rows"] += 1
    header, rows = table
    plan = plan_import(iter([header, *rows]), scope=scope, tz=TZ, lang="vi", today=date(2026, 12, 3))
    _check_plan(header, rows, plan)
    if plan.rows:
        CASES["sign-up import rows (some planned)"] += 1


def _csv_bytes(header: list[object], rows: list[list[object]], delimiter: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    for values in [header, *rows]:
        writer.writerow(["" if v is None else v for v in values])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx_bytes(header: list[object], rows: list[list[object]]) -> bytes:
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for values in [header, *rows]:
        # Excel cannot hold control characters or times-of-day as dates; a sheet has none.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_xlsx_cells = st.one_of(
    st.none(),
    _IMPORT_TEXT,
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1)),
    st.sampled_from(["Nguyễn Văn An", "0912 345 678", "Công ty May 10", "Hà Nội", "15/11/2026", 912345678]),
)


@settings(FUZZ, max_examples=60)
@given(_signup_tables, st.sampled_from(["csv,", "csv;", "csv\t", "xlsx"]))
def test_signup_import_files_csv_and_xlsx_plan_every_row(table, kind) -> None:  # type: ignore[no-untyped-def]
    """Through read_table, as the console and `unionbot signups import` read a file."""
    from handlers.join.importer import plan_import, read_table

    CASES["sign-up import file"] += 1
    header, rows = table
    header = [v for v in header if not isinstance(v, float) or math.isfinite(v)]
    rows = [[v for v in r if not isinstance(v, float) or math.isfinite(v)] for r in rows]
    if kind == "xlsx":
        data, name = _xlsx_bytes(header, rows), "sheet.xlsx"
    else:
        data, name = _csv_bytes(header, rows, kind[3]), "sheet.csv"
    table = list(read_table(data, name))
    plan = plan_import(iter(table), scope=None, tz=TZ, lang="en", today=date(2026, 12, 3))
    # Rows as the file gives them back (a "=..." text is a formula to Excel, read as empty).
    header_read, *rows_read = table or [[]]
    _check_plan(header_read, rows_read, plan)
    planned = {r.row for r in plan.rows}
    reported = {p.row for p in plan.problems}
    assert planned | reported <= set(range(1, len(rows) + 2))  # row numbers are the sheet's own


# Columns from the importer's own list: a column added there is fuzzed too.
_benefit_cells = st.one_of(
    _import_cells,
    st.sampled_from(["mua sắm", "Sức khỏe", "health", "other", "toan_quoc", "Hà Nội, Huế", "hcm;xx", "ha_noi|"]),
    st.sampled_from(["https://a.vn", "ftp://x", "có", "không", "x", "2026-01-01", "31/12/2025", "1/1/1"]),
    st.text(min_size=490, max_size=520),
)
_BENEFIT_GOOD = {
    "key": "k1",
    "title": "Giảm giá",
    "partner": "Điện máy X",
    "category": "mua sắm",
    "provinces": "Hà Nội, Huế",
    "gives": "Giảm 10%",
    "how_to_claim": "Đưa thẻ",
    "valid_from": "2026-01-01",
    "valid_until": "31/12/2026",
    "link": "https://a.vn",
    "members_only": "có",
}
_benefit_row = st.one_of(
    # a good row with a few cells changed, its key one of a few so that keys repeat
    st.builds(
        lambda key, changes: {**_BENEFIT_GOOD, "key": key, **changes},
        st.sampled_from(["k1", "k2", "k3", "k4"]),
        st.dictionaries(st.sampled_from([*BENEFIT_COLUMNS, "extra"]), _benefit_cells, max_size=2),
    ),
    st.dictionaries(st.sampled_from([*BENEFIT_COLUMNS, "extra", ""]), _benefit_cells, max_size=12),
)
_benefit_rows = st.lists(_benefit_row, max_size=10)


@FUZZ
@given(_benefit_rows)
@example([{c: "x" for c in BENEFIT_COLUMNS}, {c: "x" for c in BENEFIT_COLUMNS}])
@example([{"key": "a", "valid_from": date(2026, 2, 1), "valid_until": datetime(2026, 1, 1)}])
def test_benefit_rows_are_imported_or_reported(rows) -> None:  # type: ignore[no-untyped-def]
    from handlers.care.benefit_import import parse_benefits

    CASES["benefit import rows"] += 1
    good, errors = parse_benefits(rows)
    assert len(good) + len({e.row for e in errors}) == len(rows)  # each row: one or the other
    if good:
        CASES["benefit import rows (some imported)"] += 1
    assert {e.row for e in errors} <= set(range(2, len(rows) + 2))
    assert len({b.key for b in good}) == len(good)
    for e in errors:
        assert e.column and e.reason and str(e).startswith(f"row {e.row}, column ")


@settings(FUZZ, max_examples=80)
@given(
    st.one_of(
        st.tuples(
            st.lists(st.sampled_from([*BENEFIT_COLUMNS, "Key", "TITLE ", "x"]), max_size=12),
            st.lists(st.lists(_xlsx_cells, max_size=12), max_size=6),
            st.sampled_from(["csv,", "csv;", "xlsx"]),
        ).map(
            lambda t: (
                (_xlsx_bytes(t[0], t[1]), "b.xlsx") if t[2] == "xlsx" else (_csv_bytes(t[0], t[1], t[2][3]), "b.csv")
            )
        ),
        st.tuples(st.binary(max_size=300), st.sampled_from(["b.csv", "b.xlsx", "b.txt", "b", "b.pdf"])),
        st.tuples(st.text(max_size=300).map(str.encode), st.just("b.csv")),
    )
)
@example((b"PK\x03\x04garbage", "b.xlsx"))
@example((b'key,title\n"unterminated', "b.csv"))
@example((b"key,title,partner,category,provinces,gives,how_to_claim\n" + b"x" * 200_000, "b.csv"))
def test_benefit_files_read_or_are_refused_with_a_friendly_error(tmp_path_factory, file) -> None:  # type: ignore[no-untyped-def]
    """`unionbot benefits import` catches ImportFileError only: nothing else may escape."""
    from handlers.care.benefit_import import ImportFileError, parse_benefits, read_rows

    CASES["benefit import file"] += 1
    data, name = file
    path = tmp_path_factory.mktemp("benefits") / name
    path.write_bytes(data)
    try:
        rows = read_rows(path)
    except ImportFileError:
        return  # the CLI prints it: "unionbot: b.csv: <reason>"
    good, errors = parse_benefits(rows)
    assert len(good) + len({e.row for e in errors}) == len(rows)
