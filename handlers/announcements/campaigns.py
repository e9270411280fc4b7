"""When the plan's campaigns fire: the calendar as data, in Vietnam's time zone."""

from __future__ import annotations

import datetime as dt

from bot.content.loader import TIMEZONE, cron_trigger
from bot.content.model import Campaign


def _active(campaign: Campaign, moment: dt.datetime) -> bool:
    day = moment.astimezone(TIMEZONE).date()
    return not ((campaign.start and day < campaign.start) or (campaign.end and day > campaign.end))


def next_fire_times(campaign: Campaign, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The next ``count`` fire times strictly after ``after``, within start/end."""
    if campaign.dates:
        times = sorted(d if d.tzinfo else d.replace(tzinfo=TIMEZONE) for d in campaign.dates)
        return [t for t in times if t > after and _active(campaign, t)][:count]
    assert campaign.cron is not None
    trigger = cron_trigger(campaign.cron)
    cursor = after.astimezone(TIMEZONE) + dt.timedelta(microseconds=1)
    if campaign.start:
        cursor = max(cursor, dt.datetime.combine(campaign.start, dt.time(), TIMEZONE))
    out: list[dt.datetime] = []
    previous = None
    while len(out) < count:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or (campaign.end and fire.date() > campaign.end):
            break
        out.append(fire)
        previous, cursor = fire, fire + dt.timedelta(microseconds=1)
    return out
