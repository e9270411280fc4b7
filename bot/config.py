"""Typed configuration, in one place.

Sources, later ones winning: built-in defaults, ``config.toml`` (``--config`` or
``CCHC_CONFIG``), then ``CCHC_<SECTION>_<KEY>`` environment variables. Secrets never come
from config.toml: only from ``CCHC_<NAME>``, a file named by ``CCHC_<NAME>_FILE``, or the
TOML file named by ``CCHC_SECRETS_FILE``. Unknown keys and bad values stop start-up with a
message that names the key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets as pysecrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from bot.matching import MatchParams

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CONTENT = PROJECT_ROOT / "content"
ENV_PREFIX = "CCHC_"
# Environment variables that are not config keys.
_NON_CONFIG_ENV = {"CCHC_CONFIG", "CCHC_SECRETS_FILE"}
_NON_CONFIG_ENV_PREFIXES = ("CCHC_TEST_", "CCHC_BENCH_")


class ConfigError(Exception):
    """Configuration that must stop start-up; the message names every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Office(_Section):
    """Facts about the office that content fills into answers as ``{{ office.* }}``."""

    name: str = "UBND xã/phường"
    address: str = "Bộ phận Một cửa, trụ sở UBND xã/phường"
    hours: str = "Sáng 7h30–11h30, chiều 13h30–17h00, từ thứ Hai đến thứ Sáu"
    hotline: str = "số điện thoại của Bộ phận Một cửa (niêm yết tại trụ sở)"
    email: str = "hộp thư của UBND xã/phường (niêm yết tại trụ sở)"
    website: str = "https://dichvucong.gov.vn"
    province: str = "tỉnh/thành phố"
    province_portal: str = "https://dichvucong.gov.vn"
    province_hotline: str = "18001096"

    def template_values(self) -> dict[str, str]:
        return {f"office.{key}": str(value) for key, value in self.model_dump().items()}


class Database(_Section):
    url: str = "sqlite:///data/cchc.db"
    echo: bool = False


class Content(_Section):
    path: Path = BUNDLED_CONTENT
    reload: bool = True
    reload_interval: Annotated[float, Field(gt=0, le=3600)] = 2.0
    # From this many content files on, (re)loads run in a child process: a big pack's parsing
    # leaves its garbage there, not in the server (bot.content.store.build_apart). 0: never.
    separate_process_from: Annotated[int, Field(ge=0)] = 1000


Share = Annotated[float, Field(ge=0, le=1)]


class Matching(_Section):
    """When to answer, ask "did you mean…?", or say "not sure" (see bot.matching.MatchParams)."""

    answer_margin: Share = MatchParams.answer_margin
    answer_coverage: Share = MatchParams.answer_coverage
    answer_similarity: Share = MatchParams.answer_similarity
    clarify_coverage: Share = MatchParams.clarify_coverage
    clarify_similarity: Share = MatchParams.clarify_similarity


class Privacy(_Section):
    question_retention_days: Annotated[int, Field(ge=1)] = 365


