"""The campaign calendar: when each campaign fires, in Vietnam's time zone."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from click.testing import CliRunner, Result

from handlers.announcements.campaigns import next_fire_times
from bot.cli import main
from bot.content.loader import TIMEZONE
from bot.content.model import Campaign
from tests.packs import BAN_TIN, CUOC_THI, write_pack

UTC = dt.UTC


def vn(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TIMEZONE)


def campaign(
    cron: str | None = None,
    dates: tuple[dt.datetime, ...] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Campaign:
    return Campaign(
        id="ban-tin", title="Bản tin", topic="thong-bao-chung", channels=("telegram",),
        cron=cron, dates=dates, start=start, end=end, source="Kế hoạch", body="Dạ.",
        path="content/campaigns/ban-tin.md",
    )


def test_cron_fires_at_8_vietnam_time_on_the_1st_and_15th() -> None:
    times = next_fire_times(campaign("0 8 1,15 * *"), vn(2026, 3, 10, 12, 0), 4)
    assert times == [vn(2026, 3, 15, 8), vn(2026, 4, 1, 8), vn(2026, 4, 15, 8), vn(2026, 5, 1, 8)]
    for t in times:
        assert t.utcoffset() == dt.timedelta(hours=7)
        assert t.astimezone(UTC).hour == 1  # 08:00 in Hanoi is 01:00 UTC


def test_cron_times_are_strictly_after() -> None:
    fire = vn(2026, 3, 15, 8)
    # the same instant given in UTC: it is not "after" itself
    assert next_fire_times(campaign("0 8 1,15 * *"), fire.astimezone(UTC), 1) == [vn(2026, 4, 1, 8)]
    # one minute before, in UTC
    before = (fire - dt.timedelta(minutes=1)).astimezone(UTC)
    assert next_fire_times(campaign("0 8 1,15 * *"), before, 1) == [fire]


def test_cron_near_midnight_uses_the_vietnam_date() -> None:
    # 2026-03-14 20:00 UTC is already 15 March 03:00 in Vietnam: the 08:00 run is that morning
    after = dt.datetime(2026, 3, 14, 20, 0, tzinfo=UTC)
    assert next_fire_times(campaign("0 8 15 * *"), after, 1) == [vn(2026, 3, 15, 8)]


def test_cron_start_and_end_are_honoured() -> None:
    c = campaign("0 8 1,15 * *", start=dt.date(2026, 5, 5), end=dt.date(2026, 6, 20))
    times = next_fire_times(c, vn(2026, 1, 1), 10)
    assert times == [vn(2026, 5, 15, 8), vn(2026, 6, 1, 8), vn(2026, 6, 15, 8)]
    assert next_fire_times(c, vn(2026, 6, 15, 8), 10) == []  # nothing after the last one


def test_cron_start_and_end_days_are_inclusive() -> None:
    c = campaign("0 8 * * *", start=dt.date(2026, 5, 5), end=dt.date(2026, 5, 7))
    assert next_fire_times(c, vn(2026, 1, 1), 10) == [
        vn(2026, 5, 5, 8), vn(2026, 5, 6, 8), vn(2026, 5, 7, 8)
    ]


def test_cron_weekdays_count_from_sunday_like_crontab() -> None:
    thursday = vn(2026, 1, 1)  # 1 January 2026 is a Thursday
    assert thursday.weekday() == 3
    monday = next_fire_times(campaign("0 8 * * 1"), thursday, 1)[0]
    assert monday == vn(2026, 1, 5, 8) and monday.weekday() == 0
    for sunday_field in ("0", "7", "sun"):
        sunday = next_fire_times(campaign(f"0 8 * * {sunday_field}"), thursday, 1)[0]
        assert sunday == vn(2026, 1, 4, 8), sunday_field
    workdays = next_fire_times(campaign("30 7 * * 1-5"), vn(2026, 1, 2, 9), 3)  # from Friday 09:00
    assert workdays == [vn(2026, 1, 5, 7, 30), vn(2026, 1, 6, 7, 30), vn(2026, 1, 7, 7, 30)]


def test_dates_campaign() -> None:
    dates = (dt.datetime(2027, 2, 1, 8), dt.datetime(2027, 1, 25, 8))  # naive = Vietnam time
    c = campaign(dates=dates)
    assert next_fire_times(c, vn(2027, 1, 1), 5) == [vn(2027, 1, 25, 8), vn(2027, 2, 1, 8)]
    assert next_fire_times(c, vn(2027, 1, 25, 8), 5) == [vn(2027, 2, 1, 8)]
    assert next_fire_times(c, vn(2027, 1, 1), 1) == [vn(2027, 1, 25, 8)]
    assert next_fire_times(c, vn(2027, 3, 1), 5) == []
    # 2027-01-25 08:00 in Vietnam is 01:00 UTC
    assert next_fire_times(c, dt.datetime(2027, 1, 25, 0, 59, tzinfo=UTC), 1) == [
        vn(2027, 1, 25, 8)
    ]


def test_dates_campaign_honours_start_and_end() -> None:
    dates = (dt.datetime(2027, 1, 25, 8), dt.datetime(2027, 2, 1, 8), dt.datetime(2027, 2, 8, 8))
    c = campaign(dates=dates, start=dt.date(2027, 1, 26), end=dt.date(2027, 2, 6))
    assert next_fire_times(c, vn(2027, 1, 1), 5) == [vn(2027, 2, 1, 8)]


# --- the CLI ------------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str, content: Path | None = None) -> Result:
    env = {
        "CCHC_CONFIG": None,
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/db/cchc.db",
        "CCHC_CONTENT_PATH": str(content) if content else None,
    }
    return CliRunner().invoke(main, list(args), env=env)


def test_cli_campaigns_list_on_bundled_content(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "campaigns", "list")
    assert result.exit_code == 0, result.output
    assert "ban-tin-cchc" in result.stdout
    # the monthly bulletin has upcoming runs at 08:00 Vietnam time
    lines = result.stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("ban-tin-cchc "))
    assert "[thong-bao-chung]" in lines[index]
    assert re.fullmatch(r"\s+01/\d\d/\d{4} 08:00, 01/\d\d/\d{4} 08:00, 01/\d\d/\d{4} 08:00",
                        lines[index + 1]), lines[index + 1]


def test_cli_campaigns_list_on_a_pack(tmp_path: Path) -> None:
    campaigns = {"ban-tin": BAN_TIN, "cuoc-thi-2020": CUOC_THI}
    root = write_pack(tmp_path / "content", campaigns=campaigns)
    result = run_cli(tmp_path, "campaigns", "list", "--count", "2", content=root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("ban-tin ")
    assert "[thong-bao-chung] Bản tin cải cách hành chính" in lines[0]
    next_two = r"\s+(01|15)/\d\d/\d{4} 08:00, (01|15)/\d\d/\d{4} 08:00"
    assert re.fullmatch(next_two, lines[1]), lines[1]
    assert lines[2].startswith("cuoc-thi-2020 ") and "[cuoc-thi]" in lines[2]
    assert lines[3].strip() == "không còn lần gửi nào"
