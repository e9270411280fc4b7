"""Feedback and complaints ("phản ánh, kiến nghị"), their status, officials' answers, and the
five-level satisfaction question.

Citizens: /phananh, the menu button, or "Gửi câu hỏi cho cán bộ" after a question the bot could
not answer (the question is prefilled) start a guided flow kept in ``ctx.state``: the subject,
the content, optionally a photo, optionally a phone number for a call-back (only with explicit
consent), a summary to confirm, then a ticket number and the deadline. "Hủy" (or the word) at
any step cancels. The status: /phananh status, the button, or sending the ticket number.

Officials, in their Telegram chat: reply to a ticket's card (or /traloi <số> <nội dung>) to
answer; the answer reaches the citizen on the channel they used, with the satisfaction question.
The card's buttons move the ticket to "in progress" or "closed". /phananh there lists the open
tickets.

Satisfaction: after an answered ticket, and from the quarterly survey (/danhgia [faq-id], the
campaign content/campaigns/khao-sat-hai-long.md), with an optional comment.
"""

from __future__ import annotations

import logging
import re
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot import text as vtext
from bot.intents import Intent
from bot.messages import Button, Incoming, Reply, Response
from bot.phones import format_phone, normalize_phone
from bot.routing import Context, Route, Router, row_id
from bot.storage.models import (
    QuestionLog,
    SatisfactionResponse,
    Ticket,
    TicketMessage,
    open_ticket,
    utcnow,
)
from handlers.common import MENU, audit, lose_session, officials_only
from handlers.feedback import service as fb

log = logging.getLogger(__name__)
router = Router("feedback")

FLOW = "feedback"
RATING_FLOW = "rating"
FLOW_TTL = 2 * 3600  # seconds: an abandoned flow does not swallow a question asked hours later
RATING_TTL = 30 * 60  # the optional comment after a rating
CANCEL_WORDS = {"huy", "huy bo", "cancel", "thoat", "dung", "thoi", "khong gui"}
YES_WORDS = {"co", "dong y", "ok", "oke", "vang", "co a", "dong y a", "goi lai"}
NO_WORDS = {"khong", "ko", "k", "khong can", "khong can goi", "khong can goi lai", "thoi khoi"}
STATUS_WORDS = {"status", "trangthai", "tinhtrang", "tra", "xem"}
SURVEY_CAMPAIGN = "khao-sat-hai-long"
MIN_WORDS = 3
MAX_LISTED = 5
CANCEL = Button("✖️ Hủy", payload="fb:cancel")
STATUS_BUTTON = Button("🔎 Xem tình trạng phản ánh", payload="fb:status")
START_BUTTON = Button("✍️ Gửi phản ánh, kiến nghị", payload="fb:start")
SUBJECT_BUTTONS = {
    "thu_tuc": "📄 Thủ tục hành chính",
    "can_bo": "👤 Thái độ cán bộ",
    "gop_y": "💡 Góp ý, kiến nghị",
    "khac": "📝 Nội dung khác",
}
_TRALOI = re.compile(r"/\S+\s+(\S+)\s*(.*)", re.DOTALL)


def _respond(text: str, *rows: tuple[Button, ...], outcome: str = "feedback") -> Response:
    return Response([Reply(text, tuple(rows))], outcome)


@router.recogniser
def ticket_number(text: str) -> Intent | None:
    """A message holding a ticket number asks about that ticket (before it looks like a dossier
    code to the lookups)."""
    number = fb.parse_ticket_number(text)
    return Intent("ticket_number", number) if number else None


def _in_officials_chat(ctx: Context, message: Incoming) -> bool:
    chat = fb.officials_chat(ctx.settings)
    return ctx.is_admin and chat is not None and message.chat_id == chat


def _unavailable() -> str:
    return ("Dạ, hệ thống tiếp nhận phản ánh đang tạm gián đoạn nên em chưa ghi nhận được. "
            "Anh/Chị vui lòng thử lại sau ít phút")


# --- the citizen's flow ------------------------------------------------------------------


def _draft(ctx: Context) -> dict | None:
    """A copy of the flow's draft: changes are saved by ``_step`` (the state is saved only when
    it compares unequal to what was loaded, so it must never be changed in place)."""
    draft = ctx.state.get("fb")
    return dict(draft) if ctx.state.get("flow") == FLOW and isinstance(draft, dict) else None


