"""Taking part in a contest: /cuocthi or a ``ct`` payload (the menu, a poster's deep link, a
campaign's button) opens the running contest; the rules, the consent and the details the
contest collects for the prize-giving, then one question at a time with buttons, the
prediction when the contest asks one, and the score with the explanations at the end.

Where the citizen is lives in the database (``contest_entry``), not in the chat's state: a
break, another worker or a restart resumes at the next unanswered question. Only the details
being typed wait in the chat's state. The right answers leave the server only in the final
result; the time limit is measured on the server's clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import unicodedata

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import select

from bot import intents
from bot.messages import Button, Incoming, Reply, Response
from bot.phones import format_phone, normalize_phone
from bot.routing import Context, Route, Router, row_id
from bot.storage.models import ContestEntry, ContestParticipant
from handlers.common import MENU, label, lose_session
from handlers.contest import service
from handlers.contest.contests import Contest, when

log = logging.getLogger(__name__)
router = Router("contest")

FLOW = "contest"
FLOW_TTL = 2 * 3600  # seconds: details left half-typed do not swallow a question asked hours later
STEPS = ("full_name", "village", "phone")  # the order details are asked in; the phone last: it starts
TOPIC = "cuoc-thi"  # the subscription topic of the contest's notices (content/topics)
_NUMBER = re.compile(r"\d[\d.,\s]*")
_NAME = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*")


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


_COLLECTED = {"full_name": "họ và tên", "phone": "số điện thoại", "village": "thôn/tổ dân phố"}


def _collected(contest: Contest) -> str:
    return ", ".join(_COLLECTED[field] for field in STEPS if field in contest.collect)


def _rules(ctx: Context, contest: Contest, left: int) -> Response:
    limit = (f"- Thời gian làm bài: {contest.time_limit_minutes} phút, tính từ lúc bấm Bắt đầu.\n"
             if contest.time_limit_minutes else "")
    predict = "- Cuối bài có một câu dự đoán (gõ một con số).\n" if contest.predict_question else ""
    details = (f"- Để xét giải, Ban tổ chức xin {_collected(contest)} của Anh/Chị (có hỏi ý Anh/Chị trước).\n"
               if contest.collect else "")
    text = (f"**{contest.title}**\nĐơn vị tổ chức: {contest.organiser}\nThời gian: {_dates(contest)}\n\n"
            f"{contest.rules.strip()}\n\n"
            f"- Số câu hỏi: {contest.drawn}, mỗi câu chọn một đáp án.\n{limit}{predict}{details}"
            f"- Số lượt dự thi còn lại: {left}.\n"
            "Anh/Chị có thể dừng và quay lại làm tiếp bằng lệnh /cuocthi.")
    rows: list[tuple[Button, ...]] = [(Button("▶️ Bắt đầu làm bài", payload=f"ct:go:{contest.id}"),)]
    if any(topic.id == TOPIC for topic in ctx.content.pack.topics):
        rows.append((Button("🔔 Nhận thông báo về cuộc thi", payload=f"sub:on:{TOPIC}"),))
    rows.append((MENU,))
    return _respond("contest_rules", Reply(text, tuple(rows)))


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


def _ask_prediction(contest: Contest, lead: str = "") -> Response:
    return _respond("contest_predict", Reply(
        f"{lead}**Câu dự đoán:** {contest.predict_question}\n"
        "Anh/Chị gõ một con số (ví dụ: 120). Câu này dùng để xếp hạng khi bằng điểm."))


def _result(contest: Contest, entry: ContestEntry, participant: ContestParticipant | None) -> Response:
    assert entry.finished_at is not None
    seconds = int((service.aware(entry.finished_at) - service.aware(entry.started_at)).total_seconds())
    late = "Dạ, đã hết thời gian làm bài. " if entry.timed_out else "Dạ, Anh/Chị đã hoàn thành bài thi. "
    code = f"Mã dự thi của Anh/Chị: **{service.pseudonym(participant.id or 0)}**.\n" if participant else ""
    predicted = f"Dự đoán của Anh/Chị: {entry.prediction}.\n" if entry.prediction is not None else ""
    prize = ("Anh/Chị chọn không để lại thông tin nên bài thi không được xét giải.\n"
             if participant is not None and participant.declined else "")
    text = (f"{late}Kết quả cuộc thi «{contest.title}»: đúng **{entry.score or 0}/{len(entry.questions)}** "
            f"câu, thời gian làm bài {seconds // 60} phút {seconds % 60} giây.\n{code}{predicted}{prize}"
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


# --- the details, with consent ---------------------------------------------------------------


def _consent(ctx: Context, contest: Contest) -> Response:
    days = ctx.settings.contest.retention_days
    text = (f"Dạ, để xét và trao giải, Ban tổ chức cần {_collected(contest)} của Anh/Chị. Thông tin "
            f"chỉ dùng cho việc trao giải và được xóa {days} ngày sau khi cuộc thi kết thúc.\n"
            "Anh/Chị có đồng ý cung cấp không ạ?")
    return _respond("contest_consent", Reply(text, (
        (Button("✅ Đồng ý", payload=f"ct:ok:{contest.id}"),),
        (Button("Làm bài, không nhận giải", payload=f"ct:no:{contest.id}"),),
        (MENU,))))


def _draft(ctx: Context) -> dict | None:
    draft = ctx.state.get("contest")
    if ctx.state.get("flow") != FLOW or not isinstance(draft, dict):
        return None
    if time.time() - float(draft.get("at", 0)) > FLOW_TTL:
        _leave(ctx)
        return None
    return dict(draft)


def _save(ctx: Context, draft: dict) -> None:
    draft["at"] = time.time()
    ctx.state["flow"], ctx.state["contest"] = FLOW, draft


def _leave(ctx: Context) -> None:
    if ctx.state.get("flow") == FLOW:
        ctx.state.pop("flow")
    ctx.state.pop("contest", None)


def _next_step(contest: Contest, draft: dict) -> str | None:
    return next((step for step in STEPS if step in contest.collect and step not in draft), None)


def _ask(step: str, retry: bool = False) -> Response:
    again = "Dạ, em chưa đọc được. " if retry else "Dạ, "
    if step == "full_name":
        return _respond("contest_ask_name", Reply(
            f"{again}Anh/Chị vui lòng gõ **họ và tên** đầy đủ, có dấu (ví dụ: Nguyễn Văn An)."))
    if step == "village":
        return _respond("contest_ask_village", Reply(
            f"{again}Anh/Chị ở **thôn, tổ dân phố** nào ạ? (ví dụ: Thôn Đông)"))
    return _respond("contest_ask_phone", Reply(
        f"{again}Anh/Chị bấm nút bên dưới để chia sẻ **số điện thoại**, hoặc gõ số (ví dụ: 0912 345 678). "
        "Mỗi số điện thoại dự thi một lần.",
        ((Button("📱 Chia sẻ số điện thoại", request="phone"),),)))


def _looks_elsewhere(text: str) -> bool:
    """A question or a greeting typed while details are asked: the FAQ's, not a name."""
    found = intents.detect(text)
    return "?" in text or len(text.split()) > 8 or (found is not None and found.name != "phone")


