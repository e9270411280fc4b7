"""The periodic report (``cchc-bot report``) and the content gaps (``cchc-bot content gaps``).

The plans ask communes to report monthly, quarterly, 6-monthly and yearly. The report is laid
out like the results part of such a report ("Kết quả thực hiện"), with Vietnamese headings, so an
official can paste it in: Markdown (for a word processor), CSV or an Excel workbook, plus a PNG
chart of the period's questions per day by outcome.

Every figure is computed in Vietnam's time: a period is its calendar days in Asia/Ho_Chi_Minh.
Figures for tickets and deliveries are as recorded when the report is made.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from sqlalchemy import inspect
from sqlmodel import col, select

from bot import text as vtext
from bot.content import review
from bot.content.loader import TIMEZONE
from bot.storage.models import (
    AnswerVote,
    Broadcast,
    ChannelUser,
    QuestionLog,
    SatisfactionResponse,
    Subscription,
    Ticket,
    utcnow,
)
from handlers.contest import figures as contest_figures
from handlers.contest.results import FLAG_LABELS
from handlers.feedback.service import CHANNEL_NAMES, LEVELS, SATISFIED, STATUSES, SUBJECTS, aware

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.content.model import ContentPack
    from bot.matching import Matcher
    from bot.storage.db import Database
    from handlers.contest.contests import Contest

try:  # the broadcasts' outbox; reports say so when it is not there
    from bot.storage.models import BroadcastDelivery
except ImportError:  # pragma: no cover - depends on the deployment's version
    BroadcastDelivery = None  # type: ignore[assignment,misc]

OUTCOMES = {
    "answer": "Trả lời được ngay",
    "clarify": "Gợi ý “Có phải…?”",
    "not_sure": "Chưa trả lời được",
}
OUTCOME_COLOURS = {"answer": "#2e7d32", "clarify": "#f9a825", "not_sure": "#c62828"}
# Outcomes of other lookups, reported in the row they belong to: a fee answer is an answer, fee
# choices are a "did you mean…?". Anything else logged as a question is "not answered", so the
# rows always sum to the total.
REPORTED_AS = {"fee": "answer", "fee_clarify": "clarify"}


def reported_outcome(outcome: str) -> str:
    """The report's row for a logged outcome."""
    outcome = REPORTED_AS.get(outcome, outcome)
    return outcome if outcome in OUTCOMES else "not_sure"


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
TOP_QUESTIONS = 10
TOP_GAPS = 10
SIMILAR = 80  # rapidfuzz token_set_ratio over the questions' keys: same gap from here on
SATISFACTION_TARGET = "trên 95%"  # the plans' target (kế hoạch 000)
# Words that say nothing about what is asked: left out when grouping similar questions.
_FILLER = {
    "a", "ah", "ak", "ad", "ban", "bot", "cho", "co", "can", "gi", "j", "khong", "ko", "k", "lam",
    "sao", "the", "nao", "ntn", "o", "dau", "dc", "duoc", "em", "e", "toi", "minh", "xin", "hoi",
    "muon", "mun", "voi", "vs", "nhe", "nha", "oi", "thi", "la", "va", "cua", "de", "nhu",
    "thu", "tuc", "giup", "huong", "dan", "ve", "vay",
}
_PERIOD = re.compile(r"(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])|H([12])))?", re.IGNORECASE)


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str  # 2026-10, 2026-Q4, 2026-H2, 2026
    label: str  # Tháng 10/2026, Quý IV/2026, 6 tháng cuối năm 2026, Năm 2026
    first: dt.date
    last: dt.date  # inclusive

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), TIMEZONE).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:  # exclusive
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), TIMEZONE).astimezone(dt.UTC)

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def contains(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.start <= aware(moment) < self.end


def _month_end(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def parse_period(raw: str) -> Period:
    """2026-10 (a month), 2026-Q4 (a quarter), 2026-H2 (a half year) or 2026 (a year)."""
    match = _PERIOD.fullmatch(raw.strip())
    if match is None:
        raise ValueError(f"kỳ báo cáo '{raw}' không hợp lệ: dùng 2026-10 (tháng), 2026-Q4 (quý), "
                         "2026-H2 (6 tháng) hoặc 2026 (năm)")
    year = int(match.group(1))
    month, quarter, half = match.group(2), match.group(3), match.group(4)
    if month:
        m = int(month)
        return Period(f"{year}-{m:02d}", f"Tháng {m}/{year}", dt.date(year, m, 1), _month_end(year, m))
    if quarter:
        q = int(quarter)
        return Period(f"{year}-Q{q}", f"Quý {ROMAN[q]}/{year}", dt.date(year, 3 * q - 2, 1),
                      _month_end(year, 3 * q))
    if half:
        h = int(half)
        label = f"6 tháng {'đầu' if h == 1 else 'cuối'} năm {year}"
        return Period(f"{year}-H{h}", label, dt.date(year, 6 * h - 5, 1), _month_end(year, 6 * h))
    return Period(str(year), f"Năm {year}", dt.date(year, 1, 1), dt.date(year, 12, 31))


# --- grouping similar questions ------------------------------------------------------------


@dataclass
class Gap:
    """Questions the bot could not answer that ask the same thing."""

    text: str  # the most frequent wording
    count: int
    variants: list[tuple[str, int]] = field(default_factory=list)  # the other wordings
    nearest: tuple[str, str, float] | None = None  # (entry id, title, score)

    @property
    def key(self) -> str:
        return _gap_key(self.text)


def _gap_key(text: str) -> str:
    tokens = vtext.tokens(text)
    kept = [t for t in tokens if t not in _FILLER]
    return " ".join(kept or tokens)


def group_questions(texts: Iterable[str], threshold: float = SIMILAR) -> list[Gap]:
    """Similar questions together (rapidfuzz over the normalized texts), most asked first."""
    counts = Counter(t for t in texts if t.strip())
    groups: list[Gap] = []
    keys: list[str] = []
    for text, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        key = _gap_key(text)
        found = process.extractOne(key, keys, scorer=fuzz.token_set_ratio, score_cutoff=threshold)
        if found is None:
            groups.append(Gap(text, count))
            keys.append(key)
        else:
            group = groups[found[2]]
            group.count += count
            group.variants.append((text, count))
    return sorted(groups, key=lambda g: (-g.count, g.text))


def add_nearest(gaps: Sequence[Gap], matcher: Matcher) -> None:
    for gap in gaps:
        _, ranked = matcher.rank(gap.text, limit=1)
        gap.nearest = (ranked[0].id, ranked[0].title, ranked[0].score) if ranked else None


# --- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """A share of a whole (0–1): "85,7%" in text, a percentage cell in Excel."""

    value: float | None  # None: nothing to divide by


Cell = int | str | Share | None


def share(part: int, whole: int) -> Share:
    return Share(part / whole if whole else None)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]


@dataclass
class Section:
    title: str
    level: int  # 2: I., II. ...; 3: 1., 2. ...
    table: Table | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    office: str
    period: Period
    generated_at: dt.datetime
    sections: list[Section]
    daily: list[tuple[dt.date, dict[str, int]]]  # questions per day by outcome
    chart_file: str | None = None  # the PNG's name, for the Markdown image

    @property
    def title(self) -> str:
        return "BÁO CÁO KẾT QUẢ HOẠT ĐỘNG TRỢ LÝ ẢO HƯỚNG DẪN THỦ TỤC HÀNH CHÍNH"

    @property
    def subtitle(self) -> str:
        return (f"{self.office} — {self.period.label} "
                f"(từ ngày {self.period.first:%d/%m/%Y} đến ngày {self.period.last:%d/%m/%Y})")


def pct(value: Share | float | None) -> str:
    number = value.value if isinstance(value, Share) else value
    if number is None:
        return "—"
    return f"{number * 100:.1f}".replace(".", ",") + "%"


def num(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _cell_text(value: Cell) -> str:
    if isinstance(value, Share):
        return pct(value)
    if isinstance(value, int):
        return num(value)
    return "" if value is None else str(value)


async def build_report(database: Database, pack: ContentPack, office: str, period: Period,
                       now: dt.datetime | None = None, contests: Mapping[str, Contest] | None = None) -> Report:
    """Every figure of the period, from the database; ``contests``: the contest files, those
    that ran in the period get a section."""
    now = now or utcnow()
    start, end = period.start, period.end
    async with database.session() as session:
        questions = (await session.exec(select(
            QuestionLog.created_at, QuestionLog.channel, QuestionLog.outcome, QuestionLog.faq_id,
            QuestionLog.chosen_id, QuestionLog.forwarded, QuestionLog.text,
        ).where(QuestionLog.created_at >= start, QuestionLog.created_at < end))).all()
        votes = (await session.exec(select(AnswerVote.helpful).where(
            AnswerVote.created_at >= start, AnswerVote.created_at < end))).all()
        ratings = (await session.exec(select(SatisfactionResponse.level, SatisfactionResponse.source)
                                      .where(SatisfactionResponse.created_at >= start,
                                             SatisfactionResponse.created_at < end))).all()
        tickets = (await session.exec(select(Ticket).where(
            Ticket.created_at >= start, Ticket.created_at < end))).all()
        broadcasts = (await session.exec(select(Broadcast).where(
            col(Broadcast.status).in_(("sending", "done"))))).all()
        broadcasts = [b for b in broadcasts if period.contains(b.send_at or b.fire_time or b.created_at)]
        deliveries = await _deliveries(session, [b.id for b in broadcasts if b.id is not None])
        subscriptions = (await session.exec(select(Subscription, ChannelUser.channel).join(
            ChannelUser, col(ChannelUser.id) == Subscription.channel_user_id))).all()
        ran = sorted((c for c in (contests or {}).values() if contest_figures.ran_within(c, start, end)),
                     key=lambda c: (c.starts, c.id))
        contest_results = [(c, await contest_figures.figures(session, c, start, end)) for c in ran]

    sections = [Section("I. HƯỚNG DẪN, GIẢI ĐÁP THỦ TỤC HÀNH CHÍNH", 2)]
    sections += _question_sections(questions, votes, pack)
    sections += _ticket_sections(tickets, now)
    sections += _satisfaction_sections(ratings)
    sections += _broadcast_sections(broadcasts, deliveries, subscriptions, pack, period)
    gaps = group_questions(q.text for q in questions if q.outcome == "not_sure")
    sections.append(_gap_section(gaps))
    sections.append(_review_section(pack, aware(now).astimezone(TIMEZONE).date()))
    sections += _contest_sections(contest_results)
    daily: dict[dt.date, dict[str, int]] = {day: dict.fromkeys(OUTCOMES, 0) for day in period.days}
    for q in questions:
        day = aware(q.created_at).astimezone(TIMEZONE).date()
        if day in daily:
            daily[day][reported_outcome(q.outcome)] += 1
    return Report(office, period, now, sections, sorted(daily.items()))


async def _deliveries(session: AsyncSession, broadcast_ids: list[int]) -> dict[int, Counter] | None:
    """Delivery outcomes per broadcast, or None when the outbox table is not there."""
    if BroadcastDelivery is None:
        return None
    connection = await session.connection()
    exists = await connection.run_sync(lambda sync: inspect(sync).has_table("broadcast_delivery"))
    if not exists:
        return None
    found: dict[int, Counter] = defaultdict(Counter)
    if broadcast_ids:
        result = await session.exec(select(BroadcastDelivery.broadcast_id, BroadcastDelivery.status)
                                    .where(col(BroadcastDelivery.broadcast_id).in_(broadcast_ids)))
        for broadcast_id, status in result.all():
            found[broadcast_id][status] += 1
    return found


def _counted(counter: Counter, order: Sequence[str], labels: dict[str, str], total: int) -> list[list[Cell]]:
    return [[labels.get(key, key), counter.get(key, 0), share(counter.get(key, 0), total)] for key in order]


def _question_sections(questions: Sequence, votes: Sequence[bool], pack: ContentPack) -> list[Section]:
    total = len(questions)
    by_channel = Counter(q.channel for q in questions)
    channels = sorted(by_channel, key=lambda c: (-by_channel[c], c))
    rows = _counted(by_channel, channels, CHANNEL_NAMES, total)
    rows.append(["Tổng cộng", total, share(total, total)])
    out = [Section("1. Số câu hỏi theo kênh", 3, Table(["Kênh", "Số câu hỏi", "Tỷ lệ"], rows))]

    outcomes = Counter(reported_outcome(q.outcome) for q in questions)
    chosen = sum(1 for q in questions if q.outcome == "clarify" and q.chosen_id)
    forwarded = sum(1 for q in questions if q.forwarded)
    fees = sum(1 for q in questions if q.outcome in REPORTED_AS)
    notes = [f"Trong {num(outcomes.get('clarify', 0))} câu được gợi ý, người dân đã chọn được "
             f"câu phù hợp: {num(chosen)}.",
             f"Câu hỏi người dân đề nghị chuyển cán bộ trả lời: {num(forwarded)}."]
    if fees:
        notes.append(f"Trong tổng số có {num(fees)} câu hỏi về phí, lệ phí (đã tính vào các dòng trên).")
    out.append(Section("2. Kết quả trả lời", 3,
                       Table(["Kết quả", "Số câu hỏi", "Tỷ lệ"], _counted(outcomes, list(OUTCOMES), OUTCOMES, total)),
                       notes))

    answered = {"answer", "fee"}
    matched = Counter(q.faq_id if q.outcome in answered else q.chosen_id for q in questions
                      if (q.outcome in answered and q.faq_id) or (q.outcome == "clarify" and q.chosen_id))
    top = sorted(matched.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_QUESTIONS]
    rows = [[n, pack.entries[faq_id].title if faq_id in pack.entries else faq_id, count]
            for n, (faq_id, count) in enumerate(top, 1)]
    out.append(Section("3. Nội dung được hỏi nhiều nhất", 3,
                       Table(["STT", "Nội dung", "Số lượt"], rows),
                       [] if rows else ["Chưa có câu hỏi nào được trả lời trong kỳ."]))

    helpful = sum(1 for v in votes if v)
    rows = [["Hữu ích", helpful, share(helpful, len(votes))],
            ["Chưa hữu ích", len(votes) - helpful, share(len(votes) - helpful, len(votes))]]
    out.append(Section("4. Người dân đánh giá câu trả lời", 3,
                       Table(["Đánh giá", "Số lượt", "Tỷ lệ"], rows)))
    return out


def _ticket_sections(tickets: Sequence[Ticket], now: dt.datetime) -> list[Section]:
    total = len(tickets)
    subjects = Counter(t.subject for t in tickets)
    statuses = Counter(t.status for t in tickets)
    answered = [t for t in tickets if t.answered_at is not None]
    on_time = sum(1 for t in answered if aware(t.answered_at) <= aware(t.deadline))  # type: ignore[arg-type]
    overdue = sum(1 for t in tickets if t.answered_at is None and t.status in ("new", "in_progress")
                  and aware(t.deadline) < now)
    due = len(answered) + overdue
    rows = _counted(subjects, list(SUBJECTS), SUBJECTS, total)
    rows.append(["Tổng cộng", total, share(total, total)])
    return [
        Section("II. TIẾP NHẬN, XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ", 2),
        Section("1. Phản ánh, kiến nghị theo lĩnh vực", 3, Table(["Lĩnh vực", "Số phản ánh", "Tỷ lệ"], rows)),
        Section(f"2. Tình trạng giải quyết (đến ngày {now.astimezone(TIMEZONE):%d/%m/%Y})", 3,
                Table(["Tình trạng", "Số phản ánh", "Tỷ lệ"], _counted(statuses, list(STATUSES), STATUSES, total)),
                [f"Trả lời đúng hạn: {num(on_time)}/{num(due)} phản ánh đã trả lời hoặc đã đến hạn "
                 f"({pct(share(on_time, due))}).",
                 f"Quá hạn chưa trả lời: {num(overdue)}."]),
    ]


def _satisfaction_sections(ratings: Sequence) -> list[Section]:
    total = len(ratings)
    levels = Counter(r.level for r in ratings)
    rows = [[label, levels.get(level, 0), share(levels.get(level, 0), total)] for level, label in LEVELS.items()]
    rows.append(["Tổng cộng", total, share(total, total)])
    satisfied = sum(levels.get(level, 0) for level in SATISFIED)
    sources = Counter(r.source for r in ratings)
    return [
        Section("III. MỨC ĐỘ HÀI LÒNG CỦA NGƯỜI DÂN", 2, Table(["Mức độ", "Số ý kiến", "Tỷ lệ"], rows), [
            f"Tỷ lệ hài lòng (Rất hài lòng và Hài lòng): {pct(share(satisfied, total))} trên "
            f"{num(total)} ý kiến (chỉ tiêu: {SATISFACTION_TARGET}).",
            f"Sau khi trả lời phản ánh: {num(sources.get('ticket', 0))} ý kiến; "
            f"khảo sát định kỳ: {num(sources.get('survey', 0))} ý kiến.",
        ]),
    ]


def _broadcast_sections(broadcasts: Sequence[Broadcast], deliveries: dict[int, Counter] | None,
                        subscriptions: Sequence, pack: ContentPack, period: Period) -> list[Section]:
    topics = {t.id: t.title for t in pack.topics}
    rows: list[list[Cell]] = []
    totals = Counter()
    for b in sorted(broadcasts, key=lambda b: (aware(b.send_at or b.fire_time or b.created_at), b.id or 0)):
        when = aware(b.send_at or b.fire_time or b.created_at).astimezone(TIMEZONE)
        campaign = pack.campaigns.get(b.campaign_id) if b.campaign_id else None
        what = (f"Chiến dịch: {campaign.title}" if campaign else
                f"Chiến dịch: {b.campaign_id}" if b.campaign_id else
                f"Thông báo ({topics.get(b.topic, b.topic)}): {_first_line(b.body)}")
        if deliveries is None:
            rows.append([when.strftime("%d/%m/%Y"), what, None, None, None, None])
            continue
        c = deliveries.get(b.id or 0, Counter())
        counts = {"delivered": c["sent"], "failed": c["failed"] + c["unknown"],
                  "unreachable": c["blocked"] + c["ineligible"]}
        recipients = sum(c.values()) - c["cancelled"]
        totals.update(counts)
        totals["recipients"] += recipients
        rows.append([when.strftime("%d/%m/%Y"), what, recipients, counts["delivered"], counts["failed"],
                     counts["unreachable"]])
    notes = []
    if deliveries is None:
        notes.append("Chưa có số liệu gửi tới từng người nhận (cơ sở dữ liệu chưa có bảng kết quả gửi).")
    elif rows:
        rows.append(["", "Tổng cộng", totals["recipients"], totals["delivered"], totals["failed"],
                     totals["unreachable"]])
        notes.append(f"Tỷ lệ gửi thành công: {pct(share(totals['delivered'], totals['recipients']))}. "
                     "Không liên lạc được: người dân đã chặn bot, bỏ quan tâm, hoặc quá thời hạn nền tảng "
                     "cho phép gửi tin.")
    else:
        notes.append("Không có thông báo nào được gửi trong kỳ.")
    sent = Section("1. Thông báo, chiến dịch đã gửi", 3,
                   Table(["Ngày gửi", "Nội dung", "Người nhận", "Đã gửi tới", "Lỗi", "Không liên lạc được"], rows),
                   notes)

    end, start = period.end, period.start
    active = [(s, channel) for s, channel in subscriptions
              if aware(s.consent_at) < end and (s.unsubscribed_at is None or aware(s.unsubscribed_at) >= end)]
    people: dict[str, set[int]] = defaultdict(set)
    for s, channel in active:
        people[channel].add(s.channel_user_id)
    by_channel = {channel: len(ids) for channel, ids in people.items()}
    channel_rows: list[list[Cell]] = [[CHANNEL_NAMES.get(c, c), n] for c, n in
                                      sorted(by_channel.items(), key=lambda kv: (-kv[1], kv[0]))]
    channel_rows.append(["Tổng cộng", sum(by_channel.values())])
    by_topic = Counter(s.topic for s, _ in active)
    topic_ids = [t.id for t in pack.topics] + sorted(set(by_topic) - set(topics))
    topic_rows: list[list[Cell]] = [[topics.get(t, t), by_topic.get(t, 0)] for t in topic_ids]
    new = sum(1 for s, _ in subscriptions if start <= aware(s.consent_at) < end)
    left = sum(1 for s, _ in subscriptions if s.unsubscribed_at is not None and start <= aware(s.unsubscribed_at) < end)
    return [
        Section("IV. THÔNG TIN, TUYÊN TRUYỀN QUA TRỢ LÝ ẢO", 2),
        sent,
        Section(f"2. Người đăng ký nhận thông báo theo kênh (đến ngày {period.last:%d/%m/%Y})", 3,
                Table(["Kênh", "Số người"], channel_rows),
                [f"Đăng ký mới trong kỳ: {num(new)} lượt; hủy đăng ký trong kỳ: {num(left)} lượt."]),
        Section("3. Lượt đăng ký theo chủ đề", 3, Table(["Chủ đề", "Số lượt đăng ký"], topic_rows)),
    ]


def _first_line(body: str, limit: int = 60) -> str:
    line = next((ln.strip(" *#_") for ln in body.splitlines() if ln.strip(" *#_")), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _gap_section(gaps: list[Gap]) -> Section:
    rows: list[list[Cell]] = []
    for n, gap in enumerate(gaps[:TOP_GAPS], 1):
        others = "; ".join(text for text, _ in gap.variants[:2])
        rows.append([n, gap.text, gap.count, others])
    notes = ([f"Còn {num(len(gaps) - TOP_GAPS)} nhóm câu hỏi khác; xem đầy đủ bằng lệnh "
              "cchc-bot content gaps."] if len(gaps) > TOP_GAPS else [])
    if not gaps:
        notes.append("Không có câu hỏi nào chưa trả lời được trong kỳ.")
    return Section("V. NỘI DUNG CẦN BỔ SUNG (CÂU HỎI CHƯA TRẢ LỜI ĐƯỢC, THEO NHÓM)", 2,
                   Table(["STT", "Câu hỏi tiêu biểu", "Số lượt", "Cách hỏi khác"], rows), notes)


def _review_section(pack: ContentPack, day: dt.date) -> Section:
    """How many entries editors must check again (``review_by``), counted on the report's day."""
    found = review.due(pack, review.DUE_WITHIN_DAYS, day)
    overdue = sum(1 for item in found if item.overdue)
    if not found:
        notes = [f"Không có mục nào quá hạn hoặc đến hạn rà soát trong {review.DUE_WITHIN_DAYS} ngày tới."]
    else:
        notes = [f"Quá hạn rà soát: {num(overdue)} mục; đến hạn trong {review.DUE_WITHIN_DAYS} ngày tới: "
                 f"{num(len(found) - overdue)} mục. Xem danh sách bằng lệnh cchc-bot content due."]
    return Section("VI. NỘI DUNG ĐẾN HẠN RÀ SOÁT", 2, None, notes)


def _contest_sections(ran: Sequence[tuple[Contest, contest_figures.Figures]]) -> list[Section]:
    """The contests open during the period, with what happened in it."""
    if not ran:
        return []
    out = [Section("VII. CUỘC THI TÌM HIỂU VỀ CẢI CÁCH HÀNH CHÍNH", 2, None,
                   ["Số liệu phát sinh trong kỳ báo cáo (người tham gia mới, lượt thi hoàn thành trong kỳ)."])]
    for n, (contest, figures) in enumerate(ran, 1):
        rows: list[list[Cell]] = [
            ["Người tham gia", figures.participants],
            ["Lượt thi đã bắt đầu", figures.started],
            ["Lượt thi hoàn thành", figures.completed],
            ["Người trả lời đúng tất cả các câu", figures.full_scores],
            ["Trường hợp cần Ban tổ chức xem xét", sum(figures.flags.values())],
        ]
        notes = [f"Đơn vị tổ chức: {contest.organiser}; thời gian: từ {contest.starts.astimezone(TIMEZONE):%d/%m/%Y} "
                 f"đến {contest.ends.astimezone(TIMEZONE):%d/%m/%Y}."]
        if figures.flags:
            notes.append("Cần xem xét: " + "; ".join(
                f"{FLAG_LABELS.get(kind, kind)}: {num(count)}" for kind, count in sorted(figures.flags.items())) + ".")
        out.append(Section(f"{n}. {contest.title}", 3, Table(["Chỉ tiêu", "Số lượng"], rows), notes))
        by_channel: list[list[Cell]] = [[CHANNEL_NAMES.get(c, c), joined, done] for c, joined, done in figures.by_channel]
        out.append(Section(f"{n}.1. Theo kênh", 3, Table(["Kênh", "Người tham gia", "Lượt thi hoàn thành"], by_channel),
                           [] if by_channel else ["Không có người tham gia trong kỳ."]))
        if figures.by_village is not None:
            by_village: list[list[Cell]] = [[v, joined, done] for v, joined, done in figures.by_village]
            out.append(Section(f"{n}.2. Theo thôn, tổ dân phố", 3,
                               Table(["Thôn/Tổ dân phố", "Người tham gia", "Lượt thi hoàn thành"], by_village)))
    return out


# --- output --------------------------------------------------------------------------------


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", f"**{report.subtitle}**", ""]
    for section in report.sections:
        lines += [f"{'#' * section.level} {section.title}", ""]
        if section.table is not None and section.table.rows:
            table = section.table
            lines.append("| " + " | ".join(table.headers) + " |")
            lines.append("|" + "|".join(" ---: " if _numeric(table, i) else " --- "
                                        for i in range(len(table.headers))) + "|")
            for row in table.rows:
                lines.append("| " + " | ".join(_cell_text(c).replace("|", "/") for c in row) + " |")
            lines.append("")
        for note in section.notes:
            lines += [f"- {note}"]
        if section.notes:
            lines.append("")
    if report.chart_file:
        lines += ["## Biểu đồ: số câu hỏi theo ngày và kết quả trả lời", "",
                  f"![Số câu hỏi theo ngày]({report.chart_file})", ""]
    lines.append(f"_Số liệu lập ngày {report.generated_at.astimezone(TIMEZONE):%d/%m/%Y} từ hệ thống trợ lý ảo._")
    return "\n".join(lines) + "\n"


def _numeric(table: Table, index: int) -> bool:
    values = [row[index] for row in table.rows if index < len(row) and row[index] not in (None, "")]
    return bool(values) and all(isinstance(v, int | Share) for v in values)


def to_csv(report: Report) -> str:
    """Sections one under another, like the Excel sheet: title, header, rows, notes, a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.title])
    writer.writerow([report.subtitle])
    writer.writerow([])
    for section in report.sections:
        writer.writerow([section.title])
        if section.table is not None and section.table.rows:
            writer.writerow(section.table.headers)
            for row in section.table.rows:
                writer.writerow([_cell_text(c) for c in row])
        for note in section.notes:
            writer.writerow([note])
        writer.writerow([])
    return out.getvalue()


def to_xlsx(report: Report, path: Path, chart: Path | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.append([report.title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([report.subtitle])
    sheet["A2"].font = Font(italic=True)
    sheet.append([])
    for section in report.sections:
        sheet.append([section.title])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12 if section.level == 2 else 11)
        if section.table is not None and section.table.rows:
            sheet.append(section.table.headers)
            for cell in sheet[sheet.max_row]:
                cell.font, cell.fill = bold, head_fill
            for row in section.table.rows:
                sheet.append([c.value if isinstance(c, Share) else c for c in row])
                for index, value in enumerate(row, 1):
                    if isinstance(value, Share):
                        sheet.cell(sheet.max_row, index).number_format = "0.0%"
                if "Tổng cộng" in row[:2]:
                    for cell in sheet[sheet.max_row]:
                        cell.font = bold
        for note in section.notes:
            sheet.append([note])
            sheet.cell(sheet.max_row, 1).font = Font(italic=True)
        sheet.append([])
    for column, width in zip("ABCDEF", (34, 52, 14, 14, 12, 22), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=False, vertical="top")
    if chart is not None and chart.exists():
        charts = book.create_sheet("Biểu đồ")
        charts.append(["Số câu hỏi theo ngày và kết quả trả lời"])
        charts["A1"].font = bold
        charts.add_image(Image(str(chart)), "A3")
    book.save(path)


def render_chart(report: Report, path: Path) -> Path:
    """Questions per day by outcome (stacked bars); per month for periods over three months."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    days = report.daily
    if len(days) > 92:
        months: dict[dt.date, dict[str, int]] = {}
        for day, counts in days:
            bucket = months.setdefault(day.replace(day=1), dict.fromkeys(OUTCOMES, 0))
            for key, value in counts.items():
                bucket[key] += value
        points = sorted(months.items())
        labels = [f"{d.month}/{d.year}" for d, _ in points]
        unit = "tháng"
    else:
        points = days
        labels = [f"{d:%d/%m}" for d, _ in points]
        unit = "ngày"
    figure, axes = plt.subplots(figsize=(11, 4.8), dpi=110)
    bottom = [0] * len(points)
    positions = list(range(len(points)))
    for key, label in OUTCOMES.items():
        values = [counts[key] for _, counts in points]
        axes.bar(positions, values, bottom=bottom, label=label, color=OUTCOME_COLOURS[key], width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(points) // 16)
    axes.set_xticks(positions[::step], labels[::step], rotation=45 if len(points) > 16 else 0, fontsize=8)
    axes.set_ylabel("Số câu hỏi")
    axes.set_title(f"Số câu hỏi theo {unit} và kết quả trả lời — {report.period.label}\n{report.office}",
                   fontsize=11, pad=28)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=9, frameon=False)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path


async def content_gaps(database: Database, matcher: Matcher, since: dt.datetime | None = None) -> list[Gap]:
    """The not-sure questions grouped, most frequent first, each with the nearest entry."""
    query = select(QuestionLog.text).where(QuestionLog.outcome == "not_sure")
    if since is not None:
        query = query.where(QuestionLog.created_at >= since)
    async with database.session() as session:
        texts = (await session.exec(query)).all()
    gaps = group_questions(texts)
    add_nearest(gaps, matcher)
    return gaps