def _begin(ctx: Context, **draft: object) -> dict:
    ctx.state["flow"] = FLOW
    ctx.state["fb"] = {"step": "subject", "at": time.time(), **draft}
    ctx.state.pop("rating", None)
    return ctx.state["fb"]


def _leave(ctx: Context) -> None:
    if ctx.state.get("flow") == FLOW:
        ctx.state.pop("flow")
    ctx.state.pop("fb", None)


def _step(ctx: Context, draft: dict, step: str) -> None:
    draft["step"], draft["at"] = step, time.time()
    ctx.state["fb"] = dict(draft)  # a new dict: the state is saved when it compares unequal


def _ask_subject(hint: str = "") -> Response:
    items = [Button(text, payload=f"fb:s:{code}") for code, text in SUBJECT_BUTTONS.items()]
    text = hint or "Dạ, Anh/Chị muốn phản ánh, kiến nghị về nội dung nào ạ?"
    return _respond(text, tuple(items[:2]), tuple(items[2:]), (CANCEL,))


def _ask_content(draft: dict) -> Response:
    if draft.get("content"):
        text = (
            f"Dạ, em sẽ chuyển câu hỏi này tới cán bộ:\n«{draft['content']}»\n\n"
            "Anh/Chị có thể gõ thêm chi tiết (đang vướng ở bước nào, mã hồ sơ nếu có), "
            "hoặc bấm **Gửi luôn**."
        )
        return _respond(text, (Button("➡️ Gửi luôn", payload="fb:keep"),), (CANCEL,))
    text = (
        "Dạ, Anh/Chị vui lòng mô tả sự việc: việc gì, ở đâu, khi nào; mã hồ sơ (nếu có).\n"
        "Không cần ghi số CCCD hay mật khẩu ạ."
    )
    return _respond(text, (CANCEL,))


def _ask_photo() -> Response:
    text = ("Dạ, Anh/Chị có ảnh chụp liên quan (giấy tờ, hiện trường) không? "
            "Gửi ảnh ngay bây giờ, hoặc bấm **Bỏ qua**.")
    return _respond(text, (Button("Bỏ qua", payload="fb:skip"),), (CANCEL,))


def _ask_callback() -> Response:
    text = (
        "Dạ, Anh/Chị có muốn cán bộ gọi điện lại không ạ?\n"
        "Nếu đồng ý, số điện thoại chỉ dùng để cán bộ liên hệ về phản ánh này, chỉ cán bộ tiếp "
        "nhận được xem và sẽ được xóa sau khi giải quyết xong."
    )
    return _respond(text, (Button("📞 Đồng ý, để lại số", payload="fb:call"),),
                    (Button("Không cần gọi lại", payload="fb:nocall"),), (CANCEL,))


def _ask_phone(retry: bool = False) -> Response:
    text = (
        "Dạ, số điện thoại vừa nhập chưa đúng. Anh/Chị nhập lại số di động 10 chữ số, ví dụ "
        "0912 345 678 hoặc +84 912 345 678, hoặc bấm **Không để lại số** ạ."
        if retry else "Dạ, Anh/Chị nhập số điện thoại để cán bộ gọi lại, ví dụ: 0912 345 678."
    )
    return _respond(text, (Button("Không để lại số", payload="fb:nocall"),), (CANCEL,),
                    outcome="feedback_phone_invalid" if retry else "feedback")


def _confirm(draft: dict) -> Response:
    phone = format_phone(draft["phone"]) if draft.get("phone") else "không"
    text = (
        "Dạ, Anh/Chị kiểm tra lại phản ánh:\n"
        f"- Lĩnh vực: {fb.SUBJECTS[draft['subject']]}\n"
        f"- Nội dung: {draft['content']}\n"
        f"- Ảnh: {'có' if draft.get('photo') else 'không'}\n"
        f"- Số điện thoại gọi lại: {phone}\n\n"
        "Bấm **Gửi phản ánh** để gửi cho cán bộ."
    )
    return _respond(text, (Button("✅ Gửi phản ánh", payload="fb:send"),), (CANCEL,))


