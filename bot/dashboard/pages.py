"""The dashboard's pages. Each is declared with ``@page`` (see ``bot.dashboard.web``), which
checks the login, the CSRF token of every POST and the official's role before it runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections import defaultdict
from typing import Any

from aiohttp import web
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot.channels import telegram_render, zalo_render
from bot.content import review, revisions
from bot.content.loader import TIMEZONE
from bot.dashboard import auth, editor, reports
from bot.dashboard.web import (
    ADMINS,
    ALL,
    EDITORS,
    OFFICIALS,
    Route,
    audit,
    bot_of,
    me,
    pages_of,
    refuse,
    render,
)
from bot.messages import Incoming
from bot.phones import format_phone
from bot.render import to_plain
from bot.storage.models import (
    WAITING_BROADCAST,
    AdminUser,
    Broadcast,
    QuestionLog,
    Ticket,
    TicketMessage,
    open_ticket,
    utcnow,
    waiting_broadcast,
)
from bot.webchat import reply_json
from handlers.announcements import service as broadcasts
from handlers.announcements.campaigns import next_fire_times

log = logging.getLogger(__name__)
ROUTES: list[Route] = []  # the pages below, for the server to register
page = pages_of(ROUTES)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "messenger": "Messenger", "web": "Trang web", "console": "Dòng lệnh"}


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw or default)))
    except ValueError:
        return default


async def _form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


# --- overview ------------------------------------------------------------------------------


@page("GET", "/admin")
async def home(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    now = utcnow()
    today = now.astimezone(TIMEZONE).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    figures: dict[str, Any] = {}
    try:
        async with bot.database.session() as session:
            by_outcome = dict((await session.exec(
                select(QuestionLog.outcome, func.count()).where(QuestionLog.created_at >= today)
                .group_by(QuestionLog.outcome))).all())
            figures["questions_today"] = sum(by_outcome.values())
            figures["not_sure_today"] = by_outcome.get("not_sure", 0)
            figures["not_sure_week"] = (await session.exec(
                select(func.count()).select_from(QuestionLog).where(
                    QuestionLog.outcome == "not_sure",
                    QuestionLog.created_at >= now - dt.timedelta(days=7)))).one()
            figures["open_tickets"] = (await session.exec(
                select(func.count()).select_from(Ticket).where(open_ticket()))).one()
            figures["overdue_tickets"] = (await session.exec(
                select(func.count()).select_from(Ticket).where(
                    open_ticket(), Ticket.deadline < now))).one()
            figures["waiting_broadcasts"] = (await session.exec(
                select(func.count()).select_from(Broadcast).where(waiting_broadcast()))).one()
    except SQLAlchemyError:
        log.exception("dashboard: overview figures")
        figures = {}
    problems = bot.content.last_problems
    pack = bot.content.current.pack
    return render(request, "home.html", figures=figures, entries=len(pack.entries),
                  loaded_at=pack.loaded_at, errors=sum(1 for p in problems if not p.warning),
                  warnings=sum(1 for p in problems if p.warning))


# --- broadcasts ------------------------------------------------------------------------------


def _topics(bot: Any) -> list:
    return list(bot.content.current.pack.topics)


@page("GET", "/admin/broadcasts", OFFICIALS)
async def broadcast_list(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    async with bot.database.session() as session:
        items = await broadcasts.recent(session, 30)
        sender = await broadcasts.lease_holder(session, "sender")
    titles = {t.id: t.title for t in _topics(bot)}
    return render(request, "broadcasts.html", items=items, titles=titles, labels=broadcasts.STATUS_LABELS,
                  sender=sender)


def _draft_from(form: dict[str, str], bot: Any) -> dict[str, Any]:
    channels = [c for c in broadcasts.PUSH_CHANNELS if form.get(f"channel_{c}")]
    return {
        "topic": form.get("topic", ""),
        "body": form.get("body", "").replace("\r\n", "\n").strip(),
        "channels": channels,
        "when": "at" if form.get("when") == "at" else "now",
        "send_at": form.get("send_at", ""),
        "urgent": bool(form.get("urgent")),
    }


def _fingerprint(draft: dict[str, Any]) -> str:
    raw = "\x00".join([draft["topic"], draft["body"], ",".join(draft["channels"]), draft["when"],
                       draft["send_at"] if draft["when"] == "at" else "", str(draft["urgent"])])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


async def _no_store(payload: str) -> str | None:
    return None  # a preview stores nothing; long payloads are not used by announcements


async def preview_of(bot: Any, draft: dict[str, Any]) -> dict[str, Any]:
    """The announcement exactly as each channel will show it (the sender sends this very text)."""
    topic = next((t for t in _topics(bot) if t.id == draft["topic"]), None)
    if topic is None:
        raise broadcasts.BroadcastError("Anh/Chị chọn chủ đề của thông báo")
    chosen = broadcasts.check_channels(draft["channels"])
    office = bot.settings.office.template_values()
    text = broadcasts.announcement_text(topic.title, draft["body"], office)
    broadcasts.check_text(text, chosen)
    reply = broadcasts.announcement_reply(text, office)
    send_at = None
    if draft["when"] == "at":
        if not draft["send_at"]:
            raise broadcasts.BroadcastError("Anh/Chị chọn thời điểm gửi")
        send_at = broadcasts.parse_local_time(draft["send_at"].replace("T", " "))
        if send_at < utcnow() - dt.timedelta(minutes=5):
            raise broadcasts.BroadcastError("thời điểm gửi đã qua")
    telegram = [m.html for m in await telegram_render.render(reply, _no_store)]
    zalo = zalo_render.render([reply], zalo_render.PayloadCodec("preview")).messages
    cfg = bot.settings.broadcast
    held = broadcasts.quiet_until(send_at or utcnow(), cfg.quiet_start, cfg.quiet_end)
    return {
        "topic": topic, "text": text, "send_at": send_at, "channels": chosen,
        "telegram": telegram,
        "zalo": [{"text": m.get("text", ""), "buttons": [b["title"] for b in
                  m.get("attachment", {}).get("payload", {}).get("buttons", [])]} for m in zalo],
        "web": reply_json(reply),
        "plain_length": len(to_plain(text)),
        "quiet_until": None if draft["urgent"] else held,
    }


def _compose(request: web.Request, draft: dict[str, Any], **values: Any) -> web.Response:
    bot = bot_of(request)
    values.setdefault("preview", None)
    values.setdefault("error", "")
    values.setdefault("audience", {})
    return render(request, "broadcast_new.html", status=values.pop("status", 200), draft=draft,
                  topics=_topics(bot), push_channels=broadcasts.PUSH_CHANNELS, names=CHANNEL_NAMES,
                  fingerprint=_fingerprint(draft), **values)


@page("GET", "/admin/broadcasts/new", OFFICIALS)
async def broadcast_new(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    topics = _topics(bot)
    default = next((t.id for t in topics if t.default), topics[0].id if topics else "")
    draft = {"topic": request.query.get("topic", default), "body": "", "channels": list(broadcasts.PUSH_CHANNELS),
             "when": "now", "send_at": "", "urgent": False}
    return _compose(request, draft)


@page("POST", "/admin/broadcasts/new", OFFICIALS)
async def broadcast_submit(request: web.Request) -> web.StreamResponse:
    """``action=preview`` shows the announcement on every channel; ``action=confirm`` records it,
    only if the text is exactly the one previewed."""
    bot = bot_of(request)
    form = await _form(request)
    draft = _draft_from(form, bot)
    try:
        preview = await preview_of(bot, draft)
    except broadcasts.BroadcastError as exc:
        return _compose(request, draft, error=f"Dạ, {exc}.", status=422)
    async with bot.database.session() as session:
        audience = await broadcasts.audience(session, draft["topic"], preview["channels"])
        if form.get("action") != "confirm":
            return _compose(request, draft, preview=preview, audience=audience)
        if form.get("previewed") != _fingerprint(draft):
            return _compose(request, draft, preview=preview, audience=audience, status=409,
                            error="Dạ, nội dung đã thay đổi sau lần xem trước. Anh/Chị xem lại bản xem "
                                  "trước dưới đây rồi bấm Xác nhận ạ.")
        try:
            row = await broadcasts.create_broadcast(
                session, author=f"dashboard:{me(request).username}", topic=draft["topic"], body=draft["body"],
                channels=preview["channels"], send_at=preview["send_at"], urgent=draft["urgent"],
                title=preview["topic"].title, office=bot.settings.office.template_values())
            await session.commit()
        except broadcasts.BroadcastError as exc:
            return _compose(request, draft, preview=preview, audience=audience, error=f"Dạ, {exc}.", status=422)
    await audit(request, "broadcast.create", True, broadcast_id=row.id, topic=draft["topic"],
                channels=preview["channels"], urgent=draft["urgent"])
    raise web.HTTPSeeOther(f"/admin/broadcasts/{row.id}?created=1")


def _progress_json(item: broadcasts.Progress) -> dict[str, Any]:
    row = item.broadcast
    return {
        "id": row.id, "status": row.status, "status_label": broadcasts.STATUS_LABELS.get(row.status, row.status),
        "total": item.total, "finished": item.finished, "open": item.open,
        "percent": round(100 * item.share), "counts": item.counts, "by_channel": item.by_channel,
        "labels": broadcasts.DELIVERY_LABELS,
        "active": row.status in WAITING_BROADCAST,
    }


async def _progress(request: web.Request) -> broadcasts.Progress:
    try:
        broadcast_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="Không có thông báo này.") from None
    async with bot_of(request).database.session() as session:
        item = await broadcasts.progress(session, broadcast_id)
    if item is None:
        raise web.HTTPNotFound(text="Không có thông báo này.")
    return item


@page("GET", "/admin/broadcasts/{id}", OFFICIALS)
async def broadcast_detail(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    item = await _progress(request)
    reply = broadcasts.announcement_reply(item.broadcast.body, bot.settings.office.template_values(),
                                          item.broadcast.contest_id)
    titles = {t.id: t.title for t in _topics(bot)}
    return render(request, "broadcast_detail.html", item=item, data=_progress_json(item), web_reply=reply_json(reply),
                  titles=titles, labels=broadcasts.STATUS_LABELS, delivery_labels=broadcasts.DELIVERY_LABELS,
                  created=request.query.get("created") == "1", names=CHANNEL_NAMES,
                  message=request.query.get("msg", ""))


@page("GET", "/admin/broadcasts/{id}/progress", OFFICIALS)
async def broadcast_progress(request: web.Request) -> web.StreamResponse:
    return web.json_response(_progress_json(await _progress(request)), headers={"Cache-Control": "no-store"})


@page("POST", "/admin/broadcasts/{id}/cancel", OFFICIALS)
async def broadcast_cancel(request: web.Request) -> web.StreamResponse:
    item = await _progress(request)
    async with bot_of(request).database.session() as session:
        try:
            _, stopped = await broadcasts.cancel_broadcast(session, item.broadcast.id)  # type: ignore[arg-type]
            await session.commit()
        except broadcasts.BroadcastError as exc:
            return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, "broadcast.cancel", True, broadcast_id=item.broadcast.id, deliveries_cancelled=stopped)
    raise web.HTTPSeeOther(f"/admin/broadcasts/{item.broadcast.id}?msg=cancelled")


@page("POST", "/admin/broadcasts/{id}/schedule", OFFICIALS)
async def broadcast_schedule(request: web.Request) -> web.StreamResponse:
    """Queue a draft (e.g. one composed in the Telegram officials' chat), now or at a time."""
    item = await _progress(request)
    form = await _form(request)
    async with bot_of(request).database.session() as session:
        try:
            send_at = None
            if form.get("when") == "at":
                send_at = broadcasts.parse_local_time(form.get("send_at", "").replace("T", " "))
            await broadcasts.schedule_broadcast(session, item.broadcast.id, send_at,  # type: ignore[arg-type]
                                                urgent=bool(form.get("urgent")))
            await session.commit()
        except broadcasts.BroadcastError as exc:
            return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, "broadcast.schedule", True, broadcast_id=item.broadcast.id)
    raise web.HTTPSeeOther(f"/admin/broadcasts/{item.broadcast.id}?msg=scheduled")


