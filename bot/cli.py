"""``cchc-bot``: run the bot, chat in the terminal, ask, check content, manage the database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import click

from bot.channels.messenger_cli import messenger
from bot.cli_support import build as _build
from bot.cli_support import load as _settings
from bot.content.revisions_cli import content_export, content_import
from bot.dashboard.cli import admin
from bot.doctor import doctor
from handlers.announcements.cli import broadcast
from handlers.contest.cli import contest
from handlers.lookups.cli import dossiers, qr
from handlers.reports.cli import content_gaps, report

log = logging.getLogger("cchc_bot")


@click.group()
@click.option("--config", "config", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="config.toml (mặc định: biến CCHC_CONFIG, nếu không thì cấu hình nhúng sẵn)")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """CCHC Bot: trợ lý ảo hướng dẫn thủ tục hành chính và dịch vụ công trực tuyến."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option("--host", help="địa chỉ lắng nghe (mặc định server.host)")
@click.option("--port", type=int, help="cổng (mặc định server.port)")
@click.option("--workers", type=click.IntRange(1, 64),
              help="số tiến trình cùng phục vụ cổng (mặc định server.workers; trên 1 cần PostgreSQL)")
@click.pass_context
def run(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Chạy bot: máy chủ web, kênh đã cấu hình, tự nạp lại nội dung."""
    from bot.root import serve, serve_workers
    from bot.storage.db import is_sqlite

    settings = _settings(ctx)
    count = workers or settings.server.workers
    if count > 1 and is_sqlite(settings.database.url):
        # SQLite takes one writer at a time: several processes would only wait on each other.
        raise click.ClickException(
            f"chạy {count} tiến trình (server.workers / --workers) cần cơ sở dữ liệu PostgreSQL; "
            "với SQLite chỉ chạy được 1 tiến trình (đặt database.url = \"postgresql://...\" "
            "hoặc bỏ --workers)")
    host, port = host or settings.server.host, port or settings.server.port
    try:  # migrations run here, once, before any worker starts, in a child process of their own
        app = _build(ctx, settings=settings, migrate_apart=True)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    if count == 1:
        asyncio.run(serve(app, host, port))
        return
    try:
        ctx.exit(serve_workers(app, host, port, count))
    except OSError as exc:
        raise click.ClickException(f"không mở được cổng {host}:{port}: {exc.strerror}") from exc


@main.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Trò chuyện với bot ngay trong cửa sổ dòng lệnh."""
    from bot.console import run_console

    asyncio.run(run_console(_build(ctx)))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="in kết quả dạng JSON (mỗi câu hỏi một dòng)")
@click.argument("question")
@click.pass_context
def ask(ctx: click.Context, as_json: bool, question: str) -> None:
    """Hỏi một câu (QUESTION), hoặc '-' để đọc mỗi dòng một câu từ đầu vào chuẩn."""
    from bot.messages import Incoming
    from bot.render import to_plain

    app = _build(ctx, persistent=False)
    questions = (line.rstrip("\n") for line in sys.stdin) if question == "-" else iter([question])

    async def answer_all() -> None:
        for text in questions:
            response = await app.handle(Incoming("cli", "cli", text=text), record=False)
            reply_text = "\n\n".join(to_plain(r.text) for r in response.replies)
            if as_json:
                print(json.dumps({
                    "outcome": response.outcome,
                    "id": response.faq_id,
                    "score": response.score,
                    "candidates": response.candidates,
                    "text": reply_text,
                }, ensure_ascii=False), flush=True)
            else:
                click.echo(reply_text)
                for c in response.candidates:
                    click.echo(f"  - {c['id']} ({c['score']:.2f}): {c['title']}")

    asyncio.run(answer_all())


@main.group()
def content() -> None:
    """Kiểm tra và liệt kê nội dung (content/)."""


