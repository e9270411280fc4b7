"""What the content pack is made of: FAQ entries, categories, topics, campaigns, lexicon.

The front-matter schemas are pydantic models so that every field error carries its path,
which the loader turns into ``file:line: message`` for editors. What a loaded pack keeps is
plain slotted dataclasses: a store of 10,000 entries must fit in a small server (issue 10).
"""

from __future__ import annotations

import datetime as dt
import functools
import marshal
import re
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bot.lexicon import Lexicon

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=48)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CHANNELS = ("telegram", "zalo", "messenger", "web")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkSchema(_Strict):
    label: Text
    url: Text

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(f"không phải địa chỉ http(s) hợp lệ: {value!r}")
        return value


class OnlineLevel(StrEnum):
    FULL = "full"  # toàn trình
    PARTIAL = "partial"  # một phần
    NONE = "none"


class FeeSchema(_Strict):
    case: Text
    amount: Annotated[int, Field(ge=0, strict=True)]
    note: str = ""


class ProcedureSchema(_Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.\-]+$")] | None = None
    processing_time: Text | None = None
    online: OnlineLevel | None = None
    where: Text | None = None
    fees: list[FeeSchema] = Field(default_factory=list)


class FaqFrontMatter(_Strict):
    id: Slug
    title: Text
    aliases: list[Text] = Field(default_factory=list)
    category: Slug
    tags: list[Text] = Field(default_factory=list)
    related: list[Slug] = Field(default_factory=list)
    links: list[LinkSchema] = Field(default_factory=list)
    source: Text
    updated: dt.date
    procedure: ProcedureSchema | None = None


class Category(_Strict):
    id: Slug
    title: Text
    description: str = ""
    order: int = 0


class Topic(_Strict):
    id: Slug
    title: Text
    description: str = ""
    default: bool = False


class Schedule(_Strict):
    cron: Text | None = None
    dates: list[dt.datetime] | None = None


class CampaignFrontMatter(_Strict):
    id: Slug
    title: Text
    topic: Slug
    channels: list[Annotated[str, StringConstraints(pattern="^(telegram|zalo|messenger|web)$")]]
    schedule: Schedule
    start: dt.date | None = None
    end: dt.date | None = None
    source: Text


@functools.lru_cache(maxsize=256)
def _unpack(packed: bytes) -> tuple:
    """An entry's packed fields, unpacked once while it is in use: an answer reads several
    fields, and the entries asked about are few at a time (the tuple is immutable, so shared)."""
    return marshal.loads(zlib.decompress(packed))


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Fee:
    case: str
    amount: int
    note: str


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str | None
    processing_time: str | None
    online: OnlineLevel | None
    where: str | None
    fees: tuple[Fee, ...]


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question and its answer.

    What is read only when answering or building a matcher (aliases, tags, links, procedure,
    source, body) is kept zlib-compressed: as objects it was most of a 10,000-entry store
    (issue 10); unpacking one entry costs tens of microseconds.
    """

    id: str
    title: str
    category: str
    related: tuple[str, ...]
    updated: dt.date
    path: str
    line: int  # first line of the body, for messages about it
    packed: bytes  # zlib(marshal((aliases, tags, links, procedure, source, body))), as tuples

    @classmethod
    def create(cls, *, id: str, title: str, aliases: tuple[str, ...], category: str,
               tags: tuple[str, ...], related: tuple[str, ...], links: tuple[Link, ...], source: str,
               updated: dt.date, procedure: Procedure | None, body: str, path: str,
               line: int) -> FaqEntry:
        procedure_row = None if procedure is None else (
            procedure.code, procedure.processing_time,
            None if procedure.online is None else procedure.online.value, procedure.where,
            tuple((fee.case, fee.amount, fee.note) for fee in procedure.fees))
        packed = zlib.compress(marshal.dumps((
            tuple(aliases), tuple(tags), tuple((link.label, link.url) for link in links), procedure_row,
            source, body)))
        return cls(id, title, category, related, updated, path, line, packed)

    def _unpacked(self) -> tuple:
        return _unpack(self.packed)

    @property
    def aliases(self) -> tuple[str, ...]:
        return self._unpacked()[0]

    @property
    def tags(self) -> tuple[str, ...]:
        return self._unpacked()[1]

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(Link(label, url) for label, url in self._unpacked()[2])

    @property
    def procedure(self) -> Procedure | None:
        row = self._unpacked()[3]
        if row is None:
            return None
        code, processing_time, online, where, fees = row
        return Procedure(code, processing_time, None if online is None else OnlineLevel(online), where,
                         tuple(Fee(case, amount, note) for case, amount, note in fees))

    @property
    def source(self) -> str:
        return self._unpacked()[4]

    @property
    def body(self) -> str:
        return self._unpacked()[5]

    @property
    def questions(self) -> tuple[str, ...]:
        """Every way this entry is asked: the title first, then the aliases."""
        return (self.title, *self.aliases)


@dataclass(frozen=True)
class Campaign:
    id: str
    title: str
    topic: str
    channels: tuple[str, ...]
    cron: str | None
    dates: tuple[dt.datetime, ...]
    start: dt.date | None
    end: dt.date | None
    source: str
    body: str
    path: str


@dataclass(frozen=True)
class ContentPack:
    """One consistent snapshot of everything under ``content/``."""

    entries: dict[str, FaqEntry]
    categories: tuple[Category, ...]
    topics: tuple[Topic, ...]
    campaigns: dict[str, Campaign]
    lexicon: Lexicon
    fingerprint: str
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def in_category(self, category_id: str) -> list[FaqEntry]:
        return [e for e in self.entries.values() if e.category == category_id]

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)
