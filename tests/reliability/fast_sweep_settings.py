"""Web app settings for the Celery processes of the Redis outage test: the same code and
configuration, but the sweeper that re-sends unsent jobs runs every second instead of
every minute, so the test waits seconds rather than minutes."""

from webapp.settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    "batch-requeue-stalled": {
        "task": "batch.requeue_stalled_jobs",
        "schedule": 1.0,
        "options": {"expires": 1.0},
    },
}
