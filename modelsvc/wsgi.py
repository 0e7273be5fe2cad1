"""The model service's WSGI application. Each gunicorn worker imports it once."""

import os

from django.core.wsgi import get_wsgi_application

from core.env import env_float

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelsvc.settings")
application = get_wsgi_application()

from modelsvc import serving  # noqa: E402 - needs Django set up

serving.start_background_load()
# A cached model loads in about a second: wait for it, so that every worker of a ready pod
# can predict. A long first download must not block liveness, hence the bound.
serving.wait_until_loaded(env_float("MODEL_LOAD_WAIT", 60.0))
