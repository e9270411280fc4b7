"""How an FAQ entry reads as a reply: title, answer, and where the facts come from."""

from __future__ import annotations

from collections.abc import Mapping

from bot.content import template
from bot.content.model import FaqEntry


def answer_text(entry: FaqEntry, values: Mapping[str, str]) -> str:
    body = template.render(entry.body, values)
    source = f"_Nguồn: {entry.source}. Cập nhật {entry.updated:%d/%m/%Y}._"
    return f"**{entry.title}**\n\n{body}\n\n{source}"
