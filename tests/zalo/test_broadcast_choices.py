"""A broadcast reaching a citizen between a menu and their typed number must not take the
number's meaning away (issue 20: sends outside a turn deleted the pending numbered choices)."""

from __future__ import annotations

from bot.config import BUNDLED_CONTENT
from bot.messages import Button, Reply


def numbered(text: str) -> dict[str, str]:
    """'3. Đất đai' lines of a Zalo message: label -> the number to type."""
    return dict(line.split(". ", 1)[::-1] for line in text.splitlines() if line[:1].isdigit() and ". " in line)


async def test_a_broadcast_keeps_the_citizens_numbered_choices(rig_factory) -> None:
    rig = await rig_factory(content=BUNDLED_CONTENT)  # the main menu has more topics than buttons
    await rig.zalo.text("u-bc", "/start")
    await rig.settle()
    [menu] = rig.fake.messages_to("u-bc")
    last = rig.bot.content.current.pack.categories[-1].title
    number = numbered(menu.text)[last]

    delivery = await rig.channel.send("u-bc", [Reply("Thông báo: UBND xã nghỉ lễ ngày 2/9.")])
    assert delivery.status == "sent"

    await rig.zalo.text("u-bc", number)
    await rig.settle()
    assert rig.fake.messages_to("u-bc")[-1].text.startswith(last)


async def test_a_broadcast_with_its_own_numbered_choices_replaces_them(rig_factory) -> None:
    """The last numbered list the citizen was shown is the one their number refers to."""
    rig = await rig_factory(content=BUNDLED_CONTENT)
    await rig.zalo.text("u-bc2", "/start")
    await rig.settle()
    categories = rig.bot.content.current.pack.categories
    buttons = tuple((Button(c.title, payload=f"cat:{c.id}"),) for c in reversed(categories))
    await rig.channel.send("u-bc2", [Reply("Thông báo kèm lựa chọn.", buttons)])
    [_, notice] = rig.fake.messages_to("u-bc2")
    first = categories[0].title
    await rig.zalo.text("u-bc2", numbered(notice.text)[first])
    await rig.settle()
    assert rig.fake.messages_to("u-bc2")[-1].text.startswith(first)
