"""The contest end to end on Zalo (the fake OA API, signed webhooks): the rules, the consent,
the details with the phone shared from Zalo's "request user info" card, every question (the
sixth choice beyond Zalo's five buttons typed as its number), the score and the explanations;
and one person refused a second attempt on Zalo after taking part on Telegram with the same
number."""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import ContestEntry, ContestFlag, ContestParticipant
from fakes.telegram import FakeBotApi
from fakes.zalo import Sent
from tests.contest_channels import CONTEST_ID, contest_content, leaks
from tests.telegram.conftest import rows, running
from tests.test_contest import Clock, clock  # noqa: F401 - clock: a fixture (the contest's time)
from tests.zalo.conftest import Rig

PICTURE = "https://xa.gov.vn/anh/chia-se.png"


async def turn(rig: Rig, user: str, *, text: str | None = None, press: str | None = None,
               on: Sent | None = None) -> list[Sent]:
    """The citizen types ``text`` or presses the button titled ``press`` on ``on``; the
    messages the OA sends back."""
    before = len(rig.fake.messages_to(user))
    if press is not None:
        assert on is not None
        [button] = [b for b in on.buttons if b["title"] == press]
        await rig.zalo.press(user, button)
    else:
        assert text is not None
        await rig.zalo.text(user, text)
    await rig.settle()
    return rig.fake.messages_to(user)[before:]


async def share_details(rig: Rig, user: str, name: str) -> list[Sent]:
    """Rules, consent, name, village and the phone from the card; the messages after sharing."""
    [rules] = await turn(rig, user, text="/cuocthi")
    [consent] = await turn(rig, user, press="▶️ Bắt đầu làm bài", on=rules)
    await turn(rig, user, press="✅ Đồng ý", on=consent)
    await turn(rig, user, text=name)
    ask, card = await turn(rig, user, text="Thôn Đông")
    assert "chia sẻ số điện thoại" in ask.text and card.asks_info
    before = len(rig.fake.messages_to(user))
    await rig.zalo.submit_info(user, "84912345678", "Nguyễn Thị Lan")
    await rig.settle()
    return rig.fake.messages_to(user)[before:]


async def test_a_contest_on_zalo_end_to_end(
        rig_factory, tmp_path: Path, clock: Clock, database_url: str) -> None:  # noqa: F811 - clock: the fixture
    rig: Rig = await rig_factory(content=contest_content(tmp_path), share_info_image_url=PICTURE)
    [confirm] = await share_details(rig, "u-lan", "nguyễn thị lan")
    assert "- Họ và tên: Nguyễn Thị Lan\n- Thôn/tổ dân phố: Thôn Đông\n- Số điện thoại: 0912 345 678" in confirm.text
    [first] = await turn(rig, "u-lan", press="✅ Đúng, bắt đầu làm bài", on=confirm)
    assert first.text.startswith("Câu 1/3.") and [b["title"] for b in first.buttons] == ["1. 15 ngày", "2. 60 ngày"]
    [second] = await turn(rig, "u-lan", press="2. 60 ngày", on=first)  # right
    assert second.text.startswith("Câu 2/3.")
    assert [b["title"] for b in second.buttons] == ["1. Bưu điện", "2. Nhà văn hóa thôn", "3. Trụ sở công an",
                                                    "4. Ngân hàng", "5. Chợ xã"]
    assert second.text.endswith("Anh/Chị gõ số để chọn:\n6. Cổng Dịch vụ công quốc gia")
    clock.advance(minutes=3)  # a break: the citizen comes back and asks for the contest
    [resumed] = await turn(rig, "u-lan", text="/cuocthi")
    assert resumed.text.startswith("Dạ, mời Anh/Chị làm tiếp bài thi.") and "Câu 2/3." in resumed.text
    [third] = await turn(rig, "u-lan", text="6")  # the sixth choice, typed: right
    assert third.text.startswith("Câu 3/3.")
    [predict] = await turn(rig, "u-lan", press="3. 90 ngày", on=third)  # wrong
    assert "Câu dự đoán" in predict.text
    before_result = [s.message for s in rig.fake.messages_to("u-lan")]
    result, explained = await turn(rig, "u-lan", text="120")
    assert "đúng 2/3 câu" in result.text and "Dự đoán của Anh/Chị: 120." in result.text
    assert "2. ✅ Đáp án đúng: Cổng Dịch vụ công quốc gia." in explained.text
    assert "3. ❌ Đáp án đúng: 15 ngày. Người thân đăng ký khai tử" in explained.text
    # the buttons carry the attempt, the question's place and the choice, never which is right
    assert leaks(before_result) == []
    payloads = [b["payload"] for b in second.buttons]
    assert [p.rsplit("#", 1)[1].split("~")[0].rsplit(":", 1)[1] for p in payloads] == ["1", "2", "3", "4", "5"]
    [person] = rows(database_url, ContestParticipant)
    assert (person["phone"], person["phone_verified"], person["full_name"]) == ("0912345678", True, "Nguyễn Thị Lan")
    [entry] = rows(database_url, ContestEntry)
    assert (entry["channel"], entry["score"], entry["answers"], entry["prediction"]) == ("zalo", 2, [2, 6, 3], 120)


async def test_a_second_attempt_on_zalo_with_the_telegram_phone_is_refused(
        rig_factory, tmp_path: Path, clock: Clock, database_url: str) -> None:  # noqa: F811 - clock: the fixture
    content = contest_content(tmp_path)
    telegram = await FakeBotApi().start()
    try:
        citizen = telegram.add_user(2201, "Lan", phone="+84912345678")
        async with running(database_url, telegram, content=content) as tg:
            [rules] = await tg.say(citizen, "/cuocthi")
            [consent] = await tg.press(citizen, rules, f"ct:go:{CONTEST_ID}")
            await tg.press(citizen, consent, f"ct:ok:{CONTEST_ID}")
            await tg.say(citizen, "Nguyễn Thị Lan")
            await tg.say(citizen, "Thôn Đông")
            before = len(telegram.to(citizen["id"]))
            telegram.share_contact(citizen)
            _, choose = await telegram.replies(citizen["id"], 2, after=before)
            [question] = await tg.press(citizen, choose, f"ct:start:{CONTEST_ID}")
            for _ in range(3):
                clock.advance(seconds=20)
                [question] = await tg.press(citizen, question, question.callbacks[0])
            await tg.say(citizen, "100", count=2)  # the prediction, then the result
    finally:
        await telegram.stop()
    # the same person on Zalo, sharing the same number from the card
    rig: Rig = await rig_factory(content=content, share_info_image_url=PICTURE)
    [confirm] = await share_details(rig, "u-lan-zalo", "Nguyễn Thị Lan")
    [refused] = await turn(rig, "u-lan-zalo", press="✅ Đúng, bắt đầu làm bài", on=confirm)
    assert refused.text.startswith("Dạ, Anh/Chị đã dự thi đủ 1 lượt của cuộc thi «Cuộc thi tìm hiểu CCHC qua các kênh»")
    [entry] = rows(database_url, ContestEntry)
    assert entry["channel"] == "telegram"
    [person] = rows(database_url, ContestParticipant)
    assert (person["phone"], person["phone_verified"]) == ("0912345678", True)
    flags = {row["kind"]: row["detail"] for row in rows(database_url, ContestFlag)}
    assert flags == {"shared_phone": "số điện thoại đã dự thi trên kênh telegram, nay dùng lại từ kênh zalo",
                     "extra_attempt": "xin dự thi thêm lượt từ kênh zalo sau 1 lượt"}
