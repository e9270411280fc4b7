"""When the plan's campaigns fire: the calendar as data, in Vietnam's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from bot.content.loader import TIMEZONE, cron_trigger
from bot.content.model import Campaign

# A cron fire falling on a holiday is skipped; past this many skipped in a row the calendar
# stops looking (a finite holiday list cannot cover more; this only bounds the loop).
_MAX_SKIPPED = 1000


def _active(campaign: Campaign, moment: dt.datetime) -> bool:
    day = moment.astimezone(TIMEZONE).date()
    return not ((campaign.start and day < campaign.start) or (campaign.end and day > campaign.end))


def next_fire_times(campaign: Campaign, after: dt.datetime, count: int,
                    holidays: Collection[dt.date] = ()) -> list[dt.datetime]:
    """The next ``count`` fire times strictly after ``after``, within start/end, on no holiday
    (Vietnam's dates)."""
    def on_holiday(moment: dt.datetime) -> bool:
        return moment.astimezone(TIMEZONE).date() in holidays

    if campaign.dates:
        times = sorted(d if d.tzinfo else d.replace(tzinfo=TIMEZONE) for d in campaign.dates)
        return [t for t in times if t > after and _active(campaign, t) and not on_holiday(t)][:count]
    assert campaign.cron is not None
    trigger = cron_trigger(campaign.cron)
    cursor = after.astimezone(TIMEZONE) + dt.timedelta(microseconds=1)
    if campaign.start:
        cursor = max(cursor, dt.datetime.combine(campaign.start, dt.time(), TIMEZONE))
    out: list[dt.datetime] = []
    previous = None
    skipped = 0
    while len(out) < count and skipped <= _MAX_SKIPPED:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or (campaign.end and fire.date() > campaign.end):
            break
        if on_holiday(fire):
            skipped += 1
        else:
            out.append(fire)
            skipped = 0
        previous, cursor = fire, fire + dt.timedelta(microseconds=1)
    return out
