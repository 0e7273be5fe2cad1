"""The web app's settings are composed in one place each, in an order that matters."""

import ast
from pathlib import Path

import webapp.settings as webapp_settings
from core import settings as core_settings

SOURCE = Path(webapp_settings.__file__)

# Each position is load-bearing: (entry, what breaks if it moves).
MIDDLEWARE = [
    ("django_prometheus.middleware.PrometheusBeforeMiddleware", "first: times the whole chain"),
    ("django.middleware.security.SecurityMiddleware", "HTTPS redirect before anything answers"),
    (
        "webapp.site.errors.DatabaseUnavailableMiddleware",
        "right after SecurityMiddleware: wraps all that may query, a lost database is a 503",
    ),
    ("whitenoise.middleware.WhiteNoiseMiddleware", "static files before sessions and CSRF"),
    ("django.contrib.sessions.middleware.SessionMiddleware", "before auth, which reads it"),
    ("django.middleware.common.CommonMiddleware", "Django's documented place"),
    ("django.middleware.csrf.CsrfViewMiddleware", "before any view that takes a form"),
    ("django.contrib.auth.middleware.AuthenticationMiddleware", "after sessions"),
    ("django.contrib.messages.middleware.MessageMiddleware", "after sessions and auth"),
    ("django.middleware.clickjacking.XFrameOptionsMiddleware", "headers on every response"),
    ("csp.middleware.CSPMiddleware", "headers on every response"),
    (
        "webapp.observability.RequestMetricsMiddleware",
        "outside the experiment: counts its redirects, reads the variant it set",
    ),
    ("webapp.experiments.middleware.ExperimentMiddleware", "after auth and sessions"),
    ("django_prometheus.middleware.PrometheusAfterMiddleware", "pairs with the first entry"),
    ("axes.middleware.AxesMiddleware", "last, as django-axes requires"),
]

INSTALLED_APPS = [
    ("django.contrib.admin", "first: its templates override the apps' below"),
    ("django.contrib.auth", "Django"),
    ("django.contrib.contenttypes", "Django"),
    ("django.contrib.sessions", "Django"),
    ("django.contrib.messages", "Django"),
    ("django.contrib.staticfiles", "Django"),
    ("rest_framework", "the APIs"),
    ("rest_framework.authtoken", "staff tokens for the experiment statistics API"),
    ("drf_spectacular", "the OpenAPI schema"),
    ("drf_spectacular_sidecar", "the docs page's assets, served locally"),
    ("django_prometheus", "/metrics"),
    ("webapp.site", "before the features: none of them can shadow the shell's templates"),
    ("webapp.reviews", "feature"),
    ("webapp.experiments", "feature"),
    ("webapp.batch", "feature"),
    ("webapp.canary", "feature"),
    ("axes", "sign-in throttling"),
]


def test_middleware_order_is_pinned():
    assert [entry for entry, _why in MIDDLEWARE] == webapp_settings.MIDDLEWARE


def test_installed_apps_are_pinned():
    assert [entry for entry, _why in INSTALLED_APPS] == webapp_settings.INSTALLED_APPS


def test_login_goes_through_the_throttle_first():
    assert webapp_settings.AUTHENTICATION_BACKENDS == [
        "webapp.security.LoginThrottleBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]


def test_rest_framework_is_the_shared_one_with_the_site_exception_handler():
    assert webapp_settings.REST_FRAMEWORK == {
        **core_settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "webapp.site.errors.api_exception_handler",
    }
    # The override keeps the key's place: the dict reads the same as core's.
    assert list(webapp_settings.REST_FRAMEWORK) == list(core_settings.REST_FRAMEWORK)


def test_the_site_owns_error_views_and_template_context():
    from webapp import urls

    assert webapp_settings.CSRF_FAILURE_VIEW == "webapp.site.errors.csrf_failure"
    assert webapp_settings.AXES_LOCKOUT_CALLABLE == "webapp.site.errors.lockout_response"
    handlers = [urls.handler400, urls.handler403, urls.handler404, urls.handler500]
    assert handlers == [f"webapp.site.errors.handler{code}" for code in (400, 403, 404, 500)]
    processors = webapp_settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    assert "webapp.site.context.versions" in processors
    assert webapp_settings.TEMPLATES[0]["APP_DIRS"] is True


def test_settings_are_composed_not_patched():
    """Each setting is written once, in full: no list patched after the fact and no import
    below the first setting, so reading the file top to bottom gives the final values."""
    tree = ast.parse(SOURCE.read_text())
    mutations = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"append", "extend", "insert", "remove", "pop", "update"}
    ]
    assert mutations == []
    body = [node for node in tree.body if not isinstance(node, ast.Expr)]  # docstring
    first_setting = next(i for i, node in enumerate(body) if not _is_import(node))
    late_imports = [f"line {node.lineno}" for node in ast.walk(tree) if _is_import(node)]
    top_imports = [f"line {node.lineno}" for node in body[:first_setting]]
    assert late_imports == top_imports
    assigned = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    repeated = sorted({name for name in assigned if assigned.count(name) > 1})
    assert repeated == []


def _is_import(node: ast.AST) -> bool:
    return isinstance(node, ast.Import | ast.ImportFrom)
