"""Citizens on Telegram: every conversation feature, by long polling and by webhook.

Tests on the ``tg`` fixture run twice: the real python-telegram-bot client polls the fake Bot
API, or the fake POSTs the updates to the bot's own webhook route; the others poll.
"""

from __future__ import annotations

from bot.channels.telegram import APOLOGY
from handlers import build_dispatcher
from bot.storage.models import AnswerVote, ChannelUser, InboundEvent, QuestionLog
from tests.telegram.conftest import ADMIN_ID, Harness, rows
from fakes.telegram import Sent


def bold(sent: Sent) -> list[str]:
    """The parts of the message Telegram shows in bold."""
    return sent.styled("bold")


MENU = build_dispatcher().menu
CITIZEN_COMMANDS = [(c.name, c.description) for c in MENU if not c.officials]
ADMIN_COMMANDS = [(c.name, c.description) for c in MENU if c.officials]


async def test_commands_are_registered_in_vietnamese_and_admins_get_theirs(polling: Harness) -> None:
    default = polling.fake.commands["default"]
    assert [c["command"] for c in default] == [name for name, _ in CITIZEN_COMMANDS]
    assert all(c["description"] for c in default)
    assert next(c for c in default if c["command"] == "dangky")["description"] == "Đăng ký nhận thông báo"
    official = [c["command"] for c in polling.fake.commands[f"chat:{ADMIN_ID}"]]
    assert official[-3:] == [name for name, _ in ADMIN_COMMANDS] == ["broadcast", "stats", "reload"]
    assert "broadcast" not in [c["command"] for c in default]
    assert "tracuu" in [c["command"] for c in default]  # advertised, and handled (below)


async def test_start_menu_and_browsing(tg: Harness, citizen: dict) -> None:
    [menu] = await tg.say(citizen, "/start")
    assert menu.text.startswith("Dạ, em là trợ lý ảo của UBND xã/phường")
    assert menu.callbacks[:2] == ["cat:ho-tich", "cat:lien-he"]
    assert [b["text"] for b in menu.buttons][:2] == ["Hộ tịch", "Liên hệ"]
    assert {"type": "italic", "offset": menu.text.index("làm giấy khai sinh cần gì"),
            "length": len("làm giấy khai sinh cần gì")} in menu.entities
    # choosing a category replaces the menu with the category's questions
    [listing] = await tg.press(citizen, menu, "cat:ho-tich")
    assert listing.kind == "edit" and listing.message_id == menu.message_id
    assert bold(listing) == ["Hộ tịch"]
    assert {"faq:khai-sinh", "faq:ket-hon", "faq:khai-sinh-le-phi", "menu"} <= set(listing.callbacks)
    assert all(q["answered"] is not None for q in tg.fake.queries.values())  # no endless spinner
    # an answer comes as a new message, with its link as a URL button
    [answer] = await tg.press(citizen, listing, "faq:khai-sinh")
    assert answer.kind == "message"
    assert bold(answer) == ["Đăng ký khai sinh cần giấy tờ gì?"]
    assert "Giấy chứng sinh" in answer.text
    link = answer.button("Cổng Dịch vụ công")
    assert link["url"] == "https://dichvucong.gov.vn" and "callback_data" not in link
    [again] = await tg.press(citizen, answer, "menu")
    assert again.kind == "message" and again.callbacks == menu.callbacks
    [menu2] = await tg.say(citizen, "/menu")
    assert menu2.callbacks == menu.callbacks


async def test_questions_with_and_without_diacritics(tg: Harness, citizen: dict) -> None:
    [plain] = await tg.say(citizen, "lam giay dang ky ket hon o dau")
    [accented] = await tg.say(citizen, "Thủ tục đăng ký kết hôn")
    for answer in (plain, accented):
        assert bold(answer) == ["Đăng ký kết hôn cần những gì?"]
        assert "mang giấy tờ tùy thân" in answer.text
        assert "Nguồn: Luật Hộ tịch 2014" in answer.text
        assert any(c.startswith("v:1:ket-hon:") for c in answer.callbacks)
    logged = rows(tg.database_url, QuestionLog)
    assert [q["faq_id"] for q in logged] == ["ket-hon", "ket-hon"]
    assert {q["user_key"] for q in logged} == {tg.app.user_key("telegram", str(citizen["id"]))}
    [user] = rows(tg.database_url, ChannelUser)
    assert user["platform_id"] == str(citizen["id"]) and user["reachable"]


