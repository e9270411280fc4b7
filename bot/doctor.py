"""``cchc-bot doctor``: is this deployment ready? Each check says what it found and, when something
is wrong, how to fix it; the exit status is 1 when any check found an error.

It reads and asks, never changes anything: no migration, no token refresh, no webhook set.
Checks: configuration, secrets, database (reachable, migrated), content, poster fonts, each
configured channel with its token (Telegram getMe and getWebhookInfo; the Zalo token pair in the
database), and the public address over HTTPS (``server.public_url``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
import click

from bot.config import ConfigError, Settings, load_settings

Level = Literal["ok", "warning", "error"]
LABELS = {"ok": "[OK]", "warning": "[CẢNH BÁO]", "error": "[LỖI]"}
TIMEOUT = aiohttp.ClientTimeout(total=10)
_TELEGRAM_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")  # quotes, spaces, a cut-off copy
MIN_SALT = 16  # characters: a short salt lets anyone rebuild pseudonyms from user ids


@dataclass
class Finding:
    level: Level
    what: str
    fix: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.findings.append(Finding("ok", what))

    def warning(self, what: str, fix: str = "") -> None:
        self.findings.append(Finding("warning", what, fix))

    def error(self, what: str, fix: str = "") -> None:
        self.findings.append(Finding("error", what, fix))

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")


# --- configuration and secrets ---------------------------------------------------------------


def check_secrets(settings: Settings, report: Report) -> None:
    from bot.storage.db import is_sqlite

    secrets = settings.secrets
    salt = secrets.pseudonym_salt
    shared = not is_sqlite(settings.database.url)
    if salt is None:
        if shared:
            report.error("chưa đặt CCHC_PSEUDONYM_SALT mà dùng PostgreSQL: mỗi máy sẽ tự tạo một salt "
                         "riêng, bí danh người dân trên các máy sẽ không khớp nhau",
                         "đặt cùng một CCHC_PSEUDONYM_SALT (hoặc CCHC_PSEUDONYM_SALT_FILE) trên mọi máy, "
                         "ví dụ giá trị của: openssl rand -hex 32")
        else:
            report.ok("salt bí danh: tự tạo trong data/pseudonym_salt (một máy, SQLite)")
    elif len(salt.get_secret_value()) < MIN_SALT:
        report.warning(f"CCHC_PSEUDONYM_SALT ngắn hơn {MIN_SALT} ký tự",
                       "dùng một chuỗi ngẫu nhiên dài, ví dụ: openssl rand -hex 32 (đổi salt làm mọi "
                       "bí danh cũ không còn khớp: chỉ đổi trước khi chạy thật)")
    else:
        report.ok("salt bí danh: có")
    token = secrets.telegram_token
    if token is not None and not _TELEGRAM_TOKEN.fullmatch(token.get_secret_value()):
        report.error("CCHC_TELEGRAM_TOKEN không đúng dạng <số>:<chuỗi> của Telegram",
                     "sao chép lại token từ @BotFather (lệnh /token), không có dấu cách hay dấu nháy")
    zalo = settings.zalo
    zalo_secrets = {"CCHC_ZALO_APP_SECRET": secrets.zalo_app_secret,
                    "CCHC_ZALO_OA_SECRET_KEY": secrets.zalo_oa_secret_key}
    if zalo.app_id:
        missing = [name for name, value in zalo_secrets.items() if value is None]
        if missing:
            report.error(f"zalo.app_id đã đặt nhưng thiếu {', '.join(missing)}: kênh Zalo sẽ không chạy",
                         "lấy App Secret ở developers.zalo.me (Cài đặt ứng dụng) và OA Secret Key ở mục "
                         "Webhook, đặt vào biến môi trường hoặc CCHC_SECRETS_FILE")
    elif any(value is not None for value in zalo_secrets.values()):
        report.warning("có bí mật Zalo nhưng chưa đặt zalo.app_id: kênh Zalo không chạy",
                       "đặt zalo.app_id (ID ứng dụng trên developers.zalo.me) trong config.toml")


# --- database, content, fonts ----------------------------------------------------------------


def check_database(settings: Settings, report: Report) -> bool:
    """Reachable and at the newest migration; True when the database can be read further."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage.db import MIGRATIONS, is_sqlite, sync_url

    url = settings.database.url
    shown = make_url(url).render_as_string(hide_password=True)
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:" and not Path(path).exists():
            report.warning(f"cơ sở dữ liệu {path} chưa có",
                           "bot tạo nó khi khởi động lần đầu (hoặc chạy cchc-bot db upgrade); nếu đã có "
                           "dữ liệu, kiểm tra database.url và thư mục làm việc của dịch vụ")
            return False
    engine = create_engine(sync_url(url), connect_args={} if is_sqlite(url) else {"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's own error, where there is one
        report.error(f"không kết nối được cơ sở dữ liệu {shown}: {type(cause).__name__}: "
                     f"{str(cause).strip().splitlines()[0]}",
                     "kiểm tra database.url (máy, cổng, tên, người dùng), mật khẩu, tường lửa, và "
                     "PostgreSQL đang chạy (systemctl status postgresql)")
        return False
    finally:
        engine.dispose()
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    if current == heads:
        report.ok(f"cơ sở dữ liệu {shown}: kết nối được, lược đồ mới nhất")
    elif not current:
        report.warning(f"cơ sở dữ liệu {shown}: chưa có bảng nào",
                       "chạy cchc-bot db upgrade (bot cũng tự làm khi khởi động)")
        return False
    else:
        report.error(f"cơ sở dữ liệu {shown}: lược đồ {', '.join(sorted(current))}, bản mới nhất là "
                     f"{', '.join(sorted(heads))}",
                     "chạy cchc-bot db upgrade (sao lưu trước: cchc-bot db backup --out FILE), hoặc "
                     "khởi động lại bot: nó tự nâng cấp")
    return True


def check_content(settings: Settings, report: Report) -> None:
    from bot.content.loader import load_pack

    pack, problems = load_pack(settings.content.path, settings.office.template_values())
    errors = [p for p in problems if not p.warning]
    if pack is None or errors:
        shown = "\n  ".join(str(p) for p in errors[:10])
        more = f"\n  ... và {len(errors) - 10} lỗi khác" if len(errors) > 10 else ""
        report.error(f"nội dung {settings.content.path}: {len(errors)} lỗi\n  {shown}{more}",
                     "sửa các tệp theo từng dòng trên (cchc-bot content check in đủ); bot đang chạy vẫn "
                     "dùng bản nội dung tốt gần nhất")
        return
    warnings = len(problems) - len(errors)
    report.ok(f"nội dung {settings.content.path}: {len(pack.entries)} câu hỏi, "
              f"{len(pack.campaigns)} chiến dịch, {warnings} cảnh báo")


def check_fonts(settings: Settings, report: Report) -> None:
    from handlers.lookups.posters import PosterError, find_fonts

    try:
        regular, _ = find_fonts(settings.lookup.poster_font)
    except PosterError as exc:
        if settings.lookup.poster_font is not None:
            report.error(f"phông chữ cho áp phích QR: {exc}", "sửa lookup.poster_font cho đúng tệp .ttf")
        else:
            report.warning(f"phông chữ cho áp phích QR: {exc}",
                           "apt-get install fonts-dejavu-core (chỉ cần cho cchc-bot qr poster)")
        return
    report.ok(f"phông chữ cho áp phích QR: {regular}")


# --- channels and the public address ---------------------------------------------------------


async def _telegram_call(session: aiohttp.ClientSession, settings: Settings, method: str) -> dict:
    assert settings.secrets.telegram_token is not None
    url = f"{settings.telegram.base_url}{settings.secrets.telegram_token.get_secret_value()}/{method}"
    async with session.get(url) as response:
        try:
            return await response.json(content_type=None)
        except ValueError:
            return {"ok": False, "error_code": response.status, "description": f"HTTP {response.status}"}


async def check_telegram(settings: Settings, session: aiohttp.ClientSession, report: Report) -> None:
    if settings.secrets.telegram_token is None:
        report.ok("Telegram: chưa bật (không có CCHC_TELEGRAM_TOKEN)")
        return
    try:
        me = await _telegram_call(session, settings, "getMe")
    except (aiohttp.ClientError, TimeoutError) as exc:
        report.error(f"Telegram: không gọi được {urlsplit(settings.telegram.base_url).netloc} "
                     f"({type(exc).__name__})",
                     "kiểm tra máy chủ ra được Internet (DNS, tường lửa, proxy) tới api.telegram.org cổng 443")
        return
    if not me.get("ok"):
        report.error(f"Telegram: getMe bị từ chối ({me.get('error_code')}: {me.get('description')})",
                     "token sai hoặc đã bị thu hồi: lấy token mới từ @BotFather rồi đặt CCHC_TELEGRAM_TOKEN")
        return
    username = me["result"].get("username")
    expected = settings.telegram.bot_username
    if expected and expected.lstrip("@").lower() != str(username).lower():
        report.error(f"Telegram: token là của @{username}, cấu hình ghi telegram.bot_username = {expected}",
                     "sửa telegram.bot_username (mã QR trên áp phích mở bot này) hoặc dùng đúng token")
    else:
        report.ok(f"Telegram: token hợp lệ, bot @{username}")
    info = (await _telegram_call(session, settings, "getWebhookInfo")).get("result") or {}
    registered, wanted = info.get("url") or "", settings.telegram.webhook_url
    pending = info.get("pending_update_count", 0)
    if wanted:
        if registered != wanted:
            report.warning(f"Telegram: webhook đăng ký là {registered or '(chưa có)'}, cấu hình là {wanted}",
                           "bot đăng ký webhook khi khởi động: khởi động lại bot (systemctl restart cchc-bot)")
        elif info.get("last_error_message"):
            when = dt.datetime.fromtimestamp(info.get("last_error_date", 0), dt.UTC)
            report.error(f"Telegram không gửi được tới webhook: {info['last_error_message']} "
                         f"(lúc {when:%d/%m/%Y %H:%M} UTC, {pending} tin đang chờ)",
                         "kiểm tra địa chỉ mở được từ Internet qua HTTPS với chứng chỉ hợp lệ, nginx/Caddy "
                         "chuyển đúng đường dẫn tới bot, và CCHC_TELEGRAM_WEBHOOK_SECRET không đổi")
        else:
            report.ok(f"Telegram: webhook {registered}, {pending} tin đang chờ")
    elif registered:
        report.warning(f"Telegram: đang có webhook {registered} nhưng bot cấu hình nhận tin bằng polling",
                       "bot gỡ webhook khi khởi động ở chế độ polling; nếu muốn webhook, đặt telegram.webhook_url")
    else:
        report.ok(f"Telegram: nhận tin bằng long polling, {pending} tin đang chờ")


def check_zalo(settings: Settings, report: Report, now: dt.datetime, readable: bool) -> None:
    """The token pair in the database (the running bot refreshes it; this only reads it)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage.db import sync_url
    from bot.storage.models import AuditEvent, OAuthToken

    zalo, secrets = settings.zalo, settings.secrets
    if not (zalo.app_id and secrets.zalo_app_secret and secrets.zalo_oa_secret_key):
        if not zalo.app_id:
            report.ok("Zalo: chưa bật (không có zalo.app_id)")
        return
    if not readable:
        report.warning("Zalo: chưa đọc được token (cơ sở dữ liệu chưa sẵn sàng, xem ở trên)")
        return
    authorize = "chạy cchc-bot zalo authorize --redirect-uri <địa chỉ callback của ứng dụng>"
    engine = create_engine(sync_url(settings.database.url))
    try:
        with engine.connect() as connection:
            token = connection.execute(select(OAuthToken.__table__).where(  # type: ignore[attr-defined]
                OAuthToken.__table__.c.provider == "zalo")).first()  # type: ignore[attr-defined]
            dead = connection.execute(select(AuditEvent.__table__.c.detail).where(  # type: ignore[attr-defined]
                AuditEvent.__table__.c.action == "zalo_token_dead")  # type: ignore[attr-defined]
                .order_by(AuditEvent.__table__.c.id.desc()).limit(1)).first()  # type: ignore[attr-defined]
    except SQLAlchemyError:
        report.warning("Zalo: chưa đọc được token (cơ sở dữ liệu chưa sẵn sàng, xem ở trên)")
        return
    finally:
        engine.dispose()

    def aware(value: dt.datetime | None) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value

    if token is None:
        if secrets.zalo_refresh_token is not None:
            report.ok("Zalo: chưa có token trong cơ sở dữ liệu; bot lấy CCHC_ZALO_REFRESH_TOKEN khi khởi động")
        else:
            report.error("Zalo: chưa cấp quyền cho bot (không có token)", authorize)
        return
    if dead is not None and dead[0].get("token_version") == token.version:
        report.error(f"Zalo: Zalo đã từ chối refresh token (lỗi {dead[0].get('error')}: {dead[0].get('message')})",
                     authorize + "; bot đang chạy tự dùng token mới")
        return
    refresh_expires = aware(token.refresh_expires_at)
    if refresh_expires is not None and refresh_expires <= now:
        report.error(f"Zalo: refresh token đã hết hạn lúc {refresh_expires:%d/%m/%Y %H:%M} UTC", authorize)
        return
    access_expires = aware(token.access_expires_at)
    assert access_expires is not None
    state = (f"access token còn hạn tới {access_expires:%d/%m/%Y %H:%M} UTC" if access_expires > now
             else "access token đã hết hạn (bot tự gia hạn khi chạy)")
    report.ok(f"Zalo: token phiên bản {token.version}, {state}")
    if refresh_expires is not None and refresh_expires - now < dt.timedelta(days=7):
        report.warning(f"Zalo: refresh token hết hạn lúc {refresh_expires:%d/%m/%Y %H:%M} UTC",
                       "để bot chạy (nó tự gia hạn), hoặc " + authorize)


async def check_public_url(settings: Settings, session: aiohttp.ClientSession, report: Report) -> None:
    url = settings.server.public_url or ""
    if not url:
        webhook = settings.telegram.webhook_url
        if not webhook:
            report.ok("địa chỉ công khai: chưa đặt server.public_url (không kiểm tra HTTPS)")
            return
        parts = urlsplit(webhook)
        url = f"{parts.scheme}://{parts.netloc}"
    base = url.rstrip("/")
    if urlsplit(base).scheme != "https":
        report.error(f"địa chỉ công khai {base} không dùng https",
                     "Telegram, Zalo và trình duyệt cần HTTPS: đặt nginx hoặc Caddy phía trước (deploy/) và "
                     "dùng https:// trong server.public_url / telegram.webhook_url")
        return
    try:
        async with session.get(base + "/livez") as response:
            status = response.status
        async with session.get(base + "/metrics") as response:
            metrics = response.status
    except aiohttp.ClientConnectorCertificateError as exc:
        report.error(f"địa chỉ công khai {base}: chứng chỉ HTTPS không hợp lệ ({exc.certificate_error})",
                     "cấp chứng chỉ Let's Encrypt (certbot --nginx, hoặc Caddy tự làm) và kiểm tra tên miền")
        return
    except (aiohttp.ClientError, TimeoutError) as exc:
        report.error(f"địa chỉ công khai {base}: không kết nối được ({type(exc).__name__})",
                     "kiểm tra DNS trỏ về máy chủ, cổng 443 mở, nginx/Caddy đang chạy")
        return
    if status != 200:
        report.error(f"địa chỉ công khai {base}/livez trả lời {status}",
                     "kiểm tra nginx/Caddy chuyển tiếp tới cchc-bot run (proxy_pass) và bot đang chạy")
        return
    report.ok(f"địa chỉ công khai {base}: trả lời qua HTTPS")
    if metrics == 200:
        report.warning(f"{base}/metrics mở ra Internet",
                       "chặn /metrics ở nginx/Caddy (xem deploy/), chỉ cho mạng nội bộ đọc")


# --- running it ------------------------------------------------------------------------------


async def _online_checks(settings: Settings, report: Report) -> None:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await check_telegram(settings, session, report)
        await check_public_url(settings, session, report)


def diagnose(config: Path | None, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> Report:
    report = Report()
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            report.error(f"cấu hình: {line}",
                         "sửa khóa này trong config.toml hoặc biến môi trường CCHC_... (xem config.example.toml)")
        return report
    report.ok(f"cấu hình: hợp lệ ({config or 'CCHC_CONFIG / mặc định'})")
    check_secrets(settings, report)
    readable = check_database(settings, report)
    check_content(settings, report)
    check_fonts(settings, report)
    asyncio.run(_online_checks(settings, report))
    check_zalo(settings, report, now(), readable)
    return report


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Kiểm tra bản triển khai: cấu hình, bí mật, cơ sở dữ liệu, nội dung, phông chữ, kênh, HTTPS."""
    report = diagnose(ctx.obj.get("config"))
    for finding in report.findings:
        click.echo(f"{LABELS[finding.level]} {finding.what}")
        if finding.fix:
            click.echo(f"    → cách sửa: {finding.fix}")
    click.echo(f"\nCó {report.errors} lỗi, {report.warnings} cảnh báo.")
    ctx.exit(1 if report.errors else 0)
