"""Subscriptions, broadcasts and the campaign calendar: every announcement delivered once.

- ``handlers.announcements.subscriptions``: citizens' consent per topic (/dangky, /huydangky).
- ``handlers.announcements.service``: create, schedule, cancel broadcasts; progress; quiet hours.
- ``bot.outbox.sender``: the sender working the outbox (one delivery row per recipient).
- ``handlers.announcements.scheduler``: content/campaigns/ on APScheduler.
- ``bot.outbox.lease``: one sender and one scheduler at a time across processes.
"""

from handlers.announcements.service import (
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
