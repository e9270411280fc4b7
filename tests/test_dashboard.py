"""The officials' dashboard over real HTTP and a real database: every route refuses anonymous
users and cross-site posts, roles are enforced, logins are rate-limited, sessions live in the
database (so any worker can serve them), and the pages do what they say."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import BotApp
from bot.root import build_app
from bot.cli import main
from bot.dashboard.web import SESSION_COOKIE
from bot.server import make_web_app
from bot.storage.models import (
    AdminSession,
    AdminUser,
    AuditEvent,
    Broadcast,
    LoginAttempt,
    Ticket,
    TicketMessage,
)
from tests.web_support import PASSWORD, add_user, client, csrf_of, login, web_settings  # noqa: F401 - client: a fixture

# A value for every path parameter, so that each route can be called.
PARAMS = {"id": "1"}


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[BotApp]:
    app = build_app(web_settings(database_url, max_failures_per_user=3, max_failures_per_address=6))
    await add_user(app, "admin", "admin")
    await add_user(app, "canbo", "official")
    await add_user(app, "bientap", "editor")
    yield app
    await app.close()


def dashboard_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) under /admin except the login page and static files."""
    out = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/admin") or path.startswith("/admin/static"):
            continue
        if path == "/admin/login" or route.method == "HEAD":
            continue
        for name, value in PARAMS.items():
            path = path.replace("{" + name + "}", value)
        out.append((route.method, path))
    return sorted(set(out))


async def test_the_dashboard_has_every_page(client: TestClient) -> None:
    paths = {path for _, path in dashboard_routes(client)}
    for expected in ("/admin", "/admin/broadcasts", "/admin/broadcasts/new", "/admin/calendar", "/admin/inbox",
                     "/admin/reports", "/admin/reports/download", "/admin/unanswered", "/admin/ask",
                     "/admin/content", "/admin/users", "/admin/logout"):
        assert expected in paths


async def test_every_route_refuses_anonymous_users(client: TestClient) -> None:
    routes = dashboard_routes(client)
    assert len(routes) >= 20
    for method, path in routes:
        response = await client.request(method, path, allow_redirects=False, data={"csrf": "x"})
        if method == "GET":
            assert response.status == 303, (method, path)
            assert response.headers["Location"].startswith("/admin/login?next="), path
        else:
            assert response.status == 401, (method, path)


async def test_every_post_refuses_a_missing_or_wrong_csrf_token(client: TestClient, bot: BotApp) -> None:
    good = await login(client, "admin")
    posts = [path for method, path in dashboard_routes(client) if method == "POST"]
    assert "/admin/broadcasts/new" in posts and "/admin/inbox/1/reply" in posts
    for path in posts:
        missing = await client.post(path, data={"body": "x"}, allow_redirects=False)
        assert missing.status == 403, path
        wrong = await client.post(path, data={"csrf": good[:-2] + "xx", "body": "x"}, allow_redirects=False)
        assert wrong.status == 403, path
        # The right token from another site (a form on evil.example posting here) is refused too.
        cross = await client.post(path, data={"csrf": good}, headers={"Origin": "https://evil.example"},
                                  allow_redirects=False)
        assert cross.status == 403, path
    async with bot.database.session() as session:
        refused = (await session.exec(select(AuditEvent).where(AuditEvent.allowed == False))).all()  # noqa: E712
    assert {e.action for e in refused} >= {"dashboard.bad_csrf", "dashboard.cross_site_post"}
    # Still logged in: the refusals did not touch the session.
    assert (await client.get("/admin", allow_redirects=False)).status == 200


async def test_roles(client: TestClient) -> None:
    await login(client, "bientap")
    assert (await client.get("/admin/unanswered")).status == 200
    assert (await client.get("/admin/ask?q=khai+sinh")).status == 200
    assert (await client.get("/admin/content")).status == 200
    assert (await client.get("/admin/calendar")).status == 200
    for path in ("/admin/broadcasts", "/admin/broadcasts/new", "/admin/inbox", "/admin/reports", "/admin/users"):
        assert (await client.get(path)).status == 403, path
    home = await (await client.get("/admin")).text()
    assert 'href="/admin/broadcasts"' not in home and 'href="/admin/ask"' in home

    client.session.cookie_jar.clear()
    await login(client, "canbo")
    for path in ("/admin/broadcasts", "/admin/broadcasts/new", "/admin/inbox", "/admin/reports", "/admin/calendar"):
        assert (await client.get(path)).status == 200, path
    for path in ("/admin/users", "/admin/ask", "/admin/unanswered", "/admin/content"):
        assert (await client.get(path)).status == 403, path


