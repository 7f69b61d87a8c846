"""The route table: every feature wired in one visible place.

Order matters only where noted: a feature that claims free text (the rights Q&A)
registers last so that forms keep their own text input.
"""

from __future__ import annotations

from handlers import core, roles
from handlers.router import Router


def build_router() -> Router:
    router = Router()
    core.register(router)
    roles.register(router)
    return router
