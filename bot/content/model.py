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
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from bot.lexicon import Lexicon

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG, max_length=48)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CHANNELS = ("telegram", "zalo", "messenger", "web")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"không phải địa chỉ http(s) hợp lệ: {value!r}")
    return value


class LinkSchema(_Strict):
    label: Text
    url: Text

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class OnlineLevel(StrEnum):
    FULL = "full"  # toàn trình
    PARTIAL = "partial"  # một phần
    NONE = "none"


class _Dated(_Strict):
    """Inclusive dates in Vietnam's time; either may be left open."""

    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    @field_validator("valid_until")
    @classmethod
    def _in_order(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"ngày {value} đứng trước valid_from {start}")
        return value


class FeeSchema(_Dated):
    case: Text
    amount: Annotated[int, Field(ge=0, strict=True)]
    note: str = ""


class LegalBasisSchema(_Strict):
    title: Text
    number: Text | None = None
    effective: dt.date | None = None


class ProcedureSchema(_Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.\-]+$")] | None = None
    where: Text | None = None
    papers: list[Text] = Field(default_factory=list)
    processing_time: Text | None = None
    online: OnlineLevel | None = None
    online_url: Text | None = None
    fees: list[FeeSchema] = Field(default_factory=list)
    legal_basis: list[LegalBasisSchema] = Field(default_factory=list)

    @field_validator("online_url")
    @classmethod
    def _online_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class FaqFrontMatter(_Dated):
    id: Slug
    title: Text
    aliases: list[Text] = Field(default_factory=list)
    category: Slug
    tags: list[Text] = Field(default_factory=list)
    related: list[Slug] = Field(default_factory=list)
    links: list[LinkSchema] = Field(default_factory=list)
    source: Text
    updated: dt.date
    review_by: dt.date | None = None
    procedure: ProcedureSchema | None = None


LANG = r"^[a-z]{3}$"  # an ISO 639-3 code: mtq (Mường), tyj (Tày), blt (Tai Dam)...


class TranslationFrontMatter(_Strict):
    """A translation of one entry's words; its facts (procedure, fees, links) stay the entry's."""

    id: Slug
    lang: Annotated[str, StringConstraints(pattern=LANG)]
    title: Text
    aliases: list[Text] = Field(default_factory=list)
    updated: dt.date


class Language(_Strict):
    """A language the menu offers (``content/languages.yaml``)."""

    code: Annotated[str, StringConstraints(pattern=LANG)]
    name: Text  # as citizens read it on the button, e.g. "Tiếng Mường"


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
    contest: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None  # contests/<id>.yaml


@functools.lru_cache(maxsize=256)
def _unpack(packed: bytes) -> tuple:
    """An entry's packed fields, unpacked once while it is in use: an answer reads several
    fields, and the entries asked about are few at a time (the tuple is immutable, so shared)."""
    return marshal.loads(zlib.decompress(packed))


def _ordinal(day: dt.date | None) -> int | None:
    """Dates travel through marshal as day numbers (marshal knows no dates)."""
    return None if day is None else day.toordinal()


def _day(ordinal: int | None) -> dt.date | None:
    return None if ordinal is None else dt.date.fromordinal(ordinal)


def in_force(day: dt.date, valid_from: dt.date | None, valid_until: dt.date | None) -> bool:
    """Is ``day`` within the inclusive, possibly open, range?"""
    return (valid_from is None or valid_from <= day) and (valid_until is None or day <= valid_until)


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Fee:
    case: str
    amount: int
    note: str
    valid_from: dt.date | None = None  # a temporary fee (a reduction) starts or ends on its date
    valid_until: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        return in_force(day, self.valid_from, self.valid_until)


