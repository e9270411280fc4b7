"""Conversation features, one module each, routed in one place."""

from __future__ import annotations

from bot.routing import Dispatcher


def build_dispatcher() -> Dispatcher:
    """The order matters only on conflicts: earlier routers win."""
    from handlers import browse, faq, lookup, start

    return Dispatcher(
        [start.router, browse.router, lookup.router, faq.router],
        fallback=start.help_handler,
    )
