"""Rights Q&A: free text goes to the knowledge-base search and the answer is shaped
for a phone.

* A confident match: the topic's short summary (its first sentence answers the common
  question), at most three bullets, one "next step" line and the citation on one line;
  "📖 Details" shows the full text. A specific entry (a story's own question) is
  answered by that entry, with a button to the topic's general answer.
* Anything less than confident, a clarification, a story the bot cannot place and a
  question about another country's law all offer the 🙋 hand-off to a union officer.
* The reply is in the language the question is written in, whatever the setting.
* The general-information disclaimer is said once a day, not under every answer.

Every button payload carries what it needs (topic, entry, language), so a button
pressed days later still works.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.forms import QA_FLOW
from handlers.i18n import LANGUAGES
from handlers.join.provinces import get_province, reading_note, resolve_province
from handlers.menu import contact_reply, with_menu
from handlers.rights.context import small_talk_kind, without_pleasantries
from handlers.rights.inbox import ask_officer_button, is_ask_label, open_handoff, person_request, recent_question
from handlers.rights.kb import Entry, KnowledgeBase, RegionArea, Topic, load_knowledge_base
from handlers.rights.search import MAX_STORY_CHARS, RELATED_BUTTONS, STORY_CHOICES, Searcher, SearchResult
from handlers.router import MAX_PAYLOAD_BYTES, Handler, HandlerResult, Router, payload
from handlers.text import fold
from handlers.types import Button, Reply

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
MINIMUM_WAGE = "minimum_wage"
UNION_JOIN = "union_join"
SHORT_QUERY_WORDS = 2
MAX_SUMMARY_CHARS = 350  # the first screen's text when a topic has no summary yet
MAX_INLINE_AREAS = 300  # wards/communes of all regions shown inline up to this length
MAX_MESSAGE_CHARS = 3500  # under Telegram's 4,096 and Zalo's limits, with room to spare
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


@dataclass(slots=True)
class RightsService:
    kb: KnowledgeBase
    searcher: Searcher
    # Short, stable references for entry ids too long for a 64-byte button payload.
    entry_refs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.entry_refs = {_entry_ref(eid): eid for eid in self.kb.entries}

    @classmethod
    def load(cls, extra_dir: str | Path | None = None) -> RightsService:
        """The engine for the packaged topics plus `extra_dir`, built once per process.

        Building the indexes takes seconds; a CLI call, a second runtime or a test reuses
        the one built from the same files. Any change to a file (time or size) builds anew.
        """
        extra = Path(extra_dir).resolve() if extra_dir else None
        key = (extra, _fingerprint(Path(__file__).parent, extra))
        cached = _LOADED.get(key)
        if cached is None:
            kb = load_knowledge_base(extra)
            cached = _LOADED[key] = cls(kb, Searcher(kb))
            while len(_LOADED) > 4:  # an operator editing files: keep only the latest few
                del _LOADED[next(iter(_LOADED))]
        return cached

    def search(self, text: str, lang: str | None = None) -> SearchResult:
        # A worker's story can run to a few thousand characters and ends with the question:
        # the engine reads as much of it as it ever reads (its own limits keep latency flat).
        return self.searcher.search(text[:MAX_STORY_CHARS], lang)

    def topic(self, topic_id: str) -> Topic | None:
        return self.kb.topics.get(topic_id)

    def entry(self, ref: str) -> Entry | None:
        return self.kb.entries.get(self.entry_refs.get(ref, ref))

    def title(self, topic_id: str, lang: str) -> str:
        t = self.topic(topic_id)
        return t.title_in(lang) if t is not None else topic_id

    def answer_text(self, topic_id: str, lang: str, *, t: Callable[..., str], hotline: str) -> str:
        """The full answer (the "details" view): key facts, legal basis, disclaimer."""
        topic = self.kb.topics[topic_id]
        return "\n\n".join(
            [
                topic.answer_in(lang).strip(),
                t("qa.citation", citation=topic.citation_in(lang)),
                disclaimer(t, hotline),
            ]
        )


_LOADED: dict[tuple[Path | None, tuple[tuple[str, int, int], ...]], RightsService] = {}


def _fingerprint(*roots: Path | None) -> tuple[tuple[str, int, int], ...]:
    """Every file under `roots` with its modification time and size."""
    out = []
    for root in roots:
        if root is None or not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def first_sentences(text: str, limit: int) -> str:
    """The whole sentences of `text` that fit in `limit` characters (at least the first)."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind(". ", 0, limit), text.rfind(".\n", 0, limit), text.rfind("; ", 0, limit))
    if cut <= 0:
        cut = text.find(". ")
    return text[: cut + 1].rstrip(" ;") if cut > 0 else text[:limit].rstrip() + "…"


def _entry_ref(entry_id: str) -> str:
    """The entry id itself when a payload has room for it, else a stable checksum."""
    if len(f"qe:{entry_id}:vi".encode()) <= MAX_PAYLOAD_BYTES:
        return entry_id
    return f"h{zlib.crc32(entry_id.encode()):08x}"


def disclaimer(t: Callable[..., str], hotline: str) -> str:
    return t("qa.footer", hotline=t("qa.footer_hotline", hotline=hotline) if hotline else "")


