"""``cchc-bot report`` and ``cchc-bot content gaps`` (registered in bot/cli.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import click

from bot.cli_support import build as _build
from bot.content.loader import TIMEZONE


@click.command("report")
@click.option("--period", "period_text", required=True,
              help="kỳ báo cáo: 2026-10 (tháng), 2026-Q4 (quý), 2026-H2 (6 tháng), 2026 (năm)")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "xlsx"]), default="md", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="tệp kết quả (bỏ trống: in ra màn hình; bắt buộc với xlsx)")
@click.option("--chart", type=click.Path(path_type=Path, dir_okay=False),
              help="tệp PNG biểu đồ (mặc định: cạnh tệp kết quả, đuôi .png)")
@click.option("--no-chart", is_flag=True, help="không vẽ biểu đồ")
@click.pass_context
def report(ctx: click.Context, period_text: str, fmt: str, out: Path | None, chart: Path | None,
           no_chart: bool) -> None:
    """Báo cáo định kỳ: câu hỏi, phản ánh, mức độ hài lòng, thông báo đã gửi, người đăng ký, cuộc thi."""
    from handlers.contest.service import contests
    from handlers.reports import report as rp

    try:
        period = rp.parse_period(period_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    if fmt == "xlsx" and out is None:
        raise click.BadParameter("báo cáo Excel cần --out TỆP.xlsx", param_hint="--out")
    app = _build(ctx)

    async def build() -> rp.Report:
        try:
            return await rp.build_report(app.database, app.content.current.pack,
                                         app.settings.office.name, period, contests=contests(app.content.root))
        finally:
            await app.close()

    result = asyncio.run(build())
    if not no_chart and chart is None and out is not None:
        chart = out.with_suffix(".png")
    if not no_chart and chart is not None:
        rp.render_chart(result, chart)
        result.chart_file = chart.name if out is not None and chart.parent == out.parent else str(chart)
    if fmt == "xlsx":
        assert out is not None
        rp.to_xlsx(result, out, chart if not no_chart else None)
    else:
        body = rp.to_markdown(result) if fmt == "md" else rp.to_csv(result)
        if out is None:
            click.echo(body, nl=False)
        else:  # CSV with a BOM so that Excel reads the Vietnamese text right
            out.write_text(("\ufeff" if fmt == "csv" else "") + body, encoding="utf-8")
    if out is not None:
        made = f"Đã lập báo cáo {period.label}: {out}"
        click.echo(made + (f" (biểu đồ: {chart})" if chart is not None and not no_chart else ""), err=True)


@click.command("gaps")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%d/%m/%Y"]),
              help="chỉ các câu hỏi từ ngày này (YYYY-MM-DD hoặc DD/MM/YYYY); mặc định: tất cả")
@click.option("--limit", default=30, show_default=True, help="số nhóm tối đa")
@click.pass_context
def content_gaps(ctx: click.Context, since: dt.datetime | None, limit: int) -> None:
    """Câu hỏi bot chưa trả lời được, gom theo nhóm, hỏi nhiều nhất trước, kèm câu gần nhất đã có."""
    from handlers.reports.report import content_gaps as find_gaps

    app = _build(ctx)
    start = since.replace(tzinfo=TIMEZONE).astimezone(dt.UTC) if since is not None else None

    async def find() -> list:
        try:
            return await find_gaps(app.database, app.content.current.matcher, start)
        finally:
            await app.close()

    gaps = asyncio.run(find())
    if not gaps:
        click.echo("Không có câu hỏi nào chưa trả lời được" + (f" từ ngày {since:%d/%m/%Y}." if since else "."))
        return
    total = sum(g.count for g in gaps)
    click.echo(f"{len(gaps)} nhóm, {total} câu hỏi chưa trả lời được"
               + (f" từ ngày {since:%d/%m/%Y}" if since else "") + ":\n")
    for n, gap in enumerate(gaps[:limit], 1):
        click.echo(f"{n}. [{gap.count} lượt] {gap.text}")
        for text, count in gap.variants[:5]:
            click.echo(f"     cách hỏi khác: {text} ({count})")
        if len(gap.variants) > 5:
            click.echo(f"     … và {len(gap.variants) - 5} cách hỏi khác")
        if gap.nearest is not None:
            faq_id, title, score = gap.nearest
            click.echo(f"     câu gần nhất đã có: {faq_id} — {title} (điểm {score:.2f})")
        else:
            click.echo("     chưa có câu nào gần")
    if len(gaps) > limit:
        click.echo(f"\n… và {len(gaps) - limit} nhóm khác (dùng --limit để xem thêm).")
    sys.stdout.flush()
