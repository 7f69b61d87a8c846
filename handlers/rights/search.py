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
from dataclasses import dataclass, field
from itertools import pairwise

from handlers.rights.kb import LANGS, KnowledgeBase

__all__ = [
    "ABBREVIATIONS", "ACCENTED_ABBREVIATIONS", "CONFIDENT", "KINDS", "OUT_OF_SCOPE_PHRASES", "SearchResult", "Searcher",
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
            if (base[-1] not in _VOWELS and base[-1] not in "wxy" and base[-2] in _VOWELS
                    and base[-3] not in _VOWELS):
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
    "bhxh": "bảo hiểm xã hội", "bhyt": "bảo hiểm y tế", "bhtn": "bảo hiểm thất nghiệp",
    "bh": "bảo hiểm", "hđlđ": "hợp đồng lao động", "hđ": "hợp đồng",
    "cđcs": "công đoàn cơ sở", "cđ": "công đoàn", "kpcđ": "kinh phí công đoàn",
    "lđlđ": "liên đoàn lao động", "tlđ": "tổng liên đoàn lao động",
    "nlđ": "người lao động", "nsdlđ": "người sử dụng lao động", "lđ": "lao động",
    "tnlđ": "tai nạn lao động", "atvslđ": "an toàn vệ sinh lao động",
    "atlđ": "an toàn lao động", "tưlđtt": "thỏa ước lao động tập thể",
    "tctn": "trợ cấp thất nghiệp", "kcn": "khu công nghiệp", "kcx": "khu chế xuất",
    "cty": "công ty", "cti": "công ty",
    "ko": "không", "k": "không", "kh": "không", "hok": "không", "hem": "không",
    "khg": "không", "kô": "không",
    "dc": "được", "đc": "được",
    "j": "gì", "ji": "gì", "trc": "trước", "trk": "trước", "lm": "làm", "ng": "người",
    "nv": "nhân viên", "vs": "với", "bnhieu": "bao nhiêu", "bnhiu": "bao nhiêu",
    "nhiu": "nhiêu", "bít": "biết", "wa": "quá",
    "sếp": "người sử dụng lao động",
    "tăng ca": "làm thêm giờ", "ot": "làm thêm giờ", "over time": "overtime",
    "nghỉ đẻ": "nghỉ thai sản", "nghỉ sinh": "nghỉ thai sản", "nghỉ bầu": "nghỉ thai sản",
    "vợ đẻ": "vợ sinh con", "sinh đẻ": "sinh con", "ts": "thai sản",
    "có bầu": "mang thai", "mang bầu": "mang thai", "đang bầu": "đang mang thai",
    "bà bầu": "phụ nữ mang thai",
    "đuổi việc": "sa thải", "bị đuổi": "bị sa thải",
    "lương cb": "lương cơ bản", "lcb": "lương cơ bản", "ltt": "lương tối thiểu",
    "lương tt": "lương tối thiểu", "nghĩ việc": "nghỉ việc",
    # Digits and words both occur ("1 lần", "một lần"); one spelling keeps the pair.
    "một": "1",
    # Colloquial synonyms: "12 tiếng" is 12 hours; marrying is "lấy chồng", "cưới".
    "tiếng": "giờ", "trẻ em": "trẻ chưa thành niên", "con nít": "trẻ chưa thành niên",
    "lấy chồng": "kết hôn", "lấy vợ": "kết hôn", "cưới vợ": "kết hôn",
    "cưới chồng": "kết hôn", "đám cưới": "kết hôn",
    # English: everyday words onto the ones the knowledge base uses.
    "boss": "employer", "fired": "dismissed", "sacked": "dismissed", "laid off": "layoff",
    "salary": "wage", "quit": "resign", "paid": "pay", "company": "employer",
    "pregnant": "pregnancy", "injured": "injury", "hurt": "injury",
    # Courtesies carry no topic ("Cảm ơn người lao động" is a programme name, but a
    # bare "cảm ơn" is a worker saying thanks).
    "cảm ơn": "", "cám ơn": "", "xin chào": "", "chào": "",
}
# A key whose diacritic-free form is a common word ("de": để, "cuoi": cuối) would expand
# the wrong word in diacritic-free text, so these apply only when typed with diacritics.
ACCENTED_ABBREVIATIONS: dict[str, str] = {
    "đẻ": "sinh con", "cưới": "kết hôn", "hông": "không", "đươc": "được",
}

