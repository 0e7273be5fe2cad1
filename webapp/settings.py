"""Settings of the web app (port 5001). The same code runs as v1 (stable) or v2 (canary)."""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_float, env_int, env_optional_int, env_secret, env_str
from core.settings import *  # noqa: F403
from core.settings import REST_FRAMEWORK, TEMPLATES_DIR, TLS_ENABLED, VAR_DIR

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

APP_VARIANT = env_str("APP_VARIANT", "v1").strip().lower()
if APP_VARIANT not in {"v1", "v2"}:
    raise ImproperlyConfigured(f"APP_VARIANT must be v1 or v2, got {APP_VARIANT!r}")

MODEL_SERVICE_URL = env_str("MODEL_SERVICE_URL", "http://localhost:5000").rstrip("/")
# Model v2 (the canary). In the cluster both models sit behind one Service and the mesh
# routes on the x-model-variant header, so its URL defaults to v1's; `make run` gives it
# model v2's own port.
MODEL_SERVICE_V2_URL = env_str("MODEL_SERVICE_V2_URL", MODEL_SERVICE_URL).rstrip("/")
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
    "rest_framework.authtoken",  # staff tokens for the experiment stats API
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    # The site shell (base template, stylesheet, error pages) before the feature apps, so
    # that none of them can shadow its templates.
    "webapp.site",
    "webapp.reviews",
    "webapp.experiments",
    "webapp.batch",
    "webapp.canary",
    "axes",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A lost database answers 503 (JSON for programs, a page for people), not 500. Right
    # after SecurityMiddleware, so that it wraps everything that may query.
    "webapp.site.errors.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Counts every response, the experiment's redirects included; reads the variant afterwards.
    "webapp.observability.RequestMetricsMiddleware",
    "webapp.experiments.middleware.ExperimentMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Admin sign-in throttling (see below); last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TEMPLATES_DIR],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.site.context.versions",
            ],
        },
    }
]

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names, cached as immutable (core/static_storage.py); needs collectstatic.
    "staticfiles": {"BACKEND": "core.static_storage.HashedStaticStorage"},
}
# A file not collected yet is still served, from the apps, under its plain name.
WHITENOISE_USE_FINDERS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # The shared handler, except that a lost database is a 503, not a 500.
    "EXCEPTION_HANDLER": "webapp.site.errors.api_exception_handler",
}

SESSION_COOKIE_NAME = "sentiment_session"
CSRF_FAILURE_VIEW = "webapp.site.errors.csrf_failure"
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,  # noqa: F405
    "TITLE": "Sentiment web app API",
    "DESCRIPTION": "Review analysis, feedback, batch jobs and versions of the Sentiment web app.",
}
CSRF_COOKIE_HTTPONLY = False  # the page's script reads it to call the API
# Secure like the session cookie (TLS_ENABLED in core/settings.py).
VISITOR_COOKIE_SECURE = TLS_ENABLED


# --- Background work (Celery) --------------------------------------------------------------
# The broker carries task messages only: job state lives in the database, so there is no
# result backend. Redis (REDIS_URL) in the cluster; without it an embedded broker, kombu's
# SQLAlchemy transport on a SQLite file under var/, so `make run` runs a real worker and beat
# with no server to install. Tasks run in the process that sends them only when
# CELERY_TASK_ALWAYS_EAGER says so (tests that use Django's test client).
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED_BROKER_PATH = VAR_DIR / "celery-broker.sqlite3"
CELERY_BROKER_URL = REDIS_URL or f"sqla+sqlite:///{EMBEDDED_BROKER_PATH}"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
# A message is acknowledged after its task ran; a worker that dies mid-task leaves it to be
# delivered again, once BROKER_VISIBILITY_TIMEOUT has passed (tasks are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 150)
# Must exceed the hard time limit (and any retry countdown), or a running task's message
# would be handed to a second worker.
BROKER_VISIBILITY_TIMEOUT = env_int("BROKER_VISIBILITY_TIMEOUT", 600)
# How often a worker looks for such messages (one cheap Redis scan each time).
BROKER_RESTORE_INTERVAL = env_int("BROKER_RESTORE_INTERVAL", 30)
# The embedded broker takes none of Redis's options (it hands its options to SQLAlchemy's
# create_engine); it is polled once a second.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": BROKER_RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "health_check_interval": 25,
    }
    if REDIS_URL
    else {}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # keep reconnecting to Redis, never give up
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # LOGGING above applies to workers too
CANARY_BEAT_SECONDS = env_float("CANARY_BEAT_SECONDS", 30.0)
BATCH_STALL_SECONDS = env_int(
    "BATCH_STALL_SECONDS", BROKER_VISIBILITY_TIMEOUT + CELERY_TASK_TIME_LIMIT
)
# Experiment notifications: a JSON event per start, ramp step, rollback, promotion and
# guard breach, POSTed to this URL (or EXPERIMENT_WEBHOOK_URL_FILE; empty sends none). It
# may carry a token, so only its scheme and host are ever logged or stored.
EXPERIMENT_WEBHOOK_URL = env_secret("EXPERIMENT_WEBHOOK_URL").strip()
EXPERIMENT_WEBHOOK_FORMAT = env_str("EXPERIMENT_WEBHOOK_FORMAT", "json").strip().lower()
if EXPERIMENT_WEBHOOK_FORMAT not in ("json", "slack"):
    raise ImproperlyConfigured("EXPERIMENT_WEBHOOK_FORMAT must be json or slack")
