"""Secret values that anyone can read in this repository, and their refusal in production.

The repository ships placeholder and demo values so that a first install or a local run
starts; the same values in production would let anyone forge sessions or sign in.
``tests/core/test_known_secrets.py`` scans the repository for secret values (Secret
manifests, secret generators, env files) and fails when one of them is not refused here.
"""

import re
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

# The development default of DJANGO_SECRET_KEY (core/settings.py).
DEV_SECRET_KEY = "django-insecure-sentiment-dev-key-do-not-use-in-production"  # noqa: S105

# Every secret value published in the repository (deploy/demo/, earlier placeholders and the
# development default); matched exactly, after stripping, as env_secret() reads them.
PUBLISHED_VALUES: frozenset[str] = frozenset(
    {
        DEV_SECRET_KEY,
        "placeholder-django-secret-key-replace-me-before-real-use",
        "placeholder-database-password",
        "placeholder-admin-password",
        "placeholder-github-token",
        "placeholder-demo-github-token",
        "placeholder-demo-django-secret-key-public-in-the-repository",
        "placeholder-demo-database-password",
        "placeholder-demo-admin-password",
    }
)

# Words that mark a value as a stand-in, so that a new placeholder or demo value is refused
# even before it is listed above. Whole words only (between separators or at an end): a
# random secret may contain the letters "demo", hardly ever "-demo-".
_MARKERS = re.compile(
    r"(?:^|[-_.:\s])(?:placeholder|insecure|demo|dummy|changeme|replace|example|secret|password)"
    r"(?:[-_.:\s]|$)",
    re.IGNORECASE,
)


def is_known_secret(value: str) -> bool:
    """True for a value published in the repository or marked as a stand-in."""
    value = value.strip()
    return value in PUBLISHED_VALUES or bool(_MARKERS.search(value))


def refuse_known_secret(setting: str, value: str) -> None:
    """ImproperlyConfigured naming ``setting`` (never the value) when ``value`` is known."""
    if value and is_known_secret(value):
        raise ImproperlyConfigured(
            f"APP_MODE=prod refuses {setting}: its value is a placeholder published in the "
            f"repository. Give {setting} a new random secret."
        )


def refuse_known_secrets(values: Mapping[str, str]) -> None:
    """refuse_known_secret() for each setting name and its value."""
    for setting, value in values.items():
        refuse_known_secret(setting, value)