def _after_content(ctx: Context, draft: dict) -> Response:
    if draft.get("question_id") is not None:  # a question the bot could not answer: no photo
        _step(ctx, draft, "callback")
        return _ask_callback()
    _step(ctx, draft, "photo")
    return _ask_photo()


def _cancelled(ctx: Context) -> Response:
    _leave(ctx)
    text = ("Dạ, em đã hủy, phản ánh chưa được gửi. Khi cần, Anh/Chị gõ /phananh "
            "hoặc chọn trong Menu ạ.")
    return _respond(text, (MENU,), outcome="feedback_cancelled")


async def start_flow(ctx: Context, question_id: int | None = None, question: str | None = None) -> Response:
    """Begin the flow; from the not-sure path with the question prefilled (as a procedure question)."""
    if ctx.session is None:
        return _respond(f"{_unavailable()} hoặc gọi {ctx.settings.office.hotline} ạ.", (MENU,))
    if question:
        draft = _begin(ctx, subject="thu_tuc", content=question, question_id=question_id)
        _step(ctx, draft, "content")
        return _ask_content(draft)
    _begin(ctx)
    return _ask_subject()


@router.command("phananh", "gopy", menu="Gửi phản ánh, kiến nghị")
async def command(ctx: Context, message: Incoming, route: Route) -> Response:
    number = fb.parse_ticket_number(" ".join(route.args)) if route.args else None
    if _in_officials_chat(ctx, message):
        return await (_officials_ticket(ctx, number) if number else _open_tickets(ctx))
    if route.args:
        if number is not None:
            return await _ticket_status(ctx, number)
        if route.args[0].lower() in STATUS_WORDS:
            return await _my_tickets(ctx)
    return await start_flow(ctx)


@router.payload("fb")
async def button(ctx: Context, message: Incoming, route: Route) -> Response:
    action = route.args[0] if route.args else "start"
    if action == "start":
        return await start_flow(ctx)
    if action == "status":
        return await _my_tickets(ctx)
    if action == "cancel":
        return _cancelled(ctx)
    if action == "n" and len(route.args) > 1:
        number = fb.parse_ticket_number(route.args[1])
        return await (_ticket_status(ctx, number) if number else _my_tickets(ctx))
    draft = _draft(ctx)
    if draft is None:  # an old button of a finished (or expired) flow
        _begin(ctx)
        return _ask_subject("Dạ, phiên gửi phản ánh trước đã kết thúc. Mời Anh/Chị bắt đầu lại: "
                            "Anh/Chị muốn phản ánh, kiến nghị về nội dung nào ạ?")
    if action == "s" and len(route.args) > 1 and route.args[1] in fb.SUBJECTS:
        draft["subject"] = route.args[1]
        _step(ctx, draft, "content")
        return _ask_content(draft)
    if action == "keep" and draft.get("content"):
        return _after_content(ctx, draft)
    if action == "skip" and draft["step"] == "photo":
        _step(ctx, draft, "callback")
        return _ask_callback()
    if action == "call" and draft["step"] in ("callback", "phone"):
        _step(ctx, draft, "phone")
        return _ask_phone()
    if action == "nocall" and draft["step"] in ("callback", "phone"):
        draft.pop("phone", None)
        _step(ctx, draft, "confirm")
        return _confirm(draft)
    if action == "send" and draft["step"] == "confirm":
        return await _submit(ctx, draft)
    return _repeat(ctx, draft)


def _repeat(ctx: Context, draft: dict) -> Response:
    """The question of the step the citizen is at (a button from an earlier step was pressed)."""
    step = draft["step"]
    if step == "subject":
        return _ask_subject()
    if step == "content":
        return _ask_content(draft)
    if step == "photo":
        return _ask_photo()
    if step == "callback":
        return _ask_callback()
    if step == "phone":
        return _ask_phone()
    return _confirm(draft)


