"""Lookups in conversation: fees and how to pay, dossier status by code, link or receipt photo.

- Fee questions ("phí khai sinh", "/phi ket hon") are answered from the entries' structured fees;
  every other free-text question goes on to the FAQ (``handlers.faq.question``).
- A dossier code however typed, the receipt's QR link, or a photo of the receipt shows the
  dossier's status from the imported list: the applicant's name masked, never the phone. Where
  configured, the last 4 digits of the applicant's phone are asked first (flow
  ``dossier_last4``). Lookups are rate-limited per user; a phone number is never needed.
- "Báo cho tôi khi có kết quả" records a watch; ``bot.lookups.notices`` sends the message.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import time
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import text as vtext
from bot.content.model import FaqEntry
from bot.lookups import dossiers, fees, qr
from bot.matching import Candidate
from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Dispatcher, Route, Router
from bot.storage.models import Dossier, DossierWatch, QuestionLog
from handlers import faq
from handlers.common import MENU, label

log = logging.getLogger(__name__)
router = Router("lookup")

PUSH_CHANNELS = {"telegram": "Telegram", "zalo": "Zalo", "messenger": "Messenger"}  # channels that can message first
FLOW = "dossier_last4"
VERIFIED_FOR = 24 * 3600  # seconds a confirmed "last 4 digits" stays valid in a conversation
_dispatcher: Dispatcher | None = None


def _redispatcher() -> Dispatcher:
    """The bot's dispatcher, for a message that leaves the last-4-digits step."""
    global _dispatcher
    if _dispatcher is None:
        from handlers import build_dispatcher

        _dispatcher = build_dispatcher()
    return _dispatcher


def _candidates(candidates: tuple[Candidate, ...]) -> list[dict]:
    return [{"id": c.id, "title": c.title, "score": c.score} for c in candidates]


# --- fees -----------------------------------------------------------------------------------


async def _log_question(ctx: Context, message: Incoming, outcome: str, faq_id: str | None,
                        candidates: tuple[Candidate, ...]) -> None:
    """Fee questions are questions: logged like the FAQ's (a failure costs the log, not the reply)."""
    if ctx.session is None:
        return
    best = candidates[0] if candidates else None
    try:
        ctx.session.add(QuestionLog(
            channel=ctx.channel, user_key=ctx.user_key, text=vtext.normalize(message.text)[:2000],
            outcome=outcome, faq_id=faq_id, score=best.score if best else None,
            candidates=[c.id for c in candidates], latency_ms=round(ctx.elapsed_ms(), 3),
        ))
        await ctx.session.flush()
    except SQLAlchemyError:
        log.exception("could not record a fee question")
        await ctx.session.rollback()
        ctx.session = None


def fee_response(ctx: Context, entry: FaqEntry, candidates: tuple[Candidate, ...] = ()) -> Response:
    office = ctx.settings.office
    text = fees.fee_text(entry, ctx.office, office.hotline, office.province_portal)
    rows: list[tuple[Button, ...]] = []
    pack = ctx.content.pack
    assert entry.procedure is not None
    if fees.PAYMENT_ENTRY in pack.entries and any(f.amount > 0 for f in entry.procedure.fees):
        rows.append((Button("💳 Cách thanh toán trực tuyến", payload=f"faq:{fees.PAYMENT_ENTRY}"),))
    rows.append((Button(label(f"📄 Hướng dẫn: {entry.title}"), payload=f"faq:{entry.id}"),))
    rows.append((MENU,))
    return Response([Reply(text, tuple(rows))], "fee", faq_id=entry.id,
                    score=candidates[0].score if candidates else None,
                    candidates=_candidates(candidates))


def fee_choices(candidates: tuple[Candidate, ...]) -> Response:
    rows = [(Button(label(c.title), payload=f"fee:{c.id}"),) for c in candidates]
    rows.append((MENU,))
    text = "Dạ, Anh/Chị muốn hỏi phí, lệ phí của thủ tục nào ạ?"
    return Response([Reply(text, tuple(rows))], "fee_clarify", candidates=_candidates(candidates))


