"""The content editor over real HTTP and a real database: entries listed, edited, checked
(errors beside their field), previewed, published (served at once), conflicts refused,
history restored, entries retired, unanswered questions turned into aliases or set aside, and
every new route guarded by role (CSRF and same-origin are covered for every route by
tests/test_dashboard.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import BotApp
from bot.root import build_app
from bot.content import revisions
from bot.messages import Incoming
from bot.server import make_web_app
from bot.storage.models import AnswerVote, AuditEvent, QuestionLog
from tests.web_support import add_user, client, csrf_of, login, web_settings  # noqa: F401 - client: a fixture

EDITOR_ROUTES = [("GET", "/admin/entries"), ("GET", "/admin/entries/new"), ("GET", "/admin/entries/khai-sinh"),
                 ("POST", "/admin/entries/new"), ("POST", "/admin/entries/khai-sinh"),
                 ("POST", "/admin/entries/khai-sinh/retire"), ("POST", "/admin/entries/khai-sinh/reinstate"),
                 ("GET", "/admin/revisions"), ("GET", "/admin/revisions/1"), ("POST", "/admin/revisions/1/restore"),
                 ("POST", "/admin/unanswered/act"), ("GET", "/admin/unanswered/result")]


@pytest.fixture
async def bot(database_url: str, tmp_path: Path) -> AsyncIterator[BotApp]:
    app = build_app(web_settings(database_url))
    revisions.follower(app, tmp_path / "revisions" / "w")  # materialised here, not in ./data
    await add_user(app, "admin", "admin")
    await add_user(app, "canbo", "official")
    await add_user(app, "bientap", "editor")
    await add_user(app, "bientap2", "editor")
    yield app
    await app.close()


def fields(html: str) -> dict[str, str]:
    """The edit form's values as a browser would submit them (inputs and textareas)."""
    out = {m.group(1): m.group(2) for m in re.finditer(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', html)}
    out |= {m.group(1): m.group(2) for m in re.finditer(
        r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', html, re.DOTALL)}
    selected = re.search(r'name="category".*?<option value="([^"]*)" selected', html, re.DOTALL)
    if selected:
        out["category"] = selected.group(1)
    import html as h

    return {k: h.unescape(v) for k, v in out.items()}


async def answer(bot: BotApp, question: str) -> tuple[str | None, str]:
    response = await bot.handle(Incoming("web", "citizen-1", text=question), record=False)
    return response.faq_id, " ".join(r.text for r in response.replies)


async def test_editor_routes_are_for_editors_and_admins_only(client: TestClient) -> None:
    csrf = await login(client, "canbo")
    for method, path in EDITOR_ROUTES:
        response = await client.request(method, path, data={"csrf": csrf}, allow_redirects=False)
        assert response.status == 403, (method, path)
    client.session.cookie_jar.clear()
    csrf = await login(client, "bientap")
    for method, path in EDITOR_ROUTES:
        if method == "GET":
            assert (await client.get(path, allow_redirects=False)).status == 200, path
    home = await (await client.get("/admin")).text()
    assert 'href="/admin/entries"' in home


async def test_list_search_edit_publish_and_the_bot_answers_with_it(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    listing = await (await client.get("/admin/entries?q=ket hon")).text()
    assert "/admin/entries/ket-hon" in listing and "/admin/entries/khai-sinh\"" not in listing
    assert "01/11/2027" in listing  # a year after 'updated', no review_by
    due = await (await client.get("/admin/entries?show=due")).text()
    assert "/admin/entries/ket-hon" not in due
    page = await (await client.get("/admin/entries/ket-hon")).text()
    form = fields(page)
    assert form["title"] == "Đăng ký kết hôn cần những gì?" and form["base"] == "1"
    assert "Zalo" in page and "Telegram" in page  # the preview of the published text
    messenger = page[page.index("Messenger (chữ thường"):]
    assert "Đăng ký kết hôn" in messenger[:messenger.index("</figure>")]  # the answer as the page shows it
    form["body"] = form["body"].replace("giấy tờ tùy thân", "căn cước hoặc hộ chiếu")
    # Publishing needs a reason.
    refused = await client.post("/admin/entries/ket-hon", data=form | {"action": "publish"})
    assert refused.status == 422 and 'id="err-reason"' in await refused.text()
    done = await client.post("/admin/entries/ket-hon", data=form | {"action": "publish", "reason": "căn cước"},
                             allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/admin/entries/ket-hon?msg=published"
    faq_id, text = await answer(bot, "thủ tục kết hôn")
    assert faq_id == "ket-hon" and "căn cước hoặc hộ chiếu" in text
    [row] = await revisions.history(bot.database, 1)
    assert row.author == "dashboard:bientap" and row.reason == "căn cước" and row.paths == ["faq/ket-hon.md"]
    async with bot.database.session() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.action == "content.publish"))).all()
    assert [e.detail["revision"] for e in events] == [row.id]
    diff = await (await client.get(f"/admin/revisions/{row.id}")).text()
    assert "+Dạ, hai bên nam, nữ cùng có mặt tại {{ office.name }} và mang căn cước" in diff.replace("&#34;", '"') \
        or "căn cước hoặc hộ chiếu" in diff


async def test_an_invalid_edit_is_refused_with_the_error_at_its_field(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    form = fields(await (await client.get("/admin/entries/khai-sinh")).text())
    response = await client.post("/admin/entries/khai-sinh", data=form | {
        "category": "khong-co", "reason": "thử", "action": "publish"})
    html = await response.text()
    assert response.status == 422
    category_errors = re.search(r'<ul class="field-errors" id="err-category">(.*?)</ul>', html, re.DOTALL)
    assert category_errors and "khong-co" in category_errors.group(1)
    assert 'id="category" name="category" aria-invalid="true"' in html
    assert 'id="title" name="title"' in html and 'id="err-title"' not in html
    response = await client.post("/admin/entries/khai-sinh", data=form | {
        "extra": form["extra"] + "procedure:\n  fees:\n    - case: Đúng hạn\n      amount: -5\n",
        "reason": "thử", "action": "publish"})
    html = await response.text()
    assert response.status == 422
    extra_errors = re.search(r'id="err-extra">(.*?)</ul>', html, re.DOTALL)
    assert extra_errors and "procedure.fees.0.amount" in extra_errors.group(1)
    broken = await client.post("/admin/entries/khai-sinh", data=form | {"extra": "links: [", "action": "check"})
    assert 'id="err-extra"><li>lỗi cú pháp YAML' in await broken.text()
    assert await revisions.head(bot.database) == 1  # nothing published
    assert bot.content.current.pack.entries["khai-sinh"].category == "ho-tich"


async def test_a_concurrent_edit_is_refused_with_the_others_change_shown(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    opened = fields(await (await client.get("/admin/entries/ket-hon")).text())
    # Another editor publishes first, from the same opened revision.
    theirs = opened | {"body": opened["body"] + "\n\nThêm: mang theo sổ hộ khẩu cũ nếu có.", "reason": "bổ sung",
                       "action": "publish"}
    async with TestClient(TestServer(make_web_app(bot))) as other:
        other_csrf = await login(other, "bientap2")
        published = await other.post("/admin/entries/ket-hon", data=theirs | {"csrf": other_csrf},
                                     allow_redirects=False)
        assert published.status == 303
    mine = opened | {"title": "Kết hôn cần giấy tờ gì?", "reason": "tiêu đề", "action": "publish"}
    response = await client.post("/admin/entries/ket-hon", data=mine)
    html = await response.text()
    assert response.status == 409
    assert "dashboard:bientap2" in html and "+Thêm: mang theo sổ hộ khẩu cũ nếu có." in html
    assert 'value="Kết hôn cần giấy tờ gì?"' in html  # what I wrote is still in the form
    assert bot.content.current.pack.entries["ket-hon"].title == "Đăng ký kết hôn cần những gì?"


async def test_restore_an_earlier_revision_and_retire_an_entry(client: TestClient, bot: BotApp) -> None:
    csrf = await login(client, "bientap")
    form = fields(await (await client.get("/admin/entries/ket-hon")).text())
    await client.post("/admin/entries/ket-hon", data=form | {"title": "Kết hôn: hồ sơ", "reason": "ngắn hơn",
                                                             "action": "publish"})
    assert bot.content.current.pack.entries["ket-hon"].title == "Kết hôn: hồ sơ"
    restored = await client.post("/admin/revisions/1/restore", data={"csrf": csrf}, allow_redirects=False)
    assert restored.status == 303
    assert bot.content.current.pack.entries["ket-hon"].title == "Đăng ký kết hôn cần những gì?"
    # khai-sinh-le-phi is the 'related' of khai-sinh: retiring it would break khai-sinh, so it is refused.
    refused = await client.post("/admin/entries/khai-sinh-le-phi/retire", data={"csrf": csrf})
    assert refused.status == 422 and "khai-sinh-le-phi" in await refused.text()
    async with bot.database.session() as session:
        [event] = (await session.exec(select(AuditEvent).where(AuditEvent.action == "content.retire"))).all()
    assert not event.allowed and event.detail["path"] == "faq/khai-sinh-le-phi.md"
    retired = await client.post("/admin/entries/ket-hon/retire", data={"csrf": csrf}, allow_redirects=False)
    assert retired.status == 303
    assert "ket-hon" not in bot.content.current.pack.entries
    assert "ket-hon" in await (await client.get("/admin/entries?show=retired")).text()
    back = await client.post("/admin/entries/ket-hon/reinstate", data={"csrf": csrf}, allow_redirects=False)
    assert back.status == 303 and "ket-hon" in bot.content.current.pack.entries
    kinds = [r.kind for r in await revisions.history(bot.database)]
    assert kinds == ["reinstate", "retire", "restore", "publish", "seed"]


async def test_create_an_entry(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    page = await (await client.get("/admin/entries/new?alias=xin+giấy+phép+nuôi+ong&alias=nuôi+ong+cần+gì")).text()
    form = fields(page)
    assert form["aliases"] == "xin giấy phép nuôi ong\nnuôi ong cần gì"
    form |= {"id": "nuoi-ong", "category": "ho-tich", "source": "Thử nghiệm", "body": "Dạ, liên hệ {{ office.name }}.",
             "reason": "mục mới", "action": "publish"}
    done = await client.post("/admin/entries/new", data=form, allow_redirects=False)
    assert done.status == 303, await done.text()
    assert (await answer(bot, "xin giấy phép nuôi ong"))[0] == "nuoi-ong"
    again = await client.post("/admin/entries/new", data=form)
    assert again.status == 422 and "đã có mục mã" in await again.text()


async def test_script_in_an_entry_is_shown_as_text(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    form = fields(await (await client.get("/admin/entries/ket-hon")).text())
    form["body"] += '\n\n<script>alert(1)</script> [x](javascript:alert(2))'
    html = await (await client.post("/admin/entries/ket-hon", data=form | {"action": "check"})).text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    # The javascript: link is refused by the checks; the script, published, reaches the web chat as text.
    refused = await client.post("/admin/entries/ket-hon", data=form | {"action": "publish", "reason": "thử"})
    assert refused.status == 422 and "javascript:alert(2)" in await refused.text()
    form["body"] = form["body"].replace(" [x](javascript:alert(2))", "")
    published = await client.post("/admin/entries/ket-hon", data=form | {"action": "publish", "reason": "thử"},
                                  allow_redirects=False)
    assert published.status == 303
    chat = await client.post("/api/chat", json={"text": "thủ tục kết hôn"})
    replies = (await chat.json())["replies"]
    shown = " ".join(r["html"] for r in replies)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script" not in shown
    assert 'href="javascript:' not in shown


async def test_try_questions_on_the_unpublished_edit(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    form = fields(await (await client.get("/admin/entries/ket-hon")).text())
    form["aliases"] += "\nbiên bản se duyên"
    html = await (await client.post("/admin/entries/ket-hon", data=form | {
        "action": "try", "question": "biên bản se duyên"})).text()
    row = re.search(r"<tr><td>biên bản se duyên</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td>", html)
    assert row and row.group(1) == "trả lời" and "ket-hon" in row.group(2) and row.group(3) == "Đúng"
    assert "Bộ câu hỏi mẫu" in html
    assert (await answer(bot, "biên bản se duyên"))[0] != "ket-hon"  # nothing published


async def test_unanswered_questions_become_aliases_or_are_set_aside(client: TestClient, bot: BotApp) -> None:
    async with bot.database.session() as session:
        for text in ("đăng ký cưới hỏi làm sao", "đăng ký cưới hỏi làm sao", "xin giấy phép bắn pháo hoa"):
            session.add(QuestionLog(channel="web", user_key="u", text=text, outcome="not_sure", latency_ms=1))
        answered = QuestionLog(channel="web", user_key="u", text="giấy kết hôn bản sao", outcome="answer",
                               faq_id="ket-hon", latency_ms=1)
        session.add(answered)
        await session.flush()
        session.add(AnswerVote(question_id=answered.id, faq_id="ket-hon", channel="web", user_key="u", helpful=False))
        await session.commit()
    csrf = await login(client, "bientap")
    page = await (await client.get("/admin/unanswered")).text()
    assert "đăng ký cưới hỏi làm sao" in page and "xin giấy phép bắn pháo hoa" in page
    unhelpful = page[page.index("chưa hữu ích”</h2>"):]
    assert "giấy kết hôn bản sao" in unhelpful and "đăng ký cưới hỏi làm sao" not in unhelpful
    done = await client.post("/admin/unanswered/act", data={
        "csrf": csrf, "action": "alias", "entry": "ket-hon", "q": "đăng ký cưới hỏi làm sao"})
    result = await done.text()
    assert done.status == 200 and "Đăng ký kết hôn cần những gì?" in result and "trả lời" in result
    assert (await answer(bot, "đăng ký cưới hỏi làm sao"))[0] == "ket-hon"
    ignored = await client.post("/admin/unanswered/act", data={
        "csrf": csrf, "action": "ignore", "q": "xin giấy phép bắn pháo hoa"})
    assert ignored.status == 200
    page = await (await client.get("/admin/unanswered")).text()
    assert "xin giấy phép bắn pháo hoa" not in page and "1 nhóm đã đánh dấu ngoài phạm vi" in page
    assert "out_of_scope.yaml" in await revisions.current_texts(bot.database)
    new = await client.post("/admin/unanswered/act", data={"csrf": csrf, "action": "new", "q": "nuôi ong"},
                            allow_redirects=False)
    assert new.headers["Location"] == "/admin/entries/new?alias=nu%C3%B4i+ong"


async def test_the_lexicon_is_edited_as_text_and_checked(client: TestClient, bot: BotApp) -> None:
    csrf = await login(client, "bientap")
    listing = await (await client.get("/admin/files")).text()
    assert "lexicon.yaml" in listing and "categories.yaml" in listing
    page = await (await client.get("/admin/files/edit?path=lexicon.yaml")).text()
    text = fields(page)["raw"]
    base = fields(page)["base"]
    broken = await client.post("/admin/files/edit", data={
        "csrf": csrf, "path": "lexicon.yaml", "base": base, "raw": text + "\nabbreviations2: {}\n",
        "reason": "thử", "action": "publish"})
    assert broken.status == 422 and "abbreviations2" in await broken.text()
    added = text.replace("abbreviations:\n", "abbreviations:\n  tthc: [thủ tục hành chính]\n", 1)
    duplicate = await client.post("/admin/files/edit", data={
        "csrf": csrf, "path": "lexicon.yaml", "base": base, "raw": added.replace("tthc:", "gks:"),
        "reason": "thử", "action": "publish"})
    assert duplicate.status == 422 and 'id="err-raw"><li>dòng 4: lỗi cú pháp YAML' in await duplicate.text()
    done = await client.post("/admin/files/edit", data={
        "csrf": csrf, "path": "lexicon.yaml", "base": base, "raw": added, "reason": "viết tắt gks",
        "action": "publish"}, allow_redirects=False)
    assert done.status == 303, await done.text()
    assert "tthc" in (await revisions.current_texts(bot.database))["lexicon.yaml"]
    assert (await client.get("/admin/files/edit?path=../secrets.yaml")).status == 404
    new = await (await client.get("/admin/files/edit?slug=ngay-hoi")).text()
    assert "id: ngay-hoi" in new


async def test_a_contest_file_is_written_checked_and_published_in_the_browser(client: TestClient,
                                                                              bot: BotApp) -> None:
    csrf = await login(client, "bientap")
    page = await (await client.get("/admin/files/edit?contest=thi-thu")).text()
    text = fields(page)["raw"]
    assert "id: thi-thu" in text and "collect: [full_name, village, phone]" in text
    filled = (text.replace("title: \n", "title: Thi thử CCHC\n").replace("organiser: \n", "organiser: UBND xã\n")
              .replace("  - text: \n", "  - text: Khai sinh trong bao lâu?\n")
              .replace("explanation: \n", "explanation: Trong 60 ngày.\n").replace("source: \n", "source: Luật Hộ tịch\n"))
    broken = await client.post("/admin/files/edit", data={
        "csrf": csrf, "path": "contests/thi-thu.yaml", "base": "", "action": "publish", "reason": "mở cuộc thi",
        "raw": filled.replace("choices: [, ]", "choices: [60 ngày]")})
    assert broken.status == 422
    assert "dòng 13: trường &#39;questions.0.choices&#39;: cần từ 2 đến 6 lựa chọn (đang có 1)" in await broken.text()
    assert "contests/thi-thu.yaml" not in await revisions.current_texts(bot.database)
    done = await client.post("/admin/files/edit", data={
        "csrf": csrf, "path": "contests/thi-thu.yaml", "base": "", "action": "publish", "reason": "mở cuộc thi",
        "raw": filled.replace("choices: [, ]", "choices: [30 ngày, 60 ngày]")}, allow_redirects=False)
    assert done.status == 303, await done.text()
    opened = await bot.handle(Incoming("web", "citizen", text="/cuocthi thi-thu"))
    assert opened.outcome == "contest_not_started" and "Thi thử CCHC" in opened.replies[0].text
    assert "contests/thi-thu.yaml" in await (await client.get("/admin/files")).text()


async def test_the_reload_button_takes_in_files_edited_on_the_server(database_url: str, tmp_path: Path) -> None:
    import shutil

    from bot.config import Dashboard
    from tests.conftest import make_settings
    from tests.web_support import FIXTURE

    content = tmp_path / "content"
    shutil.copytree(FIXTURE, content)
    app = build_app(make_settings(database_url, content=content, dashboard=Dashboard()))
    revisions.follower(app, tmp_path / "revisions" / "w")
    await add_user(app, "bientap", "editor")
    try:
        async with TestClient(TestServer(make_web_app(app))) as client:
            csrf = await login(client, "bientap")
            assert (await client.get("/admin/entries")).status == 200  # revision 1, from the folder
            path = content / "faq" / "ket-hon.md"
            path.write_text(path.read_text(encoding="utf-8").replace("tùy thân", "tùy thân (sửa trên máy chủ)"),
                            encoding="utf-8")
            done = await client.post("/admin/content/reload", data={"csrf": csrf}, allow_redirects=False)
            assert done.headers["Location"] == "/admin/content?msg=reloaded"
        [row] = await revisions.history(app.database, 1)
        assert row.kind == "files" and row.paths == ["faq/ket-hon.md"]
        assert "(sửa trên máy chủ)" in app.content.current.pack.entries["ket-hon"].body
    finally:
        await app.close()
