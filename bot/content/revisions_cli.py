"""``cchc-bot content export|import``: the content revisions as the Markdown files editors
and git users know (see bot.content.revisions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.cli_support import build
from bot.content import revisions


@click.command("export")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.pass_context
def content_export(ctx: click.Context, folder: Path) -> None:
    """Ghi bản nội dung đang dùng (trong cơ sở dữ liệu) ra thư mục FOLDER, tệp nào bỏ thì xóa."""
    app = build(ctx)

    async def export() -> tuple[int, revisions.Files]:
        try:
            await revisions.seed(app.database, Path(app.settings.content.path))
            return await revisions.head(app.database), await revisions.current_texts(app.database)
        finally:
            await app.close()

    newest, files = asyncio.run(export())
    folder.mkdir(parents=True, exist_ok=True)
    stale = [p for p in revisions.read_folder(folder) if p not in files]
    for path in stale:
        (folder / path).unlink()
    revisions.write_folder(files, folder)
    click.echo(f"Đã ghi bản #{newest}: {len(files)} tệp vào {folder}" + (f", xóa {len(stale)} tệp không còn dùng"
                                                                       if stale else "") + ".")


@click.command("import")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--reason", default="Nhập tệp bằng cchc-bot content import", show_default=True,
              help="lý do, ghi vào lịch sử")
@click.pass_context
def content_import(ctx: click.Context, folder: Path, reason: str) -> None:
    """Đưa các tệp trong FOLDER vào một bản nội dung mới (tệp nào khác bản đang dùng).

    Tệp có trong cơ sở dữ liệu mà không có trong FOLDER được giữ nguyên. Nội dung có lỗi thì
    không nhập gì cả. Bản bị thay vẫn còn trong lịch sử."""
    app = build(ctx)
    try:
        files = revisions.read_folder(folder)
    except revisions.RevisionError as exc:
        raise click.ClickException(str(exc)) from exc

    async def take_in() -> revisions.ContentRevision | None:
        try:
            await revisions.seed(app.database, Path(app.settings.content.path))
            return await revisions.import_files(app.database, files, author="cli:import", kind="import",
                                                reason=reason, values=app.content.values, params=app.content.params,
                                                apart_from=app.content.apart_from_files)
        finally:
            await app.close()

    try:
        row = asyncio.run(take_in())
    except revisions.RevisionError as exc:
        raise click.ClickException(str(exc)) from exc
    if row is None:
        click.echo("Không có tệp nào khác bản đang dùng: không tạo bản mới.")
        return
    click.echo(f"Đã tạo bản #{row.id} với {len(row.changes)} tệp: {', '.join(sorted(row.changes))}.")
    click.echo("Các máy chủ đang chạy sẽ dùng bản này sau vài giây.")
