"""The campaign scheduler on a real database: fires at the right local time, once per
(campaign, fire time) whoever fires, catches up after downtime within the grace period, and
follows content edits without a restart. Time is driven by an injected clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bot.outbox.sender import Sender
from handlers.announcements.scheduler import CampaignScheduler
from bot.config import Broadcasting, Settings
from bot.content.store import ContentStore
from bot.matching import MatchParams
from bot.storage.db import Database, upgrade
from bot.storage.models import Broadcast
from tests.broadcasting import Clock, RecordingChannel, add_subscribers, rows, vn
from tests.conftest import make_settings
from tests.contest_support import CONTEST
from tests.packs import write_pack

DAILY = """\
---
id: nhac-hang-ngay
title: Nhắc việc hằng ngày
topic: thong-bao-chung
channels: [telegram, zalo]
schedule:
  cron: "0 8 * * *"
source: Kế hoạch tuyên truyền CCHC
---
📢 Dạ, {{ office.name }} nhắc Anh/Chị nộp hồ sơ trực tuyến.
"""

ONCE = """\
---
id: mot-lan
title: Một lần
topic: cuoc-thi
channels: [telegram]
schedule:
  dates: ["2026-01-05 08:00"]
source: Kế hoạch cuộc thi
---
Dạ, cuộc thi bắt đầu.
"""


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "content", campaigns={"nhac-hang-ngay": DAILY})


def settings_for(url: str, **broadcast: object) -> Settings:
    return make_settings(url, broadcast=Broadcasting(**broadcast))


def store_for(root: Path, settings: Settings) -> ContentStore:
    store = ContentStore(root, settings.office.template_values(), MatchParams())
    store.load()
    return store


def broadcasts(url: str) -> list[dict]:
    return sorted(rows(url, Broadcast), key=lambda r: r["id"])


def fire_times(url: str) -> list[tuple[dt.datetime, str]]:
    out = []
    for row in broadcasts(url):
        t = row["fire_time"]
        t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t
        out.append((t, row["status"]))
    return out


async def test_the_next_fire_is_planned_at_8_vietnam_time_and_sent_then(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url)
    clock = Clock(vn(2026, 1, 5, 7, 0))
    scheduler = CampaignScheduler(
        database, store_for(root, settings), settings, clock=clock, holder="S"
    )
    await scheduler.tick()
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 1, 5, 8, 0)}
    job = scheduler.scheduler.get_job("campaign:nhac-hang-ngay")
    assert job is not None and job.trigger.run_date == vn(2026, 1, 5, 8, 0)
    assert job.trigger.run_date.astimezone(dt.UTC).hour == 1
    assert broadcasts(database_url) == []

    await add_subscribers(database, "telegram", ["t1"])
    clock.set(vn(2026, 1, 5, 8, 0))
    await scheduler.run_job("nhac-hang-ngay", vn(2026, 1, 5, 8, 0))
    [row] = broadcasts(database_url)
    assert row["status"] == "scheduled" and row["campaign_id"] == "nhac-hang-ngay"
    assert row["author"] == "campaign:nhac-hang-ngay" and row["channels"] == ["telegram", "zalo"]
    assert row["body"] == "📢 Dạ, UBND xã/phường nhắc Anh/Chị nộp hồ sơ trực tuyến."
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 1, 6, 8, 0)}  # the next one is planned

    telegram = RecordingChannel("telegram")
    await Sender(database, settings, [telegram], clock=clock, holder="A").run_until_idle()
    assert telegram.delivered == [
        ("t1", "📢 Dạ, UBND xã/phường nhắc Anh/Chị nộp hồ sơ trực tuyến.")
    ]


async def test_apscheduler_runs_the_planned_job(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url)
    clock = Clock(
        vn(2026, 1, 5, 7, 59, 59)
    )  # a fire planned for a moment already past in real time
    scheduler = CampaignScheduler(
        database, store_for(root, settings), settings, clock=clock, holder="S"
    )
    await scheduler.start()
    try:
        for _ in range(200):
            if broadcasts(database_url):
                break
            await asyncio.sleep(0.02)
    finally:
        await scheduler.stop()
    assert fire_times(database_url) == [(vn(2026, 1, 5, 8, 0), "scheduled")]


async def test_fires_missed_while_down_are_sent_within_the_grace_period_and_recorded_beyond(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url, missed_grace_minutes=360, lease_seconds=30)
    store = store_for(root, settings)
    clock = Clock(vn(2026, 1, 5, 7, 0))
    first = CampaignScheduler(database, store, settings, clock=clock, holder="first")
    await first.tick()  # alive at 07:00 on the 5th, then the machine goes down
    assert broadcasts(database_url) == []

    clock.set(vn(2026, 1, 7, 10, 0))  # back on the 7th at 10:00
    second = CampaignScheduler(database, store, settings, clock=clock, holder="second")
    await second.tick()
    assert fire_times(database_url) == [
        (vn(2026, 1, 5, 8, 0), "missed"),  # 50 hours late
        (vn(2026, 1, 6, 8, 0), "missed"),  # 26 hours late
        (vn(2026, 1, 7, 8, 0), "scheduled"),  # 2 hours late: within the 6-hour grace
    ]
    assert second.planned == {"nhac-hang-ngay": vn(2026, 1, 8, 8, 0)}

    await add_subscribers(database, "telegram", ["t1"])
    telegram = RecordingChannel("telegram")
    await Sender(database, settings, [telegram], clock=clock, holder="A").run_until_idle()
    assert telegram.calls == ["t1"]  # only the one within the grace period goes out


async def test_a_restart_never_sends_the_same_bulletin_twice(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url, lease_seconds=30)
    store = store_for(root, settings)
    clock = Clock(vn(2026, 1, 5, 7, 59, 55))
    first = CampaignScheduler(database, store, settings, clock=clock, holder="first")
    await first.tick()  # its last renewal: 07:59:55
    clock.set(vn(2026, 1, 5, 8, 0))
    await first.run_job("nhac-hang-ngay", vn(2026, 1, 5, 8, 0))  # fired, then killed
    clock.set(vn(2026, 1, 5, 8, 10))
    second = CampaignScheduler(database, store, settings, clock=clock, holder="second")
    await second.tick()  # catches up from 07:59:55: the 08:00 fire is already there
    assert fire_times(database_url) == [(vn(2026, 1, 5, 8, 0), "scheduled")]
    assert (await second.fire("nhac-hang-ngay", vn(2026, 1, 5, 8, 0))).outcome == "exists"


async def test_one_broadcast_per_campaign_and_fire_time_whoever_fires(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url)
    store = store_for(root, settings)
    other = Database(database_url)
    try:
        clock = Clock(vn(2026, 1, 5, 8, 0))
        a = CampaignScheduler(database, store, settings, clock=clock, holder="a")
        b = CampaignScheduler(other, store, settings, clock=clock, holder="b")
        fires = await asyncio.gather(
            *(s.fire("nhac-hang-ngay", vn(2026, 1, 5, 8, 0)) for s in (a, b, a, b))
        )
        assert sorted(f.outcome for f in fires) == ["exists", "exists", "exists", "scheduled"]
        assert len(broadcasts(database_url)) == 1
        async with database.session() as session:  # the database itself refuses a second one
            session.add(
                Broadcast(
                    author="x",
                    topic="thong-bao-chung",
                    body="x",
                    status="scheduled",
                    campaign_id="nhac-hang-ngay",
                    fire_time=vn(2026, 1, 5, 8, 0).astimezone(dt.UTC),
                )
            )
            with pytest.raises(IntegrityError):
                await session.commit()
    finally:
        await other.dispose()


async def test_only_the_lease_holder_plans_and_a_successor_takes_over(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url, lease_seconds=30)
    store = store_for(root, settings)
    clock = Clock(vn(2026, 1, 5, 7, 0))
    a = CampaignScheduler(database, store, settings, clock=clock, holder="a")
    b = CampaignScheduler(database, store, settings, clock=clock, holder="b")
    await a.tick()
    await b.tick()
    assert a.planned and not b.planned
    clock.advance(seconds=31)  # a stopped renewing
    await b.tick()
    assert b.planned == {"nhac-hang-ngay": vn(2026, 1, 5, 8, 0)}
    await a.tick()  # a comes back: it has lost the lease and drops its jobs
    assert not a.planned and a.scheduler.get_job("campaign:nhac-hang-ngay") is None


async def test_content_edits_are_picked_up_without_a_restart(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url)
    store = store_for(root, settings)
    clock = Clock(vn(2026, 1, 5, 7, 0))
    scheduler = CampaignScheduler(database, store, settings, clock=clock, holder="s")
    await scheduler.tick()
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 1, 5, 8, 0)}

    (root / "campaigns" / "nhac-hang-ngay.md").write_text(
        DAILY.replace('"0 8 * * *"', '"30 9 * * *"'), encoding="utf-8"
    )
    (root / "campaigns" / "mot-lan.md").write_text(ONCE, encoding="utf-8")
    assert store.reload().changed
    await scheduler.tick()
    assert scheduler.planned == {
        "nhac-hang-ngay": vn(2026, 1, 5, 9, 30),
        "mot-lan": vn(2026, 1, 5, 8, 0),
    }
    assert scheduler.scheduler.get_job("campaign:nhac-hang-ngay").trigger.run_date == vn(
        2026, 1, 5, 9, 30
    )
    # a job planned before the edit finds the campaign changed and does nothing
    assert (await scheduler.fire("nhac-hang-ngay", vn(2026, 1, 5, 8, 0))).outcome == "gone"

    (root / "campaigns" / "nhac-hang-ngay.md").unlink()
    assert store.reload().changed
    await scheduler.tick()
    assert scheduler.planned == {"mot-lan": vn(2026, 1, 5, 8, 0)}
    assert scheduler.scheduler.get_job("campaign:nhac-hang-ngay") is None


async def test_a_first_start_does_not_replay_the_past(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    root = write_pack(tmp_path / "content", campaigns={"nhac-hang-ngay": DAILY, "mot-lan": ONCE})
    settings = settings_for(database_url)
    clock = Clock(vn(2026, 3, 1, 12, 0))
    scheduler = CampaignScheduler(
        database, store_for(root, settings), settings, clock=clock, holder="s"
    )
    await scheduler.tick()
    assert broadcasts(database_url) == []
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 3, 2, 8, 0)}  # "mot-lan" is over


async def test_a_content_reload_at_fire_time_does_not_drop_the_due_fire(
    database: Database, database_url: str, root: Path
) -> None:
    settings = settings_for(database_url)
    store = store_for(root, settings)
    clock = Clock(vn(2026, 1, 5, 7, 59, 59))
    scheduler = CampaignScheduler(database, store, settings, clock=clock, holder="s")
    await scheduler.tick()
    clock.set(vn(2026, 1, 5, 8, 0, 0, 100_000))  # the job is due but APScheduler has not run it yet
    scheduler.sync()  # e.g. an unrelated content edit re-syncs the jobs right now
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 1, 5, 8, 0)}
    await scheduler.run_job("nhac-hang-ngay", vn(2026, 1, 5, 8, 0))
    assert fire_times(database_url) == [(vn(2026, 1, 5, 8, 0), "scheduled")]
    assert scheduler.planned == {"nhac-hang-ngay": vn(2026, 1, 6, 8, 0)}


async def test_a_campaign_pointing_to_a_contest_sends_the_join_button(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    invite = ONCE.replace("id: mot-lan", "id: moi-du-thi").replace("schedule:", "contest: hoi-thi-xa\nschedule:")
    root = write_pack(tmp_path / "content", campaigns={"moi-du-thi": invite, "mot-lan": ONCE})
    (root / "contests").mkdir()
    (root / "contests" / "hoi-thi-xa.yaml").write_text(CONTEST, encoding="utf-8")
    settings = settings_for(database_url)
    clock = Clock(vn(2026, 1, 5, 8, 0))
    scheduler = CampaignScheduler(database, store_for(root, settings), settings, clock=clock, holder="S")
    await add_subscribers(database, "telegram", ["t1"], topic="cuoc-thi")
    for campaign_id in ("moi-du-thi", "mot-lan"):
        await scheduler.fire(campaign_id, vn(2026, 1, 5, 8, 0))
    assert [(r["campaign_id"], r["contest_id"]) for r in broadcasts(database_url)] == [
        ("moi-du-thi", "hoi-thi-xa"), ("mot-lan", None)]
    telegram = RecordingChannel("telegram")
    await Sender(database, settings, [telegram], clock=clock, holder="A").run_until_idle()
    buttons = sorted([(b.label, b.payload) for row in replies[0].buttons for b in row] for replies in telegram.replies)
    assert buttons == [[("☰ Menu", "menu")], [("🏆 Tham gia cuộc thi", "ct:open:hoi-thi-xa"), ("☰ Menu", "menu")]]