async def _answer_fee(ctx: Context, message: Incoming, decision: fees.FeeDecision) -> Response:
    await _log_question(ctx, message, decision.outcome, decision.entry_id, decision.candidates)
    if decision.entry_id is not None:
        return fee_response(ctx, ctx.content.pack.entries[decision.entry_id], decision.candidates)
    return fee_choices(decision.candidates)


@router.command("phi", "lephi")
async def fee_command(ctx: Context, message: Incoming, route: Route) -> Response:
    """/phi <thủ tục>: the fees of one procedure."""
    query = " ".join(route.args)
    decision = fees.find_procedure(ctx.content, query) if query.strip() else None
    if decision is not None:
        return await _answer_fee(ctx, message, decision)
    example = "Ví dụ: /phi khai sinh, /phi chứng thực, /phi tạm trú."
    if query.strip():
        text = f"Dạ, em chưa tìm thấy mức phí cho \"{query.strip()[:60]}\". {example}"
    else:
        text = f"Dạ, Anh/Chị gõ /phi kèm tên thủ tục để xem phí, lệ phí. {example}"
    return Response([Reply(text, ((MENU,),))], "fee_help")


@router.payload("fee")
async def fee_payload(ctx: Context, message: Incoming, route: Route) -> Response:
    entry = ctx.content.pack.entries.get(route.args[0]) if route.args else None
    if entry is None or not fees.has_fees(entry):
        text = ("Dạ, nội dung này vừa được cập nhật nên nút bấm cũ không còn dùng được. "
                "Anh/Chị vui lòng gõ lại câu hỏi ạ.")
        return Response([Reply(text, ((MENU,),))], "stale")
    return fee_response(ctx, entry)


@router.text()
async def text_message(ctx: Context, message: Incoming, route: Route) -> Response:
    """Free text: a loosely typed dossier code, a fee question, or else an FAQ question."""
    guesses = dossiers.code_message(message.text, ctx.settings.lookup.qr_url_params)
    if guesses:
        return await lookup_codes(ctx, guesses)
    decision = fees.decide(ctx.content, message.text)
    if decision is not None:
        return await _answer_fee(ctx, message, decision)
    return await faq.question(ctx, message, route)


# --- dossiers: replies ----------------------------------------------------------------------


def _portal_button(ctx: Context) -> Button:
    return Button("🔎 Tra cứu trên Cổng Dịch vụ công", url=ctx.settings.lookup.portal_lookup_url)


def _verified(ctx: Context, key: str) -> bool:
    stamp = ctx.state.get("verified", {}).get(key)
    return isinstance(stamp, int | float) and time.time() - stamp < VERIFIED_FOR


def _mark_verified(ctx: Context, key: str) -> None:
    now = time.time()
    verified = {k: v for k, v in ctx.state.get("verified", {}).items() if now - v < VERIFIED_FOR}
    verified[key] = int(now)
    ctx.state["verified"] = dict(sorted(verified.items(), key=lambda kv: kv[1])[-5:])


def _clear_flow(ctx: Context) -> None:
    if ctx.state.get("flow") == FLOW:
        ctx.state.pop("flow", None)
    ctx.state.pop("dossier", None)
    ctx.state.pop("dossier_tries", None)