@router.flow(FLOW)
async def flow_message(ctx: Context, message: Incoming, route: Route) -> Response | None:
    draft = _draft(ctx)
    if draft is None or time.time() - float(draft.get("at", 0)) > FLOW_TTL:
        _leave(ctx)  # abandoned long ago: this message is a new question, routed as any
        return None
    text = message.text.strip()
    if text and vtext.strip_key(text) in CANCEL_WORDS:
        return _cancelled(ctx)
    images = [a for a in message.attachments if a.kind == "image"]
    step = draft["step"]
    if step == "subject":
        chosen = _subject_from_text(text)
        if chosen is None:
            return _ask_subject("Dạ, Anh/Chị chọn một nội dung bằng các nút dưới đây ạ.")
        draft["subject"] = chosen
        _step(ctx, draft, "content")
        return _ask_content(draft)
    if step == "content":
        if images:
            draft["photo"] = images[0].url or f"{ctx.channel}:image"
        if draft.get("content") and text:  # details added to a prefilled question
            draft["content"] = f"{draft['content']}\n{text}"[:4000]
        elif text:
            if len(vtext.tokens(text)) < MIN_WORDS:
                return _respond("Dạ, Anh/Chị vui lòng mô tả cụ thể hơn một chút (ít nhất một câu) "
                                "để cán bộ hiểu và giải quyết ạ.", (CANCEL,))
            draft["content"] = text[:4000]
        elif not draft.get("content"):
            return _ask_content(draft)
        if draft.get("photo"):  # the photo came with the description: no need to ask for one
            _step(ctx, draft, "callback")
            return _ask_callback()
        return _after_content(ctx, draft)
    if step == "photo":
        if images:
            draft["photo"] = images[0].url or f"{ctx.channel}:image"
            _step(ctx, draft, "callback")
            return _ask_callback()
        if message.attachments:
            return _respond("Dạ, em chỉ nhận ảnh chụp. Anh/Chị gửi ảnh, hoặc bấm **Bỏ qua** ạ.",
                            (Button("Bỏ qua", payload="fb:skip"),), (CANCEL,))
        return _ask_photo()
    if step == "callback":
        answer = vtext.strip_key(text)
        if answer in YES_WORDS:
            _step(ctx, draft, "phone")
            return _ask_phone()
        if answer in NO_WORDS:
            _step(ctx, draft, "confirm")
            return _confirm(draft)
        if normalize_phone(text) is None:
            return _ask_callback()
        step = "phone"  # typed the number straight after the consent question: consent given
    if step == "phone":
        phone = normalize_phone(text)
        if phone is None:
            return _ask_phone(retry=True)
        draft["phone"] = phone
        _step(ctx, draft, "confirm")
        return _confirm(draft)
    return _confirm(draft)


def _subject_from_text(text: str) -> str | None:
    key = vtext.strip_key(text)
    codes = list(fb.SUBJECTS)
    if (number := row_id(key)) is not None and 1 <= number <= len(codes):
        return codes[number - 1]
    for code, title in fb.SUBJECTS.items():
        if key and key in vtext.strip_key(title):
            return code
    return None


async def _submit(ctx: Context, draft: dict) -> Response:
    if ctx.session is None:
        _leave(ctx)
        return _respond(f"{_unavailable()} hoặc gọi {ctx.settings.office.hotline} ạ.", (MENU,))
    try:
        ticket = await fb.create_ticket(
            ctx.session, ctx.settings, channel=ctx.channel, channel_user_id=ctx.channel_user_id,
            user_key=ctx.user_key, subject=draft["subject"], content=draft["content"],
            photo_ref=draft.get("photo"), phone=draft.get("phone"),
            question_id=await _own_question(ctx, draft.get("question_id")),
        )
    except SQLAlchemyError:
        log.exception("could not store a ticket")
        await ctx.session.rollback()
        return _respond(f"{_unavailable()}. Anh/Chị bấm **Gửi phản ánh** lần nữa nhé.",
                        (Button("✅ Gửi phản ánh", payload="fb:send"),), (CANCEL,))
    _leave(ctx)
    if fb.queue_card(ctx.session, ctx.settings, ticket):  # delivered once the turn commits
        ctx.outbox = True
    channels = ctx.services.channels if ctx.services is not None else {}
    where = ("Câu trả lời sẽ được gửi vào đây. " if ctx.channel in channels else "")
    text = (
        f"Dạ, em đã chuyển phản ánh của Anh/Chị tới cán bộ {ctx.settings.office.name}.\n"
        f"Số phản ánh: **{ticket.number}**\n"
        f"Thời hạn trả lời: {ctx.settings.feedback.answer_days} ngày làm việc, "
        f"chậm nhất ngày {fb.deadline_text(ticket)}.\n\n"
        f"{where}Anh/Chị nhắn số phản ánh cho em để xem tình trạng ạ."
    )
    return _respond(text, (STATUS_BUTTON,), (MENU,), outcome="ticket_created")


