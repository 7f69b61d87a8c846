"""The rights knowledge base: one JSON file per topic, both languages in the same file.

Files live in `handlers/rights/data/` and ship inside the package. A provincial
federation can pass an extra directory of files of the same shape: a file whose id
is new adds a topic, a file whose id already exists overrides only the fields it
gives (per language for the bilingual fields), e.g. to add its own hotline to one
answer without copying the rest.

Every path goes through `_collect`, so `check_knowledge_dir` (a CI or editor check)
and `load_knowledge_base` (start-up) can never disagree about what is valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeGuard

from handlers.i18n import LANGUAGES
from handlers.text import fold, written

__all__ = [
    "CERTAINTIES",
    "ENTRIES_DIR",
    "HEDGE_MARKERS",
    "LANGUAGES",
    "MAX_ANSWER_CHARS",
    "MAX_TITLE_CHARS",
    "REQUIRED_TOPICS",
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "RegionArea",
    "Topic",
    "check_knowledge_dir",
    "figure_warnings",
    "load_knowledge_base",
    "packaged_data_dir",
]

REQUIRED_TOPICS: tuple[str, ...] = (
    "minimum_wage",
    "working_hours",
    "overtime_limits",
    "overtime_pay",
    "annual_leave",
    "public_holidays",
    "personal_leave",
    "maternity",
    "sick_leave",
    "labor_contract_types",
    "probation",
    "contract_termination",
    "unlawful_dismissal",
    "severance",
    "wage_payment",
    "social_insurance",
    "unemployment_insurance",
    "health_insurance",
    "work_accident",
    "osh_rights",
    "osh_month",
    "workers_month",
    "union_join",
    "union_dues",
    "union_rights",
    "grassroots_union",
    "collective_bargaining",
    "strike",
    "dialogue",
    "harassment",
    "child_labor",
    "retirement_age",
    "one_time_si_withdrawal",
    "union_legal_aid",
    "labor_dispute",
    "personal_data",
    # issue 9
    "tet_bonus",
    "pregnant_workers",
    "wage_deductions",
    "commuting_accident",
)

CERTAINTIES: tuple[str, ...] = ("confirmed", "secondary", "uncertain")
# A phone screen; longer answers get scrolled past on cheap Android phones.
MAX_ANSWER_CHARS = 900
MAX_TITLE_CHARS = 40  # a topic title is a button label
# The short answer shown first (issue 9): about one phone screen with its bullets.
MAX_SUMMARY_CHARS = 350
MAX_BULLETS = 3
MAX_BULLET_CHARS = 160
MAX_NEXT_STEP_CHARS = 200
MAX_ENTRY_ANSWER_CHARS = 350
# Notes written for the authors, never for a worker. Matched case-insensitively in
# everything a worker sees; a federation's override gets the same check.
AUTHORING_NOTES: tuple[str, ...] = (
    "chưa có nguồn",
    "chưa có nguồn xác nhận",
    "cần kiểm chứng",
    "cần xác minh",
    "cần kiểm tra lại",
    "theo fact sheet",
    "fact sheet",
    "theo ghi chú",
    "ghi chú nội bộ",
    "nguồn:",
    "todo",
    "fixme",
    "tbd",
    "[?]",
    "(?)",
    "(source:",
    "source:",
    "unverified",
    "needs confirmation",
    "need to confirm",
    "to be verified",
    "according to our notes",
    "our notes",
    "labor-law-facts",
    "addendum",
    "xxx",
)
# An answer whose facts are not all confirmed must send the worker to a person.
# Validation checks for these phrases so a federation override cannot drop the hedge.
HEDGE_MARKERS: Mapping[str, str] = {
    "vi": "hãy hỏi cán bộ công đoàn để xác nhận",
    "en": "please confirm with a union officer",
}

CATEGORIES_FILE = "_categories.json"
WAGE_REGIONS_FILE = "_wage_regions.json"
ENTRIES_DIR = "entries"
_PACKAGE_DATA = "data"
_BILINGUAL = ("title", "questions", "answer", "citation", "summary", "bullets", "next_step")
_FIELDS = frozenset(
    {
        "id",
        "title",
        "category",
        "certainty",
        "effective",
        "reviewed",
        "questions",
        "keywords",
        "cues",
        "answer",
        "citation",
        "related",
        "summary",
        "bullets",
        "next_step",
    }
)
_ID = re.compile(r"[a-z][a-z0-9_]*")
_ENTRY_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z0-9_]+")
_ENTRY_FIELDS = frozenset(
    {
        *("id", "topic", "title", "questions", "keywords", "cues", "excludes", "answer", "next_step", "citation"),
        *("certainty", "related"),
    }
)
# date.fromisoformat also takes "20261122" since 3.11; the files must stay readable.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


Cues = tuple[tuple[str, ...], ...]  # groups of words: a question holds one of each group


@dataclass(frozen=True, slots=True)
class CueWords:
    """The cue words of a topic or entry, ready to look for in a question: one word of
    every group ("đêm" and "chủ nhật" for night overtime on a Sunday)."""

    # Per group, as written, for questions typed with diacritics: there they decide
    # ("ôm", hug, is not "ốm", sick).
    as_written: tuple[tuple[str, ...], ...]
    # Per group, folded, for questions typed without diacritics, where a one-syllable cue
    # with diacritics would collide ("om": ôm, ốm) and is left out; list its folded
    # spelling as a cue of its own ("dem" beside "đêm") where the collision is harmless.
    folded: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, groups: Cues) -> CueWords:
        return cls(
            tuple(tuple(written(c) for c in group) for group in groups),
            tuple(tuple(fold(c) for c in group if " " in c.strip() or fold(c) == written(c)) for group in groups),
        )

    def held_by(self, text: str, spelled_out: Iterable[str] = ()) -> bool:
        """Whether `text` holds a cue of every group; typed without diacritics,
        `spelled_out` are its other readings ("qrtd" -> "quấy rối tình dục") to look in too."""
        as_typed = f" {written(text)} "
        if as_typed != f" {fold(text)} ":  # typed with diacritics: they decide
            return all(any(f" {cue} " in as_typed for cue in group) for group in self.as_written)
        texts = [as_typed, *(f" {fold(t)} " for t in spelled_out)]
        return all(any(f" {cue} " in t for cue in group for t in texts) for group in self.folded)


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    category: str
    questions: Mapping[str, tuple[str, ...]]  # lang -> question variants
    answer: Mapping[str, str]
    citation: Mapping[str, str]
    # From when the answer holds: the commencement date of the newest rule it states,
    # or the date of the consolidated text read where the fact sheet gives none.
    effective: date
    reviewed: date
    certainty: str  # the weakest status of any fact the answer states
    related: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    # Short name for buttons and lists; optional, the first question stands in for it.
    title: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = field(default=(), compare=False)  # files it came from
    # The phone-sized answer (issue 9): a short summary whose first sentence answers the
    # common question, up to three bullets and one next step. The full `answer` sits
    # behind a "details" button. Optional so a federation's old files keep loading.
    summary: Mapping[str, str] = field(default_factory=dict)
    bullets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    next_step: Mapping[str, str] = field(default_factory=dict)
    # Words of which a question must hold one to be answered with this topic outright, for
    # a topic narrower than its neighbours' words: "sếp chửi mắng em" shares the boss with
    # sexual harassment but none of its words. Without one, the topic is offered, not
    # answered. Empty: no such rule.
    cues: Cues = ()

    def title_in(self, lang: str | None) -> str:
        lang = lang or LANGUAGES[0]
        return (
            self.title.get(lang)
            or self.title.get(LANGUAGES[0])
            or (self.questions.get(lang) or self.questions[LANGUAGES[0]])[0]
        )

    def answer_in(self, lang: str | None) -> str:
        return self.answer.get(lang or LANGUAGES[0]) or self.answer[LANGUAGES[0]]

    def citation_in(self, lang: str | None) -> str:
        return self.citation.get(lang or LANGUAGES[0]) or self.citation[LANGUAGES[0]]

    def summary_in(self, lang: str | None) -> str:
        return _pick(self.summary, lang) or ""

    def bullets_in(self, lang: str | None) -> tuple[str, ...]:
        return _pick(self.bullets, lang) or ()

    def next_step_in(self, lang: str | None) -> str:
        return _pick(self.next_step, lang) or ""

    @property
    def hedged(self) -> bool:
        return self.certainty != "confirmed"


def _pick(texts: Mapping[str, Any], lang: str | None) -> Any:
    return texts.get(lang or LANGUAGES[0]) or texts.get(LANGUAGES[0])


@dataclass(frozen=True, slots=True)
class Entry:
    """One specific question under a topic, answered in a few sentences (issue 19)."""

    id: str  # "<topic_id>.<slug>"
    topic: str
    certainty: str
    questions: Mapping[str, tuple[str, ...]]
    title: Mapping[str, str]
    answer: Mapping[str, str]
    next_step: Mapping[str, str]
    citation: Mapping[str, str]
    related: tuple[str, ...] = ()  # topic or entry ids a story often also touches
    keywords: tuple[str, ...] = ()
    # As for a topic: the entry is picked only for a question holding one of these words,
    # for an entry narrower than its siblings' words ("tăng ca chủ nhật" shares the Sunday
    # with the night-on-a-rest-day rate but not the night).
    cues: Cues = ()
    # Words that rule the entry out: the ordinary-day overtime rate is not the answer to
    # a question naming a holiday, a rest day or the night ("tăng ca ngày lễ" got 150%).
    excludes: tuple[str, ...] = ()

    def title_in(self, lang: str | None) -> str:
        return _pick(self.title, lang) or ""

    def answer_in(self, lang: str | None) -> str:
        return _pick(self.answer, lang) or ""

    def next_step_in(self, lang: str | None) -> str:
        return _pick(self.next_step, lang) or ""

    def citation_in(self, lang: str | None) -> str:
        return _pick(self.citation, lang) or ""

    @property
    def hedged(self) -> bool:
        return self.certainty != "confirmed"


@dataclass(frozen=True, slots=True)
class RegionArea:
    """A minimum-wage region and the areas of one province that fall in it."""

    region: int  # 1..4
    areas: Mapping[str, str]  # lang -> the districts/communes in this region
    monthly: int  # VND per month
    hourly: int  # VND per hour


@dataclass(frozen=True, slots=True)
class WageRegions:
    source: str = ""
    effective: date | None = None
    certainty: str = "confirmed"
    amounts: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # region -> (monthly, hourly)
    provinces: Mapping[str, tuple[tuple[int, Mapping[str, str]], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    topics: Mapping[str, Topic]
    categories: Mapping[str, Mapping[str, str]]  # category id -> {lang: display name}
    entries: Mapping[str, Entry] = field(default_factory=dict)  # entry id -> entry
    wage_regions: WageRegions = field(default_factory=WageRegions)

    def topics_in(self, category: str) -> list[Topic]:
        return [t for t in self.topics.values() if t.category == category]

    def entries_of(self, topic_id: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.topic == topic_id]

    def wage_regions_for(self, province_id: str | None) -> list[RegionArea]:
        """The regions of a province with their areas and amounts; [] when unknown."""
        out = []
        for region, areas in self.wage_regions.provinces.get(province_id or "", ()):
            monthly, hourly = self.wage_regions.amounts.get(region, (0, 0))
            out.append(RegionArea(region=region, areas=areas, monthly=monthly, hourly=hourly))
        return out

    def category_name(self, category: str, lang: str | None) -> str:
        names = self.categories[category]
        return names.get(lang or LANGUAGES[0]) or names[LANGUAGES[0]]


class KnowledgeBaseError(ValueError):
    """The knowledge files are invalid; `problems` names each file and entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the rights knowledge base:\n" + "\n".join(problems))
        self.problems = problems


