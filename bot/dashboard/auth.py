"""Dashboard accounts, logins and sessions.

- Passwords are hashed with argon2 (argon2-cffi's recommended parameters); a login with an
  unknown username still runs one verification, so timing does not tell which usernames exist.
- A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS); the
  database keeps only its SHA-256, with the user and a CSRF token, so any worker can check it.
- Every POST carries the session's CSRF token (a hidden form field, or the X-CSRF-Token header).
- Failed logins are counted per username and per client address over a window; past the limit
  the login is refused before the password is even checked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Dashboard
from bot.storage.models import AdminSession, AdminUser, LoginAttempt, utcnow

ROLES = ("admin", "official", "editor")
ROLE_LABELS = {"admin": "Quản trị", "official": "Cán bộ", "editor": "Biên tập nội dung"}
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10
HASHER = PasswordHasher()
_DUMMY_HASH = HASHER.hash("cchc-bot: not a password")


class AuthError(Exception):
    """A refusal to show the official, in Vietnamese."""


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def check_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME.fullmatch(name):
        raise AuthError("tên đăng nhập gồm 2–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang "
                        "hoặc gạch dưới")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"mật khẩu cần ít nhất {MIN_PASSWORD} ký tự")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"vai trò không hợp lệ: {role} (có: {', '.join(ROLES)})")
    return role


def hash_password(password: str) -> str:
    check_password(password)
    return HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def create_user(session: AsyncSession, username: str, password: str, role: str) -> AdminUser:
    name = check_username(username)
    check_role(role)
    if (await session.exec(select(AdminUser).where(AdminUser.username == name))).first() is not None:
        raise AuthError(f"tài khoản {name} đã có")
    user = AdminUser(username=name, password_hash=await asyncio.to_thread(hash_password, password),
                     role=role, created_at=utcnow())
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, user: AdminUser, password: str) -> None:
    user.password_hash = await asyncio.to_thread(hash_password, password)
    session.add(user)
    await end_sessions(session, user.id)  # type: ignore[arg-type]


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.exec(delete(AdminSession).where(col(AdminSession.user_id) == user_id))  # type: ignore[call-overload]


# --- logins -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: AdminUser | None
    token: str | None = None
    csrf: str | None = None
    refused: str | None = None  # why, for the official (rate limit, wrong password...)
    limited: bool = False


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def _recent_failures(session: AsyncSession, config: Dashboard, username: str, address: str,
                           now: dt.datetime) -> tuple[int, int]:
    since = now - dt.timedelta(minutes=config.login_window_minutes)
    last_success = (await session.exec(select(func.max(LoginAttempt.created_at)).where(
        LoginAttempt.username == username, col(LoginAttempt.success).is_(True)))).one()
    user_since = max(since, _aware(last_success)) if last_success is not None else since
    per_user = (await session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, col(LoginAttempt.success).is_(False),
        LoginAttempt.created_at > user_since))).one()
    per_address = (await session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.address == address, col(LoginAttempt.success).is_(False),
        LoginAttempt.created_at > since))).one()
    return per_user, per_address


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def login(session: AsyncSession, config: Dashboard, username: str, password: str,
                address: str, now: dt.datetime | None = None) -> LoginResult:
    """Check a login; on success open a session. The caller commits."""
    now = now or utcnow()
    name = normalize_username(username)[:64]
    address = address[:64]
    per_user, per_address = await _recent_failures(session, config, name, address, now)
    if per_user >= config.max_failures_per_user or per_address >= config.max_failures_per_address:
        return LoginResult(None, limited=True, refused=(
            f"Dạ, đăng nhập sai quá nhiều lần. Anh/Chị vui lòng thử lại sau "
            f"{config.login_window_minutes} phút ạ."))
    user = (await session.exec(select(AdminUser).where(AdminUser.username == name))).first()
    good = await asyncio.to_thread(verify_password, user.password_hash if user else _DUMMY_HASH, password)
    ok = good and user is not None and not user.disabled
    session.add(LoginAttempt(created_at=now, username=name, address=address, success=ok))
    if not ok or user is None:
        await session.flush()
        reason = ("Dạ, tài khoản này đã bị khóa. Anh/Chị liên hệ quản trị viên ạ."
                  if good and user is not None and user.disabled
                  else "Dạ, tên đăng nhập hoặc mật khẩu chưa đúng ạ.")
        return LoginResult(None, refused=reason)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(HASHER.hash, password)
    user.last_login_at = now
    session.add(user)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(AdminSession(id=token_id(token), user_id=user.id, csrf_token=csrf, created_at=now,  # type: ignore[arg-type]
                             expires_at=now + dt.timedelta(hours=config.session_hours)))
    # Expired sessions and old attempts go away as new ones come in.
    await session.exec(delete(AdminSession).where(col(AdminSession.expires_at) < now))  # type: ignore[call-overload]
    await session.exec(delete(LoginAttempt).where(  # type: ignore[call-overload]
        col(LoginAttempt.created_at) < now - dt.timedelta(days=30)))
    await session.flush()
    return LoginResult(user, token=token, csrf=csrf)


@dataclass(frozen=True)
class Identity:
    """The logged-in official for one request."""

    user_id: int
    username: str
    role: str
    session_id: str
    csrf: str

    def may(self, roles: tuple[str, ...] | frozenset[str]) -> bool:
        return self.role in roles


async def identity(session: AsyncSession, token: str | None, now: dt.datetime | None = None) -> Identity | None:
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = (await session.exec(
        select(AdminSession, AdminUser).join(AdminUser, col(AdminUser.id) == AdminSession.user_id)
        .where(AdminSession.id == token_id(token)))).first()
    if row is None:
        return None
    found, user = row
    if _aware(found.expires_at) <= now or user.disabled:
        return None
    return Identity(user.id, user.username, user.role, found.id, found.csrf_token)  # type: ignore[arg-type]


async def logout(session: AsyncSession, session_id: str) -> None:
    await session.exec(delete(AdminSession).where(col(AdminSession.id) == session_id))  # type: ignore[call-overload]


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
