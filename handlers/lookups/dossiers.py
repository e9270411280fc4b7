"""Dossiers: codes however citizens type them, the one-stop system's export, plain-word status.

A dossier code is compared by its canonical key: letters and digits only, upper case
("000.00.20.H56-230515-0012", "000 00 20 h56 230515 0012" and "0000020H562305150012" are one
code). The receipt's QR code holds either the code or a portal URL carrying it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zipfile import BadZipFile

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import text as vtext
from bot.config import DossierColumns, Lookup
from bot.storage.models import Dossier, DossierWatch, LookupAttempt, utcnow

VN_TZ = dt.timezone(dt.timedelta(hours=7))
MIN_DIGITS = 8  # one-stop codes carry a date and a sequence number
MAX_KEY = 64

# --- codes ----------------------------------------------------------------------------------

_NON_KEY = re.compile(r"[^A-Z0-9]")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_CODE_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_/]*$")
# The one-stop code as printed: groups joined by "." or "-" (e.g. H56.22-230515-0001).
_PRINTED = re.compile(
    r"(?<![\w.-])[a-z0-9]{1,8}(?:[.\-_/][a-z0-9]{1,10}){1,7}(?![\w-])", re.IGNORECASE
)
# Words citizens put before a code: "mã hồ sơ:", "mhs", "số hs".
_LABEL = {"ma", "so", "ho", "hs", "mhs", "mahs", "code", "hoso", "cua", "toi", "em", "minh",
          "tra", "cuu", "kiem", "xem", "la", "ah", "a", "oi", "giup", "voi", "nhe", "check"}


def canonical(code: str) -> str:
    """The key a code is stored and compared by: letters and digits, upper case."""
    folded = vtext.strip_diacritics(unicodedata.normalize("NFKC", code)).upper()
    return _NON_KEY.sub("", folded)


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


_NOT_CODE = re.compile(
    r"^\s*(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"  # dates
    r"|\d{1,3}(?:[.,]\d{3})+(?:\s*(?:d|đ|dong|đồng|vnd))?)\s*$",  # amounts: 20.000.000
    re.IGNORECASE,
)


def looks_like_code(text: str) -> bool:
    key = canonical(text)
    if _NOT_CODE.match(text):
        return False
    return _digits(key) >= MIN_DIGITS and 8 <= len(key) <= MAX_KEY


@dataclass(frozen=True)
class CodeGuess:
    """A dossier code found in a message: try ``key``; ``last4`` came with it, if any."""

    display: str
    key: str
    last4: str | None = None


def code_from_url(url: str, params: Sequence[str]) -> str | None:
    """The dossier code a receipt's QR link carries (a query parameter, or the last path part)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    wanted = {p.lower() for p in params}
    queries = [parts.query]
    if "?" in parts.fragment:  # single-page portals: https://host/#/tra-cuu?maHoSo=...
        queries.append(parts.fragment.split("?", 1)[1])
    for query in queries:
        for name, value in parse_qsl(query, keep_blank_values=False):
            if name.lower() in wanted and looks_like_code(value):
                return value.strip()
    path = unquote(parts.path) + "/" + unquote(parts.fragment.split("?", 1)[0])
    for segment in reversed([s for s in path.split("/") if s]):
        if _CODE_TOKEN.match(segment) and looks_like_code(segment):
            return segment
    return None


