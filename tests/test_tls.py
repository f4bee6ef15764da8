"""TLS certificates are verified: a server with a certificate nobody vouches for is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest

import bulk
from bulk.emulator import serve

from .helpers import KEY

pytestmark = pytest.mark.anyio


@pytest.fixture
def self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_unverified_certificate_is_refused_and_nothing_is_created(tmp_path, self_signed):
    path = tmp_path / "m.csv"
    path.write_text("name,gpu_tier,model_url\na,BASIC,https://h/x\n")
    async with serve(api_key=KEY, ssl_context=self_signed) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        result = await bulk.arun(path, base_url=emu.url, api_key=KEY, progress=False)
        assert emu.record.created == {}
    # The listing that comes before any POST is refused: nothing is sent, the run stops.
    assert result.status.tolist() == ["skipped"] and result.attempts.tolist() == [0]
    assert result.error_kind.tolist() == ["network"]
    assert "TLS failure" in result.error[0] and emu.record.posts == 0
