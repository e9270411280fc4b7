"""``cchc-bot contest check|results`` (registered on the main group in bot/cli.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli_support import load as _settings

if TYPE_CHECKING:
    from bot.config import Settings
    from handlers.contest.contests import Contest
    from handlers.contest.service import Ranked


@click.group()
def contest() -> None:
    """Cuộc thi tìm hiểu về cải cách hành chính (content/contests/)."""


@contest.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def contest_check(ctx: click.Context, file: Path | None) -> None:
    """Kiểm tra tệp cuộc thi FILE (mặc định: mọi tệp trong content/contests/); in 'tệp:dòng: lỗi'."""
    from handlers.contest.contests import contest_files, load_contest

    files = [file] if file is not None else contest_files(_settings(ctx).content.path)
    if not files:
        click.echo("Chưa có tệp cuộc thi nào trong content/contests/.", err=True)
        return
    errors = 0
    for path in files:
        found, problems = load_contest(path)
        for problem in problems:
            click.echo(str(problem))
        errors += len(problems)
        if found is not None:
            click.echo(f"{path}: hợp lệ: «{found.title}», {len(found.questions)} câu hỏi.", err=True)
    if errors:
        click.echo(f"Có {errors} lỗi. Bot sẽ không mở cuộc thi có lỗi cho tới khi sửa xong.", err=True)
        ctx.exit(1)


@contest.command("results")
@click.argument("contest_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="ghi ra tệp (mặc định: in CSV ra màn hình; xlsx cần --out)")
@click.option("--personal", is_flag=True,
              help="ghi đủ họ tên, số điện thoại (cho Ban tổ chức trao giải); mặc định: che bớt")
@click.pass_context
def contest_results(ctx: click.Context, contest_id: str, fmt: str, out: Path | None, personal: bool) -> None:
    """Bảng xếp hạng cuộc thi CONTEST_ID: điểm, rồi các tiêu chí phụ của thể lệ (dự đoán, thời
    gian làm bài, ai hoàn thành trước)."""
    from handlers.contest.results import to_csv, to_xlsx
    from handlers.contest.service import contests

    settings = _settings(ctx)
    found = contests(settings.content.path).get(contest_id)
    if found is None:
        raise click.ClickException(f"không có cuộc thi '{contest_id}' hợp lệ trong content/contests/ "
                                   "(chạy 'cchc-bot contest check')")
    if fmt == "xlsx" and out is None:
        raise click.ClickException("định dạng xlsx cần --out TỆP")
    rows = asyncio.run(_ranking(settings, found))
    if fmt == "xlsx":
        assert out is not None
        out.write_bytes(to_xlsx(rows, found.title, personal))
    elif out is not None:
        out.write_text(to_csv(rows, personal), encoding="utf-8-sig")  # the BOM: Excel reads UTF-8 then
    else:
        click.echo(to_csv(rows, personal), nl=False)
    if out is not None:
        click.echo(f"Đã ghi {len(rows)} người dự thi vào {out}.", err=True)


async def _ranking(settings: Settings, found: Contest) -> list[Ranked]:
    from bot.storage import db as storage
    from handlers.contest.service import ranking

    storage.upgrade(settings.database.url)
    database = storage.Database(settings.database.url)
    try:
        async with database.session() as session:
            return await ranking(session, found)
    finally:
        await database.dispose()
