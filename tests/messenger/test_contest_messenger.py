"""The contest end to end on Messenger (the fake Graph API, signed webhooks): the rules, the
consent, the details with the phone shared from the ``user_phone_number`` quick reply, a
numbered choice typed, every question (two and three choices as a button template, six as
quick replies), the prediction, the score and the explanations; and nothing the client
receives before the result tells a right answer."""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import ContestEntry, ContestParticipant
from fakes.messenger import PHONE_QUICK_REPLY, Sent
from tests.contest_channels import contest_content, leaks
from tests.messenger.conftest import Rig
from tests.telegram.conftest import rows
from tests.test_contest import Clock, clock  # noqa: F401 - clock: a fixture (the contest's time)

PSID = "psid-lan"


async def turn(rig: Rig, *, text: str | None = None, press: str | None = None,
               on: Sent | None = None) -> list[Sent]:
    """The citizen types ``text``, or presses the template button or taps the quick reply
    titled ``press`` on ``on``; the messages the page sends back."""
    before = len(rig.fake.messages_to(PSID))
    if on is None:
        assert text is not None, "a turn types a text or presses something on a message"
        await rig.meta.text(PSID, text)
    elif buttons := [b for b in on.buttons if b["title"] == press]:
        await rig.meta.postback(PSID, buttons[0])
    else:
        [quick] = [q for q in on.quick_replies if q.get("title") == press]
        await rig.meta.quick_reply(PSID, quick)
    await rig.settle()
    return rig.fake.messages_to(PSID)[before:]


def check_answer_payloads(question: Sent, count: int) -> None:
    """The question's choice payloads, from its buttons or quick replies, are uniform:
    ct:a:<attempt>:<position>:<n>, the choice's number and nothing about which is right."""
    payloads = [b["payload"] for b in question.buttons] or [q["payload"] for q in question.quick_replies]
    entry, position = payloads[0].split(":")[2:4]
    assert payloads == [f"ct:a:{entry}:{position}:{n}" for n in range(1, count + 1)]


async def test_a_contest_on_messenger_end_to_end(
        rig_factory, tmp_path: Path, clock: Clock, database_url: str) -> None:  # noqa: F811 - clock: the fixture
    rig: Rig = await rig_factory(content=contest_content(tmp_path))
    [rules] = await turn(rig, text="/cuocthi")
    assert "Cuộc thi tìm hiểu CCHC qua các kênh" in rules.text and "Mỗi người dự thi một lần" in rules.text
    [consent] = await turn(rig, press="▶️ Bắt đầu làm bài", on=rules)
    assert "Anh/Chị có đồng ý cung cấp không" in consent.text
    await turn(rig, press="1. ✅ Đồng ý", on=consent)
    await turn(rig, text="nguyễn thị lan")
    [ask_phone] = await turn(rig, text="Thôn Đông")
    assert "chia sẻ số điện thoại" in ask_phone.text
    assert ask_phone.message == {"text": ask_phone.text, "quick_replies": [PHONE_QUICK_REPLY]}
    before = len(rig.fake.messages_to(PSID))
    await rig.meta.share_phone(PSID, "+84912345678")
    await rig.settle()
    [confirm] = rig.fake.messages_to(PSID)[before:]
    assert "- Họ và tên: Nguyễn Thị Lan\n- Thôn/tổ dân phố: Thôn Đông\n- Số điện thoại: 0912 345 678" in confirm.text
    # three choices, one label longer than a title: quick replies, and the labels numbered
    assert [q["title"] for q in confirm.quick_replies] == ["1. ✅ Đúng, bắt đầu…", "2. ✏️ Nhập lại", "3. ☰ Menu"]
    assert confirm.text.endswith("Anh/Chị gõ số để chọn:\n1. ✅ Đúng, bắt đầu làm bài\n2. ✏️ Nhập lại\n3. ☰ Menu")
    [first] = await turn(rig, text="1")  # typed: the first numbered choice
    # two choices: a button template
    assert first.text.startswith("Câu 1/3.") and [b["title"] for b in first.buttons] == ["1. 15 ngày", "2. 60 ngày"]
    check_answer_payloads(first, 2)
    [second] = await turn(rig, press="2. 60 ngày", on=first)  # right
    # six choices, more than a template's three buttons: quick replies, titles shortened to
    # 20 characters and the full labels listed with their numbers
    assert second.text.startswith("Câu 2/3.") and second.buttons == []
    assert [q["title"] for q in second.quick_replies] == [
        "1. Bưu điện", "2. Nhà văn hóa thôn", "3. Trụ sở công an", "4. Ngân hàng", "5. Chợ xã",
        "6. Cổng Dịch vụ côn…"]
    assert second.text.endswith("Anh/Chị gõ số để chọn:\n1. Bưu điện\n2. Nhà văn hóa thôn\n3. Trụ sở công an\n"
                                "4. Ngân hàng\n5. Chợ xã\n6. Cổng Dịch vụ công quốc gia")
    check_answer_payloads(second, 6)
    [third] = await turn(rig, press="6. Cổng Dịch vụ côn…", on=second)  # right
    assert third.text.startswith("Câu 3/3.")
    assert [b["title"] for b in third.buttons] == ["1. 15 ngày", "2. 60 ngày", "3. 90 ngày"]
    check_answer_payloads(third, 3)
    [predict] = await turn(rig, press="3. 90 ngày", on=third)  # wrong
    assert "Câu dự đoán" in predict.text
    before_result = [s.message for s in rig.fake.messages_to(PSID)]
    result, explained = await turn(rig, text="khoảng 120 người")
    assert "đúng 2/3 câu" in result.text and "Dự đoán của Anh/Chị: 120." in result.text
    assert "1. ✅ Đáp án đúng: 60 ngày. Cha mẹ đăng ký khai sinh trong 60 ngày kể từ ngày sinh." in explained.text
    assert "2. ✅ Đáp án đúng: Cổng Dịch vụ công quốc gia." in explained.text
    assert "3. ❌ Đáp án đúng: 15 ngày. Người thân đăng ký khai tử" in explained.text
    # texts, templates, buttons and quick replies before the result: no right answer in them
    assert leaks(before_result) == []
    assert rig.fake.refused == []
    [person] = rows(database_url, ContestParticipant)
    assert (person["full_name"], person["village"], person["phone"], person["phone_verified"]) == (
        "Nguyễn Thị Lan", "Thôn Đông", "0912345678", True)
    [entry] = rows(database_url, ContestEntry)
    assert (entry["channel"], entry["score"], entry["answers"], entry["prediction"]) == ("messenger", 2, [2, 6, 3], 120)
