"""Settings of the web app (port 5001). The same code runs as v1 (stable) or v2 (canary)."""

from core.env import env_float, env_int, env_str
from core.settings import *  # noqa: F403
from core.settings import PRODUCTION, VAR_DIR

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
SERVICE_NAME = "sentiment-app"

APP_VARIANT = env_str("APP_VARIANT", "v1").strip().lower()
if APP_VARIANT not in {"v1", "v2"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"APP_VARIANT must be v1 or v2, got {APP_VARIANT!r}")

MODEL_SERVICE_URL = env_str("MODEL_SERVICE_URL", "http://localhost:5000").rstrip("/")
MODEL_SERVICE_CONNECT_TIMEOUT = env_float("MODEL_SERVICE_CONNECT_TIMEOUT", 1.0)
MODEL_SERVICE_READ_TIMEOUT = env_float("MODEL_SERVICE_READ_TIMEOUT", 5.0)
MODEL_SERVICE_RETRIES = env_int("MODEL_SERVICE_RETRIES", 2)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "webapp.reviews",
    "webapp.experiments",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "webapp.experiments.middleware.ExperimentMiddleware",
    "webapp.observability.RequestMetricsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.reviews.context.versions",
            ],
        },
    }
]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Without collectstatic (make run), serve static files straight from the apps.
WHITENOISE_USE_FINDERS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Scripts and styles are served by the app itself; nothing is loaded from elsewhere.
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

SESSION_COOKIE_NAME = "sentiment_session"
CSRF_COOKIE_HTTPONLY = False  # the page's script reads it to call the API
VISITOR_COOKIE_SECURE = PRODUCTION
