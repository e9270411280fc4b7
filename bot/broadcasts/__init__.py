"""Subscriptions, broadcasts and the campaign calendar: every announcement delivered once.

- ``bot.broadcasts.subscriptions``: citizens' consent per topic (/dangky, /huydangky).
- ``bot.broadcasts.service``: create, schedule, cancel broadcasts; progress; quiet hours.
- ``bot.broadcasts.outbox``: the sender working the outbox (one delivery row per recipient).
- ``bot.broadcasts.scheduler``: content/campaigns/ on APScheduler.
- ``bot.broadcasts.lease``: one sender and one scheduler at a time across processes.
"""

from bot.broadcasts.service import (
    BroadcastError,
    Progress,
    announcement_text,
    cancel_broadcast,
    create_broadcast,
    progress,
    quiet_until,
    schedule_broadcast,
)

__all__ = [
    "BroadcastError",
    "Progress",
    "announcement_text",
    "cancel_broadcast",
    "create_broadcast",
    "progress",
    "quiet_until",
    "schedule_broadcast",
]
