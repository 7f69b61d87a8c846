"""Reading what workers type: folding Vietnamese, company names, answers by number or
words, and spotting phone numbers and people's names in a report's description."""

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


# -- personal data in a description -------------------------------------------------------
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")
_HONORIFICS = (
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
    "quan doc",
    "to truong",
    "truong ca",
    "giam doc",
    "pho giam doc",
    "truong phong",
    "ke toan",
    "ban",
    "mr",
    "mrs",
    "ms",
    "miss",
)
_SURNAMES = frozenset(
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dinh trinh doan lam mai "
    "cao luong ta quach chu kim park lee wang chen zhang".split()
)


def _is_capitalized(word: str) -> bool:
    return bool(word) and word[0].isupper() and any(c.isalpha() for c in word)


def has_phone(text: str) -> bool:
    return _PHONE.search(text) is not None


def has_person_name(text: str) -> bool:
    """A person named in the text: an honorific followed by a capitalised word ("chị Lan",
    "quản đốc Tuấn"), or a capitalised surname followed by capitalised words ("Nguyễn Văn A")."""
    tokens = re.findall(r"[\w']+", text)
    folded = [fold(t) for t in tokens]
    for i, tok in enumerate(tokens):
        f = folded[i]
        if (
            f in _SURNAMES
            and _is_capitalized(tok)
            and i + 1 < len(tokens)
            and _is_capitalized(tokens[i + 1])
            # A sentence's first word is capitalised anyway: want two more capitals after it.
            and (i > 0 or (i + 2 < len(tokens) and _is_capitalized(tokens[i + 2])))
        ):
            return True
        for honorific in _HONORIFICS:
            parts = honorific.split()
            n = len(parts)
            if folded[i : i + n] == parts and i + n < len(tokens):
                nxt = tokens[i + n]
                if _is_capitalized(nxt) and not nxt.isupper() and fold(nxt) not in _LEGAL_WORDS:
                    return True
    return False


def personal_data_in(text: str) -> list[str]:
    """Which kinds of personal data the text seems to hold: "phone", "name"."""
    found = []
    if has_phone(text):
        found.append("phone")
    if has_person_name(text):
        found.append("name")
    return found


def lookup(mapping: Mapping[str, str], key: str) -> str:
    return mapping.get(key, key)