@functools.cache
def default_service() -> RightsService:
    return RightsService.load()


async def ready(ctx: Ctx) -> RightsService:
    """The service, once the running bot's thread has built it: the first questions after
    a start wait those few seconds, while /start and every other command answer at once."""
    if ctx.services.rights is None and ctx.services.rights_loading is not None:
        ctx.services.rights = await asyncio.shield(ctx.services.rights_loading)
    return rights(ctx)


def needs_rights(handler: Handler) -> Handler:
    """A handler that reads the knowledge base: it waits for it first (see `ready`)."""

    @functools.wraps(handler)
    async def wrapped(ctx: Ctx) -> HandlerResult:
        await ready(ctx)
        return await handler(ctx)

    return wrapped


def rights(ctx: Ctx) -> RightsService:
    # The running bot builds the service in a thread as its channels start (handlers
    # registered below wait for it); a CLI command or a test builds it on first use, with
    # the federation's extra files if configured.
    if ctx.services.rights is None:
        extra = ctx.settings.rights_extra_dir
        ctx.services.rights = RightsService.load(extra) if extra else default_service()
    return ctx.services.rights


# -- conversation memory ----------------------------------------------------------------
def _today(ctx: Ctx) -> str:
    return datetime.now(ZoneInfo(ctx.settings.timezone)).date().isoformat()


async def _qa_state(ctx: Ctx) -> dict[str, Any] | None:
    """The Q&A memory, or None when a form or step owns the conversation state."""
    state = await ctx.store.get_state(ctx.user.id)
    if state is None:
        return {}
    if state.flow == QA_FLOW:
        return dict(state.data)
    return None


async def _disclaimer_due(ctx: Ctx, memory: dict[str, Any] | None) -> bool:
    """Say the general-information line once a day; remember that it was said."""
    if memory is None:  # a form is open: keep its state, say the line
        return True
    if memory.get("disc") == _today(ctx):
        return False
    memory["disc"] = _today(ctx)
    await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", memory)
    return True


async def remember_question(ctx: Ctx, text: str, memory: dict[str, Any]) -> None:
    """Keep the last question so "ask a union officer" can forward it with one tap.

    Stored as conversation state (erased by /forget), never logged.
    """
    memory["q"] = text[:MAX_QUESTION_CHARS]
    await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", memory)


# -- buttons -------------------------------------------------------------------------------
def handoff_row(ctx: Ctx) -> list[Button]:
    return [ask_officer_button(ctx, forward=True)]


def _topic_button(ctx: Ctx, topic_id: str, label_key: str = "qa.related") -> Button:
    return Button(ctx.t(label_key, title=rights(ctx).title(topic_id, ctx.lang)), payload("qa", topic_id, ctx.lang))


def _ref_button(ctx: Ctx, ref: str) -> Button | None:
    """A button for a topic id or an entry id (a story's second question)."""
    svc = rights(ctx)
    if svc.topic(ref) is not None:
        return _topic_button(ctx, ref)
    entry = svc.kb.entries.get(ref)
    if entry is not None:
        return Button(ctx.t("qa.related", title=entry.title_in(ctx.lang)), payload("qe", _entry_ref(ref), ctx.lang))
    return None


def _feedback_row(ctx: Ctx, topic_id: str) -> list[Button]:
    return [
        Button(ctx.t("qa.helpful"), payload("fb", topic_id, 1, ctx.lang)),
        Button(ctx.t("qa.not_helpful"), payload("fb", topic_id, 0, ctx.lang)),
    ]


# -- minimum wage by province ---------------------------------------------------------------
def _money(amount: int, lang: str) -> str:
    text = f"{amount:,}"
    return text.replace(",", ".") if lang == "vi" else text


@dataclass(slots=True)
class _Wage:
    text: str = ""  # the region line(s), or a hint to name the province
    areas_button: Button | None = None  # the full list of wards/communes per region


async def _wage_for(ctx: Ctx, province_id: str | None, *, ask: bool = True, compact: bool = False) -> _Wage:
    """The region(s) of the worker's province: named in the question, else their sign-up's.

    Unknown: a hint to name the province (`ask`), or nothing. A province spanning
    several regions lists each with its amount; the wards and communes of each follow
    when short, else they are one tap away (a big city's list is a few screens long)."""
    if province_id is None:
        signup = await ctx.store.signup_of_user(ctx.user.id)
        province_id = signup.province_id if signup is not None else None
    areas: list[RegionArea] = rights(ctx).kb.wage_regions_for(province_id) if province_id else []
    province = get_province(province_id) if province_id else None
    if not areas or province is None:
        return _Wage(ctx.t("qa.wage_which_province") if ask else "")
    name, lang = province.name(ctx.lang), ctx.lang
    if len(areas) == 1:
        a = areas[0]
        text = ctx.t(
            "qa.wage_one",
            province=name,
            region=_ROMAN.get(a.region, a.region),
            monthly=_money(a.monthly, lang),
            hourly=_money(a.hourly, lang),
        )
        return _Wage(text)
    short = sum(len(_areas_in(a, lang)) for a in areas) <= MAX_INLINE_AREAS
    button = None if short else Button(ctx.t("qa.wage_areas_button", province=name), payload("qw", province.id, lang))
    if compact:
        regions = ", ".join(str(_ROMAN.get(a.region, a.region)) for a in areas)
        return _Wage(
            ctx.t("qa.wage_regions_short", province=name, regions=regions),
            button or Button(ctx.t("qa.wage_areas_button", province=name), payload("qw", province.id, lang)),
        )
    rows = [ctx.t("qa.wage_many", province=name)]
    for a in areas:
        key = "qa.wage_area" if short else "qa.wage_region"
        rows.append(
            ctx.t(
                key,
                region=_ROMAN.get(a.region, a.region),
                monthly=_money(a.monthly, lang),
                hourly=_money(a.hourly, lang),
                areas=_areas_in(a, lang),
            )
        )
    return _Wage("\n".join(rows), button)


