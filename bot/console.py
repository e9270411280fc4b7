"""``cchc-bot chat``: the console channel, on the same handlers as every other channel."""

from __future__ import annotations

import asyncio
import getpass

import click

from bot.app import BotApp
from bot.messages import PHONE_REQUEST, Button, Incoming, Reply
from bot.render import to_plain


def _show(reply: Reply, choices: list[Button]) -> None:
    click.echo(to_plain(reply.text))
    for row in reply.buttons:
        for button in row:
            if button.url:
                click.echo(f"   🔗 {button.label}: {button.url}")
            elif button.request == PHONE_REQUEST:  # no account to share: the number is typed
                click.echo(f"   📱 {button.label}: gõ số điện thoại của Anh/Chị")
            else:
                choices.append(button)
                click.echo(f"   [{len(choices)}] {button.label}")
    click.echo()


async def run_console(app: BotApp) -> None:
    user = getpass.getuser()
    click.echo("Gõ câu hỏi, hoặc số để chọn nút bấm. Gõ 'thoat' hoặc Ctrl+D để thoát.\n")
    choices: list[Button] = []
    message = Incoming("console", user, text="/start")
    try:
        while True:
            response = await app.handle(message)
            choices = []
            for reply in response.replies:
                _show(reply, choices)
            try:
                line = await asyncio.to_thread(input, "Bạn: ")
            except EOFError:
                break
            line = line.strip()
            if line.lower() in {"thoat", "thoát", "exit", "quit"}:
                break
            if line.isdigit() and 1 <= int(line) <= len(choices):
                message = Incoming("console", user, payload=choices[int(line) - 1].payload)
            else:
                message = Incoming("console", user, text=line)
    finally:
        await app.close()
