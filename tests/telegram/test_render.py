"""Markdown subset → Telegram HTML, splitting, keyboards: checked against the fake's strict
parser of Telegram's HTML (the same one that refuses malformed messages over HTTP)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.telegram_render import keyboard, render, split_text, to_html, utf16_len
from bot.messages import Button, Reply
from fakes.telegram import ApiError, parse_html


def shown(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """What Telegram displays: the text and (entity type, covered text) pairs."""
    text, entities = parse_html(to_html(markdown))
    units = text.encode("utf-16-le")
    return text, [(e["type"], units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le"))
                  for e in entities]


@pytest.mark.parametrize(("markdown", "text", "entities"), [
    ("**Hồ sơ** gồm _bản sao_", "Hồ sơ gồm bản sao", [("bold", "Hồ sơ"), ("italic", "bản sao")]),
    ("Xem [Cổng DVC](https://dichvucong.gov.vn/p?a=1&b=2)", "Xem Cổng DVC", [("text_link", "Cổng DVC")]),
    ("- một\n- hai\n1. ba", "• một\n• hai\n1. ba", []),
    ("a < b & c > d \"e\" 'f'", "a < b & c > d \"e\" 'f'", []),
    ("<b>không phải thẻ</b> &amp;", "<b>không phải thẻ</b> &amp;", []),
    ("**đậm _nghiêng_ đậm**", "đậm nghiêng đậm", [("bold", "đậm nghiêng đậm"), ("italic", "nghiêng")]),
    ("**a _b** c_", "a _b c_", [("bold", "a _b")]),  # crossing markers: never crossing tags
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))", []),  # not a link Telegram allows
    ("file_name_with_underscores.md", "file_name_with_underscores.md", []),
    ("**[Đậm](https://a.vn)**", "Đậm", [("bold", "Đậm"), ("text_link", "Đậm")]),
    ("\x00placeholder\x00 0", "placeholder 0", []),
])
def test_markdown_subset(markdown: str, text: str, entities: list) -> None:
    got_text, got_entities = shown(markdown)
    assert got_text == text
    assert sorted(got_entities) == sorted(entities)


def test_link_targets_are_escaped_or_refused() -> None:
    html = to_html("[a](https://x.vn/?a=1&b='2')")
    assert html == '<a href="https://x.vn/?a=1&amp;b=&#x27;2&#x27;">a</a>'
    _, [entity] = parse_html(html)
    assert entity["url"] == "https://x.vn/?a=1&b='2'"
    # a target that would break out of the attribute is no link at all: it is shown as written
    assert shown('[a](https://x.vn/?q="><b>)') == ('[a](https://x.vn/?q="><b>)', [])


PIECES = [*"ab đ*_[]()<>&\"'-\n1.:/ 😀\x00", "https://", "**", "](", "- ", "&amp;", "<b>", "</a>"]
MARKUP = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)


@settings(max_examples=400, deadline=None)
@given(MARKUP)
def test_any_text_renders_to_html_telegram_accepts(markdown: str) -> None:
    try:
        text, _ = parse_html(to_html(markdown))
    except ApiError as exc:  # pragma: no cover - the failure hypothesis is looking for
        raise AssertionError(f"{markdown!r} -> {to_html(markdown)!r}: {exc.description}") from None
    assert utf16_len(text) <= utf16_len(markdown)  # what is shown never outgrows the source


def test_split_keeps_paragraphs_and_counts_utf16() -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ " * 300 for i in range(12)]
    parts = split_text("\n\n".join(paragraphs))
    assert len(parts) > 1 and all(utf16_len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)
    emoji = "😀" * 3000  # 3,000 characters but 6,000 UTF-16 units: must still fit
    assert all(utf16_len(p) <= 4096 for p in split_text(emoji))
    assert "".join(split_text(emoji)) == emoji


async def test_keyboard_links_choices_and_long_payloads() -> None:
    stored: dict[str, str] = {}

    async def store(payload: str) -> str:
        stored[f"key{len(stored)}"] = payload
        return f"key{len(stored) - 1}"

    long_ascii = "faq:" + "x" * 61  # 65 bytes
    long_bytes = "faq:" + "đ" * 31  # 35 characters but 66 bytes
    collision = "k:looks-like-a-key"  # a payload that could be mistaken for a stored key
    markup = await keyboard((
        (Button("Cổng", url="https://dichvucong.gov.vn"), Button("Xấu", url="javascript:alert(1)")),
        (Button("A", payload="faq:ket-hon"), Button("B", payload=long_ascii), Button("C", payload=long_bytes)),
        (Button("D", payload=collision), Button("", payload="menu")),
    ), store)
    assert markup is not None
    rows = [[b.to_dict() for b in row] for row in markup.inline_keyboard]
    assert rows[0] == [{"text": "Cổng", "url": "https://dichvucong.gov.vn"}]
    assert [b["callback_data"] for b in rows[1]] == ["faq:ket-hon", "k:key0", "k:key1"]
    assert [b["callback_data"] for b in rows[2]] == ["k:key2", "menu"] and rows[2][1]["text"] == "…"
    assert stored == {"key0": long_ascii, "key1": long_bytes, "key2": collision}


async def test_buttons_go_with_the_last_part() -> None:
    async def store(payload: str) -> str:
        raise AssertionError("nothing to store")

    messages = await render(Reply("\n\n".join(["x" * 3000] * 3), ((Button("M", payload="menu"),),)), store)
    assert len(messages) == 3
    assert [m.markup is not None for m in messages] == [False, False, True]
    assert await render(Reply("   "), store) == []