def packaged_data_dir() -> Traversable:
    return resources.files(__package__) / _PACKAGE_DATA


def load_knowledge_base(extra_dir: Path | None = None) -> KnowledgeBase:
    """Load the packaged topics, then the federation's `extra_dir` on top of them.

    Raises KnowledgeBaseError listing every problem at once, so a federation fixes its
    files in one round instead of one error per restart.
    """
    dirs: list[Traversable] = [packaged_data_dir()]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise KnowledgeBaseError([f"{extra_dir}: not a directory"])
        dirs.append(extra_dir)
    kb, problems = _collect(dirs, required_ids=REQUIRED_TOPICS)
    if problems or kb is None:
        raise KnowledgeBaseError(problems)
    return kb


def check_knowledge_dir(path: Path | Traversable, *, required_ids: Iterable[str] = REQUIRED_TOPICS) -> list[str]:
    """Validate one self-contained directory of topic files; [] means it loads."""
    if not path.is_dir():
        return [f"{path}: not a directory"]
    return _collect([path], required_ids=tuple(required_ids))[1]


# --- internals -------------------------------------------------------------------------


def _collect(dirs: list[Traversable], *, required_ids: tuple[str, ...]) -> tuple[KnowledgeBase | None, list[str]]:
    problems: list[str] = []
    categories: dict[str, dict[str, str]] = {}
    merged: dict[str, dict[str, Any]] = {}
    sources: dict[str, list[str]] = {}
    raw_entries: dict[str, tuple[str, dict[str, Any]]] = {}  # entry id -> (where, data)
    regions_raw: tuple[str, dict[str, Any]] | None = None

    for layer, directory in enumerate(dirs):
        seen_here: dict[str, str] = {}
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if entry.name == ENTRIES_DIR and entry.is_dir():
                _read_entries(directory, entry, raw_entries, problems)
                continue
            if not entry.name.endswith(".json") or not entry.is_file():
                continue
            where = _where(directory, entry)
            data = _read_json(entry, where, problems)
            if data is None:
                continue
            if entry.name == CATEGORIES_FILE:
                _merge_categories(data, where, categories, problems)
                continue
            if entry.name == WAGE_REGIONS_FILE:
                regions_raw = (where, data)  # a federation's file replaces the packaged one
                continue
            if entry.name.startswith("_"):
                continue
            tid = data.get("id")
            if not isinstance(tid, str) or not _ID.fullmatch(tid):
                problems.append(f"{where}: missing or invalid 'id' (lower-case letters, digits and _)")
                continue
            label = f"{where} [{tid}]"
            if entry.name != f"{tid}.json":
                problems.append(f"{label}: file name must be {tid}.json")
            if tid in seen_here:
                problems.append(f"{label}: duplicate id, also in {seen_here[tid]}")
                continue
            seen_here[tid] = where
            unknown = sorted(set(data) - _FIELDS)
            if unknown:
                problems.append(f"{label}: unknown field(s) {', '.join(unknown)}")
            if layer > 0 and tid in merged:
                _overlay(merged[tid], data)
            else:
                merged[tid] = dict(data)
            sources.setdefault(tid, []).append(where)

    if not categories:
        problems.append(f"{_where_dir(dirs[0])}: missing {CATEGORIES_FILE}")
    for tid in required_ids:
        if tid not in merged:
            problems.append(f"{_where_dir(dirs[0])}: missing required topic '{tid}'")

    topics: dict[str, Topic] = {}
    # The agreed topics first, in their curated order, then a federation's own.
    order = [t for t in required_ids if t in merged] + [t for t in merged if t not in required_ids]
    for tid in order:
        data = merged[tid]
        label = f"{sources[tid][-1]} [{tid}]"
        # A federation's one-language override (its own hotline in `answer.vi`) cannot
        # keep the other language's figures in step; the figure check is for whole files.
        topic = _build_topic(tid, data, label, categories, set(merged), problems, figures=len(sources[tid]) == 1)
        if topic is not None:
            topics[tid] = replace(topic, sources=tuple(sources[tid]))

    known_refs = set(merged) | set(raw_entries)
    entries: dict[str, Entry] = {}
    for eid, (where, data) in raw_entries.items():
        built = _build_entry(eid, data, f"{where} [{eid}]", set(merged), known_refs, problems)
        if built is not None:
            entries[eid] = built
    regions = WageRegions()
    if regions_raw is not None:
        regions = _build_regions(*regions_raw, problems) or regions
    if problems:
        return None, problems
    return KnowledgeBase(topics=topics, categories=categories, entries=entries, wage_regions=regions), []


