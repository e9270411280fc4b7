"""Editors keep the content from the dashboard: list, edit, check, preview, try,
publish, retire, history with diffs, restore, and unanswered questions turned into answers.

Every change is a content revision (``bot.content.revisions``); the page that publishes it
serves it at once, the other workers and machines within their poll interval.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from aiohttp import web
from sqlmodel import col, select

from bot import text as vtext
from bot.channels import messenger_render, telegram_render, zalo_render
from bot.content import revisions
from bot.content.loader import TELEGRAM_LIMIT, ZALO_LIMIT, Problem
from bot.content.store import Snapshot
from bot.dashboard import entry_form
from bot.dashboard.entry_form import EntryForm, FormError
from bot.dashboard.web import EDITORS, Route, audit, bot_of, me, now_local, pages_of, refuse, render
from bot.render import to_plain
from bot.routing import Context
from bot.storage.models import AnswerVote, QuestionLog
from bot.webchat import reply_json
from handlers.common import answer_reply
from handlers.contest.contests import load_contests, parse_contest
from handlers.reports import report as rp

log = logging.getLogger(__name__)
ROUTES: list[Route] = []  # the editors' pages below, for the server to register
page = pages_of(ROUTES)
EVAL = Path(__file__).resolve().parents[2] / "tests" / "eval"
OUT_OF_SCOPE = "out_of_scope.yaml"  # questions editors marked as not the bot's business
RETIRED = "retired/"
KIND_LABELS = {"seed": "Nội dung ban đầu", "publish": "Sửa", "restore": "Khôi phục", "retire": "Ngừng dùng",
               "reinstate": "Dùng lại", "import": "Nhập tệp", "files": "Sửa tệp trên máy chủ",
               "aliases": "Thêm cách hỏi", "out_of_scope": "Ngoài phạm vi"}
OUTCOME_LABELS = {"answer": "trả lời", "clarify": "hỏi lại (có phải…?)", "not_sure": "chưa chắc, không trả lời"}


def _author(request: web.Request) -> str:
    return f"dashboard:{me(request).username}"


async def _form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def _ready(bot: Any) -> revisions.Follower:
    """The revisions seeded and this process serving the newest (no disk scan: the follower does that)."""
    follower = revisions.follower(bot)
    await follower.sync(disk=False)
    return follower


def _file_id(request: web.Request) -> str:
    found = request.match_info["id"]
    if not entry_form.FILE_ID.fullmatch(found):
        raise web.HTTPNotFound(text="Không có mục này.")
    return found


def _faq(file_id: str) -> str:
    return f"faq/{file_id}.md"


def _front(text: str) -> dict:
    split = entry_form.split_front(text)
    try:
        data = yaml.load(split[0], Loader=yaml.CSafeLoader) if split else None
    except yaml.YAMLError:
        data = None
    return data if isinstance(data, dict) else {}


# --- the list ----------------------------------------------------------------------------


def _review_by(front: dict) -> dt.date | None:
    """When the entry's facts are due for a check: ``review_by``, else a year after ``updated``."""
    for key, later in (("review_by", 0), ("updated", 365)):
        value = front.get(key)
        if isinstance(value, dt.date):
            return value + dt.timedelta(days=later)
    return None


