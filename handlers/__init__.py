"""Conversation features, one module each, routed in one place."""

from __future__ import annotations

from bot.routing import Dispatcher


def build_dispatcher() -> Dispatcher:
    """The order matters only on conflicts: earlier routers win."""
    from handlers import admin, browse, faq, feedback, language, lookup, start, subscriptions, welcome

    return Dispatcher(
        [start.router, admin.router, subscriptions.router, welcome.router, browse.router,
         feedback.router, language.router, lookup.router, faq.router],
        fallback=start.help_handler,
    )
