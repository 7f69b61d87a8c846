"""The 34 provincial-level units in force since 1 July 2025, and a forgiving resolver.

Workers type the province the way they say it: old names from before the 2025 merger
("Bình Dương"), no diacritics ("binh duong"), abbreviations ("tphcm"), extra words
("tỉnh", "thành phố"). `resolve_province` maps all of these to one of the 34 units and
says which old name it went through, so the bot can explain the merger instead of
silently showing a province the worker did not type.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from handlers.text import fold

__all__ = [
    "Province",
    "ProvinceKind",
    "ProvinceMatch",
    "all_provinces",
    "fold",
    "get_province",
    "resolve_province",
]


class ProvinceKind(StrEnum):
    CITY = "city"  # thành phố trực thuộc trung ương
    PROVINCE = "province"  # tỉnh


@dataclass(frozen=True, slots=True)
class Province:
    id: str  # stable ASCII id, stored in the database: never rename
    name_vi: str
    name_en: str
    kind: ProvinceKind
    merged_from: tuple[str, ...]  # pre-2025 units, as in the resolution
    aliases: tuple[str, ...]  # informal names of the unit as a whole

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi

    @property
    def full_name_vi(self) -> str:
        prefix = "Thành phố" if self.kind is ProvinceKind.CITY else "Tỉnh"
        return f"{prefix} {self.name_vi}"


@dataclass(frozen=True, slots=True)
class ProvinceMatch:
    province: Province | None
    # The pre-2025 name the text matched, when it differs from the current name, so the
    # bot can say "Bình Dương is now part of Hồ Chí Minh".
    via_old_name: str | None = None
    # Closest units, best first, when `province` is None (a typo, or text naming two units).
    suggestions: tuple[Province, ...] = ()


_DATA_FILE = "provinces.json"

# Words people put around a province name. Stripped only at the edges of the text so
# that "Hà Tĩnh" keeps its "tinh" and "Thanh Hóa" its "thanh".
_LEADING_FILLERS = (("thanh", "pho"), ("t", "p"), ("tp",), ("tinh",), ("o",))
_TRAILING_FILLERS = (("city",), ("province",), ("cu",), ("moi",))

# Tuned on typos and foreign city names: below 0.7 "Paris" proposes "Bà Rịa" and
# "London" proposes "Long An"; a runner-up far behind the best match is noise too.
_SUGGESTION_CUTOFF = 0.7
_SUGGESTION_MARGIN = 0.15
_MAX_SUGGESTIONS = 3


def _strip_fillers(words: list[str]) -> list[str]:
    changed = True
    while changed and words:
        changed = False
        for filler in _LEADING_FILLERS:
            n = len(filler)
            if len(words) > n and tuple(words[:n]) == filler:
                words = words[n:]
                changed = True
        for filler in _TRAILING_FILLERS:
            n = len(filler)
            if len(words) > n and tuple(words[-n:]) == filler:
                words = words[:-n]
                changed = True
    return words


def _key(text: str) -> str:
    return " ".join(_strip_fillers(fold(text).split()))


@dataclass(frozen=True, slots=True)
class _Entry:
    province: Province
    old_name: str | None  # None when the key names the current unit


@dataclass(frozen=True, slots=True)
class _Catalog:
    provinces: tuple[Province, ...]
    by_id: dict[str, Province]
    # Folded key -> entry; every key is also indexed without spaces ("binhduong").
    index: dict[str, _Entry]


def _add(index: dict[str, _Entry], name: str, entry: _Entry) -> None:
    key = _key(name)
    if not key:
        raise ValueError(f"provinces.json: {name!r} folds to nothing")
    for k in {key, key.replace(" ", "")}:
        known = index.get(k)
        if known is not None and known != entry:
            # Two units (or two old names) folding to the same text would make the resolver
            # guess; catch that when the data is edited, not when a worker hits it.
            raise ValueError(
                f"provinces.json: {name!r} is ambiguous: {k!r} already names "
                f"{known.province.id} ({known.old_name or 'current name'})"
            )
        index[k] = entry


@cache
def _catalog() -> _Catalog:
    raw = json.loads(resources.files(__package__).joinpath("data", _DATA_FILE).read_text(encoding="utf-8"))
    provinces: list[Province] = []
    index: dict[str, _Entry] = {}
    for item in raw["provinces"]:
        province = Province(
            id=item["id"],
            name_vi=unicodedata.normalize("NFC", item["name_vi"]),
            name_en=item["name_en"],
            kind=ProvinceKind(item["kind"]),
            merged_from=tuple(unicodedata.normalize("NFC", m["name"]) for m in item["merged_from"]),
            aliases=tuple(item["aliases"]),
        )
        provinces.append(province)
        current = _Entry(province, None)
        current_key = _key(province.name_vi)
        for name in (province.name_vi, province.name_en, province.full_name_vi, *province.aliases):
            _add(index, name, current)
        for old in item["merged_from"]:
            old_name = unicodedata.normalize("NFC", old["name"])
            # The old unit that lent its name to the new one is not news to the worker.
            entry = current if _key(old_name) == current_key else _Entry(province, old_name)
            for name in (old_name, *old["aliases"]):
                _add(index, name, entry)
    by_id = {p.id: p for p in provinces}
    if len(by_id) != len(provinces):
        raise ValueError("provinces.json: duplicate province id")
    return _Catalog(tuple(provinces), by_id, index)


def all_provinces() -> tuple[Province, ...]:
    """The 34 units in the order of Resolution 202/2025/QH15 (Hà Nội first)."""
    return _catalog().provinces


def get_province(province_id: str) -> Province | None:
    """The unit with this stored id, or None for an unknown id."""
    return _catalog().by_id.get(province_id)


def _match(entry: _Entry) -> ProvinceMatch:
    return ProvinceMatch(entry.province, via_old_name=entry.old_name)


def _find_in_text(key: str, index: dict[str, _Entry]) -> list[_Entry]:
    """Entries whose names appear as whole words in a longer text, longest first.

    A name inside a longer matched name does not count: "ba ria vung tau" matches once,
    not also as "vung tau".
    """
    padded = f" {key} "
    hits: list[tuple[int, int, _Entry]] = []
    for name, entry in index.items():
        start = padded.find(f" {name} ")
        while start != -1:
            hits.append((start, start + len(name), entry))
            start = padded.find(f" {name} ", start + 1)
    hits.sort(key=lambda h: h[0] - h[1])  # longest first
    taken: list[tuple[int, int]] = []
    found: list[_Entry] = []
    for start, end, entry in hits:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        if entry not in found:
            found.append(entry)
    return found


def _suggest(key: str, index: dict[str, _Entry]) -> tuple[Province, ...]:
    compact = key.replace(" ", "")
    best: dict[str, float] = {}
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(compact)
    for name, entry in index.items():
        if " " in name:
            continue  # the compact twin of every key is indexed too; compare those
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() < _SUGGESTION_CUTOFF:
            continue
        score = matcher.ratio()
        if score >= _SUGGESTION_CUTOFF and score > best.get(entry.province.id, 0.0):
            best[entry.province.id] = score
    by_id = _catalog().by_id
    ranked = sorted(best.items(), key=lambda item: -item[1])
    if not ranked:
        return ()
    floor = ranked[0][1] - _SUGGESTION_MARGIN
    return tuple(by_id[pid] for pid, score in ranked[:_MAX_SUGGESTIONS] if score >= floor)


def resolve_province(text: str) -> ProvinceMatch:
    """Map what a worker typed to one of the 34 units.

    Tries, in order: the whole text as a name (any case, with or without diacritics,
    with "tỉnh"/"thành phố"/"tp" around it); names found inside a longer text
    ("KCN Mỹ Phước, Bình Dương"); then fuzzy suggestions for typos, which the caller
    should offer as choices rather than accept.
    """
    catalog = _catalog()
    key = _key(text)
    if not key:
        return ProvinceMatch(None)
    for candidate in (key, key.replace(" ", "")):
        entry = catalog.index.get(candidate)
        if entry is not None:
            return _match(entry)

    found = _find_in_text(key, catalog.index)
    provinces = list(dict.fromkeys(e.province for e in found))
    if len(provinces) == 1:
        return _match(found[0])
    if provinces:
        # "Bình Dương hoặc Đồng Nai": let the worker pick rather than guess.
        return ProvinceMatch(None, suggestions=tuple(provinces[:_MAX_SUGGESTIONS]))

    return ProvinceMatch(None, suggestions=_suggest(key, catalog.index))
