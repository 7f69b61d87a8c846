"""The 34 provincial-level units in force since 1 July 2025, and a forgiving resolver.

Workers type the province the way they say it: old names from before the 2025 merger
("Bình Dương"), no diacritics ("binh duong"), abbreviations ("tphcm"), extra words
("tỉnh", "thành phố"). `resolve_province` maps all of these to one of the 34 units and
says which old name it went through, so the bot can explain the merger instead of
silently showing a province the worker did not type.

They also name the town or industrial district rather than the province ("Thuận An",
"KCN Yên Phong"): a curated list of former district-level units (data/places.json) maps
those, exactly after folding, to their pre-2025 province and on to the current unit.
Hồ Chí Minh City's numbered districts ("quận 7", "Q.12", "q7") are read there too.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from handlers.text import fold, written

__all__ = [
    "Province",
    "ProvinceKind",
    "ProvinceMatch",
    "all_provinces",
    "fold",
    "get_province",
    "numbered_districts",
    "place_marker",
    "places_named",
    "reading_note",
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
    # The former district (or industrial park) the text named instead of a province, so
    # the bot can say "Thuận An is in Hồ Chí Minh" rather than show a unit never typed.
    via_place: str | None = None


_DATA_FILE = "provinces.json"
_PLACES_FILE = "places.json"

# Words people put around a province name. Stripped only at the edges of the text so
# that "Hà Tĩnh" keeps its "tinh" and "Thanh Hóa" its "thanh".
_LEADING_FILLERS = (("thanh", "pho"), ("t", "p"), ("tp",), ("tinh",), ("o",))
_TRAILING_FILLERS = (("city",), ("province",), ("cu",), ("moi",))
# Around a place name, after the province fillers: its kind ("huyện Củ Chi", "TX. Dĩ An",
# "KCN Yên Phong") and the polite "ạ" a one-word answer often ends with. Only for places:
# "Hà Nam ạ" already resolves as a province named inside the text.
_PLACE_LEADING = (
    *(("huyen",), ("quan",), ("q",), ("h",), ("thi", "xa"), ("tx",), ("kcn",), ("kcx",)),
    *(("khu", "cong", "nghiep"), ("khu", "che", "xuat")),
)
_PLACE_TRAILING = (("a",), ("ah",), ("nha",), ("nhe",), ("oi",))
# Inside a sentence, a place whose folded name is also an everyday phrase ("di an" is
# "đi ăn", "van lam" is "vẫn làm") counts only right after a word naming a place's kind
# ("huyện Quế Võ", "KCN Dĩ An"). "ở"/"tại" are not enough for those: "em ở quê vợ" is not
# Quế Võ, "ở nhà bé lắm" not Nhà Bè (found in review); they are for the other names.
_PLACE_KINDS = (
    *(("huyen",), ("quan",), ("q",), ("thi", "xa"), ("tx",), ("tp",), ("thanh", "pho"), ("kcn",), ("kcx",)),
    *(("cong", "nghiep"), ("che", "xuat")),
)
_PLACE_WORDS = frozenset({"o", "tai", "in", "at", "from", "near"})
_PLACE_KIND_ENDS = frozenset(kind[-1] for kind in _PLACE_KINDS)  # a quick test first: every word is tried


def place_marker(words: list[str], i: int) -> int:
    """How strongly the words before `words[i]` say a place follows: 2 after its kind
    ("huyện", "KCN", "khu công nghiệp"), 1 after "ở"/"tại"/"in", else 0."""
    last = words[i - 1] if i else ""
    if last in _PLACE_KIND_ENDS and any(tuple(words[max(0, i - len(k)) : i]) == k for k in _PLACE_KINDS):
        return 2
    return 1 if last in _PLACE_WORDS else 0


# A numbered district as workers type it: "Quận 7", "quan 7", "quận7", "Q.12", "Q 12", "Q7".
# Read on the text as typed (NFC, lower-case), before folding: its diacritics tell "quận"
# from "quán 7" (a shop), and "Q7A9", "Q7-A9" (product codes) or "quận 7.5" are no whole
# token there, while folding would cut "Q7-A9" into a "q7" of its own. [0-9], not \d:
# int() would read other scripts' digits as a district too.
_NUMBERED = re.compile(r"(?<![\w.-])(quận|quan|q)\s*\.?\s*([0-9]{1,2})(?![\w-]|[.,][0-9])")
# Folded words that make the number before them a count: "làm ở quán 2 năm" typed without
# diacritics is two years at a shop, not District 2.
_COUNTED = frozenset(
    {"nam", "thang", "tuan", "ngay", "gio", "tieng", "phut", "lan", "nguoi", "cai", "k", "nghin", "ngan", "trieu"}
)
# An address's parts are set off by punctuation: "123 Nguyễn Văn Linh, Q7", "Địa chỉ: Q.7".
_CLAUSE_START = re.compile(r"[,;:(/|\n-]\s*$")
_WARD_NUMBER = re.compile(r"p[0-9]{1,2}")


def _district_may_follow(before: list[str], typed_before: str) -> bool:
    """Whether an abbreviated or diacritic-free district ("Q7", "quan 7") may start here:
    at the start of the text or of an address part, after a place word, or after a
    ward's number ("phuong 7 quan 3", "p7 q3")."""
    if not before or _CLAUSE_START.search(typed_before) or place_marker(before, len(before)):
        return True
    return bool(_WARD_NUMBER.fullmatch(before[-1])) or (
        len(before) > 1 and before[-2] in ("phuong", "p") and before[-1].isdigit()
    )


def _numbered_in(text: str) -> list[tuple[int, _Place]]:
    """The numbered districts in `text`, each with the index of its first word among
    `fold(text).split()`. "quận" typed with its diacritics is one anywhere; "quan" without
    them is also "quán", "cơ quan", "liên quan", and "Q7" a car, so those count only where
    a place may follow (`_district_may_follow`: "ở Q7", "làm ở quan 7", "..., Q.7"), and
    not before a count ("quan 2 nam"). A ward's number ("phường 7") is in every city:
    never a place."""
    numbered = _catalog().numbered
    low = unicodedata.normalize("NFC", text).lower()
    if not numbered or "q" not in low:
        return []
    found: list[tuple[int, _Place]] = []
    for m in _NUMBERED.finditer(low):
        word, digits = m.groups()
        place = numbered.get(int(digits))
        if place is None or digits.startswith("0"):
            continue  # "quận 13", "quận 0", "Q07": no district of that number
        before = fold(low[: m.start()]).split()
        if word != "quận":
            after = fold(low[m.end() :]).split()[:1]
            if not _district_may_follow(before, low[: m.start()]) or (after and after[0] in _COUNTED):
                continue
        found.append((len(before), place))
    return found


def numbered_districts(text: str) -> list[tuple[int, str]]:
    """(index of its first word among `fold(text).split()`, province id) for each numbered
    district in `text` ("em lam o quan 7": [(3, "ho_chi_minh")]), as `resolve_province`
    reads them: for finding a place inside a question."""
    return [(i, place.province.id) for i, place in _numbered_in(text)]


# Tuned on typos and foreign city names: below 0.7 "Paris" proposes "Bà Rịa" and
# "London" proposes "Long An"; a runner-up far behind the best match is noise too.
_SUGGESTION_CUTOFF = 0.7
_SUGGESTION_MARGIN = 0.15
_MAX_SUGGESTIONS = 3


def _strip_fillers(
    words: list[str],
    leading: tuple[tuple[str, ...], ...] = _LEADING_FILLERS,
    trailing: tuple[tuple[str, ...], ...] = _TRAILING_FILLERS,
) -> list[str]:
    changed = True
    while changed and words:
        changed = False
        for filler in leading:
            n = len(filler)
            if len(words) > n and tuple(words[:n]) == filler:
                words = words[n:]
                changed = True
        for filler in trailing:
            n = len(filler)
            if len(words) > n and tuple(words[-n:]) == filler:
                words = words[:-n]
                changed = True
    return words


def _key(text: str) -> str:
    return " ".join(_strip_fillers(fold(text).split()))


def _place_key(key: str) -> str:
    """A province key (`_key`) without what people put around a place name too."""
    return " ".join(_strip_fillers(key.split(), _PLACE_LEADING, _PLACE_TRAILING))


@dataclass(frozen=True, slots=True)
class _Entry:
    province: Province
    old_name: str | None  # None when the key names the current unit