def _read_entries(
    directory: Traversable, folder: Traversable, into: dict[str, tuple[str, dict[str, Any]]], problems: list[str]
) -> None:
    """entries/<topic_id>.json: {"topic": id, "entries": [...]}; a later layer replaces
    an entry of the same id field by field."""
    for file in sorted(folder.iterdir(), key=lambda p: p.name):
        if not file.name.endswith(".json") or not file.is_file():
            continue
        where = _where(directory, file)
        if not isinstance(file, Path):
            where = f"{_where_dir(directory)}/{ENTRIES_DIR}/{file.name}"
        data = _read_json(file, where, problems)
        if data is None:
            continue
        tid = data.get("topic")
        items = data.get("entries")
        if not isinstance(tid, str) or not _ID.fullmatch(tid):
            problems.append(f"{where}: missing or invalid 'topic'")
            continue
        if file.name != f"{tid}.json":
            problems.append(f"{where}: file name must be {tid}.json")
        if not isinstance(items, list):
            problems.append(f"{where}: 'entries' must be a list")
            continue
        seen_here: set[str] = set()
        for n, item in enumerate(items):
            eid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(eid, str) or not _ENTRY_ID.fullmatch(eid):
                problems.append(f"{where} [#{n}]: missing or invalid id (<topic>.<slug>, slug of a-z, 0-9, _)")
                continue
            if eid.split(".", 1)[0] != tid:
                problems.append(f"{where} [{eid}]: id must start with '{tid}.'")
                continue
            if eid in seen_here:
                problems.append(f"{where} [{eid}]: duplicate id")
                continue
            seen_here.add(eid)
            unknown = sorted(set(item) - _ENTRY_FIELDS)
            if unknown:
                problems.append(f"{where} [{eid}]: unknown field(s) {', '.join(unknown)}")
            if eid in into:
                base = dict(into[eid][1])
                _overlay(base, item)
                into[eid] = (where, base)
            else:
                into[eid] = (where, {**item, "topic": tid})