# --- the campaign calendar ---------------------------------------------------------------


@page("GET", "/admin/calendar", ALL)
async def calendar(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    days = _int(request.query.get("days"), 60, 1, 366)
    now = utcnow()
    until = now + dt.timedelta(days=days)
    pack = bot.content.current.pack
    titles = {t.id: t.title for t in pack.topics}
    holidays = bot.settings.holidays
    off = holidays.dates()
    campaigns, upcoming = [], []
    for campaign in sorted(pack.campaigns.values(), key=lambda c: c.id):
        times = next_fire_times(campaign, now, 200, off)
        within = [t for t in times if t <= until]
        campaigns.append({"campaign": campaign, "next": times[:3], "count": len(within)})
        upcoming.extend((t, campaign) for t in within)
    upcoming.sort(key=lambda pair: pair[0])
    by_day: dict[dt.date, list] = defaultdict(list)
    for moment, campaign in upcoming:
        by_day[moment.astimezone(TIMEZONE).date()].append((moment, campaign))
    async with bot.database.session() as session:
        fired = (await session.exec(
            select(Broadcast).where(col(Broadcast.campaign_id).is_not(None))
            .order_by(col(Broadcast.fire_time).desc()).limit(20))).all()
        scheduler = await broadcasts.lease_holder(session, "scheduler")
    today = now.astimezone(TIMEZONE).date()
    return render(request, "calendar.html", campaigns=campaigns, by_day=sorted(by_day.items()), days=days,
                  titles=titles, fired=fired, labels=broadcasts.STATUS_LABELS, scheduler=scheduler,
                  names=CHANNEL_NAMES, holidays=holidays.upcoming(today, (until.astimezone(TIMEZONE)).date()))


# --- the feedback inbox ------------------------------------------------------------------


def _feedback():  # noqa: ANN202 - the feedback module, imported when used
    from handlers.feedback import service as feedback

    return feedback


@page("GET", "/admin/inbox", OFFICIALS)
async def inbox(request: web.Request) -> web.StreamResponse:
    fb = _feedback()
    show = request.query.get("show", "open")
    now = utcnow()
    query = select(Ticket)
    if show == "open":
        query = query.where(open_ticket()).order_by(Ticket.deadline)
    else:
        show = "all"
        query = query.order_by(col(Ticket.id).desc()).limit(200)
    async with bot_of(request).database.session() as session:
        tickets = (await session.exec(query)).all()
    rows = [{"ticket": t, "overdue": fb.is_overdue(t, now), "ref": fb.sender_ref(t.user_key)} for t in tickets]
    return render(request, "inbox.html", rows=rows, show=show, subjects=fb.SUBJECTS, statuses=fb.STATUSES,
                  names=CHANNEL_NAMES)


async def _ticket(request: web.Request, session: Any) -> Ticket:
    try:
        ticket_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="Không có phản ánh này.") from None
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise web.HTTPNotFound(text="Không có phản ánh này.")
    return ticket


