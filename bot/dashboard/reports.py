"""The dashboard's reports page on top of the periodic report (``handlers.reports.report``, the same figures
as ``cchc-bot report``): the period from the page's query, the daily chart as inline SVG, and
the downloads (CSV, Excel with the chart, the chart as PNG)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from bot import clock
from handlers.reports import report as rp

MAX_DAYS = 366


def period_from(query: Any, today: dt.date | None = None) -> rp.Period:
    """``?period=2026-10`` (month, 2026-Q4, 2026-H2, 2026), ``?start=...&end=...`` (any days), or
    this month so far. Raises ValueError with a message for the official."""
    today = today or clock.today()
    if query.get("start") or query.get("end"):
        try:
            first = dt.date.fromisoformat(query.get("start") or query.get("end"))
            last = dt.date.fromisoformat(query.get("end") or query.get("start"))
        except ValueError:
            raise ValueError("ngày không hợp lệ (dạng 2026-01-31)") from None
        if first > last:
            first, last = last, first
        if (last - first).days >= MAX_DAYS:
            raise ValueError(f"một báo cáo tối đa {MAX_DAYS} ngày")
        return rp.Period(f"{first:%Y%m%d}-{last:%Y%m%d}", f"Từ {first:%d/%m/%Y} đến {last:%d/%m/%Y}", first, last)
    return rp.parse_period(query.get("period") or f"{today:%Y-%m}")


def presets(today: dt.date | None = None) -> list[tuple[str, str]]:
    """(period key, label) for the usual reporting periods around today."""
    today = today or clock.today()
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    quarter = (today.month - 1) // 3 + 1
    keys = [f"{today:%Y-%m}", f"{last_month:%Y-%m}", f"{today.year}-Q{quarter}",
            f"{today.year}-H{1 if today.month <= 6 else 2}", str(today.year), str(today.year - 1)]
    return [(key, rp.parse_period(key).label) for key in keys]


def daily_chart(report: rp.Report, width: int = 760, height: int = 240) -> dict[str, Any]:
    """A stacked bar per day (answered, "did you mean", not sure), as numbers for inline SVG."""
    left, bottom, top = 40, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    days = report.daily
    peak = max((sum(counts.values()) for _, counts in days), default=0) or 1
    step = plot_w / max(len(days), 1)
    every = max(1, len(days) // 12)
    bars = []
    for index, (day, counts) in enumerate(days):
        y = top + plot_h
        parts = []
        for outcome in rp.OUTCOMES:
            h = plot_h * counts.get(outcome, 0) / peak
            y -= h
            if h > 0:
                parts.append({"y": round(y, 1), "h": round(h, 1), "color": rp.OUTCOME_COLOURS[outcome]})
        bars.append({"x": round(left + index * step + step * 0.1, 1), "w": round(max(step * 0.8, 0.5), 1),
                     "parts": parts, "day": day, "counts": counts, "total": sum(counts.values()),
                     "label": day.strftime("%d/%m") if index % every == 0 else ""})
    values = sorted({0, peak // 2, peak}) if peak > 1 else [0, 1]
    ticks = [{"y": round(top + plot_h - plot_h * v / peak, 1), "value": v} for v in values]
    totals = {o: sum(c.get(o, 0) for _, c in days) for o in rp.OUTCOMES}
    return {"width": width, "height": height, "bars": bars, "ticks": ticks, "left": left, "base": top + plot_h,
            "outcomes": rp.OUTCOMES, "colors": rp.OUTCOME_COLOURS, "totals": totals}


def cell_text(value: rp.Cell) -> str:
    """As the report writes it: 1.234 and 85,7%."""
    if isinstance(value, rp.Share):
        return rp.pct(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return rp.num(value)
    return "" if value is None else str(value)


def chart_png(report: rp.Report) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = rp.render_chart(report, Path(folder) / "chart.png")
        return path.read_bytes()


def xlsx(report: rp.Report) -> bytes:
    """The Excel workbook as ``cchc-bot report --format xlsx`` makes it, chart included."""
    with tempfile.TemporaryDirectory() as folder:
        chart = rp.render_chart(report, Path(folder) / "chart.png")
        out = Path(folder) / "report.xlsx"
        rp.to_xlsx(report, out, chart)
        return out.read_bytes()