EXPERIMENT_WEBHOOK_TIMEOUT = env_float("EXPERIMENT_WEBHOOK_TIMEOUT", 5.0)
EXPERIMENT_WEBHOOK_ATTEMPTS = env_int("EXPERIMENT_WEBHOOK_ATTEMPTS", 8)
# Retries wait about 2, 4, 8 ... seconds times this factor, at most the maximum.
EXPERIMENT_WEBHOOK_BACKOFF_FACTOR = env_float("EXPERIMENT_WEBHOOK_BACKOFF_FACTOR", 2.0)
EXPERIMENT_WEBHOOK_BACKOFF_MAX = env_int("EXPERIMENT_WEBHOOK_BACKOFF_MAX", 300)
CELERY_BEAT_SCHEDULE = {
    # Each run checks the guards whose own interval has elapsed; a run that waited longer
    # than one period in the queue is dropped, the next one does the same work.
    "canary-guards": {
        "task": "canary.check_guards",
        "schedule": CANARY_BEAT_SECONDS,
        "options": {"expires": CANARY_BEAT_SECONDS},
    },
    "batch-requeue-stalled": {
        "task": "batch.requeue_stalled_jobs",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "batch-delete-expired": {
        "task": "batch.delete_expired_jobs",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
# Worker metrics (the web app's are on /metrics): 0 = not exposed.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
WORKER_METRICS_ADDR = env_str("WORKER_METRICS_ADDR", "0.0.0.0")  # noqa: S104

# Batch analysis (webapp.batch).
BATCH_MAX_BYTES = env_int("BATCH_MAX_BYTES", 100 * 1024 * 1024)  # of text, once unpacked
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 1_000_000)
# Rows per chunk, the unit a worker claims: one model-service batch (MAX_BATCH_REVIEWS).
BATCH_CHUNK_SIZE = env_int("BATCH_CHUNK_SIZE", 1000)
# Model-service requests each worker process keeps in flight (threads; one on SQLite).
BATCH_WORKER_THREADS = env_int("BATCH_WORKER_THREADS", 2)
# Messages sent per job, so that up to this many workers share one job.
BATCH_FANOUT = env_int("BATCH_FANOUT", 8)
BATCH_MAX_ACTIVE_PER_CLIENT = env_int("BATCH_MAX_ACTIVE_PER_CLIENT", 3)
# Expired rows are deleted this many at a time, each batch its own short transaction.
BATCH_DELETE_BATCH_ROWS = env_int("BATCH_DELETE_BATCH_ROWS", 10_000)
BATCH_TASK_BUDGET_SECONDS = env_int("BATCH_TASK_BUDGET_SECONDS", 30)
BATCH_MAX_RETRIES = env_int("BATCH_MAX_RETRIES", 20)
BATCH_RETRY_BACKOFF_MAX = env_int("BATCH_RETRY_BACKOFF_MAX", 60)
BATCH_READ_TIMEOUT = env_float("BATCH_READ_TIMEOUT", 30.0)
# How often, at the fastest, the job page asks for progress (backing off while a job does not
# move); the progress endpoint is cheap and outside the gateway's per-client rate limit.
BATCH_POLL_SECONDS = env_float("BATCH_POLL_SECONDS", 1.0)
# Uploaded reviews and their results are deleted this many days after the job finished.
BATCH_RETENTION_DAYS = env_int("BATCH_RETENTION_DAYS", 30)
# An upload past this size goes to a temporary file, never into memory; reading it back is
# a stream too (webapp.batch.parsing). MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE) bounds
# the form fields of a multipart body, not its files: the batch upload's own bound is
# BATCH_MAX_BYTES, checked against Content-Length before the body is read.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)


# --- Security hardening ------------------------------------------------------------------
# Admin sign-in throttling (django-axes, app and middleware above): failures are counted per
# username and client address in the database, shared by every worker and pod; see
# webapp/security.py.
AUTHENTICATION_BACKENDS = [
    "webapp.security.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # lockouts are still logged as warnings
AXES_CLIENT_IP_CALLABLE = "webapp.security.client_ip"
AXES_LOCKOUT_CALLABLE = "webapp.site.errors.lockout_response"
# The mesh gateway's numTrustedProxies (0 when it sees clients directly); unset without a
# gateway, trusting no header. Exact meaning: webapp.security.client_ip.
TRUSTED_PROXY_COUNT = env_optional_int("TRUSTED_PROXY_COUNT")

# Cookies and headers beyond the shared ones in core/settings.py.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 60 * 60)  # an admin working day
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
