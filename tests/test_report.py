"""The periodic report from a database filled with a known month of activity (October 2026),
with activity just outside it that must not count; and the content gaps for editors."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import create_engine
from sqlmodel import Session

from bot.app import BotApp
from bot.root import build_app
from bot.cli import main
from bot.config import Feedback
from bot.content.loader import TIMEZONE
from handlers.feedback.service import deadline_for
from handlers.reports.report import (
    build_report,
    content_gaps,
    group_questions,
    parse_period,
    render_chart,
    to_csv,
    to_markdown,
    to_xlsx,
)
from bot.storage.db import sync_url, upgrade
from bot.storage.models import (
    AnswerVote,
    Broadcast,
    BroadcastDelivery,
    ChannelUser,
    QuestionLog,
    SatisfactionResponse,
    Subscription,
    Ticket,
)
from tests.conftest import make_settings

FIXTURE = Path(__file__).parent / "fixtures" / "content"
OFFICE = "UBND xã Ngọc Liên"
REPORT_DAY = dt.datetime(2026, 11, 10, 9, 0, tzinfo=TIMEZONE)


def vn(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment in Vietnam's time, as the UTC the database stores."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TIMEZONE).astimezone(dt.UTC)


def question(when: dt.datetime, channel: str, outcome: str, faq_id: str | None = None,
             chosen: str | None = None, text: str = "câu hỏi", forwarded: bool = False) -> QuestionLog:
    return QuestionLog(created_at=when, channel=channel, user_key="k-" + channel, text=text, outcome=outcome,
                       faq_id=faq_id, chosen_id=chosen, latency_ms=3.0, forwarded=forwarded,
                       candidates=[])


def ticket(seq: int, when: dt.datetime, subject: str, status: str, answered: dt.datetime | None = None) -> Ticket:
    return Ticket(number=f"PA-2026-{seq:06d}", year=2026, seq=seq, created_at=when, updated_at=when,
                  channel="zalo", user_key="citizen", subject=subject, content="nội dung", status=status,
                  deadline=deadline_for(when, Feedback(answer_days=10)), answered_at=answered)


def fill(url: str) -> None:
    engine = create_engine(sync_url(url))
    with Session(engine) as s:
        s.add_all([
            question(vn(9, 30, 23, 59), "telegram", "answer", "khai-sinh"),  # September: not counted
            question(vn(10, 1, 0, 30), "telegram", "answer", "khai-sinh"),
            question(vn(10, 1), "telegram", "answer", "khai-sinh"),
            question(vn(10, 2, 10), "zalo", "answer", "ket-hon"),
            question(vn(10, 5, 8), "telegram", "answer", "khai-sinh"),
            question(vn(10, 5, 9), "web", "answer", "ket-hon"),
            question(vn(10, 5, 10), "telegram", "clarify", chosen="khai-sinh-le-phi"),
            question(vn(10, 12, 14), "zalo", "clarify"),
            question(vn(10, 12, 15), "telegram", "not_sure", text="xin giấy phép karaoke"),
            question(vn(10, 20, 8), "zalo", "not_sure", text="giấy phép kinh doanh karaoke cần gì",
                     forwarded=True),
            question(vn(10, 20, 9), "web", "not_sure", text="xin giấy phép karaoke"),
            question(vn(10, 31, 23), "telegram", "not_sure", text="đăng ký nuôi chó"),
            question(vn(11, 1, 0, 30), "zalo", "not_sure", text="bán xe máy cũ"),  # November
        ])
        s.add_all([AnswerVote(created_at=vn(10, d), faq_id="khai-sinh", channel="telegram", user_key="k",
                              helpful=h) for d, h in ((1, True), (5, True), (6, True), (7, False))])
        s.add(AnswerVote(created_at=vn(11, 2), faq_id="ket-hon", channel="zalo", user_key="k", helpful=False))
        s.add_all([
            ticket(1, vn(10, 1, 8), "thu_tuc", "answered", answered=vn(10, 5)),  # on time
            ticket(2, vn(10, 2), "can_bo", "closed", answered=vn(10, 30)),  # late (due 16/10)
            ticket(3, vn(10, 20), "gop_y", "new"),  # due 03/11: overdue on 10/11
            ticket(4, vn(10, 28), "thu_tuc", "in_progress"),  # due 11/11: not yet
            ticket(5, vn(9, 25), "khac", "closed", answered=vn(9, 26)),  # September
        ])
        s.flush()
        s.add_all([
            SatisfactionResponse(created_at=vn(10, 6), channel="zalo", user_key="a", level=5, source="ticket", ticket_id=1),
            SatisfactionResponse(created_at=vn(10, 31), channel="zalo", user_key="b", level=1, source="ticket", ticket_id=2),
            SatisfactionResponse(created_at=vn(10, 20), channel="telegram", user_key="c", level=5, source="survey",
                                 campaign_id="khao-sat-hai-long"),
            SatisfactionResponse(created_at=vn(10, 21), channel="zalo", user_key="d", level=4, source="survey"),
            SatisfactionResponse(created_at=vn(10, 22), channel="web", user_key="e", level=3, source="survey"),
            SatisfactionResponse(created_at=vn(11, 1, 8), channel="web", user_key="f", level=1, source="survey"),
        ])
        users = [ChannelUser(channel=ch, platform_id=f"p{n}", user_key=f"u{n}")
                 for n, ch in enumerate(["telegram", "zalo", "zalo", "telegram", "telegram", "zalo"], 1)]
        s.add_all(users)
        s.flush()
        u = [user.id for user in users]
        b1 = Broadcast(author="cb", topic="thong-bao-chung", body="Bản tin", status="done", send_at=vn(10, 15, 8),
                       campaign_id="ban-tin-cchc", fire_time=vn(10, 15, 8), channels=["telegram", "zalo"])
        b2 = Broadcast(author="cb", topic="thong-bao-chung", body="**Lịch nghỉ lễ**\nXã nghỉ ngày 2/9.",
                       status="done", send_at=vn(10, 25, 7), channels=["telegram", "zalo"])
        b3 = Broadcast(author="cb", topic="thong-bao-chung", body="nháp", status="draft", created_at=vn(10, 26))
        b4 = Broadcast(author="cb", topic="thong-bao-chung", body="tháng sau", status="done", send_at=vn(11, 3))
        s.add_all([b1, b2, b3, b4])
        s.flush()
        s.add_all([BroadcastDelivery(broadcast_id=b1.id, channel_user_id=user, channel=channel, status=status)
                   for status, user, channel in [
                       ("sent", u[0], "telegram"), ("sent", u[1], "zalo"), ("sent", u[2], "zalo"),
                       ("failed", u[3], "telegram"), ("blocked", u[4], "telegram"),
                       ("ineligible", u[5], "zalo"), ("cancelled", u[0], "zalo")]])
        s.add_all([BroadcastDelivery(broadcast_id=b2.id, channel_user_id=user, channel="zalo", status=status)
                   for status, user in zip(["sent", "sent", "unknown"], u, strict=False)])
        s.add_all([BroadcastDelivery(broadcast_id=b4.id, channel_user_id=u[0], channel="telegram", status="sent")])
        s.add_all([
            Subscription(channel_user_id=u[0], topic="thong-bao-chung", consent_at=vn(9, 1)),
            Subscription(channel_user_id=u[0], topic="dich-vu-cong", consent_at=vn(10, 3)),
            Subscription(channel_user_id=u[1], topic="thong-bao-chung", consent_at=vn(10, 10),
                         unsubscribed_at=vn(10, 20)),
            Subscription(channel_user_id=u[2], topic="thong-bao-chung", consent_at=vn(8, 1)),
            Subscription(channel_user_id=u[3], topic="thong-bao-chung", consent_at=vn(11, 5)),
        ])
        s.commit()
    engine.dispose()


@pytest.fixture
def filled_url(database_url: str) -> str:
    upgrade(database_url)
    fill(database_url)
    return database_url


@pytest.fixture
async def filled(filled_url: str):
    app = build_app(make_settings(filled_url, content=FIXTURE))
    yield app
    await app.close()


async def october(app: BotApp):
    return await build_report(app.database, app.content.current.pack, OFFICE, parse_period("2026-10"),
                              now=REPORT_DAY.astimezone(dt.UTC))


EXPECTED_MD = """\
# BÁO CÁO KẾT QUẢ HOẠT ĐỘNG TRỢ LÝ ẢO HƯỚNG DẪN THỦ TỤC HÀNH CHÍNH

