"""Fetching the model artifact: download once, verify its checksum, cache it by version.

A joblib artifact is a pickle, and unpickling runs code, so nothing is loaded unless its
SHA-256 matches what the operator configured (or, for a cached file, what was verified
when it was downloaded). Downloads go to a temporary file and are renamed into place
atomically, so pods starting together never read a half-written file.
"""

import fcntl
import hashlib
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from core.known_secrets import is_known_secret
from modelsvc.artifact import ARTIFACT_NAME, ArtifactError, atomic_path, write_atomic
from modelsvc.config import ModelConfig

logger = logging.getLogger(__name__)

CHECKSUM_SUFFIX = ".sha256"
MAX_REDIRECTS = 5
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def file_lock(directory: Path) -> Iterator[None]:
    """Serialise fetches within a node; correctness does not depend on it (atomic rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _loopback(host: str | None) -> bool:
    return host in {"127.0.0.1", "localhost", "::1"}


def _read_token(config: ModelConfig) -> str:
    if not config.token_file:
        return ""
    try:
        token = Path(config.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ArtifactError("token", f"MODEL_TOKEN_FILE cannot be read: {exc.strerror}") from None
    if settings.PRODUCTION and is_known_secret(token):
        raise ArtifactError("token", "APP_MODE=prod refuses MODEL_TOKEN_FILE: a placeholder")
    return token


def _refusal(response: requests.Response) -> ArtifactError:
    """A clear reason for a release host's refusal (GitHub's answers for release assets)."""
    code = response.status_code
    if code == HTTPStatus.UNAUTHORIZED:
        detail = "the token was refused: check the Secret behind MODEL_TOKEN_FILE"
    elif code == HTTPStatus.FORBIDDEN and response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        when = (
            datetime.fromtimestamp(int(reset), UTC).isoformat(timespec="seconds")
            if reset.isdigit()
            else "later"
        )
        detail = f"API rate limit exhausted, it resets at {when} (a token raises the limit)"
    elif code == HTTPStatus.FORBIDDEN:
        detail = "access forbidden: the token lacks read access to the repository's releases"
    elif code == HTTPStatus.NOT_FOUND:
        detail = (
            "no such release asset: check MODEL_URL (a private repository also answers 404 "
            "when the token is missing or cannot read it)"
        )
    else:
        detail = "the release host failed"
    return ArtifactError("download", f"model download failed: HTTP {code}: {detail}")


def _download(config: ModelConfig, target: Path) -> str:
    """Stream the artifact into ``target``; returns its SHA-256. Follows redirects by hand so
    that every hop stays on an allowed host and the token never leaves the configured one."""
    token = _read_token(config)
    origin = urlsplit(config.url).hostname
    url = config.url
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            host = urlsplit(url).hostname
            if urlsplit(url).scheme not in {"http", "https"}:
                raise ArtifactError("url", "model downloads must use http, https or file URLs")
            if host not in config.allowed_hosts:
                raise ArtifactError("host", f"model download refused: host {host!r} not allowed")
            headers = {"Accept": "application/octet-stream"}
            if token and host == origin and urlsplit(url).scheme != "https" and not _loopback(host):
                raise ArtifactError("url", "the model token is only sent over https")
            if token and host == origin:
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = session.get(
                    url,
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=(5, config.download_timeout),
                )
            except requests.RequestException as exc:
                raise ArtifactError(
                    "download", f"model download failed: {type(exc).__name__}"
                ) from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code != HTTPStatus.OK:
                    raise _refusal(response)
                digest = hashlib.sha256()
                with target.open("wb") as handle:
                    for block in response.iter_content(CHUNK):
                        digest.update(block)
                        handle.write(block)
                return digest.hexdigest()
    raise ArtifactError("download", "model download failed: too many redirects")


def _fetch_file_url(config: ModelConfig, target: Path) -> str:
    source = Path(urlsplit(config.url).path)
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        message = f"model file {source} cannot be read: {exc.strerror}"
        raise ArtifactError("download", message) from None
    return sha256_of(target)


def _recorded_checksum(path: Path) -> str:
    try:
        return path.with_name(path.name + CHECKSUM_SUFFIX).read_text().strip()
    except OSError:
        return ""


def fetch_artifact(config: ModelConfig) -> tuple[Path, str]:
    """Return the cached artifact for ``config.url`` and its verified SHA-256, downloading
    it first when the cache lacks it or holds a file that no longer matches."""
    directory = config.cache_dir / config.cache_key
    cached = directory / ARTIFACT_NAME
    with file_lock(directory):
        if cached.exists():
            expected = config.sha256 or _recorded_checksum(cached)
            actual = sha256_of(cached)
            if expected and actual == expected:
                logger.info("model artifact found in cache at %s", cached)
                return cached, actual
            logger.warning("cached model artifact %s fails its checksum; fetching again", cached)
        # Under the lock no download is running here: these were left by a killed process.
        for stale in directory.glob(".download-*"):
            stale.unlink(missing_ok=True)
        with atomic_path(cached, prefix=".download-") as temp:
            fetch = _fetch_file_url if config.url.startswith("file:") else _download
            actual = fetch(config, temp)
            if config.sha256 and actual != config.sha256:
                raise ArtifactError(
                    "checksum",
                    f"model artifact checksum mismatch: expected {config.sha256}, got {actual}",
                )
        write_atomic(cached.with_name(cached.name + CHECKSUM_SUFFIX), actual.encode())
        logger.info("model artifact downloaded to %s (sha256 %s)", cached, actual)
        return cached, actual
