"""``cchc-bot dossiers ...`` and ``cchc-bot qr ...`` (registered on the main group in bot/cli.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli_support import load as _settings

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.content.model import FaqEntry
    from handlers.lookups.dossiers import DossierRow, ImportResult


@click.group()
def dossiers() -> None:
    """Danh sách hồ sơ từ hệ thống một cửa (để người dân tra cứu tình trạng)."""


@dossiers.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="chỉ kiểm tra tệp, không ghi vào cơ sở dữ liệu")
@click.pass_context
def dossiers_import(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Nhập tệp CSV (UTF-8, dấu phẩy hoặc chấm phẩy) hoặc XLSX xuất từ hệ thống một cửa.

    Tất cả hoặc không gì cả: tệp có dòng lỗi thì không thay đổi gì và liệt kê mọi dòng lỗi.
    Nhập lại cùng tệp không thay đổi gì; hồ sơ đổi trạng thái sẽ được báo cho người theo dõi.
    """
    from handlers.lookups.dossiers import ImportFileError, parse_file

    settings = _settings(ctx)
    try:
        parsed = parse_file(file, settings.lookup.columns)
    except ImportFileError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    if parsed.errors:
        for line, reason in parsed.errors:
            click.echo(f"{file.name}:{line}: {reason}", err=True)
        lines = len({line for line, _ in parsed.errors})
        raise click.ClickException(
            f"{lines} dòng có lỗi; chưa nhập gì. Sửa các dòng trên rồi nhập lại cả tệp.")
    if dry_run:
        click.echo(f"Tệp hợp lệ: {len(parsed.rows)} hồ sơ (chưa ghi gì vì --dry-run).")
        return
    result = asyncio.run(_import(settings, parsed.rows))
    click.echo(f"Đã nhập {len(parsed.rows)} hồ sơ: thêm mới {result.added}, thay đổi "
               f"{result.changed}, không đổi {result.unchanged}.")
    if result.status_changed:
        click.echo(f"{result.status_changed} hồ sơ đổi trạng thái; {result.watchers} người đang theo "
                   "dõi sẽ được bot nhắn tin báo (trong vài phút khi bot đang chạy).")


async def _import(settings: Settings, rows: Sequence[DossierRow]) -> ImportResult:
    from bot.storage import db as storage
    from handlers.lookups.dossiers import upsert

    storage.upgrade(settings.database.url)
    database = storage.Database(settings.database.url)
    try:
        async with database.session() as session:
            result = await upsert(session, rows)
            await session.commit()
    finally:
        await database.dispose()
    return result


@click.group()
def qr() -> None:
    """Mã QR dẫn tới câu trả lời: áp phích dán tại Bộ phận Một cửa, tờ rơi."""


def _entries(ctx: click.Context, ids: list[str]) -> tuple[Settings, list[FaqEntry]]:
    from bot.content.loader import load_pack

    settings = _settings(ctx)
    pack, _problems = load_pack(settings.content.path, settings.office.template_values())
    if pack is None:
        raise click.ClickException("nội dung có lỗi: chạy 'cchc-bot content check' để xem")
    unknown = [i for i in ids if i not in pack.entries]
    if unknown:
        raise click.ClickException(f"không có câu hỏi: {', '.join(unknown)} "
                                   "(xem danh sách bằng 'cchc-bot content list')")
    return settings, [pack.entries[i] for i in ids]


_TARGET = click.Choice(["all", "telegram", "zalo", "messenger"])


@qr.command("poster")
@click.option("--ids", help="các mã câu hỏi, cách nhau bằng dấu phẩy: khai-sinh,ket-hon")
@click.option("--contest", "contest_id", help="mã cuộc thi (content/contests/<mã>.yaml): áp phích mời dự thi")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="tệp .pdf (nhiều trang) hoặc .png (mỗi trang một tệp)")
@click.option("--per-page", type=click.Choice(["1", "2", "4"]), default="1", show_default=True,
              help="số mã mỗi trang A4: 1 để dán tường, 2 hoặc 4 để cắt làm tờ rơi")
@click.option("--target", type=_TARGET, default="all", show_default=True,
              help="mã QR mở Telegram, Zalo OA, Messenger, hoặc tất cả (khi đã cấu hình)")
@click.option("--caption", help="dòng chú thích dưới mã QR")
@click.pass_context
def qr_poster(ctx: click.Context, ids: str | None, contest_id: str | None, out: Path, per_page: str, target: str,
              caption: str | None) -> None:
    """Áp phích A4 in được: tên thủ tục và mã QR mở đúng câu trả lời (--ids), hoặc tên cuộc thi,
    đơn vị tổ chức, thời gian và mã QR mở cuộc thi (--contest)."""
    from handlers.contest.cli import named_contest
    from handlers.lookups.posters import (
        PosterError,
        contest_card,
        render_cards,
        render_pages,
        save_pages,
    )

    if (ids is None) == (contest_id is None):
        raise click.UsageError("cần đúng một trong --ids hoặc --contest")
    try:
        if contest_id is not None:
            settings, contest = named_contest(ctx, contest_id)
            pages = render_cards([contest_card(contest, settings, target, caption)] * int(per_page),
                                 settings, int(per_page))
            paths = save_pages(pages, out, contest.title)
            what = f"cuộc thi «{contest.title}»"
        else:
            assert ids is not None
            settings, entries = _entries(ctx, [i.strip() for i in ids.split(",") if i.strip()])
            pages = render_pages(entries, settings, int(per_page), target, caption)
            paths = save_pages(pages, out)
            what = f"{len(entries)} câu hỏi"
    except PosterError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in paths:
        click.echo(str(path))
    click.echo(f"Đã tạo {len(pages)} trang A4 cho {what}.", err=True)


@qr.command("make")
@click.argument("entry_id")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="tệp .png, .svg hoặc .pdf (mặc định: <ID>.png)")
@click.option("--target", type=click.Choice(["telegram", "zalo", "messenger"]), default="telegram",
              show_default=True)
@click.option("--scale", type=click.IntRange(1, 100), default=10, show_default=True,
              help="số điểm ảnh mỗi ô của mã QR")
@click.pass_context
def qr_make(ctx: click.Context, entry_id: str, out: Path | None, target: str, scale: int) -> None:
    """Một mã QR mở câu trả lời ENTRY_ID; in ra liên kết trong mã."""
    from handlers.lookups.posters import PosterError, targets
    from handlers.lookups.qr import make_qr

    settings, [entry] = _entries(ctx, [entry_id])
    try:
        [link] = targets(settings, entry, target)
    except PosterError as exc:
        raise click.ClickException(str(exc)) from exc
    out = out or Path(f"{entry.id}.png")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.ClickException("chỉ xuất .png, .svg hoặc .pdf")
    out.parent.mkdir(parents=True, exist_ok=True)
    make_qr(link.url).save(str(out), scale=scale, border=4)
    click.echo(link.url)
    click.echo(f"Đã lưu {out}", err=True)
