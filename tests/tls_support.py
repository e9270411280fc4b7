"""A throwaway self-signed certificate for localhost and 127.0.0.1 (openssl, installed by ./test),
for the HTTPS tests: the doctor's public-address check and nginx's TLS in front of the bot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def throwaway_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) in ``folder``, valid for one day."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed: apt-get install -y openssl (./test does it)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key