# Function words. With diacritics a word is judged as typed: "có" is a stop word, "cơ"
# (cơ sở) is not; "cần" is, "cân" (giảm cân) is not. Without diacritics only the folded
# form is left, so folded forms that are also common labour syllables stay content
# words: toi (tối thiểu), hoi (xã hội), dau (ốm đau), thoi (thời hạn), chi (chi trả),
# the (thẻ), da (da giày), dang (đăng ký), van (văn bản), cung (cung cấp), chu (chủ
# nhật), moi (mỗi tháng), ban (bản), con (con ốm), do (chế độ), ho (hỗ trợ), vao (vào
# công đoàn), may (máy, may mặc), lam (làm), qua (quà), de (chủ đề), vi (vi phạm),
# vang (vàng), day (dạy nghề), nua (nửa tháng).
VI_STOP_WORDS: frozenset[str] = frozenset("""
a à ạ á ah ơi nhé nha nhỉ hả hở vậy thế đấy đó em anh chị tôi tui mình bạn họ ad admin
mn có cho được bị là thì mà của và với những các này gì sao nào như nhiêu lâu rồi sẽ đã
đang nếu khi ở phải cần hỏi xin biết giúp vui lòng dùm giùm ok oke hi hello uh ừ đúng
sai ai đâu luôn thôi ra lên cũng vẫn còn hay không vào mấy nhiều rất lắm quá nên để vì
nữa đây kia dạ vâng
""".split())
_AMBIGUOUS_FOLDED = frozenset(
    "toi hoi dau thoi chi the da dang van cung chu moi ban con do ho vao may lam qua de vi "
    "vang day nua".split()
)
VI_STOP_FOLDED: frozenset[str] = frozenset({_fold(w) for w in VI_STOP_WORDS}
                                           - _AMBIGUOUS_FOLDED)
# English stop words apply to English text only: "that", "an", "am", "to", "me" are
# also folded Vietnamese syllables (thất nghiệp, an toàn, âm lịch, tờ, mẹ).
EN_STOP_WORDS: frozenset[str] = frozenset("""
i me my mine we our you your he she it its they them their is am are was were be been
being do does did have has had a an the and or but if of to in on at for with about
from by as what which who whom how when where why can could should would will shall
might must this that these those there here than then too very just any some get got
please thanks thank know want need tell into up
""".split())
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
    feats = {w for w, keep in zip(words, content, strict=True) if keep}
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
        "thời tiết hôm nay", "dự báo thời tiết mưa nắng", "bão lũ áp thấp nhiệt đới",
        "giá vàng hôm nay", "giá vàng sjc nhẫn", "tỷ giá đô la ngoại tệ", "giá xăng dầu",
        "chứng khoán cổ phiếu", "tiền ảo tiền điện tử coin", "giá nông sản lúa gạo cà phê",
        "lãi suất tiết kiệm ngân hàng", "vay tiền ngân hàng vay tín chấp trả góp",
        "mua bảo hiểm xe máy ô tô", "bảo hiểm nhân thọ",
        "thuế thu nhập cá nhân quyết toán thuế", "kết quả bóng đá trận đấu",
        "đội tuyển bóng đá lịch thi đấu tỷ số", "xổ số kết quả xổ số", "vietlott trúng số",
        "xem bói tử vi phong thủy", "cung hoàng đạo", "công thức nấu ăn món ngon",
        "cách nấu món", "làm bánh", "trồng rau cây cảnh", "phim hay ca sĩ bài hát nhạc",
        "trò chơi game", "mạng xã hội facebook tiktok zalo",
        "mật khẩu tài khoản điện thoại máy tính cài đặt", "mua điện thoại laptop giá rẻ",
        "giảm cân làm đẹp", "chữa bệnh thuốc uống đau đầu sốt ho",
        "người yêu tình yêu chia tay", "ly hôn kết hôn đăng ký", "sổ đỏ đất đai mua bán nhà",
        "thuê nhà trọ phòng trọ", "vi phạm giao thông phạt nguội đèn đỏ",
        "bằng lái xe học lái xe", "đăng ký xe biển số", "căn cước công dân hộ chiếu",
        "visa du lịch", "tuyển sinh học sinh thi đại học",
    ),
    "en": (
        "weather forecast rain", "gold price", "exchange rate dollar",
        "stock market crypto bitcoin", "football match score", "lottery results",
        "horoscope", "recipe cooking food", "movie song music", "tourist visa travel",
        "phone price buy", "weight loss diet",
    ),
}
_OOS = "__out_of_scope__"  # pseudo-topic id of the list above


