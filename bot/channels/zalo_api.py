"""The Zalo Official Account HTTP APIs: messages, image upload, OAuth v4, and a rate limiter.

Facts used here (Zalo OA documentation and open-source integrations; the unconfirmed ones are
marked and kept in one constant each):

- Messages: ``POST {api}/v3.0/oa/message/cs`` (consultation) and ``.../promotion``, header
  ``access_token``. Replies are ``{"error": 0, "message": "Success", "data": {...}}`` and errors
  ``{"error": <code>, "message": ...}``, possibly with HTTP 200.
- Images: ``POST {api}/v2.0/oa/upload/image`` (multipart ``file``) returns ``data.attachment_id``.
- OAuth v4: ``POST {oauth}/v4/oa/access_token`` with header ``secret_key`` (the app secret) and a
  form body; the answer is ``{"access_token", "refresh_token", "expires_in": "90000"}`` (a
  string). Refresh tokens are single-use: each refresh returns a new pair.
- The message API allows 4,000 requests per minute per app.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

log = logging.getLogger(__name__)

CS_PATH = "/v3.0/oa/message/cs"
PROMOTION_PATH = "/v3.0/oa/message/promotion"
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"
TOKEN_PATH = "/v4/oa/access_token"
PERMISSION_PATH = "/v4/oa/permission"

RATE_LIMIT = 4000  # requests per RATE_WINDOW seconds, per app
RATE_WINDOW = 60.0
REQUEST_TIMEOUT = 15.0  # seconds for one API call

# Error codes of the message API.
TOKEN_INVALID = frozenset({-216, -220})  # access token invalid or expired: refresh once, retry
OUTSIDE_WINDOW = frozenset({-230, -232})  # no interaction in the last 7 days: never retry
NOT_FOLLOWER = -213
RATE_LIMITED = -32
QUOTA_EXHAUSTED = frozenset({-211, -218})
BAD_PARAMETER = -201

# Refresh tokens last about three months (Zalo's documentation); the token answer does not say.
REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600
DEFAULT_ACCESS_LIFETIME = 90000  # seconds, when expires_in is missing or unreadable


class ZaloTransportError(Exception):
    """The API could not be reached or answered something that is not Zalo's JSON: transient."""


class TokenRejected(Exception):
    """Zalo's OAuth server refused a refresh token or an authorization code."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiResult:
    error: int
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    http_status: int = 200

    @property
    def ok(self) -> bool:
        return self.error == 0


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    refresh_expires_in: int = REFRESH_TOKEN_LIFETIME


class RateLimiter:
    """At most ``limit`` calls in any ``window`` seconds, and a pause after Zalo says -32.

    Per process: with several workers, each enforces the limit on its own, so set ``limit`` to
    the app's limit divided by the number of workers.
    """

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._stamps: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                while self._stamps and self._stamps[0] <= now - self.window:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return
                await asyncio.sleep(self._stamps[0] + self.window - now)

    def pause(self, seconds: float) -> None:
        """Zalo said we are over the limit: send nothing for ``seconds``."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    @property
    def recent(self) -> int:
        now = self._clock()
        return sum(1 for stamp in self._stamps if stamp > now - self.window)


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError) as exc:
        raise ZaloTransportError(f"HTTP {response.status}: not JSON") from exc
    if not isinstance(body, dict):
        raise ZaloTransportError(f"HTTP {response.status}: unexpected JSON")
    return body


def _result(status: int, body: dict[str, Any]) -> ApiResult:
    try:
        code = int(body.get("error", 0 if status < 400 else -1))
    except (TypeError, ValueError):
        code = -1
    if code == 0 and status >= 500:
        raise ZaloTransportError(f"HTTP {status}")
    data = body.get("data")
    return ApiResult(code, str(body.get("message", "")), data if isinstance(data, dict) else {}, status)


