"""The ranking as the jury gets it: CSV or xlsx with Vietnamese headings. Personal data goes
only to the officials' roles; everyone else gets it masked."""

from __future__ import annotations

import csv
import io

from bot.clock import local
from handlers.contest.service import Ranked

HEADINGS = ("Hạng", "Mã người dự thi", "Họ và tên", "Số điện thoại", "Thôn/Tổ dân phố", "Kênh",
            "Số câu đúng", "Tổng số câu", "Thời gian làm bài (giây)", "Dự đoán",
            "Thời điểm hoàn thành", "Xét giải", "Cần xem xét")
FLAG_LABELS = {"shared_phone": "một số điện thoại, nhiều tài khoản",
               "extra_attempt": "xin dự thi thêm lượt",
               "too_fast": "trả lời nhanh hơn thời gian đọc"}


def mask_name(name: str | None) -> str:
    """Nguyễn Văn An → N. V. An: enough to tell two winners apart when reading out a list."""
    if not name:
        return ""
    words = name.split()
    return " ".join([*(w[0] + "." for w in words[:-1]), words[-1]])


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-3:]}" if phone and len(phone) >= 7 else ""


def cells(row: Ranked, personal: bool) -> list[object]:
    name = row.full_name or "" if personal else mask_name(row.full_name)
    phone = row.phone or "" if personal else mask_phone(row.phone)
    if phone and not row.phone_verified:
        phone += " (tự nhập)"
    return [row.rank, row.participant, name, phone, row.village or "", row.channel, row.score,
            row.questions, row.seconds, "" if row.prediction is None else row.prediction,
            local(row.finished_at).strftime("%d/%m/%Y %H:%M:%S"), "Có" if row.eligible else "Không",
            "; ".join(FLAG_LABELS.get(kind, kind) for kind in row.flags)]


def to_csv(rows: list[Ranked], personal: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADINGS)
    writer.writerows(cells(row, personal) for row in rows)
    return out.getvalue()


def to_xlsx(rows: list[Ranked], title: str, personal: bool) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # streamed rows: a district's ten thousand entries stay quick
    sheet = book.create_sheet("Xếp hạng")
    sheet.append([title])
    sheet.append(list(HEADINGS))
    for row in rows:
        sheet.append(cells(row, personal))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