async def test_login_sets_a_strict_http_only_cookie_and_logout_ends_the_session(
        client: TestClient, bot: BotApp) -> None:
    page = await client.get("/admin/login")
    response = await client.post("/admin/login", data={
        "csrf": csrf_of(await page.text()), "username": "Admin", "password": PASSWORD, "next": "/admin/reports"},
        allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/admin/reports"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
    assert not cookie["secure"]  # plain http here; over https it is Secure
    async with bot.database.session() as session:
        [stored] = (await session.exec(select(AdminSession))).all()
    assert stored.id != cookie.value and len(stored.id) == 64  # only a hash of the token is kept
    csrf = csrf_of(await (await client.get("/admin")).text())
    out = await client.post("/admin/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    async with bot.database.session() as session:
        assert (await session.exec(select(AdminSession))).all() == []
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie.value})  # a stolen old cookie
    assert (await client.get("/admin", allow_redirects=False)).status == 303


async def test_the_cookie_is_secure_behind_an_https_proxy(database_url: str) -> None:
    settings = web_settings(database_url)
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"behind_proxy": True})})
    app = build_app(settings)
    await add_user(app, "admin", "admin")
    try:
        async with TestClient(TestServer(make_web_app(app))) as client:
            page = await client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
            login_cookie = page.cookies["cchc_login"]
            assert login_cookie["secure"]  # so the test client, on plain http, must be handed it
            response = await client.post("/admin/login", data={
                "csrf": csrf_of(await page.text()), "username": "admin", "password": PASSWORD},
                headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7",
                         "Cookie": f"cchc_login={login_cookie.value}"}, allow_redirects=False)
            assert response.cookies[SESSION_COOKIE]["secure"]
        async with app.database.session() as session:
            [attempt] = (await session.exec(select(LoginAttempt))).all()
        assert attempt.address == "203.0.113.7" and attempt.success
    finally:
        await app.close()