async def _own_question(ctx: Context, question_id: object) -> int | None:
    if not isinstance(question_id, int) or ctx.session is None:
        return None
    found = (await ctx.session.exec(select(QuestionLog.id).where(
        QuestionLog.id == question_id, QuestionLog.user_key == ctx.user_key))).first()
    return found


# --- status ------------------------------------------------------------------------------


@router.intent("ticket_number")
async def ticket_status(ctx: Context, message: Incoming, route: Route) -> Response:
    number = route.intent.value if route.intent else fb.parse_ticket_number(message.text)
    if number is None:
        return await _my_tickets(ctx)
    if _in_officials_chat(ctx, message):
        return await _officials_ticket(ctx, number)
    return await _ticket_status(ctx, number)


async def _ticket_status(ctx: Context, number: str) -> Response:
    if ctx.session is None:
        return _respond(f"{_unavailable()} hoặc gọi {ctx.settings.office.hotline} ạ.", (MENU,))
    ticket = (await ctx.session.exec(select(Ticket).where(
        Ticket.number == number, Ticket.user_key == ctx.user_key))).first()
    if ticket is None:  # another citizen's number reveals nothing
        text = (f"Dạ, em không tìm thấy phản ánh số {number} do Anh/Chị gửi qua kênh này. "
                "Anh/Chị kiểm tra lại số phản ánh giúp em ạ.")
        return _respond(text, (STATUS_BUTTON,), (MENU,), outcome="ticket_status")
    lines = [
        f"Dạ, phản ánh **{ticket.number}** ({fb.SUBJECTS.get(ticket.subject, ticket.subject)}), "
        f"gửi ngày {fb.local(ticket.created_at):%d/%m/%Y}:",
        f"- Tình trạng: **{fb.STATUSES.get(ticket.status, ticket.status)}**",
        f"- Hạn trả lời: {fb.deadline_text(ticket)}",
    ]
    if fb.is_overdue(ticket, utcnow()):
        lines.append(f"\nPhản ánh đã quá hạn, em đã nhắc cán bộ. Anh/Chị có thể gọi "
                     f"{ctx.settings.office.hotline} để được hỗ trợ ạ.")
    answer = (await ctx.session.exec(select(TicketMessage).where(
        TicketMessage.ticket_id == ticket.id, TicketMessage.author == "official"
    ).order_by(col(TicketMessage.id).desc()))).first()
    rows: list[tuple[Button, ...]] = []
    if answer is not None:
        lines.append(f"\nCâu trả lời của cán bộ ({fb.local(answer.created_at):%d/%m/%Y}):\n{answer.body}")
        if not await fb.has_rating(ctx.session, ticket.id):  # type: ignore[arg-type]
            lines.append("\nAnh/Chị có hài lòng với việc giải quyết phản ánh này không ạ?")
            rows.extend(fb.satisfaction_buttons(f"t:{ticket.id}"))
    rows.append((MENU,))
    return _respond("\n".join(lines), *rows, outcome="ticket_status")


async def _my_tickets(ctx: Context) -> Response:
    if ctx.session is None:
        return _respond(f"{_unavailable()} hoặc gọi {ctx.settings.office.hotline} ạ.", (MENU,))
    tickets = (await ctx.session.exec(select(Ticket).where(Ticket.user_key == ctx.user_key)
                                      .order_by(col(Ticket.id).desc()).limit(MAX_LISTED))).all()
    if not tickets:
        text = "Dạ, Anh/Chị chưa gửi phản ánh nào qua kênh này."
        return _respond(text, (START_BUTTON,), (MENU,), outcome="ticket_status")
    lines = ["Dạ, các phản ánh gần đây của Anh/Chị:"]
    lines += [f"- {t.number}: {fb.STATUSES.get(t.status, t.status)} (hạn {fb.deadline_text(t)})"
              for t in tickets]
    lines.append("\nNhắn số phản ánh (ví dụ " + tickets[0].number + ") để xem chi tiết ạ.")
    rows = [(Button(f"🔎 {t.number}", payload=f"fb:n:{t.number}"),) for t in tickets[:3]]
    return _respond("\n".join(lines), *rows, (MENU,), outcome="ticket_status")