class Logging(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one object per line, for log collectors


class Server(_Section):
    """The one web server: web chat, widget, webhooks, dashboard, /healthz, /metrics."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # Portals allowed to embed the chat widget from another origin, e.g. "https://xa.gov.vn";
    # "*" allows any. The bot's own origin is always allowed.
    widget_origins: list[str] = Field(default_factory=list)
    behind_proxy: bool = False  # trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy
    # The public https address citizens and platforms reach, e.g. "https://bot.xa.gov.vn"
    # (`cchc-bot doctor` checks it answers over HTTPS and keeps /metrics internal).
    public_url: str | None = None
    telegram_polling: bool = True  # poll Telegram in this process (off: it only sends)
    # Processes serving the one port (``cchc-bot run --workers``): past one CPU core's worth of
    # updates. More than one needs PostgreSQL; only worker 0 polls Telegram.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    shutdown_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0  # seconds for in-flight requests
    # Under pressure: one citizen may send this many messages a minute, after a burst
    # of user_burst; beyond, one polite "please wait" and the rest are not answered.
    user_messages_per_minute: Annotated[float, Field(gt=0)] = 60.0
    user_burst: Annotated[int, Field(ge=1)] = 30
    # Messages accepted and not yet answered, per channel: beyond max_backlog a webhook answers
    # 503 (the platform delivers again later) and the web chat asks to retry; /healthz says
    # "degraded" from backlog_degraded on.
    max_backlog: Annotated[int, Field(ge=1)] = 1000
    backlog_degraded: Annotated[int, Field(ge=1)] = 200
    # A reply Telegram or Zalo could not take (5xx, time-out) is retried, with growing pauses,
    # for this many seconds; meanwhile it counts in the backlog, so memory stays bounded.
    reply_retry_seconds: Annotated[float, Field(ge=0, le=3600)] = 300.0
    # One log line per HTTP request (aiohttp's access log): off by default, since every webhook
    # call would be a line and formatting them costs ~3% of the CPU under load.
    access_log: bool = False


class Dashboard(_Section):
    """The officials' dashboard under /admin; accounts: ``cchc-bot admin create-user``."""

    enabled: bool = True
    session_hours: Annotated[float, Field(gt=0, le=168)] = 8.0  # a login lasts this long
    login_window_minutes: Annotated[int, Field(ge=1, le=1440)] = 15  # failed logins counted over
    max_failures_per_user: Annotated[int, Field(ge=1)] = 5  # then that username waits
    max_failures_per_address: Annotated[int, Field(ge=1)] = 20  # then that address waits


class Telegram(_Section):
    """Telegram runs when CCHC_TELEGRAM_TOKEN is set: long polling, or a webhook if webhook_url is."""

    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None  # public https URL of webhook_path; unset = long polling
    webhook_path: str = "/telegram/webhook"
    bot_username: str | None = None  # for deep links; asked from getMe when unset
    admin_ids: list[int] = Field(default_factory=list)
    admin_chat_id: int | None = None  # the officials' group chat
    global_rate: Annotated[float, Field(gt=0)] = 30.0  # messages per second, all chats
    private_chat_rate: Annotated[float, Field(gt=0)] = 1.0  # messages per second, one chat
    group_rate_per_minute: Annotated[float, Field(gt=0)] = 20.0


class Zalo(_Section):
    """Zalo OA runs when app_id and the secrets (app secret, OA secret key) are set."""

    app_id: str | None = None
    oa_id: str | None = None
    api_base_url: str = "https://openapi.zalo.me"
    oauth_base_url: str = "https://oauth.zaloapp.com"
    webhook_path: str = "/zalo/webhook"
    verifier_file: str | None = None  # e.g. "zalo_verifierABC123.html", served at the site root
    verifier_content: str | None = None  # the file's content as Zalo gave it
    max_event_age_seconds: Annotated[int, Field(ge=10)] = 600
    promotion_enabled: bool = False  # needs the OA's promotion-message permission
    # The picture on the card that asks a citizen to share their phone number (PNG or JPG, a
    # public https address); unset: the bot's own, at server.public_url + /zalo/chia-se-thong-tin.png.
    share_info_image_url: str | None = None
    admin_ids: list[str] = Field(default_factory=list)


class Messenger(_Section):
    """Facebook Messenger runs when the page token, app secret and verify token are set
    (CCHC_MESSENGER_PAGE_TOKEN, CCHC_MESSENGER_APP_SECRET, CCHC_MESSENGER_VERIFY_TOKEN)."""

    page_id: str | None = None  # the fan page's numeric id (for the record and `messenger setup`)
    page_username: str | None = None  # the page's @username: m.me deep links on QR posters
    webhook_path: str = "/messenger/webhook"
    api_base_url: str = "https://graph.facebook.com"
    graph_version: Annotated[str, Field(pattern=r"^v\d+\.\d+$")] = "v25.0"
    greeting: str | None = None  # the welcome screen's text (≤ 160 characters); default: one naming the office
    # Send API calls per second, per process: Meta allows 300 per page for text messages.
    send_rate: Annotated[float, Field(gt=0, le=300)] = 250.0
    admin_ids: list[str] = Field(default_factory=list)  # officials' PSIDs


DossierStatusKind = Literal[
    "received", "processing", "supplement", "payment", "ready", "returned", "rejected", "paused",
    "withdrawn",
]


class DossierColumns(_Section):
    """The dossier export's column headers (``cchc-bot dossiers import``); matched without
    regard to case or diacritics. Change them for a one-stop system that names columns otherwise."""

    code: str = "Mã hồ sơ"
    procedure: str = "Tên thủ tục"
    applicant: str = "Người nộp"
    phone: str = "Số điện thoại"
    received: str = "Ngày tiếp nhận"
    due: str = "Ngày hẹn trả"
    status: str = "Trạng thái"
    result_place: str = "Nơi trả kết quả"


class Lookup(_Section):
    """Fee and dossier lookups, status-change notices and QR posters."""

    require_phone_last4: bool = False  # ask for the applicant's last 4 phone digits first
    phone_attempts: Annotated[int, Field(ge=1, le=10)] = 3  # wrong answers before giving up
    rate_limit_attempts: Annotated[int, Field(ge=1)] = 10  # dossier lookups per user...
    rate_limit_window_minutes: Annotated[int, Field(ge=1)] = 60  # ...in this many minutes
    portal_lookup_url: str = "https://dichvucong.gov.vn"  # where citizens look dossiers up
    qr_url_params: list[str] = Field(
        default_factory=lambda: ["mahoso", "ma_ho_so", "mahs", "ma", "code", "hoso", "sohoso", "q"]
    )  # query parameters of the receipt's QR link that carry the dossier code
    max_image_bytes: Annotated[int, Field(ge=10_000)] = 10_000_000  # receipt photos
    download_timeout: Annotated[float, Field(gt=0, le=120)] = 15.0  # seconds, photo download
    notify_interval: Annotated[float, Field(gt=0)] = 60.0  # seconds between status-change passes
    zalo_oa_url: str | None = None  # QR posters' Zalo link; default https://zalo.me/<zalo.oa_id>
    poster_font: Path | None = None  # a TTF with Vietnamese glyphs; default: DejaVu Sans if found
    status_aliases: dict[str, DossierStatusKind] = Field(default_factory=dict)  # export status -> kind
    columns: DossierColumns = DossierColumns()


class Broadcasting(_Section):
    """Subscriptions' announcements and the campaign calendar.

    A deployment with several ``cchc-bot run`` processes may switch the sender and the scheduler
    off in all but one; even when left on everywhere, a database lease lets only one of each
    work at a time.
    """

    sender: bool = True  # run the broadcast sender (the outbox) in this process
    scheduler: bool = True  # run the campaign scheduler (content/campaigns/) in this process
    quiet_start: dt.time = dt.time(21, 0)  # Vietnam time; nothing is sent from quiet_start...
    quiet_end: dt.time = dt.time(7, 0)  # ...to quiet_end unless urgent (equal: no quiet hours)
    missed_grace_minutes: Annotated[int, Field(ge=0)] = 360  # late campaign fires still sent
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50  # rows claimed (in flight) per channel
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 5  # tries per recipient on 429/5xx
    retry_backoff_seconds: Annotated[float, Field(gt=0)] = 5.0  # first retry; doubles each time
    retry_backoff_max_seconds: Annotated[float, Field(gt=0)] = 600.0
    poll_interval_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0  # idle sender checks for work
    lease_seconds: Annotated[float, Field(ge=3, le=3600)] = 30.0  # a dead holder is replaced after
    stop_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0  # shutdown waits for sends in flight


class Feedback(_Section):
    """Citizens' feedback and complaints (tickets) and the satisfaction question."""

    answer_days: Annotated[int, Field(ge=1, le=90)] = 10  # working days to answer a ticket
    holidays: list[dt.date] = Field(default_factory=list)  # days off besides weekends (Tết...)
    check_interval_minutes: Annotated[float, Field(gt=0, le=1440)] = 60.0  # overdue check period
    overdue_repeat_hours: Annotated[float, Field(gt=0)] = 24.0  # remind officials again after
    phone_retention_days: Annotated[int, Field(ge=1)] = 90  # after the answer, phones are erased


class Contests(_Section):
    """The knowledge contests (content/contests/): how long the prize-giving details are kept."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90  # after the contest ends, then erased


class Holiday(_Section):
    name: str
    start: dt.date
    end: dt.date | None = None  # inclusive; unset: the one day ``start``

    @model_validator(mode="after")
    def _in_order(self) -> Holiday:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"{self.name}: end {self.end} đứng trước start {self.start}")
        return self

    def days(self) -> list[dt.date]:
        last = self.end or self.start
        return [self.start + dt.timedelta(days=n) for n in range((last - self.start).days + 1)]


def _holiday(name: str, start: str, end: str | None = None) -> Holiday:
    return Holiday(name=name, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end) if end else None)


# The public holidays of Bộ luật Lao động 2019 (Điều 112) and Ngày Văn hóa Việt Nam (24/11, from
# 2026), with the days off the Government announced for 2026; for 2027, the statutory days around
# mùng 1 Tết (Saturday 06/02/2027) and Giỗ Tổ (10/3 âm lịch, Friday 16/04/2027) until the year's
# announcement, which a commune copies into its own config.
DEFAULT_HOLIDAYS = (
    _holiday("Tết Dương lịch", "2026-01-01"),
    _holiday("Tết Nguyên đán Bính Ngọ", "2026-02-14", "2026-02-22"),
    _holiday("Giỗ Tổ Hùng Vương (nghỉ bù thứ Hai)", "2026-04-26", "2026-04-27"),
    _holiday("Ngày Chiến thắng 30/4 và Quốc tế Lao động 1/5", "2026-04-30", "2026-05-01"),
    _holiday("Quốc khánh", "2026-09-02"),
    _holiday("Ngày Văn hóa Việt Nam", "2026-11-24"),
    _holiday("Tết Dương lịch", "2027-01-01"),
    _holiday("Tết Nguyên đán Đinh Mùi", "2027-02-05", "2027-02-09"),
    _holiday("Giỗ Tổ Hùng Vương", "2027-04-16"),
    _holiday("Ngày Chiến thắng 30/4 và Quốc tế Lao động 1/5", "2027-04-30", "2027-05-01"),
    _holiday("Nghỉ bù Quốc tế Lao động", "2027-05-03"),
    _holiday("Quốc khánh", "2027-09-02"),
    _holiday("Ngày Văn hóa Việt Nam", "2027-11-24"),
)


class Holidays(_Section):
    """Public holidays (Vietnam's dates): campaigns do not fire on them; the calendar shows them."""

    days: list[Holiday] = Field(default_factory=lambda: list(DEFAULT_HOLIDAYS))

    def dates(self) -> frozenset[dt.date]:
        return frozenset(day for holiday in self.days for day in holiday.days())

    def upcoming(self, first: dt.date, last: dt.date) -> list[Holiday]:
        """The holidays that touch [first, last], in date order."""
        return sorted((h for h in self.days if h.start <= last and (h.end or h.start) >= first),
                      key=lambda h: h.start)


class Secrets(_Section):
    """Only from the environment or a secret file, never from config.toml."""

    pseudonym_salt: SecretStr | None = None
    telegram_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    zalo_app_secret: SecretStr | None = None
    zalo_oa_secret_key: SecretStr | None = None
    zalo_refresh_token: SecretStr | None = None
    zalo_access_token: SecretStr | None = None
    messenger_page_token: SecretStr | None = None
    messenger_app_secret: SecretStr | None = None
    messenger_verify_token: SecretStr | None = None


class Settings(_Section):
    office: Office = Office()
    database: Database = Database()
    content: Content = Content()
    matching: Matching = Matching()
    privacy: Privacy = Privacy()
    logging: Logging = Logging()
    server: Server = Server()
    telegram: Telegram = Telegram()
    zalo: Zalo = Zalo()
    messenger: Messenger = Messenger()
    lookup: Lookup = Lookup()
    broadcast: Broadcasting = Broadcasting()
    feedback: Feedback = Feedback()
    contest: Contests = Contests()
    holidays: Holidays = Holidays()
    dashboard: Dashboard = Dashboard()
    secrets: Secrets = Secrets()

    def is_admin(self, channel: str, platform_id: str, chat_id: str | None = None) -> bool:
        """Officials are configured per channel by their platform user ids; on Telegram, anyone
        writing in the officials' group chat (``telegram.admin_chat_id``) is one too."""
        if channel == "telegram":
            admin_chat = self.telegram.admin_chat_id
            if chat_id is not None and admin_chat is not None and chat_id == str(admin_chat):
                return True
            return platform_id.lstrip("-").isdigit() and int(platform_id) in self.telegram.admin_ids
        if channel == "zalo":
            return platform_id in self.zalo.admin_ids
        if channel == "messenger":
            return platform_id in self.messenger.admin_ids
        return False


_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def telegram_problems(settings: Settings) -> list[str]:
    """Telegram settings that cannot work together (checked only when Telegram is enabled)."""
    secrets = settings.secrets
    if secrets.telegram_token is None or not settings.telegram.webhook_url:
        return []
    secret = secrets.telegram_webhook_secret
    if secret is None:
        return [(
            "telegram.webhook_url đã đặt (chế độ webhook) nhưng thiếu bí mật "
            "CCHC_TELEGRAM_WEBHOOK_SECRET: không có nó bot không thể kiểm tra yêu cầu đến "
            "từ Telegram, nên không khởi động"
        )]
    if not _WEBHOOK_SECRET.fullmatch(secret.get_secret_value()):
        return [(
            "CCHC_TELEGRAM_WEBHOOK_SECRET: chỉ gồm 1–256 ký tự A-Z, a-z, 0-9, _ và - "
            "(quy định của Telegram)"
        )]
    return []


_SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if name != "secrets"
}
_SECRET_NAMES = tuple(Secrets.model_fields)
# Keys that look like secrets: refused in config.toml whatever section they are written in.
_SECRET_LIKE = {"token", "secret", "salt", "app_secret", "oa_secret_key", "refresh_token",
                "access_token", "webhook_secret", "password", "page_token", "verify_token", *_SECRET_NAMES}


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    overrides: dict[str, dict[str, Any]] = {}
    errors = []
    secret_env = {f"{ENV_PREFIX}{n.upper()}" for n in _SECRET_NAMES}
    secret_env |= {f"{name}_FILE" for name in secret_env}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in _NON_CONFIG_ENV or var in secret_env:
            continue
        if var.startswith(_NON_CONFIG_ENV_PREFIXES):
            continue
        rest = var[len(ENV_PREFIX) :].lower()
        for section, model in _SECTIONS.items():
            key = rest[len(section) + 1 :]
            if rest.startswith(section + "_") and key in model.model_fields:
                overrides.setdefault(section, {})[key] = _env_value(model, key, value)
                break
        else:
            errors.append(f"biến môi trường {var}: không có khóa cấu hình tương ứng")
    return overrides, errors


def _env_value(model: type[_Section], key: str, value: str) -> Any:
    """Lists come from the environment as "a,b,c" (or JSON); everything else as text."""
    annotation = str(model.model_fields[key].annotation)
    if annotation.startswith("list"):
        if value.strip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _read_secret(name: str, environ: Mapping[str, str], secret_file: Mapping[str, Any]) -> str | None:
    var = f"{ENV_PREFIX}{name.upper()}"
    if environ.get(var):
        return environ[var]
    if environ.get(f"{var}_FILE"):
        path = Path(environ[f"{var}_FILE"])
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{var}_FILE: không đọc được {path}: {exc.strerror}") from exc
        if not value:  # an empty salt would make pseudonyms an unsalted hash of the user id
            raise ConfigError(f"{var}_FILE: tệp {path} trống")
        return value
    value = secret_file.get(name)
    if value is not None and not str(value).strip():
        raise ConfigError(f"CCHC_SECRETS_FILE: bí mật '{name}' trống")
    return str(value) if value is not None else None


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from defaults, the config file and the environment, or raise ConfigError."""
    environ = os.environ if environ is None else environ
    errors: list[str] = []
    data: dict[str, Any] = {}
    if path is None and environ.get("CCHC_CONFIG"):
        path = Path(environ["CCHC_CONFIG"])
    source = str(path) if path else "cấu hình"
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"không tìm thấy tệp cấu hình {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: lỗi cú pháp TOML: {exc}") from exc
    if "secrets" in data or any(
        isinstance(v, dict) and any(k in _SECRET_LIKE for k in v) for v in data.values()
    ):
        errors.append(
            f"{source}: bí mật (salt, token, khóa) không được ghi trong tệp cấu hình; "
            "hãy dùng biến môi trường CCHC_... hoặc CCHC_SECRETS_FILE"
        )
    for section in list(data):
        if section not in _SECTIONS:
            errors.append(f"{source}: mục [{section}] không được hỗ trợ")
            data.pop(section)
    overrides, env_errors = _env_overrides(environ)
    errors.extend(env_errors)
    for section, values in overrides.items():
        merged = dict(data.get(section, {}))
        merged.update(values)
        data[section] = merged

    secret_file: dict[str, Any] = {}
    if environ.get("CCHC_SECRETS_FILE"):
        secrets_path = Path(environ["CCHC_SECRETS_FILE"])
        try:
            secret_file = tomllib.loads(secrets_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"CCHC_SECRETS_FILE={secrets_path}: {exc}") from exc
        unknown = set(secret_file) - set(_SECRET_NAMES)
        errors.extend(f"{secrets_path}: bí mật '{k}' không được hỗ trợ" for k in sorted(unknown))
    data["secrets"] = {
        name: value
        for name in _SECRET_NAMES
        if (value := _read_secret(name, environ, secret_file)) is not None
    }
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for item in exc.errors():
            key = ".".join(str(p) for p in item["loc"])
            if item["type"] == "extra_forbidden":
                errors.append(f"{source}: khóa '{key}' không được hỗ trợ")
            else:
                errors.append(f"{source}: khóa '{key}': {item['msg']} (giá trị: {item.get('input')!r})")
        settings = None
    if settings is not None:
        errors.extend(telegram_problems(settings))
    if errors:
        raise ConfigError("\n".join(errors))
    assert settings is not None
    return settings


def pseudonym_salt(settings: Settings, data_dir: Path) -> bytes:
    """The salt for pseudonymizing user ids.

    With none configured, a random one is created once in ``data_dir`` (outside the repo,
    mode 0600) so embedded defaults work without setup and pseudonyms stay stable.
    """
    configured = settings.secrets.pseudonym_salt
    if configured is not None:
        return configured.get_secret_value().encode()
    salt_file = data_dir / "pseudonym_salt"
    if not salt_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(pysecrets.token_hex(32))
    return salt_file.read_text().strip().encode()
