"""Rendering the content Markdown subset for channels without rich text (console, Zalo)."""

from __future__ import annotations

import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])_(?!\s)(.+?)(?<!\s)_(?![\w*])", re.DOTALL)
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def to_plain(text: str) -> str:
    """**bold** and _italic_ lose their markers; [label](url) becomes "label (url)"."""
    text = _LINK.sub(lambda m: m.group(2) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
    text = _BOLD.sub(r"\1", text)
    return _ITALIC.sub(r"\1", text)


def split_message(text: str, limit: int) -> list[str]:
    """Split a long reply at paragraph boundaries (then lines, then words) to fit ``limit``."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        pieces = [paragraph] if len(paragraph) <= limit else _split_long(paragraph, limit)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than ``limit``: cut after a line or a word, or hard-cut a huge word."""
    chunks: list[str] = []
    current = ""
    for unit in re.split(r"(?<=[\n ])", paragraph):
        while len(unit) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(unit[:limit])
            unit = unit[limit:]
        if len(current) + len(unit) > limit:
            chunks.append(current)
            current = unit
        else:
            current += unit
    if current:
        chunks.append(current)
    return [c.strip() for c in chunks if c.strip()]