# --- officials ---------------------------------------------------------------------------


async def _refuse(ctx: Context, action: str) -> Response:
    await audit(ctx, action, False)
    text = ("Dạ, chức năng này chỉ dành cho cán bộ tiếp nhận phản ánh của "
            f"{ctx.settings.office.name} ạ.")
    return _respond(text, (MENU,), outcome="refused")


@router.reply()
async def official_reply(ctx: Context, message: Incoming) -> Response | None:
    """An official replying, in the officials' chat, to a ticket's card: the answer."""
    if not _in_officials_chat(ctx, message) or ctx.session is None or message.text.startswith("/"):
        return None
    ticket = (await ctx.session.exec(select(Ticket).where(
        Ticket.forwarded_chat_id == message.chat_id,
        Ticket.forwarded_message_id == message.reply_to))).first()
    if ticket is None:
        return None
    return await _answer(ctx, ticket, message.text.strip())


@router.command("traloi")
@officials_only("ticket.answer", _refuse)
async def answer_command(ctx: Context, message: Incoming, route: Route) -> Response:
    """/traloi PA-2026-000123 <nội dung>: the same as replying to the ticket's card."""
    if ctx.session is None:
        return _respond(_unavailable() + " ạ.", outcome="ticket_answer")
    match = _TRALOI.match(message.text.strip())
    number = fb.parse_ticket_number(match.group(1)) if match else None
    if match is None or number is None:
        return _respond("Cú pháp: /traloi <số phản ánh> <nội dung trả lời>, ví dụ:\n"
                        "/traloi PA-2026-000123 Dạ, hồ sơ của Anh/Chị đã được giải quyết...",
                        outcome="ticket_answer")
    ticket = (await ctx.session.exec(select(Ticket).where(Ticket.number == number))).first()
    if ticket is None:
        return _respond(f"Không có phản ánh số {number}.", outcome="ticket_answer")
    return await _answer(ctx, ticket, match.group(2).strip())


async def _answer(ctx: Context, ticket: Ticket, body: str) -> Response:
    assert ctx.session is not None and ticket.id is not None
    if not body:
        return _respond(f"Câu trả lời cho phản ánh {ticket.number} cần có nội dung bằng chữ.",
                        outcome="ticket_answer")
    channels = ctx.services.channels if ctx.services is not None else {}
    status, error = await fb.answer_ticket(ctx.session, channels, ctx.settings.office.name, ticket,
                                           body, ctx.user_key)
    await audit(ctx, "ticket.answer", True, ticket=ticket.number, delivery=status)
    where = fb.CHANNEL_NAMES.get(ticket.channel, ticket.channel)
    if status == fb.QUEUED:  # delivered after this turn commits; a failure is reported here
        text = (f"✅ Đã lưu câu trả lời phản ánh {ticket.number} và đang gửi tới người dân ({where}). "
                "Nếu không gửi được, em sẽ báo lại trong nhóm này.")
    elif status == "not_pushed":
        text = (f"✅ Đã lưu câu trả lời phản ánh {ticket.number}. Người dân gửi qua {where} nên sẽ "
                "thấy câu trả lời khi hỏi tình trạng phản ánh.")
    else:
        text = fb.undelivered_text(ticket, status, error)
    return _respond(text, outcome="ticket_answer")


@router.payload("tk")
@officials_only("ticket.update", _refuse)
async def ticket_button(ctx: Context, message: Incoming, route: Route) -> Response:
    """The card's buttons: tk:prog:<id> (take it), tk:close:<id>."""
    if ctx.session is None:
        return _respond(_unavailable() + " ạ.", outcome="ticket_update")
    action = route.args[0] if route.args else ""
    ticket_id = row_id(route.args[1]) if len(route.args) > 1 else None
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None or action not in ("prog", "close"):
        return _respond("Phản ánh này không còn.", outcome="ticket_update")
    now = utcnow()
    if action == "prog":
        if ticket.status != "new":
            return _respond(f"Phản ánh {ticket.number} đang ở trạng thái "
                            f"“{fb.STATUSES[ticket.status]}”.", outcome="ticket_update")
        ticket.status, ticket.in_progress_at = "in_progress", now
        text = f"🛠 Phản ánh {ticket.number}: đang xử lý. Trả lời (Reply) tin phản ánh để gửi kết quả."
    else:
        if ticket.status == "closed":
            return _respond(f"Phản ánh {ticket.number} đã đóng.", outcome="ticket_update")
        ticket.status, ticket.closed_at = "closed", now
        text = f"✔️ Đã đóng phản ánh {ticket.number}."
    ticket.updated_at = now
    ctx.session.add(ticket)
    await audit(ctx, f"ticket.{ticket.status}", True, ticket=ticket.number)
    return _respond(text, outcome="ticket_update")


