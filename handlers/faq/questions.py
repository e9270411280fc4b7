"""Free-text questions: answer, "did you mean…?", or an honest "not sure"; and the votes.

Every question is logged (normalized text, outcome, entry, score, latency) under the user's
pseudonym, so reports can show what citizens ask and what the content is missing.
"""

from __future__ import annotations

import logging

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot import text as vtext
from bot.matching import Match
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router, row_id
from bot.storage.models import AnswerVote, QuestionLog, utcnow
from handlers.common import MENU, answer_reply, contact_line, insert_row, label, lose_session

log = logging.getLogger(__name__)
router = Router("faq")
_QUESTIONS = QuestionLog.__table__  # type: ignore[attr-defined]
# Every column given, so the one statement serves both databases from the compiled cache.
LOG_QUESTION = insert(_QUESTIONS).returning(_QUESTIONS.c.id)


def _candidates(match: Match) -> list[dict]:
    return [{"id": c.id, "title": c.title, "score": c.score} for c in match.candidates]


def not_sure_reply(ctx: Context, question_id: int | None) -> Reply:
    text = (
        "Dạ, em chưa chắc hiểu đúng câu hỏi của Anh/Chị. Anh/Chị thử hỏi ngắn gọn hơn, ví dụ: "
        "_đăng ký tạm trú cần gì_, hoặc chọn chủ đề trong Menu.\n\n" + contact_line(ctx)
    )
    rows: list[tuple[Button, ...]] = []
    if question_id is not None:
        rows.append((Button("✉️ Gửi câu hỏi cho cán bộ", payload=f"fwd:{question_id}"),))
    rows.append((MENU,))
    return Reply(text, tuple(rows))


@router.text()
async def question(ctx: Context, message: Incoming, route: Route) -> Response:
    match = ctx.content.matcher.match(message.text)
    best = match.best
    question_id = await insert_row(ctx, LOG_QUESTION, {
        "created_at": utcnow(),
        "channel": ctx.channel,
        "user_key": ctx.user_key,
        "text": vtext.normalize(message.text)[:2000],
        "outcome": match.outcome,
        "faq_id": best.id if best and match.outcome == "answer" else None,
        "score": best.score if best else None,
        "candidates": [c.id for c in match.candidates],
        "chosen_id": None,
        "latency_ms": round(ctx.elapsed_ms(), 3),
        "forwarded": False,
    })
    response = Response([], match.outcome, score=best.score if best else None,
                        candidates=_candidates(match))
    if match.outcome == "answer" and best is not None:
        entry = ctx.content.pack.entries[best.id]
        response.faq_id = entry.id
        response.replies.append(answer_reply(ctx, entry, question_id))
    elif match.outcome == "clarify":
        ref = f":{question_id}" if question_id is not None else ""
        rows = [(Button(label(c.title), payload=f"faq:{c.id}{ref}"),) for c in match.candidates]
        rows.append((Button("Không phải các câu trên", payload=f"none{ref}"),))
        text = "Dạ, có phải Anh/Chị muốn hỏi một trong các nội dung dưới đây không ạ?"
        response.replies.append(Reply(text, tuple(rows)))
    else:
        response.replies.append(not_sure_reply(ctx, question_id))
    return response


@router.payload("faq")
async def show_entry(ctx: Context, message: Incoming, route: Route) -> Response:
    """An entry chosen from a menu, a related link or "did you mean"."""
    entry = ctx.content.pack.entries.get(route.args[0]) if route.args else None
    question_id = row_id(route.args[1]) if len(route.args) > 1 else None
    if entry is None:
        text = "Dạ, nội dung này vừa được cập nhật nên nút bấm cũ không còn dùng được. Anh/Chị vui lòng gõ lại câu hỏi hoặc chọn trong Menu ạ."
        return Response([Reply(text, ((MENU,),))], "stale")
    if question_id is not None and ctx.session is not None:
        await _mark(ctx, question_id, chosen_id=entry.id)
    return Response([answer_reply(ctx, entry, question_id)], "answer", faq_id=entry.id)