def _areas_in(area: RegionArea, lang: str) -> str:
    return area.areas.get(lang) or area.areas.get("vi", "")


def wage_areas_replies(ctx: Ctx, province_id: str) -> list[Reply]:
    """Every region of a province with all its wards and communes, split to fit messages."""
    province = get_province(province_id)
    areas = rights(ctx).kb.wage_regions_for(province_id)
    if province is None or not areas:
        return [categories_reply(ctx)]
    lang = ctx.lang
    blocks = [ctx.t("qa.wage_many", province=province.name(lang))]
    blocks += [
        ctx.t(
            "qa.wage_area",
            region=_ROMAN.get(a.region, a.region),
            monthly=_money(a.monthly, lang),
            hourly=_money(a.hourly, lang),
            areas=_areas_in(a, lang),
        )
        for a in areas
    ]
    replies: list[Reply] = []
    current = ""
    for block in blocks:
        while len(block) > MAX_MESSAGE_CHARS:  # one region's list longer than a message
            cut = block.rfind(", ", 0, MAX_MESSAGE_CHARS)
            cut = cut if cut > 0 else MAX_MESSAGE_CHARS
            if current:
                replies.append(Reply(current))
                current = ""
            replies.append(Reply(block[: cut + 1]))
            block = block[cut + 1 :].lstrip()
        if current and len(current) + len(block) + 1 > MAX_MESSAGE_CHARS:
            replies.append(Reply(current))
            current = ""
        current = f"{current}\n{block}" if current else block
    replies.append(Reply(current, buttons=[[_topic_button(ctx, MINIMUM_WAGE, "qa.general_answer")], ctx.back_button()]))
    return replies


# -- answers -------------------------------------------------------------------------------------
async def answer_reply(
    ctx: Ctx,
    topic_id: str,
    *,
    confident: bool = False,
    also: list[str] | None = None,
    province: str | None = None,
    memory: dict[str, Any] | None = None,
) -> Reply:
    """A topic's phone-sized answer: summary, bullets, next step, citation, buttons."""
    svc = rights(ctx)
    topic = svc.kb.topics[topic_id]
    lang = ctx.lang
    full = topic.answer_in(lang).strip()
    # A topic file without a summary yet still gets a phone-sized first screen.
    summary = topic.summary_in(lang).strip() or first_sentences(full, MAX_SUMMARY_CHARS)
    parts = [summary]
    wage = await _wage_for(ctx, province) if topic_id == MINIMUM_WAGE else _Wage()
    parts.append(wage.text)
    bullets = [b for b in topic.bullets_in(lang)[:3] if b.strip()]
    if summary != full and bullets:
        parts.append("\n".join(f"• {b.strip()}" for b in bullets))
    step = topic.next_step_in(lang).strip()
    if step:
        parts.append(ctx.t("qa.next_step", step=step))
    parts.append(ctx.t("qa.citation", citation=topic.citation_in(lang)))
    if await _disclaimer_due(ctx, memory if memory is not None else await _qa_state(ctx)):
        parts.append(disclaimer(ctx.t, ctx.settings.hotline))

    rows: list[list[Button]] = []
    if summary != full:
        rows.append([Button(ctx.t("qa.details"), payload("qd", topic_id, lang))])
    if wage.areas_button is not None:
        rows.append([wage.areas_button])
    if topic_id == UNION_JOIN:
        rows.append([Button(ctx.t("qa.join_form"), payload("menu", "join"))])
    rows += _also_rows(ctx, also or [], exclude={topic_id})
    if not confident:
        rows.append(handoff_row(ctx))
    rows.append(_feedback_row(ctx, topic_id))
    rows.append(ctx.back_button())
    return Reply("\n\n".join(p for p in parts if p), buttons=rows)