@page("GET", "/admin/inbox/{id}", OFFICIALS)
async def ticket_detail(request: web.Request) -> web.StreamResponse:
    fb = _feedback()
    async with bot_of(request).database.session() as session:
        ticket = await _ticket(request, session)
        messages = (await session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
                                       .order_by(col(TicketMessage.id)))).all()
        question = await session.get(QuestionLog, ticket.question_id) if ticket.question_id else None
    return render(request, "ticket.html", ticket=ticket, messages=messages, question=question,
                  subjects=fb.SUBJECTS, statuses=fb.STATUSES, names=CHANNEL_NAMES, ref=fb.sender_ref(ticket.user_key),
                  overdue=fb.is_overdue(ticket, utcnow()), phone=format_phone(ticket.phone) if ticket.phone else None,
                  message=request.query.get("msg", ""))


@page("POST", "/admin/inbox/{id}/reply", OFFICIALS)
async def ticket_reply(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    form = await _form(request)
    body = form.get("body", "").replace("\r\n", "\n").strip()
    async with bot.database.session() as session:
        ticket = await _ticket(request, session)
        if not body:
            return refuse(request, 422, "Dạ, câu trả lời cần có nội dung.")
        if len(body) > 4000:
            return refuse(request, 422, "Dạ, câu trả lời dài quá 4.000 ký tự; Anh/Chị rút gọn giúp em.")
        status, _ = await _feedback().answer_ticket(
            session, bot.channels, bot.settings.office.name, ticket, body,
            author_key=f"dashboard:{me(request).username}")
        await session.commit()
    await audit(request, "ticket.answer", True, ticket=ticket.number, delivery=status)
    raise web.HTTPSeeOther(f"/admin/inbox/{ticket.id}?msg={status}")


@page("POST", "/admin/inbox/{id}/status", OFFICIALS)
async def ticket_status(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    action = form.get("action")
    now = utcnow()
    async with bot_of(request).database.session() as session:
        ticket = await _ticket(request, session)
        if action == "progress" and ticket.status == "new":
            ticket.status, ticket.in_progress_at = "in_progress", now
        elif action == "close" and ticket.status != "closed":
            ticket.status, ticket.closed_at = "closed", now
        elif action == "reopen" and ticket.status == "closed":
            ticket.status, ticket.closed_at = ("answered" if ticket.answered_at else "in_progress"), None
        else:
            return refuse(request, 409, "Dạ, phản ánh không chuyển được sang trạng thái này.")
        ticket.updated_at = now
        session.add(ticket)
        await session.commit()
    await audit(request, f"ticket.{action}", True, ticket=ticket.number)
    raise web.HTTPSeeOther(f"/admin/inbox/{ticket.id}?msg={action}")


# --- reports ---------------------------------------------------------------------------------


async def _report(request: web.Request) -> Any:
    from handlers.contest.service import contests
    from handlers.reports import report as rp

    bot = bot_of(request)
    try:
        period = reports.period_from(request.query)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"Dạ, {exc}.") from None
    return await rp.build_report(bot.database, bot.content.current.pack, bot.settings.office.name, period,
                                 contests=contests(bot.content.root))


@page("GET", "/admin/reports", OFFICIALS)
async def report_page(request: web.Request) -> web.StreamResponse:
    report = await _report(request)
    period = report.period
    query = (f"start={period.first.isoformat()}&end={period.last.isoformat()}")
    return render(request, "reports.html", report=report, period=period, chart=reports.daily_chart(report),
                  presets=reports.presets(), cell=reports.cell_text, query=query,
                  chosen=request.query.get("period", "" if request.query.get("start") else period.key))


@page("GET", "/admin/reports/download", OFFICIALS)
async def report_download(request: web.Request) -> web.StreamResponse:
    from handlers.reports import report as rp

    kind = request.query.get("format", "csv")
    if kind not in ("csv", "xlsx", "png"):
        raise web.HTTPBadRequest(text="Định dạng: csv, xlsx hoặc png.")
    report = await _report(request)
    name = f"bao-cao-{report.period.first:%Y%m%d}-{report.period.last:%Y%m%d}.{kind}"
    if kind == "xlsx":
        data = await asyncio.to_thread(reports.xlsx, report)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif kind == "png":
        data = await asyncio.to_thread(reports.chart_png, report)
        content_type = "image/png"
    else:
        data = ("\ufeff" + rp.to_csv(report)).encode("utf-8")  # the BOM lets Excel read Vietnamese
        content_type = "text/csv; charset=utf-8"
    await audit(request, "report.download", True, period=report.period.key, format=kind)
    return web.Response(body=data, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


# --- content pages (editors) -------------------------------------------------------------


@page("GET", "/admin/unanswered", EDITORS)
async def unanswered(request: web.Request) -> web.StreamResponse:
    """Questions the bot was not sure about, similar ones grouped (``cchc-bot content gaps``),
    most asked first, each with the nearest entry the content already has."""
    from handlers.reports import report as rp

    bot = bot_of(request)
    days = _int(request.query.get("days"), 30, 1, 366)
    since = utcnow() - dt.timedelta(days=days)
    gaps = await rp.content_gaps(bot.database, bot.content.current.matcher, since)
    rows, hidden = await editor.gap_rows(bot, gaps[:200])  # with the editors' actions
    unhelpful, _ = await editor.gap_rows(bot, await editor.not_helpful(bot, since))
    return render(request, "unanswered.html", rows=rows, hidden=hidden, unhelpful=unhelpful, groups=len(gaps),
                  total=sum(g.count for g in gaps), days=days)


@page("GET", "/admin/ask", EDITORS)
async def ask(request: web.Request) -> web.StreamResponse:
    """Ask as a citizen: the bot's answer and why, with nothing recorded."""
    bot = bot_of(request)
    question = request.query.get("q", "").strip()[:2000]
    result = None
    if question:
        response = await bot.handle(Incoming("web", f"dashboard:{me(request).username}", text=question),
                                    record=False)
        entries = bot.content.current.pack.entries
        result = {
            "outcome": response.outcome, "faq_id": response.faq_id, "score": response.score,
            "entry": entries.get(response.faq_id) if response.faq_id else None,
            "candidates": response.candidates, "replies": [reply_json(r) for r in response.replies],
        }
    return render(request, "ask.html", question=question, result=result)


@page("GET", "/admin/content", EDITORS)
async def content_errors(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    problems = bot.content.last_problems
    pack = bot.content.current.pack
    return render(request, "content.html", errors=[p for p in problems if not p.warning],
                  warnings=[p for p in problems if p.warning], pack=pack,
                  message=request.query.get("msg", ""), due=review.due(pack), due_days=review.DUE_WITHIN_DAYS)


@page("POST", "/admin/content/reload", EDITORS)
async def content_reload(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    problems = await revisions.follower(bot).take_in_disk()  # files edited on the server, as a revision
    ok = not any(not p.warning for p in problems)
    await audit(request, "content.reload", True, ok=ok, problems=len(problems))
    raise web.HTTPSeeOther("/admin/content?msg=" + ("reloaded" if ok else "refused"))


# --- accounts (admins) ---------------------------------------------------------------------


@page("GET", "/admin/users", ADMINS)
async def users(request: web.Request) -> web.StreamResponse:
    async with bot_of(request).database.session() as session:
        rows = (await session.exec(select(AdminUser).order_by(AdminUser.username))).all()
    return render(request, "users.html", users=rows, roles=auth.ROLES, error="", message=request.query.get("msg", ""))


@page("POST", "/admin/users", ADMINS)
async def user_create(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    async with bot_of(request).database.session() as session:
        try:
            user = await auth.create_user(session, form.get("username", ""), form.get("password", ""),
                                          form.get("role", ""))
            await session.commit()
        except auth.AuthError as exc:
            rows = (await session.exec(select(AdminUser).order_by(AdminUser.username))).all()
            return render(request, "users.html", status=422, users=rows, roles=auth.ROLES, error=f"Dạ, {exc}.",
                          message="")
    await audit(request, "user.create", True, username=user.username, role=user.role)
    raise web.HTTPSeeOther("/admin/users?msg=created")


@page("POST", "/admin/users/{id}", ADMINS)
async def user_update(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    action = form.get("action", "")
    async with bot_of(request).database.session() as session:
        user = await session.get(AdminUser, _int(request.match_info["id"], 0, 0, 2**31 - 1))
        if user is None:
            raise web.HTTPNotFound(text="Không có tài khoản này.")
        if user.id == me(request).user_id and action in ("disable", "role"):
            return refuse(request, 409, "Dạ, Anh/Chị không tự khóa hoặc tự đổi vai trò của chính mình được.")
        try:
            if action == "disable":
                user.disabled = True
                await auth.end_sessions(session, user.id)  # type: ignore[arg-type]
            elif action == "enable":
                user.disabled = False
            elif action == "role":
                user.role = auth.check_role(form.get("role", ""))
                await auth.end_sessions(session, user.id)  # type: ignore[arg-type]
            elif action == "password":
                await auth.set_password(session, user, form.get("password", ""))
            else:
                return refuse(request, 400, "Dạ, thao tác không hợp lệ.")
        except auth.AuthError as exc:
            return refuse(request, 422, f"Dạ, {exc}.")
        session.add(user)
        await session.commit()
    await audit(request, f"user.{action}", True, username=user.username)
    raise web.HTTPSeeOther(f"/admin/users?msg={action}")