async def test_did_you_mean(tg: Harness, citizen: dict) -> None:
    [question] = await tg.say(citizen, "khai sinh")
    assert question.text.startswith("Dạ, có phải Anh/Chị muốn hỏi")
    choices = [c for c in question.callbacks if c.startswith("faq:")]
    assert {c.split(":")[1] for c in choices} == {"khai-sinh", "khai-sinh-le-phi"}
    assert any(c.startswith("none:") for c in question.callbacks)
    chosen = next(c for c in choices if c.startswith("faq:khai-sinh-le-phi:"))
    [answer] = await tg.press(citizen, question, chosen)
    assert "miễn lệ phí" in answer.text
    [logged] = rows(tg.database_url, QuestionLog)
    assert logged["outcome"] == "clarify" and logged["chosen_id"] == "khai-sinh-le-phi"
    [not_these] = await tg.press(citizen, question, next(c for c in question.callbacks if c.startswith("none:")))
    assert "chưa chắc hiểu đúng" in not_these.text
    assert any(c.startswith("fwd:") for c in not_these.callbacks)


async def test_deep_link_opens_the_answer_or_falls_back_to_the_menu(tg: Harness, citizen: dict) -> None:
    [answer] = await tg.say(citizen, "/start khai-sinh-le-phi")
    assert bold(answer) == ["Lệ phí đăng ký khai sinh là bao nhiêu?"]
    [menu] = await tg.say(citizen, "/start khong-co-muc-nay")
    assert menu.callbacks[:2] == ["cat:ho-tich", "cat:lien-he"]


async def test_helpful_and_not_helpful(polling: Harness, citizen: dict) -> None:
    [answer] = await polling.say(citizen, "thủ tục kết hôn")
    up = next(c for c in answer.callbacks if c.startswith("v:1:"))
    down = next(c for c in answer.callbacks if c.startswith("v:0:"))
    assert answer.button("Hữu ích")["callback_data"] == up
    [thanks] = await polling.press(citizen, answer, up)
    assert thanks.text == "Dạ, em cảm ơn Anh/Chị đã đánh giá ạ."
    [sorry] = await polling.press(citizen, answer, down)
    assert sorry.text.startswith("Dạ, em xin lỗi vì câu trả lời chưa giúp được Anh/Chị")
    [vote] = rows(polling.database_url, AnswerVote)
    assert vote["faq_id"] == "ket-hon" and vote["helpful"] is False and vote["channel"] == "telegram"
    assert vote["question_id"] == rows(polling.database_url, QuestionLog)[0]["id"]


async def test_every_command_in_the_menu_gets_an_answer(polling: Harness, citizen: dict) -> None:
    """Each command Telegram offers is answered by the core (its feature, or the help that says
    what the bot can do), never by silence or the apology."""
    chat = citizen["id"]
    for name, _ in CITIZEN_COMMANDS:
        before = len(polling.fake.to(chat))
        polling.fake.text(citizen, f"/{name}")
        polling.fake.text(citizen, "/start khai-sinh-le-phi")  # a marker: replies come in order
        await polling.fake.wait_for(lambda before=before: any("Lệ phí đăng ký khai sinh" in s.text for s in polling.fake.to(chat)[before:]),
                               what=f"the answer to /{name}")
        answers = polling.fake.to(chat)[before:]
        assert not answers[0].text.startswith("Lệ phí đăng ký khai sinh"), f"/{name} got no answer"
        assert all("Anh/Chị" in a.text and a.text != APOLOGY for a in answers[:-1]), name
    [unknown] = await polling.say(citizen, "/khongcolenhnay")
    assert unknown.text.startswith("Dạ, Anh/Chị có thể:")


async def test_messages_without_text_get_a_polite_answer(polling: Harness, citizen: dict) -> None:
    before = len(polling.fake.to(citizen["id"]))
    polling.fake.inject({"message": {
        "message_id": 99, "from": citizen, "chat": polling.fake.chats[citizen["id"]], "date": 1,
        "sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512,
                    "height": 512, "is_animated": False, "is_video": False},
    }})
    [reply] = await polling.fake.replies(citizen["id"], 1, after=before)
    assert reply.text.startswith("Dạ, em chưa đọc được nội dung tin nhắn")


async def test_each_update_is_recorded_once(polling: Harness, citizen: dict) -> None:
    await polling.say(citizen, "/start")
    await polling.say(citizen, "khai sinh")
    events = rows(polling.database_url, InboundEvent)
    assert len(events) == 2 and {e["channel"] for e in events} == {"telegram"}


async def test_a_photo_reaches_the_core_with_its_bytes(polling: Harness, citizen: dict) -> None:
    picture = b"\x89PNG\r\n\x1a\n" + b"not really a receipt" * 50
    polling.fake.photo(citizen, picture, caption="giấy hẹn của tôi")
    [reply] = await polling.fake.replies(citizen["id"], 1)
    assert polling.fake.downloads == ["photos/file_1.jpg"]  # the largest size, not the thumbnail
    assert reply.text.startswith("Dạ") and reply.text != APOLOGY
    polling.fake.photo(citizen, picture, as_document=True)
    await polling.fake.replies(citizen["id"], 1, after=1)
    assert polling.fake.downloads[-1] == "documents/file_3.png"