class ZaloApi:
    """The OA message API. Callers pass the access token; ``ZaloChannel`` handles refreshes."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, limiter: RateLimiter) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.limiter = limiter
        self.timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)

    async def post_message(self, path: str, access_token: str, body: dict[str, Any]) -> ApiResult:
        await self.limiter.acquire()
        try:
            async with self.session.post(self.base_url + path, json=body, timeout=self.timeout,
                                         headers={"access_token": access_token}) as response:
                return _result(response.status, await _json(response))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ZaloTransportError(f"{type(exc).__name__}: {exc}") from exc

    async def upload_image(self, access_token: str, data: bytes) -> ApiResult:
        await self.limiter.acquire()
        form = aiohttp.FormData()
        kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        form.add_field("file", data, filename="image.png" if kind == "image/png" else "image.jpg",
                       content_type=kind)
        try:
            async with self.session.post(self.base_url + UPLOAD_IMAGE_PATH, data=form,
                                         timeout=self.timeout,
                                         headers={"access_token": access_token}) as response:
                return _result(response.status, await _json(response))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ZaloTransportError(f"{type(exc).__name__}: {exc}") from exc


def make_pkce() -> tuple[str, str]:
    """A PKCE pair: (code_verifier, code_challenge = BASE64URL(SHA-256(verifier)), no padding)."""
    verifier = secrets.token_urlsafe(32)  # 43 characters of [A-Za-z0-9_-]
    return verifier, code_challenge(verifier)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def permission_url(oauth_base_url: str, app_id: str, redirect_uri: str, challenge: str,
                   state: str) -> str:
    """Where an OA administrator grants the app access (OAuth v4 for Official Accounts)."""
    query = urlencode({"app_id": app_id, "redirect_uri": redirect_uri,
                       "code_challenge": challenge, "state": state})
    return f"{oauth_base_url.rstrip('/')}{PERMISSION_PATH}?{query}"


def code_from(pasted: str, state: str) -> str:
    """The authorization code from what the administrator pasted: the code itself, or the whole
    address Zalo redirected to (then its ``state`` must be ours)."""
    pasted = pasted.strip()
    if "?" not in pasted and "=" not in pasted:
        if not pasted:
            raise ValueError("chưa có mã code")
        return pasted
    query = parse_qs(urlsplit(pasted).query if "?" in pasted else pasted)
    codes = query.get("code")
    if not codes or not codes[0]:
        raise ValueError("địa chỉ không có tham số code")
    if query.get("state", [state])[0] != state:
        raise ValueError("tham số state không khớp: hãy dùng đúng liên kết vừa in ra")
    return codes[0]


class ZaloOAuth:
    """OAuth v4 for an Official Account: the permission URL, code exchange and refresh."""

    def __init__(self, base_url: str, app_id: str, app_secret: str,
                 session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.session = session

    async def refresh(self, refresh_token: str) -> TokenPair:
        return await self._token({"app_id": self.app_id, "grant_type": "refresh_token",
                                  "refresh_token": refresh_token})

    async def exchange_code(self, code: str, verifier: str) -> TokenPair:
        return await self._token({"app_id": self.app_id, "grant_type": "authorization_code",
                                  "code": code, "code_verifier": verifier})

    async def _token(self, form: dict[str, str]) -> TokenPair:
        try:
            async with self.session.post(
                self.base_url + TOKEN_PATH, data=form, headers={"secret_key": self.app_secret},
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as response:
                status = response.status
                body = await _json(response)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ZaloTransportError(f"{type(exc).__name__}: {exc}") from exc
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if isinstance(access, str) and access and isinstance(refresh, str) and refresh:
            return TokenPair(access, refresh, _seconds(body.get("expires_in"), DEFAULT_ACCESS_LIFETIME),
                             _seconds(body.get("refresh_token_expires_in"), REFRESH_TOKEN_LIFETIME))
        if status >= 500 or status == 429:
            raise ZaloTransportError(f"HTTP {status} from the OAuth server")
        code = body.get("error")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        message = str(body.get("error_description") or body.get("error_name")
                      or body.get("message") or f"HTTP {status}")
        raise TokenRejected(code, message)


def _seconds(value: object, default: int) -> int:
    """Zalo sends expires_in as a string ("90000")."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default
