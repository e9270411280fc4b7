"""How an FAQ entry reads as a reply: title, answer, and where the facts come from."""

from __future__ import annotations

from collections.abc import Mapping

from bot.content import template
from bot.content.model import FaqEntry, Translation


def answer_text(entry: FaqEntry, values: Mapping[str, str], translation: Translation | None = None) -> str:
    """The reply; in ``translation``'s words when given (the source line stays the entry's)."""
    title, body = (entry.title, entry.body) if translation is None else (translation.title, translation.body)
    source = f"_Nguồn: {entry.source}. Cập nhật {entry.updated:%d/%m/%Y}._"
    return f"**{title}**\n\n{template.render(body, values)}\n\n{source}"
