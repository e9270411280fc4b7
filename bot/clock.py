"""Time, one way everywhere: stored and compared in aware UTC, shown in Vietnam's time.

SQLite gives stored times back naive (they were written in UTC); ``as_utc`` makes them aware.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from bot.storage.models import utcnow

TIMEZONE = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")  # Vietnam's time: every date in content and reports

__all__ = ["TIMEZONE", "as_utc", "aware", "local", "today", "utcnow"]


def aware(moment: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC (None stays None)."""
    return None if moment is None else aware(moment).astimezone(dt.UTC)


def local(moment: dt.datetime) -> dt.datetime:
    """A moment in Vietnam's time."""
    return aware(moment).astimezone(TIMEZONE)


def today() -> dt.date:
    """Today's date in Vietnam, which the dates in content, campaigns and reports are."""
    return utcnow().astimezone(TIMEZONE).date()
