"""The report's outcome table accounts for every question: fee lookups are logged as questions
(issue 20: the total counted them and no row did)."""

from __future__ import annotations

import datetime as dt

from bot.app import BotApp
from bot.content.loader import TIMEZONE
from handlers.reports.report import OUTCOMES, build_report, parse_period
from tests.lookups_support import say


async def test_outcome_rows_sum_to_the_total_with_fee_answers(bot: BotApp) -> None:
    asked = {
        "phí khai sinh": "fee",
        "le phi chung thuc bao nhieu": "fee_clarify",
        "lam giay khai sinh can gi": "answer",
        "chung thuc": "clarify",
    }
    for n, (question, expected) in enumerate(asked.items()):
        response = await say(bot, question, user=f"u{n}")
        assert response.outcome == expected, question
    now = dt.datetime.now(TIMEZONE)
    report = await build_report(bot.database, bot.content.current.pack, "UBND xã", parse_period(f"{now:%Y-%m}"))
    [section] = [s for s in report.sections if s.title == "2. Kết quả trả lời"]
    rows = {row[0]: row[1] for row in section.table.rows}
    assert rows == {OUTCOMES["answer"]: 2, OUTCOMES["clarify"]: 2, OUTCOMES["not_sure"]: 0}
    assert sum(rows.values()) == len(asked)
    assert any("2 câu hỏi về phí, lệ phí" in note for note in section.notes)
    assert sum(sum(counts.values()) for _, counts in report.daily) == len(asked)  # the chart too
