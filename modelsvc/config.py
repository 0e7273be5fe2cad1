"""Model service configuration, read once from the environment at start-up."""

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.env import env_float, env_list, env_str
from core.model_variants import CANARY, MODEL_VARIANTS, STABLE

CORPUS_PATH = Path(__file__).resolve().parent / "ml" / "corpus" / "reviews.tsv"
# Which of the models served side by side this process is: v1 (stable, the lexical pipeline)
# or v2 (canary, the embed pipeline). Every answer names it.
MODEL_VARIANT = env_str("MODEL_VARIANT", STABLE).strip().lower()
if MODEL_VARIANT not in MODEL_VARIANTS:
    raise ImproperlyConfigured(f"MODEL_VARIANT must be v1 or v2, got {MODEL_VARIANT!r}")
# The pipeline a variant trains from the shipped corpus when its MODEL_DIR is empty.
DEFAULT_PIPELINES = {STABLE: "lexical", CANARY: "embed"}
# The name this service gives itself in /version and the inference protocol's metadata:
# sentiment-model for v1, sentiment-model-v2 for v2, as the cluster names them.
SERVICE_NAME = "sentiment-model" if MODEL_VARIANT == STABLE else f"sentiment-model-{MODEL_VARIANT}"
# The name clients use in /v2/models/<name>/... (Open Inference Protocol).
MODEL_NAME = env_str("MODEL_NAME", "sentiment")


@dataclass(frozen=True)
class ModelConfig:
    url: str = ""
    token_file: str = ""
    sha256: str = ""
    version: str = ""
    cache_dir: Path = Path("var/model-cache")
    local_dir: Path = Path("var/model")
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    download_timeout: float = 60.0
    pipeline: str = "lexical"  # trained into local_dir from the shipped corpus if it is empty

    @property
    def cache_key(self) -> str:
        """Cache folder name: the release version, else the expected checksum."""
        safe = "".join(c if c.isalnum() or c in "._-+" else "_" for c in self.version)
        # Never "." or "..": the key is a folder name under the cache.
        return safe.lstrip(".") or self.sha256[:16] or "unversioned"


def load_config() -> ModelConfig:
    url = env_str("MODEL_URL").strip()
    host = urlsplit(url).hostname or ""
    return ModelConfig(
        url=url,
        token_file=env_str("MODEL_TOKEN_FILE"),
        sha256=env_str("MODEL_SHA256").strip().lower(),
        version=env_str("MODEL_VERSION").strip(),
        cache_dir=Path(env_str("MODEL_CACHE_DIR", str(settings.VAR_DIR / "model-cache"))),
        local_dir=Path(env_str("MODEL_DIR", str(settings.VAR_DIR / "model"))),
        allowed_hosts=tuple(env_list("MODEL_ALLOWED_HOSTS", [host] if host else [])),
        download_timeout=env_float("MODEL_DOWNLOAD_TIMEOUT", 60.0),
        pipeline=env_str("MODEL_PIPELINE", DEFAULT_PIPELINES[MODEL_VARIANT]),
    )
