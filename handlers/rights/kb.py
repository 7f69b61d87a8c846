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
from typing import Any

__all__ = [
    "CERTAINTIES",
    "HEDGE_MARKERS",
    "LANGS",
    "MAX_ANSWER_CHARS",
    "MAX_TITLE_CHARS",
    "REQUIRED_TOPICS",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Topic",
    "check_knowledge_dir",
    "load_knowledge_base",
    "packaged_data_dir",
]

REQUIRED_TOPICS: tuple[str, ...] = (
    "minimum_wage", "working_hours", "overtime_limits", "overtime_pay", "annual_leave",
    "public_holidays", "personal_leave", "maternity", "sick_leave", "labor_contract_types",
    "probation", "contract_termination", "unlawful_dismissal", "severance", "wage_payment",
    "social_insurance", "unemployment_insurance", "health_insurance", "work_accident",
    "osh_rights", "osh_month", "workers_month", "union_join", "union_dues", "union_rights",
    "grassroots_union", "collective_bargaining", "strike", "dialogue", "harassment",
    "child_labor", "retirement_age", "one_time_si_withdrawal", "union_legal_aid",
    "labor_dispute", "personal_data",
)

LANGS: tuple[str, ...] = ("vi", "en")  # Vietnamese first: it is the fallback language
CERTAINTIES: tuple[str, ...] = ("confirmed", "secondary", "uncertain")
# A phone screen; longer answers get scrolled past on cheap Android phones.
MAX_ANSWER_CHARS = 900
MAX_TITLE_CHARS = 40  # a topic title is a button label
# An answer whose facts are not all confirmed must send the worker to a person.
# Validation checks for these phrases so a federation override cannot drop the hedge.
HEDGE_MARKERS: Mapping[str, str] = {
    "vi": "hãy hỏi cán bộ công đoàn để xác nhận",
    "en": "please confirm with a union officer",
}

CATEGORIES_FILE = "_categories.json"
_PACKAGE_DATA = "data"
_BILINGUAL = ("title", "questions", "answer", "citation")
_FIELDS = frozenset(
    {"id", "title", "category", "certainty", "effective", "reviewed", "questions", "keywords",
     "answer", "citation", "related"}
)
_ID = re.compile(r"[a-z][a-z0-9_]*")
# date.fromisoformat also takes "20261122" since 3.11; the files must stay readable.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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

    def title_in(self, lang: str | None) -> str:
        lang = lang or LANGS[0]
        return (self.title.get(lang) or self.title.get(LANGS[0])
                or (self.questions.get(lang) or self.questions[LANGS[0]])[0])

    def answer_in(self, lang: str | None) -> str:
        return self.answer.get(lang or LANGS[0]) or self.answer[LANGS[0]]

    def citation_in(self, lang: str | None) -> str:
        return self.citation.get(lang or LANGS[0]) or self.citation[LANGS[0]]

    @property
    def hedged(self) -> bool:
        return self.certainty != "confirmed"


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    topics: Mapping[str, Topic]
    categories: Mapping[str, Mapping[str, str]]  # category id -> {lang: display name}

    def topics_in(self, category: str) -> list[Topic]:
        return [t for t in self.topics.values() if t.category == category]

    def category_name(self, category: str, lang: str | None) -> str:
        names = self.categories[category]
        return names.get(lang or LANGS[0]) or names[LANGS[0]]


