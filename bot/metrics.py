"""Prometheus metrics, served at ``/metrics`` by the one web server.

Other modules call the small helpers here; nothing else needs to know about prometheus-client:

- ``observe_turn(channel, outcome, seconds)``: one message answered (``BotApp.handle``);
- ``webhook_error(channel, reason)``: a webhook request refused or failed;
- ``refresh_from_database(database)``: figures shared by every worker (deliveries by status,
  broadcasts by status, open tickets) read from the database when Prometheus scrapes.

Counters are per process (Prometheus adds up the workers it scrapes); the database figures are
the same in every worker, so a dashboard should use ``max`` rather than ``sum`` for those.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from sqlalchemy import func, inspect, select

if TYPE_CHECKING:
    from bot.storage.db import Database

log = logging.getLogger(__name__)

disable_created_metrics()  # the *_created series only add noise here
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
CONTENT_TYPE = CONTENT_TYPE_LATEST

MESSAGES = Counter(
    "cchc_messages", "Messages answered, by channel and outcome (answer, clarify, not_sure, menu...)",
    ["channel", "outcome"], registry=REGISTRY,
)
LATENCY = Histogram(
    "cchc_answer_latency_seconds", "Time to answer one message, database work included",
    ["channel"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBHOOK_ERRORS = Counter(
    "cchc_webhook_errors", "Webhook requests refused (4xx) or failed (5xx), by channel and reason",
    ["channel", "reason"], registry=REGISTRY,
)
DELIVERIES = Gauge(
    "cchc_broadcast_deliveries", "Broadcast deliveries in the database, by channel and status",
    ["channel", "status"], registry=REGISTRY,
)
BROADCASTS = Gauge(
    "cchc_broadcasts", "Broadcasts in the database, by status", ["status"], registry=REGISTRY,
)
OPEN_TICKETS = Gauge(
    "cchc_tickets_open", "Citizens' feedback tickets not yet answered or closed", registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "cchc_database_up", "1 when the last scrape could read the database", registry=REGISTRY,
)


def observe_turn(channel: str, outcome: str, seconds: float) -> None:
    MESSAGES.labels(channel=channel, outcome=outcome or "unknown").inc()
    LATENCY.labels(channel=channel).observe(seconds)


def webhook_error(channel: str, reason: str) -> None:
    WEBHOOK_ERRORS.labels(channel=channel, reason=reason).inc()


async def refresh_from_database(database: Database) -> None:
    """Set the database-wide gauges; tables another feature has not created yet are skipped."""
    from bot.storage.models import Broadcast, BroadcastDelivery, Ticket, open_ticket

    try:
        async with database.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            if BroadcastDelivery.__tablename__ in tables:
                rows = (await conn.execute(
                    select(BroadcastDelivery.channel, BroadcastDelivery.status, func.count())
                    .group_by(BroadcastDelivery.channel, BroadcastDelivery.status))).all()
                DELIVERIES.clear()
                for channel, status, count in rows:
                    DELIVERIES.labels(channel=channel, status=status).set(count)
            if Broadcast.__tablename__ in tables:
                rows = (await conn.execute(
                    select(Broadcast.status, func.count()).group_by(Broadcast.status))).all()
                BROADCASTS.clear()
                for status, count in rows:
                    BROADCASTS.labels(status=status).set(count)
            if Ticket.__tablename__ in tables:
                OPEN_TICKETS.set((await conn.execute(
                    select(func.count()).select_from(Ticket)
                    .where(open_ticket()))).scalar_one())
        DATABASE_UP.set(1)
    except Exception:  # a scrape must answer even when the database does not
        log.warning("metrics: could not read the database", exc_info=True)
        DATABASE_UP.set(0)


def render() -> bytes:
    return generate_latest(REGISTRY)
