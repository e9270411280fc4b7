"""The sender on a real database: each recipient once, quiet hours, retries, blocked users,
cancelling, a crash and a restart, two senders competing for the lease."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.root import build_app
from handlers.announcements import (
    BroadcastError,
    cancel_broadcast,
    create_broadcast,
    progress,
    schedule_broadcast,
)
from bot.outbox.sender import Sender
from bot.outbox.runtime import BroadcastWorkers
from handlers.announcements.service import lease_holder, parse_local_time, quiet_until
from bot.ports import Delivery
from bot.config import Broadcasting, Settings, Zalo
from bot.storage.db import Database, upgrade
from bot.storage.models import Broadcast, BroadcastDelivery, ChannelUser, Subscription
from tests.broadcasting import Clock, RecordingChannel, add_subscribers, rows, vn
from tests.conftest import make_settings
from tests.packs import write_pack

OFFICE = {"office.name": "UBND xã Ngọc Liên", "office.hotline": "0237 111 222"}


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


def settings_for(url: str, **broadcast: object) -> Settings:
    return make_settings(
        url, broadcast=Broadcasting(**{"retry_backoff_seconds": 10.0, **broadcast})
    )


async def new_broadcast(
    database: Database, body: str = "Dạ, thông báo {{ office.name }}.", **kwargs: object
) -> int:
    kwargs = {"author": "test", "topic": "thong-bao-chung", "office": OFFICE, **kwargs}
    async with database.session() as session:
        row = await create_broadcast(session, body=body, **kwargs)  # type: ignore[arg-type]
        await session.commit()
        return row.id  # type: ignore[return-value]


async def status_of(database: Database, broadcast_id: int) -> str:
    async with database.session() as session:
        row = await session.get(Broadcast, broadcast_id)
        assert row is not None
        return row.status


def names(url: str) -> dict[int, str]:
    return {r["id"]: r["platform_id"] for r in rows(url, ChannelUser)}


def deliveries(url: str, broadcast_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows(url, BroadcastDelivery, BroadcastDelivery.broadcast_id == broadcast_id):
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


async def test_every_subscriber_gets_the_rendered_text_once(
    database: Database, database_url: str
) -> None:
    clock = Clock(vn(2026, 1, 5, 9, 0))
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(7)])
    await add_subscribers(database, "zalo", [f"z{i}" for i in range(3)])
    await add_subscribers(database, "telegram", ["other"], topic="cuoc-thi")
    await add_subscribers(database, "telegram", ["gone"], reachable=False)
    telegram, zalo = RecordingChannel("telegram"), RecordingChannel("zalo")
    sender = Sender(
        database,
        settings_for(database_url, batch_size=3),
        [telegram, zalo],
        clock=clock,
        holder="A",
    )
    bid = await new_broadcast(database, title="Thông báo chung")
    await sender.run_until_idle()

    assert telegram.received() == {f"t{i}": 1 for i in range(7)}
    assert zalo.received() == {f"z{i}": 1 for i in range(3)}
    assert telegram.delivered[0][1] == "📢 **Thông báo chung**\n\nDạ, thông báo UBND xã Ngọc Liên."
    assert deliveries(database_url, bid) == {"sent": 10}
    assert await status_of(database, bid) == "done"
    sent = rows(database_url, BroadcastDelivery, BroadcastDelivery.broadcast_id == bid)
    assert all(r["attempts"] == 1 and r["platform_message_id"] and r["sent_at"] for r in sent)
    # running again sends nothing more
    await sender.run_until_idle()
    assert len(telegram.calls) == 7 and len(zalo.calls) == 3


async def test_only_the_requested_channels_and_no_push_channels_are_ineligible(
    database: Database, database_url: str
) -> None:
    clock = Clock(vn(2026, 1, 5, 9, 0))
    await add_subscribers(database, "telegram", ["t1"])
    await add_subscribers(database, "zalo", ["z1"])
    await add_subscribers(database, "web", ["w1"])
    telegram, zalo = RecordingChannel("telegram"), RecordingChannel("zalo")
    sender = Sender(database, settings_for(database_url), [telegram, zalo], clock=clock, holder="A")
    only_zalo = await new_broadcast(database, channels=["zalo", "web"])
    await sender.run_until_idle()
    assert telegram.calls == [] and zalo.calls == ["z1"]
    assert deliveries(database_url, only_zalo) == {"sent": 1, "ineligible": 1}
    [web] = rows(database_url, BroadcastDelivery, BroadcastDelivery.status == "ineligible")
    assert web["last_error"] == "no_push_channel"


async def test_zalo_users_outside_the_7_day_window_are_ineligible(
    database: Database, database_url: str
) -> None:
    now = vn(2026, 1, 5, 9, 0)
    clock = Clock(now)
    await add_subscribers(
        database, "zalo", ["recent"], last_seen=now - dt.timedelta(days=6, hours=23)
    )
    await add_subscribers(
        database, "zalo", ["old"], last_seen=now - dt.timedelta(days=7, minutes=1)
    )
    await add_subscribers(database, "zalo", ["says-no"], last_seen=now)
    zalo = RecordingChannel(
        "zalo", script={"says-no": [Delivery("ineligible", error="outside_window (-230)")]}
    )
    sender = Sender(database, settings_for(database_url), [zalo], clock=clock, holder="A")
    bid = await new_broadcast(database, channels=["zalo"])
    await sender.run_until_idle()
    assert sorted(zalo.calls) == ["recent", "says-no"]  # "old" is never handed to the channel
    assert deliveries(database_url, bid) == {"sent": 1, "ineligible": 2}
    errors = {
        r["last_error"]
        for r in rows(database_url, BroadcastDelivery, BroadcastDelivery.status == "ineligible")
    }
    assert errors == {"outside_window", "outside_window (-230)"}

    # with promotion messages allowed, the adapter decides, so "old" is handed over too
    promo = make_settings(database_url, zalo=Zalo(promotion_enabled=True))
    zalo2 = RecordingChannel("zalo")
    await Sender(database, promo, [zalo2], clock=clock, holder="A").run_until_idle()
    await new_broadcast(database, channels=["zalo"])
    await Sender(database, promo, [zalo2], clock=clock, holder="A").run_until_idle()
    assert sorted(zalo2.calls) == ["old", "recent", "says-no"]


async def test_a_broadcast_fires_at_its_local_time(database: Database, database_url: str) -> None:
    await add_subscribers(database, "telegram", ["t1", "t2"])
    telegram = RecordingChannel("telegram")
    clock = Clock(vn(2026, 1, 5, 7, 59))
    sender = Sender(database, settings_for(database_url), [telegram], clock=clock, holder="A")
    at = parse_local_time("2026-01-05 08:00")
    assert at == dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
    bid = await new_broadcast(database, send_at=at)
    await sender.run_until_idle()
    assert telegram.calls == [] and await status_of(database, bid) == "scheduled"
    clock.advance(seconds=59)
    await sender.run_until_idle()
    assert telegram.calls == []
    clock.advance(seconds=1)
    await sender.run_until_idle()
    assert sorted(telegram.calls) == ["t1", "t2"] and await status_of(database, bid) == "done"


def test_quiet_hours_span_midnight() -> None:
    start, end = dt.time(21, 0), dt.time(7, 0)
    assert quiet_until(vn(2026, 1, 5, 20, 59), start, end) is None
    assert quiet_until(vn(2026, 1, 5, 21, 0), start, end) == vn(2026, 1, 6, 7, 0)
    assert quiet_until(vn(2026, 1, 6, 3, 0), start, end) == vn(2026, 1, 6, 7, 0)
    assert quiet_until(vn(2026, 1, 6, 7, 0), start, end) is None
    # 14:00 UTC is 21:00 in Vietnam
    assert quiet_until(dt.datetime(2026, 1, 5, 14, 0, tzinfo=dt.UTC), start, end) == vn(
        2026, 1, 6, 7, 0
    )
    assert quiet_until(vn(2026, 1, 5, 12, 30), dt.time(12, 0), dt.time(13, 0)) == vn(
        2026, 1, 5, 13, 0
    )
    assert quiet_until(vn(2026, 1, 5, 12, 30), dt.time(0, 0), dt.time(0, 0)) is None


async def test_quiet_hours_hold_a_broadcast_until_morning_unless_urgent(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", ["t1"])
    telegram = RecordingChannel("telegram")
    clock = Clock(vn(2026, 1, 5, 22, 0))
    sender = Sender(database, settings_for(database_url), [telegram], clock=clock, holder="A")
    normal = await new_broadcast(database, body="Bình thường")
    urgent = await new_broadcast(database, body="Khẩn: mưa lũ", urgent=True)
    await sender.run_until_idle()
    assert [t for _, t in telegram.delivered] == ["Khẩn: mưa lũ"]
    assert (
        await status_of(database, normal) == "scheduled"
        and await status_of(database, urgent) == "done"
    )
    clock.set(vn(2026, 1, 6, 6, 59))
    await sender.run_until_idle()
    assert len(telegram.delivered) == 1
    clock.set(vn(2026, 1, 6, 7, 0))
    await sender.run_until_idle()
    assert [t for _, t in telegram.delivered] == ["Khẩn: mưa lũ", "Bình thường"]


async def test_a_broadcast_running_into_quiet_hours_pauses_until_morning(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(6)])
    clock = Clock(vn(2026, 1, 5, 20, 59, 30))
    telegram = RecordingChannel("telegram", on_send=lambda _: clock.advance(seconds=10))
    sender = Sender(
        database, settings_for(database_url, batch_size=2), [telegram], clock=clock, holder="A"
    )
    bid = await new_broadcast(database)
    await sender.run_until_idle()
    # 20:59:30, two sends take it to 20:59:50, two more to 21:00:10: then quiet hours
    assert len(telegram.calls) == 4
    assert deliveries(database_url, bid) == {"sent": 4, "pending": 2}
    assert await status_of(database, bid) == "sending"
    clock.set(vn(2026, 1, 6, 7, 0))
    await sender.run_until_idle()
    assert deliveries(database_url, bid) == {"sent": 6} and await status_of(database, bid) == "done"


async def test_429_and_5xx_are_retried_with_backoff_up_to_a_bound(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", ["flaky", "hopeless", "fine"])
    retry = Delivery("retry", error="Too Many Requests", retry_after=3)
    telegram = RecordingChannel(
        "telegram",
        script={
            "flaky": [retry, Delivery("retry", error="502")],
            "hopeless": [Delivery("retry", error="503")] * 10,
        },
    )
    clock = Clock(vn(2026, 1, 5, 9, 0))
    sender = Sender(
        database, settings_for(database_url, max_attempts=3), [telegram], clock=clock, holder="A"
    )
    bid = await new_broadcast(database)
    await sender.run_until_idle()
    assert deliveries(database_url, bid) == {"sent": 1, "pending": 2}
    [flaky] = [
        r
        for r in rows(database_url, BroadcastDelivery)
        if names(database_url)[r["channel_user_id"]] == "flaky"
    ]
    assert flaky["attempts"] == 1 and flaky["last_error"] == "Too Many Requests"
    clock.advance(seconds=9)  # first backoff is 10 s
    await sender.run_until_idle()
    assert telegram.calls.count("flaky") == 1
    clock.advance(seconds=1)
    await sender.run_until_idle()
    assert telegram.calls.count("flaky") == 2  # 502 this time; the next wait is 20 s
    clock.advance(seconds=20)
    await sender.run_until_idle()
    assert telegram.calls.count("flaky") == 3 and telegram.calls.count("hopeless") == 3
    assert deliveries(database_url, bid) == {"sent": 2, "failed": 1}
    [failed] = rows(database_url, BroadcastDelivery, BroadcastDelivery.status == "failed")
    assert failed["attempts"] == 3 and failed["last_error"].startswith("gave up after 3 attempts")
    assert await status_of(database, bid) == "done"


async def test_blocked_users_are_unsubscribed_and_never_sent_to_again(
    database: Database, database_url: str
) -> None:
    [blocker, _] = await add_subscribers(database, "telegram", ["blocker", "fan"])
    telegram = RecordingChannel(
        "telegram", script={"blocker": [Delivery("blocked", error="Forbidden")]}
    )
    clock = Clock(vn(2026, 1, 5, 9, 0))
    sender = Sender(database, settings_for(database_url), [telegram], clock=clock, holder="A")
    first = await new_broadcast(database)
    await sender.run_until_idle()
    assert deliveries(database_url, first) == {"sent": 1, "blocked": 1}
    [user] = rows(database_url, ChannelUser, ChannelUser.id == blocker)
    assert user["reachable"] is False and user["unreachable_reason"] == "blocked"
    [sub] = rows(database_url, Subscription, Subscription.channel_user_id == blocker)
    assert sub["unsubscribed_at"] is not None
    second = await new_broadcast(database)
    await sender.run_until_idle()
    assert sorted(telegram.calls) == ["blocker", "fan", "fan"]
    assert deliveries(database_url, second) == {"sent": 1}


async def test_users_who_leave_mid_broadcast_are_skipped(
    database: Database, database_url: str
) -> None:
    [a, b, _] = await add_subscribers(database, "telegram", ["a", "b", "c"])
    telegram = RecordingChannel("telegram")
    clock = Clock(vn(2026, 1, 5, 9, 0))
    sender = Sender(database, settings_for(database_url), [telegram], clock=clock, holder="A")
    bid = await new_broadcast(database)
    assert await sender.hold_lease()
    assert await sender.activate_due(clock()) == [bid]
    async with database.session() as session:  # after the rows were written
        await session.exec(
            text(
                "UPDATE channel_user SET reachable = false, unreachable_reason = 'unfollowed' "
                f"WHERE id = {a}"
            )
        )  # type: ignore[call-overload]
        await session.exec(
            text(
                "UPDATE subscription SET unsubscribed_at = CURRENT_TIMESTAMP "
                f"WHERE channel_user_id = {b}"
            )
        )  # type: ignore[call-overload]
        await session.commit()
    await sender.run_until_idle()
    assert telegram.calls == ["c"]
    assert deliveries(database_url, bid) == {"sent": 1, "ineligible": 1, "cancelled": 1}


async def test_cancelling_a_running_broadcast_stops_it(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(5)])
    telegram = RecordingChannel("telegram")
    telegram.gate = asyncio.Event()
    clock = Clock(vn(2026, 1, 5, 9, 0))
    sender = Sender(
        database, settings_for(database_url, batch_size=2), [telegram], clock=clock, holder="A"
    )
    bid = await new_broadcast(database)
    worker = asyncio.create_task(sender.run_until_idle())
    while telegram.started < 2:  # two are in flight, held at the gate
        await asyncio.sleep(0.01)
    async with database.session() as session:
        row, cancelled = await cancel_broadcast(session, bid)
        await session.commit()
    assert row.status == "cancelled" and cancelled == 3
    telegram.gate.set()
    await worker
    assert len(telegram.calls) == 2  # the two in flight finished; nobody else got it
    assert deliveries(database_url, bid) == {"sent": 2, "cancelled": 3}
    assert await status_of(database, bid) == "cancelled"
    async with database.session() as session:
        with pytest.raises(BroadcastError, match="không hủy được"):
            await cancel_broadcast(session, bid)


async def test_drafts_wait_until_scheduled_and_cancelled_ones_never_go(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", ["t1"])
    telegram = RecordingChannel("telegram")
    clock = Clock(vn(2026, 1, 5, 9, 0))
    sender = Sender(database, settings_for(database_url), [telegram], clock=clock, holder="A")
    draft = await new_broadcast(database, status="draft", body="Nháp")
    never = await new_broadcast(database, body="Bỏ", send_at=vn(2026, 1, 5, 10, 0))
    async with database.session() as session:
        await cancel_broadcast(session, never)
        await session.commit()
    await sender.run_until_idle()
    assert telegram.calls == [] and await status_of(database, draft) == "draft"
    async with database.session() as session:
        await schedule_broadcast(session, draft)
        await session.commit()
    clock.set(vn(2026, 1, 5, 11, 0))
    await sender.run_until_idle()
    assert [t for _, t in telegram.delivered] == ["Nháp"]
    assert await status_of(database, never) == "cancelled"
    async with database.session() as session:
        with pytest.raises(BroadcastError, match="không hẹn giờ lại được"):
            await schedule_broadcast(session, draft)
        summary = await progress(session, draft)
    assert summary is not None and summary.counts == {"sent": 1} and summary.share == 1.0


async def test_a_crash_leaves_unknowns_that_are_reported_and_never_resent(
    database: Database, database_url: str
) -> None:
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(10)])
    clock = Clock(vn(2026, 1, 5, 9, 0))

    def sender(channel: RecordingChannel, holder: str) -> Sender:
        settings = settings_for(database_url, batch_size=4, lease_seconds=30)
        return Sender(database, settings, [channel], clock=clock, holder=holder)

    doomed = RecordingChannel("telegram")
    doomed.gate = asyncio.Event()  # its sends never come back
    crashed = sender(doomed, "crashed")
    bid = await new_broadcast(database)
    worker = asyncio.create_task(crashed.run_until_idle())
    while doomed.started < 4:
        await asyncio.sleep(0.01)
    worker.cancel()  # the process dies: no outcome recorded, the lease not released
    for task in [t for group in crashed._inflight.values() for t in group]:
        task.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    assert deliveries(database_url, bid) == {"sending": 4, "pending": 6}

    telegram = RecordingChannel("telegram")
    restarted = sender(telegram, "restarted")
    await restarted.run_until_idle()
    assert telegram.calls == []  # the old lease has not expired yet
    clock.advance(seconds=31)
    await restarted.run_until_idle()
    assert restarted.recovered == {bid: 4}
    assert deliveries(database_url, bid) == {"unknown": 4, "sent": 6}
    assert len(telegram.calls) == 6 and set(telegram.calls) == {f"t{i}" for i in range(4, 10)}
    unknown = rows(database_url, BroadcastDelivery, BroadcastDelivery.status == "unknown")
    assert {names(database_url)[r["channel_user_id"]] for r in unknown} == {"t0", "t1", "t2", "t3"}
    assert all("not resent" in r["last_error"] for r in unknown)
    assert await status_of(database, bid) == "done"


async def test_two_senders_one_lease(database: Database, database_url: str) -> None:
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(5)])
    clock = Clock(vn(2026, 1, 5, 9, 0))
    settings = settings_for(database_url, lease_seconds=30)
    other_db = Database(database_url)  # the second process has its own connections
    try:
        a_channel, b_channel = RecordingChannel("telegram"), RecordingChannel("telegram")
        a = Sender(database, settings, [a_channel], clock=clock, holder="A")
        b = Sender(other_db, settings, [b_channel], clock=clock, holder="B")
        first = await new_broadcast(database)
        await a.run_until_idle()
        await b.run_until_idle()
        assert len(a_channel.calls) == 5 and b_channel.calls == []
        assert a.lease.held and not b.lease.held

        clock.advance(seconds=20)  # A renews in time (every lease_seconds / 3)
        await a.run_until_idle()
        clock.advance(seconds=20)
        second = await new_broadcast(database)
        await b.run_until_idle()
        assert b_channel.calls == []  # A's renewal at +20 s keeps it until +50 s

        clock.advance(seconds=11)  # A died after its renewal: B takes over after expiry
        await b.run_until_idle()
        assert b.lease.held and len(b_channel.calls) == 5
        # A, still believing it holds the lease, cannot claim: the claim checks the lease
        third = await new_broadcast(database)
        async with database.session() as session:
            await session.exec(text(f"UPDATE broadcast SET status = 'sending' WHERE id = {third}"))  # type: ignore[call-overload]
            session.add(
                BroadcastDelivery(broadcast_id=third, channel_user_id=1, channel="telegram")
            )
            await session.commit()
        assert await a._claim("telegram", [third], 10, clock()) == []
        assert deliveries(database_url, first) == {"sent": 5} and deliveries(
            database_url, second
        ) == {"sent": 5}
    finally:
        await other_db.dispose()


async def test_two_running_senders_never_send_twice(database: Database, database_url: str) -> None:
    """Both running for real at once: one sends everything; after it stops the other takes over."""
    await add_subscribers(database, "telegram", [f"t{i}" for i in range(60)])
    settings = settings_for(
        database_url,
        lease_seconds=3,
        poll_interval_seconds=0.05,
        batch_size=8,
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(0, 0),
    )  # real time: any hour
    other_db = Database(database_url)

    class Slow(RecordingChannel):
        async def send(self, platform_id, replies):  # noqa: ANN001, ANN202
            await asyncio.sleep(0.002)
            return await super().send(platform_id, replies)

    a_channel, b_channel = Slow("telegram"), Slow("telegram")
    a = Sender(database, settings, [a_channel], holder="A")
    b = Sender(other_db, settings, [b_channel], holder="B")
    try:
        await new_broadcast(database)
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        for _ in range(500):
            if len(a_channel.calls) + len(b_channel.calls) == 60:
                break
            await asyncio.sleep(0.02)
        winner, loser = (a, b) if a_channel.calls else (b, a)
        assert (len(a_channel.calls), len(b_channel.calls)) in ((60, 0), (0, 60))
        winner.stop()  # a graceful stop releases the lease: the other takes over at once
        await tasks[0 if winner is a else 1]
        second = await new_broadcast(database)
        for _ in range(500):
            if deliveries(database_url, second).get("sent") == 60:
                break
            await asyncio.sleep(0.02)
        loser.stop()
        await asyncio.gather(*tasks)
        counts = a_channel.received() + b_channel.received()
        assert counts == {f"t{i}": 2 for i in range(60)}
        assert deliveries(database_url, second) == {"sent": 60}
    finally:
        await other_db.dispose()


async def test_the_delivery_row_is_unique_per_broadcast_recipient_and_channel(
    database: Database,
) -> None:
    [user] = await add_subscribers(database, "telegram", ["t1"])
    bid = await new_broadcast(database)
    async with database.session() as session:
        session.add(BroadcastDelivery(broadcast_id=bid, channel_user_id=user, channel="telegram"))
        await session.commit()
        session.add(BroadcastDelivery(broadcast_id=bid, channel_user_id=user, channel="telegram"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_text_too_long_for_zalo_is_refused(database: Database) -> None:
    async with database.session() as session:
        with pytest.raises(BroadcastError, match="giới hạn 2000"):
            await create_broadcast(
                session, author="t", topic="x", body="a" * 2001, channels=["zalo"]
            )
        row = await create_broadcast(
            session, author="t", topic="x", body="a" * 2001, channels=["telegram"]
        )
        assert row.id is not None
        with pytest.raises(BroadcastError, match="kênh không hợp lệ"):
            await create_broadcast(session, author="t", topic="x", body="a", channels=["sms"])


async def test_the_workers_of_a_process_follow_the_configuration(
    database_url: str, tmp_path: Path
) -> None:

    content = write_pack(tmp_path / "content")
    web_only = build_app(
        make_settings(
            database_url, content=content, broadcast=Broadcasting(sender=False, scheduler=False)
        )
    )
    workers = BroadcastWorkers(web_only, [RecordingChannel("telegram")])
    await workers.start()
    assert workers.sender is None and workers.scheduler is None
    await workers.stop()
    await web_only.close()

    quiet_off = Broadcasting(
        poll_interval_seconds=0.05, quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0)
    )
    app = build_app(make_settings(database_url, content=content, broadcast=quiet_off))
    telegram = RecordingChannel("telegram")
    workers = BroadcastWorkers(app, [telegram])
    try:
        await add_subscribers(app.database, "telegram", ["t1", "t2"])
        await workers.start()
        assert workers.sender is not None and workers.scheduler is not None
        bid = await new_broadcast(app.database)
        for _ in range(250):
            if await status_of(app.database, bid) == "done" and workers.scheduler.lease.held:
                break
            await asyncio.sleep(0.02)
        assert sorted(telegram.calls) == ["t1", "t2"]
        async with app.database.session() as session:
            assert await lease_holder(session, "sender") == workers.sender.lease.holder
            assert await lease_holder(session, "scheduler") == workers.scheduler.lease.holder
    finally:
        await workers.stop()
    async with app.database.session() as session:  # a graceful stop hands both leases back
        assert await lease_holder(session, "sender") is None
        assert await lease_holder(session, "scheduler") is None
    await app.close()