@content.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.pass_context
def content_check(ctx: click.Context, path: Path | None) -> None:
    """Kiểm tra toàn bộ nội dung; in 'tệp:dòng: lỗi', trả mã lỗi khác 0 nếu có lỗi."""
    from bot.content.loader import load_pack
    from handlers.contest.contests import load_contests

    settings = _settings(ctx)
    root = path or settings.content.path
    pack, problems = load_pack(root, settings.office.template_values())
    contests, contest_problems = load_contests(root)  # checked here too: one command for editors
    contest_problems = [replace(p, path=f"{root.name}/{p.path}") for p in contest_problems]
    for problem in [*problems, *contest_problems]:
        click.echo(str(problem))
    errors = sum(1 for p in problems if not p.warning)
    warnings = len(problems) - errors
    if pack is None:
        click.echo(f"Có {errors} lỗi, {warnings} cảnh báo. Bot sẽ không dùng nội dung này cho tới khi sửa xong.", err=True)
        ctx.exit(1)
    if contest_problems:
        click.echo(f"Có {len(contest_problems)} lỗi trong tệp cuộc thi: bot không mở cuộc thi đó (bản tốt "
                   "trước đó, nếu có, vẫn chạy) cho tới khi sửa xong.", err=True)
        ctx.exit(1)
    versioned = sum(1 for versions in pack.versions.values() if len(versions) > 1)
    translated = sum(len(by_lang) for by_lang in pack.translations.values())
    extra = (f", {versioned} câu hỏi có phiên bản theo ngày" if versioned else "") + \
            (f", {translated} bản dịch" if translated else "")
    click.echo(f"Nội dung hợp lệ: {len(pack.entries)} câu hỏi, {len(pack.campaigns)} chiến dịch, "
               f"{len(contests)} cuộc thi, {warnings} cảnh báo{extra}.", err=True)


@content.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def content_list(ctx: click.Context, as_json: bool) -> None:
    """Liệt kê các câu hỏi theo chủ đề."""
    app = _build(ctx, persistent=False)
    pack = app.content.current.pack
    if as_json:
        from bot.content.review import entries_json

        click.echo(json.dumps(entries_json(pack), ensure_ascii=False, indent=2))
        return
    for category in pack.categories:
        entries = pack.in_category(category.id)
        click.echo(f"{category.title} ({len(entries)})")
        for e in entries:
            click.echo(f"  {e.id:28} {e.title}")


@content.command("due")
@click.option("--days", default=30, show_default=True, type=click.IntRange(0, 3650),
              help="cả những mục đến hạn rà soát trong chừng này ngày tới")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.pass_context
def content_due(ctx: click.Context, days: int, path: Path | None) -> None:
    """Các mục đã quá hạn hoặc sắp đến hạn rà soát (review_by, mặc định một năm sau updated)."""
    from bot.content.loader import load_pack
    from bot.content.review import due

    settings = _settings(ctx)
    pack, problems = load_pack(path or settings.content.path, settings.office.template_values())
    if pack is None:
        for problem in problems:
            click.echo(str(problem), err=True)
        ctx.exit(1)
    found = due(pack, days)
    for item in found:
        when = (f"quá hạn {-item.days_left} ngày" if item.overdue else
                "đến hạn hôm nay" if item.days_left == 0 else f"còn {item.days_left} ngày")
        click.echo(f"{item.entry.review_by:%d/%m/%Y}  {when:18} {item.entry.path}  {item.entry.title}")
    overdue = sum(1 for item in found if item.overdue)
    click.echo(f"{len(found)} mục cần rà soát trong {days} ngày tới ({overdue} mục quá hạn).", err=True)


@main.group()
def campaigns() -> None:
    """Lịch truyền thông theo kế hoạch (content/campaigns/)."""


@campaigns.command("list")
@click.option("--count", default=3, show_default=True, help="số lần gửi sắp tới của mỗi chiến dịch")
@click.pass_context
def campaigns_list(ctx: click.Context, count: int) -> None:
    """Các chiến dịch, những lần gửi sắp tới (giờ Việt Nam) và các ngày nghỉ lễ không gửi."""
    from bot.content.loader import TIMEZONE
    from handlers.announcements.campaigns import next_fire_times

    app = _build(ctx, persistent=False)
    now = dt.datetime.now(dt.UTC)
    holidays = app.settings.holidays
    for campaign in app.content.current.pack.campaigns.values():
        times = next_fire_times(campaign, now, count, holidays.dates())
        when = ", ".join(t.strftime("%d/%m/%Y %H:%M") for t in times) or "không còn lần gửi nào"
        click.echo(f"{campaign.id:28} [{campaign.topic}] {campaign.title}\n{'':28} {when}")
    today = now.astimezone(TIMEZONE).date()
    coming = holidays.upcoming(today, today + dt.timedelta(days=366))
    if coming:
        click.echo("Ngày nghỉ lễ, không gửi chiến dịch ([holidays]):")
    for holiday in coming:
        span = f"{holiday.start:%d/%m/%Y}" + (f"–{holiday.end:%d/%m/%Y}" if holiday.end else "")
        click.echo(f"  {span:23} {holiday.name}")


@main.group()
def db() -> None:
    """Cơ sở dữ liệu."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Nâng cấp lược đồ cơ sở dữ liệu lên phiên bản mới nhất (cũng tự chạy khi khởi động)."""
    from bot.storage.db import upgrade

    settings = _settings(ctx)
    upgrade(settings.database.url)
    click.echo("Cơ sở dữ liệu đã ở phiên bản mới nhất.")


