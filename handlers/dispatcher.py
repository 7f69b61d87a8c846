"""Turn one neutral inbound message into the replies to send.

Channel adapters call `Dispatcher.handle`; everything they need to know about a user
(language, role, open forms) is decided here, the same way for every channel.
"""

from __future__ import annotations

import logging

from handlers.context import Ctx, Services, effective_role
from handlers.flood import FloodGuard, Verdict
from handlers.forms import QA_FLOW, held_form, put_back
from handlers.menu import with_menu
from handlers.router import HandlerResult, Router, as_replies
from handlers.types import Inbound, InboundKind, Reply
from storage import Role

logger = logging.getLogger(__name__)

QA_OFFER = "offer"  # handlers/rights/chat.py: the topic choices last offered
QA_STOP_ASKED = "stopq"  # handlers/broadcasts/subscriptions.py: "stop announcements?" just asked
QA_QUESTIONS = frozenset({QA_OFFER, QA_STOP_ASKED})  # questions a typed yes answers, in the Q&A's state


class Dispatcher:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        s = services.settings
        self.flood = FloodGuard(s.flood_messages, s.flood_window_seconds)

    async def handle(self, inbound: Inbound) -> list[Reply]:
        verdict = self.flood.check(f"{inbound.channel}:{inbound.user_id}")
        if verdict is Verdict.DROP:
            logger.info("flood: dropped a message from %s:%s", inbound.channel, inbound.user_id)
            return []
        store = self.services.store
        user = await store.touch_user(
            inbound.channel, inbound.user_id, language=self.services.settings.default_language
        )
        if verdict is Verdict.NOTICE:
            return [Reply(self.services.catalog.t(user.language, "flood.slow_down"))]
        ctx = Ctx(self.services, inbound, user, effective_role(user, self.services.settings), router=self.router)
        return as_replies(await self._route(ctx))

    async def apology(self, channel: str, user_id: str) -> Reply:
        """The reply for a failure we did not foresee, in the user's language if known."""
        lang = self.services.settings.default_language
        try:
            user = await self.services.store.find_user(channel, user_id)
            if user is not None:
                lang = user.language
        except Exception:  # the store may be what failed; apologise anyway
            logger.exception("could not look up the language for an apology")
        return Reply(self.services.catalog.t(lang, "errors.apology"))

    async def _route(self, ctx: Ctx) -> HandlerResult:
        inbound, router = ctx.inbound, self.router
        if inbound.kind in (InboundKind.COMMAND, InboundKind.BUTTON):
            await self._leave_one_message_step(ctx)
        if inbound.kind is InboundKind.COMMAND:
            route = router.commands.get(inbound.command)
            if route is None:
                return with_menu(ctx, ctx.t("fallback.unknown_command", command=inbound.command[:32]))
            if not self._allowed(ctx, route.min_role):
                return self._denied(ctx, route.min_role)
            ctx.args = inbound.args
            return await route.handler(ctx)

        if inbound.kind is InboundKind.BUTTON:
            prefix, _, rest = inbound.payload.partition(":")
            route = router.buttons.get(prefix)
            if route is None:
                logger.info("unknown button payload from %s:%s", inbound.channel, inbound.user_id)
                return with_menu(ctx, ctx.t("fallback.button_expired"))
            if not self._allowed(ctx, route.min_role):
                return self._denied(ctx, route.min_role)
            ctx.args = tuple(rest.split(":")) if rest else ()
            return await route.handler(ctx)

        state = await ctx.store.get_state(ctx.user.id)
        if state is not None and state.flow in router.flows:
            route = router.flows[state.flow]
            if self._allowed(ctx, route.min_role):
                return await route.handler(ctx)
            # A role was revoked mid-form: the form is no longer theirs to finish.
            await ctx.store.clear_state(ctx.user.id)
            return self._denied(ctx, route.min_role)

        if inbound.kind is InboundKind.UNSUPPORTED:
            return with_menu(ctx, ctx.t("fallback.unsupported"))
        if not inbound.text.strip():
            return with_menu(ctx, ctx.t("fallback.empty"))
        answered = await router.free_text(ctx)
        if answered is not None:
            return answered
        return with_menu(ctx, ctx.t("fallback.not_understood"))

    async def _leave_one_message_step(self, ctx: Ctx) -> None:
        """Any other command or button leaves a step that takes the next message whole
        (router.OneMessageStep): the hand-off, an organizer's answer or note. So the next
        ordinary question is answered, not sent to the officers or to a worker."""
        state = await ctx.store.get_state(ctx.user.id)
        if state is None:
            return
        step = self.router.one_message.get(state.flow)
        if step is not None:
            if not step.kept_by(ctx.inbound):
                await ctx.store.clear_state(ctx.user.id)
                held = held_form(state)
                if held is not None:
                    # The step held a form it was opened over (handlers/forms.py): the form
                    # is open again for what comes next, through its resumer, which leaves
                    # one past its time erased (found in review: it came back fresh). What
                    # it would say is not shown: the command or button answers.
                    await put_back(ctx, held)
        elif state.flow == QA_FLOW and QA_QUESTIONS & state.data.keys():
            # The topic choices or "stop announcements?" are no longer the last thing
            # shown: a "yes" typed next is not an answer to them (handlers/rights/chat.py,
            # handlers/broadcasts/subscriptions.py).
            data = {k: v for k, v in state.data.items() if k not in QA_QUESTIONS}
            await ctx.store.set_state(ctx.user.id, state.flow, state.step, data)

    @staticmethod
    def _allowed(ctx: Ctx, min_role: Role) -> bool:
        return ctx.role.rank >= min_role.rank

    @staticmethod
    def _denied(ctx: Ctx, min_role: Role) -> Reply:
        logger.info("denied %s to user %s (role %s)", min_role, ctx.user.id, ctx.role)
        return ctx.reply("auth.not_allowed", role=ctx.t(f"roles.{min_role.value}"))