def find_codes(text: str, params: Sequence[str] = Lookup().qr_url_params) -> list[CodeGuess]:
    """Dossier codes a message may hold, most likely first (empty when it holds none)."""
    text = unicodedata.normalize("NFKC", text)  # full-width letters and digits of some keyboards
    guesses: list[CodeGuess] = []

    def add(display: str, last4: str | None = None) -> None:
        key = canonical(display)
        if looks_like_code(display) and all(g.key != key for g in guesses):
            guesses.append(CodeGuess(display.strip(" .-_/"), key, last4))

    rest = text
    for url in _URL.findall(text):
        code = code_from_url(url.rstrip(".,);"), params)
        if code:
            add(code)
        rest = rest.replace(url, " ")
    if guesses:
        return guesses
    for match in _PRINTED.finditer(rest):
        after = rest[match.end():].strip(" ,;:-")
        add(match.group(0), after if re.fullmatch(r"\d{4}", after) else None)
    # Typed loosely: "h56 22 230515 0001", "ma hs 000 00 20 h56-230515-0012".
    run: list[str] = []
    runs: list[list[str]] = []
    for word in re.split(r"[\s,;:]+", rest):
        token = word.strip("()[]'\"")
        if token and not token.strip(".-_/"):
            continue  # a lone separator typed between groups: "h56.22 - 230515 - 0001"
        if token and _CODE_TOKEN.match(token) and canonical(token).lower() not in _LABEL and (
            _digits(token) or len(token) <= 4
        ):
            run.append(token)
        else:
            if run:
                runs.append(run)
            run = []
    if run:
        runs.append(run)
    for tokens in sorted(runs, key=lambda r: -_digits("".join(r))):
        while tokens and not _digits(tokens[0]):
            tokens = tokens[1:]
        if not tokens:
            continue
        add(" ".join(tokens))
        if len(tokens) > 1 and re.fullmatch(r"\d{4}", tokens[-1]):
            add(" ".join(tokens[:-1]), tokens[-1])  # "<code> 5678": the last 4 phone digits
    return guesses


def code_message(text: str, params: Sequence[str] = Lookup().qr_url_params) -> list[CodeGuess]:
    """The codes of a message that is essentially a dossier code (or a receipt link), else []."""
    guesses = find_codes(text, params)
    if not guesses or _URL.search(text):
        return guesses
    code_tokens = {canonical(t) for g in guesses for t in g.display.split()}
    if guesses[0].last4:
        code_tokens.add(guesses[0].last4)
    others = [w for w in vtext.tokens(text)
              if w not in _LABEL and canonical(w) not in code_tokens and not w.isdigit()]
    return guesses if len(others) <= 3 else []


# --- people ---------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """Family name in full, then initials: "Nguyễn Văn An" -> "Nguyễn V** A**"."""
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0].upper() + "**"
    return " ".join([words[0], *(w[0].upper() + "**" for w in words[1:])])


def normalize_phone(value: str) -> str | None:
    """Digits of a Vietnamese phone number, or None when it cannot be one."""
    digits = re.sub(r"\D", "", value)
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if len(digits) == 9 and digits[0] in "35789":  # a spreadsheet dropped the leading 0
        digits = "0" + digits
    return digits if 10 <= len(digits) <= 11 and digits.startswith("0") else None


def literal(text: str) -> str:
    """Imported text inside a reply: its "**" must not turn into the reply's bold
    ("Nguyễn V** A**"); a zero-width space keeps the two asterisks apart."""
    return text.replace("**", "*\u200b*")


# --- status in plain words ------------------------------------------------------------------

