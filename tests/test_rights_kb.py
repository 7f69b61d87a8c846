"""The rights knowledge base: packaged content, validation, federation overrides."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from handlers.i18n import LANGUAGES
from handlers.rights.kb import (
    CERTAINTIES,
    HEDGE_MARKERS,
    MAX_ANSWER_CHARS,
    REQUIRED_TOPICS,
    KnowledgeBase,
    KnowledgeBaseError,
    check_knowledge_dir,
    load_knowledge_base,
    packaged_data_dir,
)

# Figures the fact sheet marks 🟡 secondary or ⚠️ uncertain. Wherever an answer states
# one, the same answer must send the worker to a union officer.
FLAGGED_FIGURES = {
    "vi": [
        "24/11",
        "Nghị quyết 28/2026",
        "Luật Dân số",
        "Quyết định 61",
        "253.000",
        "Thanh tra tỉnh",
        "Ủy ban nhân dân",
        "0,5% tiền lương",
        "quỹ tai nạn lao động (công ty 0,5%)",
    ],
    "en": [
        "24 November",
        "Resolution 28/2026",
        "Population Law",
        "Decision 61",
        "253,000",
        "provincial Inspectorate",
        "People's Committee",
        "0.5% of your",
        "work-accident fund",
    ],
}
# The 2027 regional minimum wage is only a draft: its figures must not appear at all.
DRAFT_2027_FIGURES = ["5.700.000", "5,700,000", "5.080.000", "5,080,000", "4.450.000", "4.040.000"]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged topic files."""
    target = tmp_path / "data"
    target.mkdir()
    for entry in packaged_data_dir().iterdir():
        if entry.name.endswith(".json"):
            (target / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# --- packaged content ---------------------------------------------------------------------


def test_required_topics_are_exactly_the_40_agreed_ids() -> None:
    assert len(REQUIRED_TOPICS) == len(set(REQUIRED_TOPICS)) == 40
    assert {"minimum_wage", "one_time_si_withdrawal", "personal_data"} <= set(REQUIRED_TOPICS)


def test_packaged_directory_is_valid() -> None:
    assert check_knowledge_dir(packaged_data_dir()) == []


def test_every_required_topic_is_complete_in_both_languages(kb: KnowledgeBase) -> None:
    assert set(kb.topics) == set(REQUIRED_TOPICS)
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            assert topic.questions[lang], (topic.id, lang)
            assert topic.answer[lang].strip(), (topic.id, lang)
            assert topic.citation[lang].strip(), (topic.id, lang)
        assert date(2026, 11, 22) <= topic.reviewed <= date(2026, 12, 31), topic.id
        assert topic.effective <= topic.reviewed, topic.id
        assert topic.certainty in CERTAINTIES
        assert set(topic.related) <= set(kb.topics) - {topic.id}


def test_questions_include_diacritic_free_forms(kb: KnowledgeBase) -> None:
    # Workers often type without diacritics; every topic must be phrased that way too.
    for topic in kb.topics.values():
        assert any(q.isascii() for q in topic.questions["vi"]), topic.id


def test_answers_fit_one_phone_screen(kb: KnowledgeBase) -> None:
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            assert len(topic.answer[lang]) <= MAX_ANSWER_CHARS, (topic.id, lang)


def test_answers_leave_the_disclaimer_footer_to_the_handler(kb: KnowledgeBase) -> None:
    footer_words = [
        "hotline",
        "đường dây nóng",
        "legal advice",
        "tư vấn pháp lý",
        "thông tin chung",
        "general information",
    ]
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            text = topic.answer[lang].lower()
            assert not [w for w in footer_words if w in text], (topic.id, lang)


def test_topics_not_fully_confirmed_are_hedged_in_both_languages(kb: KnowledgeBase) -> None:
    hedged = [t for t in kb.topics.values() if t.hedged]
    assert {"union_dues", "health_insurance", "strike", "public_holidays"} <= {t.id for t in hedged}
    for topic in hedged:
        for lang in LANGUAGES:
            # Phrased for the worker (issue 9): the marker, at any capitalisation.
            assert HEDGE_MARKERS[lang].casefold() in topic.answer[lang].casefold(), (topic.id, lang)


def test_every_flagged_figure_is_stated_with_a_hedge(kb: KnowledgeBase) -> None:
    seen = 0
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            for figure in FLAGGED_FIGURES[lang]:
                if figure in topic.answer[lang]:
                    seen += 1
                    assert HEDGE_MARKERS[lang].casefold() in topic.answer[lang].casefold(), (topic.id, lang, figure)
    assert seen >= 10  # the list must keep matching the answers it is meant to police


def test_draft_2027_minimum_wage_is_not_stated_as_fact(kb: KnowledgeBase) -> None:
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            assert not [f for f in DRAFT_2027_FIGURES if f in topic.answer[lang]], topic.id
    assert HEDGE_MARKERS["vi"] in kb.topics["minimum_wage"].answer["vi"]


def test_current_figures_match_the_fact_sheet(kb: KnowledgeBase) -> None:
    assert "5.310.000" in kb.topics["minimum_wage"].answer["vi"]
    assert "3.700.000" in kb.topics["minimum_wage"].answer["vi"]
    assert "0,5%" in kb.topics["union_dues"].answer["vi"]
    assert "2%" in kb.topics["union_dues"].answer["vi"]
    assert "61 tuổi 6 tháng" in kb.topics["retirement_age"].answer["vi"]
    assert "40 giờ/tháng" in kb.topics["overtime_limits"].answer["vi"]


def test_categories_group_every_topic_with_names_in_both_languages(kb: KnowledgeBase) -> None:
    grouped = [t.id for c in kb.categories for t in kb.topics_in(c)]
    assert sorted(grouped) == sorted(REQUIRED_TOPICS)
    assert kb.category_name("wages", "vi") == "Tiền lương"
    assert kb.category_name("wages", "en") == "Wages"
    assert kb.category_name("wages", "fr") == "Tiền lương"  # falls back to Vietnamese
    assert {t.id for t in kb.topics_in("union")} >= {"union_join", "union_dues"}


def test_answer_in_falls_back_to_vietnamese(kb: KnowledgeBase) -> None:
    topic = kb.topics["strike"]
    assert topic.answer_in("en") == topic.answer["en"]
    assert topic.answer_in(None) == topic.answer["vi"]
    assert topic.answer_in("ko") == topic.answer["vi"]


# --- validation of a broken directory --------------------------------------------------


def test_broken_directory_reports_each_problem_with_file_and_entry(data_copy: Path) -> None:
    (data_copy / "child_labor.json").unlink()
    _edit(data_copy / "probation.json", questions={"vi": ["Thử việc bao lâu?"]})
    _edit(data_copy / "severance.json", answer={"vi": "Trợ cấp thôi việc: nửa tháng lương."})
    _edit(data_copy / "dialogue.json", citation=None)
    _edit(data_copy / "strike.json", reviewed="2026-13-01")
    _edit(data_copy / "harassment.json", effective="22/11/2026")
    _edit(data_copy / "osh_rights.json", related=["work_accident", "no_such_topic"])
    duplicate = json.loads((data_copy / "annual_leave.json").read_text(encoding="utf-8"))
    (data_copy / "annual_leave_copy.json").write_text(json.dumps(duplicate), encoding="utf-8")
    (data_copy / "broken.json").write_text("{not json", encoding="utf-8")

    problems = check_knowledge_dir(data_copy)
    text = "\n".join(problems)

    def has(*parts: str) -> bool:
        return any(all(p in line for p in parts) for line in problems)

    assert has("missing required topic 'child_labor'"), text
    assert has("probation.json", "[probation]", "missing en questions"), text
    assert has("severance.json", "[severance]", "missing en answer"), text
    assert has("dialogue.json", "[dialogue]", "missing vi citation"), text
    assert has("dialogue.json", "[dialogue]", "missing en citation"), text
    assert has("strike.json", "[strike]", "reviewed is not a real date"), text
    assert has("harassment.json", "[harassment]", "effective must be an ISO date"), text
    assert has("osh_rights.json", "[osh_rights]", "unknown related id 'no_such_topic'"), text
    assert has("annual_leave_copy.json", "[annual_leave]", "duplicate id"), text
    assert has("broken.json", "invalid JSON"), text
    with pytest.raises(KnowledgeBaseError):
        # The same rules guard start-up: a federation cannot load a broken directory.
        load_knowledge_base(data_copy)


def test_missing_reviewed_date_and_unhedged_secondary_topic_are_reported(data_copy: Path) -> None:
    _edit(data_copy / "maternity.json", reviewed=None)
    _edit(data_copy / "union_dues.json", answer={"vi": "Đoàn phí là 0,5%.", "en": "Dues are 0.5%."})
    problems = "\n".join(check_knowledge_dir(data_copy))
    assert "maternity.json [maternity]: missing reviewed date" in problems
    assert "union_dues.json [union_dues]: secondary topic, but the vi answer lacks the hedge" in problems
    assert "union_dues.json [union_dues]: secondary topic, but the en answer lacks the hedge" in problems


def test_misspelled_field_and_overlong_answer_are_reported(data_copy: Path) -> None:
    _edit(data_copy / "sick_leave.json", anwser={"vi": "x"})
    long_answer = {"vi": "Nghỉ ốm. " * 150, "en": "Sick leave."}
    _edit(data_copy / "sick_leave.json", answer=long_answer)
    problems = "\n".join(check_knowledge_dir(data_copy))
    assert "[sick_leave]: unknown field(s) anwser" in problems
    assert "[sick_leave]: vi answer is" in problems and "one phone screen" in problems


def test_titles_are_optional_but_complete_and_short(data_copy: Path, kb: KnowledgeBase) -> None:
    assert kb.topics["strike"].title_in("en") == "Strikes"
    _edit(data_copy / "strike.json", title={"vi": "Đình công"})
    _edit(data_copy / "dialogue.json", title={"vi": "Đối thoại " * 6, "en": "Dialogue"})
    _edit(data_copy / "probation.json", title=None)
    problems = "\n".join(check_knowledge_dir(data_copy))
    assert "strike.json [strike]: title, when given, needs vi and en text" in problems
    assert "dialogue.json [dialogue]: vi title is 60 characters" in problems
    assert "probation" not in problems  # no title at all is fine: the first question stands in


def test_cues_are_optional_lists_of_text(data_copy: Path, kb: KnowledgeBase) -> None:
    assert "quấy rối" in kb.topics["harassment"].cues[0] and kb.topics["strike"].cues == ()
    _edit(data_copy / "strike.json", cues="đình công")
    _edit(data_copy / "dialogue.json", cues=["đối thoại", ""])
    problems = "\n".join(check_knowledge_dir(data_copy))
    assert "strike.json [strike]: cues must be a list of text, or a list of such lists" in problems
    assert "dialogue.json [dialogue]: cues must be a list of text, or a list of such lists" in problems


def test_a_summary_opening_with_a_bare_yes_or_no_is_reported(data_copy: Path, kb: KnowledgeBase) -> None:
    summary = dict(kb.topics["osh_rights"].summary)
    _edit(data_copy / "osh_rights.json", summary={"vi": "Có: " + summary["vi"], "en": "Yes: " + summary["en"]})
    problems = "\n".join(check_knowledge_dir(data_copy))
    assert "osh_rights.json [osh_rights]: vi summary opens with a bare 'Có'" in problems
    assert "[osh_rights]: en summary opens with a bare 'Yes'" in problems


def test_no_entry_answer_opens_with_a_bare_yes_or_no(kb: KnowledgeBase) -> None:
    # kb check refuses them; this names the entries if the rule is ever loosened.
    opening = re.compile(r"^(có|không|được|yes|no)\s*[.,:;]", re.IGNORECASE)
    bare = [(e.id, lang) for e in kb.entries.values() for lang, a in e.answer.items() if opening.match(a)]
    assert bare == []


def test_not_a_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    assert check_knowledge_dir(tmp_path / "missing") == [f"{tmp_path / 'missing'}: not a directory"]


# --- federation overrides ----------------------------------------------------------------


def test_override_directory_changes_only_the_given_fields(tmp_path: Path, kb: KnowledgeBase) -> None:
    local_note = "Liên đoàn Lao động tỉnh: gọi 0123 456 789 (giờ hành chính)."
    (tmp_path / "union_legal_aid.json").write_text(
        json.dumps(
            {"id": "union_legal_aid", "answer": {"vi": kb.topics["union_legal_aid"].answer["vi"] + " " + local_note}},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )

    merged = load_knowledge_base(tmp_path)
    topic = merged.topics["union_legal_aid"]
    assert topic.answer["vi"].endswith(local_note)
    assert topic.answer["en"] == kb.topics["union_legal_aid"].answer["en"]
    assert topic.questions == kb.topics["union_legal_aid"].questions
    assert topic.citation == kb.topics["union_legal_aid"].citation
    assert topic.sources[-1] == str(tmp_path / "union_legal_aid.json")
    assert merged.topics["minimum_wage"] == kb.topics["minimum_wage"]


def test_override_directory_can_add_a_topic_and_a_category(tmp_path: Path) -> None:
    (tmp_path / "_categories.json").write_text(
        json.dumps({"local": {"vi": "Tin địa phương", "en": "Local news"}}), encoding="utf-8"
    )
    new_topic = {
        "id": "mai_am_cong_doan",
        "category": "local",
        "certainty": "confirmed",
        "effective": "2026-01-01",
        "reviewed": "2026-11-22",
        "questions": {
            "vi": ["Mái ấm Công đoàn là gì?", "mai am cong doan"],
            "en": ["What is the union housing programme?"],
        },
        "answer": {
            "vi": "Chương trình hỗ trợ nhà ở của công đoàn tỉnh.",
            "en": "The provincial union's housing support programme.",
        },
        "citation": {"vi": "Kế hoạch của LĐLĐ tỉnh", "en": "Provincial federation plan"},
        "related": ["union_rights"],
    }
    (tmp_path / "mai_am_cong_doan.json").write_text(json.dumps(new_topic, ensure_ascii=False), encoding="utf-8")
    merged = load_knowledge_base(tmp_path)
    assert merged.topics["mai_am_cong_doan"].related == ("union_rights",)
    assert [t.id for t in merged.topics_in("local")] == ["mai_am_cong_doan"]
    assert merged.category_name("local", "en") == "Local news"
    assert set(REQUIRED_TOPICS) < set(merged.topics)


def test_override_cannot_remove_a_hedge(tmp_path: Path) -> None:
    (tmp_path / "union_dues.json").write_text(
        json.dumps({"id": "union_dues", "answer": {"vi": "Đoàn phí là 0,5% lương."}}, ensure_ascii=False),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(tmp_path)
    assert any(str(tmp_path / "union_dues.json") in p and "lacks the hedge" in p for p in err.value.problems)


def test_incomplete_new_topic_in_override_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "local_only.json").write_text(
        json.dumps(
            {
                "id": "local_only",
                "category": "other",
                "certainty": "confirmed",
                "effective": "2026-01-01",
                "reviewed": "2026-11-22",
                "questions": {"vi": ["hỏi"], "en": ["ask"]},
                "answer": {"vi": "trả lời"},
                "citation": {"vi": "x", "en": "x"},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(tmp_path)
    assert err.value.problems == [f"{tmp_path / 'local_only.json'} [local_only]: missing en answer"]


def test_packaged_files_are_untouched_by_overrides(tmp_path: Path) -> None:
    shutil.copy(Path(str(packaged_data_dir() / "strike.json")), tmp_path / "strike.json")
    before = load_knowledge_base()
    load_knowledge_base(tmp_path)
    assert load_knowledge_base() == before


def test_answers_state_the_figure_the_question_turns_on(kb: KnowledgeBase) -> None:
    # Found by an outside tester: "nghi thai san duoc may thang" got 6 months with no word
    # of the 7 months for a second child (in force since 01/07/2026, hedged as the sheet
    # marks it), and "cty bat thu viec 3 thang" was told of a maximum it never named.
    leave = kb.entries["maternity.leave_length"]
    assert "7 tháng" in leave.answer["vi"] and "7 months" in leave.answer["en"] and leave.hedged
    once = kb.entries["probation.only_once"]
    assert "6 ngày làm việc" in once.answer["vi"] and "30 ngày" in once.answer["vi"]
    assert "6 working days" in once.answer["en"] and "30 days" in once.answer["en"]