@page("GET", "/admin/entries", EDITORS)
async def entry_list(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    await _ready(bot)
    files = await revisions.current(bot.database)
    query = request.query.get("q", "").strip()[:200]
    show = request.query.get("show", "active")
    key = vtext.strip_diacritics(query).lower()
    broken = {p.path for p in bot.content.last_problems if not p.warning}
    today = now_local().date()
    rows = []
    for path, row in sorted(files.items()):
        retired = path.startswith(RETIRED + "faq/")
        if not (path.startswith("faq/") or retired) or not path.endswith(".md"):
            continue
        front = _front(row.text)
        review = _review_by(front)
        item = {"file": Path(path).stem, "id": str(front.get("id", "")), "title": str(front.get("title", "")),
                "category": str(front.get("category", "")), "retired": retired, "revision": row.revision_id,
                "error": f"content/{path}" in broken, "review_by": review,
                "due": review is not None and review <= today and not retired}
        if show == "errors" and not item["error"] or show == "retired" and not retired or \
                show == "active" and retired or show == "due" and not item["due"]:
            continue
        if key and key not in vtext.strip_diacritics(" ".join(
                str(item[k]) for k in ("file", "id", "title", "category"))).lower():
            continue
        rows.append(item)
    return render(request, "editor_list.html", rows=rows, q=query, show=show,
                  message=request.query.get("msg", ""))


# --- one entry: the form, the checks, the preview, trying questions ----------------------


@dataclass
class Checked:
    text: str
    form: EntryForm
    problems: list[Problem]
    snapshot: Snapshot | None

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]


def _check(bot: Any, files: Mapping[str, str], path: str, form: EntryForm) -> Checked:
    try:
        text = entry_form.to_text(form, files.get(path))
    except FormError as exc:
        errors = {k: list(v) for k, v in form.errors.items()}
        errors.setdefault(exc.field, []).append(str(exc))
        form.errors = errors
        return Checked("", form, [Problem(f"content/{path}", 1, str(exc))], None)
    too_long = bool(form.errors)  # from_post: a box past its limit
    candidate = dict(files) | {path: text}
    snapshot, problems = revisions.check(candidate, bot.content.values, bot.content.params,
                                         bot.content.apart_from_files)
    if path.startswith("contests/"):  # not part of the pack: checked as `cchc-bot contest check` does
        problems = [*problems, *parse_contest(text, f"content/{path}", Path(path).stem)[1]]
    form = entry_form.with_errors(form, text, problems, f"content/{path}")
    if too_long:
        problems = [*problems, Problem(f"content/{path}", 1, "có ô dài quá giới hạn")]
    return Checked(text, form, problems, snapshot)


async def _no_store(payload: str) -> str | None:
    return None  # a preview stores no long button payloads


async def previews(bot: Any, snapshot: Snapshot, entry_id: str) -> dict[str, Any] | None:
    """The answer as each channel will show it, from the unpublished snapshot."""
    entry = snapshot.pack.entries.get(entry_id)
    if entry is None:
        return None
    reply = answer_reply(Context(snapshot, bot.settings, "dashboard:preview", "web", {}, None), entry, None)
    telegram = await telegram_render.render(reply, _no_store)
    zalo = zalo_render.render([reply], zalo_render.PayloadCodec("preview")).messages
    messenger = messenger_render.render([reply]).messages
    plain = to_plain(reply.text)
    return {
        "telegram": [m.html for m in telegram],
        "zalo": [{"text": m.get("text", ""), "buttons": [b["title"] for b in
                  m.get("attachment", {}).get("payload", {}).get("buttons", [])]} for m in zalo],
        "messenger": [_messenger_bubble(m) for m in messenger if "image" not in m],
        "web": reply_json(reply),
        "lengths": [("Telegram", telegram_render.utf16_len(plain), TELEGRAM_LIMIT),
                    ("Zalo", len(plain), ZALO_LIMIT),
                    ("Messenger", len(plain), messenger_render.MAX_TEXT), ("Trang web", len(plain), None)],
    }


def _messenger_bubble(message: dict[str, Any]) -> dict[str, Any]:
    """A Send API message as the preview shows it: its text and the titles of its buttons
    (a button template's) or quick replies, cut to Messenger's 20 characters as the page sees them."""
    template = message.get("attachment", {}).get("payload", {})
    buttons = template.get("buttons") or message.get("quick_replies") or []
    return {"text": template.get("text", message.get("text", "")), "buttons": [b["title"] for b in buttons]}