def _bilingual_text(
    data: Mapping[str, Any], key: str, label: str, problems: list[str], *, required: bool, limit: int | None = None
) -> dict[str, str]:
    raw = data.get(key)
    if raw is None and not required:
        return {}
    out: dict[str, str] = {}
    for lang in LANGUAGES:
        text = raw.get(lang) if isinstance(raw, dict) else None
        if not _text(text):
            problems.append(f"{label}: missing {lang} {key.replace('_', ' ')}")
            continue
        out[lang] = text.strip()
        if limit is not None and len(out[lang]) > limit:
            problems.append(
                f"{label}: {lang} {key.replace('_', ' ')} is {len(out[lang])} characters, keep it to {limit}"
            )
    return out


def _build_entry(
    eid: str, data: dict[str, Any], label: str, topic_ids: set[str], known_refs: set[str], problems: list[str]
) -> Entry | None:
    before = len(problems)
    tid = data["topic"]
    if tid not in topic_ids:
        problems.append(f"{label}: unknown topic '{tid}'")
    title = _bilingual_text(data, "title", label, problems, required=True, limit=MAX_TITLE_CHARS)
    answer = _bilingual_text(data, "answer", label, problems, required=True, limit=MAX_ENTRY_ANSWER_CHARS)
    next_step = _bilingual_text(data, "next_step", label, problems, required=True, limit=MAX_NEXT_STEP_CHARS)
    citation = _bilingual_text(data, "citation", label, problems, required=True)
    questions: dict[str, tuple[str, ...]] = {}
    raw_q = data.get("questions")
    for lang in LANGUAGES:
        qs = raw_q.get(lang) if isinstance(raw_q, dict) else None
        if not isinstance(qs, list) or not qs or not all(_text(q) for q in qs):
            problems.append(f"{label}: missing {lang} questions (a non-empty list of text)")
        else:
            questions[lang] = tuple(q.strip() for q in qs)
    certainty = _certainty(data, label, problems)
    related = data.get("related", [])
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append(f"{label}: related must be a list of topic or entry ids")
        related = []
    for rid in related:
        if rid == eid:
            problems.append(f"{label}: related lists the entry itself")
        elif rid not in known_refs:
            problems.append(f"{label}: unknown related id '{rid}'")
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(_text(k) for k in keywords):
        problems.append(f"{label}: keywords must be a list of text")
        keywords = []
    cues = _read_cues(data, label, questions, problems)
    excludes = _read_excludes(data, label, questions, problems)
    texts = {"answer": answer, "next_step": next_step, "title": title}
    _check_worker_texts(label, texts, problems)
    _check_opening(label, "answer", answer, problems)
    if certainty and certainty != "confirmed":
        _check_hedge(label, certainty, {"answer": answer}, problems)
    # Titles are button labels, shortened differently per language: facts are checked
    # where they are stated.
    _check_figures(label, {"answer": answer, "next_step": next_step, "citation": citation}, problems)
    if len(problems) > before:
        return None
    return Entry(
        id=eid,
        topic=tid,
        certainty=certainty,
        questions=questions,
        title=title,
        answer=answer,
        next_step=next_step,
        citation=citation,
        related=tuple(related),
        keywords=tuple(k.strip() for k in keywords),
        cues=cues,
        excludes=excludes,
    )


