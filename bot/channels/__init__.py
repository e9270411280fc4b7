"""Channel adapters: each translates between one platform and the channel-neutral core.

An adapter receives platform updates (webhook routes on the one aiohttp server, or its own
polling), calls ``Conversation.handle`` and renders the replies its platform's way. It also sends
messages the bot starts itself (the outbox's sender calls ``send``). The ports it implements
(``Channel``, ``Delivery``, ``Capabilities``) are the core's, in ``bot.ports``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.ports import Channel, Conversation


def build_channels(bot: Conversation) -> list[Channel]:
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