def _tried(snapshot: Snapshot, questions: list[str], expected: str | None) -> list[dict[str, Any]]:
    out = []
    for question in questions:
        match = snapshot.matcher.match(question)
        best = match.best
        entry = snapshot.pack.entries.get(best.id) if best is not None else None
        out.append({"question": question, "outcome": match.outcome, "label": OUTCOME_LABELS.get(match.outcome),
                    "id": best.id if best else None, "title": entry.title if entry else "",
                    "ok": match.outcome == "answer" and best is not None and best.id == expected,
                    "score": best.score if best else None})
    return out


def eval_queries() -> dict[str, list[str]]:
    """The deployment's labelled evaluation queries (tests/eval/*.yaml), if it has them."""
    queries: dict[str, list[str]] = {}
    for path in sorted(EVAL.glob("*.yaml")) if EVAL.is_dir() else []:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        for entry_id, items in data.items():
            if isinstance(entry_id, str) and isinstance(items, list):
                queries.setdefault(entry_id, []).extend(q for q in items if isinstance(q, str))
    return queries


def moved_queries(before: Snapshot, after: Snapshot, entry_id: str) -> list[dict[str, Any]]:
    """Labelled queries whose answer the edit changes: this entry's, and those of entries
    whose queries this entry now takes or gives back."""
    moved = []
    for owner, queries in eval_queries().items():
        if owner not in after.pack.entries:
            continue
        for query in queries:
            old, new = before.matcher.match(query), after.matcher.match(query)
            old_id = old.best.id if old.best and old.outcome == "answer" else None
            new_id = new.best.id if new.best and new.outcome == "answer" else None
            if old_id == new_id or entry_id not in (owner, old_id, new_id):
                continue
            moved.append({"query": query, "owner": owner, "before": old_id, "after": new_id,
                          "worse": old_id == owner and new_id != owner})
    return moved


async def _show(request: web.Request, file_id: str, form: EntryForm, *, base: int | None, new: bool,
                checked: Checked | None = None, status: int = 200, **values: Any) -> web.Response:
    bot = bot_of(request)
    preview = tried = None
    if checked is not None and checked.snapshot is not None:
        entry_id = form.id if form.raw is None else str(_front(checked.text).get("id", file_id))
        preview = await previews(bot, checked.snapshot, entry_id)
        asked = [*form.alias_list[:20], *([values["question"]] if values.get("question") else [])]
        tried = _tried(checked.snapshot, asked, entry_id)
    values.setdefault("question", "")
    values.setdefault("moved", None)
    values.setdefault("conflict", None)
    values.setdefault("reason", "")
    values.setdefault("message", "")
    values.setdefault("error", "")
    return render(request, "editor_entry.html", status=status, file_id=file_id, form=form, base=base, new=new,
                  checked=checked, preview=preview, tried=tried,
                  categories=bot.content.current.pack.categories, **values)


@page("GET", "/admin/entries/new", EDITORS)
async def entry_new(request: web.Request) -> web.StreamResponse:
    await _ready(bot_of(request))
    aliases = [a.strip()[:300] for a in request.query.getall("alias", []) if a.strip()][:entry_form.MAX_ITEMS]
    form = EntryForm(aliases="\n".join(aliases), title=aliases[0] if aliases else "",
                     updated=_today(), source="")
    return await _show(request, "", form, base=None, new=True)


def _today() -> str:
    return now_local().date().isoformat()


