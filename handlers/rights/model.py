"""The learned second opinion: a linear classifier over word and character n-grams
(and, beside them, the word vectors of vectors.py as features "v0" ...).

Trained offline by `handlers/rights/train.py` (scikit-learn, fixed seeds) from the
knowledge base's own question variants and the tuning split; the weights ship as a
small gzipped JSON next to this module. Inference needs numpy only (a dense weight
matrix built at start-up, one row look-up per feature of the question); scikit-learn
is for training.

The same `features()` function builds the training matrix and the run-time vector,
so the two can never drift apart.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["ARTIFACT", "ENTRY_ARTIFACT", "OOS_CLASS", "Calibration", "LinearModel", "features", "load_model"]

ARTIFACT = "rights_model.json.gz"
ENTRY_ARTIFACT = "rights_entry_model.json.gz"  # which specific entry, within a topic
OOS_CLASS = "__oos__"  # the class of questions the bot should not answer
CHAR_NGRAMS = (3, 4, 5)
MAX_FEATURE_CHARS = 1500  # characters of each part that are featurised; bounds latency


def features(parts: Sequence[tuple[str, float]]) -> dict[str, float]:
    """L2-normalised n-gram features of folded text parts, each with its weight.

    `parts` are (folded text, weight): the question sentence weighs 1, the story's
    background less. A feature seen in several parts keeps its largest weight: a long
    story is never worth more than its sentences, only more of them.
    """
    out: dict[str, float] = {}

    def put(key: str, w: float) -> None:
        if out.get(key, 0.0) < w:
            out[key] = w

    for text, weight in parts:
        words = text[:MAX_FEATURE_CHARS].split()
        if not words:
            continue
        for i, word in enumerate(words):
            put("w " + word, weight)
            if i:
                put("b " + words[i - 1] + " " + word, weight)
        padded = " " + " ".join(words) + " "
        for n in CHAR_NGRAMS:
            for i in range(len(padded) - n + 1):
                put("c" + padded[i : i + n], weight * 0.5)
    norm = math.sqrt(sum(v * v for v in out.values())) or 1.0
    return {k: v / norm for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class Calibration:
    """Platt scaling of the combined score, fitted out of fold on the tuning split."""

    coef: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    intercept: float = 0.0

    def __call__(self, x: Sequence[float]) -> float:
        z = self.intercept + sum(c * v for c, v in zip(self.coef, x, strict=False))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


_DENSE: dict[int, tuple[LinearModel, tuple[dict[str, int], np.ndarray, np.ndarray]]] = {}


@dataclass(frozen=True, slots=True)
class LinearModel:
    classes: tuple[str, ...]
    intercept: tuple[float, ...]
    # feature -> ((class index, weight), ...): only the weights that survived pruning
    weights: Mapping[str, tuple[tuple[int, float], ...]]
    calibration: Calibration = field(default_factory=Calibration)
    lexical_share: float = 0.5  # weight of the lexical confidence in the combined score
    answer_at: float = 0.5  # calibrated confidence from which the bot answers outright
    meta: Mapping[str, Any] = field(default_factory=dict)

    def predict(self, vector: Mapping[str, float]) -> dict[str, float]:
        """class -> probability (softmax over the linear scores)."""
        index, matrix, intercept = self._dense()
        rows, values = [], []
        for feat, value in vector.items():
            i = index.get(feat)
            if i is not None:
                rows.append(i)
                values.append(value)
        scores = intercept.copy()
        if rows:
            scores += np.asarray(values, dtype=np.float32) @ matrix[rows]
        scores -= scores.max()
        exps = np.exp(scores)
        probs = (exps / exps.sum()).tolist()
        return dict(zip(self.classes, probs, strict=True))

    def _dense(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """A dense matrix built on first use: one row per feature, one column per class."""
        cached = _DENSE.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        index = {f: i for i, f in enumerate(self.weights)}
        matrix = np.zeros((len(index) + 1, len(self.classes)), dtype=np.float32)
        for f, row in self.weights.items():
            for ci, w in row:
                matrix[index[f], ci] = w
        dense = (index, matrix, np.asarray(self.intercept, dtype=np.float64))
        _DENSE[id(self)] = (self, dense)
        return dense

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "intercept": [round(v, 5) for v in self.intercept],
            "weights": {f: [[ci, round(w, 4)] for ci, w in row] for f, row in sorted(self.weights.items())},
            "calibration": {
                "coef": [round(c, 6) for c in self.calibration.coef],
                "intercept": round(self.calibration.intercept, 6),
            },
            "lexical_share": self.lexical_share,
            "answer_at": self.answer_at,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        cal = data.get("calibration") or {}
        return cls(
            classes=tuple(data["classes"]),
            intercept=tuple(float(v) for v in data["intercept"]),
            weights={f: tuple((int(ci), float(w)) for ci, w in row) for f, row in data["weights"].items()},
            calibration=Calibration(tuple(cal.get("coef", Calibration().coef)), float(cal.get("intercept", 0.0))),
            lexical_share=float(data.get("lexical_share", 0.5)),
            answer_at=float(data.get("answer_at", 0.5)),
            meta=data.get("meta", {}),
        )


def dumps(model: LinearModel) -> bytes:
    """Deterministic bytes (sorted keys, fixed gzip mtime) so a retrain can be diffed."""
    text = json.dumps(model.to_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def loads(blob: bytes) -> LinearModel:
    return LinearModel.from_json(json.loads(gzip.decompress(blob).decode("utf-8")))


def load_model(known_classes: Iterable[str] | None = None, *, artifact: str = ARTIFACT) -> LinearModel | None:
    """The packaged model, or None when it is missing or was trained for other classes."""
    path = resources.files(__package__) / artifact
    if not path.is_file():
        return None
    model = loads(path.read_bytes())
    if known_classes is not None:
        # A federation may add topics the model never saw; that is fine. A model that
        # names topics the knowledge base no longer has would answer with a dead id.
        known = set(known_classes) | {OOS_CLASS}
        if not set(model.classes) <= known:
            return None
    return model
