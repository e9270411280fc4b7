"""Taking part in a contest: /cuocthi or a ``ct`` payload (the menu, a poster's deep link) opens
the running contest; the rules, then one question at a time with buttons, the score and the
explanations at the end.

Where the citizen is lives in the database (``contest_entry``), not in the chat's state: a
break, another worker or a restart resumes at the next unanswered question. The right answers
leave the server only in the final result; the time limit is measured on the server's clock.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import select

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router, row_id
from bot.storage.models import ContestEntry
from handlers.common import MENU, label, lose_session
from handlers.contest import service
from handlers.contest.contests import Contest, when

log = logging.getLogger(__name__)
router = Router("contest")


def _respond(outcome: str, *replies: Reply) -> Response:
    return Response(list(replies), outcome)


def _unavailable(ctx: Context) -> Response:
    return _respond("contest_unavailable", Reply(
        "Dạ, hệ thống cuộc thi đang tạm gián đoạn. Anh/Chị vui lòng thử lại sau ít phút hoặc gọi "
        f"{ctx.settings.office.hotline} ạ.", ((MENU,),)))


def _contests(ctx: Context) -> dict[str, Contest]:
    """The contest files of the content revision being served (every worker materialises its
    own copy), else the configured folder (``cchc-bot ask``)."""
    root = ctx.services.content.root if ctx.services is not None else ctx.settings.content.path
    return service.contests(root)


def _dates(contest: Contest) -> str:
    return f"từ {when(contest.starts)} đến {when(contest.ends)}"


def _outside(contest: Contest, moment: dt.datetime) -> Response | None:
    if moment < contest.starts:
        return _respond("contest_not_started", Reply(
            f"Dạ, cuộc thi «{contest.title}» do {contest.organiser} tổ chức chưa bắt đầu. "
            f"Cuộc thi diễn ra {_dates(contest)}. Anh/Chị quay lại khi cuộc thi bắt đầu nhé.",
            ((MENU,),)))
    if moment >= contest.ends:
        return _respond("contest_ended", Reply(
            f"Dạ, cuộc thi «{contest.title}» đã kết thúc lúc {when(contest.ends)} (diễn ra "
            f"{_dates(contest)}). Cảm ơn Anh/Chị đã quan tâm.", ((MENU,),)))
    return None


def _rules(contest: Contest, left: int) -> Response:
    limit = (f"- Thời gian làm bài: {contest.time_limit_minutes} phút, tính từ lúc bấm Bắt đầu.\n"
             if contest.time_limit_minutes else "")
    text = (f"**{contest.title}**\nĐơn vị tổ chức: {contest.organiser}\nThời gian: {_dates(contest)}\n\n"
            f"{contest.rules.strip()}\n\n"
            f"- Số câu hỏi: {contest.drawn}, mỗi câu chọn một đáp án.\n{limit}"
            f"- Số lượt dự thi còn lại: {left}.\n"
            "Anh/Chị có thể dừng và quay lại làm tiếp bằng lệnh /cuocthi.")
    start = Button("▶️ Bắt đầu làm bài", payload=f"ct:go:{contest.id}")
    return _respond("contest_rules", Reply(text, ((start,), (MENU,))))


def _question(contest: Contest, entry: ContestEntry, moment: dt.datetime, lead: str = "") -> Response:
    position = entry.answered
    question = contest.questions[entry.questions[position]]
    rows = tuple((Button(label(f"{number}. {choice}"),
                         payload=f"ct:a:{entry.id}:{position}:{number}"),)
                 for number, choice in enumerate(question.choices, start=1))
    remaining = ""
    if entry.deadline_at is not None:
        minutes = max(0, int((service.aware(entry.deadline_at) - moment).total_seconds() // 60))
        remaining = f"\n_(Còn khoảng {minutes} phút)_" if minutes else "\n_(Còn dưới 1 phút)_"
    text = f"{lead}**Câu {position + 1}/{len(entry.questions)}.** {question.text}{remaining}"
    return _respond("contest_question", Reply(text, rows))


def _result(contest: Contest, entry: ContestEntry) -> Response:
    assert entry.finished_at is not None
    seconds = int((service.aware(entry.finished_at) - service.aware(entry.started_at)).total_seconds())
    late = "Dạ, đã hết thời gian làm bài. " if entry.timed_out else "Dạ, Anh/Chị đã hoàn thành bài thi. "
    text = (f"{late}Kết quả cuộc thi «{contest.title}»: đúng **{entry.score or 0}/{len(entry.questions)}** "
            f"câu, thời gian làm bài {seconds // 60} phút {seconds % 60} giây.\n"
            f"Kết quả chung cuộc do {contest.organiser} công bố sau {when(contest.ends)}. "
            "Cảm ơn Anh/Chị đã tham gia!")
    lines = []
    for position, index in enumerate(entry.questions):
        question = contest.questions[index]
        chosen = entry.answers[position] if position < len(entry.answers) else None
        mark = "✅" if chosen == question.answer else ("❌" if chosen is not None else "⏱ chưa trả lời,")
        line = f"{position + 1}. {mark} Đáp án đúng: {question.choices[question.answer - 1]}."
        if question.explanation:
            line += f" {question.explanation.strip()}"
        if question.source:
            line += f" _(Nguồn: {question.source.strip()})_"
        lines.append(line)
    return _respond("contest_done", Reply(text), Reply("**Đáp án:**\n" + "\n".join(lines), ((MENU,),)))


def _changed(ctx: Context, contest: Contest, entry: ContestEntry) -> Response | None:
    """The bank lost questions this attempt drew (the file was edited mid-contest): said, not
    crashed on; the organisers decide what the attempt is worth."""
    if max(entry.questions, default=-1) < len(contest.questions):
        return None
    log.error("contest %s: attempt %s drew questions the file no longer has", contest.id, entry.id)
    return _respond("contest_changed", Reply(
        f"Dạ, bộ câu hỏi của cuộc thi vừa được Ban tổ chức thay đổi nên em chưa tiếp tục bài thi "
        f"được. Anh/Chị vui lòng liên hệ {contest.organiser} hoặc gọi {ctx.settings.office.hotline} ạ.",
        ((MENU,),)))


async def _open(ctx: Context, contest_id: str | None, begin: bool) -> Response:
    found = _contests(ctx)
    moment = service.now()
    contest = found.get(contest_id) if contest_id else service.pick(found, moment)
    if contest is None:
        return _respond("contest_none", Reply(
            "Dạ, hiện chưa có cuộc thi nào. Khi có cuộc thi, em sẽ giới thiệu để Anh/Chị tham gia ạ.", ((MENU,),)))
    if (outside := _outside(contest, moment)) is not None:
        return outside
    if ctx.session is None:
        return _unavailable(ctx)
    try:
        rows = await service.entries(ctx.session, contest.id, ctx.user_key)
        entry = service.open_entry(rows)
        if entry is not None:
            if (changed := _changed(ctx, contest, entry)) is not None:
                return changed
            if service.expired(entry, contest, moment):
                await service.close(ctx.session, contest, entry, moment)
                return _result(contest, entry)
            return _question(contest, entry, moment, "Dạ, mời Anh/Chị làm tiếp bài thi.\n\n")
        left = contest.attempts - len(rows)
        if left <= 0:
            last = rows[-1]
            return _respond("contest_no_attempts", Reply(
                f"Dạ, Anh/Chị đã dự thi đủ {contest.attempts} lượt của cuộc thi «{contest.title}». "
                f"Lượt gần nhất: đúng {last.score or 0}/{len(last.questions)} câu. "
                "Cảm ơn Anh/Chị đã tham gia!", ((MENU,),)))
        if not begin:
            return _rules(contest, left)
        entry = await service.begin(ctx.session, contest, channel=ctx.channel, user_key=ctx.user_key,
                                    attempt=len(rows) + 1, moment=moment)
    except IntegrityError:  # the Start button pressed twice at once: the first press counts
        await lose_session(ctx, "a contest attempt opened twice")
        return _respond("contest_busy", Reply("Dạ, bài thi đang được mở. Anh/Chị gõ /cuocthi để làm tiếp ạ."))
    except SQLAlchemyError:
        await lose_session(ctx, "could not open a contest attempt")
        return _unavailable(ctx)
    return _question(contest, entry, moment)


async def _answer(ctx: Context, args: tuple[str, ...]) -> Response:
    numbers = [row_id(arg) for arg in args[:3]]
    if len(numbers) != 3 or None in numbers or ctx.session is None:
        return await _open(ctx, None, begin=False)
    entry_id, position, choice = numbers
    assert entry_id is not None and position is not None and choice is not None
    moment = service.now()
    try:
        entry = (await ctx.session.exec(select(ContestEntry).where(
            ContestEntry.id == entry_id, ContestEntry.user_key == ctx.user_key))).first()
        contest = _contests(ctx).get(entry.contest_id) if entry else None
        if entry is None or contest is None:
            return await _open(ctx, None, begin=False)
        if (changed := _changed(ctx, contest, entry)) is not None:
            return changed
        if entry.finished_at is not None:
            return _result(contest, entry)
        if service.expired(entry, contest, moment):
            await service.close(ctx.session, contest, entry, moment)
            return _result(contest, entry)
        if position != entry.answered or not 1 <= choice <= len(
                contest.questions[entry.questions[entry.answered]].choices):
            return _question(contest, entry, moment, "Dạ, câu đó Anh/Chị đã trả lời rồi. Mời Anh/Chị "
                                                     "trả lời câu này:\n\n")
        if not await service.record_answer(ctx.session, contest, entry, position, choice, moment):
            await ctx.session.refresh(entry)
            return _question(contest, entry, moment)
    except SQLAlchemyError:
        await lose_session(ctx, "could not record a contest answer")
        return _unavailable(ctx)
    if entry.finished_at is not None:
        return _result(contest, entry)
    return _question(contest, entry, moment)


@router.command("cuocthi", "thi", menu="Cuộc thi tìm hiểu CCHC")
async def command(ctx: Context, message: Incoming, route: Route) -> Response:
    return await _open(ctx, route.args[0] if route.args else None, begin=False)


@router.payload("ct")
async def button(ctx: Context, message: Incoming, route: Route) -> Response:
    action, rest = (route.args[0], route.args[1:]) if route.args else ("open", ())
    if action == "a":
        return await _answer(ctx, rest)
    return await _open(ctx, rest[0] if rest else None, begin=action == "go")