@dataclass(frozen=True, slots=True)
class LegalBasis:
    title: str
    number: str | None
    effective: dt.date | None


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str | None
    processing_time: str | None
    online: OnlineLevel | None
    where: str | None
    fees: tuple[Fee, ...]
    papers: tuple[str, ...] = ()
    online_url: str | None = None
    legal_basis: tuple[LegalBasis, ...] = ()

    @property
    def dated(self) -> bool:
        """Does any fee start or end on a date (so what is in force depends on the day)?"""
        return any(fee.valid_from or fee.valid_until for fee in self.fees)

    def on(self, day: dt.date) -> Procedure:
        """The procedure with only the fees in force on ``day``."""
        return replace(self, fees=tuple(fee for fee in self.fees if fee.in_force(day)))

    def _row(self) -> tuple:
        return (self.code, self.processing_time, None if self.online is None else self.online.value,
                self.where,
                tuple((f.case, f.amount, f.note, _ordinal(f.valid_from), _ordinal(f.valid_until))
                      for f in self.fees),
                tuple(self.papers), self.online_url,
                tuple((b.title, b.number, _ordinal(b.effective)) for b in self.legal_basis))

    @classmethod
    def _from_row(cls, row: tuple) -> Procedure:
        code, processing_time, online, where, fees, papers, online_url, legal_basis = row
        return cls(code, processing_time, None if online is None else OnlineLevel(online), where,
                   tuple(Fee(case, amount, note, _day(start), _day(until))
                         for case, amount, note, start, until in fees),
                   papers, online_url,
                   tuple(LegalBasis(title, number, _day(effective)) for title, number, effective in legal_basis))


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question and its answer (one version of it, when its facts change on a date).

    What is read only when answering or building a matcher (aliases, tags, links, procedure,
    source, body, the translated ways of asking) is kept zlib-compressed: as objects it was most
    of a 10,000-entry store (issue 10); unpacking one entry costs tens of microseconds.
    """

    id: str
    title: str
    category: str
    related: tuple[str, ...]
    updated: dt.date
    path: str
    line: int  # first line of the body, for messages about it
    packed: bytes  # zlib(marshal((aliases, tags, links, procedure, source, body, also_asked)))
    review: dt.date | None = None  # review_by as written; None: a year after ``updated``
    validity: tuple[dt.date | None, dt.date | None] | None = None  # (valid_from, valid_until)

    @classmethod
    def create(cls, *, id: str, title: str, aliases: tuple[str, ...], category: str,
               tags: tuple[str, ...], related: tuple[str, ...], links: tuple[Link, ...], source: str,
               updated: dt.date, procedure: Procedure | None, body: str, path: str,
               line: int, review_by: dt.date | None = None, valid_from: dt.date | None = None,
               valid_until: dt.date | None = None, also_asked: tuple[str, ...] = ()) -> FaqEntry:
        packed = zlib.compress(marshal.dumps((
            tuple(aliases), tuple(tags), tuple((link.label, link.url) for link in links),
            None if procedure is None else procedure._row(), source, body, tuple(also_asked))))
        validity = None if valid_from is None and valid_until is None else (valid_from, valid_until)
        return cls(id, title, category, related, updated, path, line, packed, review_by, validity)

    def _unpacked(self) -> tuple:
        return _unpack(self.packed)

    def _repacked(self, procedure: Procedure | None = None, also_asked: tuple[str, ...] | None = None
                  ) -> FaqEntry:
        aliases, tags, links, row, source, body, asked = self._unpacked()
        packed = zlib.compress(marshal.dumps((
            aliases, tags, links, row if procedure is None else procedure._row(), source, body,
            asked if also_asked is None else tuple(also_asked))))
        return replace(self, packed=packed)

    def on(self, day: dt.date) -> FaqEntry:
        """This entry as it reads on ``day``: temporary fees out of force are left out."""
        procedure = self.procedure
        if procedure is None or not procedure.dated:
            return self
        return self._repacked(procedure=procedure.on(day))

    def asked_also_as(self, questions: tuple[str, ...]) -> FaqEntry:
        """This entry, matched also by ``questions`` (its translations' titles and aliases)."""
        return self._repacked(also_asked=questions)

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
        return None if row is None else Procedure._from_row(row)

    @property
    def source(self) -> str:
        return self._unpacked()[4]

    @property
    def body(self) -> str:
        return self._unpacked()[5]

    @property
    def also_asked(self) -> tuple[str, ...]:
        return self._unpacked()[6]

    @property
    def questions(self) -> tuple[str, ...]:
        """Every way this entry is asked: the title first, the aliases, then the translated ones."""
        return (self.title, *self.aliases, *self.also_asked)

    @property
    def review_by(self) -> dt.date:
        return self.review if self.review is not None else a_year_after(self.updated)

    @property
    def valid_from(self) -> dt.date | None:
        return None if self.validity is None else self.validity[0]

    @property
    def valid_until(self) -> dt.date | None:
        return None if self.validity is None else self.validity[1]


def a_year_after(day: dt.date) -> dt.date:
    """The default review date (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


@dataclass(frozen=True, slots=True)
class Translation:
    """One entry's title, aliases and answer in one language (``<id>.<lang>.md``)."""

    id: str
    lang: str
    title: str
    aliases: tuple[str, ...]
    updated: dt.date
    body: str
    path: str
    line: int

    def current_for(self, entry: FaqEntry) -> bool:
        """Not older than the Vietnamese entry it translates: an older one may state old facts."""
        return self.updated >= entry.updated


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
    contest: str | None = None  # the contest its messages invite to (contests/<id>.yaml)


@dataclass(frozen=True)
class ContentPack:
    """One consistent snapshot of everything under ``content/``, as it reads on ``day``.

    ``entries`` are the entries in force on ``day`` (Vietnam's date), each with only the fees
    in force; ``versions`` keeps every version of the entries whose facts change on a date, so
    the pack for another day is a cheap ``on(day)`` away, without reading a file.
    """

    entries: dict[str, FaqEntry]
    categories: tuple[Category, ...]
    topics: tuple[Topic, ...]
    campaigns: dict[str, Campaign]
    lexicon: Lexicon
    fingerprint: str
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    day: dt.date = field(default_factory=dt.date.today)
    # id -> its versions, oldest first, fees complete; only entries with dated facts
    versions: dict[str, tuple[FaqEntry, ...]] = field(default_factory=dict)
    translations: dict[str, dict[str, Translation]] = field(default_factory=dict)  # id -> lang -> it
    languages: tuple[Language, ...] = ()

    def on(self, day: dt.date) -> ContentPack:
        """The same content as it reads on ``day``."""
        if day == self.day:
            return self
        entries = dict(self.entries)
        for entry_id, versions in self.versions.items():
            version = next((v for v in versions if in_force(day, v.valid_from, v.valid_until)), None)
            if version is None:
                entries.pop(entry_id, None)
            else:
                entries[entry_id] = version.on(day)
        return replace(self, entries=entries, day=day)

    def every_version(self) -> list[FaqEntry]:
        """Every entry file's entry, fees complete: what editors wrote, whatever the day."""
        out = [e for e in self.entries.values() if e.id not in self.versions]
        out += [v for versions in self.versions.values() for v in versions]
        return sorted(out, key=lambda e: (e.id, e.valid_from or dt.date.min))

    def translation(self, entry: FaqEntry, lang: str) -> Translation | None:
        """The entry's translation into ``lang`` when it is not older than the entry."""
        found = self.translations.get(entry.id, {}).get(lang)
        return found if found is not None and found.current_for(entry) else None

    def language(self, code: str) -> Language | None:
        return next((lang for lang in self.languages if lang.code == code), None)

    def in_category(self, category_id: str) -> list[FaqEntry]:
        return [e for e in self.entries.values() if e.category == category_id]

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)
