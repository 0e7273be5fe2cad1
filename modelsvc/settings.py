"""Settings of the model service (port 5000): stateless, no database, a lean middleware stack."""

from core.settings import *  # noqa: F403

ROOT_URLCONF = "modelsvc.urls"
WSGI_APPLICATION = "modelsvc.wsgi.application"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "modelsvc",
]

# Every middleware runs on every prediction; the API needs none of sessions, auth or CSRF.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the API docs' own assets (Swagger UI from the sidecar package), no CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# No cookies, sessions or forms: a forged cross-site request has nothing to ride on.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# The model service keeps no state of its own.
DATABASES = {}

STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "static"  # noqa: F405
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TEMPLATES_DIR],  # noqa: F405
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,  # noqa: F405
    "TITLE": "Sentiment model service API",
    "DESCRIPTION": "Sentiment of restaurant reviews, plus the Open Inference Protocol.",
}