KINDS = ("answer", "unsure", "clarify", "out_of_scope", "foreign_law", "chitchat", "empty")
CONFIDENT = 0.8  # from here an answer needs no hand-off offer next to it


@dataclass(frozen=True, slots=True)
class SearchResult:
    topic: str | None  # None: no confident match; do not answer with a topic
    score: float  # 0..1 lexical confidence of the best-ranked in-scope topic
    suggestions: list[str] = field(default_factory=list)  # up to 3 closest topic ids
    out_of_scope: bool = False  # the question is about something else entirely
    entry: str | None = None  # the specific entry to answer with; None: the topic answer
    confidence: float = 0.0  # calibrated probability that `topic` is right
    # "answer" | "unsure" | "clarify" | "out_of_scope" | "foreign_law" | "chitchat" | "empty"
    kind: str = ""
    lang: str = "vi"  # the language the question is written in
    clarify: list[str] = field(default_factory=list)  # kind "clarify": one topic per reading
    also: list[str] = field(default_factory=list)  # a second topic/entry the story touches
    province: str | None = None  # province id named in the question

    def __post_init__(self) -> None:
        if not self.kind:  # old callers: derive the kind from topic / out_of_scope
            kind = ("answer" if self.topic is not None
                    else "out_of_scope" if self.out_of_scope else "unsure")
            object.__setattr__(self, "kind", kind)
        if self.kind in ("out_of_scope", "foreign_law", "chitchat") and not self.out_of_scope:
            object.__setattr__(self, "out_of_scope", True)

    @property
    def confident(self) -> bool:
        """An answer that needs no hand-off offer next to it."""
        return self.kind == "answer" and self.confidence >= CONFIDENT


@dataclass(frozen=True, slots=True)
class _Entry:
    topic: str
    lang: str
    tokens: list[_Token]