def status_response(ctx: Context, dossier: Dossier) -> Response:
    """What a citizen sees: procedure, dates, status in plain words, where to collect."""
    settings = ctx.settings
    aliases = settings.lookup.status_aliases
    kind = dossiers.status_kind(dossier.status, aliases)
    today = dossiers.today_vn()
    late = dossiers.overdue_days(dossier, aliases, today)
    lines = [f"Dạ, thông tin hồ sơ **{dossiers.literal(dossier.display_code)}**:",
             f"- Thủ tục: {dossiers.literal(dossier.procedure)}"]
    if dossier.applicant_name:
        lines.append(f"- Người nộp: {dossiers.literal(dossiers.mask_name(dossier.applicant_name))}")
    lines.append(f"- Ngày tiếp nhận: {dossier.received_on:%d/%m/%Y}")
    if dossier.due_on is not None:
        due = f"- Ngày hẹn trả: {dossier.due_on:%d/%m/%Y}"
        if late:
            due += f" (**đã quá hẹn {late} ngày**)"
        elif kind not in dossiers.DONE and dossier.due_on == today:
            due += " (hôm nay)"
        lines.append(due)
    lines.append(f"- Tình trạng: **{dossiers.literal(dossiers.plain_status(dossier.status, aliases))}**")
    lines.append(f"- Nơi nhận kết quả: {dossiers.literal(dossier.result_place or settings.office.address)}")
    if kind in dossiers.NEXT_STEP:
        lines.append("")
        lines.append(dossiers.NEXT_STEP[kind])
    if late:
        lines.append("")
        lines.append("Hồ sơ trễ hẹn thì cơ quan phải có văn bản xin lỗi và hẹn lại ngày trả. "
                     f"Anh/Chị có thể gọi {settings.office.hotline} để được giải thích.")
    stamp = dossier.updated_at
    updated = (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).astimezone(dossiers.VN_TZ)
    lines.append("")
    lines.append(f"_Theo dữ liệu của Bộ phận Một cửa cập nhật lúc {updated:%H:%M ngày %d/%m/%Y}._")
    rows: list[tuple[Button, ...]] = []
    if (kind not in dossiers.DONE and ctx.channel in PUSH_CHANNELS and ctx.session is not None
            and ctx.channel_user_id is not None):
        rows.append((Button("🔔 Báo cho tôi khi có kết quả", payload=f"dw:{dossier.code}"),))
    if late and "tra-cuu-ho-so-qua-han" in ctx.content.pack.entries:
        rows.append((Button("Hồ sơ trễ hẹn: làm gì?", payload="faq:tra-cuu-ho-so-qua-han"),))
    rows.append((MENU,))
    return Response([Reply("\n".join(lines), tuple(rows))], "dossier", faq_id=dossier.code)


def unknown_response(ctx: Context, guess: dossiers.CodeGuess) -> Response:
    office = ctx.settings.office
    text = (
        f"Dạ, em chưa tìm thấy hồ sơ mã **{dossiers.literal(guess.display)}** trong danh sách hồ sơ của {office.name}.\n"
        "- Anh/Chị kiểm tra lại mã in trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả;\n"
        "- Hồ sơ nộp trực tuyến hoặc ở cơ quan khác: tra cứu trên Cổng Dịch vụ công "
        f"({ctx.settings.lookup.portal_lookup_url}), mục Tra cứu hồ sơ.\n\n"
        f"Cần hỗ trợ, Anh/Chị gọi {office.hotline} trong giờ hành chính ạ."
    )
    rows: list[tuple[Button, ...]] = [(_portal_button(ctx),)]
    if "tra-cuu-ho-so" in ctx.content.pack.entries:
        rows.append((Button("Hướng dẫn tra cứu hồ sơ", payload="faq:tra-cuu-ho-so"),))
    rows.append((MENU,))
    return Response([Reply(text, tuple(rows))], "dossier_code", faq_id=guess.key)


def unavailable_response(ctx: Context) -> Response:
    text = (
        "Dạ, hiện em chưa tra cứu được hồ sơ. Anh/Chị tra cứu trên Cổng Dịch vụ công "
        f"({ctx.settings.lookup.portal_lookup_url}), mục Tra cứu hồ sơ, hoặc gọi "
        f"{ctx.settings.office.hotline} ạ."
    )
    return Response([Reply(text, ((_portal_button(ctx),), (MENU,)))], "dossier_code")


def rate_limited_response(ctx: Context, minutes: int) -> Response:
    text = (
        "Dạ, Anh/Chị đã tra cứu nhiều lần trong thời gian ngắn. Để bảo vệ thông tin hồ sơ của "
        f"người dân, Anh/Chị vui lòng thử lại sau khoảng {minutes} phút, hoặc gọi "
        f"{ctx.settings.office.hotline} ạ."
    )
    return Response([Reply(text, ((MENU,),))], "rate_limited")


def ask_last4_response(ctx: Context, dossier: Dossier) -> Response:
    text = (
        f"Dạ, em đã tìm thấy hồ sơ **{dossiers.literal(dossier.display_code)}**. Để bảo vệ thông tin cá nhân, "
        "Anh/Chị vui lòng nhắn **4 số cuối** của số điện thoại đã ghi khi nộp hồ sơ ạ."
    )
    return Response([Reply(text, ((MENU,),))], "dossier_verify", faq_id=dossier.code)


# --- dossiers: lookups ----------------------------------------------------------------------


