"""``cchc-bot contest check|results|draw|draws`` (registered on the main group in bot/cli.py)."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from bot.cli_support import load as _settings
from bot.clock import local

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.config import Settings
    from bot.storage.models import ContestDraw
    from handlers.contest.contests import Contest
    from handlers.contest.service import Ranked

T = TypeVar("T")


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
    from handlers.contest.service import ranking

    settings, found = named_contest(ctx, contest_id)
    if fmt == "xlsx" and out is None:
        raise click.ClickException("định dạng xlsx cần --out TỆP")
    rows = asyncio.run(_with_session(settings, lambda session: ranking(session, found)))
    if fmt == "xlsx":
        assert out is not None
        out.write_bytes(to_xlsx(rows, found.title, personal))
    elif out is not None:
        out.write_text(to_csv(rows, personal), encoding="utf-8-sig")  # the BOM: Excel reads UTF-8 then
    else:
        click.echo(to_csv(rows, personal), nl=False)
    if out is not None:
        click.echo(f"Đã ghi {len(rows)} người dự thi vào {out}.", err=True)


@contest.command("draw")
@click.argument("contest_id")
@click.option("--seed", help="hạt giống bốc thăm (mặc định: ngẫu nhiên); cùng hạt giống, cùng kết quả")
@click.pass_context
def contest_draw(ctx: click.Context, contest_id: str, seed: str | None) -> None:
    """Bốc thăm trúng thưởng cuộc thi CONTEST_ID theo thể lệ (mục 'draw'), sau khi cuộc thi kết
    thúc; ghi lại danh sách bốc thăm và hạt giống để Ban giám khảo kiểm tra lại."""
    from handlers.contest import draw as draws
    from handlers.contest.service import ranking

    settings, found = named_contest(ctx, contest_id)

    async def make(session: AsyncSession) -> tuple[ContestDraw, list[Ranked]]:
        row = await draws.draw(session, found, drawn_by=f"cli:{getpass.getuser()}", seed=seed)
        await session.commit()
        return row, await ranking(session, found)

    try:
        row, ranked = asyncio.run(_with_session(settings, make))
    except draws.DrawError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Bốc thăm cuộc thi «{found.title}»: {len(row.pool)} người trong diện bốc thăm, "
               f"hạt giống {row.seed}.")
    _echo_winners(row, ranked)
    click.echo(f"Kiểm tra lại: random.Random('{row.seed}').sample(danh_sách, {len(row.winners)}) với danh "
               f"sách theo thứ tự xếp hạng: {', '.join(row.pool)}.")


@contest.command("draws")
@click.argument("contest_id")
@click.pass_context
def contest_draws(ctx: click.Context, contest_id: str) -> None:
    """Các lần bốc thăm đã ghi của cuộc thi CONTEST_ID, mỗi lần được bốc lại từ hạt giống để đối chiếu."""
    from handlers.contest import draw as draws
    from handlers.contest.service import ranking

    settings, found = named_contest(ctx, contest_id)

    async def read(session: AsyncSession) -> tuple[list[ContestDraw], list[Ranked]]:
        return await draws.history(session, found.id), await ranking(session, found)

    rows, ranked = asyncio.run(_with_session(settings, read))
    if not rows:
        click.echo(f"Cuộc thi «{found.title}» chưa bốc thăm lần nào.")
        return
    for row in rows:
        check = "khớp" if draws.replays(row) else "KHÔNG KHỚP"
        click.echo(f"Lần {row.id}: {local(row.drawn_at):%d/%m/%Y %H:%M}, {row.drawn_by}, hạt giống {row.seed}, "
                   f"{len(row.pool)} người trong diện bốc thăm; bốc lại từ hạt giống: {check}.")
        _echo_winners(row, ranked)


def _echo_winners(row: ContestDraw, ranked: list[Ranked]) -> None:
    from handlers.contest.results import FLAG_LABELS

    by_pseudonym = {r.participant: r for r in ranked}
    for number, winner in enumerate(row.winners, start=1):
        found = by_pseudonym.get(winner)
        line = f"  {number}. {winner}"
        if found is not None:
            line += f" (hạng {found.rank}, đúng {found.score}/{found.questions} câu)"
            if found.flags:
                line += " — cần xem xét: " + "; ".join(FLAG_LABELS.get(k, k) for k in found.flags)
        click.echo(line)


def named_contest(ctx: click.Context, contest_id: str) -> tuple[Settings, Contest]:
    """The settings and the valid contest file ``contest_id``, or a clear refusal."""
    from handlers.contest.service import contests

    settings = _settings(ctx)
    found = contests(settings.content.path).get(contest_id)
    if found is None:
        raise click.ClickException(f"không có cuộc thi '{contest_id}' hợp lệ trong content/contests/ "
                                   "(chạy 'cchc-bot contest check')")
    return settings, found


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from bot.storage import db as storage

    storage.upgrade(settings.database.url)
    database = storage.Database(settings.database.url)
    try:
        async with database.session() as session:
            return await work(session)
    finally:
        await database.dispose()