**UBND xã Ngọc Liên — Tháng 10/2026 (từ ngày 01/10/2026 đến ngày 31/10/2026)**

## I. HƯỚNG DẪN, GIẢI ĐÁP THỦ TỤC HÀNH CHÍNH

### 1. Số câu hỏi theo kênh

| Kênh | Số câu hỏi | Tỷ lệ |
| --- | ---: | ---: |
| Telegram | 6 | 54,5% |
| Zalo | 3 | 27,3% |
| Trang web | 2 | 18,2% |
| Tổng cộng | 11 | 100,0% |

### 2. Kết quả trả lời

| Kết quả | Số câu hỏi | Tỷ lệ |
| --- | ---: | ---: |
| Trả lời được ngay | 5 | 45,5% |
| Gợi ý “Có phải…?” | 2 | 18,2% |
| Chưa trả lời được | 4 | 36,4% |

- Trong 2 câu được gợi ý, người dân đã chọn được câu phù hợp: 1.
- Câu hỏi người dân đề nghị chuyển cán bộ trả lời: 1.

### 3. Nội dung được hỏi nhiều nhất

| STT | Nội dung | Số lượt |
| ---: | --- | ---: |
| 1 | Đăng ký khai sinh cần giấy tờ gì? | 3 |
| 2 | Đăng ký kết hôn cần những gì? | 2 |
| 3 | Lệ phí đăng ký khai sinh là bao nhiêu? | 1 |

