"""``cchc-bot admin``: dashboard accounts (create, list, set a password, disable, enable)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlmodel import select

from bot.cli_support import load as _settings
from bot.dashboard import auth
from bot.storage.models import AdminUser


def _password(confirm: bool = True) -> str:
    """Asked twice without echo on a terminal; otherwise the first line of standard input."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("cần mật khẩu ở dòng đầu của đầu vào chuẩn")
        return line.rstrip("\r\n")
    return click.prompt("Mật khẩu", hide_input=True, confirmation_prompt=confirm and "Nhập lại mật khẩu")


def _run(ctx: click.Context, work: Callable[[Any], Awaitable[None]]) -> None:
    from bot.storage import db as storage

    settings = _settings(ctx)

    async def go() -> None:
        storage.upgrade(settings.database.url)
        database = storage.Database(settings.database.url)
        try:
            async with database.session() as session:
                await work(session)
        finally:
            await database.dispose()

    try:
        asyncio.run(go())
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from exc


async def _user(session: Any, username: str) -> AdminUser:
    name = auth.normalize_username(username)
    user = (await session.exec(select(AdminUser).where(AdminUser.username == name))).first()
    if user is None:
        raise auth.AuthError(f"không có tài khoản {name}")
    return user


@click.group()
def admin() -> None:
    """Tài khoản trang quản trị (http://.../admin)."""


@admin.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(auth.ROLES), required=True,
              help="admin: mọi trang và tài khoản; official: thông báo, phản ánh, báo cáo; "
                   "editor: nội dung")
@click.pass_context
def create_user(ctx: click.Context, username: str, role: str) -> None:
    """Tạo tài khoản USERNAME. Mật khẩu được hỏi (hoặc đọc ở dòng đầu đầu vào chuẩn)."""
    try:
        name = auth.check_username(username)  # before asking for a password that would be wasted
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from exc
    password = _password()
    try:
        auth.check_password(password)
    except auth.AuthError as exc:
        raise click.ClickException(str(exc)) from exc

    async def work(session: Any) -> None:
        user = await auth.create_user(session, name, password, role)
        await session.commit()
        click.echo(f"Đã tạo tài khoản {user.username} ({auth.ROLE_LABELS[user.role]}).")

    _run(ctx, work)


@admin.command("set-password")
@click.argument("username")
@click.pass_context
def set_password(ctx: click.Context, username: str) -> None:
    """Đặt mật khẩu mới cho USERNAME (các phiên đăng nhập cũ bị đóng)."""
    password = _password()

    async def work(session: Any) -> None:
        user = await _user(session, username)
        await auth.set_password(session, user, password)
        await session.commit()
        click.echo(f"Đã đặt mật khẩu mới cho {user.username}.")

    _run(ctx, work)


@admin.command("disable")
@click.argument("username")
@click.pass_context
def disable(ctx: click.Context, username: str) -> None:
    """Khóa tài khoản USERNAME (đăng xuất ngay mọi phiên)."""

    async def work(session: Any) -> None:
        user = await _user(session, username)
        user.disabled = True
        session.add(user)
        await auth.end_sessions(session, user.id)  # type: ignore[arg-type]
        await session.commit()
        click.echo(f"Đã khóa tài khoản {user.username}.")

    _run(ctx, work)


@admin.command("enable")
@click.argument("username")
@click.pass_context
def enable(ctx: click.Context, username: str) -> None:
    """Mở khóa tài khoản USERNAME."""

    async def work(session: Any) -> None:
        user = await _user(session, username)
        user.disabled = False
        session.add(user)
        await session.commit()
        click.echo(f"Đã mở khóa tài khoản {user.username}.")

    _run(ctx, work)


@admin.command("list-users")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """Liệt kê các tài khoản."""

    async def work(session: Any) -> None:
        rows = (await session.exec(select(AdminUser).order_by(AdminUser.username))).all()
        if not rows:
            click.echo("Chưa có tài khoản nào. Tạo bằng: cchc-bot admin create-user TÊN --role admin")
        for user in rows:
            state = "đã khóa" if user.disabled else "hoạt động"
            click.echo(f"{user.username:24} {user.role:9} {state}")

    _run(ctx, work)