async def _open_tickets(ctx: Context) -> Response:
    if ctx.session is None:
        return _respond(_unavailable() + " ạ.", outcome="ticket_list")
    tickets = (await ctx.session.exec(select(Ticket).where(open_ticket())
                                      .order_by(Ticket.deadline))).all()
    if not tickets:
        return _respond("Không có phản ánh nào đang chờ trả lời.", outcome="ticket_list")
    now = utcnow()
    lines = [f"**Phản ánh chờ trả lời: {len(tickets)}**"]
    for t in tickets[:30]:
        late = " ⏰ quá hạn" if fb.is_overdue(t, now) else ""
        lines.append(f"- {t.number} · {fb.SUBJECTS.get(t.subject, t.subject)} · "
                     f"{fb.STATUSES[t.status]} · hạn {fb.deadline_text(t)}{late}")
    lines.append("\nGõ số phản ánh để xem lại phiếu; /traloi <số> <nội dung> để trả lời.")
    return _respond("\n".join(lines), outcome="ticket_list")


async def _officials_ticket(ctx: Context, number: str) -> Response:
    """An official sending a ticket number in their chat gets its card again (reply to it)."""
    if ctx.session is None:
        return _respond(_unavailable() + " ạ.", outcome="ticket_card")
    ticket = (await ctx.session.exec(select(Ticket).where(Ticket.number == number))).first()
    if ticket is None:
        return _respond(f"Không có phản ánh số {number}.", outcome="ticket_card")
    return Response([fb.officials_card(ticket)], "ticket_card")


# --- satisfaction ------------------------------------------------------------------------


def _survey_question(ctx: Context, faq_id: str | None) -> Response:
    entry = ctx.content.pack.entries.get(faq_id) if faq_id else None
    about = f"thủ tục **{entry.title.rstrip('?')}**" if entry else "việc giải quyết thủ tục hành chính"
    text = (f"Dạ, Anh/Chị hài lòng thế nào về {about} tại {ctx.settings.office.name}? "
            "Anh/Chị chọn một mức dưới đây ạ.")
    suffix = f"s:{entry.id}" if entry else "s"
    return Response([Reply(text, (*fb.satisfaction_buttons(suffix), (MENU,)))], "survey")


@router.command("danhgia", "khaosat")
async def survey(ctx: Context, message: Incoming, route: Route) -> Response:
    """/danhgia [faq-id]: the survey campaign's question, optionally about one procedure."""
    return _survey_question(ctx, route.args[0].lower() if route.args else None)


@router.payload("hl")
async def rate(ctx: Context, message: Incoming, route: Route) -> Response:
    """hl:start, hl:<level>:t:<ticket-id>, hl:<level>:s[:<faq-id>], hl:skip."""
    args = route.args
    if not args or args[0] == "start":
        return _survey_question(ctx, args[1] if len(args) > 1 else None)
    if args[0] == "skip":
        _leave_rating(ctx)
        return _respond("Dạ, em cảm ơn Anh/Chị đã đánh giá ạ.", (MENU,), outcome="rating_done")
    if row_id(args[0]) not in fb.LEVELS or len(args) < 2:
        return _respond("Dạ, nút bấm này không còn dùng được ạ.", (MENU,), outcome="stale")
    if ctx.session is None:
        return _respond(f"{_unavailable()} ạ.", (MENU,), outcome="rating")
    level = int(args[0])
    try:
        row = await _save_rating(ctx, level, args[1:])
    except SQLAlchemyError:
        await lose_session(ctx, "could not record a satisfaction response")
        return _respond(f"{_unavailable()} ạ.", (MENU,), outcome="rating")
    if row is None:
        return _respond("Dạ, nút bấm này không còn dùng được ạ.", (MENU,), outcome="stale")
    _leave(ctx)
    ctx.state["flow"] = RATING_FLOW
    ctx.state["rating"] = {"id": row.id, "at": time.time()}
    if level in fb.SATISFIED:
        text = ("Dạ, em cảm ơn Anh/Chị đã đánh giá. Anh/Chị có góp ý gì thêm không ạ? "
                "Gõ góp ý vào đây, hoặc bấm **Bỏ qua**.")
    elif level == 3:
        text = ("Dạ, em cảm ơn Anh/Chị. Anh/Chị có góp ý gì để cán bộ phục vụ tốt hơn không ạ? "
                "Gõ góp ý vào đây, hoặc bấm **Bỏ qua**.")
    else:
        text = ("Dạ, em rất tiếc vì Anh/Chị chưa hài lòng. Anh/Chị cho biết điều gì chưa tốt để "
                "cán bộ cải thiện ạ (gõ vào đây), hoặc bấm **Bỏ qua**.")
    return _respond(text, (Button("Bỏ qua", payload="hl:skip"),), outcome="rating")


