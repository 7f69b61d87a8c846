"""Find the rights topic a worker is asking about.

Workers type on cheap phones: without diacritics ("luong toi thieu"), with chat
abbreviations ("cty ko dong bhxh"), with typos, sometimes in English. So the engine
matches diacritic-free ("folded") syllables and syllable pairs, expands abbreviations
and slang on both the knowledge base and the query, and corrects one-letter typos
against the knowledge base's own vocabulary. Diacritics are not thrown away: they
decide which words are function words ("có" vs "cơ sở"), and when the query has them,
topics worded with exactly those diacritics win close calls.

Two numbers per topic, for two different questions:

* rank, "which topic is this most likely about": BM25 over everything the topic says
  (its question variants and keywords, its answer at a discount);
* confidence, "is it really about that topic": how much of the question the topic's
  vocabulary explains, blended with the closest single question variant. Words the
  knowledge base has never seen count against it, which is how "giá vàng hôm nay"
  ends up out of scope. This is the 0..1 score the caller sees.

Weights are inverse topic frequencies: a word found in every topic ("lao động") says
little, a word pair found in one ("thai sản") says a lot. A short built-in list of
out-of-scope subjects that share labour words ("bảo hiểm xe máy", "lãi suất tiết
kiệm") competes like a topic; when it explains the question best, it is out of scope.

Everything that depends only on the knowledge base is built once in
`Searcher.__init__`; a query costs a few dictionary look-ups per word.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from handlers.i18n import LANGUAGES
from handlers.rights.context import (
    BACKGROUND_WEIGHT,
    STORY_CHARS,
    ProvinceFinder,
    asks_about_tax,
    foreign_country,
    is_small_talk,
    split_story,
)
from handlers.rights.kb import CueWords, KnowledgeBase
from handlers.rights.model import ENTRY_ARTIFACT, OOS_CLASS, LinearModel, features, load_model
from handlers.rights.vectors import WordVectors, load_vectors

__all__ = [
    "ABBREVIATIONS",
    "ACCENTED_ABBREVIATIONS",
    "CONFIDENT",
    "KINDS",
    "OUT_OF_SCOPE_PHRASES",
    "SearchResult",
    "Searcher",
    "normalize",
]

# --- decision thresholds on the confidence scale (fixed for the engine, never per
# question; the benchmark shows what they do) ---------------------------------------------

ACCEPT = 0.34  # below this, do not guess a topic
SURE = 0.55  # from here the best topic wins even if the runner-up ranks close
CLOSE_CALL = 0.92  # runner-up ranked within 8% and no SURE confidence: let the worker choose
TIE = 0.98  # runner-up ranked within 2%: a generic question ("bhxh"), let the worker choose
SUGGEST = 0.12  # topics below this are not worth offering as suggestions
IN_SCOPE_FLOOR = 0.22  # below this nothing in the knowledge base relates to the question

# --- weighting ------------------------------------------------------------------------

VARIANT_SHARE = 0.55  # confidence: closest question variant vs the topic's whole vocabulary
ANSWER_SHARE = 0.5  # a word found only in a topic's answer counts half
BM25_K1, BM25_B = 1.2, 0.75  # textbook values; accuracy barely moves around them
UNKNOWN_WORD = 0.75  # an unknown word weighs this fraction of the rarest known word
CORRECTED = 0.8  # a typo-corrected word counts a little less than a typed one
NUMBER_FACTOR = 0.5  # numbers mostly describe the worker's case ("làm 3 tháng"), not the topic
# Most Vietnamese words have two syllables; one syllable alone ("cao" of "tố cáo" vs
# "sốt cao") is weaker evidence than a matching pair.
VI_SYLLABLE_FACTOR = 0.7
PAIR_BONUS = 9  # a word pair weighs at most its two words plus this
ACCENT_BONUS = 0.12  # at most +12% rank for matching the query's diacritics exactly
OTHER_LANG = 0.97  # a variant in a language other than the hint counts slightly less
MAX_QUERY_CHARS = 600  # only the start of a pasted text is the question; bounds latency
MAX_TYPO_LEN = 14

# --- text normalisation ------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")
# Old ("hoà", "thoả", "tuỳ") and new ("hòa", "thỏa", "tùy") tone placement are both
# common; move the tone of a final oa/oe/uy to its first vowel so they compare equal.
_OLD_TONE = re.compile(r"(o)([àáảãạ])$|(o)([èéẻẽẹ])$|((?<!q)u)([ỳýỷỹỵ])$")
_TONE_MARKS = "\u0300\u0301\u0309\u0303\u0323"


class _FoldTable(dict[int, str]):
    """str.translate table filled lazily: one dict hit per character after the first."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch in "đĐ":
            folded = "d"
        else:
            decomposed = unicodedata.normalize("NFD", ch)
            folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def _fold(text: str) -> str:
    return text.translate(_FOLD)


def _retone(word: str) -> str:
    match = _OLD_TONE.search(word)
    if not match:
        return word
    first, second = (g for g in match.groups() if g is not None)
    decomposed = unicodedata.normalize("NFD", second)
    tone = "".join(c for c in decomposed if c in _TONE_MARKS)
    base = "".join(c for c in decomposed if c not in _TONE_MARKS)
    return word[: match.start()] + unicodedata.normalize("NFC", first + tone) + base


def _words(text: str) -> list[str]:
    """NFC, lower-case, punctuation to spaces, one tone placement; keeps diacritics."""
    text = unicodedata.normalize("NFC", text).lower()
    return [_retone(w) for w in _NON_WORD.split(text) if w]


def normalize(text: str) -> str:
    """Lower-case, diacritic-free, punctuation-free: "Lương tối-thiểu!" -> "luong toi thieu"."""
    return " ".join(_fold(w) for w in _words(text))


@dataclass(frozen=True, slots=True)
class _Token:
    folded: str
    accented: str  # as typed (normalised); equals `folded` when typed without diacritics
    weight: float = 1.0  # < 1 for typo-corrected words
    # The reading of an ambiguous folded word ("tre": "trễ" or "trẻ"), from its
    # diacritics or, typed without them, from its neighbours; "" when undecided.
    sense: str = ""


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for w in _words(text):
        folded = _fold(w)
        if folded == w and w.isascii():
            w = folded = _stem(w)
        tokens.append(_Token(folded, w))
    return tokens


_VOWELS = frozenset("aeiou")