@page("GET", "/admin/entries/{id}", EDITORS)
async def entry_edit(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    file_id = _file_id(request)
    await _ready(bot)
    files = await revisions.current(bot.database)
    row = files.get(_faq(file_id))
    if row is None:
        if RETIRED + _faq(file_id) in files:
            raise web.HTTPSeeOther(f"/admin/entries?show=retired&q={file_id}")
        raise web.HTTPNotFound(text="Không có mục này.")
    form = entry_form.from_text(row.text)
    if request.query.get("mode") == "raw":
        form = EntryForm(raw=row.text)
    checked = None
    big = bot.content.apart_from_files is not None and len(files) >= bot.content.apart_from_files
    if request.query.get("check", "0" if big else "1") != "0":  # a big pack: on "Kiểm tra" only
        checked = await asyncio.to_thread(_check, bot, {p: r.text for p, r in files.items()}, _faq(file_id), form)
        form = checked.form
    return await _show(request, file_id, form, base=row.revision_id, new=False, checked=checked,
                       message=request.query.get("msg", ""))


@page("POST", "/admin/entries/new", EDITORS)
async def entry_create(request: web.Request) -> web.StreamResponse:
    return await _submit(request, None)


@page("POST", "/admin/entries/{id}", EDITORS)
async def entry_save(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _file_id(request))


async def _submit(request: web.Request, file_id: str | None) -> web.StreamResponse:
    """``action``: check (and preview), try (also the labelled queries), or publish."""
    bot = bot_of(request)
    post = await _form(request)
    action = post.get("action", "check")
    form = entry_form.from_post(post)
    question = post.get("question", "").strip()[:300]
    reason = post.get("reason", "").strip()[:500]
    new = file_id is None
    follower = await _ready(bot)
    rows = await revisions.current(bot.database)
    files = {p: r.text for p, r in rows.items()}
    if new:
        file_id = form.id
        if not entry_form.FILE_ID.fullmatch(file_id or "") or "." in file_id:
            form.errors.setdefault("id", []).append("mã gồm chữ thường không dấu, số và dấu gạch ngang, "
                                                    "ví dụ: dang-ky-khai-sinh")
            return await _show(request, "", form, base=None, new=True, status=422, question=question, reason=reason)
        if _faq(file_id) in files or RETIRED + _faq(file_id) in files:
            form.errors.setdefault("id", []).append(f"đã có mục mã '{file_id}'; Anh/Chị chọn mã khác")
            return await _show(request, "", form, base=None, new=True, status=422, question=question, reason=reason)
    assert file_id is not None
    path = _faq(file_id)
    if not new and path not in files:
        raise web.HTTPNotFound(text="Không có mục này.")
    base_raw = post.get("base", "")
    base = int(base_raw) if base_raw.isdigit() else None
    checked = await asyncio.to_thread(_check, bot, files, path, form)
    values: dict[str, Any] = {"question": question, "reason": reason}
    if action == "try" and checked.snapshot is not None:
        values["moved"] = await asyncio.to_thread(moved_queries, bot.content.current, checked.snapshot,
                                                  checked.form.id or file_id)
    if action != "publish":
        return await _show(request, file_id if not new else "", checked.form, base=base, new=new, checked=checked,
                           **values)
    if checked.blocking:
        await audit(request, "content.publish", False, path=path, errors=len(checked.blocking))
        return await _show(request, file_id if not new else "", checked.form, base=base, new=new, checked=checked,
                           status=422, error="Dạ, mục này còn lỗi nên chưa đưa lên được. Anh/Chị sửa các ô "
                                             "được đánh dấu rồi thử lại ạ.", **values)
    if not reason:
        checked.form.errors.setdefault("reason", []).append("Anh/Chị ghi ngắn gọn lý do sửa")
        return await _show(request, file_id if not new else "", checked.form, base=base, new=new, checked=checked,
                           status=422, error="Dạ, Anh/Chị ghi lý do sửa để người sau biết ạ.", **values)
    try:
        row = await revisions.publish(bot.database, {path: checked.text}, author=_author(request),
                                      kind="publish", reason=reason, expected={path: None if new else base})
    except revisions.Conflict as exc:
        await audit(request, "content.publish_conflict", False, path=path, theirs=exc.revision.id)
        diff = _diff(exc.base_text or "", exc.their_text or "", "bản Anh/Chị đã mở", "bản vừa được đưa lên")
        return await _show(request, file_id if not new else "", checked.form, base=base, new=new, checked=checked,
                           status=409, conflict={"revision": exc.revision, "diff": diff}, **values)
    except revisions.RevisionError as exc:
        return refuse(request, 409, f"Dạ, {exc}.")
    if row is not None:
        await audit(request, "content.publish", True, path=path, revision=row.id, reason=reason, created=new)
        await follower.sync()
    raise web.HTTPSeeOther(f"/admin/entries/{file_id}?msg=" + ("published" if row else "unchanged"))


def _diff(before: str, after: str, old_name: str, new_name: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line): kind is add, del, at or same, for the page's colours."""
    out = []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), old_name, new_name, lineterm=""):
        kind = "at" if line.startswith(("@@", "---", "+++")) else "add" if line.startswith("+") else \
            "del" if line.startswith("-") else "same"
        out.append((kind, line))
    return out