async def test_the_login_form_needs_its_own_csrf_token(client: TestClient) -> None:
    await client.get("/admin/login")
    response = await client.post("/admin/login", data={"csrf": "forged", "username": "admin",
                                                       "password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    assert SESSION_COOKIE not in response.cookies


async def _try(client: TestClient, username: str, password: str) -> int:
    page = await client.get("/admin/login")
    response = await client.post("/admin/login", data={
        "csrf": csrf_of(await page.text()), "username": username, "password": password}, allow_redirects=False)
    return response.status


async def test_failed_logins_are_rate_limited_per_username(client: TestClient, bot: BotApp) -> None:
    for _ in range(3):
        assert await _try(client, "canbo", "sai-mat-khau-roi") == 401
    # The limit is reached: even the right password is refused now, without being checked.
    assert await _try(client, "canbo", PASSWORD) == 429
    page = await (await client.get("/admin/login")).text()
    assert "Đăng nhập" in page
    # Other accounts are not locked out by it.
    assert await _try(client, "admin", PASSWORD) == 303
    async with bot.database.session() as session:
        attempts = (await session.exec(select(LoginAttempt).where(LoginAttempt.username == "canbo"))).all()
    assert [a.success for a in attempts] == [False, False, False]  # the refused one is not counted


async def test_failed_logins_are_rate_limited_per_address(client: TestClient) -> None:
    for n in range(6):  # different usernames each time: a password-spraying run from one address
        assert await _try(client, f"nguoi-{n}", "sai-mat-khau-roi") == 401
    assert await _try(client, "admin", PASSWORD) == 429


async def test_the_window_passes(client: TestClient, bot: BotApp) -> None:
    for _ in range(3):
        await _try(client, "canbo", "sai-mat-khau-roi")
    async with bot.database.session() as session:  # as if they happened 16 minutes ago
        for attempt in (await session.exec(select(LoginAttempt))).all():
            attempt.created_at = attempt.created_at - dt.timedelta(minutes=16)
            session.add(attempt)
        await session.commit()
    assert await _try(client, "canbo", PASSWORD) == 303


async def test_a_disabled_account_cannot_log_in_and_loses_its_sessions(client: TestClient, bot: BotApp) -> None:
    csrf = await login(client, "admin")
    async with bot.database.session() as session:
        user = (await session.exec(select(AdminUser).where(AdminUser.username == "canbo"))).one()
    # The admin locks the official's account.
    response = await client.post(f"/admin/users/{user.id}", data={"csrf": csrf, "action": "disable"},
                                 allow_redirects=False)
    assert response.status == 303
    client.session.cookie_jar.clear()
    assert await _try(client, "canbo", PASSWORD) == 401


async def test_sessions_are_shared_by_workers(database_url: str, bot: BotApp, client: TestClient) -> None:
    """A second process (its own app and engine on the same database) accepts the session."""
    await login(client, "canbo")
    other = build_app(web_settings(database_url))
    try:
        async with TestClient(TestServer(make_web_app(other))) as second:
            token = client.session.cookie_jar.filter_cookies(client.make_url("/admin"))[SESSION_COOKIE].value
            second.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
            response = await second.get("/admin/broadcasts", allow_redirects=False)
            assert response.status == 200
    finally:
        await other.close()


async def test_compose_preview_and_confirm_a_broadcast(client: TestClient, bot: BotApp) -> None:
    csrf = await login(client, "canbo")
    form = {"csrf": csrf, "topic": "thong-bao-chung", "body": "Dạ, **lịch tiếp dân** thứ Hai.\nGọi {{ office.hotline }}.",
            "channel_telegram": "1", "channel_zalo": "1", "when": "now", "send_at": "", "action": "preview"}
    preview = await client.post("/admin/broadcasts/new", data=form)
    html = await preview.text()
    assert preview.status == 200
    assert "<b>lịch tiếp dân</b>" in html  # Telegram's HTML
    assert "Dạ, lịch tiếp dân thứ Hai." in html  # Zalo's plain text
    assert bot.settings.office.hotline in html and "{{ office.hotline }}" not in html.split("Có thể dùng")[1][200:]
    fingerprint = html.split('name="previewed" value="')[1].split('"')[0]
    # Confirming a text other than the one previewed shows the preview again.
    changed = await client.post("/admin/broadcasts/new", data={**form, "body": "khác", "action": "confirm",
                                                               "previewed": fingerprint})
    assert changed.status == 409
    async with bot.database.session() as session:
        assert (await session.exec(select(Broadcast))).all() == []
    done = await client.post("/admin/broadcasts/new", data={**form, "action": "confirm", "previewed": fingerprint},
                             allow_redirects=False)
    assert done.status == 303
    async with bot.database.session() as session:
        [row] = (await session.exec(select(Broadcast))).all()
    assert done.headers["Location"] == f"/admin/broadcasts/{row.id}?created=1"
    assert row.status == "scheduled" and row.author == "dashboard:canbo"
    assert row.channels == ["telegram", "zalo"] and row.body.startswith("📢 **Thông báo chung")
    progress = await (await client.get(f"/admin/broadcasts/{row.id}/progress")).json()
    assert progress["status"] == "scheduled" and progress["active"] is True
    cancel = await client.post(f"/admin/broadcasts/{row.id}/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert cancel.status == 303
    progress = await (await client.get(f"/admin/broadcasts/{row.id}/progress")).json()
    assert progress["status"] == "cancelled" and progress["active"] is False


async def test_a_too_long_zalo_broadcast_is_refused_in_the_preview(client: TestClient) -> None:
    csrf = await login(client, "canbo")
    response = await client.post("/admin/broadcasts/new", data={
        "csrf": csrf, "topic": "thong-bao-chung", "body": "dài " * 600, "channel_zalo": "1", "when": "now",
        "action": "preview"})
    assert response.status == 422
    assert "2000" in await response.text()


async def test_reply_to_a_ticket(client: TestClient, bot: BotApp) -> None:
    from handlers.feedback.service import create_ticket

    async with bot.database.session() as session:
        ticket = await create_ticket(session, bot.settings, channel="web", channel_user_id=None,
                                     user_key="abcdef123456", subject="thu_tuc",
                                     content="Dạ, hồ sơ khai sinh của cháu nộp đã 10 ngày chưa có kết quả.")
        await session.commit()  # a turn commits what it filed
    csrf = await login(client, "canbo")
    inbox = await (await client.get("/admin/inbox")).text()
    assert ticket.number in inbox and "#ABCDEF" not in inbox  # the list shows no sender reference
    page = await (await client.get(f"/admin/inbox/{ticket.id}")).text()
    assert "hồ sơ khai sinh của cháu" in page and "#ABCDEF" in page
    response = await client.post(f"/admin/inbox/{ticket.id}/reply",
                                 data={"csrf": csrf, "body": "Dạ, hồ sơ đã có kết quả, mời Anh/Chị tới nhận."},
                                 allow_redirects=False)
    assert response.status == 303
    async with bot.database.session() as session:
        stored = await session.get(Ticket, ticket.id)
        [message] = (await session.exec(select(TicketMessage))).all()
    assert stored.status == "answered" and stored.answered_at is not None
    assert message.delivery == "not_pushed" and message.author_key == "dashboard:canbo"  # the web cannot push


async def test_report_downloads(client: TestClient, bot: BotApp) -> None:
    from bot.messages import Incoming

    await bot.handle(Incoming("web", "citizen-1", text="khai sinh"))
    await bot.handle(Incoming("web", "citizen-1", text="thủ tục kết hôn"))
    await login(client, "canbo")
    page = await client.get("/admin/reports")
    html = await page.text()
    assert page.status == 200 and "<svg" in html and "HƯỚNG DẪN, GIẢI ĐÁP" in html
    csv_file = await client.get("/admin/reports/download?format=csv")
    assert csv_file.headers["Content-Disposition"].startswith('attachment; filename="bao-cao-')
    text = (await csv_file.read()).decode("utf-8")
    assert text.startswith("\ufeffBÁO CÁO KẾT QUẢ")
    xlsx = await client.get("/admin/reports/download?format=xlsx")
    book = load_workbook(io.BytesIO(await xlsx.read()))
    assert "Báo cáo" in book.sheetnames
    assert (await client.get("/admin/reports?start=2026-13-01")).status == 400


async def test_ask_as_a_citizen_records_nothing(client: TestClient, bot: BotApp) -> None:
    await login(client, "bientap")
    html = await (await client.get("/admin/ask?q=dang+ky")).text()  # khai sinh or kết hôn?
    assert 'data-outcome="clarify"' in html and "khai-sinh-le-phi" in html
    from bot.storage.models import QuestionLog

    async with bot.database.session() as session:
        assert (await session.exec(select(QuestionLog))).all() == []


async def test_content_errors_page_shows_the_last_problems(client: TestClient, bot: BotApp) -> None:
    from bot.content.loader import Problem

    bot.content.last_problems = [Problem("faq/ket-hon.md", 3, "thiếu tiêu đề"),
                                 Problem("faq/khai-sinh.md", 1, "câu trả lời dài", warning=True)]
    await login(client, "bientap")
    html = await (await client.get("/admin/content")).text()
    assert "faq/ket-hon.md:3" in html and "thiếu tiêu đề" in html and "Lỗi (1)" in html
    assert "Cảnh báo (1)" in html


async def test_admin_creates_users_on_the_page(client: TestClient, bot: BotApp) -> None:
    csrf = await login(client, "admin")
    short = await client.post("/admin/users", data={"csrf": csrf, "username": "moi", "password": "ngan",
                                                    "role": "editor"})
    assert short.status == 422 and "10 ký tự" in await short.text()
    made = await client.post("/admin/users", data={"csrf": csrf, "username": "moi", "password": PASSWORD,
                                                   "role": "editor"}, allow_redirects=False)
    assert made.status == 303
    client.session.cookie_jar.clear()
    await login(client, "moi")


def test_cli_create_user(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    monkeypatch.setenv("CCHC_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    made = runner.invoke(main, ["admin", "create-user", "Can.Bo", "--role", "official"], input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    assert "canbo" not in made.output and "can.bo" in made.output
    again = runner.invoke(main, ["admin", "create-user", "can.bo", "--role", "official"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "đã có" in again.output
    weak = runner.invoke(main, ["admin", "create-user", "khac", "--role", "editor"], input="123\n")
    assert weak.exit_code != 0 and "10 ký tự" in weak.output
    bad = runner.invoke(main, ["admin", "create-user", "khac", "--role", "boss"], input=PASSWORD + "\n")
    assert bad.exit_code != 0
    listed = runner.invoke(main, ["admin", "list-users"])
    assert "can.bo" in listed.output and "official" in listed.output
    from sqlalchemy import create_engine, text

    from bot.storage.db import sync_url

    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM admin_user WHERE username = 'can.bo'")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