def _store_exists(ctx: Context) -> bool:
    """``cchc-bot ask`` reads the dossier list only when a database is there (never creates one)."""
    if ctx.database is None:
        return False
    url = make_url(ctx.database.url)
    if url.get_backend_name() == "sqlite":
        return bool(url.database) and url.database != ":memory:" and Path(url.database).exists()
    return True


async def lookup_codes(ctx: Context, guesses: list[dossiers.CodeGuess]) -> Response:
    """Find the first of ``guesses`` in the dossier list and answer with its status."""
    if ctx.session is not None:
        try:
            return await _lookup(ctx, ctx.session, guesses, recording=True)
        except SQLAlchemyError:
            log.exception("dossier lookup failed")
            await ctx.session.rollback()
            ctx.session = None
            return unavailable_response(ctx)
    if not _store_exists(ctx):
        return unknown_response(ctx, guesses[0])
    assert ctx.database is not None
    try:
        async with ctx.database.session() as session:
            return await _lookup(ctx, session, guesses, recording=False)
    except SQLAlchemyError:
        log.exception("dossier lookup failed")
        return unavailable_response(ctx)


async def _lookup(ctx: Context, session: AsyncSession, guesses: list[dossiers.CodeGuess],
                  recording: bool) -> Response:
    settings = ctx.settings.lookup
    if recording:
        wait = await dossiers.rate_limited(session, ctx.user_key, settings)
        if wait:
            return rate_limited_response(ctx, wait)
    found: tuple[dossiers.CodeGuess, Dossier] | None = None
    for guess in guesses[:3]:
        dossier = await dossiers.get_dossier(session, guess.key)
        if dossier is not None:
            found = (guess, dossier)
            break
    if recording:
        await dossiers.record_attempt(session, ctx.user_key, "code", found is not None)
    if found is None:
        return unknown_response(ctx, guesses[0])
    guess, dossier = found
    _clear_flow(ctx)
    if not settings.require_phone_last4 or not dossier.phone or _verified(ctx, dossier.code):
        return status_response(ctx, dossier)
    if recording and ctx.channel_user_id is not None and await _watching(session, ctx, dossier.code):
        return status_response(ctx, dossier)  # confirmed when the watch was set up
    if guess.last4 is not None:
        return await _check_last4(ctx, session, dossier, guess.last4, recording)
    if recording:
        ctx.state.update({"flow": FLOW, "dossier": dossier.code, "dossier_tries": 0})
    return ask_last4_response(ctx, dossier)


async def _watching(session: AsyncSession, ctx: Context, key: str) -> bool:
    row = (await session.exec(select(DossierWatch.id).where(
        DossierWatch.channel_user_id == ctx.channel_user_id, DossierWatch.dossier_code == key))).first()
    return row is not None


async def _check_last4(ctx: Context, session: AsyncSession, dossier: Dossier, digits: str,
                       recording: bool) -> Response:
    assert dossier.phone is not None
    if hmac.compare_digest(dossier.phone[-4:], digits):
        _clear_flow(ctx)
        if recording:
            _mark_verified(ctx, dossier.code)
        return status_response(ctx, dossier)
    if not recording:
        return Response([Reply("Dạ, 4 số cuối chưa khớp với số điện thoại đã ghi trên hồ sơ ạ.",
                               ((MENU,),))], "dossier_verify", faq_id=dossier.code)
    await dossiers.record_attempt(session, ctx.user_key, "phone", False)
    tries = int(ctx.state.get("dossier_tries", 0)) + 1
    left = ctx.settings.lookup.phone_attempts - tries
    if left <= 0:
        _clear_flow(ctx)
        text = (
            "Dạ, 4 số cuối vẫn chưa khớp nên em chưa thể cho xem hồ sơ này. Anh/Chị mang Giấy tiếp "
            "nhận hồ sơ và hẹn trả kết quả đến Bộ phận Một cửa, hoặc gọi "
            f"{ctx.settings.office.hotline} để được hỗ trợ ạ."
        )
        return Response([Reply(text, ((MENU,),))], "dossier_denied", faq_id=dossier.code)
    ctx.state.update({"flow": FLOW, "dossier": dossier.code, "dossier_tries": tries})
    text = (f"Dạ, 4 số cuối chưa khớp với số điện thoại đã ghi trên hồ sơ. Anh/Chị kiểm tra và "
            f"nhắn lại giúp em (còn {left} lần) ạ.")
    return Response([Reply(text, ((MENU,),))], "dossier_verify", faq_id=dossier.code)