PLAIN = {
    "received": "Đã tiếp nhận, đang chờ giải quyết",
    "processing": "Đang giải quyết",
    "supplement": "Cần bổ sung giấy tờ",
    "payment": "Chờ nộp phí, lệ phí",
    "ready": "Đã có kết quả, mời Anh/Chị đến nhận",
    "returned": "Đã trả kết quả",
    "rejected": "Không được giải quyết (đã trả lại hồ sơ)",
    "paused": "Tạm dừng giải quyết",
    "withdrawn": "Đã rút hồ sơ",
}
NEXT_STEP = {
    "supplement": "Anh/Chị liên hệ Bộ phận Một cửa để biết cần bổ sung giấy tờ gì; "
                  "bổ sung xong hồ sơ mới được giải quyết tiếp.",
    "payment": "Anh/Chị nộp phí, lệ phí trên Cổng Dịch vụ công (nút Thanh toán) hoặc tại "
               "Bộ phận Một cửa thì hồ sơ mới được giải quyết tiếp.",
    "ready": "Khi đến nhận, Anh/Chị mang theo Giấy tiếp nhận hồ sơ và hẹn trả kết quả và "
             "giấy tờ tùy thân.",
    "rejected": "Văn bản trả lời nêu rõ lý do; Anh/Chị liên hệ Bộ phận Một cửa nếu cần giải thích.",
    "paused": "Anh/Chị liên hệ Bộ phận Một cửa để biết lý do và thời gian giải quyết tiếp.",
}
DONE = frozenset({"ready", "returned", "rejected", "withdrawn"})  # nothing left to wait for
_KIND_RULES: tuple[tuple[str, str], ...] = (
    (r"\brut\b|\bhuy ho so\b", "withdrawn"),
    (r"tu choi|khong giai quyet|khong du dieu kien|tra lai ho so|khong tiep nhan", "rejected"),
    (r"bo sung|hoan thien", "supplement"),
    (r"thanh toan|nop phi|le phi|nghia vu tai chinh", "payment"),
    (r"tam dung|dung xu li|dung giai quyet", "paused"),
    (r"da tra|da trao|da nhan ket qua|tra xong|da giao", "returned"),
    (r"co ket qua|cho tra|cho nhan|xong|hoan thanh|da giai quyet|da xu li", "ready"),
    (r"dang|xu li|giai quyet|tham dinh|chuyen|trinh|ki duyet|phe duyet|lien thong", "processing"),
    (r"tiep nhan|moi|cho", "received"),
)


def status_kind(status: str, aliases: Mapping[str, str] = {}) -> str | None:
    """What an exported status means, or None for one we do not recognise (shown as written)."""
    key = vtext.strip_key(status)
    for raw, kind in aliases.items():
        if vtext.strip_key(raw) == key:
            return kind
    for pattern, kind in _KIND_RULES:
        if re.search(pattern, key):
            return kind
    return None


def plain_status(status: str, aliases: Mapping[str, str] = {}) -> str:
    kind = status_kind(status, aliases)
    return PLAIN[kind] if kind else status