async def _save_rating(ctx: Context, level: int, ref: tuple[str, ...]) -> SatisfactionResponse | None:
    assert ctx.session is not None
    now = utcnow()
    if ref[0] == "t":
        ticket_id = row_id(ref[1]) if len(ref) > 1 else None
        ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id is not None else None
        if ticket is None or ticket.user_key != ctx.user_key or ticket.answered_at is None:
            return None
        row = (await ctx.session.exec(select(SatisfactionResponse).where(
            SatisfactionResponse.ticket_id == ticket.id))).first()
        if row is None:
            row = SatisfactionResponse(channel=ctx.channel, user_key=ctx.user_key, level=level,
                                       source="ticket", ticket_id=ticket.id)
        row.level, row.created_at = level, now
    elif ref[0] == "s":
        faq_id = ref[1] if len(ref) > 1 and ref[1] in ctx.content.pack.entries else None
        previous = ctx.state.get("rating") if ctx.state.get("flow") == RATING_FLOW else None
        row = None
        if isinstance(previous, dict) and isinstance(previous.get("id"), int):
            row = await ctx.session.get(SatisfactionResponse, previous["id"])
            if row is not None and (row.user_key != ctx.user_key or row.source != "survey"
                                    or row.faq_id != faq_id):
                row = None
        if row is None:  # a change of mind just after answering updates the same response
            campaign = SURVEY_CAMPAIGN if SURVEY_CAMPAIGN in ctx.content.pack.campaigns else None
            row = SatisfactionResponse(channel=ctx.channel, user_key=ctx.user_key, level=level,
                                       source="survey", faq_id=faq_id, campaign_id=campaign)
        row.level, row.created_at = level, now
    else:
        return None
    ctx.session.add(row)
    await ctx.session.flush()
    return row


def _leave_rating(ctx: Context) -> None:
    if ctx.state.get("flow") == RATING_FLOW:
        ctx.state.pop("flow")
    ctx.state.pop("rating", None)


@router.flow(RATING_FLOW)
async def rating_comment(ctx: Context, message: Incoming, route: Route) -> Response | None:
    """The optional comment after a rating."""
    rating = ctx.state.get("rating")
    text = message.text.strip()
    _leave_rating(ctx)
    expired = not isinstance(rating, dict) or time.time() - float(rating.get("at", 0)) > RATING_TTL
    if expired or text.endswith("?"):  # a new question, not a comment on the rating
        return None
    if not text or vtext.strip_key(text) in CANCEL_WORDS | {"khong", "ko", "k", "bo qua"}:
        return _respond("Dạ, em cảm ơn Anh/Chị đã đánh giá ạ.", (MENU,), outcome="rating_done")
    if ctx.session is not None:
        try:
            row = await ctx.session.get(SatisfactionResponse, rating.get("id"))
            if row is not None and row.user_key == ctx.user_key:
                row.comment = text[:2000]
                ctx.session.add(row)
                await ctx.session.flush()
        except SQLAlchemyError:
            await lose_session(ctx, "could not record a satisfaction comment")
    text = "Dạ, em đã ghi nhận góp ý của Anh/Chị. Em cảm ơn Anh/Chị ạ."
    return _respond(text, (MENU,), outcome="rating_done")

