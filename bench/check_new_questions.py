"""Check a file of newly collected real questions before it joins the tuning split.

    python3 dev.py bench bench/check_new_questions.py bench/data/real_tune_more_a.jsonl

The held-out files are read only to drop overlaps and only counts are printed: a
collector must never see held-out questions. Exit status 1 when a line is invalid or
overlaps another file; the offending ids (never held-out text) are listed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from handlers.rights.kb import load_knowledge_base
from handlers.text import fold

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
HELDOUT = ("real_heldout.jsonl", "short_heldout.jsonl")
PII = re.compile(r"\d{9,}|[\w.+-]+@[\w-]+\.\w+|\b0\d{2,3}[ .]?\d{3}[ .]?\d{3,4}\b")
FIELDS = ("id", "q", "url", "topic", "alt_topic", "entry", "alt_entry", "asks", "split")


def url_key(url: str) -> str:
    return url.strip().lower().rstrip("/").removeprefix("https://").removeprefix("http://").removeprefix("www.")


def shingles(text: str) -> set[str]:
    words = fold(text).split()
    return {" ".join(words[i : i + 4]) for i in range(max(1, len(words) - 3))}


def label_problems(r: dict, topics: set[str], entries: dict[str, str]) -> list[str]:
    problems = []
    if set(r) - set(FIELDS) or not {"id", "q", "url", "topic", "split"} <= set(r):
        problems.append(f"fields must be among {FIELDS}")
    if r.get("split") != "tune":
        problems.append('split must be "tune"')
    for key in ("topic", "alt_topic"):
        if r.get(key) is not None and r[key] not in topics:
            problems.append(f"unknown {key} {r[key]!r}")
    for key in ("entry", "alt_entry"):
        e = r.get(key)
        if e is not None and e not in entries:
            problems.append(f"unknown {key} {e!r}")
        elif e is not None and entries[e] not in (r.get("topic"), r.get("alt_topic")):
            problems.append(f"{key} {e!r} is not under topic/alt_topic")
    q = r.get("q", "")
    if not 60 <= len(q) <= 1200:
        problems.append(f"length {len(q)} outside 60-1200")
    if PII.search(q):
        problems.append("looks like a phone number, e-mail or ID number")
    return problems


def overlap_problems(r: dict, seen_urls: dict[str, str], seen_text: list[tuple[str, set[str], str]]) -> list[str]:
    problems = []
    where = seen_urls.get(url_key(r.get("url", "")))
    if where:
        problems.append(f"URL already used in {'a held-out file' if where in HELDOUT else where}")
    q = r.get("q", "")
    mine = shingles(q)
    for name, theirs, head in seen_text:
        overlap = len(mine & theirs) / max(1, min(len(mine), len(theirs)))
        if overlap > 0.5 or head == fold(q)[:80]:
            problems.append(f"text overlaps a question in {'a held-out file' if name in HELDOUT else name}")
            break
    return problems


def main(paths: list[str]) -> int:
    kb = load_knowledge_base()
    topics, entries = set(kb.topics), {e.id: e.topic for e in kb.entries.values()}
    new_paths = {Path(p).resolve() for p in paths}
    others: list[tuple[str, dict]] = []
    for f in sorted(DATA.glob("*.jsonl")):
        if f.resolve() in new_paths or f.name.startswith("company_"):
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                others.append((f.name, json.loads(line)))
    seen_urls = {url_key(r["url"]): name for name, r in others if r.get("url")}
    seen_text = [(name, shingles(r["q"]), fold(r["q"])[:80]) for name, r in others if "q" in r]
    bad = 0
    ids: set[str] = set()
    kept = 0
    for path in paths:
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{path}:{n}: not JSON ({exc})")
                bad += 1
                continue
            problems = label_problems(r, topics, entries)
            if r.get("id") in ids:
                problems.append("duplicate id")
            ids.add(r.get("id"))
            problems += overlap_problems(r, seen_urls, seen_text)
            seen_urls[url_key(r.get("url", ""))] = path
            seen_text.append((path, shingles(r.get("q", "")), fold(r.get("q", ""))[:80]))
            if problems:
                bad += 1
                print(f"{r.get('id')}: " + "; ".join(problems))
            else:
                kept += 1
    print(f"{kept} lines fine, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
