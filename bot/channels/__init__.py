"""Channel adapters: each translates between one platform and the channel-neutral core.

An adapter receives platform updates (webhook routes on the one aiohttp server, or its own
polling), calls ``BotApp.handle`` and renders the replies its platform's way. It also sends
messages the bot starts itself (broadcasts, answers to tickets) through ``send``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from aiohttp import web

from bot.messages import Reply

if TYPE_CHECKING:
    from bot.app import BotApp

DeliveryStatus = Literal["sent", "failed", "blocked", "ineligible", "retry"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending to one user: what the outbox records."""

    status: DeliveryStatus
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the platform said to wait


class Channel(Protocol):
    name: str

    def setup_routes(self, app: web.Application) -> None:
        """Add webhook routes to the one aiohttp application (nothing for polling-only)."""

    async def start(self) -> None:
        """Start background work (polling, token refresh); return quickly."""

    async def stop(self) -> None:
        """Finish in-flight work and stop."""

    async def send(self, platform_id: str, replies: list[Reply], purpose: str = "broadcast") -> Delivery:
        """Send replies to a user outside a conversation turn (broadcasts, ticket answers).
        ``purpose`` ("broadcast", "ticket_answer", "dossier_notice"): Messenger allows some
        of them outside its 24-hour window; the other channels need not look."""


def build_channels(bot: BotApp) -> list[Channel]:
    """The channels the configuration enables; the web chat is always on."""
    channels: list[Channel] = []
    secrets = bot.settings.secrets
    if secrets.telegram_token is not None:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(bot))
    zalo = bot.settings.zalo
    if zalo.app_id and secrets.zalo_app_secret is not None and secrets.zalo_oa_secret_key is not None:
        from bot.channels.zalo import ZaloChannel

        channels.append(ZaloChannel(bot))
    if (secrets.messenger_page_token is not None and secrets.messenger_app_secret is not None
            and secrets.messenger_verify_token is not None):
        from bot.channels.messenger import MessengerChannel

        channels.append(MessengerChannel(bot))
    return channels
