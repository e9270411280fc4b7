"""The bot behind Debian's nginx and Caddy with the shipped rules (deploy/nginx/
cchc-bot-locations.conf, deploy/caddy/cchc-bot.caddy), HTTPS with a throwaway certificate, as a
commune or a province would run it (issue 20).

The proxy runs as a child process with its own configuration in a temporary folder, on a loopback
port (not the system service). Citizens and officials come from 127.0.0.2 and 127.0.0.3, the proxy
reaches the bot from 127.0.0.1: so the address the bot's login limiter counts is visibly the
client's, passed on by the proxy (X-Forwarded-For, trusted with server.behind_proxy)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.test_serve import _free_port, _start
from tests.tls_support import throwaway_certificate
from tests.web_support import FIXTURE, PASSWORD, csrf_of

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "nginx"
CADDY_RULES = ROOT / "deploy" / "caddy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CADDY = shutil.which("caddy") or "/usr/bin/caddy"
ZALO = {"CCHC_ZALO_APP_ID": "1234567890123456789", "CCHC_ZALO_APP_SECRET": "app-secret",
        "CCHC_ZALO_OA_SECRET_KEY": "oa-key", "CCHC_ZALO_OAUTH_BASE_URL": "http://127.0.0.1:9",
        "CCHC_ZALO_API_BASE_URL": "http://127.0.0.1:9"}


def _nginx_conf(folder: Path, body: str) -> Path:
    """A whole nginx.conf of its own in ``folder`` (pid, logs, temp paths), around ``body``."""
    temp = "\n".join(f"  {kind}_temp_path {folder}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {folder}/access.log;
{temp}
{body}
}}
""", encoding="utf-8")
    return conf


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(log.read_text() if log.exists() else "the proxy exited")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the proxy did not open its port")


def _start_nginx(folder: Path, bot_port: str, port: int, cert: Path, key: Path) -> subprocess.Popen:
    assert Path(NGINX).exists(), "nginx is needed: apt-get install -y nginx (./test does it)"
    conf = _nginx_conf(folder, f"""
  upstream cchc_bot {{ server 127.0.0.1:{bot_port}; keepalive 8; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name localhost;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    include {DEPLOY / 'cchc-bot-locations.conf'};
  }}""")
    return subprocess.Popen([NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _start_caddy(folder: Path, bot_port: str, port: int, cert: Path, key: Path) -> subprocess.Popen:
    assert Path(CADDY).exists(), "caddy is needed: apt-get install -y caddy (./test does it)"
    conf = folder / "Caddyfile"
    conf.write_text(f"""{{
	admin off
	auto_https off
	storage file_system {folder}/caddy
}}
https://127.0.0.1:{port} {{
	tls {cert} {key}
	import {CADDY_RULES / 'cchc-bot.caddy'}
}}
""", encoding="utf-8")
    env = {**os.environ, "CCHC_BOT_ADDRESS": f"127.0.0.1:{bot_port}", "HOME": str(folder),
           "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    return subprocess.Popen([CADDY, "run", "--config", str(conf), "--adapter", "caddyfile"], env=env,
                            stdout=(folder / "error.log").open("wb"), stderr=subprocess.STDOUT)


PROXIES = {"nginx": (_start_nginx, signal.SIGQUIT), "caddy": (_start_caddy, signal.SIGTERM)}


@pytest.fixture(params=list(PROXIES))
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Path, ssl.SSLContext]]:
    """The bot on 127.0.0.1 and the proxy (HTTPS) in front of it: (public URL, the bot's own URL,
    the bot's log, an SSL context trusting the certificate)."""
    start_proxy, stop_signal = PROXIES[request.param]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update({
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path}/deploy.db", "CCHC_CONTENT_PATH": str(FIXTURE),
        "CCHC_CONTENT_RELOAD": "false", "CCHC_PSEUDONYM_SALT": "proxy-test-salt-0123456789",
        "CCHC_SERVER_PORT": str(_free_port()), "CCHC_SERVER_BEHIND_PROXY": "true",
        "CCHC_BROADCAST_SCHEDULER": "false", "CCHC_DASHBOARD_MAX_FAILURES_PER_ADDRESS": "3",
        "CCHC_DASHBOARD_MAX_FAILURES_PER_USER": "100", **ZALO,
    })
    created = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "create-user", "canbo", "--role", "official"],
                             input=PASSWORD + "\n", text=True, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert created.returncode == 0, created.stderr
    bot, bot_url = _start(env, tmp_path, tmp_path / "bot.log")
    cert, key = throwaway_certificate(tmp_path)
    port = _free_port()
    proxy = start_proxy(tmp_path, env["CCHC_SERVER_PORT"], port, cert, key)
    try:
        _wait_for_port(port, proxy, tmp_path / "error.log")
        trust = ssl.create_default_context(cafile=str(cert))
        yield f"https://127.0.0.1:{port}", bot_url, tmp_path / "bot.log", trust
    finally:
        proxy.send_signal(stop_signal)  # the proxy's graceful stop
        proxy.wait(20)
        bot.send_signal(signal.SIGTERM)
        bot.wait(30)