@dataclass(frozen=True, slots=True)
class _Place:
    name: str  # as written, with diacritics: shown to the worker
    province: Province
    old_name: str | None  # the pre-2025 province, when it is not the current unit's name
    everyday: bool  # folds to a common phrase: in a sentence, only after a place word
    # ...whose diacritics differ from the name's ("Dĩ An" / "đi ăn", not "Chợ Gạo" / "chợ
    # gạo"), so "ở Dĩ An" typed with them is the place.
    spelled_apart: bool = False
    # Units whose name (or alias) is one letter away when folded ("pho yen": Phổ Yên, or
    # Phú Yên mistyped): without the place's diacritics, offered beside it, never guessed.
    near: tuple[Province, ...] = ()


@dataclass(frozen=True, slots=True)
class _Catalog:
    provinces: tuple[Province, ...]
    by_id: dict[str, Province]
    # Folded key -> entry; every key is also indexed without spaces ("binhduong").
    index: dict[str, _Entry]
    # Folded place key (and its twin without spaces) -> every place of that name: more
    # than one when units in different provinces share it (Tân Uyên), never guessed.
    places: dict[str, tuple[_Place, ...]]
    # The spaced keys of names of two words or more, for finding a place inside a
    # sentence, longest first. One word alone ("Vinh") is a syllable of too many other
    # names ("ở Vĩnh Lộc") to be taken from a sentence: it counts as the whole answer only.
    place_names: tuple[str, ...]
    # District number -> the place it names ("Quận 7"): a number is no name, so these are
    # found by their shape (`_numbered_in`), not among `places`.
    numbered: dict[int, _Place]


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
    raw_places = json.loads(resources.files(__package__).joinpath("data", _PLACES_FILE).read_text(encoding="utf-8"))
    places = _load_places(raw_places["places"], index)
    numbered = _load_numbered(raw_places.get("numbered"), index)
    names = tuple(sorted((k for k in places if " " in k), key=lambda k: (-len(k), k)))
    return _Catalog(tuple(provinces), by_id, index, places, names, numbered)


def _pre_2025(index: dict[str, _Entry], name: str, province: str) -> _Entry:
    old = unicodedata.normalize("NFC", province)
    entry = index.get(_key(old))
    # The pre-2025 province by its own name, not an alias: a misspelt or informal
    # province in the data file would otherwise slip through unnoticed.
    if entry is None or old not in (entry.old_name, entry.province.name_vi, *entry.province.merged_from):
        raise ValueError(f"places.json: {name!r}: {old!r} is not a pre-2025 province name")
    return entry


def _load_numbered(raw: dict[str, object] | None, index: dict[str, _Entry]) -> dict[int, _Place]:
    if raw is None:
        return {}
    pattern = unicodedata.normalize("NFC", str(raw["name"]))
    entry = _pre_2025(index, pattern, str(raw["province"]))
    numbers = raw["numbers"]
    if "{n}" not in pattern or not isinstance(numbers, list):
        raise ValueError("places.json: numbered needs a name with {n} and a list of numbers")
    out: dict[int, _Place] = {}
    for n in numbers:
        # Two digits at most is what `_NUMBERED` reads; 0 is never a district.
        if not isinstance(n, int) or not 1 <= n <= 99 or n in out:
            raise ValueError(f"places.json: numbered: {n!r} is not a new number from 1 to 99")
        out[n] = _Place(pattern.replace("{n}", str(n)), entry.province, entry.old_name, everyday=False)
    return out


def _load_places(raw: list[dict[str, str]], index: dict[str, _Entry]) -> dict[str, tuple[_Place, ...]]:
    places: dict[str, tuple[_Place, ...]] = {}
    for item in raw:
        name = unicodedata.normalize("NFC", item["name"])
        entry = _pre_2025(index, name, item["province"])
        everyday = unicodedata.normalize("NFC", item.get("everyday", ""))
        apart = bool(everyday) and f" {written(name)} " not in f" {written(everyday)} "
        place = _Place(name, entry.province, entry.old_name, bool(everyday), apart)
        key = _place_key(_key(name))
        if not key or key != _key(name):
            raise ValueError(f"places.json: {name!r} starts or ends with a filler word")
        for k in {key, key.replace(" ", "")}:
            if k in index or _place_key(k) in index:
                # A province name wins over a place: a place of that name would never be
                # reached, and the data should not pretend otherwise.
                raise ValueError(f"places.json: {name!r} folds to {k!r}, a province name or alias")
            known = places.get(k, ())
            if any(p.province == place.province for p in known):
                raise ValueError(f"places.json: {name!r} is listed twice for {place.province.id}")
            places[k] = (*known, place)
    return _with_near_provinces(places, index)


