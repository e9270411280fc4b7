"""``cchc-bot broadcast send|status|cancel`` (registered on the main group in bot/cli.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from bot.cli_support import build as _build
from bot.ports import push_windows
from bot.storage.models import utcnow
from handlers.announcements import service
from handlers.announcements.service import (
    DELIVERY_LABELS,
    STATUS_LABELS,
    BroadcastError,
    Progress,
    local,
    progress_bar,
    quiet_until,
)

SHOWN = ("sent", "failed", "blocked", "ineligible", "unknown", "pending")  # always listed




def _run(ctx: click.Context, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(app)`` against the configured database, turning BroadcastError into a message."""
    app = _build(ctx)

    async def go() -> Any:
        try:
            return await work(app)
        finally:
            await app.close()

    try:
        return asyncio.run(go())
    except BroadcastError as exc:
        raise click.ClickException(str(exc)) from exc


def _when(moment) -> str:  # noqa: ANN001
    return local(moment).strftime("%d/%m/%Y %H:%M")


def _counts_line(item: Progress) -> str:
    parts = [f"{DELIVERY_LABELS[s]} {item.counts.get(s, 0)}" for s in SHOWN]
    parts += [
        f"{DELIVERY_LABELS[s]} {n}" for s, n in sorted(item.counts.items()) if s not in SHOWN and n
    ]
    return " · ".join(parts)


def _summary_line(item: Progress) -> str:
    row = item.broadcast
    when = _when(row.send_at or row.created_at)
    return (
        f"#{row.id:<5} {STATUS_LABELS.get(row.status, row.status):<22} {row.topic:<20} {when}  "
        f"[{progress_bar(item, 20)}] {item.share:4.0%}  {item.finished}/{item.total}"
    )


@click.group()
def broadcast() -> None:
    """Thông báo tới người đăng ký: gửi, xem tiến độ, hủy."""


@broadcast.command("send")
@click.option("--topic", required=True, help="chủ đề (id trong content/topics.yaml)")
@click.option(
    "--file",
    "file",
    required=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="nội dung thông báo (Markdown; dùng được {{ office.* }})",
)
@click.option("--at", "at", help='thời điểm gửi, giờ Việt Nam: "2026-01-05 08:00" (mặc định: ngay)')
@click.option(
    "--channels",
    default=",".join(service.PUSH_CHANNELS),
    show_default=True,
    help="các kênh, cách nhau bởi dấu phẩy",
)
@click.option("--urgent", is_flag=True, help="khẩn: gửi cả trong giờ yên lặng")
@click.option(
    "--heading/--no-heading",
    default=True,
    show_default=True,
    help='thêm dòng tiêu đề "📢 <tên chủ đề>" ở đầu (như thông báo soạn trên Telegram)',
)
@click.option(
    "--preview", is_flag=True, help="chỉ xem trước nội dung và số người nhận, không ghi nhận"
)
@click.pass_context
def send(
    ctx: click.Context,
    topic: str,
    file: Path,
    at: str | None,
    channels: str,
    urgent: bool,
    heading: bool,
    preview: bool,
) -> None:
    """Ghi nhận một thông báo để bộ gửi gửi tới người đăng ký chủ đề TOPIC."""
    body = file.read_text(encoding="utf-8-sig")

    async def work(app) -> None:  # noqa: ANN001
        settings = app.settings
        found = next((t for t in app.content.current.pack.topics if t.id == topic), None)
        if found is None:
            known = ", ".join(t.id for t in app.content.current.pack.topics)
            raise BroadcastError(f"không có chủ đề '{topic}' (có: {known})")
        send_at = service.parse_local_time(at) if at else None
        now = utcnow()
        if send_at is not None and send_at < now - dt.timedelta(minutes=5):
            raise BroadcastError(f"thời điểm {_when(send_at)} đã qua")
        chosen = service.check_channels(channels.split(","))
        office = settings.office.template_values()
        text = service.announcement_text(found.title if heading else None, body, office)
        service.check_text(text, chosen)
        async with app.database.session() as session:
            reach = await service.audience(session, topic, chosen)
            windows = push_windows(["zalo"] if settings.zalo.promotion_enabled else [])
            inside = await service.audience(session, topic, chosen, now, windows)
            if preview:
                click.echo(text)
                click.echo("\n" + "-" * 40)
            else:
                row = await service.create_broadcast(
                    session,
                    author=f"cli:{getpass.getuser()}",
                    topic=topic,
                    body=body,
                    channels=chosen,
                    send_at=send_at,
                    urgent=urgent,
                    title=found.title if heading else None,
                    office=office,
                )
                await session.commit()
                click.echo(f"Đã ghi nhận thông báo số {row.id} (chủ đề: {found.title}).")
            sender = await service.lease_holder(session, "sender")
        click.echo("Gửi lúc: " + (f"{_when(send_at)} (giờ Việt Nam)" if send_at else "ngay"))
        click.echo("Người nhận hiện có: " + ", ".join(f"{c} {reach.get(c, 0)}" for c in chosen))
        outside = {c: reach.get(c, 0) - inside.get(c, 0) for c in chosen if c in windows}
        if any(outside.values()):
            click.echo("Ngoài thời hạn kênh cho phép gửi (sẽ ghi là 'không gửi được'): " + ", ".join(
                f"{c} {n}" for c, n in outside.items() if n))
        cfg = settings.broadcast
        held = quiet_until(send_at or now, cfg.quiet_start, cfg.quiet_end)
        if held is not None and not urgent:
            click.echo(
                f"Lưu ý: giờ yên lặng {cfg.quiet_start:%H:%M}–{cfg.quiet_end:%H:%M}: thông báo sẽ "
                f"được gửi lúc {_when(held)} (dùng --urgent để gửi ngay)."
            )
        if not preview:
            if sender is None:
                click.echo(
                    "Cảnh báo: hiện không có tiến trình nào đang gửi thông báo (cchc-bot run với "
                    "[broadcast] sender = true); thông báo sẽ được gửi khi bot chạy.",
                    err=True,
                )
            click.echo(f"Theo dõi: cchc-bot broadcast status {row.id}")

    _run(ctx, work)


