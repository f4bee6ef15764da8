"""Settings and secrets: the key from the environment or a file, never shown."""

from __future__ import annotations

import pytest

import bulk
from bulk._shared.config import ApiKey, check_base_url, resolve_settings
from bulk._shared.errors import ConfigError

SECRET = "sk-very-secret-123"


def test_explicit_arguments_win_over_the_environment(tmp_path):
    env = {"RUNGEN_API_KEY": "from-env", "RUNGEN_BASE_URL": "https://env.example"}
    s = resolve_settings(environ=env)
    assert s.api_key.reveal() == "from-env" and s.base_url == "https://env.example"
    key = tmp_path / "key"
    key.write_text("  from-file\n")
    s = resolve_settings(base_url="https://arg.example/", api_key_file=key, environ=env)
    assert s.api_key.reveal() == "from-file" and s.base_url == "https://arg.example"
    assert resolve_settings(api_key="from-arg", environ=env).api_key.reveal() == "from-arg"
    assert resolve_settings(api_key="long-key", environ={}).base_url == "https://api.rungen.ai"


def test_short_keys_only_against_loopback():
    with pytest.raises(ConfigError, match=r"shorter than 8 characters.*loopback"):
        resolve_settings(api_key="k", base_url="https://api.rungen.ai", environ={})
    assert resolve_settings(api_key="k", base_url="http://127.0.0.1:8080", environ={}).api_key


def test_redaction_redacts_the_key_and_nothing_else():
    assert ApiKey("k").redact("could not connect; check the base URL") == (
        "could not connect; check the base URL"
    )
    assert ApiKey("k").redact("key k refused") == "key *** refused"
    assert ApiKey("k").redact("x-api-key: k") == "x-api-key: ***"
    long = ApiKey("sk-live-abcdef")
    assert long.redact("keysk-live-abcdef!") == "key***!"
    assert long.redact("nothing to hide") == "nothing to hide"


def test_key_fingerprint_tells_keys_apart_without_showing_them():
    a, b = ApiKey(SECRET).fingerprint(), ApiKey(SECRET + "x").fingerprint()
    assert a != b and len(a) == 12 and SECRET not in a and a == ApiKey(SECRET).fingerprint()


def test_no_key_is_a_clear_error():
    with pytest.raises(ConfigError, match="RUNGEN_API_KEY"):
        resolve_settings(environ={})


def test_empty_key_file(tmp_path):
    (tmp_path / "k").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        resolve_settings(api_key_file=tmp_path / "k", environ={})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9",
        "https://api.rungen.ai",
        "http://127.8.0.1",
    ],
)
def test_allowed_base_urls(url):
    assert check_base_url(url) == url


@pytest.mark.parametrize("url", ["http://api.rungen.ai", "http://10.0.0.1", "ftp://x", "nope"])
def test_refused_base_urls(url):
    with pytest.raises(ConfigError):
        check_base_url(url)
    if url.startswith("http://"):
        assert check_base_url(url, insecure=True) == url


def test_key_never_shows_in_repr_str_or_settings():
    key = ApiKey(SECRET)
    settings = resolve_settings(api_key=key, environ={})
    for text in (repr(key), str(key), repr(settings), f"{key}", str(settings)):
        assert SECRET not in text
    assert key.redact(f"echo {SECRET}!") == "echo ***!"


def test_client_errors_do_not_carry_the_key(tmp_path):
    """An unreachable server: the errors in the results name no key."""
    path = tmp_path / "m.csv"
    path.write_text("name,gpu_tier,model_url\na,BASIC,https://h/x\n")
    result = bulk.run(
        path,
        base_url="http://127.0.0.1:9",
        api_key=SECRET,
        max_retries=0,
        progress=False,
        output=tmp_path / "r.csv",
    )
    # The listing before any POST cannot connect: nothing is sent, the row is skipped.
    assert result.status.tolist() == ["skipped"] and result.error_kind.tolist() == ["network"]
    assert "cannot connect" in result.error[0]
    for f in tmp_path.iterdir():
        assert SECRET not in f.read_text()
