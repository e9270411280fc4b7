"""QR codes: reading the one on a receipt photo (zxing-cpp), making deep-link codes (segno).

Photos arrive as bytes (``Attachment.data``) or as a URL the channel gives (``Attachment.url``),
downloaded with a size limit and a timeout. Decoding is CPU work and runs in a thread.
"""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np

from bot.config import Settings
from bot.messages import Attachment
from bot.ports import Fetch, FetchError

if TYPE_CHECKING:
    import segno
    from PIL import Image

MAX_PIXELS = 60_000_000  # a 60-megapixel photo is already more than any phone takes
WORK_SIZE = 3000  # longest side decoded; zxing also tries smaller scales itself


class ImageError(Exception):
    """The attachment is not an image we can read (too big, not an image, not downloadable)."""


def decode_qr(data: bytes) -> list[str]:
    """The texts of the QR codes in an image (a photo or a screenshot), best first."""
    # The imaging libraries load with the first photo, not in every server (~3 MB).
    import zxingcpp
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError("không phải tệp ảnh") from exc
    with image:
        if image.width * image.height > MAX_PIXELS:
            raise ImageError("ảnh quá lớn")
        try:
            gray = ImageOps.exif_transpose(image).convert("L")
        except (OSError, ValueError) as exc:
            raise ImageError("ảnh bị hỏng") from exc
    if max(gray.size) > WORK_SIZE:
        gray.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.LANCZOS)
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:  # glare and shadows: a global threshold sometimes reads what the local one misses
        found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode,
                                       binarizer=zxingcpp.Binarizer.GlobalHistogram)
    return [r.text for r in found if r.text]


async def attachment_texts(attachment: Attachment, settings: Settings, fetch: Fetch | None) -> list[str]:
    """The QR texts in an attachment, downloading it first (``fetch``, the platform's) when it
    came as a URL."""
    data = attachment.data
    limit = settings.lookup.max_image_bytes
    if data is None:
        if not attachment.url or fetch is None:
            raise ImageError("không có nội dung ảnh")
        try:
            data = await fetch(attachment.url, limit, settings.lookup.download_timeout)
        except FetchError as exc:
            raise ImageError(str(exc)) from exc
    if len(data) > limit:
        raise ImageError("ảnh quá lớn")
    return await asyncio.to_thread(decode_qr, data)


# --- making codes ---------------------------------------------------------------------------


def telegram_link(username: str, entry_id: str) -> str:
    """The deep link that opens the bot on one answer (handled by /start <id>)."""
    return f"https://t.me/{username.lstrip('@')}?start={quote(entry_id)}"


def messenger_link(page: str, entry_id: str) -> str:
    """The m.me link that opens the fan page's chat on one answer (its ``ref`` is the entry id)."""
    return f"https://m.me/{quote(page.lstrip('@'))}?ref={quote(entry_id)}"


def zalo_link(settings: Settings) -> str | None:
    """The Zalo OA's link (Zalo has no per-answer deep link: the OA opens and the citizen asks)."""
    if settings.lookup.zalo_oa_url:
        return settings.lookup.zalo_oa_url
    if settings.zalo.oa_id:
        return f"https://zalo.me/{settings.zalo.oa_id}"
    return None


def make_qr(text: str) -> segno.QRCode:
    import segno

    # "Q" error correction: a printed poster survives glare, dirt and a corner torn off.
    return segno.make_qr(text, error="q", boost_error=False)


def qr_image(text: str, size: int) -> Image.Image:
    """A crisp black-on-white QR image of at most ``size`` pixels, quiet zone included."""
    from PIL import Image

    qr = make_qr(text)
    matrix = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
    border = 4
    modules = matrix.shape[0] + 2 * border
    scale = max(1, size // modules)
    padded = np.pad(matrix, border, constant_values=0)
    pixels = np.where(padded > 0, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)  # uint8, 2-D: mode "L"
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