@broadcast.command("status")
@click.argument("broadcast_id", required=False, type=int)
@click.option(
    "--limit", default=10, show_default=True, help="số thông báo gần nhất (khi không có ID)"
)
@click.option("--watch", is_flag=True, help="cập nhật liên tục tới khi gửi xong")
@click.pass_context
def status(ctx: click.Context, broadcast_id: int | None, limit: int, watch: bool) -> None:
    """Tiến độ một thông báo (ID), hoặc các thông báo gần nhất."""

    async def work(app) -> None:  # noqa: ANN001
        if broadcast_id is None:
            async with app.database.session() as session:
                items = await service.recent(session, limit)
            if not items:
                click.echo("Chưa có thông báo nào.")
            for item in items:
                click.echo(_summary_line(item))
            return
        tty = sys.stdout.isatty()
        first = True
        while True:
            async with app.database.session() as session:
                item = await service.progress(session, broadcast_id)
            if item is None:
                raise BroadcastError(f"không có thông báo số {broadcast_id}")
            if first:
                _details(item)
                first = False
            line = (f"[{progress_bar(item)}] {item.share:4.0%}  {item.finished}/{item.total}   "
                    + _counts_line(item))
            if not watch or item.broadcast.status not in ("scheduled", "sending"):
                click.echo(("\r" if tty and watch else "") + line)
                break
            click.echo(("\r" + line) if tty else line, nl=not tty)
            await asyncio.sleep(2)
        if item.by_channel and len(item.by_channel) > 1:
            for channel, counts in sorted(item.by_channel.items()):
                click.echo(
                    f"  {channel}: "
                    + " · ".join(f"{DELIVERY_LABELS[s]} {n}" for s, n in sorted(counts.items()))
                )
        unknown = item.counts.get("unknown", 0)
        if unknown:
            click.echo(
                f"{unknown} tin chưa rõ đã tới người nhận hay chưa (bộ gửi dừng đột ngột khi đang "
                "gửi); không gửi lại tự động."
            )

    _run(ctx, work)


def _details(item: Progress) -> None:
    row = item.broadcast
    click.echo(f"Thông báo số {row.id}: {STATUS_LABELS.get(row.status, row.status)}")
    click.echo(
        f"Chủ đề: {row.topic} · Kênh: {', '.join(row.channels)} · Người tạo: {row.author}"
        + (" · KHẨN" if row.urgent else "")
    )
    if row.campaign_id:
        click.echo(f"Chiến dịch: {row.campaign_id}, lần gửi {_when(row.fire_time)}")
    click.echo("Hẹn gửi: " + (f"{_when(row.send_at)} (giờ Việt Nam)" if row.send_at else "ngay"))


@broadcast.command("cancel")
@click.argument("broadcast_id", type=int)
@click.pass_context
def cancel(ctx: click.Context, broadcast_id: int) -> None:
    """Hủy một thông báo; nếu đang gửi thì dừng: người chưa nhận sẽ không nhận nữa."""

    async def work(app) -> None:  # noqa: ANN001
        async with app.database.session() as session:
            _, cancelled = await service.cancel_broadcast(session, broadcast_id)
            await session.commit()
        click.echo(
            f"Đã hủy thông báo số {broadcast_id}"
            + (f"; {cancelled} người nhận chưa được gửi sẽ không nhận nữa." if cancelled else ".")
        )

    _run(ctx, work)