@router.intent("dossier_code")
async def dossier_code(ctx: Context, message: Incoming, route: Route) -> Response:
    guesses = dossiers.find_codes(message.text, ctx.settings.lookup.qr_url_params)
    if not guesses and route.intent is not None:
        value = route.intent.value
        guesses = [dossiers.CodeGuess(value, dossiers.canonical(value))]
    return await lookup_codes(ctx, guesses)


@router.flow(FLOW)
async def last4_step(ctx: Context, message: Incoming, route: Route) -> Response:
    """The answer to "4 số cuối": digits are checked; anything else leaves the step."""
    text = message.text.strip()
    digits = re.sub(r"\D", "", text)
    key = ctx.state.get("dossier")
    is_digits = bool(text) and re.fullmatch(r"[\d\s.\-+]+", text) is not None
    if key and is_digits and (len(digits) == 4 or dossiers.normalize_phone(digits)):
        if ctx.session is None:
            return unavailable_response(ctx)
        try:
            wait = await dossiers.rate_limited(ctx.session, ctx.user_key, ctx.settings.lookup)
            if wait:
                _clear_flow(ctx)
                return rate_limited_response(ctx, wait)
            dossier = await dossiers.get_dossier(ctx.session, key)
            if dossier is None or not dossier.phone:
                _clear_flow(ctx)
                return unknown_response(ctx, dossiers.CodeGuess(key, key))
            return await _check_last4(ctx, ctx.session, dossier, digits[-4:], recording=True)
        except SQLAlchemyError:
            log.exception("dossier check failed")
            await ctx.session.rollback()
            ctx.session = None
            return unavailable_response(ctx)
    _clear_flow(ctx)
    return await _redispatcher().dispatch(ctx, message)


@router.intent("attachment")
async def photo(ctx: Context, message: Incoming, route: Route) -> Response:
    """A photo of the receipt (or a screenshot): its QR code holds the code or a lookup link."""
    images = [a for a in message.attachments if a.kind in ("image", "file")]
    if not images:
        return await _redispatcher().dispatch(ctx, Incoming(
            message.channel, message.user_id, text=message.text, language=message.language,
            chat_id=message.chat_id))
    try:
        texts = await qr.attachment_texts(images[0], ctx.settings)
    except qr.ImageError as exc:
        text = (f"Dạ, em chưa mở được ảnh này ({exc}). Anh/Chị gửi lại ảnh chụp Giấy tiếp nhận "
                "hồ sơ, hoặc gõ mã hồ sơ in trên giấy ạ.")
        return Response([Reply(text, ((MENU,),))], "qr_unreadable")
    if not texts:
        text = (
            "Dạ, em chưa đọc được mã QR trong ảnh. Anh/Chị chụp lại gần hơn, để giấy phẳng, đủ "
            "sáng và mã QR nằm trọn trong ảnh; hoặc gõ mã hồ sơ in trên Giấy tiếp nhận ạ."
        )
        return Response([Reply(text, ((MENU,),))], "qr_unreadable")
    guesses = [g for t in texts for g in dossiers.find_codes(t, ctx.settings.lookup.qr_url_params)]
    if not guesses:
        text = (
            "Dạ, mã QR trong ảnh không chứa mã hồ sơ. Mã QR tra cứu hồ sơ in trên Giấy tiếp nhận "
            "hồ sơ và hẹn trả kết quả; Anh/Chị không mở đường link lạ đòi chuyển tiền hay nhập mã OTP ạ."
        )
        return Response([Reply(text, ((MENU,),))], "qr_other")
    return await lookup_codes(ctx, guesses)


@router.payload("ds")
async def show_dossier(ctx: Context, message: Incoming, route: Route) -> Response:
    """"Xem chi tiết hồ sơ" under a status-change message."""
    key = dossiers.canonical(route.args[0]) if route.args else ""
    if not key:
        return Response([Reply("Dạ, nút bấm này không còn dùng được ạ.", ((MENU,),))], "stale")
    return await lookup_codes(ctx, [dossiers.CodeGuess(key, key)])


