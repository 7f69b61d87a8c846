"""What a message is before which topic it is about: a story's question part, another
country's law, small talk, the province it names.

All functions take folded words (lower-case, diacritic-free, see search.normalize) so
they work the same on "ở Bình Dương" and "o binh duong".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from handlers.join.provinces import (
    all_provinces,
    fold,
    numbered_districts,
    place_marker,
    places_named,
    resolve_province,
)
from handlers.text import written

__all__ = [
    "BACKGROUND_WEIGHT",
    "Part",
    "ProvinceFinder",
    "asks_about_tax",
    "foreign_country",
    "is_small_talk",
    "split_story",
    "without_pleasantries",
]

# The background of a story counts, but less than the question it leads to.
BACKGROUND_WEIGHT = 0.45
STORY_CHARS = 160  # from here a message is read as background + question

# Phrases that mark the question of a story (folded). "?" marks it too.
_ASK_MARKERS = (
    "cho hoi",
    "xin hoi",
    "cho em hoi",
    "cho toi hoi",
    "cho minh hoi",
    "cho chau hoi",
    "em muon hoi",
    "toi muon hoi",
    "muon hoi",
    "xin tu van",
    "nho tu van",
    "tu van giup",
    "phai lam sao",
    "lam sao",
    "lam the nao",
    "the nao",
    "nhu the nao",
    "ra sao",
    "bao nhieu",
    "bao lau",
    "khi nao",
    "o dau",
    "co duoc khong",
    "duoc khong",
    "co phai",
    "hay khong",
    "hay ko",
    "dung khong",
    "dung ko",
    "co dung",
    "khong a",
    "ko a",
    "vay thi",
    "vay em",
    "vay toi",
    "vay co",
    "liệu",
    "lieu",
    "xin hoi",
    "can lam gi",
    "what",
    "how",
    "can i",
    "do i",
    "is it",
    "am i",
    "should i",
    "will i",
    "where",
    "when",
    "which",
    "who",
)
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s*|(?<=\?)")


@dataclass(frozen=True, slots=True)
class Part:
    text: str  # as typed
    weight: float  # 1 for the question, BACKGROUND_WEIGHT for the story around it


def split_story(text: str) -> list[Part]:
    """The message as weighted parts: question sentences weigh 1, the rest less.

    A short message is all question. In a long one, the sentences with a question mark
    or a question phrase ("cho hỏi", "phải làm sao", "bao nhiêu", "có được … không");
    if none has one, the last sentence. Inside a run-on sentence the question starts
    at "cho em hỏi"/"xin hỏi"/"vậy".
    """
    text = text.strip()
    if len(text) < STORY_CHARS:
        return [Part(text, 1.0)] if text else []
    # A question pasted twice is read once.
    sentences = list(dict.fromkeys(s.strip() for s in _SENTENCE.split(text) if s and s.strip()))
    asks = [i for i, s in enumerate(sentences) if _is_question(s)]
    if not asks:
        asks = [len(sentences) - 1]
    parts: list[Part] = []
    for i, sentence in enumerate(sentences):
        if i not in asks:
            parts.append(Part(sentence, BACKGROUND_WEIGHT))
            continue
        lead, ask = _cut_at_marker(sentence)
        if lead:
            parts.append(Part(lead, BACKGROUND_WEIGHT))
        parts.append(Part(ask, 1.0))
    return parts


def _is_question(sentence: str) -> bool:
    if "?" in sentence:
        return True
    padded = f" {_quick_fold(sentence)} "
    return any(f" {m} " in padded for m in _ASK_MARKERS)


class _FoldTable(dict[int, str]):
    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch in "đĐ":
            out = "d"
        elif ch.isalnum():
            out = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c)).lower()
        else:
            out = " "
        self[code] = out
        return out


_FOLD_TABLE = _FoldTable()


def _quick_fold(text: str) -> str:
    """provinces.fold, one table look-up per character (stories are long)."""
    return " ".join(text.translate(_FOLD_TABLE).split())


_LEADS = (
    "cho em hoi",
    "cho toi hoi",
    "cho minh hoi",
    "cho chau hoi",
    "cho hoi",
    "xin hoi",
    "em muon hoi",
    "toi muon hoi",
    "vay thi",
    "vay em",
    "vay toi",
    "vay co",
)


def _cut_at_marker(sentence: str) -> tuple[str, str]:
    """Split a long sentence where its question starts: ("lead", "question")."""
    if len(sentence) < STORY_CHARS:
        return "", sentence
    words = sentence.split()
    folded = [_quick_fold(w) for w in words]
    for i in range(len(words)):
        for lead in _LEADS:
            n = len(lead.split())
            if " ".join(folded[i : i + n]) == lead and i > 3:
                return " ".join(words[:i]), " ".join(words[i:])
    return "", sentence


# --- other countries ---------------------------------------------------------------------

# Folded names. Some fold onto Vietnamese words ("lao" in lao động, "han" in thời hạn,
# "nhat" in ít nhất, "phap" in pháp luật, "duc", "uc", "my"): those count only after a
# word that introduces a place ("ở", "sang", "nước", "bên") or in an unambiguous pair.
_COUNTRIES_ANYWHERE = (
    "thai lan",
    "han quoc",
    "nhat ban",
    "dai loan",
    "malaysia",
    "ma lai",
    "singapore",
    "trung quoc",
    "campuchia",
    "cam pu chia",
    "philippines",
    "philippin",
    "indonesia",
    "an do",
    "ha lan",
    "ba lan",
    "rumani",
    "romania",
    "hungary",
    "slovakia",
    "a rap",
    "chau au",
    "thailand",
    "thai",
    "korea",
    "korean",
    "japan",
    "japanese",
    "taiwan",
    "taiwanese",
    "malaysian",
    "china",
    "chinese",
    "cambodia",
    "laos",
    "india",
    "indian",
    "germany",
    "german",
    "france",
    "french",
    "australia",
    "australian",
    "canada",
    "canadian",
    "usa",
    "america",
    "american",
    "uk",
    "britain",
    "british",
    "england",
    "europe",
    "european",
    "russia",
    "dubai",
    "saudi",
    "qatar",
    "israel",
    "poland",
    "philippine",
    "indonesian",
    "singaporean",
    "nga",
    "arab",
)
# Folded names that are also Vietnamese words: "mang thai", "ngã", "lao động nước ngoài"
# (foreign workers in Vietnam), "mà lại" (Mã Lai), "ăn đồ" (Ấn Độ) count only after a
# place word in Vietnamese text.
_NEED_PLACE_VI = frozenset({"nga", "nuoc ngoai", "uk", "india", "indian", "ma lai", "an do"})
_ENGLISH_ONLY = frozenset({"thai"})  # "mang thai" (pregnant) in Vietnamese
_GOING_ABROAD = frozenset({"o", "ra", "sang", "di"})
_COUNTRIES_AFTER_PLACE = ("lao", "han", "nhat", "phap", "duc", "uc", "my", "hq", "nb", "tq")
# "xkld" (xuất khẩu lao động, going abroad to work) before a name is a place too.
_PLACE_WORDS = frozenset({"o", "sang", "nuoc", "ben", "tai", "di", "xu", "ra", "xkld", "in", "to", "of"})
# Before a folded name in Vietnamese text, the English place words are Vietnamese ones:
# "tổ hàn" (the welding team), "tổ mà lại" (the team, yet), "in" (print), not "to Korea".
_PLACE_WORDS_VI = _PLACE_WORDS - {"in", "to", "of"}
# "công ty Hàn Quốc", "chủ người Nhật", "a Korean company": a foreign employer in Vietnam
# is a question about Vietnamese law.
_EMPLOYER_WORDS = frozenset(
    {
        "ty",
        "cty",
        "chu",
        "sep",
        "nguoi",
        "nghiep",
        "von",
        "fdi",
        "xuong",
        "nha",
        "company",
        "employer",
        "boss",
        "firm",
        "factory",
        "manager",
        "owner",
        "doanh",
    }
)


def foreign_country(words: list[str], lang: str = "vi") -> str | None:
    """The foreign country a question asks about, or None (folded words in)."""
    text = " " + " ".join(words) + " "
    for name in _COUNTRIES_ANYWHERE:
        start = text.find(f" {name} ")
        while start != -1:
            before = (text[:start].split()[-1:] or [""])[0]
            after = (text[start + len(name) + 2 :].split()[:1] or [""])[0]
            employer = before in _EMPLOYER_WORDS or (lang == "en" and after in _EMPLOYER_WORDS)
            needs_place = lang == "vi" and name in _NEED_PLACE_VI
            places = _GOING_ABROAD if name == "nuoc ngoai" else _PLACE_WORDS_VI
            if not employer and (not needs_place or before in places) and not (lang == "vi" and name in _ENGLISH_ONLY):
                return name
            start = text.find(f" {name} ", start + 1)
    if lang == "vi":
        for i, w in enumerate(words):
            if w in _COUNTRIES_AFTER_PLACE and i and words[i - 1] in _PLACE_WORDS_VI:
                if i + 1 < len(words) and words[i + 1] in ("dong", "quoc", "luat", "ly"):
                    continue  # "sang lao dong", "ra luat"
                return w
    return None


# --- subjects the knowledge base leaves out --------------------------------------------------

# Personal income tax (on wages, Tết bonuses, severance) is the tax office's law, not the
# labour law the fact sheets cover: a labour answer to "is my Tết bonus taxed?" is a wrong
# answer given with confidence. Folded phrases: a bare "thue" is also "thuê" (to hire, to
# rent: "công ty thuê em", "tiền thuê nhà"), so without diacritics it takes a verb or a
# noun that only tax has.
_TAX_PHRASES = (
    "thue thu nhap",
    "thue tncn",
    "tncn",
    "dong thue",
    "nop thue",
    "tinh thue",
    "chiu thue",
    "bi thue",
    "danh thue",
    "mien thue",
    "quyet toan thue",
    "hoan thue",
    "ma so thue",
    "khau tru thue",
    "tru thue",
    "giam tru gia canh",
    "income tax",
    "tax",
    "taxes",
    "taxed",
    "taxable",
)


def asks_about_tax(text: str) -> bool:
    """Whether the question part of `text` asks about tax (a story's background may name
    it: "45% of my pay after insurance and income tax" is a question about deductions)."""
    for part in split_story(text):
        if part.weight < 1.0:
            continue
        typed = f" {written(part.text)} "
        if " thuế " in typed:
            return True
        folded = f" {fold(part.text)} "
        if typed != folded:
            # Typed with diacritics, so a "thue" here is "thuê" (hiring, rent); the phrases
            # still catch "tncn" and English.
            folded = folded.replace(" thue ", " ")
        if any(f" {p} " in folded for p in _TAX_PHRASES):
            return True
    return False


# --- a question opened with thanks or a greeting ------------------------------------------

_PLEASANTRIES = ("cam on", "xin chao", "chao", "thank you", "thanks", "hello", "hi", "alo")
# Who is thanked or greeted, and politeness around it ("cảm ơn anh nhiều ạ, ...").
_ADDRESSED = frozenset("anh chi em ban a ah nhieu ad admin co chu bac you so much very nha nhe".split())
PLEASANTRY_REST_MIN_WORDS = 3


def without_pleasantries(text: str) -> str | None:
    """The question after an opening thanks or greeting ("cảm ơn anh, vậy em gửi đơn ở
    đâu ạ" -> "vậy em gửi đơn ở đâu ạ"), or None when the message opens with none or is
    little more than one."""
    tokens = text.split()
    folded = [fold(t) for t in tokens]
    start = next((len(p.split()) for p in _PLEASANTRIES if folded[: len(p.split())] == p.split()), 0)
    if not start:
        return None
    while start < len(tokens) and folded[start] in _ADDRESSED:
        start += 1
    rest = " ".join(tokens[start:]).lstrip(",.!;:- ")
    return rest if len(rest.split()) >= PLEASANTRY_REST_MIN_WORDS else None


# --- small talk -----------------------------------------------------------------------------

_SMALL_TALK = (
    "ban la ai",
    "ban ten gi",
    "ban khoe khong",
    "ban khoe ko",
    "khoe khong",
    "an com chua",
    "ngu ngon",
    "chuc ngu ngon",
    "chao buoi sang",
    "chao ban",
    "xin chao",
    "hello",
    "hi",
    "alo",
    "good morning",
    "good night",
    "how are you",
    "who are you",
    "what is your name",
    "thank you",
    "thanks",
    "cam on",
    "ok",
    "oke",
    "okay",
    "hihi",
    "haha",
    "hehe",
    "kkk",
    "yeu ban",
    "i love you",
    "ban co nguoi yeu chua",
    "buon qua",
    "chan qua",
    "test",
    "stop",
    "stop please",
    "please stop",
    "unsubscribe",
    "dung lai",
    "huy",
    "dung",
    "thoi",
)


def is_small_talk(words: list[str]) -> bool:
    """A greeting, thanks or social chat with nothing else in it."""
    text = " ".join(words)
    if text in _SMALL_TALK:
        return True
    rest = f" {text} "
    for phrase in sorted(_SMALL_TALK, key=len, reverse=True):
        rest = rest.replace(f" {phrase} ", " ")
    leftover = [w for w in rest.split() if w not in _FILLERS]
    return not leftover and bool(words)


_GREETINGS = frozenset(
    {"xin chao", "chao ban", "chao buoi sang", "hello", "hi", "alo", "good morning", "ban khoe khong", "ban khoe ko"}
)
_THANKS = frozenset({"cam on", "thank you", "thanks", "ok", "oke", "okay"})


def small_talk_kind(words: list[str]) -> str | None:
    """ "greeting" or "thanks" for a message that is only that (folded words in), else None:
    those get a reply in kind, not "I cannot help with that"."""
    if not is_small_talk(words):
        return None
    rest = f" {' '.join(words)} "
    for kind, phrases in (("greeting", _GREETINGS), ("thanks", _THANKS)):
        if any(f" {p} " in rest for p in phrases):
            return kind
    return None


_FILLERS = frozenset(
    "a ad admin oi nhe nha nhi ha em anh chi ban minh toi shop bot ah you very much so nhieu lam qua".split()
)


# --- provinces -------------------------------------------------------------------------------

_PROVINCE_MARKERS = frozenset(
    {"o", "tai", "tinh", "tp", "thanh", "pho", "in", "at", "kcn", "kcx", "huyen", "quan", "tx", "from", "near", "khu"}
)


class ProvinceFinder:
    """Province ids named in a question: "o binh duong", "tại Bắc Ninh", "in Hanoi".

    A name counts after a place word ("ở", "tại", "tỉnh", "KCN", "in") or when it has
    three syllables or more ("ba ria vung tau"), so that "mang thai binh thuong" is not
    Thái Bình. Old names (before the 2025 merger) resolve to today's unit, and so does a
    former district named after a place word ("kcn yen phong": Bắc Ninh) or a numbered
    one ("em lam o quan 7", "quận 7": Hồ Chí Minh, as `resolve_province` reads them).
    """

    def __init__(self) -> None:
        self._names: dict[tuple[str, ...], str] = {}
        self._accented: dict[tuple[str, ...], set[str]] = {}
        for p in all_provinces():
            for name in (p.name_vi, p.name_en, *p.merged_from, *p.aliases):
                key = tuple(fold(name).split())
                if not key or len(" ".join(key)) < 4:
                    continue  # "HN", "TTH": too easily another word
                match = resolve_province(name)
                if match.province is not None and match.province.id == p.id:
                    self._names[key] = p.id
                    low = unicodedata.normalize("NFC", name).lower()
                    if fold(low) != low:
                        self._accented.setdefault(key, set()).add(low)
        self._longest = max(len(k) for k in self._names)
        # Former districts ("o thuan an", "kcn yen phong") count only after a place word:
        # a district's name is two common syllables far more often than a place. One that
        # is also an everyday phrase ("que vo", "nha be") only after a place's kind, or
        # typed with its own diacritics.
        self._places = {tuple(k.split()): named for k, named in places_named().items()}
        self._longest_place = max((len(k) for k in self._places), default=0)

    def find(self, words: list[str], accented: str = "") -> str | None:
        low = unicodedata.normalize("NFC", accented).lower()
        for i in range(len(words)):
            for n in range(self._longest, 0, -1):
                key = tuple(words[i : i + n])
                if len(key) < n:
                    continue
                pid = self._names.get(key)
                if pid is None:
                    continue
                before = words[i - 1] if i else ""
                # Typed with its diacritics ("Đồng Nai"), the name is the province's.
                typed = any(name in low for name in self._accented.get(key, ()))
                if before in _PROVINCE_MARKERS or n >= 3 or typed:
                    return pid
        # A numbered district names its own kind ("quận 7"), so it is read by its own rules
        # (`numbered_districts`), not only after a place word; the first place typed wins,
        # named or numbered, as in `resolve_province`.
        numbered = numbered_districts(accented or " ".join(words))
        as_written = ""
        for i in range(1, len(words)):
            if numbered and numbered[0][0] < i:
                return numbered[0][1]
            marker = place_marker(words, i)
            if not marker:
                continue
            for n in range(self._longest_place, 0, -1):
                named = self._places.get(tuple(words[i : i + n]))
                if named is None:
                    continue
                pid, counts = named
                # "ở Dĩ An" typed so is the place; "o di an", "ở quê vợ" are not.
                as_written = as_written or f" {written(accented)} "
                if counts(marker, as_written):
                    return pid
        return numbered[0][1] if numbered else None
