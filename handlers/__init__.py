"""Conversation features, each in its own folder, routed in one place."""

from __future__ import annotations

from bot.routing import Dispatcher
from handlers.admin import router as admin
from handlers.announcements import compose
from handlers.announcements import router as announcements
from handlers.contest import router as contest
from handlers.faq import browse, language, questions, start, welcome
from handlers.feedback import router as feedback
from handlers.lookups import router as lookups

# A poster's QR code for a contest opens it: /start ct-<id> is the button ct:open:<id>.
DEEP_LINKS = {"ct-": "ct:open:"}


def build_dispatcher() -> Dispatcher:
    """The order matters on conflicts (earlier routers win) and for text: the lookups' text
    handler sees a message before the FAQ's, and declines what is not a code or a fee."""
    return Dispatcher(
        [start.router, compose.router, admin.router, announcements.router, welcome.router, browse.router,
         feedback.router, contest.router, language.router, lookups.router, questions.router],
        fallback=start.help_handler,
        deep_links=DEEP_LINKS,
    )
