"""Celery task of the canary guard, run by beat every CANARY_BEAT_SECONDS."""

from webapp.canary import services
from webapp.celery import app


@app.task(name="canary.check_guards")
def check_guards() -> dict[str, str | None]:
    """Checks the guards whose interval has elapsed. Safe to run twice: each check is
    claimed in the database first. No retries: the next run is at most one period away."""
    return {str(pk): outcome for pk, outcome in services.check_due_guards().items()}
