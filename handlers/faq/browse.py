"""Browsing the menu: a category's questions as buttons."""

from __future__ import annotations

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router, row_id
from handlers.common import MENU, label

router = Router("browse")
PAGE_SIZE = 8


@router.payload("cat")
async def category(ctx: Context, message: Incoming, route: Route) -> Response:
    pack = ctx.content.pack
    category_id = route.args[0] if route.args else ""
    found = pack.category(category_id)
    entries = pack.in_category(category_id)
    if found is None or not entries:
        text = "Dạ, chủ đề này hiện không còn. Anh/Chị vui lòng chọn lại trong Menu ạ."
        return Response([Reply(text, ((MENU,),))], "menu")
    page = (row_id(route.args[1]) or 0) if len(route.args) > 1 else 0
    page = min(page, (len(entries) - 1) // PAGE_SIZE)
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows: list[tuple[Button, ...]] = [(Button(label(e.title), payload=f"faq:{e.id}"),) for e in shown]
    more = []
    if page > 0:
        more.append(Button("« Trước", payload=f"cat:{category_id}:{page - 1}"))
    if (page + 1) * PAGE_SIZE < len(entries):
        more.append(Button("Xem thêm »", payload=f"cat:{category_id}:{page + 1}"))
    if more:
        rows.append(tuple(more))
    rows.append((MENU,))
    text = f"**{found.title}**\n{found.description}\n\nAnh/Chị chọn câu hỏi dưới đây, hoặc gõ câu hỏi của mình ạ."
    return Response([Reply(text, tuple(rows))], "browse")
