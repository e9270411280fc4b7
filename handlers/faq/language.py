"""The citizen's language: answers in it where the entry has a translation (``content/faq/
<id>.<lang>.md``), otherwise in Vietnamese with a one-line note. The choice is kept in the
conversation state, so it follows the citizen across workers and restarts."""

from __future__ import annotations

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.common import MENU

router = Router("language")
VIETNAMESE = "vie"


@router.command("ngonngu", "language")
@router.payload("lang")
async def choose(ctx: Context, message: Incoming, route: Route) -> Response:
    """``lang``: the choices; ``lang:<code>``: answer in that language from now on."""
    languages = ctx.content.pack.languages
    code = route.args[0] if route.args else None
    if code == VIETNAMESE:
        ctx.state.pop("lang", None)
        return Response([Reply("Dạ, từ giờ em trả lời Anh/Chị bằng tiếng Việt ạ.", ((MENU,),))], "language")
    chosen = ctx.content.pack.language(code) if code else None
    if chosen is not None:
        ctx.state["lang"] = chosen.code
        text = (f"Dạ, từ giờ em trả lời bằng {chosen.name} ở những mục đã có bản dịch; mục chưa có "
                "bản dịch em trả lời bằng tiếng Việt ạ.")
        return Response([Reply(text, ((MENU,),))], "language")
    if not languages:
        return Response([Reply("Dạ, hiện em mới trả lời được bằng tiếng Việt ạ.", ((MENU,),))], "language")
    rows = [(Button("Tiếng Việt", payload=f"lang:{VIETNAMESE}"),)]
    rows += [(Button(language.name, payload=f"lang:{language.code}"),) for language in languages]
    rows.append((MENU,))
    return Response([Reply("Dạ, Anh/Chị muốn em trả lời bằng tiếng nào ạ?", tuple(rows))], "language")


def menu_button(ctx: Context) -> Button | None:
    """The menu's language button, when the content offers a language besides Vietnamese."""
    return Button("🌐 Ngôn ngữ", payload="lang") if ctx.content.pack.languages else None