### 4. Người dân đánh giá câu trả lời

| Đánh giá | Số lượt | Tỷ lệ |
| --- | ---: | ---: |
| Hữu ích | 3 | 75,0% |
| Chưa hữu ích | 1 | 25,0% |

## II. TIẾP NHẬN, XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ

### 1. Phản ánh, kiến nghị theo lĩnh vực

| Lĩnh vực | Số phản ánh | Tỷ lệ |
| --- | ---: | ---: |
| Thủ tục hành chính | 2 | 50,0% |
| Thái độ, tác phong cán bộ | 1 | 25,0% |
| Góp ý, kiến nghị | 1 | 25,0% |
| Nội dung khác | 0 | 0,0% |
| Tổng cộng | 4 | 100,0% |

### 2. Tình trạng giải quyết (đến ngày 10/11/2026)

| Tình trạng | Số phản ánh | Tỷ lệ |
| --- | ---: | ---: |
| Mới tiếp nhận | 1 | 25,0% |
| Đang xử lý | 1 | 25,0% |
| Đã trả lời | 1 | 25,0% |
| Đã đóng | 1 | 25,0% |

- Trả lời đúng hạn: 1/3 phản ánh đã trả lời hoặc đã đến hạn (33,3%).
- Quá hạn chưa trả lời: 1.

## III. MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN

| Mức độ | Số ý kiến | Tỷ lệ |
| --- | ---: | ---: |
| Rất hài lòng | 2 | 40,0% |
| Hài lòng | 1 | 20,0% |
| Bình thường | 1 | 20,0% |
| Không hài lòng | 0 | 0,0% |
| Rất không hài lòng | 1 | 20,0% |
| Tổng cộng | 5 | 100,0% |

- Tỷ lệ hài lòng (Rất hài lòng và Hài lòng): 60,0% trên 5 ý kiến (chỉ tiêu: trên 95%).
- Sau khi trả lời phản ánh: 2 ý kiến; khảo sát định kỳ: 3 ý kiến.

## IV. THÔNG TIN, TUYÊN TRUYỀN QUA TRỢ LÝ ẢO

### 1. Thông báo, chiến dịch đã gửi

| Ngày gửi | Nội dung | Người nhận | Đã gửi tới | Lỗi | Không liên lạc được |
| --- | --- | ---: | ---: | ---: | ---: |
| 15/10/2026 | Chiến dịch: ban-tin-cchc | 6 | 3 | 1 | 2 |
| 25/10/2026 | Thông báo (Thông báo chung): Lịch nghỉ lễ | 3 | 2 | 1 | 0 |
|  | Tổng cộng | 9 | 5 | 2 | 2 |

