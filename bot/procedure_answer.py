"""An aspect question answered from an entry's procedure block ("làm khai sinh mất bao lâu").

Only the one part asked, in the entry's own words and under its source, with the full answer
one button away: a citizen who asked how long it takes reads the processing time, not the
whole procedure.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.content import template
from bot.content.model import FaqEntry, OnlineLevel

_ONLINE = {
    OnlineLevel.FULL: "nộp và nhận kết quả trực tuyến toàn trình, không phải đến cơ quan",
    OnlineLevel.PARTIAL: "nộp trực tuyến một phần, Anh/Chị vẫn cần đến nhận kết quả hoặc nộp bản giấy",
    OnlineLevel.NONE: "chưa nộp trực tuyến được, Anh/Chị nộp trực tiếp",
}
# The aspects a procedure block answers on its own, by how each reads.
ANSWERED = ("time", "place", "online")


def procedure_part(entry: FaqEntry, aspects: frozenset[str], values: Mapping[str, str]) -> str | None:
    """The reply to a question about one aspect the entry's procedure block states, or None
    (no block, no such field, or a question about more than that one aspect)."""
    procedure = entry.procedure
    asked = [a for a in ANSWERED if a in aspects]
    if procedure is None or len(asked) != 1 or len(aspects - {"conditions"}) != 1:
        return None
    if asked[0] == "time" and procedure.processing_time:
        line = f"**Thời hạn giải quyết:** {procedure.processing_time}"
    elif asked[0] == "place" and procedure.where:
        line = f"**Nơi giải quyết:** {procedure.where}"
    elif asked[0] == "online" and procedure.online is not None:
        line = f"**Nộp trực tuyến:** {_ONLINE[procedure.online]}."
        url = getattr(procedure, "online_url", None)
        if url:
            line += f" [Nộp tại đây]({url})"
    else:
        return None
    source = f"_Nguồn: {entry.source}. Cập nhật {entry.updated:%d/%m/%Y}._"
    return f"**{entry.title}**\n\n{template.render(line, values)}\n\n{source}"