@router.payload("dw")
async def watch(ctx: Context, message: Incoming, route: Route) -> Response:
    """"Báo cho tôi khi có kết quả": one message per status change, until the result is out."""
    key = dossiers.canonical(route.args[0]) if route.args else ""
    channel_name = PUSH_CHANNELS.get(ctx.channel)
    if channel_name is None or ctx.session is None or ctx.channel_user_id is None or not key:
        text = ("Dạ, hiện em chưa nhắn tin báo được qua kênh này. Anh/Chị gửi lại mã hồ sơ để "
                "tra cứu bất cứ lúc nào ạ.")
        return Response([Reply(text, ((MENU,),))], "dossier_watch")
    session = ctx.session
    try:
        dossier = await dossiers.get_dossier(session, key)
        if dossier is None:
            return unknown_response(ctx, dossiers.CodeGuess(key, key))
        settings = ctx.settings.lookup
        if (settings.require_phone_last4 and dossier.phone and not _verified(ctx, key)
                and not await _watching(session, ctx, key)):
            return await lookup_codes(ctx, [dossiers.CodeGuess(key, key)])
        if dossiers.status_kind(dossier.status, settings.status_aliases) in dossiers.DONE:
            return status_response(ctx, dossier)
        row = (await session.exec(select(DossierWatch).where(
            DossierWatch.channel_user_id == ctx.channel_user_id, DossierWatch.dossier_code == key))).first()
        if row is None:
            row = DossierWatch(channel_user_id=ctx.channel_user_id, dossier_code=key,
                               last_notified_status=dossier.status)
        elif row.closed_at is not None:
            row.closed_at, row.last_notified_status = None, dossier.status
        session.add(row)
        await session.flush()
    except IntegrityError:  # the same button pressed twice at once: the first press counts
        await session.rollback()
        ctx.session = None
    except SQLAlchemyError:
        log.exception("could not record a dossier watch")
        await session.rollback()
        ctx.session = None
        return unavailable_response(ctx)
    text = (
        f"Dạ, em đã ghi nhận. Khi tình trạng hồ sơ **{dossiers.literal(dossier.display_code)}** thay đổi, em sẽ nhắn "
        f"Anh/Chị qua {channel_name} ạ. Em chỉ lưu mã hồ sơ và tài khoản {channel_name} của "
        "Anh/Chị để báo tin; Anh/Chị có thể hủy bất cứ lúc nào."
    )
    rows = ((Button("🔕 Hủy theo dõi hồ sơ này", payload=f"du:{key}"),), (MENU,))
    return Response([Reply(text, rows)], "dossier_watch", faq_id=key)


@router.payload("du")
async def unwatch(ctx: Context, message: Incoming, route: Route) -> Response:
    key = dossiers.canonical(route.args[0]) if route.args else ""
    if ctx.session is not None and ctx.channel_user_id is not None and key:
        try:
            rows = await ctx.session.exec(select(DossierWatch).where(
                DossierWatch.channel_user_id == ctx.channel_user_id, DossierWatch.dossier_code == key))
            for row in rows:
                await ctx.session.delete(row)
            await ctx.session.flush()
        except SQLAlchemyError:
            log.exception("could not delete a dossier watch")
            await ctx.session.rollback()
            ctx.session = None
            return unavailable_response(ctx)
    text = "Dạ, em đã hủy theo dõi hồ sơ này. Anh/Chị vẫn có thể gửi mã hồ sơ để tra cứu bất cứ lúc nào ạ."
    return Response([Reply(text, ((MENU,),))], "dossier_unwatch", faq_id=key or None)


@router.intent("phone")
async def phone(ctx: Context, message: Incoming, route: Route) -> Response:
    text = (
        "Dạ, để bảo vệ thông tin cá nhân, Anh/Chị không cần gửi số điện thoại cho em. "
        "Anh/Chị cứ gõ câu hỏi, ví dụ: _tra cứu hồ sơ_ hoặc _lệ phí chứng thực_, hoặc gửi "
        "mã hồ sơ in trên giấy hẹn ạ."
    )
    return Response([Reply(text, ((MENU,),))], "phone")