class Searcher:
    """Built once from a KnowledgeBase; `search` is then pure and thread-safe."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._abbrev = _build_abbreviations(ABBREVIATIONS, ACCENTED_ABBREVIATIONS)

        questions = [_Entry(t.id, lang, self._expand(_tokens(q)))
                     for t in kb.topics.values() for lang in LANGS
                     for q in t.questions.get(lang, ())]
        questions += [_Entry(_OOS, lang, self._expand(_tokens(p)))
                      for lang, phrases in OUT_OF_SCOPE_PHRASES.items() for p in phrases]

        # Words seen in only one language's questions tell the query's language.
        by_lang: dict[str, set[str]] = defaultdict(set)
        for e in questions:
            by_lang[e.lang].update(t.folded for t in e.tokens)
        self._en_only = frozenset(by_lang["en"] - by_lang["vi"])
        self._vi_only = frozenset(by_lang["vi"] - by_lang["en"])

        keywords = []  # and titles: a topic's short names, not questions
        for t in kb.topics.values():
            for k in (*t.keywords, *t.title.values()):
                typed = _tokens(k)
                keywords.append(_Entry(t.id, self._language(typed, None), self._expand(typed)))
        answers = [_Entry(t.id, lang, self._expand(_tokens(t.answer[lang])))
                   for t in kb.topics.values() for lang in LANGS if lang in t.answer]

        self._build_vocabulary(questions + keywords)
        self._build_indexes(questions, keywords, answers)

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

    def _build_indexes(self, questions: list[_Entry], keywords: list[_Entry],
                       answers: list[_Entry]) -> None:
        question_feats = [_features(e.tokens, e.lang) for e in questions]
        vocab: dict[str, set[str]] = defaultdict(set)  # topic -> question/keyword features
        accented: dict[str, set[str]] = defaultdict(set)
        tf: dict[str, Counter[str]] = defaultdict(Counter)  # BM25 term counts per topic
        for e, feats in zip(questions, question_feats, strict=True):
            vocab[e.topic] |= feats
            accented[e.topic] |= _features(e.tokens, e.lang, accented=True)
            tf[e.topic].update(feats)
        for e in keywords:
            feats = _features(e.tokens, e.lang)
            vocab[e.topic] |= feats
            accented[e.topic] |= _features(e.tokens, e.lang, accented=True)
            tf[e.topic].update(feats)
        # Answers count at a discount: workers use the answer's words ("nguy cơ",
        # "thời hiệu") without anyone having written a question variant that way.
        answer_only: dict[str, set[str]] = defaultdict(set)
        for e in answers:
            feats = _features(e.tokens, e.lang)
            answer_only[e.topic] |= feats - vocab[e.topic]
            for f in feats:
                tf[e.topic][f] += ANSWER_SHARE

        df: Counter[str] = Counter()
        for tid in tf:
            df.update(vocab[tid] | answer_only[tid])
        n = len(tf)
        self._idf = {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}
        # With only a few dozen topics, a pair of everyday syllables ("nghỉ làm") can be
        # "rare" just because one variant happened to use it. A pair may say more than
        # its two parts, but only by so much.
        for f in [f for f in self._idf if " " in f]:
            a, b = f.split(" ")
            cap = self._idf.get(a, 0.0) + self._idf.get(b, 0.0) + PAIR_BONUS
            self._idf[f] = min(self._idf[f], cap)
        self._unknown_weight = UNKNOWN_WORD * math.log(1 + (n - 0.5) / 1.5)

        # Confidence, part 1: the closest single question variant (cosine).
        self._variant_topic = [e.topic for e in questions]
        self._variant_lang = [e.lang for e in questions]
        self._variant_norm = [math.sqrt(sum(self._weight(f) ** 2 for f in feats)) or 1.0
                              for feats in question_feats]
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
        avg_len = sum(lengths.values()) / len(lengths)
        bm25: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for tid, counts in tf.items():
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[tid] / avg_len)
            for f, c in counts.items():
                bm25[f].append((tid, c * (BM25_K1 + 1) / (c + norm)))
        self._bm25 = {f: tuple(ps) for f, ps in bm25.items()}
        self._accented = {tid: frozenset(fs) for tid, fs in accented.items()}

    # --- public ---------------------------------------------------------------------------

    def search(self, text: str, lang: str | None = None) -> SearchResult:
        """Best topic for `text`; `lang` is the user's language setting, used as a hint."""
        typed = _tokens((text or "")[:MAX_QUERY_CHARS])
        qlang = self._language(typed, lang)
        tokens = self._correct(self._expand(typed), qlang)
        weights = self._query_weights(tokens, qlang)
        total = sum(w * w for w in weights.values())
        if total <= 0 or not any(f in self._idf for f in weights):
            # Nothing the knowledge base knows: empty, emoji only, another script.
            return SearchResult(None, 0.0, [], out_of_scope=total > 0)

        scores = self._score(weights, total, lang)
        if _has_diacritics(typed):
            scores = self._prefer_exact_diacritics(scores, tokens, weights, qlang)
        ranked = sorted(((tid, r, c) for tid, (r, c) in scores.items() if tid != _OOS),
                        key=lambda item: item[1], reverse=True)
        if not ranked:
            return SearchResult(None, 0.0, [], out_of_scope=True)
        best_id, best_rank, best = ranked[0]
        runner_up_rank = ranked[1][1] if len(ranked) > 1 else 0.0
        suggestions = [tid for tid, _, conf in ranked[:3] if conf >= SUGGEST]
        confidence = round(min(1.0, best), 4)

        if scores.get(_OOS, (0.0, 0.0))[1] >= best or best < IN_SCOPE_FLOOR:
            return SearchResult(None, confidence, suggestions, out_of_scope=True)
        close = runner_up_rank >= CLOSE_CALL * best_rank and best < SURE
        tie = runner_up_rank >= TIE * best_rank
        if best < ACCEPT or close or tie:
            return SearchResult(None, confidence, suggestions)
        return SearchResult(best_id, confidence, suggestions)

    # --- query pipeline -------------------------------------------------------------------

    def _language(self, tokens: list[_Token], hint: str | None) -> str:
        """'vi' or 'en' from the words themselves; the hint only breaks ties."""
        if _has_diacritics(tokens):
            return "vi"
        en = sum(t.folded in EN_STOP_WORDS or t.folded in self._en_only for t in tokens)
        vi = sum(t.folded in VI_STOP_FOLDED or t.folded in self._vi_only for t in tokens)
        if en == vi:
            return hint if hint in LANGS else "vi"
        return "en" if en > vi else "vi"

    def _expand(self, tokens: list[_Token]) -> list[_Token]:
        out: list[_Token] = []
        i = 0
        while i < len(tokens):
            for size in (3, 2, 1):
                key = tuple(t.folded for t in tokens[i:i + size])
                if len(key) != size or key not in self._abbrev:
                    continue
                typed = tokens[i:i + size]
                replacement = next(
                    (rep for spelled, rep, strict in self._abbrev[key]
                     if all(t.accented == s or (not strict and t.accented == t.folded)
                            for t, s in zip(typed, spelled, strict=True))),
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
            if (word in self._vocab or _is_stop(tok, lang) or not word.isalpha()
                    or not word.isascii() or not 4 <= len(word) <= MAX_TYPO_LEN):
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

    def _weight(self, feature: str) -> float:
        factor = NUMBER_FACTOR if any(ch.isdigit() for ch in feature) else 1.0
        if " " not in feature and feature in self._vi_only:
            factor *= VI_SYLLABLE_FACTOR
        return self._idf[feature] * factor

    def _query_weights(self, tokens: list[_Token], lang: str) -> dict[str, float]:
        typo_factor = {t.folded: t.weight for t in tokens}
        weights: dict[str, float] = {}
        for f in _features(tokens, lang):
            if f in self._idf:
                weights[f] = self._weight(f) * min(typo_factor.get(p, 1.0) for p in f.split(" "))
            elif " " not in f and len(f) >= 3 and not f.isdigit():
                # Unknown words count against the match (that is how "giá vàng" falls out
                # of scope); unknown pairs of known words do not, or every new phrasing
                # would. Very short unknown words are chat shorthand ("mn", "ak").
                weights[f] = self._unknown_weight
        return weights

    def _score(self, weights: dict[str, float], total: float,
               lang: str | None) -> dict[str, tuple[float, float]]:
        """topic -> (rank, confidence)."""
        dots: dict[int, float] = defaultdict(float)
        covered: dict[str, float] = defaultdict(float)
        rank: dict[str, float] = defaultdict(float)
        for f, w in weights.items():
            if f not in self._idf:
                continue
            w_doc = w * self._weight(f)
            for i in self._variant_postings.get(f, ()):
                dots[i] += w_doc
            for tid, share in self._coverage.get(f, ()):
                covered[tid] += share * w * w
            for tid, saturated_tf in self._bm25.get(f, ()):
                rank[tid] += w * saturated_tf

        qnorm = math.sqrt(total)
        closest: dict[str, float] = defaultdict(float)
        for i, dot in dots.items():
            sim = dot / (qnorm * self._variant_norm[i])
            if lang and self._variant_lang[i] != lang:
                sim *= OTHER_LANG
            tid = self._variant_topic[i]
            if sim > closest[tid]:
                closest[tid] = sim
        return {
            tid: (rank[tid], VARIANT_SHARE * closest.get(tid, 0.0)
                  + (1 - VARIANT_SHARE) * covered.get(tid, 0.0) / total)
            for tid in rank.keys() | closest.keys() | covered.keys()
        }

    def _prefer_exact_diacritics(self, scores: dict[str, tuple[float, float]],
                                 tokens: list[_Token], weights: dict[str, float], lang: str
                                 ) -> dict[str, tuple[float, float]]:
        """Raise the rank of leading topics by the share of the query matched as typed.

        Only the rank moves, never the confidence: a worker with an accent slip ("nghĩ
        việc" for "nghỉ việc") must not be pushed under the threshold.
        """
        weight_of = {a: weights.get(_fold(a), 0.0)
                     for a in _features(tokens, lang, accented=True)}
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


# --- helpers --------------------------------------------------------------------------

def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


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
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1:] == a for i in range(len(b)))


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
                (tuple(t.accented for t in typed), _tokens(expansion), strict))
    return built
