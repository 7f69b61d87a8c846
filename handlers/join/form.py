"""The sign-up form: a worker joining the union (/join, or the menu), or a volunteer
signing up a worker standing next to them (/collect).

One question at a time. Each step is a `Step`, stored as text in the conversation
state with the answers so far, so the form survives a restart of the bot and a worker
who walks away and comes back. Every form has a random id carried by its buttons: a
button of a finished, cancelled or replaced form is recognised and answered kindly,
never acted on. "Back" (typed or pressed) returns to the previous question; /cancel
(handlers.core) drops the form.

Nothing is recorded as a sign-up without consent: the answers live only in the
conversation state until the worker (or, for /collect, the volunteer on the worker's
behalf) agrees to the consent text and submits. An unfinished form is erased after
FORM_TTL.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from handlers.context import Ctx
from handlers.forms import FormFlow, QuitWords, new_form_id
from handlers.join.common import (
    FLOW_COLLECT,
    FLOW_JOIN,
    FORM_FLOWS,
    clean_text,
    province_name,
    source_label,
)
from handlers.join.names import MAX_LENGTH as NAME_MAX_LENGTH
from handlers.join.names import clean_name
from handlers.join.phone import mask_phone, parse_vn_mobile
from handlers.join.provinces import all_provinces, fold, get_province, reading_note, resolve_province
from handlers.router import Actions, Router, as_replies, payload
from handlers.scope import officer_notices
from handlers.types import Button, InboundKind, Reply
from storage import ConversationState, Role
from storage.signups import FormClaim, SignupDraft, SignupSource, SubmitOutcome, SubmitResult

logger = logging.getLogger(__name__)

PREFIX = "jf"


class Step(StrEnum):
    """The questions, in order. Stored in the database: never rename a value."""

    NAME = "name"
    PHONE = "phone"
    WORKPLACE = "workplace"
    PROVINCE = "province"
    COMMUNE = "commune"  # optional
    REFERRAL = "referral"  # optional; only asked when no volunteer's link brought the worker
    CONSENT = "consent"
    REVIEW = "review"


EDITABLE = (Step.NAME, Step.PHONE, Step.WORKPLACE, Step.PROVINCE, Step.COMMUNE, Step.REFERRAL)

# The consent text a sign-up records agreement to. Changing any of CONSENT_KEYS in
# handlers/catalog/join.toml changes what people agree to: bump CONSENT_VERSION, then
# update CONSENT_TEXT_SHA256 (tests/test_join_form.py fails until both are done).
CONSENT_VERSION = "2025-07.1"
CONSENT_KEYS = ("join.consent.text", "join.consent.hotline", "join.consent.no_hotline")
CONSENT_TEXT_SHA256 = "24a5d269023ff34022eaf45bcabb0952d2a313bc7526953729f66dbee4690832"

# Answers typed before consent are personal data held without it: not for long.
FORM_TTL = timedelta(days=7)
# A message after a long pause is more likely a new question than the answer to ours.
RESUME_AFTER = timedelta(minutes=30)
# Both variants, carrying their id as "fid" in every button.
JOIN_FORM = FormFlow(*FORM_FLOWS, ttl=FORM_TTL, id_key="fid")

WORKPLACE_LENGTH = (2, 150)
COMMUNE_LENGTH = (2, 100)

_BACK_WORDS = frozenset({"back", "go back", "quay lai", "tro lai", "lui", "lui lai", "quay ve"})
_AGREE_WORDS = frozenset({"dong y", "toi dong y", "em dong y", "yes", "i agree", "agree"})
# Typed at an optional step ("ko co" was refused as a referral code while "không" passed).
_SKIP_WORDS = frozenset(
    {
        *("bo qua", "skip", "khong", "ko", "k", "khong co", "ko co", "k co", "kco", "chua co", "khong biet", "ko biet"),
        *("khong co ma", "ko co ma", "k co ma", "no", "none", "no code", "n a", "-"),
    }
)
# "I want to stop": the common words and the sign-up's own. At the name step only what
# no name is: "Huy", "Dũng" ("dung") are names, "stop" and "thôi không đăng ký nữa" are
# not (found by an outside tester: saved as the name).
QUIT = QuitWords(
    *("huy dang ky", "thoi khong dang ky nua", "khong dang ky nua", "ko dang ky nua"),
    *("thoi khong dang ky", "khong dang ky", "ko dang ky"),
)
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PROVINCE_COLUMNS = 3


def consent_digest(catalog_messages: dict[str, dict[str, str]]) -> str:
    """SHA-256 over the consent templates in every language, in a stable order."""
    h = hashlib.sha256()
    for key in CONSENT_KEYS:
        for lang, text in sorted(catalog_messages[key].items()):
            h.update(f"{key}\0{lang}\0{text}\0".encode())
    return h.hexdigest()


# Where each answer is kept in the form's data.
ANSWER_KEYS = ("name", "phone", "workplace", "province", "commune", "ref")
NAME_MAX_WORDS = 7  # Vietnamese full names have 2-5 words; long foreign names fit too
RESUME_ASKED = "resume_asked"  # form data: "continue or start over?" is on screen


@dataclass(slots=True)
class Form:
    flow: str
    step: Step
    data: dict[str, Any]
    updated_at: datetime | None = None

    @property
    def fid(self) -> str:
        return str(self.data["fid"])

    @property
    def steps(self) -> list[Step]:
        steps = [Step.NAME, Step.PHONE, Step.WORKPLACE, Step.PROVINCE, Step.COMMUNE]
        if self.data.get("ask_ref"):
            steps.append(Step.REFERRAL)
        return [*steps, Step.CONSENT, Step.REVIEW]

    def button(self, action: str, *args: object) -> str:
        return payload(PREFIX, self.fid, action, *args)

    def missing(self) -> Step | None:
        """The first question without an answer, if any."""
        for step, key in (
            (Step.NAME, "name"),
            (Step.PHONE, "phone"),
            (Step.WORKPLACE, "workplace"),
            (Step.PROVINCE, "province"),
        ):
            if not self.data.get(key):
                return step
        if not self.data.get("consent") or not self.data.get("consent_version"):
            # A form agreed to before the version was kept with the answers asks again.
            return Step.CONSENT
        return None


async def _load(ctx: Ctx, form_id: str | None = None) -> Form | None:
    """The open form; with `form_id` (a pressed button's), only if it is that copy."""
    state = await JOIN_FORM.load(ctx, form_id=form_id)
    return _form_of(state) if state is not None else None


def _form_of(state: ConversationState) -> Form:
    try:
        step = Step(state.step)
    except ValueError:  # a step from a newer version of the form: start it again
        step = Step.NAME
    return Form(state.flow, step, dict(state.data), state.updated_at)


async def _save(ctx: Ctx, form: Form) -> None:
    await JOIN_FORM.save(ctx, form.step, form.data, flow=form.flow)


def _expired_reply(ctx: Ctx) -> Reply:
    return Reply(ctx.t("join.form.expired", days=FORM_TTL.days), buttons=[ctx.back_button()])


def _variant(form: Form, key: str) -> str:
    """Questions addressed to the worker, or to the volunteer about the worker."""
    return f"{key}_collect" if form.flow == FLOW_COLLECT else key


# -- questions ------------------------------------------------------------------
def _nav_row(ctx: Ctx, form: Form, *, back: bool = True) -> list[Button]:
    row = [Button(ctx.t("join.form.btn.back"), form.button("b"))] if back else []
    row.append(Button(ctx.t("join.form.btn.cancel"), form.button("x"), typed=False))
    return row


def consent_text(ctx: Ctx) -> str:
    hotline = (
        ctx.t("join.consent.hotline", hotline=ctx.settings.hotline)
        if ctx.settings.hotline
        else ctx.t("join.consent.no_hotline")
    )
    return ctx.t("join.consent.text", months=ctx.settings.join_retention_months, hotline=hotline)


def _province_buttons(form: Form, lang: str) -> list[list[Button]]:
    buttons = [Button(p.name(lang), form.button("p", p.id)) for p in all_provinces()]
    return [buttons[i : i + _PROVINCE_COLUMNS] for i in range(0, len(buttons), _PROVINCE_COLUMNS)]


def prompt(ctx: Ctx, form: Form, *, note: str | None = None) -> Reply:
    """The current question, with its buttons; `note` (an error, a remark) goes first."""
    step = form.step
    if step is Step.REVIEW:
        reply = _review(ctx, form)
    else:
        questions = [s for s in form.steps if s is not Step.REVIEW]
        n = questions.index(step) + 1
        head = ctx.t("join.form.progress", n=n, total=len(questions))
        first = step is Step.NAME
        if step is Step.CONSENT:
            text = consent_text(ctx)
            if form.flow == FLOW_COLLECT:
                text = ctx.t("join.form.q.consent_collect", consent=text)
                yes, no = ctx.t("join.form.btn.agree_collect"), ctx.t("join.form.btn.disagree_collect")
            else:
                yes, no = ctx.t("join.form.btn.agree"), ctx.t("join.form.btn.disagree")
            rows = [
                [Button(yes, form.button("a"))],
                [Button(no, form.button("d"))],
                [Button(ctx.t("join.form.btn.back"), form.button("b"))],
            ]
        else:
            text = ctx.t(f"join.form.q.{_variant(form, step.value)}")
            rows = []
            if step is Step.PROVINCE:
                rows = _province_buttons(form, ctx.lang)
            elif step in (Step.COMMUNE, Step.REFERRAL):
                rows = [[Button(ctx.t("join.form.btn.skip"), form.button("s"))]]
            rows.append(_nav_row(ctx, form, back=not first))
        reply = Reply(f"{head}\n{text}", buttons=rows)
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


def _field_value(ctx: Ctx, form: Form, step: Step) -> str:
    d = form.data
    value = {
        Step.NAME: d.get("name"),
        Step.PHONE: d.get("phone"),
        Step.WORKPLACE: d.get("workplace"),
        Step.PROVINCE: province_name(d.get("province"), ctx.lang),
        Step.COMMUNE: d.get("commune"),
        Step.REFERRAL: d.get("ref"),
    }[step]
    return value or ctx.t("join.form.review.empty")


def _review(ctx: Ctx, form: Form) -> Reply:
    fields = [s for s in EDITABLE if s in form.steps]
    lines = [ctx.t("join.form.review.title")]
    lines += [f"{ctx.t(f'join.form.field.{s.value}')}: {_field_value(ctx, form, s)}" for s in fields]
    lines.append(ctx.t(_variant(form, "join.form.review.consented")))
    lines.append(ctx.t("join.form.review.hint"))
    edit = [
        Button(ctx.t("join.form.btn.edit", field=ctx.t(f"join.form.field.{s.value}")), form.button("e", s.value))
        for s in fields
    ]
    rows = [edit[i : i + 2] for i in range(0, len(edit), 2)]
    rows.append([Button(ctx.t("join.form.btn.submit"), form.button("g"))])
    rows.append([Button(ctx.t("join.form.btn.cancel"), form.button("x"), typed=False)])
    return Reply("\n".join(lines), buttons=rows)


# -- moving between steps --------------------------------------------------------
async def _goto(ctx: Ctx, form: Form, step: Step, *, note: str | None = None) -> Reply:
    form.step = step
    await _save(ctx, form)
    return prompt(ctx, form, note=note)


async def _advance(ctx: Ctx, form: Form, *, note: str | None = None) -> Reply:
    """The next question; back to the review when the answer was an edit from it."""
    if form.data.pop("editing", False):
        nxt = Step.REVIEW
    else:
        steps = form.steps
        nxt = steps[min(steps.index(form.step) + 1, len(steps) - 1)] if form.step in steps else Step.REVIEW
    if nxt is Step.REVIEW and (missing := form.missing()) is not None:
        nxt = missing
    return await _goto(ctx, form, nxt, note=note)


async def _back(ctx: Ctx, form: Form) -> Reply:
    if form.data.pop("editing", False):
        return await _goto(ctx, form, Step.REVIEW)
    steps = form.steps
    i = steps.index(form.step) if form.step in steps else 0
    if i == 0:
        return prompt(ctx, form, note=ctx.t("join.form.err.first_question"))
    return await _goto(ctx, form, steps[i - 1])


def _new_form(flow: str, ask_ref: bool) -> Form:
    return Form(flow, Step.NAME, {"fid": new_form_id(), "ask_ref": ask_ref})


async def start(ctx: Ctx, flow: str) -> Reply | list[Reply]:
    """/join or /collect: resume an unfinished form, or begin a new one."""
    existing = await _load(ctx)
    if existing is not None and not JOIN_FORM.expired(existing):
        questions = [s for s in existing.steps if s is not Step.REVIEW]
        n = questions.index(existing.step) + 1 if existing.step in questions else len(questions)
        if n == 1 and existing.flow == flow:  # nothing answered yet (a double tap): the first question
            await _save(ctx, existing)  # shown now: the next message is its answer
            return prompt(ctx, existing)
        restart = "j" if flow == FLOW_JOIN else "c"
        # Until a button answers it, a typed message is not the answer to the question
        # hidden behind "continue or start over?" (on_text shows that question first).
        existing.data[RESUME_ASKED] = True
        await _save(ctx, existing)
        return Reply(
            ctx.t(_variant(existing, "join.form.resume"), n=n, total=len(questions)),
            buttons=[
                [Button(ctx.t("join.form.btn.continue"), existing.button("c"))],
                [Button(ctx.t("join.form.btn.restart"), existing.button("n", restart))],
                [Button(ctx.t("join.form.btn.cancel"), existing.button("x"), typed=False)],
            ],
        )
    return await _begin(ctx, flow)


async def _begin(ctx: Ctx, flow: str) -> list[Reply]:
    replies: list[Reply] = []
    if flow == FLOW_JOIN:
        own = await ctx.store.signup_of_user(ctx.user.id)
        if own is not None:
            replies.append(Reply(ctx.t("join.form.already_signed_up", id=own.id)))
        # Asked once: only when no volunteer's link brought the worker (a client that
        # drops the /start payload) and not again when updating a sign-up.
        form = _new_form(flow, ask_ref=ctx.user.referral_code is None and own is None)
    else:
        form = _new_form(flow, ask_ref=False)
    total = len(form.steps) - 1
    await _save(ctx, form)
    intro = ctx.t(_variant(form, "join.form.intro"), total=total)
    replies.append(prompt(ctx, form, note=intro))
    return replies


async def resume_held(ctx: Ctx, state: ConversationState, note: str | None) -> Reply | None:
    """The form, held while a short step opened over it (/programs' province question,
    /support...), put back when that step ended: its question again, the answers kept.
    None for a form with nothing answered: no typing is lost, and a worker who tapped
    /join and then something else is not asked their name out of the blue."""
    form = _form_of(state)
    if not any(form.data.get(key) for key in ANSWER_KEYS):
        return None
    if JOIN_FORM.expired(form):
        # Not put back: that would restart the clock of answers held without consent.
        reply = _expired_reply(ctx)
    else:
        form.data.pop(RESUME_ASKED, None)  # "continue or start over?" is no longer on screen
        await _save(ctx, form)
        reply = prompt(ctx, form, note=ctx.t(_variant(form, "join.form.still_open")))
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


def finished(ctx: Ctx) -> Reply:
    return Reply(ctx.t("join.form.finished"), buttons=[ctx.back_button()])


# -- answers ----------------------------------------------------------------------
# A question typed where the form asks for a name, a phone number or a company ("vao cong
# doan co mat tien ko" was saved as the worker's name; an outside tester). Phrases no name,
# number or company holds, and a question's last word ("... ko"); never "hồng", "sao" or "chưa",
# which are names.
_ASKING = (
    *("bao nhieu", "the nao", "lam sao", "ra sao", "tinh sao", "the sao", "co duoc", "duoc khong", "duoc ko"),
    *("dc khong", "dc ko", "co phai", "phai khong", "phai ko", "cho em hoi", "cho e hoi", "cho toi hoi"),
    *("cho minh hoi", "xin hoi", "o dau", "khi nao", "vi sao", "tai sao"),
)
# Not "k" or "hẻm": "Cty K&K" and "trong hẻm" end company names.
_ASKING_LAST = frozenset({"ko", "khong", "hok", "gi", "nao"})
# Form data: the text last taken for a question at this step. Typed again, it is the answer
# (a company called "Dịch vụ Hàng không?" was otherwise asked for forever; found in review).
TAKEN_FOR_QUESTION = "asked_q"


# A company's name starts like one: its last word is then no question's ("Công ty Dịch vụ
# Hàng không"), while "tham gia công đoàn có mất phí không" typed there is a question.
_COMPANY_START = (
    *("cty ", "cong ty ", "tong cong ty ", "tnhh ", "ctcp ", "dntn ", "xuong ", "nha may ", "doanh nghiep "),
    *("tap doan ", "cua hang ", "shop ", "hop tac xa ", "htx ", "chi nhanh ", "van phong "),
)


def clearly_a_question(text: str) -> bool:
    """A "?" or a phrase no answer holds: a question however often it is typed."""
    padded = f" {' '.join(fold(text).split())} "
    return "?" in text or any(f" {p} " in padded for p in _ASKING)


def reads_as_question(text: str, *, company: bool = False) -> bool:
    if "?" in text:
        return True
    words = fold(text).split()
    if len(words) < 3:
        return False
    if clearly_a_question(text):
        return True
    return words[-1] in _ASKING_LAST and not (company and f"{' '.join(words)} ".startswith(_COMPANY_START))


async def _answered_then_asked_again(ctx: Ctx, form: Form, *, retype_hint: bool) -> Reply | list[Reply]:
    """The question answered as any other, then the form's question again, the answers
    kept: the worker was told to /cancel first, which erased the form."""
    assert ctx.router is not None
    answered = as_replies(await ctx.router.free_text(ctx))
    now = await ctx.store.get_state(ctx.user.id)
    if now is not None and now.flow in ctx.router.flows and now.flow not in FORM_FLOWS:
        return answered  # a step the text opened (a feature's name) holds the form itself
    await _save(ctx, form)  # the Q&A keeps its memory in the one state: the form wins
    note = ctx.t(_variant(form, "join.form.still_open"))
    if retype_hint:
        note += "\n" + ctx.t("join.form.was_an_answer")
    return [*answered, prompt(ctx, form, note=note)]


async def _answer(ctx: Ctx, form: Form, text: str) -> Reply | list[Reply]:
    step = form.step
    if QUIT.typed(text, name=step is Step.NAME):
        # "thôi không đăng ký nữa" typed at the company step was saved as the company.
        # A typed word never cancels a form (issue 9: "Huy" is a name): the way out is
        # shown instead, and the question asked again.
        return prompt(ctx, form, note=ctx.t("join.form.quit_hint"))
    sentence = step is Step.NAME and len(text.split()) > NAME_MAX_WORDS
    asking = step in (Step.NAME, Step.PHONE, Step.WORKPLACE) and (
        sentence or reads_as_question(text, company=step is Step.WORKPLACE)
    )
    # Typed again, a text read as a question only by its last word or its length is the
    # answer; one with a "?" or a question's phrase stays a question (workers resend a
    # question they feel was not answered; found in review).
    again = form.data.pop(TAKEN_FOR_QUESTION, None) == fold(text) and not clearly_a_question(text)
    if asking and not again and ctx.router is not None:
        form.data[TAKEN_FOR_QUESTION] = fold(text)
        return await _answered_then_asked_again(ctx, form, retype_hint=not clearly_a_question(text))
    if step is Step.NAME:
        name = clean_name(text)
        if not name.ok:
            return prompt(ctx, form, note=ctx.t(f"join.form.err.{name.error}", max=NAME_MAX_LENGTH))
        if len(str(name.value).split()) > NAME_MAX_WORDS:
            return prompt(ctx, form, note=ctx.t("join.form.err.name_sentence", max=NAME_MAX_WORDS))
        form.data["name"] = name.value
        return await _advance(ctx, form)
    if step is Step.PHONE:
        phone = parse_vn_mobile(text)
        if not phone.ok:
            return prompt(ctx, form, note=ctx.t(f"join.form.err.{phone.error}"))
        form.data["phone"] = phone.e164
        return await _advance(ctx, form)
    if step is Step.WORKPLACE:
        workplace = clean_text(text, min_len=WORKPLACE_LENGTH[0], max_len=WORKPLACE_LENGTH[1])
        if workplace is None:
            return prompt(ctx, form, note=ctx.t("join.form.err.workplace", max=WORKPLACE_LENGTH[1]))
        form.data["workplace"] = workplace
        return await _advance(ctx, form)
    if step is Step.PROVINCE:
        return await _typed_province(ctx, form, text)
    if step is Step.COMMUNE:
        if fold(text) in _SKIP_WORDS:
            form.data["commune"] = None
            return await _advance(ctx, form)
        commune = clean_text(text, min_len=COMMUNE_LENGTH[0], max_len=COMMUNE_LENGTH[1])
        if commune is None:
            return prompt(ctx, form, note=ctx.t("join.form.err.commune", max=COMMUNE_LENGTH[1]))
        form.data["commune"] = commune
        return await _advance(ctx, form)
    if step is Step.REFERRAL:
        code = text.strip()
        if fold(code) in _SKIP_WORDS:
            form.data["ref"] = None
            return await _advance(ctx, form)
        if not _CODE.match(code) or await ctx.store.volunteer_by_code(code) is None:
            return prompt(ctx, form, note=ctx.t("join.form.err.referral_unknown"))
        form.data["ref"] = code
        return await _advance(ctx, form)
    if step is Step.CONSENT:
        if form.flow == FLOW_JOIN and fold(text) in _AGREE_WORDS:
            return await _agree(ctx, form)
        return prompt(ctx, form, note=ctx.t("join.form.err.use_buttons"))
    return prompt(ctx, form, note=ctx.t("join.form.err.use_buttons"))


async def _typed_province(ctx: Ctx, form: Form, text: str) -> Reply:
    match = resolve_province(text)
    if match.province is not None:
        form.data["province"] = match.province.id
        return await _advance(ctx, form, note=reading_note(match, ctx.lang, ctx.t))
    if match.suggestions:
        rows = [[Button(p.name(ctx.lang), form.button("p", p.id))] for p in match.suggestions]
        rows.append([Button(ctx.t("join.form.btn.all_provinces"), form.button("l"))])
        rows.append(_nav_row(ctx, form))
        return Reply(ctx.t("join.form.err.province_suggest", text=text.strip()[:40]), buttons=rows)
    return prompt(ctx, form, note=ctx.t("join.form.err.province_unknown", text=text.strip()[:40]))


async def _agree(ctx: Ctx, form: Form) -> Reply:
    form.data["consent"] = True
    # The language the text was shown in is part of what was agreed to.
    form.data["consent_lang"] = ctx.lang
    # The version shown and agreed to now, not whichever is current at submission.
    form.data["consent_version"] = CONSENT_VERSION
    form.data.pop("editing", None)
    return await _goto(ctx, form, Step.REVIEW)


async def on_text(ctx: Ctx) -> Reply | list[Reply]:
    """Text typed while a form is open: the answer to the current question."""
    form = await _load(ctx)
    if form is None:
        return finished(ctx)
    if await JOIN_FORM.expire(ctx, form):
        return _expired_reply(ctx)
    if ctx.inbound.kind is InboundKind.UNSUPPORTED:
        return prompt(ctx, form, note=ctx.t("join.form.err.text_only"))
    if form.updated_at is not None and datetime.now(UTC) - form.updated_at > RESUME_AFTER:
        form.data.pop(RESUME_ASKED, None)
        await _save(ctx, form)  # the next message is the answer
        return prompt(ctx, form, note=ctx.t("join.form.welcome_back"))
    if form.data.pop(RESUME_ASKED, None):
        await _save(ctx, form)  # the next message is the answer
        return prompt(ctx, form, note=ctx.t("join.form.resume_typed"))
    text = ctx.inbound.text
    if not text.strip():
        return prompt(ctx, form, note=ctx.t("join.form.err.empty"))
    if fold(text) in _BACK_WORDS:
        return await _back(ctx, form)
    return await _answer(ctx, form, text)


# -- buttons ------------------------------------------------------------------------
async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """`jf:<form id>:<action>[:<arg>]`: checked against the open form on every press."""
    fid, action, arg = (*ctx.args, "", "", "")[:3]
    form = await _load(ctx, fid)
    if form is None:  # no form open, or a button of a finished, cancelled or replaced one
        # A new message, not an edit: on a double tap of "send" the pressed message is
        # already the confirmation, and editing it away made the sign-up look failed.
        return finished(ctx)
    if form.flow == FLOW_COLLECT and ctx.role.rank < Role.VOLUNTEER.rank:
        # The volunteer role was revoked mid-form: the form is no longer theirs to finish.
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("auth.not_allowed", role=ctx.t(f"roles.{Role.VOLUNTEER.value}"))
    if await JOIN_FORM.expire(ctx, form):
        return _expired_reply(ctx)
    # Any press answers "continue or start over?" (or moves past it): typed text is an
    # answer again.
    if form.data.pop(RESUME_ASKED, None):
        await _save(ctx, form)
    try:
        return _edited(await _press(ctx, form, action, arg))
    except _AlreadySent:
        # A double tap of "send": the pressed message is the confirmation already, so the
        # answer is a new message, not an edit that would replace it.
        return finished(ctx)


def _edited(result: Reply | list[Reply]) -> Reply | list[Reply]:
    # The answer replaces the pressed message: old buttons disappear as the form moves on.
    replies = [result] if isinstance(result, Reply) else result
    if replies:
        replies[0].edit = True
    return result


async def _press(ctx: Ctx, form: Form, action: str, arg: str) -> Reply | list[Reply]:
    handler = ACTIONS.get(action)
    if handler is None:
        return _other_question(ctx, form)
    return await handler(ctx, form, arg)


def _other_question(ctx: Ctx, form: Form) -> Reply:
    # A button of this form that belongs to another question (an older message).
    return prompt(ctx, form, note=ctx.t("join.form.err.other_question"))


# The form's buttons, `jf:<form id>:<code>[:<arg>]`. The codes are on workers' phones in
# messages already sent: never change one, only add.
FormAction = Callable[[Ctx, Form, str], Awaitable[Reply | list[Reply]]]
ACTIONS: Actions[FormAction] = Actions(PREFIX)


def _only_at(*steps: Step) -> Callable[[FormAction], FormAction]:
    """The questions a button belongs to: pressed on an older message while the form is
    at another one, it is answered as such and does nothing."""

    def guard(fn: FormAction) -> FormAction:
        @functools.wraps(fn)
        async def guarded(ctx: Ctx, form: Form, arg: str) -> Reply | list[Reply]:
            if form.step not in steps:
                return _other_question(ctx, form)
            return await fn(ctx, form, arg)

        return guarded

    return guard


@ACTIONS.on("c")
async def continue_form(ctx: Ctx, form: Form, arg: str) -> Reply:
    """Continue an unfinished form: its current question again (on_button has already
    ended "continue or start over?")."""
    return prompt(ctx, form)


@ACTIONS.on("n")
async def restart_form(ctx: Ctx, form: Form, arg: str) -> Reply | list[Reply]:
    """Start again: the unfinished form is dropped and a new /join ("j") or /collect ("c") begins."""
    await ctx.store.clear_state(ctx.user.id)
    if arg == "c" and ctx.role.rank < Role.VOLUNTEER.rank:
        return finished(ctx)
    return await _begin(ctx, FLOW_COLLECT if arg == "c" else FLOW_JOIN)


@ACTIONS.on("x")
async def cancel_form(ctx: Ctx, form: Form, arg: str) -> Reply:
    """Cancel: the form and every answer in it are dropped."""
    await ctx.store.clear_state(ctx.user.id)
    return Reply(ctx.t("join.form.cancelled"), buttons=[ctx.back_button()])


@ACTIONS.on("b")
async def go_back(ctx: Ctx, form: Form, arg: str) -> Reply:
    """Back: the previous question, or the review when the answer was an edit from it."""
    return await _back(ctx, form)


@ACTIONS.on("p")
async def choose_province(ctx: Ctx, form: Form, arg: str) -> Reply:
    """A province pressed: the answer, and on to the next question; pressed later, the answer changes."""
    # A province button stays valid for the whole form: pressed after moving on,
    # it changes the answer and the form carries on where it was.
    if get_province(arg) is None:
        return prompt(ctx, form, note=ctx.t("join.form.err.use_buttons"))
    form.data["province"] = arg
    if form.step is Step.PROVINCE:
        return await _advance(ctx, form)
    note = ctx.t("join.form.province_set", province=province_name(arg, ctx.lang))
    return await _goto(ctx, form, form.step, note=note)


@ACTIONS.on("l")
@_only_at(Step.PROVINCE)
async def list_provinces(ctx: Ctx, form: Form, arg: str) -> Reply:
    """All provinces: the full list instead of the suggestions for a typo."""
    return prompt(ctx, form)


@ACTIONS.on("s")
@_only_at(Step.COMMUNE, Step.REFERRAL)
async def skip_question(ctx: Ctx, form: Form, arg: str) -> Reply:
    """Skip an optional question (commune, referral code): left empty, on to the next."""
    form.data["commune" if form.step is Step.COMMUNE else "ref"] = None
    return await _advance(ctx, form)


@ACTIONS.on("a")
@_only_at(Step.CONSENT)
async def agree_to_consent(ctx: Ctx, form: Form, arg: str) -> Reply:
    """I agree: consent kept with the version and language shown; on to the review."""
    return await _agree(ctx, form)


@ACTIONS.on("d")
@_only_at(Step.CONSENT)
async def decline_consent(ctx: Ctx, form: Form, arg: str) -> Reply:
    """I do not agree: the answers are dropped with the form and nothing is recorded."""
    await ctx.store.clear_state(ctx.user.id)
    return Reply(ctx.t(_variant(form, "join.form.declined")), buttons=[ctx.back_button()])


@ACTIONS.on("e")
@_only_at(Step.REVIEW)
async def edit_answer(ctx: Ctx, form: Form, arg: str) -> Reply:
    """Edit one answer from the review: that question again, then back to the review."""
    try:
        target = Step(arg)
    except ValueError:
        return prompt(ctx, form)
    if target not in EDITABLE or target not in form.steps:
        return prompt(ctx, form)
    form.data["editing"] = True
    return await _goto(ctx, form, target)


@ACTIONS.on("g")
@_only_at(Step.REVIEW)
async def submit_form(ctx: Ctx, form: Form, arg: str) -> Reply | list[Reply]:
    """Submit: the sign-up is recorded, the worker thanked and the province's organizers told."""
    return await _submit(ctx, form)


# -- submission -----------------------------------------------------------------------
class _AlreadySent(Exception):
    """Another press of "send" submitted this form first (on_button answers it)."""


async def _submit(ctx: Ctx, form: Form) -> Reply | list[Reply]:
    missing = form.missing()
    if missing is not None:
        return await _goto(ctx, form, missing)
    d = form.data
    if form.flow == FLOW_JOIN:
        code = d.get("ref") or ctx.user.referral_code
        volunteer = await ctx.store.volunteer_by_code(code) if code else None
        if volunteer == ctx.user.id:
            volunteer = None  # a volunteer's own sign-up is not their recruit
        source = SignupSource.REFERRAL if volunteer is not None else SignupSource.SELF
        owner: int | None = ctx.user.id
    else:
        source, volunteer, owner = SignupSource.COLLECTED, ctx.user.id, None
    draft = SignupDraft(
        full_name=d["name"],
        phone_e164=d["phone"],
        workplace=d["workplace"],
        province_id=d["province"],
        commune=d.get("commune"),
        source=source,
        volunteer_id=volunteer,
        consent_version=d["consent_version"],
        consent_lang=d.get("consent_lang") or ctx.lang,
        consent_channel=ctx.inbound.channel,
        owner_id=owner,
    )
    result = await ctx.store.submit_signup(draft, form=FormClaim(ctx.user.id, form.flow, form.fid))
    if result is None:  # pressed twice: the first press submitted it
        raise _AlreadySent
    if form.flow == FLOW_JOIN and d.get("ref") and ctx.user.referral_code is None:
        await ctx.store.set_referral_code(ctx.user.id, d["ref"])
    logger.info("sign-up %s %s by user %s (%s)", result.signup_id, result.outcome, ctx.user.id, source)
    # A /collect is audited by the store, in the submission's transaction (COLLECT_ACTION).
    if result.replaced_id is not None:
        await ctx.store.audit(
            ctx.user.id, "signup.replace", f"signup:{result.signup_id}", {"replaced": result.replaced_id}
        )
    return [_confirmation(ctx, form, result, d["phone"], d["province"]), *await alerts_for(ctx, result, source)]


def _confirmation(ctx: Ctx, form: Form, result: SubmitResult, phone: str, answered_province: str) -> Reply:
    province = province_name(result.province_id, ctx.lang)
    if form.flow == FLOW_COLLECT:
        # The same words whether the number was known or not: a volunteer learns nothing,
        # not even the province a known sign-up stayed in.
        province = province_name(answered_province, ctx.lang)
        return Reply(ctx.t("join.form.done_collect", province=province), buttons=[ctx.back_button()])
    # Only the account's own earlier sign-up is called an update: telling anyone else
    # that a number was already registered would reveal who signed up.
    key = "join.form.done_updated" if result.outcome is SubmitOutcome.UPDATED else "join.form.done_created"
    return Reply(
        ctx.t(key, id=result.signup_id, province=province, phone=mask_phone(phone)), buttons=[ctx.back_button()]
    )


async def alert(
    ctx: Ctx, province_id: str, key: str, *, by_lang: Callable[[str], dict[str, Any]] | None = None, **kwargs: Any
) -> list[Reply]:
    """A notice to the province's officers (handlers/scope.officer_notices): its alert
    chats, else its organizers in their own chats and languages, else the admins. Only
    alert chats had been told, so a province without one never heard of a sign-up the
    worker was promised a call about (found by an outside tester). Never a name or a
    number: a group's members may not all be entitled to see them. `by_lang`: arguments
    worded in the reader's language."""
    catalog = ctx.services.catalog

    def text(lang: str) -> str:
        extra = by_lang(lang) if by_lang is not None else {}
        return catalog.t(lang, key, province=province_name(province_id, lang), **kwargs, **extra)

    return await officer_notices(ctx, province_id, text, or_admins=True, skip=ctx.user.id)


async def alerts_for(ctx: Ctx, result: SubmitResult, source: SignupSource) -> list[Reply]:
    catalog = ctx.services.catalog

    def how(lang: str) -> dict[str, Any]:
        return {"source": source_label(catalog, lang, source, None)}

    if result.outcome is SubmitOutcome.KNOWN:
        return []  # nothing changed: nothing to tell the organizers
    if result.outcome is SubmitOutcome.UPDATED and result.previous_province_id is None:
        return await alert(ctx, result.province_id, "join.alert.updated", id=result.signup_id)
    if result.outcome is SubmitOutcome.UPDATED:
        previous = result.previous_province_id
        return await alert(
            ctx,
            result.province_id,
            "join.alert.moved",
            id=result.signup_id,
            by_lang=lambda lang: {"previous": province_name(previous, lang)},
        )
    if result.replaced_id is not None:
        return await alert(
            ctx,
            result.province_id,
            "join.alert.replaced",
            id=result.signup_id,
            replaced=result.replaced_id,
            by_lang=how,
        )
    return await alert(ctx, result.province_id, "join.alert.new", id=result.signup_id, by_lang=how)


async def join(ctx: Ctx) -> Reply | list[Reply]:
    """Sign up to join the union: the form's first question, or the unfinished form."""
    return await start(ctx, FLOW_JOIN)


async def collect(ctx: Ctx) -> Reply | list[Reply]:
    """A volunteer signs up a worker who is standing next to them."""
    return await start(ctx, FLOW_COLLECT)


def register(router: Router) -> None:
    router.command("join", describe="join.cmd.join")(join)
    router.command("collect", min_role=Role.VOLUNTEER)(collect)
    router.flow(FLOW_JOIN, on_resume=resume_held)(on_text)
    router.flow(FLOW_COLLECT, min_role=Role.VOLUNTEER, on_resume=resume_held)(on_text)
    router.button(PREFIX, actions=ACTIONS)(on_button)