def _read_excludes(
    data: dict[str, Any], label: str, questions: Mapping[str, tuple[str, ...]], problems: list[str]
) -> tuple[str, ...]:
    """An entry's excluded words; none of its own question variants may hold one."""
    raw = data.get("excludes", [])
    if not isinstance(raw, list) or not all(_text(w) for w in raw):
        problems.append(f"{label}: excludes must be a list of text")
        return ()
    words = tuple(w.strip() for w in raw)
    if words:
        held = CueWords.of((words,))
        for qs in questions.values():
            for q in qs:
                if held.held_by(q):
                    problems.append(f"{label}: the question {q!r} holds an excluded word")
    return words


def _read_cues(data: dict[str, Any], label: str, questions: Mapping[str, tuple[str, ...]], problems: list[str]) -> Cues:
    """A topic's or entry's cue words: a list of words (one group) or a list of lists (a
    word of each needed). Each of its own question variants must hold them, or the
    examples it is trained on would contradict the rule that guards it."""
    raw = data.get("cues", [])
    if raw == []:
        return ()
    groups = raw if isinstance(raw, list) and raw and all(isinstance(g, list) for g in raw) else [raw]
    if not isinstance(raw, list) or not all(isinstance(g, list) and g and all(_text(c) for c in g) for g in groups):
        problems.append(f"{label}: cues must be a list of text, or a list of such lists")
        return ()
    cues = tuple(tuple(c.strip() for c in g) for g in groups if g)
    if cues:
        words = CueWords.of(cues)
        for qs in questions.values():
            for q in qs:
                if not words.held_by(q):
                    problems.append(f"{label}: the question {q!r} does not hold the cues")
    return cues


def _build_regions(where: str, data: dict[str, Any], problems: list[str]) -> WageRegions | None:
    from handlers.join.provinces import all_provinces  # only here: the regions file names them

    before = len(problems)
    effective = _date(data, "effective", where, problems)
    certainty = _certainty(data, where, problems)
    if not _text(data.get("source")):
        problems.append(f"{where}: missing source")
    amounts: dict[int, tuple[int, int]] = {}
    raw_amounts = data.get("amounts")
    for key in ("1", "2", "3", "4"):
        item = raw_amounts.get(key) if isinstance(raw_amounts, dict) else None
        monthly = item.get("monthly") if isinstance(item, dict) else None
        hourly = item.get("hourly") if isinstance(item, dict) else None
        if not (isinstance(monthly, int) and isinstance(hourly, int) and monthly > 0 and hourly > 0):
            problems.append(f"{where}: amounts.{key} needs positive integer monthly and hourly")
            continue
        amounts[int(key)] = (monthly, hourly)
    provinces: dict[str, tuple[tuple[int, Mapping[str, str]], ...]] = {}
    raw_prov = data.get("provinces")
    if not isinstance(raw_prov, dict):
        problems.append(f"{where}: provinces must be an object keyed by province id")
        raw_prov = {}
    known = {p.id for p in all_provinces()}
    for pid in sorted(known - set(raw_prov)):
        problems.append(f"{where}: province '{pid}' missing")
    for pid, item in raw_prov.items():
        if pid not in known:
            problems.append(f"{where}: unknown province id '{pid}'")
            continue
        regions = item.get("regions") if isinstance(item, dict) else None
        if not isinstance(regions, list) or not regions:
            problems.append(f"{where} [{pid}]: regions must be a non-empty list")
            continue
        built = []
        for reg in regions:
            number = reg.get("region") if isinstance(reg, dict) else None
            areas = reg.get("areas") if isinstance(reg, dict) else None
            if number not in (1, 2, 3, 4):
                problems.append(f"{where} [{pid}]: region must be 1, 2, 3 or 4")
                continue
            if not isinstance(areas, dict) or not all(_text(areas.get(lang)) for lang in LANGUAGES):
                problems.append(f"{where} [{pid}]: region {number} needs vi and en areas")
                continue
            _check_worker_texts(f"{where} [{pid}]", {"areas": areas}, problems)
            built.append((number, {lang: areas[lang].strip() for lang in LANGUAGES}))
        provinces[pid] = tuple(built)
    if len(problems) > before:
        return None
    return WageRegions(
        source=data["source"], effective=effective, certainty=certainty, amounts=amounts, provinces=provinces
    )


