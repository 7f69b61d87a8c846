"""The whole rights engine measured out of fold on the tuning split: the figures that
choose a change, since the held-out split may only be measured, never chosen on.

Run:  python3 dev.py bench bench/bench_rights_oof.py [--cache DIR] [--runner-up-below X ...]

The tuning questions are cut into the same 5 folds as handlers/rights/train.py. For each
fold the topic model and the entry model are retrained on the knowledge base and the other
four folds; that fold's questions are then searched by the whole engine (lexical half,
context rules, thresholds) with those models. The lexical share, calibration and answer
threshold are the shipped artifact's: refitting them per fold would need nested folds
(25 fits), and they move little from fold to fold. So the figures are slightly
optimistic about the threshold and honest about the models' weights.

It prints the same table as bench_rights.py for the tuning split, and, per value given
with --runner-up-below, what that cut does to "within one tap" and how many answers
carry the extra button. Latency is not measured here (bench_rights.py does that).
Needs scikit-learn (the training extra); about 6-8 minutes on 2 cores, seconds with
--cache once the fold models are stored.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
from dataclasses import replace
from pathlib import Path

from bench_rights import BM25Baseline, Row, _one_tap, kind_of, print_misses, print_table

from handlers.rights import search as engine
from handlers.rights.kb import load_knowledge_base
from handlers.rights.model import OOS_CLASS, LinearModel
from handlers.rights.search import Searcher
from handlers.rights.train import (
    ENTRY_PRUNE,
    FOLDS,
    MAX_ITER,
    MIN_DF,
    PRUNE,
    SEED,
    C,
    Labelled,
    entry_examples,
    knowledge_questions,
    train_entries,
    tuning_questions,
)
from handlers.rights.train import fit_linear as fit_topic_model


def fold_models(cache: Path | None) -> list[tuple[LinearModel, LinearModel, list[Labelled]]]:
    """(topic model, entry model, held-back questions) per fold; cached by their inputs."""
    from sklearn.model_selection import KFold

    kb = load_knowledge_base()
    tune = sorted(tuning_questions(), key=lambda it: (it.source, it.q))
    searcher = Searcher(kb, model=False)
    base = knowledge_questions(kb)
    # The fold models depend on the texts' features and labels only: keyed by those, the
    # cache outlives edits to the engine's rules and survives none to what the models read.
    digest = hashlib.sha256(repr((C, MIN_DF, MAX_ITER, SEED, FOLDS, ENTRY_PRUNE, PRUNE)).encode())
    for it in [*base, *tune, *entry_examples(kb)]:
        key = (it.source, it.topic, it.entry, it.alt_entry, sorted(searcher.model_vector(it.q).items()))
        digest.update(repr(key).encode())
    path = cache / f"oof-engine-{digest.hexdigest()[:16]}.pickle" if cache else None
    splits = list(KFold(n_splits=FOLDS, shuffle=True, random_state=SEED).split(tune))
    # Only the models are cached: the held-back questions are read afresh, so a label the
    # models do not train on (an acceptable second topic) is measured as it is now.
    if path is not None and path.exists():
        models = pickle.loads(path.read_bytes())
    else:
        classes = [*sorted(kb.topics), OOS_CLASS]
        models = []
        for i, (train_idx, _) in enumerate(splits):
            train_items = [tune[j] for j in train_idx]
            models.append((fit_topic_model(searcher, base + train_items, classes), train_entries(kb, train_items)))
            print(f"  fold {i + 1}/{FOLDS} trained", flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(models))
    return [
        (topic, entry, [tune[j] for j in test_idx])
        for (topic, entry), (_, test_idx) in zip(models, splits, strict=True)
    ]


def run(folds: list[tuple[LinearModel, LinearModel, list[Labelled]]]) -> list[Row]:
    kb = load_knowledge_base()
    searcher = Searcher(kb)
    shipped = searcher.model
    assert shipped is not None, "no packaged model: train one first"
    baseline = BM25Baseline(kb)
    baseline.fit_threshold([it for _, _, items in folds for it in items])
    rows = []
    for topic, entry, items in folds:
        searcher.model = replace(
            topic, calibration=shipped.calibration, lexical_share=shipped.lexical_share, answer_at=shipped.answer_at
        )
        searcher.entry_model = entry
        for m in (searcher.model, searcher.entry_model):
            m.predict({})
        for it in items:
            rows.append(Row(it, kind_of(it), searcher.search(it.q), 0.0, baseline.search(it.q)))
    return rows


def runner_up_cuts(rows: list[Row], cuts: list[float]) -> None:
    print("\n  runner-up button cut: within one tap (real | short), answers carrying the extra button")
    saved = engine.RUNNER_UP_BELOW
    try:
        for cut in cuts:
            engine.RUNNER_UP_BELOW = cut
            parts = []
            for real in (True, False):
                inside = [r for r in rows if (r.kind == "real") == real and r.item.topic is not None]
                answers = [r for r in rows if (r.kind == "real") == real and r.result.kind == "answer"]
                tap = sum(_one_tap(r) for r in inside) / max(1, len(inside))
                extra = sum(bool(r.result.other_guesses) for r in answers) / max(1, len(answers))
                parts.append(f"{100 * tap:5.1f}% ({100 * extra:4.1f}% of answers)")
            print(f"    below {cut:.2f}: real {parts[0]} | short {parts[1]}")
    finally:
        engine.RUNNER_UP_BELOW = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="keep the fold models here between runs")
    parser.add_argument("--misses", action="store_true", help="list the out-of-fold misses")
    parser.add_argument(
        "--runner-up-below", type=float, nargs="*", default=[], help="compare runner-up button cuts (e.g. 0.8 0.9)"
    )
    args = parser.parse_args(argv)
    print("Rights engine, out of fold on the tuning split (fold models, shipped settings)")
    rows = run(fold_models(args.cache))
    print_table("TUNING split, out of fold", rows, timed=False)
    if args.runner_up_below:
        runner_up_cuts(rows, args.runner_up_below)
    if args.misses:
        print_misses(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