def _stem(word: str) -> str:
    """Crude English suffix stripping so "holidays", "fired", "striking" meet their base.

    Safe on diacritic-free Vietnamese: no Vietnamese syllable ends in -s, -ed or -ing.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix, min_len in (("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= min_len:
            base = word[: -len(suffix)]
            # A single vowel then a single consonant lost its silent e: fir(e)d,
            # strik(e)ing; not need-ed, work-ed, wait-ed.
            if base[-1] not in _VOWELS and base[-1] not in "wxy" and base[-2] in _VOWELS and base[-3] not in _VOWELS:
                return base + "e"
            return base
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _has_diacritics(tokens: Iterable[_Token]) -> bool:
    return any(t.accented != t.folded for t in tokens)


# --- abbreviations, slang, stop words -----------------------------------------------------

# Keys are written with their diacritics and match a typed word with the same diacritics
# or with none: "nghi de" and "nghỉ đẻ" become maternity words, "nghỉ để" (rest in order
# to) does not. Both the knowledge base and the query are expanded, so a variant
# written "tăng ca" meets a query "làm thêm giờ" and the other way round.
ABBREVIATIONS: dict[str, str] = {
    "bhxh": "bảo hiểm xã hội",
    "bhyt": "bảo hiểm y tế",
    "bhtn": "bảo hiểm thất nghiệp",
    "bh": "bảo hiểm",
    "hđlđ": "hợp đồng lao động",
    "hđ": "hợp đồng",
    "cđcs": "công đoàn cơ sở",
    "cđ": "công đoàn",
    "kpcđ": "kinh phí công đoàn",
    "lđlđ": "liên đoàn lao động",
    "tlđ": "tổng liên đoàn lao động",
    "nlđ": "người lao động",
    "nsdlđ": "người sử dụng lao động",
    "lđ": "lao động",
    "tnlđ": "tai nạn lao động",
    "atvslđ": "an toàn vệ sinh lao động",
    "atlđ": "an toàn lao động",
    "tưlđtt": "thỏa ước lao động tập thể",
    "tctn": "trợ cấp thất nghiệp",
    "kcn": "khu công nghiệp",
    "kcx": "khu chế xuất",
    "cty": "công ty",
    "cti": "công ty",
    "ko": "không",
    "k": "không",
    "kh": "không",
    "hok": "không",
    "hem": "không",
    "khg": "không",
    "kô": "không",
    "dc": "được",
    "đc": "được",
    "j": "gì",
    "ji": "gì",
    "trc": "trước",
    "trk": "trước",
    "lm": "làm",
    "ng": "người",
    "nv": "nhân viên",
    "vs": "với",
    "bnhieu": "bao nhiêu",
    "bnhiu": "bao nhiêu",
    "nhiu": "nhiêu",
    "bít": "biết",
    "wa": "quá",
    "sếp": "người sử dụng lao động",
    "tăng ca": "làm thêm giờ",
    "ot": "làm thêm giờ",
    "over time": "overtime",
    "nghỉ đẻ": "nghỉ thai sản",
    "nghỉ sinh": "nghỉ thai sản",
    "nghỉ bầu": "nghỉ thai sản",
    "vợ đẻ": "vợ sinh con",
    "sinh đẻ": "sinh con",
    "ts": "thai sản",
    "có bầu": "mang thai",
    "mang bầu": "mang thai",
    "đang bầu": "đang mang thai",
    "bà bầu": "phụ nữ mang thai",
    "đuổi việc": "sa thải",
    "bị đuổi": "bị sa thải",
    "lương cb": "lương cơ bản",
    "lcb": "lương cơ bản",
    "ltt": "lương tối thiểu",
    "lương tt": "lương tối thiểu",
    "nghĩ việc": "nghỉ việc",
    # Digits and words both occur ("1 lần", "một lần"); one spelling keeps the pair.
    "một": "1",
    # Colloquial synonyms: "12 tiếng" is 12 hours; marrying is "lấy chồng", "cưới".
    "tiếng": "giờ",
    "trẻ em": "trẻ chưa thành niên",
    "con nít": "trẻ chưa thành niên",
    "lấy chồng": "kết hôn",
    "lấy vợ": "kết hôn",
    "cưới vợ": "kết hôn",
    "cưới chồng": "kết hôn",
    "đám cưới": "kết hôn",
    # English: everyday words onto the ones the knowledge base uses.
    "boss": "employer",
    "fired": "dismissed",
    "sacked": "dismissed",
    "laid off": "layoff",
    "salary": "wage",
    "quit": "resign",
    "paid": "pay",
    "company": "employer",
    "pregnant": "pregnancy",
    "injured": "injury",
    "hurt": "injury",
    # Courtesies carry no topic ("Cảm ơn người lao động" is a programme name, but a
    # bare "cảm ơn" is a worker saying thanks).
    "cảm ơn": "",
    "cám ơn": "",
    "xin chào": "",
    "chào": "",
}
# A key whose diacritic-free form is a common word ("de": để, "cuoi": cuối) would expand
# the wrong word in diacritic-free text, so these apply only when typed with diacritics.
ACCENTED_ABBREVIATIONS: dict[str, str] = {
    "đẻ": "sinh con",
    "cưới": "kết hôn",
    "hông": "không",
    "đươc": "được",
}

# Function words. With diacritics a word is judged as typed: "có" is a stop word, "cơ"
# (cơ sở) is not; "cần" is, "cân" (giảm cân) is not. Without diacritics only the folded
# form is left, so folded forms that are also common labour syllables stay content
# words: toi (tối thiểu), hoi (xã hội), dau (ốm đau), thoi (thời hạn), chi (chi trả),
# the (thẻ), da (da giày), dang (đăng ký), van (văn bản), cung (cung cấp), chu (chủ
# nhật), moi (mỗi tháng), ban (bản), con (con ốm), do (chế độ), ho (hỗ trợ), vao (vào
# công đoàn), may (máy, may mặc), lam (làm), qua (quà), de (chủ đề), vi (vi phạm),
# vang (vàng), day (dạy nghề), nua (nửa tháng).
VI_STOP_WORDS: frozenset[str] = frozenset(
    """
a à ạ á ah ơi nhé nha nhỉ hả hở vậy thế đấy đó em anh chị tôi tui mình bạn họ ad admin
mn có cho được bị là thì mà của và với những các này gì sao nào như nhiêu lâu rồi sẽ đã
đang nếu khi ở phải cần hỏi xin biết giúp vui lòng dùm giùm ok oke hi hello uh ừ đúng
sai ai đâu luôn thôi ra lên cũng vẫn còn hay không vào mấy nhiều rất lắm quá nên để vì
nữa đây kia dạ vâng
""".split()
)
_AMBIGUOUS_FOLDED = frozenset(
    "toi hoi dau thoi chi the da dang van cung chu moi ban con do ho vao may lam qua de vi vang day nua".split()
)
VI_STOP_FOLDED: frozenset[str] = frozenset({_fold(w) for w in VI_STOP_WORDS} - _AMBIGUOUS_FOLDED)
# English stop words apply to English text only: "that", "an", "am", "to", "me" are
# also folded Vietnamese syllables (thất nghiệp, an toàn, âm lịch, tờ, mẹ).
EN_STOP_WORDS: frozenset[str] = frozenset(
    """
