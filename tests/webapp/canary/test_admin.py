"""The canary guard in the admin: on the experiment's page, and its events read-only."""

import pytest
from django.urls import reverse

from tests.webapp.experiments.helpers import make_experiment
from webapp.canary.models import CanaryEvent, CanaryGuard, EventKind

pytestmark = pytest.mark.django_db


def test_the_experiment_page_shows_the_guard_above_the_history_and_its_events_below(
    admin_client,
):
    experiment = make_experiment("guarded")
    CanaryGuard.objects.create(experiment=experiment)
    CanaryEvent.objects.create(experiment=experiment, kind=EventKind.ROLLBACK, message="p95")
    url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
    html = admin_client.get(url).content.decode()
    guard, history, events = (
        html.index(f'id="{prefix}-group"')
        for prefix in ("canary_guard", "changes", "canary_events")
    )
    assert guard < history < events
    assert 'name="canary_guard-0-max_p95_latency_ms"' in html  # the thresholds are editable
    assert 'name="canary_events-0-message"' not in html  # the events are not


def test_events_are_not_added_or_edited_by_hand_but_can_be_deleted(admin_client):
    experiment = make_experiment("guarded")
    event = CanaryEvent.objects.create(experiment=experiment, kind=EventKind.ROLLBACK, message="x")
    assert admin_client.get(reverse("admin:canary_canaryevent_add")).status_code == 403
    change = reverse("admin:canary_canaryevent_change", args=[event.pk])
    assert admin_client.post(change, {"message": "edited"}).status_code == 403
    event.refresh_from_db()
    assert event.message == "x"
    delete = reverse("admin:canary_canaryevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not CanaryEvent.objects.exists()
