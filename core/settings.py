"""Base settings shared by the model service and the web app; everything comes from the environment.

Each service has its own settings module on top of this one (``modelsvc.settings``,
``webapp.settings``); one ``manage.py`` serves both, chosen by ``DJANGO_SETTINGS_MODULE``.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_secret, env_str
from core.version import APP_VERSION  # imported here, it is also settings.APP_VERSION

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# "dev" runs on embedded defaults; "prod" (the cluster) demands real secrets and HTTPS settings.
APP_MODE = env_str("APP_MODE", "dev").strip().lower()
if APP_MODE not in {"dev", "prod", "test"}:
    raise ImproperlyConfigured(f"APP_MODE must be dev, prod or test, got {APP_MODE!r}")
PRODUCTION = APP_MODE == "prod"

_INSECURE_KEY = "django-insecure-sentiment-dev-key-do-not-use-in-production"
_MIN_SECRET_KEY_CHARS = 32
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", _INSECURE_KEY)
if PRODUCTION and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < _MIN_SECRET_KEY_CHARS):
    raise ImproperlyConfigured(
        "APP_MODE=prod needs DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) of 32+ characters"
    )

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["*"] if not PRODUCTION else [])

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several gunicorn workers write at once: WAL lets readers run beside the writer, and
    # IMMEDIATE takes the write lock up front instead of failing on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
if env_str("DATABASE_PASSWORD_FILE") or env_str("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = env_secret("DATABASE_PASSWORD")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Input limits shared by both services' APIs.
MAX_REVIEW_CHARS = env_int("MAX_REVIEW_CHARS", 5000)
MAX_BATCH_REVIEWS = env_int("MAX_BATCH_REVIEWS", 1000)

# Bodies are bounded before any view sees them; an oversize body answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page is served from the package, not a CDN: the cluster may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# prometheus_client switches to multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set
# (gunicorn with several workers); see core/metrics.py.
PROMETHEUS_EXPORT_MIGRATIONS = False

LOG_LEVEL = env_str("LOG_LEVEL", "info").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request lines for 4xx are expected traffic (bad input), not warnings to page anyone.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

# TLS ends at the mesh gateway; the gateway sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^v2/health/"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
