import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelsvc.settings")
application = get_wsgi_application()

from modelsvc import serving  # noqa: E402 - needs Django set up

serving.start_background_load()
