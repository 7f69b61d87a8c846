"""Benchmark the rights search on the tuning split and, on request, the held-out split.

Run:  python3 dev.py bench bench/bench_rights.py                 # tuning split only
      python3 dev.py bench bench/bench_rights.py --heldout       # + held-out split
      (--misses lists the tuning split's misses; held-out misses are always listed)

Splits (bench/data/):
  tune     rights_eval.jsonl, short_tune.jsonl, real_tune.jsonl, real_tune_extra.jsonl:
           the engine and the model were tuned on these (and on the knowledge base's
           own variants).
  held-out short_heldout.jsonl, real_heldout.jsonl: frozen before tuning, never tuned
           on (see bench/data/HELDOUT.md). Each held-out run is one of few; say so in
           the commit message.

Per split and per kind (real stories; short questions without diacritics, with
diacritics, in English; out of scope; ambiguous words) it prints:
  first answer right   kind "answer" with the labelled topic (or its acceptable second)
  entry right          (real) the specific entry labelled, when the answer is right
  within one tap       the answer or a button the chat shows with it (second topic, runner-up
                       guesses when not confident), or the unsure reply's choices
  confident wrong      kind "answer" with a wrong topic (out-of-scope questions too)
  oos refused          out-of-scope questions not answered with a topic
  latency p50 / p99    per question, median of REPEATS runs each
and a reliability table (stated confidence vs share right), then the issue targets
with PASS/FAIL for the held-out split. A plain BM25 column shows the baseline's
first-answer accuracy (its "not found" threshold fitted on the tuning split).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from handlers.i18n import LANGUAGES
from handlers.rights.kb import KnowledgeBase, load_knowledge_base
from handlers.rights.search import Searcher, SearchResult, normalize
from handlers.rights.train import TUNE_FILES, Labelled, load_labelled

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
TUNE = TUNE_FILES
HELDOUT = ("short_heldout.jsonl", "real_heldout.jsonl")
REPEATS = 3
KINDS = ("real", "no_diacritics", "diacritics", "english", "oos", "ambiguous")
# (metric, kind group, target, higher is better); short = the short in-scope kinds
TARGETS = [
    ("issue 9: short in scope, first answer right", "short", "first", 0.96, True),
    ("issue 9: short without diacritics", "no_diacritics", "first", 0.94, True),
    ("issue 9: short English", "english", "first", 0.92, True),
    ("issue 9: short out of scope refused", "short_oos", "refused", 0.92, True),
    ("issue 9: short confident wrong", "short_all", "confident_wrong", 0.01, False),
    ("issue 9: short p99 latency (ms)", "short_all", "p99", 5.0, False),
    ("issue 19: real first answer right", "real", "first", 0.85, True),
    ("issue 19: real specific entry right", "real", "entry", 0.70, True),
    ("issue 19: real within one tap", "real", "one_tap", 0.97, True),
    ("issue 19: real confident wrong", "real_all", "confident_wrong", 0.03, False),
    ("issue 19: real out of scope refused", "real_oos", "refused", 0.90, True),
    ("issue 19: real p99 latency (ms)", "real_all", "p99", 20.0, False),
]
_VI_DIACRITIC = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]", re.IGNORECASE)


def kind_of(item: Labelled) -> str:
    if item.source.startswith("real"):
        return "real"
    k = item.kind.lower()
    if item.topic is None or k in ("oos", "out_of_scope", "foreign", "foreign_law", "tax", "chitchat"):
        return "oos"
    if "ambig" in k:
        return "ambiguous"
    if k in ("en", "english"):
        return "english"
    if k in ("no_diacritics", "nodiacritics", "abbrev_typo"):
        return "no_diacritics"
    if k in ("diacritics", "vi"):
        return "diacritics"
    return "diacritics" if _VI_DIACRITIC.search(item.q) else "no_diacritics"


@dataclass(slots=True)
class Row:
    item: Labelled
    kind: str
    result: SearchResult
    ms: float
    baseline: str | None = None


@dataclass(slots=True)
class Stats:
    rows: list[Row] = field(default_factory=list)

    def measure(self, metric: str) -> tuple[float, int]:
        rows = self.rows
        if metric == "p99":
            return _pct([r.ms for r in rows], 0.99), len(rows)
        if metric == "p50":
            return _pct([r.ms for r in rows], 0.5), len(rows)
        if metric == "refused":
            oos = [r for r in rows if r.item.topic is None]
            return _share(r.result.kind != "answer" for r in oos), len(oos)
        if metric == "confident_wrong":
            return _share(_confident_wrong(r) for r in rows), len(rows)
        inside = [r for r in rows if r.item.topic is not None]
        if metric == "first":
            return _share(_first_right(r) for r in inside), len(inside)
        if metric == "baseline":
            return _share(r.baseline in _accepted(r.item) for r in inside), len(inside)
        if metric == "one_tap":
            return _share(_one_tap(r) for r in inside), len(inside)
        if metric == "entry":
            labelled = [r for r in inside if r.item.entry is not None]
            return _share(_first_right(r) and _entry_right(r) for r in labelled), len(labelled)
        raise KeyError(metric)


def _entry_right(r: Row) -> bool:
    # The topic's general answer (entry None) is not the labelled entry, even when the
    # label has no second entry (alt_entry None).
    return r.result.entry is not None and r.result.entry in (r.item.entry, r.item.alt_entry)


def _accepted(item: Labelled) -> set[str | None]:
    return {item.topic} | ({item.also} if item.also else set())


def _first_right(r: Row) -> bool:
    return r.result.kind == "answer" and r.result.topic in _accepted(r.item)


def _confident_wrong(r: Row) -> bool:
    return r.result.kind == "answer" and r.result.topic not in _accepted(r.item)


def _one_tap(r: Row) -> bool:
    # What the chat shows: an answer with its second-topic and runner-up buttons, the
    # unsure reply's choices, the clarification's two readings.
    return bool(_accepted(r.item) & r.result.offered())


def _share(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


class BM25Baseline:
    """Plain BM25 over raw lower-cased word tokens: no folding, abbreviations or typos."""

    _WORD = re.compile(r"\w+")

    def __init__(self, kb: KnowledgeBase, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs: dict[str, Counter[str]] = {}
        for topic in kb.topics.values():
            text = " ".join([*(q for lang in LANGUAGES for q in topic.questions[lang]), *topic.keywords])
            self.docs[topic.id] = Counter(self._WORD.findall(text.lower()))
        self.lengths = {tid: sum(c.values()) for tid, c in self.docs.items()}
        self.avg_len = sum(self.lengths.values()) / len(self.lengths)
        df: Counter[str] = Counter()
        for counts in self.docs.values():
            df.update(counts.keys())
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        self.threshold = 0.0

    def scores(self, text: str) -> tuple[str | None, float]:
        words = self._WORD.findall(text.lower())
        best, best_id = 0.0, None
        for tid, counts in self.docs.items():
            norm = self.k1 * (1 - self.b + self.b * self.lengths[tid] / self.avg_len)
            s = sum(self.idf[w] * counts[w] * (self.k1 + 1) / (counts[w] + norm) for w in words if w in counts)
            if s > best:
                best, best_id = s, tid
        return best_id, best

    def search(self, text: str) -> str | None:
        tid, score = self.scores(text)
        return tid if score >= self.threshold else None

    def fit_threshold(self, items: list[Labelled]) -> None:
        scored = [(it, *self.scores(it.q)) for it in items]
        inside = [(c, t, s) for c, t, s in scored if c.topic is not None]
        outside = [(c, t, s) for c, t, s in scored if c.topic is None]
        best_key = -1.0
        for th in sorted({s for _, _, s in scored} | {0.0}):
            acc = sum(t == c.topic and s >= th for c, t, s in inside) / max(1, len(inside))
            rej = sum(s < th for _, _, s in outside) / max(1, len(outside))
            if (acc + rej) / 2 > best_key:
                best_key, self.threshold = (acc + rej) / 2, th


def run_split(searcher: Searcher, baseline: BM25Baseline, items: list[Labelled]) -> list[Row]:
    rows = []
    for it in items:
        rows.append(Row(it, kind_of(it), searcher.search(it.q), 0.0, baseline.search(it.q)))
    gc.collect()
    for row in rows:
        runs = []
        for _ in range(REPEATS):
            t0 = time.perf_counter_ns()
            searcher.search(row.item.q)
            runs.append((time.perf_counter_ns() - t0) / 1e6)
        row.ms = statistics.median(runs)
    return rows


def groups(rows: list[Row]) -> dict[str, Stats]:
    out: dict[str, Stats] = defaultdict(Stats)
    for r in rows:
        out[r.kind].rows.append(r)
        out["all"].rows.append(r)
        if r.kind == "real":
            out["real_all"].rows.append(r)
            if r.item.topic is None:
                out["real_oos"].rows.append(r)
        else:
            out["short_all"].rows.append(r)
            if r.item.topic is None:
                out["short_oos"].rows.append(r)
            else:
                out["short"].rows.append(r)
        if r.kind == "oos":
            pass
    return out


def print_table(name: str, rows: list[Row], *, timed: bool = True) -> dict[str, Stats]:
    g = groups(rows)
    print(f"\n== {name}: {len(rows)} questions")
    metrics = [
        ("first", "first answer right", True),
        ("baseline", "  BM25 baseline", True),
        ("entry", "entry right", True),
        ("one_tap", "within one tap", True),
        ("confident_wrong", "confident wrong", True),
        ("refused", "oos refused", True),
        ("p50", "p50 ms", False),
        ("p99", "p99 ms", False),
    ]
    if not timed:
        metrics = [m for m in metrics if not m[0].startswith("p")]
    cols = [k for k in ("short", *KINDS, "all") if k in g]
    print(f"  {'':22}" + "".join(f"{c[:13]:>14}" for c in cols))
    print(f"  {'questions':22}" + "".join(f"{len(g[c].rows):>14}" for c in cols))
    for key, label, pct in metrics:
        cells = []
        for c in cols:
            value, n = g[c].measure(key)
            if n == 0 or value != value:
                cells.append(f"{'-':>14}")
            elif pct:
                cells.append(f"{100 * value:12.1f}% ")
            else:
                cells.append(f"{value:13.2f} ")
        print(f"  {label:22}" + "".join(cells))
    reliability(rows)
    return g


def reliability(rows: list[Row]) -> None:
    inside = [r for r in rows if r.result.kind == "answer"]
    print("  reliability of answers (stated confidence -> share right):")
    for lo, hi in ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)):
        b = [r for r in inside if lo <= r.result.confidence < hi]
        if b:
            print(
                f"    {lo:.2f}-{min(hi, 1.0):.2f}: {len(b):4d} answers, "
                f"{100 * _share(_first_right(r) for r in b):5.1f}% right"
            )


def check_targets(g: dict[str, Stats]) -> bool:
    ok_all = True
    for label, group, metric, target, higher in TARGETS:
        if group not in g:
            print(f"  {label:48} n/a (no questions)")
            continue
        value, n = g[group].measure(metric)
        if n == 0 or value != value:
            print(f"  {label:48} n/a (no questions)")
            continue
        ok = value >= target if higher else value <= target
        ok_all &= ok
        shown = f"{value:.2f}" if metric.startswith("p") else f"{100 * value:.1f}%"
        want = f"{target}" if metric.startswith("p") else f"{100 * target:.0f}%"
        print(f"  {label:48} {shown:>8}  ({'>=' if higher else '<='} {want}, n={n})  {'PASS' if ok else 'FAIL'}")
    return ok_all


def load(names: tuple[str, ...]) -> list[Labelled]:
    items = []
    for name in names:
        if (DATA / name).exists():
            items.extend(load_labelled(DATA / name))
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", action="store_true", help="also measure the held-out split")
    parser.add_argument("--misses", action="store_true", help="list the tuning split's misses")
    args = parser.parse_args(argv)

    kb = load_knowledge_base()
    t0 = time.perf_counter()
    searcher = Searcher(kb)
    build_ms = (time.perf_counter() - t0) * 1000
    tune = load(TUNE)
    baseline = BM25Baseline(kb)
    baseline.fit_threshold(tune)
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    n_variants = sum(len(t.questions[lang]) for t in kb.topics.values() for lang in LANGUAGES)
    print("Rights search benchmark")
    print(
        f"  {len(kb.topics)} topics ({n_variants} question variants), {len(kb.entries)} "
        f"specific entries; model: {'yes' if searcher.model else 'NO (lexical only)'}"
    )
    print(
        f"  {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"load average {load_avg}; Searcher built in {build_ms:.0f} ms; "
        f"BM25 'not found' threshold fitted on the tuning split: {baseline.threshold:.2f}"
    )
    variants = {normalize(q) for t in kb.topics.values() for lang in LANGUAGES for q in t.questions[lang]}
    tune_rows = run_split(searcher, baseline, tune)
    verbatim = sum(normalize(r.item.q) in variants for r in tune_rows)
    print(f"  tuning questions identical to a knowledge-base variant: {verbatim}")
    g = print_table("TUNING split (tuned on: not a fair estimate)", tune_rows)
    print("  targets, for information (they apply to the held-out split):")
    check_targets(g)
    if args.misses:
        print_misses(tune_rows)
    if not args.heldout:
        return 0
    held = load(HELDOUT)
    if not held:
        print("\nno held-out files found")
        return 1
    held_rows = run_split(searcher, baseline, held)
    g = print_table("HELD-OUT split (never tuned on)", held_rows)
    print("  targets (issues 9 and 19):")
    ok = check_targets(g)
    print_misses(held_rows)
    return 0 if ok else 1


def print_misses(rows: list[Row]) -> None:
    print("\n  misses (kind: question -> expected [entry] / got kind topic [entry] conf, buttons):")
    for r in rows:
        if _first_right(r) and (r.item.entry is None or _entry_right(r)):
            continue
        if r.item.topic is None and r.result.kind != "answer":
            continue
        res = r.result
        q = r.item.q if len(r.item.q) <= 160 else r.item.q[:157] + "..."
        print(
            f"    {r.kind}: {q!r} -> {r.item.topic} [{r.item.entry}] / {res.kind} {res.topic} "
            f"[{res.entry}] {res.confidence:.2f}, {res.suggestions + res.clarify + res.also}"
        )


if __name__ == "__main__":
    sys.exit(main())
