"""Settings for the test suite: the web app's, with the model service's app installed too,
so one pytest run covers both (model service tests select ``modelsvc.urls``)."""

import os

os.environ.setdefault("APP_MODE", "test")

from webapp.settings import *  # noqa: F403
from webapp.settings import INSTALLED_APPS, REDIS_URL

INSTALLED_APPS = [*INSTALLED_APPS, "modelsvc"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only

# Servers started by tests share the test database, so SQLite's must be a file, not memory.
DATABASES["default"].setdefault("TEST", {})  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / "test-db.sqlite3")  # noqa: F405
# The test client's pages link plain static names: collectstatic runs once per session for
# the real servers only (tests/support/servers.py), which use the manifest storage.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - WhiteNoise warns when it is missing
# Django's test client sends tasks in this process unless a test brings Redis and a worker.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