async def entry_reply(
    ctx: Ctx,
    entry: Entry,
    *,
    confident: bool = False,
    also: list[str] | None = None,
    province: str | None = None,
    memory: dict[str, Any] | None = None,
) -> Reply:
    """A specific question's answer: answer, next step, citation; the topic one tap away."""
    lang = ctx.lang
    parts = [entry.answer_in(lang).strip()]
    # A minimum-wage entry is short: the worker's region(s) in one line, and for a
    # province spanning several regions, which wards are in which one tap away.
    wage = await _wage_for(ctx, province, ask=False, compact=True) if entry.topic == MINIMUM_WAGE else _Wage()
    parts.append(wage.text)
    step = entry.next_step_in(lang).strip()
    if step:
        parts.append(ctx.t("qa.next_step", step=step))
    parts.append(ctx.t("qa.citation", citation=entry.citation_in(lang)))
    if await _disclaimer_due(ctx, memory if memory is not None else await _qa_state(ctx)):
        parts.append(disclaimer(ctx.t, ctx.settings.hotline))
    rows: list[list[Button]] = []
    if wage.areas_button is not None:
        rows.append([wage.areas_button])
    if rights(ctx).topic(entry.topic) is not None:
        rows.append([_topic_button(ctx, entry.topic, "qa.general_answer")])
        if entry.topic == UNION_JOIN:
            rows.append([Button(ctx.t("qa.join_form"), payload("menu", "join"))])
    rows += _also_rows(ctx, also or [], exclude={entry.id, entry.topic})
    if not confident:
        rows.append(handoff_row(ctx))
    if rights(ctx).topic(entry.topic) is not None:
        rows.append(_feedback_row(ctx, entry.topic))
    rows.append(ctx.back_button())
    return Reply("\n\n".join(p for p in parts if p), buttons=rows)


def _also_rows(ctx: Ctx, refs: list[str], *, exclude: set[str]) -> list[list[Button]]:
    rows: list[list[Button]] = []
    for ref in refs:
        if ref in exclude or len(rows) >= RELATED_BUTTONS:
            continue
        button = _ref_button(ctx, ref)
        if button is not None:
            rows.append([button])
            exclude.add(ref)
    return rows


async def details_reply(ctx: Ctx, topic_id: str) -> Reply:
    """The full answer behind "📖 Details", with the topic's related topics."""
    svc = rights(ctx)
    topic = svc.kb.topics[topic_id]
    lang = ctx.lang
    parts = [topic.answer_in(lang).strip()]
    wage = await _wage_for(ctx, None, ask=False) if topic_id == MINIMUM_WAGE else _Wage()
    parts.append(wage.text)
    parts.append(ctx.t("qa.citation", citation=topic.citation_in(lang)))
    if await _disclaimer_due(ctx, await _qa_state(ctx)):
        parts.append(disclaimer(ctx.t, ctx.settings.hotline))
    rows: list[list[Button]] = []
    if wage.areas_button is not None:
        rows.append([wage.areas_button])
    if topic_id == UNION_JOIN:
        rows.append([Button(ctx.t("qa.join_form"), payload("menu", "join"))])
    rows += _also_rows(ctx, list(topic.related), exclude={topic_id})
    rows.append(handoff_row(ctx))
    rows.append(_feedback_row(ctx, topic_id))
    rows.append(ctx.back_button())
    return Reply("\n\n".join(p for p in parts if p), buttons=rows)


# "Yes" typed instead of pressing a button under "Did you mean one of these?". A bare
# diacritic-free "dung" is "đúng" here, never "dừng" (stop announcements).
_YES_WORDS = frozenset(
    {
        "dung",
        "dung roi",
        "dung vay",
        "dung a",
        "vang",
        "u",
        "uh",
        "uhm",
        "co",
        "co a",
        "phai",
        "phai a",
        "ok",
        "oke",
        "okay",
        "yes",
        "yeah",
        "yep",
        "right",
        "correct",
    }
)


# Signs that a message asks something: folded Vietnamese question words and particles,
# English question openers. Without any, a message is a statement (a complaint, a story
# without its question): the bot may still answer, but a person is offered too.
_QUESTION_WORDS = frozenset(
    {
        "khong",
        "ko",
        "k",
        "kh",
        "khg",
        "hok",
        "hem",
        "chua",
        "sao",
        "gi",
        "j",
        "nao",
        "nhieu",
        "nhiu",
        "bnhieu",
        "dau",
        "ai",
        "hoi",
        "ha",
        "nhi",
        "nhe",
    }
)
_QUESTION_PAIRS = frozenset({"lam sao", "the nao", "bao lau", "khi nao", "the nay", "co phai", "phai lam"})
_ENGLISH_OPENERS = frozenset(
    {
        "how",
        "what",
        "when",
        "where",
        "who",
        "why",
        "which",
        "can",
        "is",
        "are",
        "do",
        "does",
        "did",
        "will",
        "should",
        "may",
        "must",
        "could",
        "would",
        "am",
        "have",
        "has",
    }
)


# "... em muon hoi can bo": the worker asks for a person, so the answer keeps the
# hand-off button however sure the engine is (found trying the bot as a worker).
_OFFICER_PHRASES = (
    *("hoi can bo", "gap can bo", "noi chuyen voi can bo", "lien he can bo", "lien lac can bo", "nho can bo"),
    *("can bo cong doan tu van", "talk to an officer", "speak to an officer", "talk to someone", "union officer"),
    *("nguoi that", "talk to a person", "speak to a person", "talk to a human", "speak to a human", "real person"),
)


def wants_an_officer(text: str) -> bool:
    folded = f" {fold(text)} "
    return any(f" {phrase} " in folded for phrase in _OFFICER_PHRASES)


def asks_something(text: str) -> bool:
    if "?" in text:
        return True
    words = fold(text).split()
    if not words:
        return False
    if words[0] in _ENGLISH_OPENERS or _QUESTION_WORDS.intersection(words):
        return True
    return any(f"{a} {b}" in _QUESTION_PAIRS for a, b in itertools.pairwise(words))


