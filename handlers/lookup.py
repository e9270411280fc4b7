"""Dossier codes and phone numbers: recognised before FAQ matching.

Until the dossier list is imported (the lookup feature), a code gets the portal's lookup
guidance; a phone number is never needed and never stored.
"""

from __future__ import annotations

from bot.messages import Button, Incoming, Reply, Response
from bot.routing import Context, Route, Router
from handlers.common import MENU

router = Router("lookup")


@router.intent("dossier_code")
async def dossier_code(ctx: Context, message: Incoming, route: Route) -> Response:
    code = route.intent.value if route.intent else ""
    text = (
        f"Dạ, em nhận được mã hồ sơ **{code}**. Anh/Chị tra cứu tình trạng hồ sơ như sau:\n"
        "1. Vào https://dichvucong.gov.vn, chọn **Tra cứu hồ sơ**;\n"
        "2. Nhập mã hồ sơ in trên Giấy tiếp nhận và hẹn trả kết quả;\n"
        "3. Hoặc quét mã QR trên giấy hẹn bằng điện thoại.\n\n"
        f"Nếu không tra được, Anh/Chị gọi {ctx.settings.office.hotline} để được hỗ trợ ạ."
    )
    rows = []
    if "tra-cuu-ho-so" in ctx.content.pack.entries:
        rows.append((Button("Hướng dẫn tra cứu hồ sơ", payload="faq:tra-cuu-ho-so"),))
    rows.append((MENU,))
    return Response([Reply(text, tuple(rows))], "dossier_code")


@router.intent("phone")
async def phone(ctx: Context, message: Incoming, route: Route) -> Response:
    text = (
        "Dạ, để bảo vệ thông tin cá nhân, Anh/Chị không cần gửi số điện thoại cho em. "
        "Anh/Chị cứ gõ câu hỏi, ví dụ: _tra cứu hồ sơ_ hoặc _lệ phí chứng thực_ ạ."
    )
    return Response([Reply(text, ((MENU,),))], "phone")
