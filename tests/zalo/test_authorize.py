"""``cchc-bot zalo authorize``: PKCE S256, the permission URL, the code exchange, the stored pair."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from bot.channels import zalo_api
from bot.cli import main
from bot.storage.db import sync_url
from bot.storage.models import OAuthToken
from tests.zalo.conftest import APP_ID, APP_SECRET, OA_SECRET_KEY
from fakes.zalo import FakeZalo

REDIRECT = "https://bot.ngoclien.gov.vn/zalo/callback"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def approve(url: str) -> str:
    """The OA administrator opens the permission URL and approves: where Zalo sends them."""
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as found:
        opener.open(url, timeout=10)
    assert found.value.code == 302
    return found.value.headers["Location"]


def stored(database_url: str) -> list:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(select(OAuthToken)).mappings().all()
    engine.dispose()
    return rows


@pytest.fixture
def configured(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    fake = FakeZalo(APP_ID, APP_SECRET)
    with fake.running_in_thread():
        config = tmp_path / "config.toml"
        config.write_text(
            f'[database]\nurl = "{database_url}"\n\n'
            f'[zalo]\napp_id = "{APP_ID}"\noauth_base_url = "{fake.url}"\napi_base_url = "{fake.url}"\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("CCHC_ZALO_APP_SECRET", APP_SECRET)
        monkeypatch.setenv("CCHC_ZALO_OA_SECRET_KEY", OA_SECRET_KEY)
        monkeypatch.delenv("CCHC_CONFIG", raising=False)
        yield fake, config


def authorize(config: Path, pasted: str):  # noqa: ANN201
    return CliRunner().invoke(main, ["--config", str(config), "zalo", "authorize",
                                     "--redirect-uri", REDIRECT], input=pasted + "\n")


def test_pkce_challenge_is_base64url_sha256_without_padding() -> None:
    verifier, challenge = zalo_api.make_pkce()
    assert 43 <= len(verifier) <= 128 and re.fullmatch(r"[A-Za-z0-9_-]+", verifier)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected and "=" not in challenge
    # RFC 7636, appendix B
    assert zalo_api.code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_authorize_exchanges_the_code_and_stores_the_pair(configured, database_url, monkeypatch) -> None:
    fake, config = configured
    verifier, challenge = zalo_api.make_pkce()
    monkeypatch.setattr(zalo_api, "make_pkce", lambda: (verifier, challenge))
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n=None: "state-123")
    landing = approve(zalo_api.permission_url(fake.url, APP_ID, REDIRECT, challenge, "state-123"))
    assert landing.startswith(REDIRECT + "?")
    result = authorize(config, landing)  # the whole address Zalo redirected to
    assert result.exit_code == 0, result.output
    [printed] = [line.strip() for line in result.output.splitlines() if "/v4/oa/permission?" in line]
    query = parse_qs(urlsplit(printed).query)
    assert query == {"app_id": [APP_ID], "redirect_uri": [REDIRECT], "code_challenge": [challenge],
                     "state": ["state-123"]}
    assert "Đã lưu token Zalo (phiên bản 1)" in result.output
    [row] = stored(database_url)
    assert row["provider"] == "zalo" and row["version"] == 1
    assert row["refresh_token"] in fake.live_refresh_tokens and row["access_token"] in fake.access_tokens
    assert APP_SECRET not in result.output


def test_a_rejected_code_or_wrong_state_stores_nothing(configured, database_url) -> None:
    fake, config = configured
    result = authorize(config, "code-that-zalo-never-issued")
    assert result.exit_code == 1 and "Zalo từ chối mã code" in result.output
    result = authorize(config, REDIRECT + "?code=abc&state=not-ours")
    assert result.exit_code == 1 and "state không khớp" in result.output
    assert stored(database_url) == []


def test_the_code_verifier_must_match_the_challenge(configured, database_url, monkeypatch) -> None:
    """The exchange sends the verifier of this run: a code approved for another challenge fails."""
    fake, config = configured
    _, other_challenge = zalo_api.make_pkce()
    landing = approve(zalo_api.permission_url(fake.url, APP_ID, REDIRECT, other_challenge, "s"))
    code = parse_qs(urlsplit(landing).query)["code"][0]
    result = authorize(config, code)
    assert result.exit_code == 1 and "-14019" in result.output
    assert stored(database_url) == []
