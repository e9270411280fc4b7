"""Start, greeting, the main menu, help, thanks, and messages with nothing to read."""

from __future__ import annotations

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.common import MENU, answer_reply, contact_line
from handlers.contest.router import menu_button as contest_button
from handlers.faq.language import menu_button as language_button

router = Router("start")


def menu_reply(ctx: Context, greeting: bool) -> Reply:
    office = ctx.settings.office
    intro = (
        f"Dạ, em là trợ lý ảo của {office.name}. Em hướng dẫn Anh/Chị làm thủ tục hành chính "
        "và dùng dịch vụ công trực tuyến.\n\n"
        if greeting
        else ""
    )
    text = (
        f"{intro}Anh/Chị cứ gõ câu hỏi, có dấu hay không dấu đều được, ví dụ: "
        "_làm giấy khai sinh cần gì_, hoặc chọn một chủ đề dưới đây."
    )
    categories = [c for c in ctx.content.pack.categories if ctx.content.pack.in_category(c.id)]
    buttons = [Button(c.title, payload=f"cat:{c.id}") for c in categories]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    rows += ((Button("✍️ Gửi phản ánh, kiến nghị", payload="fb:start"),),)
    contest = contest_button(ctx)
    if contest is not None:
        rows += ((contest,),)
    language = language_button(ctx)
    if language is not None:
        rows += ((language,),)
    return Reply(text, rows)


@router.command("start", menu="Bắt đầu, mở menu chính")
async def start(ctx: Context, message: Incoming, route: Route) -> Response:
    """/start, optionally with a deep link to one answer (QR posters use it)."""
    if route.args:
        entry = ctx.content.pack.entries.get(route.args[0].strip().lower())
        if entry is not None:
            return Response([answer_reply(ctx, entry, None)], "answer", faq_id=entry.id)
    return Response([menu_reply(ctx, greeting=True)], "menu")


@router.command("menu", menu="Các chủ đề thủ tục hành chính")
@router.payload("menu")
@router.intent("menu")
async def menu(ctx: Context, message: Incoming, route: Route) -> Response:
    ctx.state.pop("flow", None)
    return Response([menu_reply(ctx, greeting=False)], "menu")


@router.intent("greeting")
async def greeting(ctx: Context, message: Incoming, route: Route) -> Response:
    return Response([menu_reply(ctx, greeting=True)], "greeting")


@router.intent("thanks")
async def thanks(ctx: Context, message: Incoming, route: Route) -> Response:
    text = "Dạ, không có gì ạ. Anh/Chị cần hỏi thêm điều gì cứ nhắn cho em nhé."
    return Response([Reply(text, ((MENU,),))], "thanks")


@router.intent("empty")
async def empty(ctx: Context, message: Incoming, route: Route) -> Response:
    text = (
        "Dạ, em chưa đọc được nội dung tin nhắn. Anh/Chị vui lòng gõ câu hỏi bằng chữ, "
        "ví dụ: _cấp lại căn cước_ hoặc _đăng ký tạm trú_."
    )
    return Response([Reply(text, ((MENU,),))], "empty")


@router.command("trogiup", "help", menu="Hướng dẫn sử dụng")
async def help_handler(ctx: Context, message: Incoming, route: Route) -> Response:
    """Help; also what an unknown command or an outdated button gets."""
    text = (
        "Dạ, Anh/Chị có thể:\n"
        "- Gõ câu hỏi như khi hỏi cán bộ, ví dụ: _đăng ký kết hôn cần giấy tờ gì_;\n"
        "- Chọn chủ đề trong Menu;\n"
        "- /phananh: gửi phản ánh, kiến nghị tới cán bộ; /danhgia: đánh giá mức độ hài lòng;\n"
        "- /lienhe: số điện thoại, địa chỉ Bộ phận Một cửa.\n\n"
        + contact_line(ctx)
    )
    return Response([Reply(text, ((MENU,),))], "help")


@router.payload("stale")
async def stale(ctx: Context, message: Incoming, route: Route) -> Response:
    """A button the channel no longer recognises (e.g. an expired Telegram callback key)."""
    text = (
        "Dạ, nút bấm này đã cũ nên không còn dùng được. Anh/Chị vui lòng gõ lại câu hỏi "
        "hoặc chọn trong Menu ạ."
    )
    return Response([Reply(text, ((MENU,),))], "stale")


@router.command("lienhe", menu="Địa chỉ, số điện thoại Bộ phận Một cửa")
async def contacts(ctx: Context, message: Incoming, route: Route) -> Response:
    entry = ctx.content.pack.entries.get("lien-he-hotline")
    if entry is not None:
        return Response([answer_reply(ctx, entry, None)], "answer", faq_id=entry.id)
    office = ctx.settings.office
    text = f"Dạ, {office.name}: {office.address}.\nGiờ làm việc: {office.hours}.\nĐiện thoại: {office.hotline}."
    return Response([Reply(text, ((MENU,),))], "contacts")
