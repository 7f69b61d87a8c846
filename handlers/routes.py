"""The route table: every feature wired in one visible place.

Order matters only where noted: a feature that claims free text (the rights Q&A)
registers last so that forms keep their own text input.
"""

from __future__ import annotations

from handlers import broadcasts, care, console, core, inbox, listening, qa, roles
from handlers.join import form, organizer, privacy, volunteer
from handlers.router import Router


def build_router() -> Router:
    router = Router()
    core.register(router)
    roles.register(router)
    # Sign-ups: the form, volunteers, organizers' follow-up, /mydata and /forget.
    form.register(router)
    volunteer.register(router)
    organizer.register(router)
    privacy.register(router)
    router.menu_entry("join", "join")
    broadcasts.register(router)
    router.menu_entry("news", "news")
    # Quick polls and anonymous workplace reports (menu entry "report").
    listening.register(router)
    # Member care: benefits, programs with limited places, hardship support (menu entries inside).
    care.register(router)
    # Rights Q&A takes free text outside forms; questions it cannot answer go to the inbox.
    inbox.register(router)
    console.register(router)
    qa.register(router)
    # Typed poll answers ("2", "1, 3", "đồng ý") go to an open poll the person received.
    listening.register_poll_text(router)
    # Last: wraps the free-text handler registered so far, so that a whole message
    # "dừng" / "stop" unsubscribes before the rights Q&A sees it.
    broadcasts.register_opt_out_words(router)
    return router