async def _move(request: web.Request, source: str, target: str, kind: str, action: str) -> web.StreamResponse:
    bot = bot_of(request)
    post = await _form(request)
    reason = post.get("reason", "").strip()[:500] or KIND_LABELS[kind]
    follower = await _ready(bot)
    rows = await revisions.current(bot.database)
    if source not in rows:
        raise web.HTTPNotFound(text="Không có mục này.")
    files = {p: r.text for p, r in rows.items()}
    files[target] = files.pop(source)
    _, problems = await asyncio.to_thread(revisions.check, files, bot.content.values, bot.content.params,
                                          bot.content.apart_from_files)
    blocking = [p for p in problems if not p.warning]
    if blocking:
        await audit(request, action, False, path=source, errors=len(blocking))
        return render(request, "editor_refused.html", status=422, problems=blocking, back=request.path.rsplit("/", 1)[0])
    try:
        row = await revisions.publish(bot.database, {source: None, target: rows[source].text},
                                      author=_author(request), kind=kind, reason=reason,
                                      expected={source: rows[source].revision_id, target: None})
    except revisions.RevisionError as exc:
        return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, action, True, path=source, to=target, revision=row.id if row else None)
    await follower.sync()
    raise web.HTTPSeeOther(f"/admin/entries?msg={kind}")


@page("POST", "/admin/entries/{id}/retire", EDITORS)
async def entry_retire(request: web.Request) -> web.StreamResponse:
    """Soft delete: the file moves to retired/, the bot stops using it, history keeps it."""
    path = _faq(_file_id(request))
    return await _move(request, path, RETIRED + path, "retire", "content.retire")


@page("POST", "/admin/entries/{id}/reinstate", EDITORS)
async def entry_reinstate(request: web.Request) -> web.StreamResponse:
    path = _faq(_file_id(request))
    return await _move(request, RETIRED + path, path, "reinstate", "content.reinstate")


# --- history and restore ---------------------------------------------------------------


