"""`unionbot ask` and `unionbot kb check` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from handlers.rights.kb import packaged_data_dir
from tests.test_cli import run


def test_ask_prints_the_answer(tmp_path: Path) -> None:
    r = run(["ask", "luong toi thieu vung 1"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "5.310.000" in r.stdout and "293/2025" in r.stdout


def test_ask_json_single_and_batch(tmp_path: Path) -> None:
    r = run(["ask", "--json", "cty ko dong bhxh cho em"], tmp_path)
    obj = json.loads(r.stdout)
    assert {"topic", "score", "answer", "suggestions", "entry", "confidence"} <= set(obj)
    assert obj["topic"] == "social_insurance" and 0 < obj["score"] <= 1
    r = run(["ask", "--json", "--lang", "en"], tmp_path, stdin="nghi phep nam\nwho won the football match\n")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["topic"] for o in lines] == ["annual_leave", None]
    assert "Legal basis" in lines[0]["answer"] and "labour rights" in lines[1]["answer"]


def test_kb_check_passes_on_the_shipped_files(tmp_path: Path) -> None:
    r = run(["kb", "check"], tmp_path)
    assert r.returncode == 0 and "OK" in r.stdout


def test_kb_check_names_the_file_and_entry_at_fault(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(str(packaged_data_dir()), kb)
    entry = json.loads((kb / "probation.json").read_text(encoding="utf-8"))
    del entry["citation"]
    (kb / "probation.json").write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    (kb / "severance.json").unlink()
    r = run(["kb", "check", str(kb)], tmp_path)
    assert r.returncode == 1
    assert "probation.json" in r.stderr and "citation" in r.stderr
    assert "severance" in r.stderr


def test_all_topics_answer_in_the_terminal_chat_in_both_languages(tmp_path: Path) -> None:
    from handlers.rights.chat import default_service
    from handlers.rights.kb import REQUIRED_TOPICS
    from handlers.rights.search import normalize

    kb = default_service().kb
    cfg = tmp_path / "c.toml"
    cfg.write_text("[limits]\nflood_messages = 1000\n")  # a script types faster than any worker
    lines = [normalize(kb.topics[t].title_in("vi")) for t in REQUIRED_TOPICS]
    lines += ["/lang en"] + [kb.topics[t].title_in("en") for t in REQUIRED_TOPICS]
    r = run(["chat", "--config", str(cfg)], tmp_path, stdin="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    for t in REQUIRED_TOPICS:
        # The topic's short answer (full text behind Details), or one of its specific entries.
        for lang in ("vi", "en"):
            starts = [kb.topics[t].summary_in(lang), kb.topics[t].answer_in(lang)]
            starts += [e.answer_in(lang) for e in kb.entries_of(t)]
            assert any(x.strip()[:30] in r.stdout for x in starts if x.strip()), (t, lang)
    n = len(REQUIRED_TOPICS)
    assert r.stdout.count("📖 Căn cứ") == n and r.stdout.count("📖 Legal basis") == n


def test_ask_json_reports_entry_confidence_and_refuses_foreign_law(tmp_path: Path) -> None:
    from handlers.rights.kb import load_knowledge_base

    kb = load_knowledge_base()
    entry = sorted(kb.entries.values(), key=lambda e: e.id)[0]
    stdin = "\n".join(
        [
            "What is the minimum wage in Thailand?",
            "luong toi thieu o han quoc",
            entry.questions["vi"][0],
            "😂😂",
            "How many days of annual leave do I get?",
        ]
    )
    r = run(["ask", "--json", "--lang", "vi"], tmp_path, stdin=stdin + "\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 5  # one object per input line, whatever the input
    for obj in lines:
        assert {"topic", "score", "answer", "suggestions", "entry", "confidence"} <= set(obj)
        assert 0.0 <= obj["confidence"] <= 1.0
    assert lines[0]["topic"] is None and lines[0]["kind"] == "foreign_law"
    assert lines[1]["topic"] is None and lines[1]["kind"] == "foreign_law"
    assert lines[2]["topic"] == entry.topic and lines[2]["entry"] == entry.id
    assert entry.answer_in("vi")[:40] in lines[2]["answer"]
    assert lines[3]["topic"] is None and lines[3]["kind"] == "empty"
    assert lines[4]["topic"] == "annual_leave" and lines[4]["lang"] == "en"
    assert "Legal basis" in lines[4]["answer"] or "Labour Code" in lines[4]["answer"]
