"""Settings: the only place that reads the environment. Explicit arguments win."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .boms import encoding_by_bom
from .errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "MIN_KEY_LENGTH", "ApiKey", "Settings", "resolve_settings"]

DEFAULT_BASE_URL = "https://api.rungen.ai"
ENV_API_KEY = "RUNGEN_API_KEY"
ENV_BASE_URL = "RUNGEN_BASE_URL"
ENV_MAX_WORKERS = "RUNGEN_MAX_ACTIVE_WORKERS"
# Shorter keys are test keys: accepted only against a loopback address (the emulator).
MIN_KEY_LENGTH = 8


class ApiKey:
    """Holds the key so that printing, logging or repr never shows it."""

    __slots__ = ("_forms", "_value")

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ConfigError("the API key is empty")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):  # never shown: it is the key
            raise ConfigError(
                "the API key holds a control character (a line break?): check "
                f"{ENV_API_KEY} or the key file"
            )
        self._value = value
        # Built once: every error text of the run is redacted with them.
        self._forms = _escaped_forms(value) if len(value) >= MIN_KEY_LENGTH else []

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """Removes the key, and only the key, from text that may have come from a server:
        in every form a server may echo it (raw, JSON-escaped, ``repr``-escaped), and any
        run of 8 or more of its characters (a server that shows a part of it), in each of
        those forms.

        A short test key such as ``k`` is redacted only where it stands as a word of its
        own, so that "check the base URL" is left as it is.
        """
        key = self._value
        if len(key) < MIN_KEY_LENGTH:
            if key not in text:
                return text
            word = re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w-])")
            return word.sub("***", text)
        for form in self._forms:
            text = text.replace(form, "***")
        # A part of the key comes through escaped as the whole does: each escaped form's
        # runs are looked for too (escaping goes character by character, so an escaped
        # part of the key is a part of the escaped key).
        for form in self._forms:
            text = _without_parts(text, form)
        return text

    def fingerprint(self) -> str:
        """A short hash that tells two keys apart without revealing either."""
        return hashlib.sha256(b"bulk-key\x00" + self._value.encode()).hexdigest()[:12]

    def __eq__(self, other: object) -> bool:
        """Two options holding the same key are equal, as they were when it was a str."""
        if not isinstance(other, ApiKey):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return "ApiKey('***')"

    __str__ = __repr__


def _escapes(text: str) -> set[str]:
    """``text`` as JSON and Python's ``repr`` write it inside a string."""
    slashed = text.replace("\\", "\\\\")
    return {
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text)[1:-1],
        slashed.replace("'", "\\'"),
        slashed.replace('"', '\\"'),
        slashed,
    }


def _escaped_forms(key: str) -> list[str]:
    """The key, escaped once or twice (a JSON body quoting a message that quoted the
    key), longest first so that no form leaves a piece of a longer one."""
    once = _escapes(key)
    twice = {form for escaped in once for form in _escapes(escaped)}
    return sorted({key} | once | twice, key=len, reverse=True)


def _without_parts(text: str, key: str) -> str:
    """Any run of ``MIN_KEY_LENGTH`` or more characters of the key, taken out."""
    start = 0
    while start + MIN_KEY_LENGTH <= len(key):
        window = key[start : start + MIN_KEY_LENGTH]
        at = text.find(window)
        if at < 0:
            start += 1
            continue
        end = at + MIN_KEY_LENGTH  # the match grows as far as the key goes on
        while (
            end < len(text) and start + end - at < len(key) and text[end] == key[start + end - at]
        ):
            end += 1
        text = text[:at] + "***" + text[end:]
    return text


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: ApiKey | None
    max_active_workers: int | None = None  # the cost guard: None, no limit

    @property
    def key(self) -> ApiKey:
        """The key of a run that talks to the server (resolved with ``require_key``)."""
        assert self.api_key is not None, "resolve_settings(require_key=True) gives a key"
        return self.api_key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback_url(url: str) -> bool:
    return _is_loopback(urlsplit(url).hostname or "")


def check_base_url(url: str, *, insecure: bool = False) -> str:
    """Returns the URL without a trailing slash, or says why it cannot be used."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {url!r} is not an http(s) URL (e.g. {DEFAULT_BASE_URL})")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise ConfigError(
            f"base URL {url!r} has no valid port: a port is a whole number from 1 to 65535 "
            f"(e.g. {DEFAULT_BASE_URL} or http://127.0.0.1:8080)"
        ) from None
    if parts.username or parts.password or parts.query or parts.fragment:
        # It would be written to the journal and the summary: a key must not ride there.
        raise ConfigError(
            "the base URL must be a plain address (no user, password or query in it): "
            f"give the key in {ENV_API_KEY} or --api-key-file, e.g. {DEFAULT_BASE_URL}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not insecure:
        raise ConfigError(
            f"base URL {url!r} is plain http: the API key would travel unencrypted; "
            "use https, or pass --insecure (insecure=True) if you really mean it"
        )
    return url.strip().rstrip("/")


def _read_key_file(path: str | os.PathLike[str]) -> ApiKey:
    shown = repr(os.fspath(path))
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        # Never echoed: the "path" may be the key itself, typed in its place.
        raise ConfigError("the file named by --api-key-file does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {shown}: {exc.strerror}") from None
    # PowerShell's ``echo key > key.txt`` writes UTF-16, with a BOM that says so.
    encoding = encoding_by_bom(raw) or "utf-8"
    try:
        text = raw.decode(encoding).strip()  # the decoder drops the BOM
    except UnicodeDecodeError:
        raise ConfigError(
            f"the API key file {shown} is not {encoding.upper()} text: save it as UTF-8"
        ) from None
    if not text:
        raise ConfigError(f"the API key file {shown} is empty")
    lines = len(text.splitlines())
    if lines > 1:
        raise ConfigError(
            f"the API key file {shown} holds {lines} lines: put the key alone in it, on one line"
        )
    try:
        return ApiKey(text)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in the API key file {shown})") from None


def resolve_settings(
    *,
    base_url: str | None = None,
    api_key: str | ApiKey | None = None,
    api_key_file: str | os.PathLike[str] | None = None,
    insecure: bool = False,
    require_key: bool = True,
    max_active_workers: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merges arguments with RUNGEN_API_KEY, RUNGEN_BASE_URL and
    RUNGEN_MAX_ACTIVE_WORKERS; arguments win."""
    env = os.environ if environ is None else environ
    url = check_base_url(base_url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL, insecure=insecure)
    key: ApiKey | None
    if isinstance(api_key, ApiKey):
        key = api_key
    elif api_key is not None:
        key = ApiKey(api_key)
    elif api_key_file is not None:
        key = _read_key_file(api_key_file)
    elif env.get(ENV_API_KEY, "").strip():
        key = ApiKey(env[ENV_API_KEY])
    else:
        key = None
    if key is not None and len(key.reveal()) < MIN_KEY_LENGTH and not _is_loopback_url(url):
        raise ConfigError(
            f"the API key is shorter than {MIN_KEY_LENGTH} characters: such test keys are "
            "accepted only against a loopback address (the emulator); check the key"
        )
    if key is None and require_key:
        raise ConfigError(
            f"no API key: set the environment variable {ENV_API_KEY}, or pass "
            "--api-key-file PATH (api_key= in the library), or try --emulator"
        )
    if max_active_workers is None:
        max_active_workers = _whole(env.get(ENV_MAX_WORKERS), ENV_MAX_WORKERS)
    return Settings(base_url=url, api_key=key, max_active_workers=max_active_workers)


def _whole(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{name} must be a whole number 0 or more; got {text!r}")
    return value