def _where(directory: Traversable, entry: Traversable) -> str:
    return str(entry) if isinstance(entry, Path) else f"{_where_dir(directory)}/{entry.name}"


def _where_dir(directory: Traversable) -> str:
    return str(directory) if isinstance(directory, Path) else f"<package>/{directory.name}"


def _read_json(entry: Traversable, where: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{where}: invalid JSON: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a JSON object")
        return None
    return data


def _merge_categories(data: dict[str, Any], where: str, into: dict[str, dict[str, str]], problems: list[str]) -> None:
    for cid, names in data.items():
        if not isinstance(names, dict):
            problems.append(f"{where} [{cid}]: category names must be an object {{vi, en}}")
            continue
        merged = {**into.get(cid, {}), **names}
        missing = [lang for lang in LANGUAGES if not _text(merged.get(lang))]
        if missing:
            problems.append(f"{where} [{cid}]: category has no {'/'.join(missing)} name")
            continue
        into[cid] = merged


def _overlay(base: dict[str, Any], override: dict[str, Any]) -> None:
    """Override the fields given; bilingual fields per language so `answer.vi` alone works."""
    for key, value in override.items():
        if key in _BILINGUAL and isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value


def _build_topic(
    tid: str,
    data: dict[str, Any],
    label: str,
    categories: Mapping[str, Any],
    known_ids: set[str],
    problems: list[str],
    *,
    figures: bool = True,
) -> Topic | None:
    before = len(problems)

    category = data.get("category")
    if not _text(category):
        problems.append(f"{label}: missing category")
        category = ""
    elif categories and category not in categories:
        problems.append(f"{label}: unknown category '{category}' (not in {CATEGORIES_FILE})")

    questions: dict[str, tuple[str, ...]] = {}
    answer: dict[str, str] = {}
    citation: dict[str, str] = {}
    raw_q, raw_a, raw_c = data.get("questions"), data.get("answer"), data.get("citation")
    for lang in LANGUAGES:
        qs = raw_q.get(lang) if isinstance(raw_q, dict) else None
        if not isinstance(qs, list) or not qs or not all(_text(q) for q in qs):
            problems.append(f"{label}: missing {lang} questions (a non-empty list of text)")
        else:
            questions[lang] = tuple(q.strip() for q in qs)
        text = raw_a.get(lang) if isinstance(raw_a, dict) else None
        if not _text(text):
            problems.append(f"{label}: missing {lang} answer")
        else:
            answer[lang] = text.strip()
            if len(answer[lang]) > MAX_ANSWER_CHARS:
                problems.append(
                    f"{label}: {lang} answer is {len(answer[lang])} characters, "
                    f"keep it to {MAX_ANSWER_CHARS} (one phone screen)"
                )
        cite = raw_c.get(lang) if isinstance(raw_c, dict) else None
        if not _text(cite):
            problems.append(f"{label}: missing {lang} citation")
        else:
            citation[lang] = cite.strip()

    effective = _date(data, "effective", label, problems)
    reviewed = _date(data, "reviewed", label, problems)

    summary = _bilingual_text(data, "summary", label, problems, required=False, limit=MAX_SUMMARY_CHARS)
    next_step = _bilingual_text(data, "next_step", label, problems, required=False, limit=MAX_NEXT_STEP_CHARS)
    bullets = _bullets(data, label, problems)

    certainty = _certainty(data, label, problems)
    if certainty and certainty != "confirmed":
        _check_hedge(label, certainty, {"answer": answer, "summary": summary}, problems)
    shown = {
        "answer": answer,
        "summary": summary,
        "next_step": next_step,
        "bullets": {lang: "\n".join(b) for lang, b in bullets.items()},
    }
    _check_worker_texts(label, shown, problems)
    _check_opening(label, "summary", summary, problems)
    if figures:
        _check_figures(label, {**shown, "citation": citation}, problems)

    related = data.get("related", [])
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        problems.append(f"{label}: related must be a list of topic ids")
        related = []
    for rid in related:
        if rid == tid:
            problems.append(f"{label}: related lists the topic itself")
        elif rid not in known_ids:
            problems.append(f"{label}: unknown related id '{rid}'")

    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(_text(k) for k in keywords):
        problems.append(f"{label}: keywords must be a list of text")
        keywords = []

    cues = _read_cues(data, label, questions, problems)

    title = data.get("title", {})
    if not isinstance(title, dict) or (title and not all(_text(title.get(lang)) for lang in LANGUAGES)):
        problems.append(f"{label}: title, when given, needs vi and en text")
        title = {}
    for lang, text in title.items():
        if isinstance(text, str) and len(text) > MAX_TITLE_CHARS:
            problems.append(
                f"{label}: {lang} title is {len(text)} characters, keep it to {MAX_TITLE_CHARS} (a button label)"
            )

    if len(problems) > before or effective is None or reviewed is None:
        return None
    return Topic(
        id=tid,
        category=category,
        questions=questions,
        answer=answer,
        citation=citation,
        effective=effective,
        reviewed=reviewed,
        certainty=certainty,
        related=tuple(related),
        keywords=tuple(k.strip() for k in keywords),
        cues=cues,
        title={lang: text.strip() for lang, text in title.items()},
        summary=summary,
        bullets=bullets,
        next_step=next_step,
    )


def _bullets(data: Mapping[str, Any], label: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    raw = data.get("bullets")
    if raw is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for lang in LANGUAGES:
        items = raw.get(lang) if isinstance(raw, dict) else None
        if not isinstance(items, list) or not all(_text(b) for b in items):
            problems.append(f"{label}: bullets need a {lang} list of text")
            continue
        if len(items) > MAX_BULLETS:
            problems.append(f"{label}: {len(items)} {lang} bullets, keep it to {MAX_BULLETS}")
        for b in items:
            if len(b.strip()) > MAX_BULLET_CHARS:
                problems.append(
                    f"{label}: a {lang} bullet is {len(b.strip())} characters, keep it to {MAX_BULLET_CHARS}"
                )
        out[lang] = tuple(b.strip() for b in items)
    return out


def _check_hedge(label: str, certainty: str, fields: Mapping[str, Mapping[str, str]], problems: list[str]) -> None:
    for name, texts in fields.items():
        for lang, text in texts.items():
            if HEDGE_MARKERS[lang].casefold() not in text.casefold():
                problems.append(
                    f'{label}: {certainty} topic, but the {lang} {name} lacks the hedge "{HEDGE_MARKERS[lang]}"'
                )


def _check_worker_texts(label: str, fields: Mapping[str, Mapping[str, str]], problems: list[str]) -> None:
    for name, texts in fields.items():
        for lang, text in texts.items():
            note = authoring_note(text)
            if note:
                problems.append(f"{label}: {lang} {name} contains an authoring note ({note!r}); write for the worker")


# A bare yes or no is right only for the title's question: the search sends differently
# worded questions to the same text ("is 4 hours of overtime a day legal?" met "Có. Làm
# thêm giờ chỉ được khi bạn đồng ý", read as "yes, it is legal").
_BARE_YES_NO = re.compile(
    r"^(có thể|có|không được|không đúng|không|được|thường là không|yes|no|not|usually not)\s*[.,:;!]", re.IGNORECASE
)


def _check_opening(label: str, name: str, texts: Mapping[str, str], problems: list[str]) -> None:
    for lang, text in texts.items():
        bare = _BARE_YES_NO.match(text.strip())
        if bare:
            problems.append(
                f"{label}: {lang} {name} opens with a bare {bare.group(1)!r}: state the fact itself, other "
                "questions than the title's reach this text"
            )


def authoring_note(text: str) -> str | None:
    """The first authoring note found in `text`, or None."""
    low = text.casefold()
    for note in AUTHORING_NOTES:
        if note.isalpha():
            if re.search(rf"(?<!\w){re.escape(note)}(?!\w)", low):
                return note
        elif note in low:
            return note
    return None


def _check_figures(label: str, fields: Mapping[str, Mapping[str, str]], problems: list[str]) -> None:
    """Every figure written in digits on one side must be on the other (in digits, or as
    a small number in words: "1 hoặc 2 lần" == "once or twice")."""
    for name, texts in fields.items():
        if not all(lang in texts for lang in LANGUAGES):
            continue
        digits = {lang: figures_in(texts[lang], lang) for lang in LANGUAGES}
        spoken = {lang: digits[lang] | _number_words(texts[lang], lang) for lang in LANGUAGES}
        only_vi = digits["vi"] - spoken["en"]
        only_en = digits["en"] - spoken["vi"]
        if only_vi or only_en:
            problems.append(
                f"{label}: figures in the {name} differ between vi and en: "
                f"only vi {sorted(only_vi) or '-'}, only en {sorted(only_en) or '-'}"
            )


_MONTHS_EN: dict[str, int] = {}
for _i, _m in enumerate(
    "january february march april may june july august september october november december".split(), 1
):
    _MONTHS_EN[_m] = _MONTHS_EN[_m[:3]] = _i
_MONTHS_EN["sept"] = 9
_NUMBER_WORDS = {
    "en": {
        "one": "1",
        "once": "1",
        "two": "2",
        "twice": "2",
        "double": "2",
        "three": "3",
        "four": "4",
        "five": "5",
        "six": "6",
        "seven": "7",
        "eight": "8",
        "nine": "9",
        "ten": "10",
        "eleven": "11",
        "twelve": "12",
        "half": "50",
        "first": "1",
        "second": "2",
        "third": "3",
        "zero": "0",
        "hundred": "100",
    },
    "vi": {
        "một": "1",
        "hai": "2",
        "đôi": "2",
        "ba": "3",
        "bốn": "4",
        "tư": "4",
        "năm": "5",
        "sáu": "6",
        "bảy": "7",
        "tám": "8",
        "chín": "9",
        "mười": "10",
        "nửa": "50",
        "rưỡi": "50",
        "nhất": "1",
        "trăm": "100",
        "không": "0",
    },
}
_TIME = re.compile(r"\b(\d{1,2})[:h](\d{2})\b")
_MONTH_NAME = re.compile(r"\b(" + "|".join(sorted(_MONTHS_EN, key=len, reverse=True)) + r")\.?(?![a-z])", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_RANGE = re.compile(r"\b(\d{1,3})\s*[–-]\s*(\d{1,3})\b")
_WORD = re.compile(r"\w+")


def figures_in(text: str, lang: str) -> set[str]:
    """Figures written in digits, normalised so both languages compare equal.

    Dates are split into day, month and year ("1/7/2026" and "1 July 2026" both give 1,
    7, 2026), "5.310.000" == "5,310,000", "1,5" == "1.5", "06:00" == 6, English month
    names are numbers. Article numbers of citations count too.
    """
    text = _TIME.sub(lambda m: m.group(1) if m.group(2) == "00" else f"{m.group(1)}.{m.group(2)}", text)
    if lang == "en":

        def month(m: re.Match[str]) -> str:
            name = m.group(1).lower()
            if name == "may" and not (re.search(r"\d\s*$", text[: m.start()]) or re.match(r"\s*\d", text[m.end() :])):
                return m.group(0)  # the verb
            return f" {_MONTHS_EN[name]} "

        text = _MONTH_NAME.sub(month, text)
    found: set[str] = set()
    for m in _NUMBER.finditer(text):
        raw = m.group(0)
        groups = re.split(r"[.,]", raw)
        if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
            found.add("".join(groups))  # thousands separators, either style
        elif len(groups) == 2:
            found.add(f"{groups[0]}.{groups[1]}")  # a decimal, either style
        else:
            found.update(groups)
    return {f if "." in f else (f.lstrip("0") or "0") for f in found}


_UNIT_FIGURES = {
    # unit -> a figure followed by it; money in thousands-separated digits or "triệu"
    "%": re.compile(r"(\d+(?:[.,]\d+)?)\s*%"),
    "VND": re.compile(r"(\d{1,3}(?:[.,]\d{3})+)\s*(?:đ|đồng|vnd|VND)"),
}


def unit_figures(text: str) -> dict[str, set[str]]:
    """Percentages and money amounts stated in `text`, normalised."""
    out: dict[str, set[str]] = {}
    for unit, pattern in _UNIT_FIGURES.items():
        values = {re.sub(r"[.,]", "", v) if unit == "VND" else v.replace(",", ".") for v in pattern.findall(text)}
        if values:
            out[unit] = values
    return out


def figure_warnings(kb: KnowledgeBase) -> list[str]:
    """Percentages and amounts an entry states that its topic never does.

    Reported, not fatal: an entry may rightly be more detailed than its topic (a worked
    example), but a number the topic never mentions is where contradictions hide
    ("10 days" in one answer, "5 days" in another).
    """
    warnings = []
    for entry in kb.entries.values():
        topic = kb.topics.get(entry.topic)
        if topic is None:
            continue
        topic_text = " ".join(
            [*topic.answer.values(), *topic.summary.values(), *(b for bs in topic.bullets.values() for b in bs)]
        )
        known = unit_figures(topic_text)
        for unit, values in unit_figures(" ".join(entry.answer.values())).items():
            if unit not in known:
                continue  # the topic states no figure of this kind: nothing to compare
            extra = sorted(values - known[unit])
            if extra:
                warnings.append(
                    f"{entry.id}: {unit} figure(s) {', '.join(extra)} not in "
                    f"topic {topic.id}'s text ({', '.join(sorted(known[unit]))})"
                )
    return warnings


def _number_words(text: str, lang: str) -> set[str]:
    """Figures the text states without writing them: "once", "hai", "Arts. 3–5" (4)."""
    words = _NUMBER_WORDS[lang]
    found = {words[w] for w in _WORD.findall(text.casefold()) if w in words}
    for m in _RANGE.finditer(text):
        lo, hi = int(m.group(1)), int(m.group(2))
        if 0 < hi - lo <= 10:
            found.update(str(n) for n in range(lo, hi + 1))
    return found


def _date(data: Mapping[str, Any], key: str, label: str, problems: list[str]) -> date | None:
    raw = data.get(key)
    if raw is None:
        problems.append(f"{label}: missing {key} date")
        return None
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
        problems.append(f"{label}: {key} must be an ISO date YYYY-MM-DD, got {raw!r}")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label}: {key} is not a real date: {raw!r}")
        return None


def _certainty(data: Mapping[str, Any], label: str, problems: list[str]) -> str:
    """The item's certainty, or "" (with a problem noted) when it is not one of CERTAINTIES."""
    value = data.get("certainty")
    if value in CERTAINTIES:
        return str(value)
    problems.append(f"{label}: certainty must be one of {', '.join(CERTAINTIES)}")
    return ""


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())
