"""Sending on Zalo: splitting, buttons, images, the 7-day window, promotion, errors, rate limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from sqlmodel import select

from bot.channels.zalo_api import RateLimiter
from bot.channels.zalo_render import MAX_BUTTONS, PayloadCodec, render
from bot.messages import Button, Reply
from bot.storage.models import ChannelUser, utcnow
from fakes.local_server import RequestWindow
from tests.zalo.conftest import Rig

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def known_user(rig: Rig, user: str, *, days_ago: float = 0) -> None:
    """A citizen who wrote to the OA ``days_ago`` days ago (in our records and at Zalo)."""
    await rig.zalo.text(user, "xin chào")
    await rig.settle()
    rig.fake.sent.clear()
    if days_ago:
        when = utcnow() - dt.timedelta(days=days_ago)
        rig.fake.interact(user, at=when.timestamp())
        async with rig.bot.database.session() as session:
            row = (await session.exec(select(ChannelUser).where(ChannelUser.platform_id == user))).one()
            row.last_seen_at = when
            session.add(row)
            await session.commit()


def paragraphs(count: int, size: int) -> list[str]:
    return [f"Đoạn {i}: " + ("thủ tục hành chính " * size)[: size - 10].strip() + "." for i in range(count)]


async def test_a_long_message_is_split_at_paragraph_boundaries(rig: Rig) -> None:
    await known_user(rig, "u-long")
    parts = paragraphs(7, 700)
    delivery = await rig.channel.send("u-long", [Reply("\n\n".join(parts), ((Button("☰ Menu", payload="menu"),),))])
    assert delivery.status == "sent" and delivery.message_id
    sent = rig.fake.messages_to("u-long")
    assert len(sent) == 4
    assert all(len(s.text) <= 2000 for s in sent)
    assert [s.text for s in sent] == ["\n\n".join(parts[i:i + 2]) for i in range(0, 7, 2)]
    assert [bool(s.buttons) for s in sent] == [False, False, False, True]  # buttons on the last
    assert delivery.message_id == sent[-1].message_id


def test_a_single_huge_paragraph_is_still_cut_under_the_limit() -> None:
    text = "a" * 4500
    rendered = render([Reply(text)], PayloadCodec("k"))
    assert [len(m["text"]) for m in rendered.messages] == [2000, 2000, 500]


async def test_links_and_payload_buttons(rig: Rig) -> None:
    await known_user(rig, "u-btn")
    buttons = ((Button("Cổng Dịch vụ công", url="https://dichvucong.gov.vn"),),
               (Button("Khai sinh", payload="faq:khai-sinh"), Button("☰ Menu", payload="menu")))
    assert (await rig.channel.send("u-btn", [Reply("Dạ, mời Anh/Chị chọn:", buttons)])).status == "sent"
    [message] = rig.fake.messages_to("u-btn")
    link, birth, menu = message.buttons
    assert link == {"title": "Cổng Dịch vụ công", "type": "oa.open.url",
                    "payload": {"url": "https://dichvucong.gov.vn"}}
    assert birth["type"] == menu["type"] == "oa.query.show"
    assert rig.channel.codec.decode(birth["payload"]) == "faq:khai-sinh"
    assert birth["payload"].startswith("Khai sinh #")
    await rig.zalo.press("u-btn", birth)
    await rig.settle()
    assert rig.fake.messages_to("u-btn")[-1].text.startswith("Đăng ký khai sinh cần giấy tờ gì?")


def test_extra_links_become_text_and_extra_choices_numbers() -> None:
    buttons = tuple((Button(f"Mục {i}", payload=f"faq:m{i}"),) for i in range(MAX_BUTTONS + 2))
    buttons += ((Button("Hướng dẫn", url="https://example.gov.vn/hd"),),)
    rendered = render([Reply("Chọn:", buttons)], PayloadCodec("k"))
    [message] = rendered.messages
    assert len(message["attachment"]["payload"]["buttons"]) == MAX_BUTTONS
    assert "🔗 Hướng dẫn: https://example.gov.vn/hd" in message["text"]
    assert "6. Mục 5\n7. Mục 6" in message["text"]  # numbered by their place: 1-5 are the buttons
    assert rendered.choices == [f"faq:m{i}" for i in range(MAX_BUTTONS + 2)]


def test_choices_numbered_by_the_core_are_not_numbered_twice() -> None:
    buttons = tuple((Button(f"{n}. Đáp án {n}", payload=f"ct:a:1:0:{n}"),) for n in range(1, 7))
    rendered = render([Reply("Câu 1/3.", buttons)], PayloadCodec("k"))
    [message] = rendered.messages
    assert message["text"].endswith("Anh/Chị gõ số để chọn:\n6. Đáp án 6")
    assert rendered.choices[6 - 1] == "ct:a:1:0:6"


async def test_an_image_is_uploaded_then_sent(rig: Rig) -> None:
    await known_user(rig, "u-image")
    delivery = await rig.channel.send("u-image", [Reply("Mã QR của xã", image=PNG)])
    assert delivery.status == "sent"
    media, caption = rig.fake.messages_to("u-image")
    [(attachment_id, data)] = rig.fake.uploads.items()
    assert data == PNG
    assert media.message["attachment"]["payload"]["elements"] == [
        {"media_type": "image", "attachment_id": attachment_id}]
    assert caption.text == "Mã QR của xã"


async def test_outside_the_7_day_window_nothing_is_sent_and_zalo_is_not_called(rig: Rig) -> None:
    await known_user(rig, "u-old", days_ago=8)
    calls = len(rig.fake.calls)
    delivery = await rig.channel.send("u-old", [Reply("Thông báo lịch tiếp dân")])
    assert delivery.status == "ineligible" and delivery.error == "outside_window"
    never = await rig.channel.send("u-stranger", [Reply("Thông báo")])
    assert never.status == "ineligible" and never.error == "never_interacted"
    assert len(rig.fake.calls) == calls and rig.fake.sent == []


async def test_zalo_saying_outside_the_window_is_ineligible_and_not_retried(rig: Rig) -> None:
    await known_user(rig, "u-drift")
    rig.fake.interact("u-drift", at=time.time() - 8 * 24 * 3600)  # Zalo knows better than we do
    calls = len(rig.fake.calls)
    delivery = await rig.channel.send("u-drift", [Reply("Thông báo")])
    assert delivery.status == "ineligible" and "-230" in (delivery.error or "")
    assert len(rig.fake.calls) == calls + 1


async def test_not_a_follower_is_ineligible(rig: Rig) -> None:
    await known_user(rig, "u-nf")
    rig.fake.users["u-nf"].follower = False
    delivery = await rig.channel.send("u-nf", [Reply("Thông báo")])
    assert delivery.status == "ineligible" and "not_follower" in (delivery.error or "")


async def test_promotion_messages_reach_followers_outside_the_window_when_enabled(rig_factory) -> None:
    rig = await rig_factory(promotion_enabled=True)
    await known_user(rig, "u-promo", days_ago=30)
    buttons = ((Button("Xem chi tiết", url="https://dichvucong.gov.vn"),),)
    delivery = await rig.channel.send("u-promo", [Reply("**Lịch tiếp dân** tháng 12", buttons)])
    assert delivery.status == "sent"
    [promo] = rig.fake.messages_to("u-promo")
    assert promo.path == "promotion"
    payload = promo.message["attachment"]["payload"]
    assert payload["template_type"] == "promotion"
    assert payload["elements"][0] == {"type": "header", "content": rig.bot.settings.office.name, "align": "left"}
    assert payload["elements"][1]["content"] == "Lịch tiếp dân tháng 12"
    assert payload["buttons"][0]["type"] == "oa.open.url"


async def test_rate_limited_by_zalo_backs_off_and_asks_to_retry(rig: Rig) -> None:
    await known_user(rig, "u-rate")
    rig.fake.window.limit = rig.fake.window.used + 1  # one more call allowed this minute
    assert (await rig.channel.send("u-rate", [Reply("một")])).status == "sent"
    started = time.monotonic()
    delivery = await rig.channel.send("u-rate", [Reply("hai")])
    assert delivery.status == "retry" and delivery.retry_after == rig.channel.rate_limit_backoff
    assert "-32" in (delivery.error or "")
    # it paused between its attempts instead of hammering Zalo
    assert time.monotonic() - started >= 2 * rig.channel.rate_limit_backoff
    rig.fake.window.limit = 4000
    assert (await rig.channel.send("u-rate", [Reply("ba")])).status == "sent"


async def test_the_client_side_limiter_keeps_under_zalos_limit(rig_factory) -> None:
    rig = await rig_factory(channel_options={"limiter": RateLimiter(3, 0.4)})
    await known_user(rig, "u-burst")
    await asyncio.sleep(0.4)  # the greeting's call leaves the window
    rig.fake.window = RequestWindow(3, 0.3)
    started = time.monotonic()
    deliveries = await asyncio.gather(*(rig.channel.send("u-burst", [Reply(f"tin {i}")]) for i in range(7)))
    assert [d.status for d in deliveries] == ["sent"] * 7
    assert time.monotonic() - started >= 0.8  # 7 calls at 3 per 0.4 s
    assert len(rig.fake.messages_to("u-burst")) == 7


async def test_quota_and_bad_parameter_fail_with_their_reason(rig: Rig, caplog) -> None:
    await known_user(rig, "u-quota")
    rig.fake.cs_quota = 0
    quota = await rig.channel.send("u-quota", [Reply("Thông báo")])
    assert quota.status == "failed" and quota.error.startswith("quota") and "-211" in quota.error
    rig.fake.cs_quota = None
    rig.fake.fail_next.append((-201, "Parameter is invalid"))
    caplog.set_level("ERROR", logger="bot.channels.zalo")
    bad = await rig.channel.send("u-quota", [Reply("Thông báo")])
    assert bad.status == "failed" and bad.error.startswith("bad_parameter")
    assert "BUG" in caplog.text


async def test_a_half_sent_reply_is_failed_not_retried(rig: Rig) -> None:
    await known_user(rig, "u-half")
    rig.fake.cs_quota = 1
    delivery = await rig.channel.send("u-half", [Reply("\n\n".join(paragraphs(2, 1500)))])
    assert delivery.status == "failed" and "đã gửi 1/2 tin" in (delivery.error or "")
    assert len(rig.fake.messages_to("u-half")) == 1


async def test_zalo_unreachable_is_a_retry(rig_factory) -> None:
    rig = await rig_factory(channel_options={"max_inline_wait": 0.01})
    await known_user(rig, "u-net")
    await rig.fake.close()  # Zalo is gone
    delivery = await rig.channel.send("u-net", [Reply("Thông báo")])
    assert delivery.status == "retry" and delivery.error.startswith("network")
