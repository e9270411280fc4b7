"""The conversation core, end to end through BotApp on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.exc import OperationalError

from bot.app import BotApp
from bot.root import build_app
from bot.messages import Incoming, Response
from bot.storage.db import sync_url
from bot.storage.models import AnswerVote, ChannelUser, ConversationState, InboundEvent, QuestionLog
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "content"


@pytest.fixture
async def fixture_bot(database_url: str):
    app = build_app(make_settings(database_url, content=FIXTURE))
    yield app
    await app.close()


def rows(url: str, model):
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        result = conn.execute(select(model)).mappings().all()
    engine.dispose()
    return result


def payloads(response: Response) -> list[str]:
    return [b.payload for r in response.replies for row in r.buttons for b in row if b.payload]


async def say(bot: BotApp, text: str = "", payload: str | None = None, user: str = "u1") -> Response:
    return await bot.handle(Incoming("telegram", user, text=text, payload=payload))


async def test_start_shows_menu_with_categories(fixture_bot: BotApp) -> None:
    response = await say(fixture_bot, "/start")
    assert response.outcome == "menu"
    assert "trợ lý ảo của UBND xã/phường" in response.replies[0].text
    assert payloads(response) == ["cat:ho-tich", "cat:lien-he", "fb:start"]


async def test_greeting_is_not_matched_against_faq(fixture_bot: BotApp) -> None:
    for text in ("xin chào", "chao em a", "Hello ad"):
        response = await say(fixture_bot, text)
        assert response.outcome == "greeting", text


async def test_thanks(fixture_bot: BotApp) -> None:
    assert (await say(fixture_bot, "cảm ơn em nhiều nhé")).outcome == "thanks"


async def test_browse_category_lists_its_entries(fixture_bot: BotApp) -> None:
    response = await say(fixture_bot, payload="cat:ho-tich")
    assert response.outcome == "browse"
    assert {"faq:khai-sinh", "faq:khai-sinh-le-phi", "faq:ket-hon"} <= set(payloads(response))
    assert "faq:lien-he-hotline" not in payloads(response)


async def test_question_without_diacritics_is_answered_and_logged(
    fixture_bot: BotApp, database_url: str
) -> None:
    response = await say(fixture_bot, "lam giay dang ky ket hon o dau")
    assert response.outcome == "answer"
    assert response.faq_id == "ket-hon"
    text = response.replies[0].text
    assert "mang giấy tờ tùy thân" in text
    assert "Nguồn: Luật Hộ tịch 2014" in text
    [logged] = rows(database_url, QuestionLog)
    assert logged["outcome"] == "answer"
    assert logged["faq_id"] == "ket-hon"
    assert logged["text"] == "lam giay dang ky ket hon o dau"
    assert logged["latency_ms"] > 0
    assert logged["user_key"] == fixture_bot.user_key("telegram", "u1")
    assert logged["user_key"] != "u1"


async def test_office_variables_are_filled(fixture_bot: BotApp) -> None:
    response = await say(fixture_bot, payload="faq:lien-he-hotline")
    assert "{{" not in response.replies[0].text
    assert fixture_bot.settings.office.hotline in response.replies[0].text


async def test_helpful_vote_is_recorded_once_per_question(
    fixture_bot: BotApp, database_url: str
) -> None:
    answer = await say(fixture_bot, "thủ tục kết hôn")
    [up] = [p for p in payloads(answer) if p.startswith("v:1:")]
    [down] = [p for p in payloads(answer) if p.startswith("v:0:")]
    await say(fixture_bot, payload=up)
    reply = await say(fixture_bot, payload=down)  # changed their mind: the last vote counts
    assert reply.outcome == "vote"
    assert any(p.startswith("fwd:") for p in payloads(reply))
    [vote] = rows(database_url, AnswerVote)
    assert vote["faq_id"] == "ket-hon"
    assert vote["helpful"] is False
    assert vote["question_id"] == rows(database_url, QuestionLog)[0]["id"]


async def test_did_you_mean_then_choice_records_the_choice(
    fixture_bot: BotApp, database_url: str
) -> None:
    response = await say(fixture_bot, "khai sinh")
    assert response.outcome == "clarify"
    choices = [p for p in payloads(response) if p.startswith("faq:")]
    assert {c.split(":")[1] for c in choices} == {"khai-sinh", "khai-sinh-le-phi"}
    assert any(p.startswith("none") for p in payloads(response))
    chosen = next(c for c in choices if c.split(":")[1] == "khai-sinh-le-phi")
    answer = await say(fixture_bot, payload=chosen)
    assert answer.outcome == "answer" and answer.faq_id == "khai-sinh-le-phi"
    [logged] = rows(database_url, QuestionLog)
    assert logged["outcome"] == "clarify"
    assert logged["chosen_id"] == "khai-sinh-le-phi"


async def test_not_sure_offers_hotline_and_forwarding(
    fixture_bot: BotApp, database_url: str
) -> None:
    response = await say(fixture_bot, "bán cho tôi một chiếc xe máy cũ giá rẻ")
    assert response.outcome == "not_sure"
    assert fixture_bot.settings.office.hotline in response.replies[0].text
    [forward] = [p for p in payloads(response) if p.startswith("fwd:")]
    reply = await say(fixture_bot, payload=forward)
    assert reply.outcome == "feedback"  # the feedback flow, with the question prefilled
    assert "«bán cho tôi một chiếc xe máy cũ giá rẻ»" in reply.replies[0].text
    assert rows(database_url, QuestionLog)[0]["forwarded"] is True


async def test_cannot_mark_another_users_question(fixture_bot: BotApp, database_url: str) -> None:
    response = await say(fixture_bot, "bán cho tôi một chiếc xe máy cũ giá rẻ", user="alice")
    [forward] = [p for p in payloads(response) if p.startswith("fwd:")]
    await say(fixture_bot, payload=forward, user="mallory")
    assert rows(database_url, QuestionLog)[0]["forwarded"] is False


async def test_deep_link_opens_the_answer_and_unknown_id_falls_back_to_menu(
    fixture_bot: BotApp,
) -> None:
    response = await say(fixture_bot, "/start khai-sinh-le-phi")
    assert response.outcome == "answer" and response.faq_id == "khai-sinh-le-phi"
    assert (await say(fixture_bot, "/start khong-co-muc-nay")).outcome == "menu"


async def test_stale_buttons_get_a_polite_reply(fixture_bot: BotApp) -> None:
    assert (await say(fixture_bot, payload="faq:da-bi-xoa")).outcome == "stale"
    assert (await say(fixture_bot, payload="v:9")).outcome == "stale"
    assert (await say(fixture_bot, payload="khong-ro:1:2")).outcome == "help"
    assert (await say(fixture_bot, payload="cat:khong-co")).outcome == "menu"


async def test_dossier_codes_and_phone_numbers_never_reach_matching(
    fixture_bot: BotApp, database_url: str
) -> None:
    assert (await say(fixture_bot, "000.00.20.H56-230515-0012")).outcome == "dossier_code"
    assert (await say(fixture_bot, "sdt em la 0912 345 678")).outcome == "phone"
    assert rows(database_url, QuestionLog) == []


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "😀😀😀", "x" * 50_000, "\x00\x01\x02\xff\ufffd" * 100, "Привет 你好 مرحبا khai sinh", "/"],
)
async def test_bad_input_gets_a_sensible_reply(fixture_bot: BotApp, text: str) -> None:
    response = await say(fixture_bot, text)
    assert response.replies and all(r.text.strip() for r in response.replies)


async def test_state_lives_in_the_database_so_any_worker_can_continue(database_url: str) -> None:
    first = build_app(make_settings(database_url, content=FIXTURE))
    await first.handle(Incoming("zalo", "u9", text="/menu"))
    async with first.database.session() as session:
        session.add(ConversationState(user_key=first.user_key("zalo", "u9"), channel="zalo",
                                      state={"flow": "unknown-flow", "step": 2}))
        await session.commit()
    await first.close()
    second = build_app(make_settings(database_url, content=FIXTURE))
    key = second.user_key("zalo", "u9")
    async with second.database.session() as session:
        row = await session.get(ConversationState, key)
        assert row is not None and row.state["step"] == 2
    # /menu leaves any flow: the state written by one worker is changed by another
    await second.handle(Incoming("zalo", "u9", text="/menu"))
    async with second.database.session() as session:
        row = await session.get(ConversationState, key)
        assert row is not None and "flow" not in row.state
    await second.close()


async def test_answers_keep_flowing_when_the_database_is_gone(tmp_path: Path) -> None:
    db_file = tmp_path / "gone.db"
    app = build_app(make_settings(f"sqlite:///{db_file}", content=FIXTURE))
    await app.database.engine.dispose()
    db_file.unlink()
    (tmp_path / "gone.db").mkdir()  # the path is now a directory: every connection fails
    response = await say(app, "thủ tục kết hôn")
    assert response.outcome == "answer" and response.faq_id == "ket-hon"
    votes = [p for p in payloads(response) if p.startswith("v:1:")]
    assert votes == ["v:1:ket-hon"]  # no question id: nothing was recorded
    await app.close()


async def test_an_event_is_answered_once_and_recorded_with_its_turn(fixture_bot: BotApp, database_url: str) -> None:
    """The platform's event id is recorded by the turn that answers it: a redelivery (another
    process, a restart) gets no answer and writes nothing more."""
    asked = Incoming("telegram", "u1", text="thủ tục kết hôn")
    first = await fixture_bot.handle(asked, event_id="901")
    assert first.outcome == "answer" and first.replies
    again = await fixture_bot.handle(asked, event_id="901")
    assert again.outcome == "duplicate" and again.replies == []
    assert [(e["channel"], e["event_id"]) for e in rows(database_url, InboundEvent)] == [("telegram", "901")]
    assert len(rows(database_url, QuestionLog)) == 1
    # ids are per platform: Zalo's "901" is another event
    assert (await fixture_bot.handle(Incoming("zalo", "z1", text="thủ tục kết hôn"), event_id="901")).outcome == "answer"
    assert len(rows(database_url, InboundEvent)) == 2 and len(rows(database_url, QuestionLog)) == 2


async def test_a_turn_that_fails_to_commit_leaves_its_event_unrecorded(fixture_bot: BotApp, database_url: str) -> None:
    """Nothing half-written: the event id goes with the turn's other writes, so the redelivery
    of an event whose turn was lost is answered (and recorded) then."""
    topic = fixture_bot.content.current.pack.topics[0].id
    subscribe = Incoming("telegram", "u1", payload=f"sub:on:{topic}")

    def refuse(conn) -> None:  # noqa: ANN001 - the connection being committed
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(fixture_bot.database.engine.sync_engine, "commit", refuse)
    try:
        lost = await fixture_bot.handle(subscribe, event_id="902")
    finally:
        event.remove(fixture_bot.database.engine.sync_engine, "commit", refuse)
    assert lost.outcome == "not_saved"
    assert rows(database_url, InboundEvent) == [] and rows(database_url, ChannelUser) == []
    again = await fixture_bot.handle(subscribe, event_id="902")
    assert again.outcome == "subscribed"
    assert [e["event_id"] for e in rows(database_url, InboundEvent)] == ["902"]