_ENGLISH_FUNCTION_WORDS = frozenset(
    {
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "at",
        "my",
        "i",
        "is",
        "are",
        "do",
        "does",
        "what",
        "how",
        "when",
        "can",
        "pay",
        "leave",
        "with",
        "without",
        "not",
        "it",
        "me",
        "get",
    }
)


def _english_words(text: str) -> bool:
    """Mostly plain-ASCII words, some of them English function words."""
    words = text.lower().split()
    ascii_words = [w for w in words if w.isascii()]
    if not words or 2 * len(ascii_words) < len(words):
        return False
    return bool(_ENGLISH_FUNCTION_WORDS.intersection(w.strip("?!.,") for w in ascii_words))


async def reoffer_choices(ctx: Ctx) -> Reply | None:
    """The topic buttons just offered, again, when the worker typed "yes" to them."""
    memory = await _qa_state(ctx)
    svc = await ready(ctx)
    offer = [t for t in (memory or {}).get("offer", []) if svc.topic(t) is not None]
    if not offer:
        return None
    if memory and memory.get("lang") in LANGUAGES:
        ctx.reply_lang = memory["lang"]
    return _choices_reply(ctx, ctx.t("qa.press_a_button"), offer)


def _choices_reply(ctx: Ctx, intro: str, topic_ids: list[str]) -> Reply:
    """Topic buttons (three, four for a story) plus the hand-off: for unsure and ambiguous questions."""
    svc = rights(ctx)
    rows = [[_topic_button(ctx, tid, "qa.choice")] for tid in dict.fromkeys(topic_ids) if svc.topic(tid) is not None][
        :STORY_CHOICES
    ]
    if topic_ids and topic_ids[0] == UNION_JOIN:
        # "muon vo cong doan": the best guess is joining, so the form is one tap away too.
        rows.append([Button(ctx.t("qa.join_form"), payload("menu", "join"))])
    rows.append(handoff_row(ctx))
    rows.append(ctx.back_button())
    return Reply(intro, buttons=rows)


_NODS = frozenset("👍👌🙏❤♥😊🙂😀😁😄👏✌💪🥰😍🤝.!")


# Words that only nod ("ok" after an answer got "you're welcome" and the whole menu; found
# by an outside tester), folded.
_NOD_WORDS = frozenset({"ok", "oke", "okay", "okie", "vang", "da", "u", "uh", "uhm", "um", "roger", "got it"})


