"""`unionbot kb check` rules of issues 9 and 19: each rule fails on a file breaking it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from handlers.rights.kb import (
    AUTHORING_NOTES,
    REQUIRED_TOPICS,
    check_knowledge_dir,
    figure_warnings,
    figures_in,
    load_knowledge_base,
    packaged_data_dir,
)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(str(packaged_data_dir()), target)
    assert check_knowledge_dir(target) == []
    return target


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _first_entry_file(data_copy: Path) -> Path:
    return sorted((data_copy / "entries").glob("*.json"))[0]


def _edit_entry(data_copy: Path, change: Callable[[dict[str, Any]], None]) -> str:
    path = _first_entry_file(data_copy)
    holder: dict[str, str] = {}

    def apply(data: dict[str, Any]) -> None:
        change(data["entries"][0])
        holder["id"] = data["entries"][0]["id"]

    _edit(path, apply)
    return holder["id"]


def _problems(data_copy: Path) -> str:
    return "\n".join(check_knowledge_dir(data_copy))


def test_shipped_knowledge_base_has_the_new_topics_entries_and_regions() -> None:
    kb = load_knowledge_base()
    assert (
        {"tet_bonus", "pregnant_workers", "wage_deductions", "commuting_accident"}
        <= set(REQUIRED_TOPICS)
        <= set(kb.topics)
    )
    assert len(kb.entries) >= 250
    shaped = [t for t in kb.topics.values() if t.summary_in("vi") and t.summary_in("en") and t.next_step_in("en")]
    assert len(shaped) == len(kb.topics)
    regions = kb.wage_regions_for("ho_chi_minh")
    assert regions and regions[0].region == 1 and regions[0].monthly == 5_310_000
    assert kb.wage_regions_for("nowhere") == []
    entry = next(iter(kb.entries.values()))
    assert entry in kb.entries_of(entry.topic)
    assert entry.answer_in("en") and entry.title_in("vi") and entry.citation_in("en")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.__setitem__("summary", {"vi": "x" * 351, "en": "y"}), "summary is 351"),
        (lambda d: d.__setitem__("bullets", {"vi": ["a", "b", "c", "d"], "en": ["a"]}), "4 vi bullets"),
        (lambda d: d.__setitem__("bullets", {"vi": ["a" * 161], "en": ["a"]}), "bullet is 161"),
        (lambda d: d.__setitem__("next_step", {"vi": "n" * 201, "en": "n"}), "next step is 201"),
        (lambda d: d.__setitem__("title", {"vi": "t" * 41, "en": "t"}), "title is 41"),
        (lambda d: d["answer"].__setitem__("vi", d["answer"]["vi"] + " Chưa có nguồn xác nhận."), "authoring note"),
        (lambda d: d["summary"].__setitem__("en", d["summary"]["en"] + " (source: fact sheet)"), "authoring note"),
        (
            lambda d: d["summary"].__setitem__("en", d["summary"]["en"] + " It is 99 days."),
            "figures in the summary differ",
        ),
        (lambda d: d["answer"].__setitem__("vi", d["answer"]["vi"] + " Thêm 77%."), "figures in the answer differ"),
    ],
)
def test_topic_rules(data_copy: Path, change: Callable[[dict[str, Any]], None], message: str) -> None:
    _edit(data_copy / "annual_leave.json", change)
    assert message in _problems(data_copy)


def test_hedge_is_required_in_the_summary_of_an_uncertain_topic(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["certainty"] = "secondary"
        d["answer"]["vi"] += " Hãy hỏi cán bộ công đoàn để xác nhận."
        d["answer"]["en"] += " Please confirm with a union officer."
        d["answer"]["vi"] = d["answer"]["vi"].replace("Hãy hỏi cán bộ", "hãy hỏi cán bộ")

    _edit(data_copy / "annual_leave.json", change)
    problems = _problems(data_copy)
    assert "lacks the hedge" in problems and "summary" in problems
    assert "answer lacks" not in problems


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["answer"].__setitem__("vi", "a" * 351), "answer is 351"),
        (lambda e: e["title"].__setitem__("en", "t" * 41), "title is 41"),
        (lambda e: e.pop("citation"), "missing vi citation"),
        (lambda e: e["next_step"].__setitem__("en", "n" * 201), "next step is 201"),
        (lambda e: e["answer"].__setitem__("en", e["answer"]["en"] + " TODO check"), "authoring note"),
        (lambda e: e["answer"].__setitem__("vi", e["answer"]["vi"] + " cần kiểm chứng"), "authoring note"),
        (
            lambda e: e["answer"].__setitem__("en", e["answer"]["en"] + " Up to 64 days."),
            "figures in the answer differ",
        ),
        (lambda e: e.__setitem__("certainty", "uncertain"), "lacks the hedge"),
        (lambda e: e.__setitem__("certainty", "maybe"), "certainty must be"),
        (lambda e: e.__setitem__("related", ["no_such_topic"]), "unknown related id"),
        (lambda e: e.__setitem__("id", "Bad Id"), "invalid id"),
        (lambda e: e.__setitem__("notes", "x"), "unknown field"),
        (lambda e: e.__setitem__("cues", "giờ"), "cues must be a list of text"),
        # An entry's own question variants are its training examples: each must hold a
        # cue, or the rule guarding the entry would contradict what it is trained on.
        (lambda e: e.__setitem__("cues", ["không có trong câu hỏi nào"]), "does not hold the cues"),
        (lambda e: e.__setitem__("excludes", "lễ"), "excludes must be a list of text"),
        # Nor may an entry's own question hold a word that rules it out.
        (lambda e: e.__setitem__("excludes", [e["questions"]["en"][0]]), "holds an excluded word"),
    ],
)
def test_entry_rules(data_copy: Path, change: Callable[[dict[str, Any]], None], message: str) -> None:
    _edit_entry(data_copy, change)
    assert message in _problems(data_copy)


def test_entry_of_an_unknown_topic_and_duplicate_ids(data_copy: Path) -> None:
    path = _first_entry_file(data_copy)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["entries"].append(dict(data["entries"][0]))
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    stray = data_copy / "entries" / "ghost_topic.json"
    stray.write_text(
        json.dumps(
            {"topic": "ghost_topic", "entries": [{**data["entries"][0], "id": "ghost_topic.one"}]}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    problems = _problems(data_copy)
    assert "duplicate id" in problems
    assert "unknown topic 'ghost_topic'" in problems


def test_wage_regions_need_every_province_and_a_valid_region(data_copy: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["provinces"].pop("ha_noi")
        first = next(iter(d["provinces"].values()))
        first["regions"][0]["region"] = 5
        d["amounts"]["2"]["monthly"] = "lots"

    _edit(data_copy / "_wage_regions.json", change)
    problems = _problems(data_copy)
    assert "province 'ha_noi' missing" in problems
    assert "region must be 1, 2, 3 or 4" in problems
    assert "amounts.2" in problems


def test_missing_new_topic_is_reported(data_copy: Path) -> None:
    (data_copy / "tet_bonus.json").unlink()
    assert "missing required topic 'tet_bonus'" in _problems(data_copy)


def test_authoring_note_list_covers_both_languages() -> None:
    assert {"chưa có nguồn", "cần kiểm chứng", "todo", "unverified", "[?]"} <= set(AUTHORING_NOTES)


@pytest.mark.parametrize(
    ("vi", "en"),
    [
        ("từ 1/7/2026", "from 1 July 2026"),
        ("5.310.000 đồng", "VND 5,310,000"),
        ("1,5 lần", "1.5 times"),
        ("từ 22 giờ đến 6 giờ", "from 22:00 to 06:00"),
        ("Điều 3, 4, 5", "Arts. 3, 4, 5"),
        ("tháng 7/2026", "July 2026"),
    ],
)
def test_figures_compare_across_formats(vi: str, en: str) -> None:
    assert figures_in(vi, "vi") == figures_in(en, "en")


def test_figures_that_really_differ_are_told_apart() -> None:
    assert figures_in("nghỉ 10 ngày", "vi") != figures_in("5 days off", "en")
    assert figures_in("You may take leave", "en") == set()  # "may" the verb is no month


def test_entry_figures_the_topic_never_states_are_reported() -> None:
    kb = load_knowledge_base()
    warnings = figure_warnings(kb)
    assert all(":" in w for w in warnings)
    # Pick an entry with a percentage and give it one its topic does not state.
    import dataclasses

    entry = next(
        e for e in kb.entries.values() if "%" in e.answer_in("vi") and "%" in kb.topics[e.topic].answer_in("vi")
    )
    bad = dataclasses.replace(entry, answer={"vi": entry.answer["vi"] + " 93%", "en": entry.answer["en"] + " 93%"})
    kb2 = dataclasses.replace(kb, entries={**kb.entries, entry.id: bad})
    assert any(w.startswith(entry.id) and "93" in w for w in figure_warnings(kb2))


def test_cues_held_by_every_question_pass_with_and_without_diacritics(data_copy: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        e["questions"] = {"vi": ["Tăng ca ban đêm tính sao?", "tang ca dem tinh sao"], "en": ["night overtime"]}
        e["cues"] = ["đêm", "dem", "night"]

    _edit_entry(data_copy, change)
    assert _problems(data_copy) == ""
    # Typed without diacritics, a one-syllable cue with diacritics is not looked for: "dem"
    # must be listed for "tang ca dem" to hold one.
    _edit_entry(data_copy, lambda e: e.__setitem__("cues", ["đêm", "night"]))
    assert "'tang ca dem tinh sao' does not hold the cues" in _problems(data_copy)


def test_cue_groups_each_need_a_word_of_the_question(data_copy: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        e["questions"] = {"vi": ["tăng ca đêm chủ nhật", "tang ca dem chu nhat"], "en": ["Sunday night overtime"]}
        e["cues"] = [["đêm", "dem", "night"], ["chủ nhật", "chu nhat", "sunday"]]

    _edit_entry(data_copy, change)
    assert _problems(data_copy) == ""
    # The night alone is not enough once the Sunday is a group of its own.
    _edit_entry(data_copy, lambda e: e["questions"]["en"].append("night overtime"))
    assert "'night overtime' does not hold the cues" in _problems(data_copy)