- Tỷ lệ gửi thành công: 55,6%. Không liên lạc được: người dân đã chặn bot, bỏ quan tâm, hoặc quá thời hạn nền tảng cho phép gửi tin.

### 2. Người đăng ký nhận thông báo theo kênh (đến ngày 31/10/2026)

| Kênh | Số người |
| --- | ---: |
| Telegram | 1 |
| Zalo | 1 |
| Tổng cộng | 2 |

- Đăng ký mới trong kỳ: 2 lượt; hủy đăng ký trong kỳ: 1 lượt.

### 3. Lượt đăng ký theo chủ đề

| Chủ đề | Số lượt đăng ký |
| --- | ---: |
| Thông báo chung | 2 |
| dich-vu-cong | 1 |

## V. NỘI DUNG CẦN BỔ SUNG (CÂU HỎI CHƯA TRẢ LỜI ĐƯỢC, THEO NHÓM)

| STT | Câu hỏi tiêu biểu | Số lượt | Cách hỏi khác |
| ---: | --- | ---: | --- |
| 1 | xin giấy phép karaoke | 3 | giấy phép kinh doanh karaoke cần gì |
| 2 | đăng ký nuôi chó | 1 |  |

_Số liệu lập ngày 10/11/2026 từ hệ thống trợ lý ảo._
"""


async def test_markdown_report_of_a_known_month(filled: BotApp) -> None:
    report = await october(filled)
    assert to_markdown(report) == EXPECTED_MD


async def test_csv_report_of_a_known_month(filled: BotApp) -> None:
    rows = list(csv.reader(io.StringIO(to_csv(await october(filled)))))
    assert rows[0] == ["BÁO CÁO KẾT QUẢ HOẠT ĐỘNG TRỢ LÝ ẢO HƯỚNG DẪN THỦ TỤC HÀNH CHÍNH"]
    assert rows[1] == ["UBND xã Ngọc Liên — Tháng 10/2026 (từ ngày 01/10/2026 đến ngày 31/10/2026)"]

    def block(title: str) -> list[list[str]]:
        start = rows.index([title]) + 1
        return rows[start: rows.index([], start)]

    assert block("1. Số câu hỏi theo kênh") == [
        ["Kênh", "Số câu hỏi", "Tỷ lệ"], ["Telegram", "6", "54,5%"], ["Zalo", "3", "27,3%"],
        ["Trang web", "2", "18,2%"], ["Tổng cộng", "11", "100,0%"]]
    assert block("2. Kết quả trả lời")[1:4] == [
        ["Trả lời được ngay", "5", "45,5%"], ["Gợi ý “Có phải…?”", "2", "18,2%"], ["Chưa trả lời được", "4", "36,4%"]]
    assert block("4. Người dân đánh giá câu trả lời")[1:] == [["Hữu ích", "3", "75,0%"], ["Chưa hữu ích", "1", "25,0%"]]
    assert block("2. Tình trạng giải quyết (đến ngày 10/11/2026)")[-2:] == [
        ["Trả lời đúng hạn: 1/3 phản ánh đã trả lời hoặc đã đến hạn (33,3%)."], ["Quá hạn chưa trả lời: 1."]]
    satisfaction = block("III. MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN")
    assert satisfaction[1:7] == [["Rất hài lòng", "2", "40,0%"], ["Hài lòng", "1", "20,0%"], ["Bình thường", "1", "20,0%"],
                                 ["Không hài lòng", "0", "0,0%"], ["Rất không hài lòng", "1", "20,0%"],
                                 ["Tổng cộng", "5", "100,0%"]]
    assert satisfaction[7] == ["Tỷ lệ hài lòng (Rất hài lòng và Hài lòng): 60,0% trên 5 ý kiến (chỉ tiêu: trên 95%)."]
    assert block("1. Thông báo, chiến dịch đã gửi")[1:4] == [
        ["15/10/2026", "Chiến dịch: ban-tin-cchc", "6", "3", "1", "2"],
        ["25/10/2026", "Thông báo (Thông báo chung): Lịch nghỉ lễ", "3", "2", "1", "0"],
        ["", "Tổng cộng", "9", "5", "2", "2"]]
    assert block("V. NỘI DUNG CẦN BỔ SUNG (CÂU HỎI CHƯA TRẢ LỜI ĐƯỢC, THEO NHÓM)") == [
        ["STT", "Câu hỏi tiêu biểu", "Số lượt", "Cách hỏi khác"],
        ["1", "xin giấy phép karaoke", "3", "giấy phép kinh doanh karaoke cần gì"],
        ["2", "đăng ký nuôi chó", "1", ""]]


async def test_xlsx_report_and_chart(filled: BotApp, tmp_path: Path) -> None:
    report = await october(filled)
    chart = render_chart(report, tmp_path / "bao-cao.png")
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size[0] > 800
    to_xlsx(report, tmp_path / "bao-cao.xlsx", chart)
    book = load_workbook(tmp_path / "bao-cao.xlsx")
    assert book.sheetnames == ["Báo cáo", "Biểu đồ"]
    assert len(book["Biểu đồ"]._images) == 1
    sheet = book["Báo cáo"]
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    cells = [[c for c in row if c is not None] for row in values]
    assert cells[0] == ["BÁO CÁO KẾT QUẢ HOẠT ĐỘNG TRỢ LÝ ẢO HƯỚNG DẪN THỦ TỤC HÀNH CHÍNH"]
    at = cells.index(["1. Số câu hỏi theo kênh"])
    assert cells[at + 1: at + 6] == [["Kênh", "Số câu hỏi", "Tỷ lệ"], ["Telegram", 6, pytest.approx(6 / 11)],
                                     ["Zalo", 3, pytest.approx(3 / 11)], ["Trang web", 2, pytest.approx(2 / 11)],
                                     ["Tổng cộng", 11, 1]]
    row = next(r for r in sheet.iter_rows() if r[0].value == "Telegram")
    assert row[2].number_format == "0.0%"
    at = cells.index(["III. MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN"])
    assert cells[at + 2] == ["Rất hài lòng", 2, pytest.approx(0.4)]
    at = cells.index(["1. Phản ánh, kiến nghị theo lĩnh vực"])
    assert cells[at + 2: at + 6] == [["Thủ tục hành chính", 2, 0.5], ["Thái độ, tác phong cán bộ", 1, 0.25],
                                     ["Góp ý, kiến nghị", 1, 0.25], ["Nội dung khác", 0, 0]]
    assert ["", "Tổng cộng", 9, 5, 2, 2] in [[c if c is not None else "" for c in r[:6]] for r in values]


def test_periods() -> None:
    assert parse_period("2026-10").label == "Tháng 10/2026"
    q4 = parse_period("2026-Q4")
    assert (q4.label, q4.first, q4.last) == ("Quý IV/2026", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    h1 = parse_period("2026-h1")
    assert (h1.label, h1.first, h1.last) == ("6 tháng đầu năm 2026", dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    year = parse_period("2026")
    assert (year.label, year.first, year.last, len(year.days)) == ("Năm 2026", dt.date(2026, 1, 1),
                                                                  dt.date(2026, 12, 31), 365)
    feb = parse_period("2028-02")
    assert feb.last == dt.date(2028, 2, 29)
    assert parse_period("2026-10").start == dt.datetime(2026, 9, 30, 17, tzinfo=dt.UTC)  # 00:00 in Vietnam
    for bad in ("2026-13", "2026-Q5", "26-10", "2026/10", "tháng 10"):
        with pytest.raises(ValueError, match="không hợp lệ"):
            parse_period(bad)


async def test_the_quarter_counts_the_same_month(filled: BotApp) -> None:
    report = await build_report(filled.database, filled.content.current.pack, OFFICE, parse_period("2026-Q4"),
                                now=REPORT_DAY.astimezone(dt.UTC))
    text = to_markdown(report)
    assert "**UBND xã Ngọc Liên — Quý IV/2026 (từ ngày 01/10/2026 đến ngày 31/12/2026)**" in text
    assert "| Zalo | 4 | 33,3% |" in text  # October's 3 and November's 1
    assert "| Tổng cộng | 12 | 100,0% |" in text


def test_similar_questions_are_grouped() -> None:
    gaps = group_questions(["xin giấy phép karaoke", "giấy phép kinh doanh karaoke cần gì", "đăng ký nuôi chó",
                            "xin giấy phép karaoke", "xin giấy phép xây dựng nhà tạm", "dang ky nuoi cho meo"])
    assert [(g.text, g.count, [v for v, _ in g.variants]) for g in gaps] == [
        ("xin giấy phép karaoke", 3, ["giấy phép kinh doanh karaoke cần gì"]),
        ("dang ky nuoi cho meo", 2, ["đăng ký nuôi chó"]),
        ("xin giấy phép xây dựng nhà tạm", 1, []),
    ]


async def test_content_gaps_with_the_nearest_entry(filled: BotApp) -> None:
    gaps = await content_gaps(filled.database, filled.content.current.matcher)
    assert [(g.text, g.count) for g in gaps] == [("xin giấy phép karaoke", 3), ("bán xe máy cũ", 1),
                                                 ("đăng ký nuôi chó", 1)]
    since = await content_gaps(filled.database, filled.content.current.matcher, since=vn(10, 25))
    assert [(g.text, g.count) for g in since] == [("bán xe máy cũ", 1), ("đăng ký nuôi chó", 1)]
    nuoi_cho = next(g for g in gaps if g.text == "đăng ký nuôi chó")
    assert nuoi_cho.nearest is not None and nuoi_cho.nearest[0] in filled.content.current.pack.entries


def test_report_and_gaps_commands(filled_url: str, tmp_path: Path) -> None:
    env = {"CCHC_CONTENT_PATH": str(FIXTURE), "CCHC_PSEUDONYM_SALT": "cli-test",
           "CCHC_DATABASE_URL": filled_url, "CCHC_OFFICE_NAME": OFFICE}
    runner = CliRunner()
    out = tmp_path / "bao-cao-2026-10.md"
    result = runner.invoke(main, ["report", "--period", "2026-10", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith(EXPECTED_MD.split("## II.")[0])  # up to the tickets, which depend on today
    assert "![Số câu hỏi theo ngày](bao-cao-2026-10.png)" in text
    assert (tmp_path / "bao-cao-2026-10.png").stat().st_size > 10_000
    csv_out = tmp_path / "q4.csv"
    result = runner.invoke(main, ["report", "--period", "2026-Q4", "--format", "csv", "--out", str(csv_out),
                                  "--no-chart"], env=env)
    assert result.exit_code == 0, result.output
    assert csv_out.read_bytes().startswith("\ufeff".encode())
    assert not (tmp_path / "q4.png").exists()
    xlsx = tmp_path / "nam.xlsx"
    result = runner.invoke(main, ["report", "--period", "2026", "--format", "xlsx", "--out", str(xlsx)], env=env)
    assert result.exit_code == 0, result.output
    assert load_workbook(xlsx).sheetnames == ["Báo cáo", "Biểu đồ"]
    stdout = runner.invoke(main, ["report", "--period", "2026-10", "--no-chart"], env=env)
    assert stdout.exit_code == 0 and "| Telegram | 6 | 54,5% |" in stdout.output
    refused = runner.invoke(main, ["report", "--period", "2026-10", "--format", "xlsx"], env=env)
    assert refused.exit_code != 0 and "--out" in refused.output
    bad = runner.invoke(main, ["report", "--period", "Q4"], env=env)
    assert bad.exit_code != 0 and "không hợp lệ" in bad.output
    gaps = runner.invoke(main, ["content", "gaps", "--since", "2026-10-01"], env=env)
    assert gaps.exit_code == 0, gaps.output
    lines = gaps.output.splitlines()
    assert lines[0] == "3 nhóm, 5 câu hỏi chưa trả lời được từ ngày 01/10/2026:"
    assert lines[2] == "1. [3 lượt] xin giấy phép karaoke"
    assert lines[3] == "     cách hỏi khác: giấy phép kinh doanh karaoke cần gì (1)"
    assert lines[4].startswith("     câu gần nhất đã có: ")