def _acknowledgement(text: str) -> bool:
    """Only a thumbs-up, a smile, a heart, a full stop (skin tones and emoji joiners aside)
    or a word that nods ("ok", "vâng", "dạ")."""
    if fold(text) in _NOD_WORDS:
        return True
    kept = [ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Mn", "Cf", "Sk")]
    return bool(kept) and all(ch in _NODS for ch in kept)


async def answer_free_text(ctx: Ctx) -> Reply | list[Reply]:
    """A question about rights in everyday words: the best answer, choices when unsure, or a hand-off."""
    text = ctx.inbound.text.strip()
    memory = await _qa_state(ctx)
    if (asked_in := person_request(text)) is not None:
        # Only asking for a person: the hand-off step, as the menu's contact entry opens
        # it, in the words' language; the words are never the question (handlers/rights/
        # inbox.person_request). The question asked before stays one tap away.
        ctx.reply_lang = asked_in
        logger.info("qa: user %s asked for an officer", ctx.user.id)
        return await open_handoff(ctx, intro=contact_reply(ctx).text, last=await recent_question(ctx))
    if is_ask_label(ctx, text):
        # A hand-off button's label typed ("💬 Hỏi thêm", Zalo users type what they see):
        # the hand-off, not a rights search ("overtime limits?"; found by an outside tester).
        return await open_handoff(ctx, last=await recent_question(ctx))
    if memory and memory.get("offer") and fold(text) in _YES_WORDS:
        # "đúng" / "dung" / "ok" typed under "Did you mean…?": those choices again.
        again = await reoffer_choices(ctx)
        if again is not None:
            return again
    if memory is None:
        memory = {}
    svc = rights(ctx)
    result = svc.search(text, ctx.lang)
    if result.kind != "answer" and (rest := without_pleasantries(text)) is not None:
        # "cảm ơn anh, vậy em gửi đơn ở đâu ạ" was out of scope where the words after the
        # thanks are answered (found by an outside tester). Only ever a non-answer turned
        # into an answer: "cảm ơn vì đã trả lời" stays a thank-you.
        unwrapped = svc.search(rest, ctx.lang)
        if unwrapped.kind == "answer":
            result = unwrapped
    if result.lang in LANGUAGES and not (result.lang == "vi" and ctx.lang == "en" and _english_words(text)):
        # A question written in English is answered in English; the setting stays. An
        # English sentence holding a Vietnamese word ("Tết bonus") stays English.
        ctx.reply_lang = result.lang
    # Never the question's text: stories hold names, phone numbers, employers.
    logger.info(
        "qa: user %s kind=%s topic=%s entry=%s confidence=%.2f",
        ctx.user.id,
        result.kind,
        result.topic,
        result.entry,
        result.confidence,
    )

    follow = await _province_follow_up(ctx, text, result, memory) or await _about_the_answer(ctx, text, result, memory)
    if follow is not None:
        return follow
    # A follow-up is about the answer on screen, not one from before whatever came since
    # (found in review: a declined tax question's "what now?" got the older answer's next
    # step, and a minimum wage answer took over later questions).
    if result.kind in ("empty", "chitchat", "out_of_scope") and memory.get("q") and _acknowledgement(text):
        # "👍", "." or "ok" after an answer is a nod: the full menu under "I found no
        # question" was a screen of text for it (found by an outside tester). As a first
        # message it is still asked for words. The answer stays the one followed up on.
        return Reply(ctx.t("qa.ack"), buttons=[ctx.back_button()])
    answered_before = memory.pop("topic", None) is not None
    memory.pop("entry", None)
    if result.kind in ("empty", "chitchat", "out_of_scope"):
        # The choices, or the answer, are no longer on screen.
        if memory.pop("offer", None) is not None or answered_before:
            await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", memory)
        key = {"empty": "qa.empty", "chitchat": "qa.chitchat"}.get(result.kind, "qa.out_of_scope")
        if result.kind == "chitchat" and (kind := small_talk_kind(fold(text).split())) is not None:
            key = f"qa.{kind}"  # a hello or a thank-you is answered in kind
        return with_menu(ctx, ctx.t(key))

    memory.pop("offer", None)
    # The province the question names, for a topic button pressed under the answer or
    # the choices ("cty o ha noi tra 4tr8" -> "Lương tối thiểu vùng" names Hà Nội's region).
    if result.province:
        memory["province"] = result.province
    else:
        memory.pop("province", None)
    # The same words again (diacritics count: "Dũng" is not "đúng").
    repeated = bool(memory.get("q")) and _same(str(memory["q"]), text)
    answered = result.kind == "answer" and result.topic is not None and svc.topic(result.topic) is not None
    if answered:
        # For a follow-up: another province, "what do I do now?", "that's not it". Kept in
        # the same write as the question.
        memory["topic"], memory["entry"] = result.topic, result.entry
    await remember_question(ctx, text, memory)

    if result.kind in ("foreign_law", "tax"):
        return Reply(ctx.t(f"qa.{result.kind}"), buttons=[handoff_row(ctx), ctx.back_button()])
    if result.kind == "clarify" and len(result.clarify) >= 2:
        await _remember_offer(ctx, memory, result.clarify[:2])
        return _choices_reply(ctx, ctx.t("qa.clarify"), result.clarify[:2])

    reply: Reply | None = None
    if answered and result.topic is not None:
        # A repeated question did not get what the worker needed, and one or two words
        # ("luong", "bhxh") name a subject, not what the worker wants to know about it:
        # either way, offer a person.
        # A story with no question in it ("công ty em tệ lắm") is for an officer to read.
        confident = (
            result.confident
            and not repeated
            and len(text.split()) > SHORT_QUERY_WORDS
            and asks_something(text)
            and not wants_an_officer(text)
        )
        entry = svc.kb.entries.get(result.entry) if result.entry else None
        related = [*result.also, *result.other_guesses]
        if entry is not None:
            reply = await entry_reply(
                ctx, entry, confident=confident, also=related, province=result.province, memory=memory
            )
        else:
            reply = await answer_reply(
                ctx, result.topic, confident=confident, also=related, province=result.province, memory=memory
            )
    if reply is None:
        # Unsure, or in the domain but not in the knowledge base, or a story without a
        # question: the closest topics, and a person one tap away.
        guesses = ([result.topic] if result.topic else []) + list(result.suggestions)
        intro = ctx.t("qa.unsure") if guesses else ctx.t("qa.none_found")
        reply = _choices_reply(ctx, intro, guesses)
        if guesses:
            await _remember_offer(ctx, memory, guesses[:STORY_CHOICES])
    notes = []
    if repeated:
        notes.append(ctx.t("qa.repeated"))
    if len(text) > MAX_STORY_CHARS:  # the engine read only the beginning
        notes.append(ctx.t("qa.long_question"))
    if notes:
        reply.text = "\n".join(notes) + "\n\n" + reply.text
    if ctx.lang != ctx.user.language:
        # Answered in the question's language, the rest of the bot (the sign-up form its
        # button opens, /news, /mydata) still spoke the setting's (found by an outside
        # tester): switching is one tap, never automatic (a diacritic-free Vietnamese
        # message may read as English).
        switch = Button(ctx.t("qa.switch_language"), payload("lang", ctx.lang, "keep"))
        reply.buttons.insert(max(len(reply.buttons) - 1, 0), [switch])
    return reply


# Words around a place in a follow-up ("còn nếu cty ở Hà Nội thì sao?", "what about
# Hanoi?"), folded: a short message of these and a province asks the last answer again.
_FOLLOW_UP_WORDS = frozenset(
    {
        *("con", "neu", "thi", "sao", "the", "nao", "vay", "o", "tai", "cty", "cong", "ty", "em", "toi", "minh"),
        *("lam", "viec", "tinh", "thanh", "pho", "tp", "a", "ak", "nhi", "nua", "khu", "vuc", "mien", "ra"),
        *("what", "about", "how", "and", "in", "if", "my", "company", "is", "work", "i", "for", "then"),
    }
)
FOLLOW_UP_MAX_WORDS = 12
PROVINCE_MAX_WORDS = 4  # "bà rịa vũng tàu"


async def _province_follow_up(ctx: Ctx, text: str, result: SearchResult, memory: dict[str, Any]) -> Reply | None:
    """After a minimum wage answer, "còn Hà Nội thì sao?" is the same question for another
    province (found by an outside tester: it got unrelated topics or "off topic"). Only a
    short message of follow-up words and a province, not one the engine answers itself."""
    topic = memory.get("topic")
    if not isinstance(topic, str) or result.kind not in ("unsure", "out_of_scope", "chitchat"):
        return None
    words = fold(text).split()
    if not words or len(words) > FOLLOW_UP_MAX_WORDS:
        return None
    # Nothing but follow-up words and the province's name: "em làm ở Hà Nội bị quản lý
    # đánh" names a province too, and is another question (found in review).
    rest = [w for w in words if w not in _FOLLOW_UP_WORDS]
    match = resolve_province(" ".join(rest)) if 0 < len(rest) <= PROVINCE_MAX_WORDS else None
    if match is None or match.province is None:
        return None
    province = match.province.id
    if topic != MINIMUM_WAGE:
        # Only the minimum wage differs by province (found by an outside tester: "còn ở Hà
        # Nội thì sao" after the holiday overtime rate was called off-topic).
        title = rights(ctx).title(topic, ctx.lang)
        return Reply(ctx.t("qa.same_everywhere", topic=title), buttons=[handoff_row(ctx), ctx.back_button()])
    # What asking it outright gets ("lương tối thiểu ở Hà Nội": the province's own entry, or
    # the table), not the last entry (the first province's own) nor the topic's answer (it
    # ends "tell me your province"; found by an outside tester).
    svc = rights(ctx)
    asked = svc.search(f"luong toi thieu o {fold(match.province.name_vi)}", "vi")
    entry = svc.kb.entries.get(asked.entry) if asked.topic == MINIMUM_WAGE and asked.entry else None
    memory["province"] = province
    memory["entry"] = entry.id if entry is not None else None  # what "what now?" follows
    memory.pop("offer", None)
    # The 🙋 button sends the question with what it follows: "còn ở Hà Nội thì sao" alone
    # told the officers nothing (found by an outside tester).
    before = memory.get("q")
    await remember_question(ctx, f"{before}\n{text}" if isinstance(before, str) and before else text, memory)
    if entry is not None:
        reply = await entry_reply(ctx, entry, province=province, memory=memory)
    else:
        reply = await answer_reply(ctx, MINIMUM_WAGE, province=province, memory=memory)
    note = reading_note(match, ctx.lang, ctx.t)  # "Thái Bình is now part of Hưng Yên"
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


# Whole short messages, folded, about the answer just given rather than a new question.
_WHAT_NOW = frozenset(
    {
        *("vay em phai lam gi", "em phai lam gi", "phai lam gi", "vay phai lam sao", "vay em phai lam sao"),
        *("em phai lam sao", "phai lam sao", "gio em phai lam sao", "gio phai lam sao", "vay lam sao"),
        *("toi phai lam gi", "vay toi phai lam gi", "minh phai lam gi", "lam gi bay gio", "gio lam gi"),
        *("what should i do", "what do i do", "what do i do now", "what now", "what can i do", "so what do i do"),
    }
)
_NOT_IT = frozenset(
    {
        *("khong phai", "ko phai", "k phai", "khong phai a", "khong phai vay", "khong phai cai do", "sai roi"),
        *("khong dung", "ko dung", "khong phai y em", "khong phai y toi", "em khong hoi cai do", "sai"),
        *("that s not it", "not that", "wrong", "not what i asked", "that s wrong", "no that s not it"),
    }
)


async def _about_the_answer(ctx: Ctx, text: str, result: SearchResult, memory: dict[str, Any]) -> Reply | None:
    """Right after an answer, "vậy em phải làm gì?" asks for its next step, and "không
    phải" says it missed (found by an outside tester: unrelated topics, and the off-topic
    reply with the menu). Only when the engine itself finds no answer in the words."""
    topic_id = memory.get("topic")
    words = fold(text).split()
    while len(words) > 1 and words[0] in _NOD_WORDS:  # "ok vậy em phải làm gì"
        words = words[1:]
    said = " ".join(words).rstrip(" a")
    if not isinstance(topic_id, str) or result.kind == "answer" or memory.get("offer"):
        return None
    svc = rights(ctx)
    topic = svc.topic(topic_id)
    if topic is None:
        return None
    if said in _NOT_IT or " ".join(words) in _NOT_IT:
        await ctx.store.record_feedback(ctx.user.id, topic_id, False)
        return Reply(ctx.t("qa.not_it"), buttons=[handoff_row(ctx), ctx.back_button()])
    if said in _WHAT_NOW or " ".join(words) in _WHAT_NOW:
        entry = svc.kb.entries.get(str(memory.get("entry") or ""))
        step = (entry.next_step_in(ctx.lang) if entry is not None else "") or topic.next_step.get(ctx.lang, "")
        if not step:
            return None
        return Reply(ctx.t("qa.next_step", step=step), buttons=[handoff_row(ctx), ctx.back_button()])
    return None


async def _remember_offer(ctx: Ctx, memory: dict[str, Any], topic_ids: list[str]) -> None:
    memory["offer"] = list(dict.fromkeys(topic_ids))
    memory["lang"] = ctx.lang
    await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", memory)


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def categories_reply(ctx: Ctx) -> Reply:
    kb = rights(ctx).kb
    rows = [[Button(kb.category_name(cat, ctx.lang), payload("kb", "c", cat))] for cat in kb.categories]
    rows.append(ctx.back_button())
    return Reply(ctx.t("qa.categories"), buttons=rows)


def _button_lang(ctx: Ctx, index: int) -> None:
    """Buttons carry the language of the answer they belong to (an English answer's
    buttons stay English for a Vietnamese-speaking setting, and the other way round)."""
    if len(ctx.args) > index and ctx.args[index] in LANGUAGES:
        ctx.reply_lang = ctx.args[index]


# Registered last in routes.py: forms keep their own text input.


async def topics(ctx: Ctx) -> Reply:
    """The topic browser, for people who prefer tapping to typing."""
    return categories_reply(ctx)


async def browse(ctx: Ctx) -> Reply:
    """Rights topics by category, then the topics of one category."""
    kb = rights(ctx).kb
    if len(ctx.args) == 2 and ctx.args[0] == "c" and ctx.args[1] in kb.categories:
        cat = ctx.args[1]
        rows = [[Button(t.title_in(ctx.lang), payload("qa", t.id))] for t in kb.topics_in(cat)]
        rows.append([Button(ctx.t("qa.browse"), payload("kb", "cats"))])
        rows.append(ctx.back_button())
        reply = Reply(ctx.t("qa.topics_in", category=kb.category_name(cat, ctx.lang)), buttons=rows)
    else:
        reply = categories_reply(ctx)
    reply.edit = True
    return reply


async def show_topic(ctx: Ctx) -> Reply:
    """`qa:<topic>[:<lang>]`: a topic chosen from buttons (older buttons have no lang)."""
    topic_id = ctx.args[0] if ctx.args else ""
    _button_lang(ctx, 1)
    if rights(ctx).topic(topic_id) is None:
        return categories_reply(ctx)
    # Chosen from a list: the worker picked it, so no "is this it?" doubt remains,
    # but a person stays one tap away. The question's province only for the buttons under
    # its answer or choices (they carry the language); the topic browser's carry none, and
    # there a province asked about earlier overrode the worker's own (found in review).
    province = await _asked_province(ctx) if len(ctx.args) >= 2 else None
    return await answer_reply(ctx, topic_id, province=province)


async def show_details(ctx: Ctx) -> Reply:
    """`qd:<topic>:<lang>`: the full answer."""
    topic_id = ctx.args[0] if ctx.args else ""
    _button_lang(ctx, 1)
    if rights(ctx).topic(topic_id) is None:
        return categories_reply(ctx)
    return await details_reply(ctx, topic_id)


async def show_entry(ctx: Ctx) -> Reply:
    """`qe:<entry>:<lang>`: a specific question's answer."""
    _button_lang(ctx, 1)
    entry = rights(ctx).entry(ctx.args[0]) if ctx.args else None
    if entry is None:
        return categories_reply(ctx)
    return await entry_reply(ctx, entry, province=await _asked_province(ctx))


async def _asked_province(ctx: Ctx) -> str | None:
    """The province named in the question just asked, if any (kept with it in the state)."""
    memory = await _qa_state(ctx)
    province = (memory or {}).get("province")
    return province if isinstance(province, str) and get_province(province) is not None else None


async def show_wage_areas(ctx: Ctx) -> list[Reply]:
    """`qw:<province>:<lang>`: the wards and communes of each minimum-wage region."""
    _button_lang(ctx, 1)
    return wage_areas_replies(ctx, ctx.args[0] if ctx.args else "")


async def feedback(ctx: Ctx) -> Reply:
    """`fb:<topic>:<1|0>[:<lang>]`."""
    if len(ctx.args) not in (2, 3) or rights(ctx).topic(ctx.args[0]) is None or ctx.args[1] not in {"0", "1"}:
        return categories_reply(ctx)
    _button_lang(ctx, 2)
    helpful = ctx.args[1] == "1"
    await ctx.store.record_feedback(ctx.user.id, ctx.args[0], helpful)
    if helpful:
        return ctx.reply("qa.thanks_helpful")
    return Reply(ctx.t("qa.thanks_not_helpful"), buttons=[handoff_row(ctx), ctx.back_button()])


def register(router: Router) -> None:
    router.text(needs_rights(answer_free_text))
    router.command("topics", describe="cmd.topics")(needs_rights(topics))
    router.button("kb")(needs_rights(browse))
    router.button("qa")(needs_rights(show_topic))
    router.button("qd")(needs_rights(show_details))
    router.button("qe")(needs_rights(show_entry))
    router.button("qw")(needs_rights(show_wage_areas))
    router.button("fb")(needs_rights(feedback))
