"""Reading what workers type: folding Vietnamese, company names, answers by number or
words, head counts, and spotting personal data (phone and ID-card numbers, e-mail
addresses, people's names) in a workplace report."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

# The one matching fold the sign-up form uses: "Cty TNHH May Hưng Phát" -> "cty tnhh may hung phat".
from handlers.join.provinces import fold

# -- company names ------------------------------------------------------------------
# Legal forms and words every company name may carry or drop: "Công ty TNHH MTV ...",
# "... Co., Ltd", "... Việt Nam". Matched on folded words.
_LEGAL_PHRASES = (
    "cong ty",
    "tong cong ty",
    "chi nhanh",
    "trach nhiem huu han",
    "mot thanh vien",
    "1 thanh vien",
    "co phan",
    "tap doan",
    "viet nam",
    "vn",
    "tong cty",
    "co ltd",
    "company limited",
    "joint stock company",
    "nha may",
    "xi nghiep",
    "khu cong nghiep",
    "thuong mai",
    "dich vu",
    "san xuat",
    "xuat nhap khau",
)
_LEGAL_WORDS = frozenset(
    "cty ct tnhh mtv 1tv cp jsc ltd co company limited corp corporation inc group "
    "cn vietnam tm dv sx xnk kcn llc plc industrial industries industry enterprise international holdings".split()
)
# What a company makes: "May Hưng Phát" and "Hưng Phát garment" are one company. Dropped
# only when other words remain ("Công ty May 10" keeps "may 10" as a whole).
_TRADE_PHRASES = (
    "thuc pham",
    "dien tu",
    "noi that",
    "thuy san",
    "co khi",
    "che bien",
    "bao bi",
    "hoa chat",
    "may mac",
    "det may",
    "da giay",
    "gom su",
)
_TRADE_WORDS = frozenset(
    "may garment garments textile textiles det soi giay footwear shoes shoe electronics electronic electric "
    "nhua plastic plastics food foods wood furniture seafood mechanical packaging chemical apparel fashion "
    "sua thep ton gach".split()
)


def _drop_phrases(words: list[str], phrases: Iterable[str]) -> list[str]:
    text = f" {' '.join(words)} "
    for phrase in sorted(phrases, key=len, reverse=True):
        text = text.replace(f" {phrase} ", " ")
    return text.split()


def company_key(name: str) -> str:
    """The comparable core of a company name: folded, without legal form or trade words.

    "Cty TNHH May Hưng Phát", "may hung phat" and "Hưng Phát garment" -> "hung phat".
    """
    words = fold(name).split()
    core = [w for w in _drop_phrases(words, _LEGAL_PHRASES) if w not in _LEGAL_WORDS]
    if not core:
        core = words
    trimmed = [w for w in _drop_phrases(core, _TRADE_PHRASES) if w not in _TRADE_WORDS]
    if len(trimmed) > 1 and trimmed[-1] == "vina":  # "Taekwang Vina", not "Vina Milk"
        trimmed = trimmed[:-1]
    return " ".join(trimmed or core)


_SOUNDS = (("ch", "k"), ("ph", "f"), ("c", "k"), ("q", "k"), ("y", "i"), ("z", "s"), ("w", "u"))


def _sound(flat: str) -> str:
    """Spelling-insensitive form for comparing: "goertech"/"goertek", "yazzaki"/"yazaki"."""
    for a, b in _SOUNDS:
        flat = flat.replace(a, b)
    out: list[str] = []
    for ch in flat:
        if not out or out[-1] != ch:  # doubled letters: "ajinomotto"
            out.append(ch)
    return "".join(out)


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance with adjacent transpositions, stopping early past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_edits(length: int) -> int:
    if length <= 4:
        return 0
    if length <= 8:
        return 1
    if length <= 14:
        return 2
    return 3


def match_company(key: str, known: Iterable[str]) -> str | None:
    """The known cluster key `key` belongs to, or None for a new company.

    Same letters ignoring spaces and spelling habits ("pou chen" / "pouchen",
    "goertech" / "goertek"), a few typos for long enough names, or one name being the
    other plus words: a run of two words or more ("samsung display" in "samsung display
    bac ninh"), or 5 letters or more that start the other ("foxconn" / "foxconn bac
    giang"; 8 or more anywhere in it: "sdv samsung display"). When that last, loosest rule points at two companies, it
    picks neither: a new cluster is better than a wrong one.
    """
    if not key:
        return None
    flat = _sound(key.replace(" ", ""))
    words = key.split()
    scored: list[tuple[int, str]] = []
    for other in known:
        if other == key:
            return other
        other_flat = _sound(other.replace(" ", ""))
        if other_flat == flat:
            return other
        limit = _allowed_edits(min(len(flat), len(other_flat)))
        if limit:
            d = _distance(flat, other_flat, limit)
            if d <= limit:
                scored.append((d, other))
                continue
        other_words = other.split()
        shorter, longer = sorted((words, other_words), key=len)
        short_flat, long_flat = sorted((flat, other_flat), key=len)
        if len(shorter) >= 2 and _contains_run(longer, shorter):
            scored.append((limit + 1, other))
        elif len(short_flat) >= 5 and (
            long_flat.startswith(short_flat) or (len(short_flat) >= 8 and short_flat in long_flat)
        ):
            scored.append((100, other))
    if not scored:
        return None
    scored.sort()
    if len(scored) > 1 and scored[0][0] == scored[1][0] == 100:
        return None
    return scored[0][1]


def _contains_run(words: Sequence[str], run: Sequence[str]) -> bool:
    n = len(run)
    return any(list(words[i : i + n]) == list(run) for i in range(len(words) - n + 1))


def cluster_key(name: str, known: Iterable[str]) -> str:
    key = company_key(name)
    return match_company(key, known) or key


# -- answers to a poll ---------------------------------------------------------------
_NUMBERS = re.compile(r"^\s*\d{1,3}(\s*(,|;|\s|va|and|&)\s*\d{1,3})*\s*$")


def parse_numbers(text: str) -> list[int] | None:
    """ "2", "1, 3", "1 va 3" -> [2], [1, 3]; None when the text is not only numbers."""
    folded = fold(text)
    if not folded or not _NUMBERS.match(folded):
        return None
    return sorted({int(n) for n in re.findall(r"\d+", folded)})


def match_choice(text: str, labels: Sequence[str]) -> int | None:
    """The index of the choice `text` names (whole label, or its first words naming one
    label only), with or without diacritics; None otherwise."""
    answer = fold(text)
    if len(answer) < 2:
        return None
    folded = [fold(label) for label in labels]
    for i, label in enumerate(folded):
        if label == answer:
            return i
    starts = [i for i, label in enumerate(folded) if label.startswith(answer + " ") or label == answer]
    if len(starts) == 1 and len(answer) >= 3:
        return starts[0]
    return None


# -- a head count -----------------------------------------------------------------------
# "khoảng 300 người", "about 300", "~300", "300+", "200-300", "2 nghìn": the number in an
# answer of these words only. A word outside them means the number may count something
# else ("nợ lương 2 tháng", "chuyền 3", "ca 2"), so the answer is not read as a head count.
# Thousands are grouped by "." or ",", never a space: "50 100 người" is two numbers.
_COUNT_TOKEN = re.compile(r"(\d{1,3}(?:[.,]\d{3})+(?!\d)|\d+)|([^\W\d_]+)|([-–—~])")
_COUNT_WORDS = frozenset(
    "khoang tam chung gan xap xi tren duoi hon it nhat nhieu co tong cong la nguoi ng lao dong nhan cn "
    "vien nv bi anh huong minh toi tu a nha nhe thi "
    "about around approx approximately roughly nearly almost over more than under less fewer some "
    "people persons person workers worker employees staff maybe at least most up from between affected "
    "total only just me of us them plus est estimated".split()
)
# Between two numbers these make a range ("200 đến 300"); elsewhere they are fillers
# ("1 mình tôi").
_RANGE_WORDS = frozenset("den toi to hoac or and".split())
_MULTIPLIERS = {"k": 1000, "nghin": 1000, "ngan": 1000, "ngin": 1000, "thousand": 1000, "tram": 100, "hundred": 100}


def read_count(text: str) -> tuple[int, int] | None:
    """The head count in a short answer, as (low, high): "khoảng 300 người" -> (300, 300),
    "200-300" -> (200, 300), "2 nghìn" -> (2000, 2000); None when the text is not only a
    number or a range with words about counting people."""
    numbers: list[int] = []
    scales: list[int] = []  # the multiplier typed after each number ("nghìn"), or 1
    between = False  # a range word or dash after the first number
    for number, word, dash in _COUNT_TOKEN.findall(text.lower()):
        if number:
            if len(numbers) == 2 or (numbers and not between):
                return None  # "300 500", "2 tháng 300": which one?
            numbers.append(int(re.sub(r"\D", "", number)))
            scales.append(1)
            continue
        folded = fold(word) if word else ""
        if folded in _MULTIPLIERS and numbers and scales[-1] == 1:
            scales[-1] = _MULTIPLIERS[folded]
        elif dash or folded in _RANGE_WORDS:
            between = between or len(numbers) == 1
        elif folded not in _COUNT_WORDS:
            return None
    if not numbers:
        return None
    if len(scales) == 2 and scales[0] == 1:
        scales[0] = scales[1]  # "2-3 nghìn": both in thousands
    counts = [n * k for n, k in zip(numbers, scales, strict=True)]
    return min(counts), max(counts)


# -- personal data in a report --------------------------------------------------------------
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")
_EMAIL = re.compile(r"[\w.+\-]+\s?@\s?[\w\-]+(?:\.[\w\-]+)+")
# An identity card: CCCD 12 digits, old CMND 9, typed whole or in groups as phone numbers
# are ("001 203 004 567", "123.456.789"). Groups of 3 digits or more only: "tháng 10 2024
# 300 người" and "15.06.2025 2 ca" are a date and a count, not a card.
_DIGIT_RUN = re.compile(r"(?<!\d)(?<!\d[\s.\-])\d{3,}(?:[\s.\-]\d{3,})*")
_ID_LENGTHS = (9, 12)
# "nợ 150.000.000 đồng" is nine digits too: an amount is in whole thousands or has its unit.
_MONEY_UNIT = re.compile(r"\s?(?:đ|d|vnd|vnđ|dong|đồng|k)\b", re.IGNORECASE)
# Who a person is called by: kinship words used as "Mr/Ms" ("chị Lan", "ông Hùng") ...
_KINSHIP = (
    "anh",
    "chi",
    "ong",
    "ba",
    "co",
    "chu",
    "bac",
    "em",
    "di",
    "cau",
    "thim",
    "mo",
    "ban",
    "mr",
    "mrs",
    "ms",
    "miss",
)
# ... and job titles ("quản lý Tuấn", "chuyền trưởng Nam"), folded.
_JOB_TITLES = (
    "quan doc",
    "pho quan doc",
    "quan ly",
    "quan ly chuyen",
    "quan ly xuong",
    "to truong",
    "to pho",
    "chuyen truong",
    "truong chuyen",
    "truong ca",
    "giam sat",
    "giam doc",
    "pho giam doc",
    "truong phong",
    "ke toan",
    "sep",
    "manager",
    "supervisor",
    "leader",
    "boss",
)
_HONORIFICS = tuple(t.split() for t in _KINSHIP + _JOB_TITLES)
_JOB_WORDS = tuple(t.split() for t in _JOB_TITLES)
# Ordinary words that follow a title, capitalised at a sentence's start or in a title-case
# text: "Anh Em công nhân", "Cô Ấy", "Ông Chủ", "Sếp Mới", "Cơ Khí", "trưởng phòng Nhân sự". Folded
# words a given name could fold to as well ("Tố", "Đô", "Minh") are not in the list: a
# name missed is worse than a worker asked to retype.
_NOT_NAME_WORDS = frozenset("em ay chu moi cu nay kia nao dem ngay kho phong xuong chuyen toi khi".split())
_NOT_NAME_PHRASES = tuple(
    p.split()
    for p in (
        "nhan su",
        "hanh chinh",
        "ke toan",
        "san xuat",
        "chat luong",
        "ky thuat",
        "bao ve",
        "cong doan",
        "cong nhan",
        "nha may",
        "bo phan",
        "an toan",
        "thu kho",
    )
)
_SENTENCE_END = re.compile(r"[.!?;:\n…]")
_SURNAMES = frozenset(
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dinh trinh doan lam mai "
    "cao luong ta quach chu kim park lee wang chen zhang".split()
)


def _is_capitalized(word: str) -> bool:
    return bool(word) and word[0].isupper() and any(c.isalpha() for c in word)


def has_phone(text: str) -> bool:
    return _PHONE.search(text) is not None


def has_email(text: str) -> bool:
    return _EMAIL.search(text) is not None


def _id_numbers(text: str) -> list[tuple[int, int]]:
    """Where the text holds what looks like an ID-card number (start, end)."""
    spans: list[tuple[int, int]] = []
    for m in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) in _ID_LENGTHS and not digits.endswith("000") and not _MONEY_UNIT.match(text, m.end()):
            spans.append(m.span())
    return spans


def has_id_number(text: str) -> bool:
    return bool(_id_numbers(text))


def _starts(words: Sequence[str], at: int, phrases: Iterable[Sequence[str]]) -> bool:
    return any(list(words[at : at + len(p)]) == list(p) for p in phrases)


def has_person_name(text: str, *, titles_in_lowercase: bool = False) -> bool:
    """A person named in the text: a title followed by a capitalised word ("chị Lan",
    "quản lý Tuấn"), or a capitalised surname followed by capitalised words ("Nguyễn Văn A").

    `titles_in_lowercase` is for a company's name, where capitalised words are the name
    itself ("Cổ Phần", "Bà Rịa", "Minh Anh"): only a title typed in lower case before a
    capitalised word counts ("Cty Hansol chi Lan"), and a surname does not.
    """
    matches = list(re.finditer(r"[\w']+", text))
    tokens = [m.group() for m in matches]
    folded = [fold(t) for t in tokens]
    for i, tok in enumerate(tokens):
        if (
            not titles_in_lowercase
            and folded[i] in _SURNAMES
            and _is_capitalized(tok)
            and i + 1 < len(tokens)
            and _is_capitalized(tokens[i + 1])
            # A sentence's first word is capitalised anyway: want two more capitals after it.
            and (i > 0 or (i + 2 < len(tokens) and _is_capitalized(tokens[i + 2])))
        ):
            return True
        for title in _HONORIFICS:
            j = i + len(title)
            if folded[i:j] != title or j >= len(tokens):
                continue
            if titles_in_lowercase and not all(t.islower() for t in tokens[i:j]):
                continue
            nxt = tokens[j]
            if (
                _is_capitalized(nxt)
                and not nxt.isupper()
                and folded[j] not in _LEGAL_WORDS
                and folded[j] not in _NOT_NAME_WORDS
                and not _starts(folded, j, _NOT_NAME_PHRASES)
                # "ông Giám đốc Hưng": the name is the one after the last title.
                and not _starts(folded, j, _JOB_WORDS)
                # "... hỏi chị. Chị ấy nói": the next sentence's capital, not a name.
                and not _SENTENCE_END.search(text, matches[j - 1].end(), matches[j].start())
            ):
                return True
    return False


def personal_data_in(text: str, *, company: bool = False) -> list[str]:
    """Which kinds of personal data the text seems to hold: "phone", "email", "id_number",
    "name" (in a company's name, only a lower-case title before a name: see has_person_name)."""
    cards = _id_numbers(text)
    # "001.203.004.567" starts like a phone number too: named once, as the card it is.
    phone = any(not any(a <= m.start() < b for a, b in cards) for m in _PHONE.finditer(text))
    checks = (
        ("phone", phone),
        ("email", has_email(text)),
        ("id_number", bool(cards)),
        ("name", has_person_name(text, titles_in_lowercase=company)),
    )
    return [kind for kind, found in checks if found]


def lookup(mapping: Mapping[str, str], key: str) -> str:
    return mapping.get(key, key)