def everyday_counts(place: _Place, marker: int, typed: str) -> bool:
    """Whether `place`, found inside a sentence after a `place_marker` of this strength,
    is the place. A name that is also an everyday phrase needs its kind before it
    ("huyện Quế Võ"), or "ở"/"tại" and its own diacritics ("ở Dĩ An", not "ở quê vợ")."""
    if not place.everyday:
        return True
    return marker == 2 or (marker == 1 and place.spelled_apart and f" {written(place.name)} " in typed)


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def _with_near_provinces(
    places: dict[str, tuple[_Place, ...]], index: dict[str, _Entry]
) -> dict[str, tuple[_Place, ...]]:
    compact = [(k, e.province) for k, e in index.items() if " " not in k]
    out: dict[str, tuple[_Place, ...]] = {}
    for key, group in places.items():
        near = tuple(
            dict.fromkeys(
                province
                for k, province in compact
                if _one_edit_apart(key.replace(" ", ""), k) and all(p.province != province for p in group)
            )
        )
        out[key] = tuple(dataclasses.replace(p, near=near) for p in group) if near else group
    return out


def all_provinces() -> tuple[Province, ...]:
    """The 34 units in the order of Resolution 202/2025/QH15 (Hà Nội first)."""
    return _catalog().provinces


def get_province(province_id: str) -> Province | None:
    """The unit with this stored id, or None for an unknown id."""
    return _catalog().by_id.get(province_id)


def _match(entry: _Entry) -> ProvinceMatch:
    return ProvinceMatch(entry.province, via_old_name=entry.old_name)


def _place_match(place: _Place) -> ProvinceMatch:
    return ProvinceMatch(place.province, via_old_name=place.old_name, via_place=place.name)


def _narrow(places: tuple[_Place, ...], text: str) -> tuple[_Place, ...]:
    """Places sharing a folded name, narrowed by the diacritics typed: "Phú Mỹ" is not
    "Phù Mỹ", while "phu my" (or "Tân Uyên", two units spelt alike) stays a choice."""
    if len({p.province for p in places}) < 2:
        return places
    typed = f" {written(text)} "
    exact = tuple(p for p in places if f" {written(p.name)} " in typed)
    return exact if len({p.province for p in exact}) == 1 else places


def _places_in_text(
    key: str, catalog: _Catalog, taken: list[tuple[int, int]], text: str = ""
) -> list[tuple[_Place, ...]]:
    """Place names appearing as whole words in `key` outside the spans already `taken`
    by province names, and numbered districts (`_numbered_in`), in the order typed; an
    everyday-phrase name only after a place word (`everyday_counts`). Longer names are
    tried first, so "bac tan uyen" is not also "tan uyen"."""
    padded = f" {key} "
    typed = f" {written(text)} "
    found: list[tuple[int, tuple[_Place, ...]]] = []
    for name in catalog.place_names:
        places = catalog.places[name]
        start = padded.find(f" {name} ")
        while start != -1:
            end = start + len(name)
            before = padded[:start].split()
            marker = place_marker(before, len(before))
            free = not any(start < t_end and t_start < end for t_start, t_end in taken)
            if free and all(everyday_counts(p, marker, typed) for p in places):
                taken.append((start, end))
                found.append((len(before), places))
            start = padded.find(f" {name} ", start + 1)
    if text:
        # `key` is the folded text without the fillers at its edges; the districts are
        # placed among its words by what was cut from the front.
        words, kept = fold(text).split(), key.split()
        lead = next((i for i in range(len(words)) if words[i : i + len(kept)] == kept), 0)
        found += [(i - lead, (place,)) for i, place in _numbered_in(text)]
    return [places for _, places in sorted(found, key=lambda f: f[0])]


