"""What editors look after: the entries due for review, and an entry as data (``content list
--json``, the dashboard)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.content.model import ContentPack, FaqEntry, Procedure, in_force

DUE_WITHIN_DAYS = 30


@dataclass(frozen=True)
class Due:
    entry: FaqEntry
    days_left: int  # negative: overdue by that many days

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def due(pack: ContentPack, within_days: int = DUE_WITHIN_DAYS, day: dt.date | None = None) -> list[Due]:
    """Versions in force or still to come whose ``review_by`` is within ``within_days`` of
    ``day`` (default: the pack's day) or past, most overdue first."""
    day = pack.day if day is None else day
    limit = day + dt.timedelta(days=within_days)
    found = [Due(e, (e.review_by - day).days) for e in pack.every_version()
             if (e.valid_until is None or e.valid_until >= day) and e.review_by <= limit]
    return sorted(found, key=lambda d: (d.entry.review_by, d.entry.id))


def _date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def procedure_json(procedure: Procedure | None) -> dict | None:
    if procedure is None:
        return None
    return {
        "code": procedure.code, "where": procedure.where, "papers": list(procedure.papers),
        "processing_time": procedure.processing_time,
        "online": None if procedure.online is None else procedure.online.value,
        "online_url": procedure.online_url,
        "fees": [{"case": f.case, "amount": f.amount, "note": f.note, "valid_from": _date(f.valid_from),
                  "valid_until": _date(f.valid_until)} for f in procedure.fees],
        "legal_basis": [{"title": b.title, "number": b.number, "effective": _date(b.effective)}
                        for b in procedure.legal_basis],
    }


def entries_json(pack: ContentPack) -> list[dict]:
    """One item per entry id: the version in force on the pack's day (or the first to come),
    its procedure block as written (every fee, with its dates), all its versions, its
    translations."""
    by_id: dict[str, list[FaqEntry]] = {}
    for entry in pack.every_version():
        by_id.setdefault(entry.id, []).append(entry)
    items = []
    for entry_id, versions in by_id.items():
        current = next((v for v in versions if in_force(pack.day, v.valid_from, v.valid_until)), None)
        shown = current or next((v for v in versions if v.valid_from and v.valid_from > pack.day), versions[-1])
        items.append({
            "id": entry_id, "title": shown.title, "category": shown.category, "aliases": list(shown.aliases),
            "updated": shown.updated.isoformat(), "review_by": shown.review_by.isoformat(), "path": shown.path,
            "in_force": current is not None, "procedure": procedure_json(shown.procedure),
            "versions": [{"path": v.path, "valid_from": _date(v.valid_from), "valid_until": _date(v.valid_until),
                          "updated": v.updated.isoformat(), "review_by": v.review_by.isoformat(),
                          "in_force": v is current} for v in versions],
            "translations": {lang: {"path": t.path, "updated": t.updated.isoformat(),
                                    "current": t.current_for(shown)}
                             for lang, t in sorted(pack.translations.get(entry_id, {}).items())},
        })
    return items