async def _mark(ctx: Context, question_id: int, **changes: object) -> None:
    """Update the user's own logged question (another user's id is ignored)."""
    assert ctx.session is not None
    try:
        row = (await ctx.session.exec(
            select(QuestionLog).where(QuestionLog.id == question_id, QuestionLog.user_key == ctx.user_key)
        )).first()
        if row is not None:
            for key, value in changes.items():
                setattr(row, key, value)
            ctx.session.add(row)
    except SQLAlchemyError:
        await lose_session(ctx, "could not update question %s", question_id)


@router.payload("none")
async def none_of_these(ctx: Context, message: Incoming, route: Route) -> Response:
    question_id = row_id(route.args[0]) if route.args else None
    return Response([not_sure_reply(ctx, question_id)], "not_sure")


@router.payload("fwd")
async def forward(ctx: Context, message: Incoming, route: Route) -> Response:
    """The citizen wants an official to see the question the bot could not answer: the
    feedback flow starts with the question prefilled."""
    question_id = row_id(route.args[0]) if route.args else None
    if question_id is not None and ctx.session is not None:
        await _mark(ctx, question_id, forwarded=True)
        question = await _own_text(ctx, question_id)
        if question is not None:
            from handlers.feedback.router import start_flow

            return await start_flow(ctx, question_id=question_id, question=question)
    office = ctx.settings.office
    text = (
        f"Dạ, em đã ghi nhận câu hỏi để cán bộ {office.name} xem xét và bổ sung câu trả lời. "
        f"Nếu cần giải quyết gấp, Anh/Chị vui lòng gọi {office.hotline} trong giờ hành chính ạ."
    )
    return Response([Reply(text, ((MENU,),))], "forwarded")


async def _own_text(ctx: Context, question_id: int) -> str | None:
    if ctx.session is None:
        return None
    return (await ctx.session.exec(select(QuestionLog.text).where(
        QuestionLog.id == question_id, QuestionLog.user_key == ctx.user_key))).first()


@router.payload("v")
async def vote(ctx: Context, message: Incoming, route: Route) -> Response:
    """👍 / 👎 on an answer: ``v:<1|0>:<faq-id>[:<question-id>]``."""
    if len(route.args) < 2 or route.args[0] not in {"0", "1"}:
        return Response([Reply("Dạ, nút bấm này không còn dùng được ạ.", ((MENU,),))], "stale")
    helpful = route.args[0] == "1"
    faq_id = route.args[1]
    question_id = row_id(route.args[2]) if len(route.args) > 2 else None
    if ctx.session is not None:
        await _save_vote(ctx, faq_id, question_id, helpful)
    if helpful:
        return Response([Reply("Dạ, em cảm ơn Anh/Chị đã đánh giá ạ.", ((MENU,),))], "vote", faq_id=faq_id)
    rows: list[tuple[Button, ...]] = []
    if question_id is not None:
        rows.append((Button("✉️ Gửi câu hỏi cho cán bộ", payload=f"fwd:{question_id}"),))
    rows.append((MENU,))
    text = (
        "Dạ, em xin lỗi vì câu trả lời chưa giúp được Anh/Chị. Anh/Chị có thể hỏi lại theo cách khác, "
        "hoặc gửi câu hỏi để cán bộ bổ sung.\n\n" + contact_line(ctx)
    )
    return Response([Reply(text, tuple(rows))], "vote", faq_id=faq_id)


async def _save_vote(ctx: Context, faq_id: str, question_id: int | None, helpful: bool) -> None:
    assert ctx.session is not None
    try:
        if question_id is not None:
            owned = (await ctx.session.exec(
                select(QuestionLog.id).where(QuestionLog.id == question_id, QuestionLog.user_key == ctx.user_key)
            )).first()
            if owned is None:
                question_id = None
        existing = None
        if question_id is not None:
            existing = (await ctx.session.exec(
                select(AnswerVote).where(AnswerVote.question_id == question_id)
            )).first()
        if existing is not None:
            existing.helpful = helpful
            existing.faq_id = faq_id
            ctx.session.add(existing)
        else:
            ctx.session.add(AnswerVote(question_id=question_id, faq_id=faq_id, channel=ctx.channel,
                                       user_key=ctx.user_key, helpful=helpful))
        await ctx.session.flush()
    except SQLAlchemyError:
        await lose_session(ctx, "could not record a vote on %s", faq_id)