def _value(step: str, message: Incoming) -> tuple[str, bool] | None:
    """The detail this message gives for ``step`` (and whether the platform vouched for it)."""
    text = unicodedata.normalize("NFC", message.text.strip())
    if step == "phone":
        if message.contact is not None:
            phone = normalize_phone(message.contact.phone)
            return (phone, message.contact.verified) if phone else None
        phone = normalize_phone(text)
        return (phone, False) if phone else None
    if step == "full_name":
        name = " ".join(text.split())
        return (name.title(), False) if 2 <= len(name) <= 120 and _NAME.fullmatch(name) else None
    place = " ".join(text.split())
    return (place, False) if 1 <= len(place) <= 120 else None


@router.flow(FLOW)
async def details(ctx: Context, message: Incoming, route: Route) -> Response | None:
    draft = _draft(ctx)
    contest = _contests(ctx).get(draft["id"]) if draft else None
    if draft is None or contest is None:
        _leave(ctx)
        return None
    step = draft.get("step")
    if step == "predict":
        return await _prediction(ctx, contest, message)
    if step not in (*STEPS, "confirm"):
        _leave(ctx)
        return None
    if message.contact is None and _looks_elsewhere(message.text):
        return None  # answered as a question; /cuocthi picks the details up again
    if step == "confirm":
        return _confirm(contest, draft, "Dạ, Anh/Chị bấm một nút bên dưới giúp em nhé.\n")
    found = _value(step, message)
    if found is None:
        return _ask(step, retry=True)
    draft[step] = found[0]
    if step == "phone":
        draft["verified"] = found[1]
    following = _next_step(contest, draft)
    draft["step"] = following or "confirm"
    _save(ctx, draft)
    return _ask(following) if following is not None else _confirm(contest, draft)


