"""Rights Q&A: free text goes to the knowledge-base search; a confident match is
answered with its citation, an unsure one offers the closest topics, and anything the
bot cannot answer can be handed to a union officer (see handlers/inbox.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from handlers.context import Ctx
from handlers.rights.kb import KnowledgeBase, Topic, load_knowledge_base
from handlers.rights.search import Searcher, SearchResult
from handlers.router import Router, payload
from handlers.types import Button, Reply

logger = logging.getLogger(__name__)

# Searching the first part of a pasted page is enough, and keeps latency flat.
MAX_QUERY_CHARS = 500
MAX_QUESTION_CHARS = 2000
SERVICE = "rights"  # key of the RightsService in Services.extras


@dataclass(slots=True)
class RightsService:
    kb: KnowledgeBase
    searcher: Searcher

    @classmethod
    def load(cls, extra_dir: str | Path | None = None) -> RightsService:
        kb = load_knowledge_base(Path(extra_dir) if extra_dir else None)
        return cls(kb, Searcher(kb))

    def search(self, text: str, lang: str | None = None) -> SearchResult:
        return self.searcher.search(text[:MAX_QUERY_CHARS], lang)

    def topic(self, topic_id: str) -> Topic | None:
        return self.kb.topics.get(topic_id)

    def title(self, topic_id: str, lang: str) -> str:
        t = self.topic(topic_id)
        return t.title_in(lang) if t is not None else topic_id

    def answer_text(self, topic_id: str, lang: str, *, t: Callable[..., str], hotline: str) -> str:
        """The answer as a worker sees it: key facts, legal basis, the general-information line."""
        topic = self.kb.topics[topic_id]
        footer_hotline = t("qa.footer_hotline", hotline=hotline) if hotline else ""
        return "\n\n".join([
            topic.answer_in(lang).strip(),
            t("qa.citation", citation=topic.citation_in(lang)),
            t("qa.footer", hotline=footer_hotline),
        ])


@functools.cache
def default_service() -> RightsService:
    return RightsService.load()


def rights(ctx: Ctx) -> RightsService:
    # The composition root installs the service (with the federation's extra entries);
    # anything else that builds Services, e.g. a test, gets the packaged knowledge base.
    service: RightsService | None = ctx.services.extras.get(SERVICE)
    if service is None:
        service = ctx.services.extras[SERVICE] = default_service()
    return service


def answer_reply(ctx: Ctx, topic_id: str) -> Reply:
    svc = rights(ctx)
    text = svc.answer_text(topic_id, ctx.lang, t=ctx.t, hotline=ctx.settings.hotline)
    rows = [
        [Button(ctx.t("qa.helpful"), payload("fb", topic_id, 1)),
         Button(ctx.t("qa.not_helpful"), payload("fb", topic_id, 0))],
    ]
    topic = svc.kb.topics[topic_id]
    for rel in topic.related[:2]:
        if svc.topic(rel) is not None:
            rows.append([Button(ctx.t("qa.related", title=svc.title(rel, ctx.lang)), payload("qa", rel))])
    rows.append([Button(ctx.t("qa.ask_officer"), payload("ask", "q"))])
    rows.append(ctx.back_button())
    return Reply(text, buttons=rows)


async def remember_question(ctx: Ctx, text: str) -> None:
    """Keep the last unanswered question so "ask a union officer" can forward it.

    Stored as conversation state (erased by /forget), never logged.
    """
    await ctx.store.set_state(ctx.user.id, "qa", "asked", {"q": text[:MAX_QUESTION_CHARS]})


async def answer_free_text(ctx: Ctx) -> Reply | list[Reply]:
    text = ctx.inbound.text.strip()
    svc = rights(ctx)
    result = svc.search(text, ctx.lang)
    logger.info("qa: user %s topic=%s score=%.2f", ctx.user.id, result.topic, result.score)
    if result.topic is not None:
        await remember_question(ctx, text)
        reply = answer_reply(ctx, result.topic)
        if len(text) > MAX_QUERY_CHARS:
            reply.text = f"{ctx.t('qa.long_question')}\n\n{reply.text}"
        return reply
    if result.out_of_scope:
        return Reply(ctx.t("qa.out_of_scope"), buttons=_menu_rows(ctx))
    await remember_question(ctx, text)
    rows = [[Button(svc.title(s, ctx.lang), payload("qa", s))] for s in result.suggestions[:3]]
    rows.append([Button(ctx.t("qa.ask_officer"), payload("ask", "q"))])
    rows.append(ctx.back_button())
    intro = ctx.t("qa.unsure") if result.suggestions else ctx.t("qa.none_found")
    return Reply(intro, buttons=rows)


def _menu_rows(ctx: Ctx) -> list[list[Button]]:
    from handlers.core import main_menu

    return main_menu(ctx).buttons


def categories_reply(ctx: Ctx) -> Reply:
    kb = rights(ctx).kb
    rows = [[Button(kb.category_name(cat, ctx.lang), payload("kb", "c", cat))] for cat in kb.categories]
    rows.append(ctx.back_button())
    return Reply(ctx.t("qa.categories"), buttons=rows)


def register(router: Router) -> None:
    # Registered last in routes.py: forms keep their own text input.
    router.text(answer_free_text)

    @router.command("topics", describe="cmd.topics")
    async def topics(ctx: Ctx) -> Reply:
        """The topic browser, for people who prefer tapping to typing."""
        return categories_reply(ctx)

    @router.button("kb")
    async def browse(ctx: Ctx) -> Reply:
        kb = rights(ctx).kb
        if len(ctx.args) == 2 and ctx.args[0] == "c" and ctx.args[1] in kb.categories:
            cat = ctx.args[1]
            rows = [[Button(t.title_in(ctx.lang), payload("qa", t.id))] for t in kb.topics_in(cat)]
            rows.append([Button(ctx.t("qa.browse"), payload("kb", "cats"))])
            rows.append(ctx.back_button())
            reply = Reply(ctx.t("qa.topics_in", category=kb.category_name(cat, ctx.lang)), buttons=rows)
        else:
            reply = categories_reply(ctx)
        reply.edit = True
        return reply

    @router.button("qa")
    async def show_topic(ctx: Ctx) -> Reply:
        topic_id = ctx.args[0] if ctx.args else ""
        if rights(ctx).topic(topic_id) is None:
            return categories_reply(ctx)
        return answer_reply(ctx, topic_id)

    @router.button("fb")
    async def feedback(ctx: Ctx) -> Reply:
        if len(ctx.args) != 2 or rights(ctx).topic(ctx.args[0]) is None or ctx.args[1] not in {"0", "1"}:
            return categories_reply(ctx)
        helpful = ctx.args[1] == "1"
        await ctx.store.record_feedback(ctx.user.id, ctx.args[0], helpful)
        if helpful:
            return ctx.reply("qa.thanks_helpful")
        return Reply(ctx.t("qa.thanks_not_helpful"), buttons=[
            [Button(ctx.t("qa.ask_officer"), payload("ask", "q"))], ctx.back_button(),
        ])
