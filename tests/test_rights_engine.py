"""The engine parts of issues 9 and 19: kinds, language, province, readings, stories,
specific entries, the learned model and its artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handlers.rights.context import foreign_country, is_small_talk, split_story
from handlers.rights.kb import KnowledgeBase, load_knowledge_base
from handlers.rights.model import OOS_CLASS, LinearModel, dumps, features, load_model, loads
from handlers.rights.search import (
    CHOICES,
    MODEL_BACKGROUND,
    STORY_CHOICES,
    Searcher,
    SearchResult,
    _Lexical,
    normalize,
)

DATA = Path(__file__).resolve().parents[1] / "bench" / "data"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture(scope="module")
def searcher(kb: KnowledgeBase) -> Searcher:
    return Searcher(kb)


@pytest.fixture(scope="module")
def lexical(kb: KnowledgeBase) -> Searcher:
    return Searcher(kb, model=False)


# --- kinds before topics ------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "What is the minimum wage in Thailand?",
        "luong toi thieu o han quoc",
        "How many days of annual leave do workers get in Japan?",
        "nghỉ phép năm ở Đài Loan được mấy ngày",
        "lam viec o malaysia duoc tang ca bao nhieu gio",
        "labour law in Korea overtime pay",
        "đi xklđ sang nhật lương bao nhiêu",
        "đi xklđ nhật tăng ca được tính mấy phần trăm",  # xklđ: going abroad to work
        "lao dong o ma lai bi giu ho chieu",  # Mã Lai after a place word still counts
    ],
)
def test_other_countries_law_is_not_answered_with_vietnams(searcher: Searcher, question: str) -> None:
    result = searcher.search(question, "vi")
    assert result.kind == "foreign_law", result
    assert result.topic is None and result.out_of_scope


@pytest.mark.parametrize(
    "question",
    [
        "cong ty han quoc no luong 2 thang",  # a Korean employer in Vietnam: Vietnamese law
        "chủ người Nhật bắt tăng ca",
        "mang thai 3 thang co duoc nghi khong",  # "thai" is not Thailand
        "hết hạn hợp đồng có được trợ cấp không",  # "hạn" is not Hàn
        # Shaped after tuning-split stories that were declined as foreign law:
        "em dang mang thai thang 7 ma cong ty lai chuyen em den to han, moi truong doc hai",  # tổ hàn
        "cong ty cho em nghi viec ma lai khong thong bao, vay co dung khong",  # mà lại
        "where to ask for labour mediator (hòa giải viên) in my district",  # "in my", not Mỹ
        "cong ty cho an do an trua bi hong roi tru luong em",  # ăn đồ ăn, not Ấn Độ
        "lam tang ca o to ma lai khong duoc tra tien",  # "tổ mà lại", not "to Malaysia"
    ],
)
def test_foreign_words_inside_vietnamese_questions_are_not_foreign_law(searcher: Searcher, question: str) -> None:
    assert searcher.search(question, "vi").kind != "foreign_law"


@pytest.mark.parametrize(
    "question",
    [
        "thuong tet co phai dong thue ko",  # was answered with a Tết bonus entry at 0.98
        "Tiền thưởng Tết có bị tính thuế thu nhập cá nhân không?",
        "luong 15 trieu co phai nop thue tncn khong",
        "Is my Tet bonus taxed?",
        "tro cap thoi viec co bi tru thue khong",
    ],
)
def test_tax_questions_are_declined_not_answered_with_labour_law(searcher: Searcher, question: str) -> None:
    result = searcher.search(question, "vi")
    assert result.kind == "tax", result
    assert result.topic is None and result.out_of_scope


@pytest.mark.parametrize(
    "question",
    [
        "cty thue em lam thoi vu co can ky hop dong ko",  # thuê: hiring
        "công ty thuê em làm thời vụ có phải ký hợp đồng không",
        "tien thue nha co duoc cong ty ho tro khong",  # rent
        # Tax in the background, a deduction asked about:
        "Trong lúc làm việc tôi làm hỏng laptop của công ty. Công ty quyết định khấu trừ 45% "
        "tiền lương mỗi tháng sau khi trừ bảo hiểm và thuế thu nhập cá nhân của tôi. "
        "Vậy công ty làm vậy có đúng không?",
    ],
)
def test_hiring_rent_and_tax_in_the_background_are_not_tax_questions(searcher: Searcher, question: str) -> None:
    assert searcher.search(question, "vi").kind != "tax"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("😂😂😂", "empty"),
        ("?!?!", "empty"),
        ("👍🏻", "empty"),
        ("", "empty"),
        ("ket qua bong da hom qua", "chitchat"),
        ("xo so mien bac hom nay", "chitchat"),
        ("thời tiết hà nội ngày mai", "chitchat"),
        ("bạn tên gì", "chitchat"),
        ("chào bạn, bạn khỏe không", "chitchat"),
        ("thank you so much", "chitchat"),
        ("Stop please", "chitchat"),
        ("who won the football match", "chitchat"),
    ],
)
def test_small_talk_and_empty_messages(searcher: Searcher, text: str, kind: str) -> None:
    result = searcher.search(text, "vi")
    assert result.kind == kind, result
    assert result.topic is None


def test_stop_please_is_never_a_confident_join_answer(searcher: Searcher) -> None:
    for text in ["Stop please", "stop", "unsubscribe", "dừng", "huy"]:
        result = searcher.search(text, "en")
        assert result.topic != "union_join" and not result.confident, (text, result)


# --- language -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "How many days of annual leave do I get?",
        "my boss does not pay overtime",
        "can I be fired while pregnant",
        "minimum wage region 2",
        "What is the union fee?",
    ],
)
def test_english_questions_are_english_whatever_the_setting(searcher: Searcher, question: str) -> None:
    assert searcher.search(question, "vi").lang == "en"


@pytest.mark.parametrize(
    "question",
    [
        "luong toi thieu vung 2 la bao nhieu",
        "cty ko dong bhxh cho em",
        "nghi phep nam may ngay",
        "bi duoi viec co duoc boi thuong ko",
        "tang ca toi da bao nhieu gio",
        "sep chui mang em hoai",
        "muon vo cong doan",
        "cty tra lg tre 20 ngay",
        "nghi de dc may thang",
        "hdld co may loai",
        "thu viec bao lau",
        "di lam ngay le duoc tinh luong the nao",
        "xin nghi viec bao truoc may ngay",
        "em bi tai nan tren duong di lam",
        "tet cty co bat buoc thuong khong",
        "luong",
        "rut bhxh 1 lan",
        "dinh cong co hop phap ko",
        "nghi om co dc huong luong k",
    ],
)
def test_vietnamese_without_diacritics_stays_vietnamese(searcher: Searcher, question: str) -> None:
    assert searcher.search(question, "en").lang == "vi"


# --- province ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "province"),
    [
        ("em o binh duong luong toi thieu la bao nhieu", "ho_chi_minh"),  # old name, merged 2025
        ("lương tối thiểu tại Bắc Ninh", "bac_ninh"),
        ("làm ở KCN Biên Hòa Đồng Nai lương vùng mấy", "dong_nai"),
        ("minimum wage in Hanoi", "ha_noi"),
        ("mang thai binh thuong co duoc nghi khong", None),  # not Thái Bình
        ("luong toi thieu vung 1", None),
        # A former district after a place word is its province's, as typed by workers.
        ("em lam o kcn yen phong luong toi thieu bao nhieu", "bac_ninh"),
        ("em o thuan an luong toi thieu", "ho_chi_minh"),
        ("cty tại Nhơn Trạch trả lương thấp", "dong_nai"),
        # ...but not without one, nor when the name is also everyday words ("đi ăn").
        ("yen phong luong toi thieu", None),
        ("cty o di an tra luong tre", None),
        ("em ở quê vợ, cty nợ lương 2 tháng", None),
        # A place's kind written out, or an everyday name typed with its own diacritics.
        ("em lam o khu cong nghiep yen phong bi no luong", "bac_ninh"),
        ("cty o thi xa thuan an no luong", "ho_chi_minh"),
        ("công ty ở Dĩ An nợ lương", "ho_chi_minh"),
        ("em lam o kcn que vo", "bac_ninh"),
    ],
)
def test_province_named_in_the_question(searcher: Searcher, question: str, province: str | None) -> None:
    assert searcher.search(question, "vi").province == province


# --- words with several readings --------------------------------------------------------------


def test_readings_are_chosen_by_context(searcher: Searcher) -> None:
    late = searcher.search("cty tra lg tre 20 ngay", "vi")
    assert late.topic != "child_labor" and "child_labor" not in late.clarify
    assert late.topic in (None, "wage_payment") and "wage_payment" in late.suggestions
    shuttle = searcher.search("xe dua don cty hay tre, em bi tru chuyen can", "vi")
    assert shuttle.topic != "child_labor", shuttle
    assert "wage_deductions" in [shuttle.topic, *shuttle.suggestions, *shuttle.clarify]
    join = searcher.search("muon vo cong doan", "vi")
    assert join.topic != "maternity" and "maternity" not in join.clarify
    assert "union_join" in [join.topic, *join.suggestions, *join.clarify]
    cut = searcher.search("cty giam luong ko bao truoc", "vi")
    assert cut.topic != "contract_termination", cut


@pytest.mark.parametrize(
    "question",
    [
        "sep chui mang em hoai",
        "sếp chửi mắng em trước mặt mọi người",
        "giám đốc thường xuyên đe dọa, chửi bới nhân viên",
        "sếp chửi mắng em trước mặt mọi người vì em ốm",  # ốm (sick) is not ôm (hug)
    ],
)
def test_scolding_by_a_supervisor_is_not_a_sexual_harassment_answer(searcher: Searcher, question: str) -> None:
    # The boss, but none of sexual harassment's own words: offered, never answered.
    result = searcher.search(question, "vi")
    assert result.topic != "harassment", result
    assert "harassment" in result.offered() or result.kind == "answer", result


@pytest.mark.parametrize(
    "question",
    [
        "sep ga gam em",
        "to truong sam so em",
        "my supervisor keeps touching me",
        "told HR about harassment and they did nothing",
        "sếp ôm em từ phía sau trong kho",
    ],
)
def test_sexual_harassment_by_a_supervisor_is_still_answered(searcher: Searcher, question: str) -> None:
    result = searcher.search(question, "vi")
    assert result.kind == "answer" and result.topic == "harassment", result


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        # The common bare question gets the monthly table, not the hourly minimum.
        ("luong toi thieu", "minimum_wage.monthly_amounts"),
        ("lương tối thiểu", "minimum_wage.monthly_amounts"),
        ("luong toi thieu theo gio", "minimum_wage.hourly"),
        ("lam part-time luong toi thieu bao nhieu 1 tieng", "minimum_wage.hourly"),
        # Sunday overtime is 200%; 270% is for the night of a rest day.
        ("tang ca chu nhat duoc tinh bao nhieu %", "overtime_pay.rest_day_rate"),
        ("tăng ca đêm chủ nhật được bao nhiêu phần trăm", "overtime_pay.rest_holiday_night"),
        # Night overtime on an ordinary day is 200-210%, not the rest day's 270%.
        ("tang ca dem duoc bao nhieu %", "overtime_pay.night_overtime"),
        # "binh" is not Bình Dương: Thái Bình (now Hưng Yên) has no region I.
        ("luong toi thieu o thai binh", "minimum_wage.monthly_amounts"),
        ("luong toi thieu o quang binh", "minimum_wage.monthly_amounts"),
        ("lam o binh duong luong toi thieu", "minimum_wage.hcm_binh_duong"),
        # "bây giờ" (now) is not an hour.
        ("luong toi thieu bay gio la bao nhieu", "minimum_wage.monthly_amounts"),
        # The ordinary-day 150% is excluded by a holiday, a rest day or the night (found
        # in review and by an outside tester: "tăng ca ngày lễ" and "tăng ca chủ nhật tính
        # bao nhiêu" got 150%).
        ("tăng ca ngày lễ", "overtime_pay.holiday_rate"),
        ("tang ca ngay tet duoc bao nhieu", "overtime_pay.holiday_rate"),
        ("tăng ca chủ nhật tính bao nhiêu", "overtime_pay.rest_day_rate"),
        ("tăng ca đêm ngày lễ được bao nhiêu", "overtime_pay.rest_holiday_night"),
        ("tang ca ngay thuong tinh sao", "overtime_pay.weekday_rate"),
        # Not the industrial-zone rule without a zone (found by an outside tester).
        ("minimum wage region 1", "minimum_wage.monthly_amounts"),
        # Stop 30's outside tester: how long probation lasts got its pay, whether sick
        # leave is paid got the cases where it is not, a refused leave got the wage
        # advance or combining years, a bonus's tax got its social insurance.
        ("thu viec dc bao nhieu ngay", "probation.max_length"),
        ("hop dong thu viec bao lau", "probation.max_length"),
        ("luong thu viec bao nhieu", "probation.pay"),
        ("nghỉ ốm có được hưởng bhxh không", "sick_leave.pay_rate"),
        ("nghi om ma bhxh ko tra", "sick_leave.not_covered"),
        ("cty ko cho nghi phep", "annual_leave.days_per_year"),
        ("công ty không cho nghỉ phép", "annual_leave.days_per_year"),
        ("nghi phep co dc ung luong ko", "annual_leave.leave_advance"),
        ("phep nam nay co chuyen sang nam sau dc ko", "annual_leave.combine_years"),
        ("thuong tet co dong bhxh ko", "tet_bonus.social_insurance_base"),
        # ... and 300 hours a year got where to report it, 4 hours a day the pregnant
        # workers' rule, wages not paid the pay day rule.
        ("tang ca qua 300h/nam co dc ko", "overtime_limits.yearly_cap"),
        ("tang ca qua nhieu bao o dau", "overtime_limits.report_excess"),
        ("dang bau co phai tang ca k", "overtime_limits.pregnant_nursing"),
        ("công ty bắt tăng ca có được không", "overtime_limits.refuse"),
        ("khong muon tang ca co bi phat khong", "overtime_limits.refuse"),
        ("cty ko tra luong thang 11", "wage_payment.late_interest"),
        ("cty tra luong ngay nao", "wage_payment.pay_day"),
        ("nghi viec roi bao lau cty phai tra luong", "wage_payment.final_pay"),
        # Stop 31's outside tester: a husband was told he gets the mother's 6 months.
        ("chong co duoc nghi thai san khong", "maternity.paternity"),
        ("Chồng có được nghỉ thai sản không?", "maternity.paternity"),
        (
            "vo em sinh con duoc 1 thang, em la chong thi co duoc nghi thai san khong, cty em bao nam "
            "khong co che do gi het, em co dong bhxh day du 3 nam roi",
            "maternity.paternity",
        ),
        ("nghi thai san duoc bao lau", "maternity.leave_length"),
        # ... and a mother who mentions her husband, or dizziness ("chóng mặt"), is the
        # mother still (found in review).
        ("Em đang mang thai, chồng em làm cùng công ty, em được nghỉ sinh mấy tháng?", "maternity.leave_length"),
        ("em mang thai hay bi chong mat thi nghi thai san duoc bao lau", "maternity.leave_length"),
        ("Tôi là lao động nữ, chồng tôi muốn biết tôi được nghỉ thai sản bao lâu", "maternity.leave_length"),
        ("em co bau, dong bhxh 5 thang co duoc huong thai san ko", "maternity.conditions"),
    ],
)
def test_an_entry_with_cue_words_needs_one_in_the_question(searcher: Searcher, question: str, entry: str) -> None:
    result = searcher.search(question, "vi")
    assert result.kind == "answer" and result.entry == entry, result


@pytest.mark.parametrize("question", ["nghi viec roi ma cty ko chot so", "nghỉ việc rồi mà cty ko chốt sổ"])
def test_a_book_not_closed_is_not_told_that_resigning_needs_no_approval(
    searcher: Searcher, kb: KnowledgeBase, question: str
) -> None:
    # "nghỉ việc rồi mà công ty không …" reads like "resigning, and the company does not
    # agree": the answer was "no approval is needed" at 0.97.
    result = searcher.search(question, "vi")
    assert result.kind == "answer" and result.entry != "contract_termination.no_approval_needed", result
    entry = kb.entries[result.entry] if result.entry else None
    answer = entry.answer_in("vi") if entry else kb.topics[result.topic].answer["vi"]
    assert "BHXH" in answer or "bảo hiểm xã hội" in answer
    assert "social_insurance" in result.offered()


def test_children_are_still_children(searcher: Searcher) -> None:
    assert searcher.search("tre em duoi 15 tuoi co duoc di lam khong", "vi").topic == "child_labor"
    assert searcher.search("trẻ em dưới 15 tuổi có được đi làm không", "vi").topic == "child_labor"


# --- stories ------------------------------------------------------------------------------------


def test_story_splits_background_from_the_question() -> None:
    story = (
        "Em làm công nhân may ở Bình Dương được 3 năm, tháng trước công ty đổi quản lý "
        "mới, anh ấy hay la mắng và bắt tăng ca đến 9 giờ tối. Tết năm ngoái công ty "
        "thưởng một tháng lương. Cho em hỏi em nghỉ phép năm được bao nhiêu ngày ạ?"
    )
    parts = split_story(story)
    asked = [p for p in parts if p.weight == 1.0]
    assert len(asked) == 1 and "nghỉ phép năm" in asked[0].text
    assert all(p.weight < 1.0 for p in parts if p not in asked)
    assert split_story("luong toi thieu") == split_story("luong toi thieu")  # short: all question


def test_the_question_of_a_story_decides_the_topic(searcher: Searcher) -> None:
    story = (
        "Em làm công nhân may ở Bình Dương được 3 năm, tháng trước công ty đổi quản lý "
        "mới, anh ấy hay la mắng và bắt tăng ca đến 9 giờ tối. Tết năm ngoái công ty "
        "thưởng một tháng lương. Cho em hỏi em nghỉ phép năm được bao nhiêu ngày ạ?"
    )
    result = searcher.search(story, "vi")
    assert result.kind == "answer" and result.topic == "annual_leave", result


def test_without_the_model_a_close_runner_up_only_matters_below_sure(lexical: Searcher) -> None:
    # The lexical engine alone (no artifact): a runner-up ranked within 8% sends the
    # worker to the choices only while the best topic's confidence is below 0.55.
    def decide(best: float) -> SearchResult:
        scores = {"annual_leave": (1.0, best), "public_holidays": (0.95, best - 0.05)}
        return lexical._decide_lexical(_Lexical(scores, {}, []), "nghỉ phép năm")

    assert decide(0.5).kind == "unsure"
    sure = decide(0.7)
    assert sure.kind == "answer" and sure.topic == "annual_leave"


def test_a_long_story_is_not_penalised_for_its_length(lexical: Searcher) -> None:
    question = "Công ty nợ lương 2 tháng thì em phải làm sao?"
    background = (
        "Em vào làm ở xưởng gỗ từ tháng 3 năm ngoái, làm ca ngày, có ký hợp đồng "
        "một năm, mỗi tháng nhận lương qua tài khoản ngân hàng đều đặn. "
    )
    short = lexical.lexical(question)
    long = lexical.lexical(background * 3 + question)
    assert short is not None and long is not None
    best_short = max(short.topics.items(), key=lambda kv: kv[1][1])
    best_long = max(long.topics.items(), key=lambda kv: kv[1][1])
    assert best_short[0] == best_long[0] == "wage_payment"
    # The background lowers the lexical confidence somewhat (its words are not what is
    # asked), but three sentences of it must not halve it.
    assert best_long[1][1] >= 0.55 * best_short[1][1]


def test_specific_entries_answer_their_own_questions(searcher: Searcher, kb: KnowledgeBase) -> None:
    entries = sorted(kb.entries.values(), key=lambda e: e.id)
    right = 0
    for e in entries:
        result = searcher.search(e.questions["vi"][0], "vi")
        right += result.entry == e.id
    assert right >= 0.8 * len(entries), f"{right} of {len(entries)}"


def test_entry_falls_back_to_the_topic_when_no_entry_fits(searcher: Searcher) -> None:
    result = searcher.search("lương tối thiểu", "vi")
    assert result.topic == "minimum_wage" or "minimum_wage" in result.suggestions
    assert result.entry is None or result.entry.startswith("minimum_wage.")


def test_a_story_touching_two_topics_offers_the_second(searcher: Searcher) -> None:
    story = (
        "Em đã nộp đơn nghỉ việc đúng hạn và nghỉ từ đầu tháng trước. Đến giờ công ty "
        "vẫn chưa trả lương tháng cuối, cũng chưa chốt sổ bảo hiểm xã hội cho em. "
        "Vậy công ty chậm trả lương tháng cuối cho người đã nghỉ việc thì em phải làm sao?"
    )
    result = searcher.search(story, "vi")
    assert result.kind == "answer"
    # The wages asked about, and the story's other matter (quitting, the book not closed)
    # as a button the chat shows.
    assert "wage_payment" in result.offered()
    assert result.offered() & {"social_insurance", "contract_termination"}
    assert result.also


def test_the_model_reads_a_storys_background_at_its_own_weight(searcher: Searcher) -> None:
    story = (
        "Em làm công nhân may ở Bình Dương được 3 năm, tháng trước công ty đổi quản lý "
        "mới, anh ấy hay la mắng và bắt tăng ca đến 9 giờ tối. Cho em hỏi em nghỉ phép năm được bao nhiêu ngày ạ?"
    )
    weights = [w for _, w in searcher.model_text(story)]
    assert 1.0 in weights and set(weights) - {1.0} == {MODEL_BACKGROUND}
    assert [w for _, w in searcher.model_text("nghỉ phép năm")] == [1.0]


def test_an_unsure_story_offers_four_choices_a_short_question_three(searcher: Searcher) -> None:
    real = [json.loads(line)["q"] for line in (DATA / "real_tune.jsonl").read_text(encoding="utf-8").splitlines()]
    results = [searcher.search(q, "vi") for q in real]
    unsure = [r for r in results if r.kind == "unsure"]
    assert any(len(r.suggestions) == STORY_CHOICES for r in unsure)
    assert all(len(r.suggestions) <= STORY_CHOICES for r in results)
    for q in ("bhxh", "cong doan", "luong", "nghi viec"):
        assert len(searcher.search(q, "vi").suggestions) <= CHOICES


def test_bad_input_is_still_a_result(searcher: Searcher) -> None:
    for text in ["x" * 5000, "lương " * 1000, "a" * 4000, "Lương tối thiểu? " * 300, "工资最低是多少", "\x00\x01"]:
        result = searcher.search(text)
        assert isinstance(result, SearchResult) and 0.0 <= result.confidence <= 1.0


# --- the learned model ----------------------------------------------------------------------


def test_packaged_model_loads_and_knows_every_topic(kb: KnowledgeBase) -> None:
    model = load_model(kb.topics)
    assert model is not None
    assert set(model.classes) == set(kb.topics) | {OOS_CLASS}
    probs = model.predict(features([(normalize("nghi phep nam duoc may ngay"), 1.0)]))
    assert max(probs, key=probs.__getitem__) == "annual_leave"
    assert abs(sum(probs.values()) - 1.0) < 1e-6
    assert 0.0 < model.answer_at < 1.0


def test_model_for_other_topics_is_not_used(kb: KnowledgeBase) -> None:
    assert load_model(["minimum_wage"]) is None  # the artifact names topics this KB lacks


def test_training_is_deterministic_and_the_artifact_round_trips(kb: KnowledgeBase) -> None:
    pytest.importorskip("sklearn")
    from handlers.rights.train import Labelled, fit_linear, prune

    searcher = Searcher(kb, model=False)
    items = [Labelled(q, t.id, "kb") for t in list(kb.topics.values())[:6] for q in t.questions["vi"][:6]]
    items += [Labelled("giá vàng hôm nay", None, "kb"), Labelled("kết quả xổ số", None, "kb")]
    classes = [*sorted({it.topic for it in items if it.topic}), OOS_CLASS]
    first = prune(fit_linear(searcher, items, classes))
    second = prune(fit_linear(searcher, items, classes))
    assert dumps(first) == dumps(second)
    again = loads(dumps(first))
    assert isinstance(again, LinearModel) and again.weights == first.weights
    assert again.classes == first.classes


def test_small_talk_and_foreign_helpers() -> None:
    assert is_small_talk(["cam", "on", "ban", "nhieu", "nha"])
    assert not is_small_talk(["cam", "on", "luong", "toi", "thieu"])
    assert foreign_country("what is the minimum wage in thailand".split(), "en") == "thailand"
    assert foreign_country("i work for a korean company in vietnam".split(), "en") is None


def test_old_callers_get_their_fields() -> None:
    r = SearchResult("minimum_wage", 0.8, ["minimum_wage"])
    assert r.kind == "answer" and r.entry is None and r.lang == "vi" and r.also == []
    assert SearchResult(None, 0.0, [], out_of_scope=True).kind == "out_of_scope"
    assert SearchResult(None, 0.2, ["x"]).kind == "unsure"
    assert not SearchResult("x", 0.9, [], confidence=0.5).confident
