"""HTTP for the platform: request bodies refused as soon as they are too large, and downloads
of what citizens attach (a photo of a receipt), bounded in size and time."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.ports import FetchError


class BodyTooLarge(web.HTTPRequestEntityTooLarge):
    def __init__(self, limit: int, actual: int) -> None:
        super().__init__(max_size=limit, actual_size=actual)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit``: from
    Content-Length before reading anything, or while reading a body sent without one."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared)
    body = bytearray()
    while chunk := await request.content.read(min(65536, limit + 1)):
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit, len(body))
    return bytes(body)


async def fetch(url: str, limit: int, timeout: float) -> bytes:  # a bot.ports.Fetch
    """Download an attachment: http(s) only, at most ``limit`` bytes, within ``timeout`` seconds."""
    if not url.lower().startswith(("https://", "http://")):
        raise FetchError("địa chỉ ảnh không hợp lệ")
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                    session.get(url) as response):
            if response.status != 200:
                raise FetchError(f"không tải được ảnh (HTTP {response.status})")
            if response.content_length is not None and response.content_length > limit:
                raise FetchError("ảnh quá lớn")
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise FetchError("ảnh quá lớn")
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError("không tải được ảnh") from exc
