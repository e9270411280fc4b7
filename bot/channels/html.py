"""The content's Markdown subset as safe HTML: Telegram's markup, and the web chat's.

Everything in a reply came from citizens, officials or content editors, so all of it is escaped
first and only the markup written here becomes tags: the result is always well-formed.
"""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])_(?!\s)(.+?)(?<!\s)_(?![\w*])", re.DOTALL)
_BULLET = re.compile(r"^([ \t]*)- ", re.MULTILINE)
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_SAFE_URL = re.compile(r"(?:https?://|tg://)[^\s<>\"]+", re.IGNORECASE)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def safe_url(url: str) -> bool:
    """Links Telegram accepts in a message or a URL button: http(s) and tg:// only."""
    return _SAFE_URL.fullmatch(url) is not None


def _inline(escaped: str) -> str:
    """**bold** and _italic_ on already-escaped text; italic is applied inside and outside bold
    spans separately, so tags always nest properly."""
    parts = _BOLD.split(escaped)
    out = []
    for index, part in enumerate(parts):
        part = _ITALIC.sub(r"<i>\1</i>", part)
        out.append(f"<b>{part}</b>" if index % 2 else part)
    return "".join(out)


def to_html(markdown: str) -> str:
    """The Markdown subset as Telegram HTML, everything else escaped."""
    text = markdown.replace("\x00", "")
    anchors: list[str] = []

    def anchor(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        if not safe_url(url):
            return match.group(0)  # shown as written, escaped like any text
        anchors.append(f'<a href="{html.escape(url, quote=True)}">{_inline(html.escape(label, quote=False))}</a>')
        return f"\x00{len(anchors) - 1}\x00"

    text = _LINK.sub(anchor, text)
    text = _BULLET.sub(r"\1• ", text)
    rendered = _inline(html.escape(text, quote=False))
    return _PLACEHOLDER.sub(lambda m: anchors[int(m.group(1))], rendered)
