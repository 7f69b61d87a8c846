"""Guards the frozen evaluation split (bench/data/HELDOUT.md).

The held-out files may be measured on but never edited; these tests fail if a
held-out file no longer matches the sha256 recorded when it was frozen, or if
the tune/held-out files overlap or break their line format.
"""

import hashlib
import json
import re
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "bench" / "data"
TOPIC_DIR = Path(__file__).resolve().parent.parent / "handlers" / "rights" / "data"
NEW_TOPICS = {"tet_bonus", "pregnant_workers", "wage_deductions", "commuting_accident"}
KINDS = {"nodiacritics", "diacritics", "english", "oos", "ambiguous"}


def _rows(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def _recorded_hashes():
    text = (DATA / "HELDOUT.md").read_text(encoding="utf-8")
    return dict(re.findall(r"\| (\w+\.jsonl) \| \d+ \| `([0-9a-f]{64})` \|", text))


def test_heldout_files_match_recorded_sha256():
    recorded = _recorded_hashes()
    for name in ("short_heldout.jsonl", "real_heldout.jsonl"):
        actual = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
        assert recorded[name] == actual, f"{name} changed after it was frozen"


def test_splits_are_disjoint_and_labelled():
    topics = {p.stem for p in TOPIC_DIR.glob("*.json")} | NEW_TOPICS
    for prefix in ("short", "real"):
        tune, held = _rows(f"{prefix}_tune.jsonl"), _rows(f"{prefix}_heldout.jsonl")
        assert {r["split"] for r in tune} == {"tune"}
        assert {r["split"] for r in held} == {"heldout"}
        assert not {r["id"] for r in tune} & {r["id"] for r in held}
        assert not {r["q"] for r in tune} & {r["q"] for r in held}
        for r in tune + held:
            assert r["topic"] is None or r["topic"] in topics, r["id"]
            assert r["alt_topic"] is None or r["alt_topic"] in topics, r["id"]
            if prefix == "short":
                assert r["kind"] in KINDS
            else:
                assert r["url"].startswith("http") and r["asks"]


def test_entry_labels_cover_every_real_question_once():
    real_ids = {r["id"] for r in _rows("real_tune.jsonl") + _rows("real_heldout.jsonl")}
    labels = _rows("real_entry_labels.jsonl")
    assert [r["id"] for r in labels] == sorted(real_ids)
    for r in labels:
        assert set(r) == {"id", "entry", "alt_entry"}
        if r["entry"] is None:
            assert r["alt_entry"] is None or "." in r["alt_entry"]
        else:
            assert r["entry"].split(".")[0] in {p.stem for p in TOPIC_DIR.glob("*.json")} | NEW_TOPICS
