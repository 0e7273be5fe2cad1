"""Static files under content-hashed names, so that browsers and the gateway cache them
forever: whitenoise serves a hashed name with ``Cache-Control: max-age=..., immutable``.

The names come from the manifest that ``collectstatic`` writes (``make prepare``, the image
build). A file missing from it (no collectstatic yet, or a file added since) is linked by its
plain name instead of failing the page with a 500; whitenoise's finders still serve it, just
without the long cache lifetime.
"""

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class HashedStaticStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            logger.warning("static file %s is not in the manifest; run collectstatic", name)
            return name
