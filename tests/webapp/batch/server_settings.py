"""The web app's settings for the servers of the browser tests: a short poll interval, so the
job page follows a job in a fraction of the 6 s it waits in production."""

from webapp.settings import *  # noqa: F403

BATCH_POLL_SECONDS = 0.2