class KnowledgeBaseError(ValueError):
    """The knowledge files are invalid; `problems` names each file and entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the rights knowledge base:\n"
                         + "\n".join(problems))
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


def check_knowledge_dir(
    path: Path | Traversable, *, required_ids: Iterable[str] = REQUIRED_TOPICS
) -> list[str]:
    """Validate one self-contained directory of topic files; [] means it loads."""
    if not path.is_dir():
        return [f"{path}: not a directory"]
    return _collect([path], required_ids=tuple(required_ids))[1]


# --- internals -------------------------------------------------------------------------

def _collect(
    dirs: list[Traversable], *, required_ids: tuple[str, ...]
) -> tuple[KnowledgeBase | None, list[str]]:
    problems: list[str] = []
    categories: dict[str, dict[str, str]] = {}
    merged: dict[str, dict[str, Any]] = {}
    sources: dict[str, list[str]] = {}

    for layer, directory in enumerate(dirs):
        seen_here: dict[str, str] = {}
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if not entry.name.endswith(".json") or not entry.is_file():
                continue
            where = _where(directory, entry)
            data = _read_json(entry, where, problems)
            if data is None:
                continue
            if entry.name == CATEGORIES_FILE:
                _merge_categories(data, where, categories, problems)
                continue
            if entry.name.startswith("_"):
                continue
            tid = data.get("id")
            if not isinstance(tid, str) or not _ID.fullmatch(tid):
                problems.append(f"{where}: missing or invalid 'id' (lower-case letters, "
                                "digits and _)")
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
        topic = _build_topic(tid, data, label, categories, set(merged), problems)
        if topic is not None:
            topics[tid] = replace(topic, sources=tuple(sources[tid]))
    if problems:
        return None, problems
    return KnowledgeBase(topics=topics, categories=categories), []


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


def _merge_categories(data: dict[str, Any], where: str, into: dict[str, dict[str, str]],
                      problems: list[str]) -> None:
    for cid, names in data.items():
        if not isinstance(names, dict):
            problems.append(f"{where} [{cid}]: category names must be an object {{vi, en}}")
            continue
        merged = {**into.get(cid, {}), **names}
        missing = [lang for lang in LANGS if not _text(merged.get(lang))]
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


def _build_topic(tid: str, data: dict[str, Any], label: str,
                 categories: Mapping[str, Any], known_ids: set[str],
                 problems: list[str]) -> Topic | None:
    before = len(problems)

    category = data.get("category")
    if not _text(category):
        problems.append(f"{label}: missing category")
    elif categories and category not in categories:
        problems.append(f"{label}: unknown category '{category}' (not in {CATEGORIES_FILE})")

    questions: dict[str, tuple[str, ...]] = {}
    answer: dict[str, str] = {}
    citation: dict[str, str] = {}
    raw_q, raw_a, raw_c = data.get("questions"), data.get("answer"), data.get("citation")
    for lang in LANGS:
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
                problems.append(f"{label}: {lang} answer is {len(answer[lang])} characters, "
                                f"keep it to {MAX_ANSWER_CHARS} (one phone screen)")
        cite = raw_c.get(lang) if isinstance(raw_c, dict) else None
        if not _text(cite):
            problems.append(f"{label}: missing {lang} citation")
        else:
            citation[lang] = cite.strip()

    effective = _date(data, "effective", label, problems)
    reviewed = _date(data, "reviewed", label, problems)

    certainty = data.get("certainty")
    if certainty not in CERTAINTIES:
        problems.append(f"{label}: certainty must be one of {', '.join(CERTAINTIES)}")
    elif certainty != "confirmed":
        for lang, text in answer.items():
            if HEDGE_MARKERS[lang] not in text:
                problems.append(f"{label}: {certainty} topic, but the {lang} answer lacks the "
                                f"hedge \"{HEDGE_MARKERS[lang]}\"")

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

    title = data.get("title", {})
    if not isinstance(title, dict) or (title and not all(_text(title.get(lang)) for lang in LANGS)):
        problems.append(f"{label}: title, when given, needs vi and en text")
        title = {}
    for lang, text in title.items():
        if isinstance(text, str) and len(text) > MAX_TITLE_CHARS:
            problems.append(f"{label}: {lang} title is {len(text)} characters, "
                            f"keep it to {MAX_TITLE_CHARS} (a button label)")

    if len(problems) > before or effective is None or reviewed is None:
        return None
    return Topic(
        id=tid, category=category, questions=questions, answer=answer, citation=citation,
        effective=effective, reviewed=reviewed, certainty=certainty,
        related=tuple(related), keywords=tuple(k.strip() for k in keywords),
        title={lang: text.strip() for lang, text in title.items()},
    )


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


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