def today_vn(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def overdue_days(dossier: Dossier, aliases: Mapping[str, str], today: dt.date) -> int:
    """Days past the due date while still not done (0 when not overdue)."""
    if dossier.due_on is None or status_kind(dossier.status, aliases) in DONE:
        return 0
    return max(0, (today - dossier.due_on).days)


# --- the export -----------------------------------------------------------------------------

FIELDS = ("code", "procedure", "applicant", "phone", "received", "due", "status", "result_place")
REQUIRED = ("code", "procedure", "received", "status")
_LIMITS = {"procedure": 512, "applicant": 256, "status": 128, "result_place": 512, "code": 64}
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y", "%Y/%m/%d")


class ImportFileError(Exception):
    """The file cannot be read at all (format, encoding, missing columns)."""


@dataclass(frozen=True)
class DossierRow:
    line: int
    code: str
    key: str
    procedure: str
    applicant: str
    phone: str | None
    received: dt.date
    due: dt.date | None
    status: str
    result_place: str | None

    def content_hash(self) -> str:
        data = [self.code, self.procedure, self.applicant, self.phone, self.received.isoformat(),
                self.due.isoformat() if self.due else None, self.status, self.result_place]
        return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


@dataclass
class ParseResult:
    rows: list[DossierRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def parse_date(value: Any) -> dt.date | None:
    """A date from a cell: a spreadsheet date, dd/mm/yyyy (with or without a time), yyyy-mm-dd."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and 20000 < value < 80000:  # an Excel serial day
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    text = _cell_text(value)
    if not text:
        return None
    head = re.split(r"[ T]", text, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(head, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _header_map(header: Sequence[Any], columns: DossierColumns) -> dict[str, int] | None:
    """Column index per field when ``header`` is the header row (at least the required ones)."""
    keys = [vtext.strip_key(_cell_text(h)) for h in header]
    found: dict[str, int] = {}
    for name in FIELDS:
        wanted = vtext.strip_key(getattr(columns, name))
        if wanted in keys:
            found[name] = keys.index(wanted)
    return found if all(name in found for name in REQUIRED) else None


def _rows_from_table(
    table: Iterable[tuple[int, Sequence[Any]]], columns: DossierColumns
) -> ParseResult:
    result = ParseResult()
    mapping: dict[str, int] | None = None
    first_rows: list[Sequence[Any]] = []
    seen: dict[str, int] = {}
    for line, cells in table:
        if mapping is None:
            mapping = _header_map(cells, columns)
            if mapping is None:
                first_rows.append(cells)
                if len(first_rows) >= 20:
                    break
            continue
        if all(_cell_text(c) == "" for c in cells):
            continue
        row, problems = _row(line, cells, mapping)
        if row is not None:
            if row.key in seen:
                problems.append(f"mã hồ sơ {row.code} trùng với dòng {seen[row.key]}")
            else:
                seen[row.key] = line
        if problems:
            result.errors.extend((line, p) for p in problems)
        elif row is not None:
            result.rows.append(row)
    if mapping is None:
        expected = ", ".join(getattr(columns, name) for name in REQUIRED)
        raise ImportFileError(
            f"không tìm thấy dòng tiêu đề có các cột bắt buộc: {expected} "
            "(đổi tên cột trong [lookup.columns] của config.toml nếu hệ thống xuất tên khác)"
        )
    return result


def _row(line: int, cells: Sequence[Any], mapping: Mapping[str, int]) -> tuple[DossierRow | None, list[str]]:
    def raw(name: str) -> Any:
        index = mapping.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    problems: list[str] = []
    text = {name: _cell_text(raw(name)) for name in FIELDS}
    for name in REQUIRED:
        if not text[name]:
            problems.append(f"thiếu {_LABELS[name]}")
    for name, limit in _LIMITS.items():
        if len(text[name]) > limit:
            problems.append(f"{_LABELS[name]} dài quá {limit} ký tự")
    key = canonical(text["code"])
    if text["code"] and not looks_like_code(text["code"]):
        problems.append(f"mã hồ sơ '{text['code']}' không hợp lệ (cần ít nhất {MIN_DIGITS} chữ số)")
    dates: dict[str, dt.date | None] = {}
    for name in ("received", "due"):
        try:
            dates[name] = parse_date(raw(name))
        except ValueError:
            problems.append(f"{_LABELS[name]} '{text[name]}' không phải ngày hợp lệ (dd/mm/yyyy)")
            dates[name] = None
    received, due = dates["received"], dates["due"]
    if received and due and due < received:
        problems.append(f"{_LABELS['due']} trước {_LABELS['received']}")
    phone = None
    if text["phone"]:
        phone = normalize_phone(text["phone"])
        if phone is None:
            problems.append("số điện thoại không hợp lệ")
    if problems or received is None:
        return None, problems
    return DossierRow(
        line=line, code=text["code"], key=key, procedure=text["procedure"],
        applicant=text["applicant"], phone=phone, received=received, due=due,
        status=text["status"], result_place=text["result_place"] or None,
    ), []


_LABELS = {
    "code": "mã hồ sơ", "procedure": "tên thủ tục", "applicant": "người nộp",
    "phone": "số điện thoại", "received": "ngày tiếp nhận", "due": "ngày hẹn trả",
    "status": "trạng thái", "result_place": "nơi trả kết quả",
}


def _csv_table(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "tệp CSV không phải mã UTF-8; trong Excel chọn Lưu thành 'CSV UTF-8 (Comma delimited)'"
        ) from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB limit
            raise ImportFileError(f"dòng {line}: tệp CSV không đọc được ({exc})") from exc
        yield line, record
        line = reader.line_num + 1


def _xlsx_table(path: Path) -> Iterator[tuple[int, tuple[Any, ...]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ImportFileError(f"không đọc được tệp Excel: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def parse_file(path: Path, columns: DossierColumns) -> ParseResult:
    """Every row of an export, or every bad row with its line number and reason."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _rows_from_table(_xlsx_table(path), columns)
    if suffix in (".csv", ".txt"):
        return _rows_from_table(_csv_table(path.read_bytes()), columns)
    raise ImportFileError(f"chỉ nhận tệp .csv hoặc .xlsx (nhận được: {path.name})")


@dataclass(frozen=True)
class ImportResult:
    added: int
    changed: int
    unchanged: int
    status_changed: int  # dossiers whose status changed: their watchers will be told
    watchers: int  # open watches on those dossiers


async def upsert(session: AsyncSession, rows: Sequence[DossierRow]) -> ImportResult:
    """Add new dossiers, update changed ones, leave the rest; the caller commits (all or nothing)."""
    existing: dict[str, Dossier] = {}
    keys = [r.key for r in rows]
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found = await session.exec(select(Dossier).where(Dossier.code.in_(chunk)))  # type: ignore[attr-defined]
        existing.update({d.code: d for d in found})
    added = changed = unchanged = 0
    status_changed: list[str] = []
    now = utcnow()
    for row in rows:
        digest = row.content_hash()
        dossier = existing.get(row.key)
        if dossier is not None and dossier.content_hash == digest:
            unchanged += 1
            continue
        if dossier is None:
            dossier = Dossier(code=row.key, imported_at=now, display_code=row.code,
                              procedure=row.procedure, received_on=row.received, status=row.status,
                              content_hash=digest)
            added += 1
        else:
            changed += 1
            if dossier.status != row.status:
                status_changed.append(row.key)
        dossier.display_code = row.code
        dossier.procedure = row.procedure
        dossier.applicant_name = row.applicant
        dossier.phone = row.phone
        dossier.received_on = row.received
        dossier.due_on = row.due
        dossier.status = row.status
        dossier.result_place = row.result_place
        dossier.content_hash = digest
        dossier.updated_at = now
        session.add(dossier)
    watchers = 0
    for start in range(0, len(status_changed), 500):
        chunk = status_changed[start:start + 500]
        watchers += (await session.exec(
            select(func.count()).select_from(DossierWatch).where(
                DossierWatch.dossier_code.in_(chunk), DossierWatch.closed_at.is_(None))  # type: ignore[attr-defined,union-attr]
        )).one()
    await session.flush()
    return ImportResult(added, changed, unchanged, len(status_changed), watchers)


# --- lookups and the rate limit -------------------------------------------------------------


async def get_dossier(session: AsyncSession, key: str) -> Dossier | None:
    return (await session.exec(select(Dossier).where(Dossier.code == key))).first()


async def rate_limited(session: AsyncSession, user_key: str, settings: Lookup,
                       now: dt.datetime | None = None) -> int:
    """Minutes to wait when the user has used up their lookups, else 0."""
    now = now or utcnow()
    window = dt.timedelta(minutes=settings.rate_limit_window_minutes)
    recent = (await session.exec(
        select(LookupAttempt.created_at).where(
            LookupAttempt.user_key == user_key, LookupAttempt.created_at >= now - window)
        .order_by(LookupAttempt.created_at)  # type: ignore[arg-type]
    )).all()
    if len(recent) < settings.rate_limit_attempts:
        return 0
    oldest = recent[len(recent) - settings.rate_limit_attempts]
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=dt.UTC)
    free_at = oldest + window
    return max(1, int((free_at - now).total_seconds() // 60) + 1)


async def record_attempt(session: AsyncSession, user_key: str, kind: str, found: bool) -> None:
    session.add(LookupAttempt(user_key=user_key, kind=kind, found=found))
    await session.flush()
