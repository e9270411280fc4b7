"""The organisers' pages of the knowledge contests (content/contests/): the list with each
contest's status, and per contest its live figures, the ranking with the tie-breaks applied,
the flags to look at, the draw and its history, and the export for the jury.

Names and phone numbers are shown (and exported) in full only to the officials' roles; an
editor sees them masked, as the export masks them without ``--personal``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from bot.dashboard.pages import CHANNEL_NAMES
from bot.dashboard.web import ALL, OFFICIALS, Route, audit, bot_of, me, pages_of, refuse, render
from bot.storage.models import ContestFlag
from handlers.contest import draw as draws
from handlers.contest import figures as fg
from handlers.contest import results, service
from handlers.contest.contests import Contest, load_contests

ROUTES: list[Route] = []  # the contest pages below, for the server to register
page = pages_of(ROUTES)
RANKING_SHOWN = 200  # the page shows the top of the ranking; the export has everyone
TIE_BREAK_LABELS = {"prediction": "dự đoán gần đúng nhất", "time": "thời gian làm bài ngắn hơn",
                    "finished": "hoàn thành trước"}
COLLECT_LABELS = {"full_name": "họ và tên", "phone": "số điện thoại", "village": "thôn/tổ dân phố"}


def _contests(request: web.Request) -> tuple[dict[str, Contest], list]:
    """The contest files of the content being served, and the problems of the broken ones."""
    return load_contests(bot_of(request).content.root)


def _contest(request: web.Request) -> Contest:
    found = _contests(request)[0].get(request.match_info["id"])
    if found is None:
        raise web.HTTPNotFound(text="Không có cuộc thi này.")
    return found


def _personal(request: web.Request) -> bool:
    return me(request).role in OFFICIALS


@page("GET", "/admin/contests", ALL)
async def contest_list(request: web.Request) -> web.StreamResponse:
    found, problems = _contests(request)
    moment = service.now()
    items = [{"contest": c, "status": fg.status(c, moment)}
             for c in sorted(found.values(), key=lambda c: c.starts, reverse=True)]
    return render(request, "contests.html", items=items, problems=problems, labels=fg.STATUS_LABELS)


@page("GET", "/admin/contests/{id}", ALL)
async def contest_detail(request: web.Request) -> web.StreamResponse:
    contest = _contest(request)
    personal = _personal(request)
    async with bot_of(request).database.session() as session:
        figures = await fg.figures(session, contest)
        ranked = await service.ranking(session, contest)
        flags = (await session.exec(select(ContestFlag).where(ContestFlag.contest_id == contest.id)
                                    .order_by(col(ContestFlag.created_at).desc()))).all()
        history = await draws.history(session, contest.id)
    by_pseudonym = {row.participant: row for row in ranked}
    drawn = [{"row": row, "replays": draws.replays(row),
              "winners": [results.cells(by_pseudonym[w], personal) if w in by_pseudonym else ["", w]
                          for w in row.winners]} for row in history]
    moment = service.now()
    return render(
        request, "contest.html", contest=contest, state=fg.status(contest, moment), labels=fg.STATUS_LABELS,
        figures=figures, names=CHANNEL_NAMES, flag_labels=results.FLAG_LABELS,
        headings=results.HEADINGS, ranking=[results.cells(row, personal) for row in ranked[:RANKING_SHOWN]],
        ranked=len(ranked), shown=RANKING_SHOWN, eligible=sum(1 for row in ranked if row.eligible),
        flags=[{"flag": f, "who": service.pseudonym(f.participant_id) if f.participant_id else ""} for f in flags],
        tie_breaks=", rồi ".join(TIE_BREAK_LABELS[t] for t in contest.tie_breaks),
        collect=", ".join(COLLECT_LABELS[c] for c in contest.collect), personal=personal,
        draw_rule=draws.describe(contest) if contest.draw else "", can_draw=personal and moment >= contest.ends,
        pool=[results.cells(row, personal) for row in draws.pool_of(contest, ranked)] if contest.draw else [],
        drawn=drawn, just_drawn=request.query.get("drawn", ""))


@page("POST", "/admin/contests/{id}/draw", OFFICIALS)
async def contest_draw(request: web.Request) -> web.StreamResponse:
    contest = _contest(request)
    form = await request.post()
    seed = form.get("seed")
    async with bot_of(request).database.session() as session:
        try:
            row = await draws.draw(session, contest, drawn_by=f"dashboard:{me(request).username}",
                                   seed=seed if isinstance(seed, str) else None)
            await session.commit()
        except draws.DrawError as exc:
            await audit(request, "contest.draw", False, contest=contest.id, reason=str(exc))
            return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, "contest.draw", True, contest=contest.id, draw=row.id, seed=row.seed,
                pool=len(row.pool), winners=list(row.winners))
    raise web.HTTPSeeOther(f"/admin/contests/{contest.id}?drawn={row.id}#boc-tham")


@page("GET", "/admin/contests/{id}/download", ALL)
async def contest_download(request: web.Request) -> web.StreamResponse:
    """The ranking for the jury: full names and phones for the officials' roles (unless they
    ask for the masked copy to publish, ``personal=0``), masked for everyone else."""
    contest = _contest(request)
    kind = request.query.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        raise web.HTTPBadRequest(text="Định dạng: csv hoặc xlsx.")
    personal = _personal(request) and request.query.get("personal") != "0"
    async with bot_of(request).database.session() as session:
        ranked = await service.ranking(session, contest)
    headers: dict[str, Any] = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if kind == "xlsx":
        body = await asyncio.to_thread(results.to_xlsx, ranked, contest.title, personal)
        headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = ("\ufeff" + results.to_csv(ranked, personal)).encode("utf-8")  # the BOM: Excel reads UTF-8
        headers["Content-Type"] = "text/csv; charset=utf-8"
    suffix = "" if personal else "-an-danh"
    headers["Content-Disposition"] = f'attachment; filename="ket-qua-{contest.id}{suffix}.{kind}"'
    await audit(request, "contest.download", True, contest=contest.id, format=kind, personal=personal)
    return web.Response(body=body, headers=headers)
