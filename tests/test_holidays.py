"""Public holidays (``[holidays]``): campaigns do not fire on them; ``campaigns list`` shows
them (the dashboard calendar: tests/test_dashboard_content.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.broadcasts.scheduler import CampaignScheduler
from bot.campaigns import next_fire_times
from bot.config import ConfigError, Holidays, load_settings
from bot.content.loader import today
from bot.storage.db import Database
from tests.conftest import make_settings
from tests.packs import write_pack
from tests.test_campaigns import campaign, run_cli, vn
from tests.test_scheduler import DAILY, Clock, database, store_for  # noqa: F401 (database: a fixture)

TET_2027 = Holidays().dates()


def test_the_defaults_hold_tet_gio_to_and_the_culture_day() -> None:
    assert dt.date(2027, 2, 6) in TET_2027  # mùng 1 Tết Đinh Mùi
    assert dt.date(2027, 4, 16) in TET_2027  # Giỗ Tổ Hùng Vương, 10/3 âm lịch
    assert dt.date(2026, 11, 24) in TET_2027 and dt.date(2027, 11, 24) in TET_2027
    assert {dt.date(2026, 2, 14), dt.date(2026, 2, 22)} <= TET_2027  # the 9 days off of Tết 2026
    assert dt.date(2027, 2, 10) not in TET_2027


def test_a_daily_campaign_skips_the_holidays() -> None:
    daily = campaign("0 8 * * *")
    times = next_fire_times(daily, vn(2027, 2, 3, 9, 0), 3, TET_2027)
    assert times == [vn(2027, 2, 4, 8), vn(2027, 2, 10, 8), vn(2027, 2, 11, 8)]
    assert next_fire_times(daily, vn(2027, 2, 3, 9, 0), 3)[1] == vn(2027, 2, 5, 8)  # no list: no pause


def test_a_fixed_date_on_a_holiday_is_skipped() -> None:
    fixed = campaign(dates=(vn(2027, 2, 6, 8), vn(2027, 2, 15, 8)))
    assert next_fire_times(fixed, vn(2027, 1, 1), 5, TET_2027) == [vn(2027, 2, 15, 8)]


def test_holidays_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[holidays]\ndays = [\n  { name = "Lễ hội xã", start = 2027-03-10, end = 2027-03-11 },\n'
                    '  { name = "Ngày thử", start = 2027-05-05 },\n]\n', encoding="utf-8")
    holidays = load_settings(path, environ={}).holidays
    assert holidays.dates() == {dt.date(2027, 3, 10), dt.date(2027, 3, 11), dt.date(2027, 5, 5)}
    assert [h.name for h in holidays.upcoming(dt.date(2027, 3, 11), dt.date(2027, 12, 31))] == ["Lễ hội xã", "Ngày thử"]


@pytest.mark.parametrize("entry", ['{ name = "Sai", start = 2027-03-10, end = 2027-03-01 }',
                                   '{ name = "Sai", start = "mùng 1 Tết" }', '{ start = 2027-03-10 }'])
def test_a_bad_holiday_is_named(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[holidays]\ndays = [{entry}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, environ={})
    assert "'holidays.days" in str(exc.value)


async def test_the_scheduler_plans_past_the_holidays(database: Database, database_url: str, tmp_path: Path) -> None:
    root = write_pack(tmp_path / "content", campaigns={"nhac-hang-ngay": DAILY})
    settings = make_settings(database_url)  # the default holidays
    clock = Clock(vn(2027, 2, 4, 9, 0))
    scheduler = CampaignScheduler(database, store_for(root, settings), settings, clock=clock, holder="S")
    await scheduler.tick()
    assert scheduler.planned == {"nhac-hang-ngay": vn(2027, 2, 10, 8, 0)}
    # a fire planned before the list changed is dropped when its day is a holiday
    assert (await scheduler.fire("nhac-hang-ngay", vn(2027, 2, 6, 8, 0))).outcome == "gone"
    await scheduler.stop()


def test_campaigns_list_shows_the_coming_holidays(tmp_path: Path) -> None:
    coming = today() + dt.timedelta(days=20)
    config = tmp_path / "config.toml"
    config.write_text(f'[holidays]\ndays = [{{ name = "Lễ hội xã", start = {coming.isoformat()} }}]\n',
                      encoding="utf-8")
    root = write_pack(tmp_path / "content")
    result = run_cli(tmp_path, "--config", str(config), "campaigns", "list", content=root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index("Ngày nghỉ lễ, không gửi chiến dịch ([holidays]):")
    assert lines[at + 1].split() == [f"{coming:%d/%m/%Y}", "Lễ", "hội", "xã"]