def _client(address: str, trust: ssl.SSLContext) -> aiohttp.ClientSession:
    """A browser on ``address`` (a loopback address other than the proxy's own 127.0.0.1)."""
    connector = aiohttp.TCPConnector(ssl=trust, local_addr=(address, 0))
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _login(client: aiohttp.ClientSession, url: str, username: str, password: str,
                 **headers: str) -> aiohttp.ClientResponse:
    async with client.get(url + "/admin/login") as page:
        csrf = csrf_of(await page.text())
    async with client.post(url + "/admin/login", allow_redirects=False, headers=headers, data={
            "csrf": csrf, "username": username, "password": password, "next": "/admin"}) as response:
        await response.read()
        return response


async def test_the_bot_behind_the_proxy(deployment) -> None:  # noqa: ANN001
    url, bot_url, bot_log, trust = deployment
    async with _client("127.0.0.2", trust) as citizen:
        # The chat page and the chat itself, over HTTPS through the proxy.
        async with citizen.get(url + "/") as page:
            assert page.status == 200 and 'lang="vi"' in await page.text()
            assert "X-CCHC-Worker" in page.headers  # answered by the bot, not by the proxy
        async with citizen.get(url + "/widget.js") as script:
            assert script.status == 200
        async with citizen.post(url + "/api/chat", json={"text": "thủ tục kết hôn cần gì"}) as chat:
            assert chat.status == 200
            assert "kết hôn" in " ".join(r["html"] for r in (await chat.json())["replies"])

        # Internal pages are refused from outside, and still answer on the bot's own address.
        for path in ("/metrics", "/healthz"):
            async with citizen.get(url + path) as refused:
                assert refused.status == 404, path
                assert "X-CCHC-Worker" not in refused.headers  # the proxy refused it: never reached the bot
        async with aiohttp.ClientSession() as internal, internal.get(bot_url + "/metrics") as metrics:
            assert metrics.status == 200 and "cchc_messages_total" in await metrics.text()

        # Bodies: the proxy refuses what is over its limits before the bot reads it; below them, the
        # bot applies its own (16 KB web chat) and its webhook checks (a missing signature).
        async with citizen.post(url + "/zalo/webhook", data=b"x" * 100_000,
                                headers={"Content-Type": "application/json"}) as big:
            assert big.status == 413 and "X-CCHC-Worker" not in big.headers
        async with citizen.post(url + "/telegram/webhook", data=b"x" * 2_000_000,
                                headers={"Content-Type": "application/json"}) as huge:
            assert huge.status == 413 and "X-CCHC-Worker" not in huge.headers
        async with citizen.post(url + "/zalo/webhook", data=b'{"event_name": "x"}' + b" " * 40_000,
                                headers={"Content-Type": "application/json"}) as unsigned:
            assert unsigned.status in (401, 403) and "X-CCHC-Worker" in unsigned.headers
        async with citizen.post(url + "/api/chat", json={"text": "a" * 20_000}) as long_chat:
            assert long_chat.status == 413 and "X-CCHC-Worker" in long_chat.headers

        # The login limiter counts failures per client address: the proxy's X-Forwarded-For.
        for n in range(3):
            wrong = await _login(citizen, url, f"nguoi-{n}", "sai-mat-khau")
            assert wrong.status == 401
        limited = await _login(citizen, url, "canbo", PASSWORD)
        assert limited.status == 429  # this address tried too often, even with the right password
        spoofed = await _login(citizen, url, "canbo", PASSWORD, **{"X-Forwarded-For": "10.9.8.7"})
        assert spoofed.status == 429  # a client's own X-Forwarded-For is replaced by the proxy

    async with _client("127.0.0.3", trust) as official:
        good = await _login(official, url, "canbo", PASSWORD)  # another address is not limited
        assert good.status == 303 and good.headers["Location"] == "/admin"
        cookie = good.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie  # HTTPS as the proxy saw it (X-Forwarded-Proto)
        async with official.get(url + "/admin") as home:
            assert home.status == 200 and "Tổng quan" in await home.text()

    log = bot_log.read_text(encoding="utf-8")
    assert "login refused for 'nguoi-0' from 127.0.0.2" in log
    assert "10.9.8.7" not in log


def test_the_shipped_site_file_is_valid_nginx(tmp_path: Path) -> None:
    """deploy/nginx/cchc-bot.conf as an administrator installs it (only the certificate paths
    and the snippet's folder differ) passes ``nginx -t``."""
    assert Path(NGINX).exists(), "nginx is needed: apt-get install -y nginx (./test does it)"
    cert, key = throwaway_certificate(tmp_path)
    site = (DEPLOY / "cchc-bot.conf").read_text(encoding="utf-8")
    site = (site.replace("/etc/letsencrypt/live/bot.example.gov.vn/fullchain.pem", str(cert))
                .replace("/etc/letsencrypt/live/bot.example.gov.vn/privkey.pem", str(key))
                .replace("snippets/cchc-bot-locations.conf", str(DEPLOY / "cchc-bot-locations.conf"))
                .replace("/var/log/nginx/", f"{tmp_path}/"))
    conf = _nginx_conf(tmp_path, site)
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_the_shipped_caddyfile_is_valid(tmp_path: Path) -> None:
    """deploy/caddy/Caddyfile as an administrator installs it passes ``caddy validate``."""
    assert Path(CADDY).exists(), "caddy is needed: apt-get install -y caddy (./test does it)"
    shutil.copy(CADDY_RULES / "Caddyfile", tmp_path / "Caddyfile")
    shutil.copy(CADDY_RULES / "cchc-bot.caddy", tmp_path / "cchc-bot.caddy")
    checked = subprocess.run([CADDY, "validate", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path,
                             env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)})
    assert checked.returncode == 0, checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr
