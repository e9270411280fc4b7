"""Real QR codes: receipts photographed (rotated, scaled, noisy) and read back; posters whose codes
open the right answer."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from aiohttp import web
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFilter

from bot.app import BotApp
from bot.cli import main
from bot.config import BUNDLED_CONTENT
from handlers.lookups import posters
from handlers.lookups.qr import decode_qr, qr_image
from bot.messages import Attachment, Incoming
from tests.lookups_support import CODE, KEY, dossier_line, export, import_text, text_of

RECEIPT_URL = "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?maHoSo=" + CODE


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def receipt_photo(text: str, *, seed: int = 7, damage: bool = False) -> bytes:
    """A phone photo of a receipt: QR among printed lines, rotated, sheared, scaled down, uneven
    light, sensor noise, slight blur, JPEG."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", (1000, 1300), 238)
    draw = ImageDraw.Draw(page)
    for y in range(80, 1250, 46):  # printed lines of the receipt
        draw.rectangle((60, y, 60 + int(rng.integers(300, 560)), y + 14), fill=70)
    code = qr_image(text, 330)
    page.paste(code, (620, 90))
    if damage:  # the code torn away
        draw.rectangle((600, 70, 980, 450), fill=238)
    photo = page.convert("RGB").rotate(17, expand=True, fillcolor=(96, 84, 70),
                                       resample=Image.Resampling.BICUBIC)
    photo = photo.transform(photo.size, Image.Transform.AFFINE, (1, 0.12, -60, 0.04, 1, -20),
                            resample=Image.Resampling.BICUBIC, fillcolor=(96, 84, 70))
    photo = photo.resize((int(photo.width * 0.72), int(photo.height * 0.72)), Image.Resampling.LANCZOS)
    pixels = np.asarray(photo).astype(np.float64)
    light = np.linspace(0.7, 1.08, pixels.shape[1])[None, :, None] * np.linspace(1.05, 0.85, pixels.shape[0])[:, None, None]
    pixels = pixels * light + rng.normal(0, 14, pixels.shape)
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.9))
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=68)
    return buf.getvalue()


def test_generated_code_reads_back() -> None:
    assert decode_qr(png(qr_image(RECEIPT_URL, 400))) == [RECEIPT_URL]


def test_photo_of_a_receipt_reads_back() -> None:
    photo = receipt_photo(RECEIPT_URL)
    image = Image.open(io.BytesIO(photo))
    assert image.format == "JPEG" and image.width > 900  # really transformed, really a photo
    [found] = zxingcpp.read_barcodes(image)
    assert abs(found.orientation) > 10  # the code sits askew in the photo
    assert decode_qr(photo) == [RECEIPT_URL]


def test_photo_without_the_code_reads_nothing() -> None:
    assert decode_qr(receipt_photo(RECEIPT_URL, damage=True)) == []


def test_not_an_image() -> None:
    from handlers.lookups.qr import ImageError

    with pytest.raises(ImageError):
        decode_qr(b"%PDF-1.4 not an image")


async def test_photo_in_conversation_shows_the_dossier(bot: BotApp, tmp_path: Path) -> None:
    await import_text(bot, tmp_path, export(dossier_line()))
    message = Incoming("zalo", "z1", attachments=(Attachment("image", data=receipt_photo(RECEIPT_URL)),))
    response = await bot.handle(message)
    assert response.outcome == "dossier" and response.faq_id == KEY
    assert "Đăng ký khai sinh" in text_of(response)
    plain_code = await bot.handle(Incoming("zalo", "z1", attachments=(
        Attachment("image", data=png(qr_image(CODE.lower(), 300))),)))  # a code that is just the code
    assert plain_code.outcome == "dossier"


async def test_photos_that_do_not_help(bot: BotApp) -> None:
    no_code = await bot.handle(Incoming("zalo", "z1", attachments=(
        Attachment("image", data=receipt_photo(RECEIPT_URL, damage=True)),)))
    assert no_code.outcome == "qr_unreadable" and "chụp lại" in text_of(no_code)
    other = await bot.handle(Incoming("zalo", "z1", attachments=(
        Attachment("image", data=png(qr_image("https://example.com/khuyen-mai", 300))),)))
    assert other.outcome == "qr_other" and "OTP" in text_of(other)
    broken = await bot.handle(Incoming("zalo", "z1", attachments=(Attachment("file", data=b"hello"),)))
    assert broken.outcome == "qr_unreadable"


@pytest.fixture
async def image_server():
    """A local server standing in for the platform's file storage."""
    photo = receipt_photo(RECEIPT_URL)

    async def receipt(request: web.Request) -> web.Response:
        return web.Response(body=photo, content_type="image/jpeg")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)  # no Content-Length: the limit must count the bytes
        for _ in range(12 * 16):  # 12 MB, over the 10 MB default limit
            await response.write(b"\0" * 65536)
        return response

    app = web.Application()
    app.router.add_get("/receipt.jpg", receipt)
    app.router.add_get("/huge.jpg", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_photo_downloaded_from_the_platform(bot: BotApp, tmp_path: Path, image_server: str) -> None:
    await import_text(bot, tmp_path, export(dossier_line()))
    response = await bot.handle(Incoming("telegram", "t1", attachments=(
        Attachment("image", url=f"{image_server}/receipt.jpg"),)))
    assert response.outcome == "dossier" and response.faq_id == KEY
    too_big = await bot.handle(Incoming("telegram", "t1", attachments=(
        Attachment("image", url=f"{image_server}/huge.jpg"),)))
    assert too_big.outcome == "qr_unreadable" and "quá lớn" in text_of(too_big)
    missing = await bot.handle(Incoming("telegram", "t1", attachments=(
        Attachment("image", url=f"{image_server}/nothing.jpg"),)))
    assert missing.outcome == "qr_unreadable"


# --- posters ---------------------------------------------------------------------------------

ENV = {"CCHC_PSEUDONYM_SALT": "qr-test", "CCHC_CONTENT_PATH": str(BUNDLED_CONTENT),
       "CCHC_TELEGRAM_BOT_USERNAME": "TroLyXaNgocLienBot"}


def link(entry_id: str) -> str:
    return f"https://t.me/TroLyXaNgocLienBot?start={entry_id}"


def pdf_pages(data: bytes) -> list[Image.Image]:
    """The page images inside the PDF (DCT streams), as a viewer would draw them."""
    streams = re.findall(rb"/Filter /DCTDecode.*?stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL)
    return [Image.open(io.BytesIO(s)) for s in streams]


def codes(image: Image.Image) -> set[str]:
    return {r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}


def test_poster_png_pages_open_the_right_answers(tmp_path: Path) -> None:
    out = tmp_path / "poster.png"
    result = CliRunner().invoke(main, ["qr", "poster", "--ids", "khai-sinh,ket-hon", "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    first, second = out, tmp_path / "poster-2.png"
    assert str(first) in result.output and str(second) in result.output
    page = Image.open(first)
    assert page.size == posters.A4 and round(page.info["dpi"][0]) == 300
    assert codes(page) == {link("khai-sinh")}
    assert codes(Image.open(second)) == {link("ket-hon")}


def test_poster_pdf_with_telegram_and_zalo(tmp_path: Path) -> None:
    out = tmp_path / "poster.pdf"
    env = {**ENV, "CCHC_ZALO_OA_ID": "1234567890123456789"}
    result = CliRunner().invoke(main, ["qr", "poster", "--ids", "chung-thuc-ban-sao,tam-tru", "--out", str(out)],
                                env=env)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2
    pages = pdf_pages(data)
    assert len(pages) == 2 and pages[0].size == posters.A4
    zalo = "https://zalo.me/1234567890123456789"
    assert codes(pages[0]) == {link("chung-thuc-ban-sao"), zalo}
    assert codes(pages[1]) == {link("tam-tru"), zalo}


def test_leaflets_four_per_page(tmp_path: Path) -> None:
    out = tmp_path / "leaflet.png"
    ids = ["khai-sinh", "ket-hon", "khai-tu", "tam-tru", "thuong-tru"]
    result = CliRunner().invoke(main, ["qr", "poster", "--ids", ",".join(ids), "--per-page", "4",
                                       "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert codes(Image.open(out)) == {link(i) for i in ids[:4]}
    assert codes(Image.open(tmp_path / "leaflet-2.png")) == {link("thuong-tru")}


def test_poster_needs_a_link_and_known_entries(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "CCHC_TELEGRAM_BOT_USERNAME"}
    no_link = CliRunner().invoke(main, ["qr", "poster", "--ids", "khai-sinh", "--out", str(tmp_path / "a.pdf")],
                                 env=env)
    assert no_link.exit_code == 1 and "telegram.bot_username" in no_link.output
    unknown = CliRunner().invoke(main, ["qr", "poster", "--ids", "khai-sinh,khong-co", "--out",
                                        str(tmp_path / "b.pdf")], env=ENV)
    assert unknown.exit_code == 1 and "khong-co" in unknown.output
    assert not (tmp_path / "a.pdf").exists() and not (tmp_path / "b.pdf").exists()


def test_qr_make_one_code(tmp_path: Path) -> None:
    out = tmp_path / "khai-sinh.png"
    result = CliRunner().invoke(main, ["qr", "make", "khai-sinh", "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == link("khai-sinh")
    assert codes(Image.open(out)) == {link("khai-sinh")}
    svg = tmp_path / "ket-hon.svg"
    assert CliRunner().invoke(main, ["qr", "make", "ket-hon", "--out", str(svg)], env=ENV).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_the_poster_font_draws_vietnamese(tmp_path: Path) -> None:
    regular, bold = posters.find_fonts(None)
    assert posters.covers_vietnamese(regular) and posters.covers_vietnamese(bold)
    with pytest.raises(posters.PosterError):
        posters.find_fonts(tmp_path / "missing.ttf")
