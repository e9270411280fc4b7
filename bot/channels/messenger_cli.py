"""``cchc-bot messenger setup``: the fan page's Get Started button, greeting and persistent menu
(Messenger Profile API), from the same categories as the other channels' menus."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from bot.cli_support import load as _settings

if TYPE_CHECKING:
    from bot.config import Settings


@click.group()
def messenger() -> None:
    """Facebook Messenger (fan page)."""


@messenger.command("setup")
@click.option("--dry-run", is_flag=True, help="chỉ in nội dung sẽ gửi lên Meta, không gửi")
@click.pass_context
def messenger_setup(ctx: click.Context, dry_run: bool) -> None:
    """Đặt nút Bắt đầu, lời chào và menu cố định của fan page theo các chủ đề trong nội dung."""
    from bot.channels.messenger_render import profile
    from bot.channels.messenger_webhook import GET_STARTED
    from bot.content.loader import load_pack

    settings = _settings(ctx)
    pack, problems = load_pack(settings.content.path, settings.office.template_values())
    if pack is None:
        raise click.ClickException("nội dung có lỗi, chưa đặt được menu:\n" +
                                   "\n".join(str(p) for p in problems))
    categories = [(c.id, c.title) for c in pack.categories if pack.in_category(c.id)]
    body = profile(categories, settings.office.name, settings.messenger.greeting, GET_STARTED)
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    secrets = settings.secrets
    if secrets.messenger_page_token is None or secrets.messenger_app_secret is None:
        raise click.ClickException("cần CCHC_MESSENGER_PAGE_TOKEN và CCHC_MESSENGER_APP_SECRET "
                                   "(biến môi trường)")
    outcome = asyncio.run(_apply(settings, body))
    if outcome:
        raise click.ClickException(f"Meta từ chối: {outcome}")
    items = len(body["persistent_menu"][0]["call_to_actions"])
    click.echo(f"Đã đặt nút Bắt đầu, lời chào và menu cố định ({items} mục) cho fan page.")


async def _apply(settings: Settings, body: dict) -> str | None:
    """None when Meta took the profile, else why not."""
    import aiohttp

    from bot.channels.messenger_api import GraphApi, GraphTransportError

    config, secrets = settings.messenger, settings.secrets
    assert secrets.messenger_page_token is not None and secrets.messenger_app_secret is not None
    async with aiohttp.ClientSession() as session:
        api = GraphApi(config.api_base_url, config.graph_version,
                       secrets.messenger_page_token.get_secret_value(),
                       secrets.messenger_app_secret.get_secret_value(), session)
        try:
            result = await api.set_profile(body)
        except GraphTransportError as exc:
            return f"không kết nối được Graph API: {exc}"
    if result.ok:
        return None
    return f"lỗi {result.code}" + (f"/{result.subcode}" if result.subcode else "") + f": {result.message}"