def _confirm(contest: Contest, draft: dict, lead: str = "") -> Response:
    """The details read back before the clock starts: a typo in a winner's phone costs the prize."""
    lines = []
    if "full_name" in draft:
        lines.append(f"- Họ và tên: {draft['full_name']}")
    if "village" in draft:
        lines.append(f"- Thôn/tổ dân phố: {draft['village']}")
    if "phone" in draft:
        lines.append(f"- Số điện thoại: {format_phone(draft['phone'])}")
    return _respond("contest_confirm", Reply(
        f"{lead}Dạ, Anh/Chị kiểm tra lại thông tin dự thi:\n" + "\n".join(lines) +
        "\n\nBấm **Bắt đầu** là bắt đầu tính giờ làm bài.", (
            (Button("✅ Đúng, bắt đầu làm bài", payload=f"ct:start:{contest.id}"),),
            (Button("✏️ Nhập lại", payload=f"ct:ok:{contest.id}"),),
            (MENU,))))


async def _confirmed(ctx: Context, contest_id: str) -> Response:
    draft = _draft(ctx)
    contest = _contests(ctx).get(contest_id)
    if contest is None or draft is None or draft.get("id") != contest_id or draft.get("step") != "confirm":
        return await _open(ctx, contest_id, begin=False)  # an old button: where they are now
    _leave(ctx)
    given = service.Details(full_name=draft.get("full_name"), phone=draft.get("phone"),
                            phone_verified=bool(draft.get("verified")), village=draft.get("village"))
    return await _start(ctx, contest, given)


async def _prediction(ctx: Context, contest: Contest, message: Incoming) -> Response | None:
    match = _NUMBER.search(message.text)
    digits = re.sub(r"\D", "", match.group(0)) if match else ""
    if not digits or len(digits) > 7:
        if _looks_elsewhere(message.text):
            return None
        return _ask_prediction(contest, "Dạ, Anh/Chị gõ giúp em một con số nhé.\n")
    if ctx.session is None:
        return _unavailable(ctx)
    try:
        participant = await service.participant_of(ctx.session, contest.id, ctx.user_key)
        rows = await service.attempts(ctx.session, contest.id, participant, ctx.user_key)
        entry = next((row for row in reversed(rows) if service.awaits_prediction(contest, row)), None)
        if entry is None:
            _leave(ctx)
            return await _open(ctx, contest.id, begin=False)
        if service.now() >= contest.ends:
            _leave(ctx)
            return _result(contest, entry, participant)
        await service.record_prediction(ctx.session, entry, int(digits))
    except SQLAlchemyError:
        await lose_session(ctx, "could not record a contest prediction")
        return _unavailable(ctx)
    _leave(ctx)
    return _result(contest, entry, participant)


# --- opening, starting, answering ------------------------------------------------------------


async def _resume(ctx: Context, contest: Contest, participant: ContestParticipant | None,
                  entry: ContestEntry, moment: dt.datetime, lead: str) -> Response:
    assert ctx.session is not None
    if (changed := _changed(ctx, contest, entry)) is not None:
        return changed
    if entry.user_key != ctx.user_key:
        await service.flag(ctx.session, contest.id, "shared_phone",
                           f"số điện thoại đang làm bài trên kênh {entry.channel} được dùng từ kênh {ctx.channel}",
                           participant_id=entry.participant_id, entry_id=entry.id)
        return _respond("contest_elsewhere", Reply(
            f"Dạ, số điện thoại này đang làm dở bài thi trên kênh {entry.channel}. Anh/Chị vui lòng "
            "làm tiếp ở kênh đó ạ.", ((MENU,),)))
    if service.expired(entry, contest, moment):
        await service.close(ctx.session, contest, entry, moment)
        return _result(contest, entry, participant)
    return _question(contest, entry, moment, lead)


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
    draft = _draft(ctx)
    try:
        participant = await service.participant_of(ctx.session, contest.id, ctx.user_key)
        rows = await service.attempts(ctx.session, contest.id, participant, ctx.user_key)
        entry = service.open_entry(rows)
        if entry is not None:
            return await _resume(ctx, contest, participant, entry, moment,
                                 "Dạ, mời Anh/Chị làm tiếp bài thi.\n\n")
        waiting = next((row for row in rows if service.awaits_prediction(contest, row)), None)
        if waiting is not None:
            _save(ctx, {"id": contest.id, "step": "predict"})
            return _ask_prediction(contest, "Dạ, Anh/Chị còn câu dự đoán.\n")
        left = contest.attempts - len(rows)
        if left <= 0:
            return _no_attempts(contest, rows)
        if draft is not None and draft.get("id") == contest.id and draft.get("step") in STEPS:
            return _ask(draft["step"])  # the details half-typed before a break
        if draft is not None and draft.get("id") == contest.id and draft.get("step") == "confirm":
            return _confirm(contest, draft)
        if not begin:
            return _rules(ctx, contest, left)
        if participant is None and contest.collect:
            return _consent(ctx, contest)
        return await _start(ctx, contest, None if contest.collect else service.Details(),
                            participant=participant)
    except SQLAlchemyError:
        await lose_session(ctx, "could not open a contest")
        return _unavailable(ctx)