@db.command("backup")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="tệp sao lưu sẽ tạo (không ghi đè tệp đã có)")
@click.pass_context
def db_backup(ctx: click.Context, out: Path) -> None:
    """Sao lưu cơ sở dữ liệu khi bot đang chạy (SQLite); với PostgreSQL in lệnh pg_dump."""
    from bot import backup
    from bot.storage.db import is_sqlite

    settings = _settings(ctx)
    if not is_sqlite(settings.database.url):
        click.echo(backup.pg_dump_hint(settings.database.url, out))
        ctx.exit(2)  # nothing was written: a script must not take this for a backup
    try:
        copied = backup.backup_sqlite(settings.database.url, out)
    except (backup.BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Đã sao lưu vào {copied.path} ({sum(copied.tables.values())} dòng, "
               f"{len(copied.tables)} bảng, kiểm tra toàn vẹn: tốt).")


@db.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def db_restore(ctx: click.Context, file: Path) -> None:
    """Khôi phục từ bản sao lưu (SQLite); từ chối khi bot đang chạy trên cơ sở dữ liệu này."""
    from bot import backup
    from bot.storage.db import is_sqlite

    settings = _settings(ctx)
    if not is_sqlite(settings.database.url):
        click.echo(backup.pg_restore_hint(settings.database.url, file))
        ctx.exit(2)
    try:
        copied = backup.restore_sqlite(settings.database.url, file)
    except (backup.BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Đã khôi phục {copied.path} từ {file} ({sum(copied.tables.values())} dòng). Bản cũ "
               "được giữ bên cạnh (.before-restore-...). Khởi động bot: lược đồ tự nâng cấp nếu cần.")


@main.group()
def zalo() -> None:
    """Zalo Official Account (OA)."""


@zalo.command("authorize")
@click.option("--redirect-uri", required=True,
              help="địa chỉ callback đã khai báo cho ứng dụng trên developers.zalo.me")
@click.option("--code", help="mã code (hoặc cả địa chỉ được chuyển tới); bỏ trống để được hỏi")
@click.pass_context
def zalo_authorize(ctx: click.Context, redirect_uri: str, code: str | None) -> None:
    """Cấp quyền cho bot gửi tin qua Zalo OA và lưu token vào cơ sở dữ liệu (OAuth v4, PKCE)."""
    import secrets

    from bot.channels import zalo_api
    from bot.channels.zalo_tokens import TokenUnavailable, exchange_and_store

    settings = _settings(ctx)
    if not settings.zalo.app_id or settings.secrets.zalo_app_secret is None:
        raise click.ClickException("cần zalo.app_id (cấu hình) và CCHC_ZALO_APP_SECRET (biến môi trường)")
    verifier, challenge = zalo_api.make_pkce()
    state = secrets.token_urlsafe(16)
    url = zalo_api.permission_url(settings.zalo.oauth_base_url, settings.zalo.app_id,
                                  redirect_uri, challenge, state)
    click.echo("1. Đăng nhập Zalo bằng tài khoản quản trị OA rồi mở liên kết sau để cấp quyền:\n")
    click.echo(f"   {url}\n")
    click.echo("2. Zalo chuyển tới địa chỉ callback kèm tham số code=...; "
               "dán mã code đó (hoặc cả địa chỉ) vào đây.")
    pasted = code if code is not None else click.prompt("Mã code", prompt_suffix=": ")
    try:
        auth_code = zalo_api.code_from(pasted, state)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        token = asyncio.run(exchange_and_store(settings, auth_code, verifier))
    except zalo_api.TokenRejected as exc:
        raise click.ClickException(f"Zalo từ chối mã code ({exc}). Mã chỉ dùng được một lần "
                                   "và hết hạn sau ít phút: hãy chạy lại lệnh.") from exc
    except (zalo_api.ZaloTransportError, TokenUnavailable) as exc:
        raise click.ClickException(f"không lấy được token: {exc}") from exc
    click.echo(f"Đã lưu token Zalo (phiên bản {token.version}), access token hết hạn lúc "
               f"{token.expires_at:%d/%m/%Y %H:%M} UTC. Bot đang chạy sẽ tự dùng token mới và "
               "tự gia hạn về sau.")


# The features' and channels' sub-commands, registered here, at the top.
main.add_command(dossiers)
main.add_command(qr)
main.add_command(broadcast)
main.add_command(contest)
main.add_command(report)
content.add_command(content_gaps)
main.add_command(doctor)
content.add_command(content_export)
content.add_command(content_import)
main.add_command(admin)
main.add_command(messenger)  # the Messenger channel's `messenger setup`


if __name__ == "__main__":
    main()