def _find_in_text(key: str, index: dict[str, _Entry], taken: list[tuple[int, int]] | None = None) -> list[_Entry]:
    """Entries whose names appear as whole words in a longer text, longest first.

    A name inside a longer matched name does not count: "ba ria vung tau" matches once,
    not also as "vung tau". The spans matched are added to `taken`, when given.
    """
    padded = f" {key} "
    hits: list[tuple[int, int, _Entry]] = []
    for name, entry in index.items():
        start = padded.find(f" {name} ")
        while start != -1:
            hits.append((start, start + len(name), entry))
            start = padded.find(f" {name} ", start + 1)
    hits.sort(key=lambda h: h[0] - h[1])  # longest first
    taken = [] if taken is None else taken
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
    with "tỉnh"/"thành phố"/"tp" around it); the whole text as a former district
    ("Thuận An", "huyện Củ Chi", "KCN Yên Phong"), reported in `via_place`; names found
    inside a longer text ("KCN Mỹ Phước, Bình Dương"), where a province named beats a
    place named; then fuzzy suggestions for typos of provinces (never of places: a typo
    of a province must not propose an obscure district), which the caller should offer
    as choices rather than accept.
    """
    catalog = _catalog()
    key = _key(text)
    if not key:
        return ProvinceMatch(None)
    for candidate in (key, key.replace(" ", "")):
        entry = catalog.index.get(candidate)
        if entry is not None:
            return _match(entry)

    place_key = _place_key(key)
    for candidate in (place_key, place_key.replace(" ", "")):
        entry = catalog.index.get(candidate)
        if entry is not None:
            return _match(entry)  # "KCN Bắc Ninh": the province, not a place
        places = catalog.places.get(candidate)
        if places is not None:
            return _resolve_places([places], text)

    taken: list[tuple[int, int]] = []
    found = _find_in_text(key, catalog.index, taken)
    places_found = _places_in_text(key, catalog, taken, text)
    provinces = list(dict.fromkeys(e.province for e in found))
    if len(provinces) == 1:
        # A place of the same unit says more ("Dĩ An, Bình Dương"); one elsewhere is a
        # street or ward of the same name, and the province the worker named wins.
        for places in places_found:
            agreeing = [p for p in _narrow(places, text) if p.province == provinces[0]]
            if agreeing:
                return _place_match(agreeing[0])
        return _match(found[0])
    if provinces:
        # "Bình Dương hoặc Đồng Nai": let the worker pick rather than guess.
        return ProvinceMatch(None, suggestions=tuple(provinces[:_MAX_SUGGESTIONS]))
    if places_found:
        return _resolve_places(places_found, text)

    return ProvinceMatch(None, suggestions=_suggest(key, catalog.index))


def _resolve_places(found: list[tuple[_Place, ...]], text: str) -> ProvinceMatch:
    narrowed = [_narrow(places, text) for places in found]
    candidates = [p for places in narrowed for p in places]
    provinces = list(dict.fromkeys(p.province for p in candidates))
    # "Tân Uyên, Bến Cát": only one unit has both, so the namesake is no longer a question.
    shared = [pr for pr in provinces if all(any(p.province == pr for p in places) for places in narrowed)]
    if len(shared) == 1 and len(provinces) > 1:
        candidates = [p for p in candidates if p.province == shared[0]]
        provinces = shared
    if len(provinces) == 1:
        place = candidates[0]
        if not place.near or f" {written(place.name)} " in f" {written(text)} ":
            return _place_match(place)
        provinces += place.near  # "pho yen": Phổ Yên, or Phú Yên with a typo
    # "Tân Uyên" (Bình Dương or Lai Châu), or two places far apart: offered, not guessed.
    return ProvinceMatch(None, suggestions=tuple(provinces[:_MAX_SUGGESTIONS]))


def places_named() -> dict[str, tuple[str, Callable[[int, str], bool]]]:
    """Folded place name -> (province id, whether it counts after a `place_marker` of a
    given strength in a text as `written`), for the places that name one unit whatever
    the diacritics ("thuan an", not "tan uyen" or "pho yen"): for finding a place inside a
    question, where nobody is offered a choice."""
    return {
        key: (group[0].province.id, functools.partial(everyday_counts, group[0]))
        for key, group in _catalog().places.items()
        if len(group) == 1 and not group[0].near and key == _key(group[0].name)
    }


def reading_note(match: ProvinceMatch, lang: str, t: Callable[..., str]) -> str | None:
    """What to tell the worker about how their answer was read, in `lang` through the
    catalog function `t` (`ctx.t`): the place and the old province it went through, so
    the unit shown is never a surprise. None when they named the current unit itself."""
    if match.province is None:
        return None
    new = match.province.name(lang)
    if match.via_place and match.via_old_name:
        return t("join.form.province_place_merged", place=match.via_place, old=match.via_old_name, new=new)
    if match.via_place:
        return t("join.form.province_place", place=match.via_place, new=new)
    if match.via_old_name:
        return t("join.form.province_merged", old=match.via_old_name, new=new)
    return None