def _no_attempts(contest: Contest, rows: list[ContestEntry]) -> Response:
    last = rows[-1]
    return _respond("contest_no_attempts", Reply(
        f"Dạ, Anh/Chị đã dự thi đủ {contest.attempts} lượt của cuộc thi «{contest.title}». "
        f"Lượt gần nhất: đúng {last.score or 0}/{len(last.questions)} câu. "
        "Cảm ơn Anh/Chị đã tham gia!", ((MENU,),)))


async def _start(ctx: Context, contest: Contest, given: service.Details | None, *,
                 participant: ContestParticipant | None = None) -> Response:
    """Join (``given`` None: declined to give details) and open the next attempt, unless this
    person (the same phone on another channel, say) has none left."""
    moment = service.now()
    if (outside := _outside(contest, moment)) is not None:
        return outside
    if ctx.session is None:
        return _unavailable(ctx)
    try:
        if participant is None:
            participant = await service.join(
                ctx.session, contest, channel=ctx.channel, user_key=ctx.user_key, details=given,
                retention_days=ctx.settings.contest.retention_days, moment=moment)
        rows = await service.attempts(ctx.session, contest.id, participant, ctx.user_key)
        others = sorted({row.channel for row in rows if row.user_key != ctx.user_key})
        if others:
            await service.flag(ctx.session, contest.id, "shared_phone",
                               f"số điện thoại đã dự thi trên kênh {', '.join(others)}, nay dùng lại "
                               f"từ kênh {ctx.channel}",  # the number itself stays in its own column
                               participant_id=participant.id)
        entry = service.open_entry(rows)
        if entry is not None:
            return await _resume(ctx, contest, participant, entry, moment, "Dạ, mời Anh/Chị làm tiếp bài thi.\n\n")
        if len(rows) >= contest.attempts:
            await service.flag(ctx.session, contest.id, "extra_attempt",
                               f"xin dự thi thêm lượt từ kênh {ctx.channel} sau {len(rows)} lượt",
                               participant_id=participant.id)
            return _no_attempts(contest, rows)
        entry = await service.begin(ctx.session, contest, participant, channel=ctx.channel,
                                    user_key=ctx.user_key, attempt=len(rows) + 1, moment=moment)
    except IntegrityError:  # Start pressed twice at once (or on two channels): the first counts
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
        participant = (await ctx.session.get(ContestParticipant, entry.participant_id)
                       if entry.participant_id is not None else None)
        if (changed := _changed(ctx, contest, entry)) is not None:
            return changed
        if entry.finished_at is None and service.expired(entry, contest, moment):
            await service.close(ctx.session, contest, entry, moment)
        elif entry.finished_at is None:
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
    if entry.finished_at is None:
        return _question(contest, entry, moment)
    if service.awaits_prediction(contest, entry):
        _save(ctx, {"id": contest.id, "step": "predict"})
        return _ask_prediction(contest)
    return _result(contest, entry, participant)


def menu_button(ctx: Context) -> Button | None:
    """The main menu's way into the contest, shown only while one runs: quiet about it otherwise."""
    moment = service.now()
    running = [c for c in _contests(ctx).values() if c.starts <= moment < c.ends]
    if not running:
        return None
    contest = min(running, key=lambda c: c.ends)
    return Button(label(f"🏆 {contest.title}"), payload=f"ct:open:{contest.id}")


@router.command("cuocthi", "thi", menu="Cuộc thi tìm hiểu CCHC")
async def command(ctx: Context, message: Incoming, route: Route) -> Response:
    return await _open(ctx, route.args[0] if route.args else None, begin=False)


@router.payload("ct")
async def button(ctx: Context, message: Incoming, route: Route) -> Response:
    action, rest = (route.args[0], route.args[1:]) if route.args else ("open", ())
    if action == "a":
        return await _answer(ctx, rest)
    contest_id = rest[0] if rest else None
    if action in ("ok", "no") and contest_id:
        return await _consented(ctx, contest_id, action == "ok")
    if action == "start" and contest_id:
        return await _confirmed(ctx, contest_id)
    return await _open(ctx, contest_id, begin=action == "go")


async def _consented(ctx: Context, contest_id: str, agreed: bool) -> Response:
    contest = _contests(ctx).get(contest_id)
    if contest is None or not contest.collect:
        return await _open(ctx, contest_id, begin=agreed)
    if (outside := _outside(contest, service.now())) is not None:
        return outside
    if not agreed:
        _leave(ctx)
        return await _start(ctx, contest, None)
    draft: dict = {"id": contest.id}
    first = _next_step(contest, draft)
    assert first is not None  # collect is not empty
    draft["step"] = first
    _save(ctx, draft)
    return _ask(first)