i me my mine we our you your he she it its they them their is am are was were be been
being do does did have has had a an the and or but if of to in on at for with about
from by as what which who whom how when where why can could should would will shall
might must this that these those there here than then too very just any some get got
please thanks thank know want need tell into up
""".split()
)
# The employer is usually the sentence subject ("công ty nợ lương", "cty bắt làm"):
# the pair its last syllable forms with the next word ("ty no") is grammar, not a term.
_SUBJECT_NOUNS = frozenset({("cong", "ty"), ("doanh", "nghiep")})


def _is_stop(tok: _Token, lang: str) -> bool:
    if lang == "en":
        return tok.folded in EN_STOP_WORDS
    if tok.accented != tok.folded:
        return tok.accented in VI_STOP_WORDS
    return tok.folded in VI_STOP_FOLDED


def _features(tokens: Sequence[_Token], lang: str, *, accented: bool = False) -> set[str]:
    """Content words and adjacent pairs of content words, folded or as typed.

    A pair with a stop word in it ("luong thi", "make me") is rare only by accident of
    phrasing, and rarity is what the weights reward, so such pairs are left out.
    """
    words = [t.accented if accented else t.folded for t in tokens]
    content = [not _is_stop(t, lang) for t in tokens]
    feats = {
        w if not t.sense or accented else f"{w}|{t.sense}"
        for w, t, keep in zip(words, tokens, content, strict=True)
        if keep
    }
    for i in range(len(words) - 1):
        if not (content[i] and content[i + 1]):
            continue
        if i and (tokens[i - 1].folded, tokens[i].folded) in _SUBJECT_NOUNS:
            continue
        feats.add(f"{words[i]} {words[i + 1]}")
    return feats


# Subjects outside the bot's remit that share words with labour questions, plus the
# everyday subjects people send to any chatbot. They compete like a topic, so "mua bảo
# hiểm xe máy" goes here instead of being answered as social insurance.
OUT_OF_SCOPE_PHRASES: dict[str, tuple[str, ...]] = {
    "vi": (
        "thời tiết hôm nay",
        "dự báo thời tiết mưa nắng",
        "bão lũ áp thấp nhiệt đới",
        "giá vàng hôm nay",
        "giá vàng sjc nhẫn",
        "tỷ giá đô la ngoại tệ",
        "giá xăng dầu",
        "chứng khoán cổ phiếu",
        "tiền ảo tiền điện tử coin",
        "giá nông sản lúa gạo cà phê",
        "lãi suất tiết kiệm ngân hàng",
        "vay tiền ngân hàng vay tín chấp trả góp",
        "mua bảo hiểm xe máy ô tô",
        "bảo hiểm nhân thọ",
        "thuế thu nhập cá nhân quyết toán thuế",
        "kết quả bóng đá trận đấu",
        "đội tuyển bóng đá lịch thi đấu tỷ số",
        "xổ số kết quả xổ số",
        "vietlott trúng số",
        "xem bói tử vi phong thủy",
        "cung hoàng đạo",
        "công thức nấu ăn món ngon",
        "cách nấu món",
        "làm bánh",
        "trồng rau cây cảnh",
        "phim hay ca sĩ bài hát nhạc",
        "trò chơi game",
        "mạng xã hội facebook tiktok zalo",
        "mật khẩu tài khoản điện thoại máy tính cài đặt",
        "mua điện thoại laptop giá rẻ",
        "giảm cân làm đẹp",
        "chữa bệnh thuốc uống đau đầu sốt ho",
        "người yêu tình yêu chia tay",
        "ly hôn kết hôn đăng ký",
        "sổ đỏ đất đai mua bán nhà",
        "thuê nhà trọ phòng trọ",
        "vi phạm giao thông phạt nguội đèn đỏ",
        "bằng lái xe học lái xe",
        "đăng ký xe biển số",
        "căn cước công dân hộ chiếu",
        "visa du lịch",
        "tuyển sinh học sinh thi đại học",
    ),
    "en": (
        "weather forecast rain",
        "gold price",
        "exchange rate dollar",
        "stock market crypto bitcoin",
        "football match score",
        "lottery results",
        "horoscope",
        "recipe cooking food",
        "movie song music",
        "tourist visa travel",
        "phone price buy",
        "weight loss diet",
    ),
}
_OOS = "__out_of_scope__"  # pseudo-topic id of the list above


KINDS = ("answer", "unsure", "clarify", "out_of_scope", "foreign_law", "tax", "chitchat", "empty")
CONFIDENT = 0.8  # from here an answer needs no hand-off offer next to it
RELATED_BUTTONS = 2  # second-topic and runner-up buttons under an answer, together
# Below this an answer also offers its runner-up topic. Out of fold on the tuning split
# (bench/bench_rights_oof.py), within one tap for real stories | short questions: none
# 96.2% | 98.2%; below 0.90 97.4% | 98.3%, the button under 36% | 9% of answers; below
# 0.95 97.4% | 98.6%, under 60% | 20%: the same reach for stories at twice the clutter.
RUNNER_UP_BELOW = 0.90
CHOICES = 3  # topic buttons when the bot is unsure of a short question
STORY_CHOICES = 4  # ...and of a story, whose readings spread wider (out of fold, tuning split:
# the right topic is among the first three for 95.4% of real stories, the first four 97.2%)


@dataclass(frozen=True, slots=True)
class SearchResult:
    topic: str | None  # None: no confident match; do not answer with a topic
    score: float  # 0..1 lexical confidence of the best-ranked in-scope topic
    suggestions: list[str] = field(default_factory=list)  # up to 3 (a story: 4) closest topic ids
    out_of_scope: bool = False  # the question is about something else entirely
    entry: str | None = None  # the specific entry to answer with; None: the topic answer
    confidence: float = 0.0  # calibrated probability that `topic` is right
    # "answer" | "unsure" | "clarify" | "out_of_scope" | "foreign_law" | "tax" | "chitchat" | "empty"
    kind: str = ""
    lang: str = "vi"  # the language the question is written in
    clarify: list[str] = field(default_factory=list)  # kind "clarify": one topic per reading
    also: list[str] = field(default_factory=list)  # a second topic/entry the story touches
    province: str | None = None  # province id named in the question

    def __post_init__(self) -> None:
        if not self.kind:  # old callers: derive the kind from topic / out_of_scope
            kind = "answer" if self.topic is not None else "out_of_scope" if self.out_of_scope else "unsure"
            object.__setattr__(self, "kind", kind)
        if self.kind in ("out_of_scope", "foreign_law", "tax", "chitchat") and not self.out_of_scope:
            object.__setattr__(self, "out_of_scope", True)

    @property
    def confident(self) -> bool:
        """An answer that needs no hand-off offer next to it."""
        return self.kind == "answer" and self.confidence >= CONFIDENT

    @property
    def other_guesses(self) -> list[str]:
        """Topics offered as buttons beside an answer that is not sure: the runner-up
        guesses the second-topic button does not already offer (below CONFIDENT as
        many as fit, below RUNNER_UP_BELOW one)."""
        if self.kind != "answer" or self.confidence >= RUNNER_UP_BELOW:
            return []
        room = RELATED_BUTTONS - len(self.also)
        if self.confident:
            room = min(1, room)
        taken = {self.topic, *self._also_topics()}
        return [t for t in self.suggestions if t not in taken][: max(0, room)]

    def offered(self) -> set[str]:
        """Every topic one tap away in the reply the chat builds from this result."""
        if self.kind == "answer":
            return {t for t in (self.topic, *self._also_topics(), *self.other_guesses) if t}
        if self.kind == "clarify":
            return set(self.clarify[:2])
        return set(self.suggestions)

    def _also_topics(self) -> list[str]:
        # `also` holds topic ids and entry ids; an entry id starts with its topic's.
        return [a.split(".")[0] for a in self.also]


@dataclass(frozen=True, slots=True)
class _Entry:
    topic: str  # the document id: a topic id, an entry id or a pseudo-topic
    lang: str
    tokens: list[_Token]


# Pseudo-topics of everyday subjects: they win over labour topics on "kết quả bóng đá".
_CHAT_PHRASES = frozenset(
    {
        "thời tiết hôm nay",
        "dự báo thời tiết mưa nắng",
        "bão lũ áp thấp nhiệt đới",
        "kết quả bóng đá trận đấu",
        "đội tuyển bóng đá lịch thi đấu tỷ số",
        "xổ số kết quả xổ số",
        "vietlott trúng số",
        "xem bói tử vi phong thủy",
        "cung hoàng đạo",
        "công thức nấu ăn món ngon",
        "cách nấu món",
        "làm bánh",
        "phim hay ca sĩ bài hát nhạc",
        "trò chơi game",
        "người yêu tình yêu chia tay",
        "weather forecast rain",
        "football match score",
        "lottery results",
        "horoscope",
        "recipe cooking food",
        "movie song music",
    }
)
_CHAT = "__chitchat__"
_CLAUSE = re.compile(r"[,;:()\n]+")
_PSEUDO = (_OOS, _CHAT)

# Folded syllables with several common readings (issue 9): matching keeps the reading
# when the context tells it, and otherwise matches every reading.
AMBIGUOUS_SYLLABLES: frozenset[str] = frozenset("tre vo dung bau luong no chui giam tru phat cuoi mang sep".split())
# Domain pairs no variant happens to spell out: (folded neighbour before, folded word)
# or (folded word, folded neighbour after) -> reading. They join the pairs learned from
# the knowledge base's own diacritic text.
DOMAIN_READINGS: dict[tuple[str, str], tuple[str, str]] = {
    # (folded left, folded right) -> (reading of left, reading of right); "" = not ambiguous
    ("vo", "cong"): ("vô", ""),
    ("vo", "doan"): ("vô", ""),
    ("muon", "vo"): ("", "vô"),
    ("xin", "vo"): ("", "vô"),
    ("vo", "lam"): ("vô", ""),
    ("vo", "ca"): ("vô", ""),
    ("vo", "cty"): ("vô", ""),
    ("vo", "cdcs"): ("vô", ""),
    ("vo", "sinh"): ("vợ", ""),
    ("vo", "de"): ("vợ", ""),
    ("vo", "toi"): ("vợ", ""),
    ("vo", "mang"): ("vợ", "mang"),
    ("hay", "tre"): ("", "trễ"),
    ("di", "tre"): ("", "trễ"),
    ("lam", "tre"): ("", "trễ"),
    ("den", "tre"): ("", "trễ"),
    ("tre", "gio"): ("trễ", ""),
    ("tre", "ngay"): ("trễ", ""),
    ("tre", "han"): ("trễ", ""),
    ("luong", "tre"): ("lương", "trễ"),
    ("lg", "tre"): ("", "trễ"),
    ("tra", "tre"): ("", "trễ"),
    ("tre", "em"): ("trẻ", ""),
    ("tre", "vi"): ("trẻ", ""),
    ("chui", "mang"): ("chửi", "mắng"),
    ("bi", "chui"): ("", "chửi"),
    ("chui", "boi"): ("chửi", ""),
    ("mang", "em"): ("mắng", ""),
    ("la", "mang"): ("", "mắng"),
    ("giam", "luong"): ("giảm", "lương"),
    ("tru", "luong"): ("trừ", "lương"),
    ("tru", "tien"): ("trừ", ""),
    ("bi", "tru"): ("", "trừ"),
    ("tru", "chuyen"): ("trừ", ""),
    ("phat", "tien"): ("phạt", ""),
    ("bi", "phat"): ("", "phạt"),
    ("co", "bau"): ("", "bầu"),
    ("mang", "bau"): ("mang", "bầu"),
    ("dang", "bau"): ("", "bầu"),
    ("bau", "cu"): ("bầu", ""),
    ("bau", "ban"): ("bầu", ""),
    ("no", "luong"): ("nợ", "lương"),
    ("cty", "no"): ("", "nợ"),
    ("sep", "chui"): ("sếp", "chửi"),
    ("sep", "bat"): ("sếp", ""),
    ("mang", "thai"): ("mang", ""),
}
BACKGROUND_IN_CONFIDENCE = 0.5  # times BACKGROUND_WEIGHT: a story's background in the confidence
CLARIFY_MAX_WORDS = 16
CLARIFY_UNLESS = 0.9  # an answer this sure is not turned into a question about a word
ENTRY_LIFT = 0.92  # a topic is at least this share of its best-matching entry's confidence
ENTRY_ACCEPT = 0.42  # an entry answers the question from this confidence on
ENTRY_MARGIN = 0.04  # ...and this far ahead of the topic's next entry
# With the entry model: its within-topic probability mixed with the lexical confidence
# (relative to the topic's best entry); an entry answers when either opinion is clear.
# Out of fold on the tuning split's 431 real questions with an entry label, the topic
# given: right entry 64.5% at 0.5, 66.1% at 0.35, 67.3% at 0.2, 68.4% at 0.1 and at 0.0
# (0.1 falls back to the topic's answer less often than 0.0).
ENTRY_LEXICAL_SHARE = 0.1
ENTRY_FLOOR = 0.15
ENTRY_MODEL_ACCEPT = 0.35
ALSO_SHARE = 0.55  # a second topic at this share of the first is offered as a button
ALSO_MIN = 0.2
MAX_STORY_CHARS = 4000  # a 4,000-character story is read whole
# The model reads a story's background at this weight (the lexical half at BACKGROUND_WEIGHT):
# out of fold on the tuning split's real questions, top-1 was 75.2% at 0.2, 80.4% at 0.45,
# 82.8% at 0.65, 82.4% at 0.8 and 81.2% at 1.0. The background names the situation.
MODEL_BACKGROUND = 0.7
SENTENCE_CAP = 80  # sentences of a story that are read; bounds latency on pasted pages


class _Index:
    """BM25 rank and a 0..1 confidence over documents (topics, or specific entries)."""

    def __init__(
        self, questions: list[_Entry], keywords: list[_Entry], answers: list[_Entry], vi_only: frozenset[str]
    ) -> None:
        self._vi_only = vi_only
        self._weights: dict[str, float] = {}
        question_feats = [_doc_features(e.tokens, e.lang) for e in questions]
        vocab: dict[str, set[str]] = defaultdict(set)  # doc -> question/keyword features
        accented: dict[str, set[str]] = defaultdict(set)
        tf: dict[str, Counter[str]] = defaultdict(Counter)  # BM25 term counts per doc
        for e, feats in zip(questions, question_feats, strict=True):
            vocab[e.topic] |= feats
            accented[e.topic] |= _features(e.tokens, e.lang, accented=True)
            tf[e.topic].update(feats)
        for e in keywords:
            feats = _doc_features(e.tokens, e.lang)
            vocab[e.topic] |= feats
            accented[e.topic] |= _features(e.tokens, e.lang, accented=True)
            tf[e.topic].update(feats)
        # Answers count at a discount: workers use the answer's words ("nguy cơ",
        # "thời hiệu") without anyone having written a question variant that way.
        answer_only: dict[str, set[str]] = defaultdict(set)
        for e in answers:
            feats = _doc_features(e.tokens, e.lang)
            answer_only[e.topic] |= feats - vocab[e.topic]
            for f in feats:
                # Counter adds the half weight as a float; typeshed types its counts as int.
                tf[e.topic][f] += ANSWER_SHARE  # type: ignore[assignment]

        df: Counter[str] = Counter()
        for tid in tf:
            df.update(vocab[tid] | answer_only[tid])
        n = len(tf)
        self.idf = {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}
        # With only a few dozen topics, a pair of everyday syllables ("nghỉ làm") can be
        # "rare" just because one variant happened to use it. A pair may say more than
        # its two parts, but only by so much.
        for f in [f for f in self.idf if " " in f]:
            a, b = f.split(" ")
            cap = self.idf.get(a, 0.0) + self.idf.get(b, 0.0) + PAIR_BONUS
            self.idf[f] = min(self.idf[f], cap)
        self.unknown_weight = UNKNOWN_WORD * math.log(1 + (n - 0.5) / 1.5)

        # Confidence, part 1: the closest single question variant (cosine).
        self._variant_topic = [e.topic for e in questions]
        self._variant_lang = [e.lang for e in questions]
        self._variant_norm = [math.sqrt(sum(self.weight(f) ** 2 for f in feats)) or 1.0 for feats in question_feats]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, feats in enumerate(question_feats):
            for f in feats:
                postings[f].append(i)
        self._variant_postings = {f: tuple(ids) for f, ids in postings.items()}

        # Confidence, part 2: how much of the query the topic's vocabulary covers.
        coverage: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for tid in tf:
            for f in vocab[tid]:
                coverage[f].append((tid, 1.0))
            for f in answer_only[tid]:
                coverage[f].append((tid, ANSWER_SHARE))
        self._coverage = {f: tuple(ps) for f, ps in coverage.items()}

        # Rank: BM25 with the saturated, length-normalised term frequency precomputed.
        lengths = {tid: sum(c.values()) for tid, c in tf.items()}
        avg_len = sum(lengths.values()) / max(1, len(lengths))
        bm25: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for tid, counts in tf.items():
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[tid] / avg_len)
            for f, c in counts.items():
                bm25[f].append((tid, c * (BM25_K1 + 1) / (c + norm)))
        self._bm25 = {f: tuple(ps) for f, ps in bm25.items()}
        self._accented = {tid: frozenset(fs) for tid, fs in accented.items()}
        self._vectorise()

    def _vectorise(self) -> None:
        """The same numbers as dense arrays, so a query costs one numpy operation per
        feature instead of a Python loop over every variant and document holding it."""
        docs = sorted(set(self._variant_topic) | {d for ps in self._coverage.values() for d, _ in ps})
        self._docs = docs
        col = {d: i for i, d in enumerate(docs)}
        feats = sorted(self.idf)
        self._row = {f: i for i, f in enumerate(feats)}
        self._cov_m = np.zeros((len(feats), len(docs)), dtype=np.float64)
        self._bm_m = np.zeros((len(feats), len(docs)), dtype=np.float64)
        for f, ps in self._coverage.items():
            for d, share in ps:
                self._cov_m[self._row[f], col[d]] += share
        for f, ps in self._bm25.items():
            for d, v in ps:
                self._bm_m[self._row[f], col[d]] += v
        self._post_np = {f: np.asarray(ids, dtype=np.int32) for f, ids in self._variant_postings.items()}
        self._var_doc = np.asarray([col[d] for d in self._variant_topic], dtype=np.int32)
        self._var_norm = np.asarray(self._variant_norm, dtype=np.float64)
        self._var_langs = {lang: np.asarray([vl != lang for vl in self._variant_lang]) for lang in LANGUAGES}

    def weight(self, feature: str) -> float:
        cached = self._weights.get(feature)
        if cached is None:
            factor = NUMBER_FACTOR if any(ch.isdigit() for ch in feature) else 1.0
            if " " not in feature and feature.split("|")[0] in self._vi_only:
                factor *= VI_SYLLABLE_FACTOR
            cached = self._weights[feature] = self.idf[feature] * factor
        return cached

    def query_weights(self, weighted: list[tuple[list[_Token], float, set[str]]], lang: str) -> dict[str, float]:
        """Feature weights of a query made of (tokens, part weight) parts.

        Occurrences add up and saturate as in BM25 (k1), so a word repeated across a
        story counts more, but never without bound, and the story's length divides
        nothing. Background sentences add at most two occurrences' worth, so a pasted
        page cannot drown the question it follows.
        """
        asked: dict[str, float] = defaultdict(float)
        background: dict[str, float] = defaultdict(float)
        typo: dict[str, float] = {}
        for tokens, part_weight, feats in weighted:
            for t in tokens:
                if t.weight < 1.0:
                    typo[t.folded] = min(typo.get(t.folded, 1.0), t.weight)
            into = asked if part_weight >= 1.0 else background
            for f in feats:
                if f not in self.idf and "|" in f:
                    f = f.split("|")[0]  # a reading the knowledge base never uses
                into[f] += part_weight
        weights: dict[str, float] = {}
        for f in asked.keys() | background.keys():
            n = asked.get(f, 0.0) + min(background.get(f, 0.0), BACKGROUND_WEIGHT)
            saturation = n * (BM25_K1 + 1) / (n + BM25_K1)
            if not asked.get(f):
                # For the confidence ("how much of the question does the topic explain")
                # the background's words count a little: a story's details (dates, the
                # factory, what HR said) are not what the worker asks about.
                saturation *= BACKGROUND_IN_CONFIDENCE
            if f in self.idf:
                factor = min(typo.get(p.split("|")[0], 1.0) for p in f.split(" "))
                weights[f] = self.weight(f) * factor * saturation
            elif " " not in f and len(f) >= 3 and not f.isdigit():
                # Unknown words count against the match (that is how "giá vàng" falls out
                # of scope); unknown pairs of known words do not, or every new phrasing
                # would. Very short unknown words are chat shorthand ("mn", "ak").
                weights[f] = self.unknown_weight * saturation
        return weights

    def score(self, weights: dict[str, float], lang: str | None) -> dict[str, tuple[float, float]]:
        """doc -> (rank, confidence)."""
        total = sum(w * w for w in weights.values())
        if total <= 0:
            return {}
        known = [(f, w) for f, w in weights.items() if f in self._row]
        if not known:
            return {}
        rows = [self._row[f] for f, _ in known]
        w = np.asarray([w for _, w in known])
        covered = (w * w) @ self._cov_m[rows]
        rank = w @ self._bm_m[rows]
        dots = np.zeros(len(self._var_doc))
        for f, wf in known:
            ids = self._post_np.get(f)
            if ids is not None:
                dots[ids] += wf * self.weight(f)
        sim = dots / (math.sqrt(total) * self._var_norm)
        if lang in self._var_langs:
            sim = np.where(self._var_langs[lang], sim * OTHER_LANG, sim)
        closest = np.zeros(len(self._docs))
        np.maximum.at(closest, self._var_doc, sim)
        conf = np.minimum(1.0, VARIANT_SHARE * closest + (1 - VARIANT_SHARE) * covered / total)
        hit = np.nonzero((rank > 0) | (closest > 0) | (covered > 0))[0]
        docs = self._docs
        return {docs[i]: (float(rank[i]), float(conf[i])) for i in hit.tolist()}

    def prefer_exact_diacritics(
        self, scores: dict[str, tuple[float, float]], tokens: list[_Token], weights: dict[str, float], lang: str
    ) -> dict[str, tuple[float, float]]:
        """Raise the rank of leading docs by the share of the query matched as typed.

        Only the rank moves, never the confidence: a worker with an accent slip ("nghĩ
        việc" for "nghỉ việc") must not be pushed under the threshold.
        """
        weight_of = {a: weights.get(_fold(a), 0.0) for a in _features(tokens, lang, accented=True)}
        total = sum(w * w for w in weight_of.values())
        if total <= 0:
            return scores
        adjusted = dict(scores)
        leaders = sorted(scores.items(), key=lambda kv: kv[1][0], reverse=True)[:5]
        for tid, (rank, confidence) in leaders:
            feats = self._accented.get(tid, frozenset())
            exact = sum(w * w for a, w in weight_of.items() if a in feats) / total
            adjusted[tid] = (rank * (1 + ACCENT_BONUS * exact), confidence)
        return adjusted


def _doc_features(tokens: Sequence[_Token], lang: str) -> set[str]:
    """A document's features: a word with a known reading also matches the bare word."""
    feats = _features(tokens, lang)
    return feats | {f.split("|")[0] for f in feats if "|" in f}


@dataclass(frozen=True, slots=True)
class _Lexical:
    topics: dict[str, tuple[float, float]]  # topic -> (rank, confidence), pseudo-topics too
    entries: dict[str, float]  # entry id -> confidence
    typed: list[_Token]
    undecided: tuple[str, ...] = ()  # ambiguous syllables whose reading the context left open


@dataclass(frozen=True, slots=True)
class Combined:
    ranked: list[tuple[str, float]]  # class -> combined score, best first (OOS_CLASS too)
    x: list[float]  # calibration inputs
    lexical: dict[str, float]
    best_lexical: float
    pseudo: float


class Searcher:
    """Built once from a KnowledgeBase; `search` is then pure and thread-safe.

    `model` is the learned second opinion (handlers/rights/model.py); by default the
    packaged one, when it was trained for these topics. `model=False` searches with the
    lexical score alone (the training script uses that to fit the combination).
    """

    def __init__(
        self, kb: KnowledgeBase, model: LinearModel | bool | None = True, vectors: WordVectors | bool | None = True
    ) -> None:
        # Word vectors the learned model reads beside the n-grams (vectors.py); a model
        # trained without them simply has no weight for them.
        self._vectors = load_vectors() if vectors is True else (vectors or None)
        self._abbrev = _build_abbreviations(ABBREVIATIONS, ACCENTED_ABBREVIATIONS)
        self._topic_ids = frozenset(kb.topics)
        self._entry_topic = {e.id: e.topic for e in kb.entries.values()}
        self._entry_related = {e.id: e.related for e in kb.entries.values()}
        self._build_senses(kb)

        def entry(doc: str, lang: str, text: str) -> _Entry:
            return _Entry(doc, lang, self._prepare(_tokens(text)))

        questions = [
            entry(t.id, lang, q) for t in kb.topics.values() for lang in LANGUAGES for q in t.questions.get(lang, ())
        ]
        entry_questions = [
            entry(e.topic, lang, q)
            for e in kb.entries.values()
            for lang in LANGUAGES
            for q in e.questions.get(lang, ())
        ]
        pseudo = [
            entry(_CHAT if p in _CHAT_PHRASES else _OOS, lang, p)
            for lang, phrases in OUT_OF_SCOPE_PHRASES.items()
            for p in phrases
        ]

        # Words seen in only one language's questions tell the query's language.
        by_lang: dict[str, set[str]] = defaultdict(set)
        for doc in questions + entry_questions + pseudo:
            by_lang[doc.lang].update(t.folded for t in doc.tokens)
        self._en_only = frozenset(by_lang["en"] - by_lang["vi"])
        self._vi_only = frozenset(by_lang["vi"] - by_lang["en"])

        def keyword_entries(doc: str, texts: Iterable[str]) -> list[_Entry]:
            out = []
            for k in texts:
                typed = _tokens(k)
                out.append(_Entry(doc, self._language(typed, None), self._prepare(typed)))
            return out

        keywords = [k for t in kb.topics.values() for k in keyword_entries(t.id, (*t.keywords, *t.title.values()))]
        answers = [
            entry(t.id, lang, text)
            for t in kb.topics.values()
            for lang in LANGUAGES
            for text in (t.answer.get(lang, ""), t.summary_in(lang) if lang in t.summary else "")
            if text
        ]
        # Entries: their questions also speak for their topic (a topic is everything
        # under it), and they get an index of their own to pick the specific answer.
        self._build_vocabulary(questions + entry_questions + keywords + pseudo)
        # The topic index counts entry questions in each topic's vocabulary and BM25 but
        # not as variants of its own: the entry index compares variants one by one, and
        # twice the variants would double the cost of every query.
        self._topics = _Index(questions + pseudo, keywords + entry_questions, answers, self._vi_only)
        self._entries: _Index | None = None
        if kb.entries:
            e_questions = [
                entry(e.id, lang, q)
                for e in kb.entries.values()
                for lang in LANGUAGES
                for q in e.questions.get(lang, ())
            ]
            e_keywords = [
                k for e in kb.entries.values() for k in keyword_entries(e.id, (*e.keywords, *e.title.values()))
            ]
            e_answers = [
                entry(e.id, lang, e.answer[lang]) for e in kb.entries.values() for lang in LANGUAGES if lang in e.answer
            ]
            self._entries = _Index(e_questions, e_keywords, e_answers, self._vi_only)
        self._provinces = ProvinceFinder()
        # The knowledge base's own wording (a title, a question variant) typed back, e.g.
        # from a button label or a menu: that text's topic or entry, no guessing.
        exact: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
        for t in kb.topics.values():
            for text in (*t.title.values(), *(q for qs in t.questions.values() for q in qs)):
                exact[normalize(text)].add((t.id, None))
        for e in kb.entries.values():
            for text in (*e.title.values(), *(q for qs in e.questions.values() for q in qs)):
                exact[normalize(text)].add((e.topic, e.id))
        self._exact = {k: next(iter(v)) for k, v in exact.items() if len(v) == 1 and len(k.split()) >= 2}
        self._cues = {t.id: CueWords.of(t.cues) for t in kb.topics.values() if t.cues} | {
            e.id: CueWords.of(e.cues) for e in kb.entries.values() if e.cues
        }
        self._excludes = {e.id: CueWords.of((e.excludes,)) for e in kb.entries.values() if e.excludes}
        self._guarded_topics = {e.topic for e in kb.entries.values() if e.cues or e.excludes}
        if model is True:
            model = load_model(kb.topics)
            entry_model = load_model(kb.entries, artifact=ENTRY_ARTIFACT)
        else:
            entry_model = None
        self.model: LinearModel | None = model or None
        self.entry_model: LinearModel | None = entry_model
        for m in (self.model, self.entry_model):
            if m is not None:
                m.predict({})  # builds the dense matrices now, not on a worker's question

    # --- building -------------------------------------------------------------------------

    def _build_senses(self, kb: KnowledgeBase) -> None:
        """Readings of the ambiguous syllables and the neighbours each reading keeps,
        counted in the knowledge base's own text written with diacritics."""
        readings: dict[str, Counter[str]] = defaultdict(Counter)
        context: Counter[tuple[str, str, str]] = Counter()  # (side, neighbour, reading)
        texts: list[str] = []
        for t in kb.topics.values():
            for lang_texts in (t.questions.get("vi", ()), t.keywords):
                texts.extend(lang_texts)
            texts.append(t.answer.get("vi", ""))
            texts.append(t.summary.get("vi", ""))
        for e in kb.entries.values():
            texts.extend(e.questions.get("vi", ()))
            texts.append(e.answer.get("vi", ""))
        for text in texts:
            words = _words(text)
            if not _has_diacritics(_Token(_fold(w), w) for w in words):
                continue
            folded = [_fold(w) for w in words]
            for i, (w, f) in enumerate(zip(words, folded, strict=True)):
                if f not in AMBIGUOUS_SYLLABLES:
                    continue
                readings[f][w] += 1
                if i:
                    context["L", folded[i - 1], w] += 1
                if i + 1 < len(words):
                    context["R", folded[i + 1], w] += 1
        for (left, right), (left_reading, right_reading) in DOMAIN_READINGS.items():
            if right_reading and right in AMBIGUOUS_SYLLABLES:
                context["L", left, right_reading] += 3
                readings[right][right_reading] += 1
            if left_reading and left in AMBIGUOUS_SYLLABLES:
                context["R", right, left_reading] += 3
                readings[left][left_reading] += 1
        self._readings = {f: c for f, c in readings.items() if len(c) >= 1}
        self._sense_context = context

    def _sense(self, tokens: list[_Token], i: int) -> str:
        """The reading of tokens[i] (folded, ambiguous) from its neighbours, or ""."""
        tok = tokens[i]
        readings = self._readings.get(tok.folded)
        if not readings:
            return ""
        if tok.accented != tok.folded:
            return tok.accented
        best, best_score, second = "", 0.0, 0.0
        for reading in readings:
            score = 0.0
            for side, j in (("L", i - 1), ("R", i + 1), ("L", i - 2), ("R", i + 2)):
                if 0 <= j < len(tokens):
                    near = 1.0 if abs(j - i) == 1 else 0.4
                    score += near * math.log1p(self._sense_context.get((side, tokens[j].folded, reading), 0))
            if score > best_score:
                best, best_score, second = reading, score, best_score
            elif score > second:
                second = score
        return best if best_score > 0 and best_score >= 1.5 * second else ""

    def _prepare(self, tokens: list[_Token]) -> list[_Token]:
        """Readings of ambiguous syllables, then abbreviations and slang expanded."""
        if any(t.folded in self._readings for t in tokens):
            tokens = [
                replace(t, sense=self._sense(tokens, i)) if t.folded in self._readings else t
                for i, t in enumerate(tokens)
            ]
        return self._expand(tokens)

    def _build_vocabulary(self, entries: list[_Entry]) -> None:
        """Known words (for typo correction) and known word pairs (for context)."""
        self._vocab: Counter[str] = Counter()
        self._pairs: set[tuple[str, str]] = set()
        for e in entries:
            self._vocab.update(t.folded for t in e.tokens)
            self._pairs.update((a.folded, b.folded) for a, b in pairwise(e.tokens))
        self._deletes: dict[str, set[str]] = defaultdict(set)
        for word in self._vocab:
            if word.isalpha() and 3 <= len(word) <= MAX_TYPO_LEN:
                for d in _deletes(word):
                    self._deletes[d].add(word)

    # --- public ---------------------------------------------------------------------------

    def search(self, text: str, lang: str | None = None) -> SearchResult:
        """Best topic (and specific entry) for `text`; `lang` is the user's language
        setting, a hint only: the question's own words decide its language."""
        text = (text or "")[:MAX_STORY_CHARS]
        words = normalize(text).split()
        typed = _tokens(text[:MAX_QUERY_CHARS])
        qlang = self._language(_tokens(text) if len(text) > MAX_QUERY_CHARS else typed, lang)
        if not any(ch.isalpha() for ch in text) or not words:
            return SearchResult(None, 0.0, [], kind="empty", lang=qlang)
        province = self._provinces.find(words, text)
        if foreign_country(words, qlang):
            return SearchResult(None, 0.0, [], kind="foreign_law", lang=qlang, province=province)
        if asks_about_tax(text):
            return SearchResult(None, 0.0, [], kind="tax", lang=qlang, province=province)
        if is_small_talk(words):
            return SearchResult(None, 0.0, [], kind="chitchat", lang=qlang)

        known = self._exact.get(" ".join(words))
        if known is not None:
            topic, entry = known
            return SearchResult(
                topic, 1.0, [topic], kind="answer", confidence=0.99, entry=entry, lang=qlang, province=province
            )
        lex = self._lexical(text, qlang, lang)
        if lex is None:
            # Nothing the knowledge base knows: another script, a name, random letters.
            return SearchResult(None, 0.0, [], out_of_scope=True, kind="out_of_scope", lang=qlang, province=province)
        result = self._decide_lexical(lex, text) if self.model is None else self._decide_combined(lex, text, words)
        # A story's context and the model settle a word's reading; a short message
        # may leave it open, and then the worker is asked which one they meant.
        if (
            lex.undecided
            and len(words) <= CLARIFY_MAX_WORDS
            and result.kind in ("answer", "unsure")
            and not (result.kind == "answer" and result.confidence >= CLARIFY_UNLESS)
        ):
            readings = self._readings_apart(text, lex.undecided[0], qlang, lang)
            # Both readings must be plausible for the whole message, not just the word.
            if readings is not None and set(readings) <= set(result.suggestions[:3]):
                result = replace(result, topic=None, kind="clarify", clarify=readings, entry=None, also=[])
        return replace(result, lang=qlang, province=province)

    def _readings_apart(self, text: str, word: str, qlang: str, hint: str | None) -> list[str] | None:
        """Two topics when the two common readings of `word` lead to different ones."""
        tops: list[str] = []
        for reading, _ in self._readings[word].most_common(2):
            spelled = re.sub(rf"(?<!\w){word}(?!\w)", reading, text, flags=re.IGNORECASE)
            lex = self._lexical(spelled, qlang, hint)
            if lex is None:
                return None
            best = max(((c, t) for t, (_, c) in lex.topics.items() if t in self._topic_ids), default=(0.0, ""))
            if best[0] < ACCEPT:
                return None
            tops.append(best[1])
        return tops if len(set(tops)) == 2 else None

    def _model_parts(self, text: str) -> list[tuple[str, float]]:
        """The story's parts as typed, each with the weight the learned model gives it."""
        return [
            (part.text, part.weight if part.weight >= 1.0 else MODEL_BACKGROUND)
            for part in split_story(text[:MAX_STORY_CHARS])
        ]

    def model_vector(self, text: str) -> dict[str, float]:
        """What the learned models read: n-grams of the folded text, plus the word vectors."""
        parts = self._model_parts(text)
        vector = features(self._folded(parts))
        if self._vectors is not None:
            vector.update(self._vectors.embed(parts))
        return vector

    def model_text(self, text: str) -> list[tuple[str, float]]:
        """The folded, weighted parts the learned model reads."""
        return self._folded(self._model_parts(text))

    def _folded(self, parts: list[tuple[str, float]]) -> list[tuple[str, float]]:
        out = []
        for raw, weight in parts:
            plain = normalize(raw)
            out.append((plain, weight))
            # The words spelled as the lexical half spells them: slang and abbreviations
            # spelled out ("cty" -> "cong ty"), typos fixed, an ambiguous syllable's
            # reading where its neighbours tell it ("tre" after "lam" -> "trễ"). Unlike
            # the lexical half, the whole sentence (not each clause) is one context and
            # its own language is detected. Out of fold on the tuning split: short
            # questions 91.1% -> 92.1% top-1 (English 87.5% -> 89.4%), real stories
            # 83.0% -> 84.2%.
            typed = _tokens(raw)
            if typed:
                read = self._correct(self._prepare(typed), self._language(typed, None))
                spelled = " ".join(t.sense or t.folded for t in read)
                if spelled != plain:
                    out.append((spelled, weight))
        return out

    # --- the two scores -------------------------------------------------------------------

    def _lexical(self, text: str, qlang: str, hint: str | None) -> _Lexical | None:
        parts = split_story(text)
        if len(parts) > SENTENCE_CAP:  # a pasted page: its questions and its start
            parts = [p for i, p in enumerate(parts) if p.weight >= 1.0 or i < SENTENCE_CAP // 2]
        weighted: list[tuple[list[_Token], float, set[str]]] = []
        typed_all: list[_Token] = []
        for part in parts:
            # Words either side of a comma are not neighbours: "hay trễ, em bị trừ".
            for clause in _CLAUSE.split(part.text):
                typed = _tokens(clause)
                if typed:
                    typed_all.extend(typed)
                    tokens = self._correct(self._prepare(typed), qlang)
                    weighted.append((tokens, part.weight, _features(tokens, qlang)))
        weights = self._topics.query_weights(weighted, qlang)
        if not any(f in self._topics.idf for f in weights):
            return None
        scores = self._topics.score(weights, hint)
        if _has_diacritics(typed_all):
            all_tokens = [t for tokens, _, _ in weighted for t in tokens]
            scores = self._topics.prefer_exact_diacritics(scores, all_tokens, weights, qlang)
        entries: dict[str, float] = {}
        if self._entries is not None:
            e_weights = self._entries.query_weights(weighted, qlang)
            entries = {eid: c for eid, (_, c) in self._entries.score(e_weights, hint).items()}
            lifted = dict(scores)
            for eid, conf in entries.items():
                tid = self._entry_topic[eid]
                rank, own = lifted.get(tid, (0.0, 0.0))
                if ENTRY_LIFT * conf > own:
                    lifted[tid] = (rank, ENTRY_LIFT * conf)
            scores = lifted
        undecided = tuple(
            dict.fromkeys(
                t.folded
                for tokens, w, _ in weighted
                if w >= 1.0
                for t in tokens
                if not t.sense and t.accented == t.folded and len(self._readings.get(t.folded, ())) > 1
            )
        )
        return _Lexical(scores, entries, typed_all, undecided)

    def _decide_lexical(self, lex: _Lexical, text: str) -> SearchResult:
        """The hand-tuned rules of the lexical engine alone (no model artifact)."""
        scores = lex.topics
        ranked = sorted(
            ((tid, r, c) for tid, (r, c) in scores.items() if tid not in _PSEUDO),
            key=lambda item: item[1],
            reverse=True,
        )
        if not ranked:
            return SearchResult(None, 0.0, [], out_of_scope=True)
        best_id, best_rank, best = ranked[0]
        runner_up_rank = ranked[1][1] if len(ranked) > 1 else 0.0
        suggestions = [tid for tid, _, conf in ranked[:3] if conf >= SUGGEST]
        confidence = round(min(1.0, best), 4)
        pseudo = max(scores.get(p, (0.0, 0.0))[1] for p in _PSEUDO)
        if pseudo >= best or best < IN_SCOPE_FLOOR:
            chat = scores.get(_CHAT, (0.0, 0.0))[1] >= scores.get(_OOS, (0.0, 0.0))[1]
            return SearchResult(
                None,
                confidence,
                suggestions,
                out_of_scope=True,
                kind="chitchat" if chat and pseudo >= best else "out_of_scope",
            )
        close = runner_up_rank >= CLOSE_CALL * best_rank and best < SURE
        tie = runner_up_rank >= TIE * best_rank
        if best < ACCEPT or close or tie or self._lacks_cue(best_id, text):
            return SearchResult(None, confidence, suggestions, kind="unsure")
        return SearchResult(
            best_id,
            confidence,
            suggestions,
            kind="answer",
            confidence=confidence,
            entry=self._entry_for(best_id, lex, text),
        )

    def _spelled(self, text: str) -> list[str]:
        """The question's parts as the model reads them, abbreviations spelled out
        ("qrtd" -> "quấy rối tình dục"): where cue and excluded words are looked for too."""
        return [part for part, _ in self.model_text(text)]

    def _lacks_cue(self, ident: str, text: str, spelled: list[str] | None = None) -> bool:
        """The topic or entry needs one of its cue words (kb.Topic.cues, kb.Entry.cues) and
        the question, as typed or as spelled out, holds none."""
        cues = self._cues.get(ident)
        if cues is None:
            return False
        return not cues.held_by(text, self._spelled(text) if spelled is None else spelled)

    def _excluded(self, entry_id: str, text: str, spelled: list[str]) -> bool:
        """The question holds a word that rules the entry out (kb.Entry.excludes)."""
        words = self._excludes.get(entry_id)
        return words is not None and words.held_by(text, spelled)

    def combine(self, lex: _Lexical, text: str, vector: dict[str, float] | None = None) -> Combined:
        """The combined score of every class, best first, and the calibration's inputs."""
        model = self.model
        assert model is not None
        if vector is None:
            vector = self.model_vector(text)
        probs = model.predict(vector)
        share = model.lexical_share
        lexical = {t: c for t, (_, c) in lex.topics.items()}
        pseudo = max(lexical.get(p, 0.0) for p in _PSEUDO)
        best_lex = max((c for t, c in lexical.items() if t in self._topic_ids), default=0.0)
        lex_oos = max(pseudo, 1.0 - best_lex / IN_SCOPE_FLOOR if best_lex < IN_SCOPE_FLOOR else 0.0)
        combined = {t: share * lexical.get(t, 0.0) + (1 - share) * probs.get(t, 0.0) for t in self._topic_ids}
        combined[OOS_CLASS] = share * lex_oos + (1 - share) * probs.get(OOS_CLASS, 0.0)
        ranked = sorted(combined.items(), key=lambda kv: (-kv[1], kv[0]))
        top, c1 = ranked[0]
        c2 = ranked[1][1] if len(ranked) > 1 else 0.0
        top_lex = lex_oos if top == OOS_CLASS else lexical.get(top, 0.0)
        x = calibration_inputs(
            c1, c2, top_lex, probs.get(top, 0.0), top == max(probs, key=probs.__getitem__), len(text) >= STORY_CHARS
        )
        return Combined(ranked, x, lexical, best_lex, pseudo)

    def _decide_combined(self, lex: _Lexical, text: str, words: list[str]) -> SearchResult:
        model = self.model
        assert model is not None
        vector = self.model_vector(text)
        c = self.combine(lex, text, vector)
        top, c1 = c.ranked[0]
        cap = STORY_CHOICES if len(text) >= STORY_CHARS else CHOICES
        suggestions = [t for t, v in c.ranked if t != OOS_CLASS and v >= SUGGEST * 0.5][:cap]
        confidence = round(model.calibration(c.x), 4)
        score = round(min(1.0, c.best_lexical), 4)
        if top == OOS_CLASS:
            chat = c.lexical.get(_CHAT, 0.0) > c.lexical.get(_OOS, 0.0) and c.pseudo >= c.best_lexical
            return SearchResult(
                None,
                score,
                suggestions,
                out_of_scope=True,
                kind="chitchat" if chat else "out_of_scope",
                confidence=confidence,
            )
        if confidence < model.answer_at or (len(words) <= 3 and self._lexical_tie(lex)):
            # One or two generic words ("bhxh", "công đoàn") fit several topics equally:
            # the worker picks, whatever the model prefers.
            return SearchResult(None, score, suggestions, kind="unsure", confidence=confidence)
        if self._lacks_cue(top, text):
            return SearchResult(None, score, suggestions, kind="unsure", confidence=confidence)
        suggestions = [top, *[t for t in suggestions if t != top][:2]]
        entry = self._entry_for(top, lex, text, vector)
        also = self._also(top, entry, dict(c.ranked), c1)
        return SearchResult(top, score, suggestions, kind="answer", confidence=confidence, entry=entry, also=also)

    def language_of(self, text: str, hint: str | None = None) -> str:
        """'vi' or 'en' from a message's own words (`hint`, the user's setting, breaks ties),
        without searching: for text that is not a rights question (a hand-off's)."""
        return self._language(_tokens((text or "")[:MAX_QUERY_CHARS]), hint)

    def lexical(self, text: str, lang: str | None = None) -> _Lexical | None:
        """The lexical half alone (the training script fits the combination on it)."""
        text = (text or "")[:MAX_STORY_CHARS]
        return self._lexical(text, self._language(_tokens(text), lang), lang)

    def _lexical_tie(self, lex: _Lexical) -> bool:
        ranked = sorted((r for t, (r, _) in lex.topics.items() if t in self._topic_ids), reverse=True)
        return len(ranked) > 1 and ranked[1] >= TIE * ranked[0]

    def _entry_for(self, topic: str, lex: _Lexical, text: str, vector: dict[str, float] | None = None) -> str | None:
        """The specific entry of `topic` that answers the question, or None (the topic's
        own answer). Lexical confidence and, when packaged, the entry model's opinion
        restricted to this topic's entries that the question holds a cue of, if they need one."""

        # Spelled out once per question, and only for a topic with guarded entries: each
        # entry's check re-read the whole story (model_text) before.
        spelled = self._spelled(text) if topic in self._guarded_topics else []

        def candidate(eid: str) -> bool:
            return self._entry_topic.get(eid) == topic and (
                topic not in self._guarded_topics
                or not (self._lacks_cue(eid, text, spelled) or self._excluded(eid, text, spelled))
            )

        mine = {eid: c for eid, c in lex.entries.items() if candidate(eid)}
        probs: dict[str, float] = {}
        if self.entry_model is not None and vector:
            all_probs = {e: p for e, p in self.entry_model.predict(vector).items() if candidate(e)}
            total = sum(all_probs.values())
            if total > 0:
                probs = {e: p / total for e, p in all_probs.items()}
        if not mine and not probs:
            return None
        if not probs:
            ranked = sorted(((c, e) for e, c in mine.items()), reverse=True)
            if ranked[0][0] < ENTRY_ACCEPT:
                return None
            if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < ENTRY_MARGIN:
                return None
            return ranked[0][1]
        top_lex = max(mine.values(), default=0.0) or 1.0
        scored = {
            e: ENTRY_LEXICAL_SHARE * mine.get(e, 0.0) / top_lex + (1 - ENTRY_LEXICAL_SHARE) * p
            for e, p in probs.items()
        }
        best = max(scored, key=lambda e: (scored[e], e))
        if max(mine.get(best, 0.0), 0.0) < ENTRY_FLOOR and probs[best] < ENTRY_MODEL_ACCEPT:
            return None
        return best

    def _also(self, top: str, entry: str | None, combined: dict[str, float], best: float) -> list[str]:
        # Of the entry's related topics, the one the question leans to most, not the first
        # listed: a leaving checklist offers final pay to a story about the last month's
        # wages and the social insurance book to one about the book.
        related = [
            (combined.get(tid, 0.0), -i, rid)
            for i, rid in enumerate(self._entry_related.get(entry or "", ()))
            if (tid := self._entry_topic.get(rid, rid)) != top and combined.get(tid, 0.0) >= ALSO_MIN * 0.5
        ]
        if related:
            return [max(related)[2]]
        for tid, c in sorted(combined.items(), key=lambda kv: -kv[1]):
            if tid in (top, OOS_CLASS):
                continue
            if c >= ALSO_SHARE * best and c >= ALSO_MIN:
                return [tid]
            break
        return []

    # --- query pipeline -------------------------------------------------------------------

    def _language(self, tokens: list[_Token], hint: str | None) -> str:
        """'vi' or 'en' from the words themselves; the hint only breaks ties."""
        if _has_diacritics(tokens):
            return "vi"
        en = sum(t.folded in EN_STOP_WORDS or t.folded in self._en_only for t in tokens)
        vi = sum(t.folded in VI_STOP_FOLDED or t.folded in self._vi_only for t in tokens)
        if en == vi:
            return hint if hint in LANGUAGES else "vi"
        return "en" if en > vi else "vi"

    def _expand(self, tokens: list[_Token]) -> list[_Token]:
        out: list[_Token] = []
        i = 0
        while i < len(tokens):
            for size in (3, 2, 1):
                key = tuple(t.folded for t in tokens[i : i + size])
                if len(key) != size or key not in self._abbrev:
                    continue
                typed = tokens[i : i + size]
                replacement = next(
                    (
                        rep
                        for spelled, rep, strict in self._abbrev[key]
                        if all(
                            t.accented == s or t.sense == s or (not strict and t.accented == t.folded and not t.sense)
                            for t, s in zip(typed, spelled, strict=True)
                        )
                    ),
                    None,
                )
                if replacement is not None:
                    out.extend(replacement)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def _correct(self, tokens: list[_Token], lang: str) -> list[_Token]:
        out: list[_Token] = []
        for i, tok in enumerate(tokens):
            word = tok.folded
            if (
                word in self._vocab
                or _is_stop(tok, lang)
                or not word.isalpha()
                or not word.isascii()
                or not 4 <= len(word) <= MAX_TYPO_LEN
            ):
                out.append(tok)
                continue
            split = self._split(word)
            if split:
                out.extend(_Token(w, w, CORRECTED) for w in split)
                continue
            prev = tokens[i - 1].folded if i else ""
            nxt = tokens[i + 1].folded if i + 1 < len(tokens) else ""
            fixed = self._closest(word, prev, nxt)
            out.append(_Token(fixed, fixed, CORRECTED) if fixed else tok)
        return out

    def _split(self, word: str) -> tuple[str, str] | None:
        """'thaisan' -> ('thai', 'san') when the halves are a known pair."""
        for cut in range(2, len(word) - 1):
            pair = (word[:cut], word[cut:])
            if pair in self._pairs:
                return pair
        return None

    def _closest(self, word: str, prev: str, nxt: str) -> str | None:
        # Deletes of the typed word meet deletes of known words: that covers one
        # insertion, deletion or substitution; the edit check drops accidental meetings.
        candidates: set[str] = set(self._deletes.get(word, ()))
        for d in _deletes(word):
            if d in self._vocab:
                candidates.add(d)
            candidates |= self._deletes.get(d, set())
        candidates = {c for c in candidates if _within_one_edit(word, c)}
        if not candidates:
            return None

        def preference(c: str) -> tuple[bool, int, str]:
            in_context = (prev, c) in self._pairs or (c, nxt) in self._pairs
            return (in_context, self._vocab[c], c)

        return max(candidates, key=preference)


def calibration_inputs(
    c1: float, c2: float, lexical: float, prob: float, agree: bool, story: bool = False
) -> list[float]:
    """What the calibration sees: the combined score, its margin, both opinions, and
    whether the message is a story (stories are harder: the same score means less)."""
    return [c1, c1 - c2, lexical, prob, 1.0 if agree else 0.0, 1.0 if story else 0.0]


# --- helpers --------------------------------------------------------------------------


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau distance <= 1: one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))


_Abbreviations = dict[tuple[str, ...], list[tuple[tuple[str, ...], list[_Token], bool]]]


def _build_abbreviations(table: dict[str, str], accented_only: dict[str, str]) -> _Abbreviations:
    """folded key -> [(key as spelled, replacement tokens, diacritics required)].

    A list, because different spellings fold alike ("cảm ơn", "cám ơn"; "ko", "kô").
    """
    built: _Abbreviations = {}
    for strict, entries in ((False, table), (True, accented_only)):
        for key, expansion in entries.items():
            typed = _tokens(key)  # stemmed like a query, so "fired" meets "fired"
            built.setdefault(tuple(t.folded for t in typed), []).append(
                (tuple(t.accented for t in typed), _tokens(expansion), strict)
            )
    return built