@page("GET", "/admin/revisions", EDITORS)
async def revision_list(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    await _ready(bot)
    path = request.query.get("path") or None
    rows = await revisions.history(bot.database, 200, path=path)
    newest = await revisions.head(bot.database)
    return render(request, "editor_history.html", rows=rows, kinds=KIND_LABELS, only=path or "", newest=newest,
                  message=request.query.get("msg", ""))


@page("GET", "/admin/revisions/{id}", EDITORS)
async def revision_detail(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    raw = request.match_info["id"]
    row = await revisions.revision(bot.database, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if row is None:
        raise web.HTTPNotFound(text="Không có bản này.")
    diffs = [(path, _diff(before or "", after or "", f"{path} (trước)", f"{path} (sau)"),
              "new" if before is None else "gone" if after is None else "changed")
             for path, (before, after) in sorted(row.changes.items())]
    return render(request, "editor_revision.html", row=row, diffs=diffs, kinds=KIND_LABELS,
                  newest=await revisions.head(bot.database))


@page("POST", "/admin/revisions/{id}/restore", EDITORS)
async def revision_restore(request: web.Request) -> web.StreamResponse:
    """All content back to how it was right after this revision, as one new revision."""
    bot = bot_of(request)
    raw = request.match_info["id"]
    post = await _form(request)
    if not raw.isdigit() or len(raw) >= 10 or await revisions.revision(bot.database, int(raw)) is None:
        raise web.HTTPNotFound(text="Không có bản này.")
    follower = await _ready(bot)
    try:
        row = await revisions.restore(bot.database, int(raw), author=_author(request),
                                      reason=post.get("reason", "").strip()[:500], values=bot.content.values,
                                      params=bot.content.params, apart_from=bot.content.apart_from_files)
    except revisions.Refused as exc:
        await audit(request, "content.restore", False, restored=int(raw), errors=len(exc.problems))
        return render(request, "editor_refused.html", status=422, problems=[p for p in exc.problems if not p.warning],
                      back=f"/admin/revisions/{raw}")
    except revisions.RevisionError as exc:
        return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, "content.restore", True, restored=int(raw), revision=row.id if row else None)
    await follower.sync()
    raise web.HTTPSeeOther("/admin/revisions?msg=" + ("restored" if row else "unchanged"))


# --- from unanswered to answered ---------------------------------------------------------


def out_of_scope(files: Mapping[str, str]) -> set[str]:
    """The normalised questions editors marked out of scope."""
    try:
        data = yaml.safe_load(files.get(OUT_OF_SCOPE, "")) or []
    except yaml.YAMLError:
        return set()
    return {vtext.strip_key(str(item.get("text", ""))) for item in data if isinstance(item, dict)}


def answers_now(snapshot: Snapshot, questions: list[str]) -> list[dict[str, Any]]:
    return _tried(snapshot, questions, None)


async def gap_rows(bot: Any, gaps: list) -> tuple[list[dict[str, Any]], int]:
    """The unanswered groups still to act on, each with what the bot answers today; and how
    many were marked out of scope (they stop showing)."""
    files = await revisions.current_texts(bot.database)
    ignored = out_of_scope(files)
    rows, hidden = [], 0
    snapshot = bot.content.current
    for gap in gaps:
        questions = [gap.text, *[text for text, _ in gap.variants if text != gap.text]][:20]
        if vtext.strip_key(gap.text) in ignored:
            hidden += 1
            continue
        rows.append({"gap": gap, "questions": questions, "now": answers_now(snapshot, [gap.text])[0]})
    return rows, hidden


async def not_helpful(bot: Any, since: dt.datetime) -> list[rp.Gap]:
    """Answered questions whose answer the citizen voted "not helpful", grouped like the gaps."""
    async with bot.database.session() as session:
        texts = (await session.exec(
            select(QuestionLog.text).join(AnswerVote, col(AnswerVote.question_id) == QuestionLog.id)
            .where(col(AnswerVote.helpful).is_(False), AnswerVote.created_at >= since))).all()
    gaps = rp.group_questions(texts)
    rp.add_nearest(gaps, bot.content.current.matcher)
    return gaps[:100]


@page("POST", "/admin/unanswered/act", EDITORS)
async def unanswered_act(request: web.Request) -> web.StreamResponse:
    """``alias``: add the questions to an entry; ``new``: start an entry with them;
    ``ignore``: out of scope (kept in out_of_scope.yaml so the group stops showing)."""
    bot = bot_of(request)
    data = await request.post()
    questions = [str(q).strip()[:300] for q in data.getall("q", []) if isinstance(q, str) and str(q).strip()]
    questions = list(dict.fromkeys(questions))[:20]
    action = str(data.get("action", ""))
    if not questions:
        return refuse(request, 422, "Dạ, Anh/Chị chọn ít nhất một câu hỏi.")
    if action == "new":
        raise web.HTTPSeeOther("/admin/entries/new?" + urlencode([("alias", q) for q in questions]))
    follower = await _ready(bot)
    rows = await revisions.current(bot.database)
    if action == "alias":
        target = str(data.get("entry", ""))
        path = _faq(target) if entry_form.FILE_ID.fullmatch(target) else ""
        if path not in rows:
            return refuse(request, 422, "Dạ, Anh/Chị chọn mục sẽ nhận các câu hỏi này.")
        form = entry_form.from_text(rows[path].text)
        if form.raw is not None:
            return refuse(request, 422, "Dạ, mục này cần sửa trong trang sửa mục (phần đầu tệp chưa đọc được).")
        known = {vtext.strip_key(q) for q in (form.title, *form.alias_list)}
        form.aliases = "\n".join([*form.alias_list, *[q for q in questions if vtext.strip_key(q) not in known]])
        checked = await asyncio.to_thread(_check, bot, {p: r.text for p, r in rows.items()}, path, form)
        if checked.blocking:
            await audit(request, "content.aliases", False, entry=target, errors=len(checked.blocking))
            return render(request, "editor_refused.html", status=422, problems=checked.blocking,
                          back="/admin/unanswered")
        changes: dict[str, str | None] = {path: checked.text}
        expected: dict[str, int | None] = {path: rows[path].revision_id}
        kind = "aliases"
        reason = f"Thêm {len(questions)} cách hỏi từ câu hỏi chưa trả lời"
    elif action == "ignore":
        current = rows.get(OUT_OF_SCOPE)
        items = yaml.safe_load(current.text) if current is not None else None
        items = items if isinstance(items, list) else []
        items.extend({"text": q, "by": me(request).username, "date": _today()} for q in questions)
        header = "# Câu hỏi biên tập viên đánh dấu là ngoài phạm vi của bot (trang Câu hỏi chưa trả lời).\n"
        changes = {OUT_OF_SCOPE: header + yaml.safe_dump(items, allow_unicode=True, sort_keys=False, width=1000)}
        expected = {OUT_OF_SCOPE: current.revision_id if current is not None else None}
        kind, reason, target = "out_of_scope", f"Đánh dấu {len(questions)} câu hỏi ngoài phạm vi", ""
    else:
        return refuse(request, 400, "Dạ, thao tác không hợp lệ.")
    try:
        row = await revisions.publish(bot.database, changes, author=_author(request), kind=kind, reason=reason,
                                      expected=expected)
    except revisions.RevisionError as exc:
        return refuse(request, 409, f"Dạ, {exc}.")
    await audit(request, f"content.{kind}", True, entry=target, questions=len(questions),
                revision=row.id if row else None)
    await follower.sync()
    raise web.HTTPSeeOther("/admin/unanswered/result?" + urlencode([("done", kind)] + [("q", q) for q in questions]))


@page("GET", "/admin/unanswered/result", EDITORS)
async def unanswered_result(request: web.Request) -> web.StreamResponse:
    """What the bot answers now to the questions just acted on."""
    bot = bot_of(request)
    questions = [q.strip()[:300] for q in request.query.getall("q", []) if q.strip()][:20]
    return render(request, "editor_result.html", rows=answers_now(bot.content.current, questions),
                  done=request.query.get("done", ""), kinds=KIND_LABELS)


# --- the other content files: lexicon, categories, topics, campaigns (as text) ------------


OTHER_FILE = re.compile(r"(lexicon|categories|topics)\.yaml|campaigns/[a-z0-9]+(?:-[a-z0-9]+)*\.md"
                        r"|contests/[a-z0-9]+(?:-[a-z0-9]+)*\.yaml")
NEW_CAMPAIGN = """---
id: {slug}
title: 
topic: 
channels: [telegram, zalo]
schedule:
  cron: "0 8 1 * *"
source: 
---
Dạ, {{{{ office.name }}}} xin thông báo: …
"""


NEW_CONTEST = """# Cuộc thi tìm hiểu CCHC. Giờ không ghi múi giờ là giờ Việt Nam.
id: {slug}
title: 
organiser: 
starts: {starts} 07:00:00
ends: {ends} 17:00:00
rules: |
  Mỗi người dự thi một lượt, trả lời lần lượt từng câu bằng các nút.
attempts: 1
collect: [full_name, village, phone]
questions:
  - text: 
    choices: [, ]
    answer: 1
    explanation: 
    source: 
"""


def _new_text(path: str) -> str:
    """The starting text of a file that does not exist yet: a campaign or a contest."""
    slug = Path(path).stem
    if path.startswith("contests/"):
        starts = now_local().date() + dt.timedelta(days=7)
        return NEW_CONTEST.format(slug=slug, starts=starts, ends=starts + dt.timedelta(days=30))
    return NEW_CAMPAIGN.format(slug=slug)


def _other_path(raw: str | None) -> str:
    if not raw or not OTHER_FILE.fullmatch(raw):
        raise web.HTTPNotFound(text="Không có tệp này.")
    return raw


@page("GET", "/admin/files", EDITORS)
async def file_list(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    await _ready(bot)
    rows = await revisions.current(bot.database)
    broken = {p.path for p in bot.content.last_problems if not p.warning}
    broken |= {f"content/{p.path}" for p in load_contests(bot.content.root)[1]}
    files = [{"path": p, "revision": r.revision_id, "error": f"content/{p}" in broken}
             for p, r in sorted(rows.items()) if OTHER_FILE.fullmatch(p)]
    return render(request, "editor_files.html", files=files, message=request.query.get("msg", ""))


@page("GET", "/admin/files/edit", EDITORS)
async def file_edit(request: web.Request) -> web.StreamResponse:
    bot = bot_of(request)
    slug = request.query.get("slug", "").strip()
    contest = request.query.get("contest", "").strip()
    path = _other_path(request.query.get("path") or (f"campaigns/{slug}.md" if slug else None)
                       or (f"contests/{contest}.yaml" if contest else None))
    await _ready(bot)
    row = (await revisions.current(bot.database)).get(path)
    if row is None and not path.startswith(("campaigns/", "contests/")):
        raise web.HTTPNotFound(text="Không có tệp này.")
    text = row.text if row is not None else _new_text(path)
    return render(request, "editor_file.html", file_path=path, form=EntryForm(raw=text),
                  base=row.revision_id if row else None, checked=None, conflict=None, reason="", error="",
                  message=request.query.get("msg", ""))


@page("POST", "/admin/files/edit", EDITORS)
async def file_save(request: web.Request) -> web.StreamResponse:
    """``action``: check or publish one of the other content files, edited as text."""
    bot = bot_of(request)
    post = await _form(request)
    path = _other_path(post.get("path"))
    form = entry_form.from_post({"raw": post.get("raw", "")})
    reason = post.get("reason", "").strip()[:500]
    base = int(post["base"]) if post.get("base", "").isdigit() else None
    follower = await _ready(bot)
    files = await revisions.current_texts(bot.database)
    checked = await asyncio.to_thread(_check, bot, files, path, form)
    values: dict[str, Any] = {"file_path": path, "base": base, "checked": checked, "form": checked.form,
                              "reason": reason, "conflict": None, "error": "", "message": ""}
    if post.get("action") != "publish":
        return render(request, "editor_file.html", **values)
    if checked.blocking or not reason:
        values["error"] = ("Dạ, tệp này còn lỗi nên chưa đưa lên được ạ." if checked.blocking
                           else "Dạ, Anh/Chị ghi lý do sửa để người sau biết ạ.")
        return render(request, "editor_file.html", status=422, **values)
    try:
        row = await revisions.publish(bot.database, {path: checked.text}, author=_author(request), kind="publish",
                                      reason=reason, expected={path: base})
    except revisions.Conflict as exc:
        await audit(request, "content.publish_conflict", False, path=path, theirs=exc.revision.id)
        values["conflict"] = {"revision": exc.revision, "diff": _diff(exc.base_text or "", exc.their_text or "",
                                                                      "bản Anh/Chị đã mở", "bản vừa được đưa lên")}
        return render(request, "editor_file.html", status=409, **values)
    except revisions.RevisionError as exc:
        return refuse(request, 409, f"Dạ, {exc}.")
    if row is not None:
        await audit(request, "content.publish", True, path=path, revision=row.id, reason=reason)
        await follower.sync()
    raise web.HTTPSeeOther("/admin/files/edit?" + urlencode({"path": path, "msg": "published" if row else "unchanged"}))
