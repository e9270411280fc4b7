"""Numbered choices, the small store of the channels without buttons for everything (Zalo,
Messenger): a reply's options are offered as "1.", "2."...; when the citizen types a number the
adapter turns it back into the option's payload. One ``CallbackPayload`` row per user, keyed by
a pseudonym of the platform id (``key``) that starts with the channel's own prefix.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable

from sqlalchemy import Executable, bindparam, delete
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import aware
from bot.storage.db import Database, dialect_insert
from bot.storage.models import CallbackPayload, utcnow

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*\.?\s*$")
TTL = dt.timedelta(days=1)  # a list older than this is forgotten: the number meant another reply
MAX_BYTES = 2048  # CallbackPayload.payload


def numbered(number: int, label: str) -> str:
    """"N. label", unless the label already starts with that number (a contest question's
    choices come numbered from the core)."""
    return label if label.startswith(f"{number}. ") else f"{number}. {label}"


def chosen_number(text: str) -> int | None:
    """"2" or "2." typed alone: a numbered choice."""
    match = _NUMBER.match(text)
    return int(match.group(1)) if match else None


@functools.cache
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """Store a user's numbered choices (an upsert), forget them; built once per dialect."""
    table = CallbackPayload.__table__  # type: ignore[attr-defined]
    upsert = dialect_insert(dialect)(table)
    store = upsert.on_conflict_do_update(
        index_elements=["key"],
        set_={"payload": upsert.excluded.payload, "created_at": upsert.excluded.created_at})
    return store, delete(table).where(table.c.key == bindparam("key"))


class ChoiceStore:
    def __init__(self, database: Database, channel: str, prefix: str, key: Callable[[str], str]) -> None:
        self.database = database
        self.channel = channel  # for the log
        self.prefix = prefix  # every key starts with it: the channel's rows, for ``forget_expired``
        self._key = key

    async def remember(self, user: str, choices: list[str]) -> None:
        """The choices of the reply being sent replace the user's earlier ones: one upsert (or,
        with none, one delete) per reply."""
        store, forget = _statements(self.database.dialect)
        kept = list(choices)
        while len(json.dumps(kept, ensure_ascii=False)) > MAX_BYTES:
            kept.pop()
        try:
            async with self.database.session() as session:
                if kept:
                    await session.exec(store, params={  # type: ignore[call-overload]
                        "key": self._key(user), "payload": json.dumps(kept, ensure_ascii=False),
                        "created_at": utcnow()})
                else:
                    await session.exec(forget, params={"key": self._key(user)})  # type: ignore[call-overload]
                await session.commit()
        except SQLAlchemyError:
            log.exception("%s: could not store the numbered choices", self.channel)

    async def pick(self, user: str, number: int) -> str | None:
        """The payload of choice ``number`` of the user's last reply, if it is still current."""
        try:
            async with self.database.session() as session:
                row = await session.get(CallbackPayload, self._key(user))
        except SQLAlchemyError:
            log.exception("%s: could not read the numbered choices", self.channel)
            return None
        if row is None or utcnow() - aware(row.created_at) > TTL:
            return None
        choices = json.loads(row.payload)
        return choices[number - 1] if 1 <= number <= len(choices) else None

    async def forget_expired(self, session: AsyncSession, now: dt.datetime) -> int:
        """Delete this channel's lists past their TTL, in the caller's transaction (the
        channel's housekeeping job); how many."""
        result = await session.exec(delete(CallbackPayload).where(  # type: ignore[call-overload]
            col(CallbackPayload.key).startswith(self.prefix), col(CallbackPayload.created_at) < now - TTL))
        return result.rowcount or 0
