"""The bundled pack on the dates its facts change: the new Luật Hộ tịch from 01/3/2027, the
halved căn cước fees until 31/12/2026 and the free online window until 28/02/2027."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import BUNDLED_CONTENT, Office
from bot.content.loader import TIMEZONE, load_pack

VALUES = Office().template_values()
HO_TICH = ("khai-sinh", "khai-tu", "ket-hon", "ket-hon-nuoc-ngoai", "cai-chinh-ho-tich",
           "trich-luc-ho-tich", "xac-nhan-doc-than", "dang-ky-lai-khai-sinh", "khai-sinh-qua-han",
           "nhan-cha-me-con", "giam-ho", "khai-sinh-le-phi", "lien-thong-khai-sinh")


def pack_on(day: dt.date):
    pack, problems = load_pack(BUNDLED_CONTENT, VALUES, day)
    assert pack is not None, [str(p) for p in problems]
    return pack


@pytest.mark.parametrize("entry_id", HO_TICH)
def test_ho_tich_entries_switch_to_the_new_law_on_1_march_2027(entry_id: str) -> None:
    before, after = pack_on(dt.date(2027, 2, 28)), pack_on(dt.date(2027, 3, 1))
    assert before.entries[entry_id].path == f"content/faq/{entry_id}.md"
    assert after.entries[entry_id].path == f"content/faq/{entry_id}.2027-03-01.md"
    assert "01/3/2027" in after.entries[entry_id].body
    assert "03/2026/QH16" in after.entries[entry_id].source
    # the new version is reviewed before the law applies
    assert after.entries[entry_id].review_by < dt.date(2027, 3, 1)


def can_cuoc_fees(day: dt.date) -> dict[str, int]:
    return {fee.case: fee.amount for fee in pack_on(day).entries["can-cuoc"].procedure.fees}


def test_can_cuoc_fees_follow_their_own_end_dates() -> None:
    december, january, march = (can_cuoc_fees(dt.date(2026, 12, 31)), can_cuoc_fees(dt.date(2027, 1, 1)),
                                can_cuoc_fees(dt.date(2027, 3, 1)))
    assert december["Cấp đổi thẻ (giảm 50%)"] == 25000 and "Cấp đổi thẻ" not in december
    assert january["Cấp đổi thẻ"] == 50000 and "Cấp đổi thẻ (giảm 50%)" not in january
    online = "Cấp đổi, cấp lại làm trực tuyến bằng tài khoản VNeID mức 2"
    assert december[online] == 0 and january[online] == 0 and online not in march
    assert march["Cấp lại thẻ khi mất, hư hỏng"] == 70000


def test_the_contest_campaigns_follow_the_bundled_contest() -> None:
    """Launch on the day the contest starts, a reminder mid-way, "last days" within its final
    ten days; each message opens the contest and says when it ends."""
    from handlers.contest.service import contests

    contest = contests(BUNDLED_CONTENT)["tim-hieu-cchc-2026"]
    starts, ends = contest.starts.astimezone(TIMEZONE), contest.ends.astimezone(TIMEZONE)
    campaigns = pack_on(dt.date(2026, 12, 1)).campaigns
    launch, middle, last = (campaigns[f"cuoc-thi-cchc-{name}"] for name in ("phat-dong", "nhac-giua-ky", "sap-ket-thuc"))
    for campaign in (launch, middle, last):
        assert campaign.contest == contest.id
        assert (campaign.start, campaign.end) == (starts.date(), ends.date())
        assert f"{ends:%d/%m/%Y}" in campaign.body
        assert all(starts <= moment.replace(tzinfo=TIMEZONE) < ends for moment in campaign.dates)
    assert [d.date() for d in launch.dates] == [starts.date()]
    halfway = starts + (ends - starts) / 2
    assert [abs(d.replace(tzinfo=TIMEZONE) - halfway) < dt.timedelta(days=3) for d in middle.dates] == [True]
    assert last.dates and all(ends - d.replace(tzinfo=TIMEZONE) <= dt.timedelta(days=10) for d in last.dates)
