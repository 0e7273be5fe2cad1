"""Base settings shared by the model service and the web app; everything comes from the environment.

Each service has its own settings module on top of this one (``modelsvc.settings``,
``webapp.settings``); one ``manage.py`` serves both, chosen by ``DJANGO_SETTINGS_MODULE``.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_secret, env_str
from core.known_secrets import DEV_SECRET_KEY, refuse_known_secrets
from core.version import APP_VERSION  # imported here, it is also settings.APP_VERSION

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# "dev" runs on embedded defaults; "prod" (the cluster) demands real secrets and HTTPS settings.
APP_MODE = env_str("APP_MODE", "dev").strip().lower()
if APP_MODE not in {"dev", "prod", "test"}:
    raise ImproperlyConfigured(f"APP_MODE must be dev, prod or test, got {APP_MODE!r}")
PRODUCTION = APP_MODE == "prod"

_MIN_SECRET_KEY_CHARS = 32
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < _MIN_SECRET_KEY_CHARS):
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
_DB_AUTH_SETTING = "DATABASE_URL"
if env_str("DATABASE_PASSWORD_FILE") or env_str("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = env_secret("DATABASE_PASSWORD")
    _DB_AUTH_SETTING = "DATABASE_PASSWORD"
if PRODUCTION:
    # Before anything serves or writes: a pod with a published secret never becomes ready.
    refuse_known_secrets(
        {
            "DJANGO_SECRET_KEY": SECRET_KEY,
            _DB_AUTH_SETTING: DATABASES["default"].get("PASSWORD") or "",
            # Read by `createsuperuser --noinput` (the migration Job's admin user).
            "DJANGO_SUPERUSER_PASSWORD": env_secret("DJANGO_SUPERUSER_PASSWORD"),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Input limits shared by both services' APIs, the one place that sets them. The body limit
# follows from the other two, so that the largest batch the API documents always fits: every
# review at MAX_REVIEW_CHARS, each character in its widest JSON spelling short of a surrogate
# pair ("\u00e9", 6 bytes: what Python's json writes for any non-ASCII character of the Basic
# Multilingual Plane; raw UTF-8 takes at most 4), plus room for the JSON around the reviews.
MAX_REVIEW_CHARS = env_int("MAX_REVIEW_CHARS", 5000)
MAX_BATCH_REVIEWS = env_int("MAX_BATCH_REVIEWS", 1000)
JSON_BYTES_PER_CHAR = 6
MIN_BODY_BYTES = MAX_BATCH_REVIEWS * (MAX_REVIEW_CHARS * JSON_BYTES_PER_CHAR + 64) + 65_536
# Bodies are bounded before any view sees them; an oversize body answers 413 naming the limit.
MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", MIN_BODY_BYTES)
if MAX_BODY_BYTES < MIN_BODY_BYTES:
    raise ImproperlyConfigured(
        f"MAX_BODY_BYTES={MAX_BODY_BYTES} cannot hold a batch of MAX_BATCH_REVIEWS="
        f"{MAX_BATCH_REVIEWS} reviews of MAX_REVIEW_CHARS={MAX_REVIEW_CHARS} characters: "
        f"it needs at least {MIN_BODY_BYTES} bytes"
    )
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

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
    # Without deep links an operation's summary holds no link inside its button, which
    # assistive technology cannot reach (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    # Apps and models are both named v1 and v2: one schema enum for every such field.
    "ENUM_NAME_OVERRIDES": {"VersionVariantEnum": "core.model_variants.MODEL_VARIANTS"},
}

# Pages run under a strict policy: scripts and styles are served by the app itself, nothing is
# loaded from elsewhere, nothing inline runs. The web app sends it on every response (django-csp);
# the model service on its one page, the API docs (core.schema.DocsView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

# Templates and static files both services share (the API docs page).
TEMPLATES_DIR = BASE_DIR / "core" / "templates"
STATICFILES_DIRS = [BASE_DIR / "core" / "static"]

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

# TLS ends at the mesh gateway, which sets X-Forwarded-Proto. TLS_ENABLED is the one switch
# for what depends on it: plain HTTP redirects to HTTPS (probes and metrics excepted),
# cookies are Secure (session, CSRF, visitor) and HSTS is sent. Off in dev; on by default
# in prod, where a gateway without TLS must say TLS_ENABLED=false (browsers drop Secure
# cookies over plain HTTP, and the mesh routes on one).
TLS_ENABLED = env_bool("TLS_ENABLED", PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = TLS_ENABLED
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$", r"^v2/health/"]
SECURE_HSTS_SECONDS = 31_536_000 if TLS_ENABLED else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = TLS_ENABLED
SECURE_HSTS_PRELOAD = TLS_ENABLED
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = TLS_ENABLED
CSRF_COOKIE_SECURE = TLS_ENABLED
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
