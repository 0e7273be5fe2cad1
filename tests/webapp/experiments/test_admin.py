"""The experiments admin as staff use it: forms, actions, buttons, history, statistics."""

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.support.pages import assert_no_inline_code
from tests.webapp.experiments.admin_forms import add_form
from tests.webapp.experiments.helpers import make_experiment, visitor_between
from webapp.experiments import services
from webapp.experiments.models import Action, Assignment, Experiment, Source, Status

CHANGELIST = "admin:experiments_experiment_changelist"


def change_url(experiment: Experiment) -> str:
    return reverse("admin:experiments_experiment_change", args=[experiment.pk])


def operation_url(experiment: Experiment, key: str) -> str:
    return reverse("admin:experiments_experiment_operation", args=[experiment.pk, key])


def stats_url(experiment: Experiment) -> str:
    return reverse("admin:experiments_experiment_stats", args=[experiment.pk])


def change_form(experiment: Experiment, **values) -> dict:
    """What the change form posts, with ``values`` changed; the inlines (history, canary
    guard and its events) post their management forms even when nothing in them changes."""
    data = {
        "description": experiment.description,
        "weight": str(experiment.weight),
        "ramp_plan": experiment.ramp_plan,
        "ramp_healthy_checks": str(experiment.ramp_healthy_checks),
        "analysis_decision": experiment.analysis_decision,
        "_save": "Save",
    }
    inlines = {
        "changes": experiment.changes.count(),
        "canary_guard": 0,
        "canary_events": experiment.canary_events.count(),
    }
    for prefix, count in inlines.items():
        data |= {
            f"{prefix}-TOTAL_FORMS": str(count),
            f"{prefix}-INITIAL_FORMS": str(count),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    if experiment.steers_routing:
        data["steers_routing"] = "on"
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def history(experiment: Experiment) -> list[tuple]:
    return list(
        experiment.changes.order_by("id").values_list(
            "actor", "action", "field", "old_value", "new_value", "note"
        )
    )


def test_changelist_lists_experiments_with_their_weight(experiment, admin_client):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    text = response.content.decode()
    assert "exp-test" in text and "frontend-v2" in text
    assert "10%" in text
    assert stats_url(experiment) in text


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("pause_selected", Status.PAUSED),
        ("rollback_selected", Status.ROLLED_BACK),
        ("promote_selected", Status.PROMOTED),
    ],
)
def test_admin_actions_change_status_and_write_history(experiment, admin_client, action, status):
    response = admin_client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [experiment.pk]}
    )
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == status
    assert history(experiment) == [("admin", status, "status", "running", status, "")]


def test_start_and_new_phase_actions(db, admin_client):
    experiment = make_experiment(status=Status.DRAFT)
    admin_client.post(
        reverse(CHANGELIST), {"action": "start_selected", "_selected_action": [experiment.pk]}
    )
    admin_client.post(
        reverse(CHANGELIST), {"action": "new_phase_selected", "_selected_action": [experiment.pk]}
    )
    experiment.refresh_from_db()
    assert (experiment.status, experiment.phase) == (Status.RUNNING, 2)
    assert [row[1] for row in history(experiment)] == [Action.STARTED, Action.NEW_PHASE]


def test_a_refused_action_says_why_and_changes_nothing(db, admin_client):
    experiment = make_experiment(status=Status.DRAFT)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "pause_selected", "_selected_action": [experiment.pk]},
        follow=True,
    )
    assert "Cannot pause an experiment that is draft" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT
    assert history(experiment) == []


def test_change_page_offers_the_allowed_operations_and_shows_history(experiment, admin_client):
    services.set_weight(experiment, 0.2, actor="alice")
    response = admin_client.get(change_url(experiment))
    assert response.status_code == 200
    text = response.content.decode()
    for key in ("pause", "rollback", "promote", "new_phase"):
        assert operation_url(experiment, key) in text
    assert operation_url(experiment, "start") not in text
    assert stats_url(experiment) in text
    # The history inline: who, what, old and new value, as people read them.
    assert "alice" in text and "Weight changed" in text
    assert re.search(r">\s*10%\s*<", text) and re.search(r">\s*20%\s*<", text)
    assert 'name="changes-0-actor"' not in text  # read-only


def test_rollback_button_asks_for_confirmation_then_acts_on_the_next_request(
    experiment, admin_client
):
    visitor = visitor_between(experiment, 0.0, 0.1)
    assert services.assign(visitor).variant == "B"

    confirm = admin_client.get(operation_url(experiment, "rollback"))
    assert confirm.status_code == 200
    assert "Everyone gets A from the next request on" in confirm.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING  # a GET changes nothing

    response = admin_client.post(
        operation_url(experiment, "rollback"), {"reason": "error rate of B doubled"}
    )
    assert response.status_code == 302
    assert response["Location"] == change_url(experiment)
    experiment.refresh_from_db()
    assert experiment.status == Status.ROLLED_BACK
    assert history(experiment)[-1] == (
        "admin",
        Action.ROLLED_BACK,
        "status",
        "running",
        "rolled_back",
        "error rate of B doubled",
    )
    seen = services.assign(visitor)
    assert (seen.variant, seen.source) == ("A", Source.ROLLBACK)


def test_promote_and_new_phase_buttons(experiment, admin_client):
    admin_client.post(operation_url(experiment, "promote"))
    experiment.refresh_from_db()
    assert experiment.status == Status.PROMOTED
    assert services.assign("anyone").variant == "B"
    admin_client.post(operation_url(experiment, "new_phase"))
    experiment.refresh_from_db()
    assert experiment.phase == 2


def test_operation_not_allowed_now_is_refused(db, admin_client):
    experiment = make_experiment(status=Status.DRAFT)
    page = admin_client.get(operation_url(experiment, "promote"))
    assert "not possible while the experiment is draft" in page.content.decode()
    response = admin_client.post(operation_url(experiment, "promote"), follow=True)
    assert "Cannot promote" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT
    assert admin_client.get(operation_url(experiment, "explode")).status_code == 404


def test_weight_change_through_the_form_is_recorded(experiment, admin_client):
    response = admin_client.post(
        change_url(experiment), change_form(experiment, weight="0.25", description="Bigger.")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    experiment.refresh_from_db()
    assert (experiment.weight, experiment.description) == (0.25, "Bigger.")
    assert set(history(experiment)) == {
        ("admin", Action.WEIGHT, "weight", "0.1", "0.25", ""),
        ("admin", Action.EDITED, "description", "", "Bigger.", ""),
    }
    # Saving without changes writes no history.
    admin_client.post(change_url(experiment), change_form(experiment))
    assert len(history(experiment)) == 2


def test_form_rejects_an_invalid_weight(experiment, admin_client):
    response = admin_client.post(change_url(experiment), change_form(experiment, weight="1.5"))
    assert response.status_code == 200
    assert "less than or equal to 1" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.weight == 0.1


def test_form_refuses_a_second_steering_experiment(experiment, admin_client):
    other = make_experiment("other")
    response = admin_client.post(change_url(other), change_form(other, steers_routing="on"))
    assert response.status_code == 200
    assert "Another experiment of this kind already steers routing." in response.content.decode()
    other.refresh_from_db()
    assert not other.steers_routing


def test_adding_an_experiment_records_who_created_it(db, admin_client):
    response = admin_client.post(
        reverse("admin:experiments_experiment_add"),
        add_form(
            description="New checkout.",
            weight="0.3",
            ramp_plan="10, 50, 100",
            ramp_healthy_checks="4",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    experiment = Experiment.objects.get(name="checkout-v3")
    assert (experiment.status, experiment.weight, experiment.salt) == (Status.DRAFT, 0.3, "abc123")
    assert (experiment.ramp_weights, experiment.ramp_healthy_checks) == ([0.1, 0.5, 1.0], 4)
    assert [row[:2] for row in history(experiment)] == [("admin", Action.CREATED)]


def test_only_drafts_can_be_deleted(experiment, admin_client):
    delete = reverse("admin:experiments_experiment_delete", args=[experiment.pk])
    assert admin_client.get(delete).status_code == 403
    draft = make_experiment("draft", status=Status.DRAFT)
    delete = reverse("admin:experiments_experiment_delete", args=[draft.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Experiment.objects.filter(name="draft").exists()


# --- statistics page ------------------------------------------------------------------------


def test_stats_page_renders_for_staff(experiment, admin_client):
    for n in range(40):
        services.assign(f"visitor-{n}", experiment=experiment)
    services.assign("chooser", experiment=experiment, requested_variant="B")
    response = admin_client.get(stats_url(experiment))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Statistics: exp-test" in text
    assert "Split as expected" in text
    assert "1 visitor chose a variant themselves" in text
    assert "No comparison yet" in text
    assert "experiments/stats.css" in text
    assert_no_inline_code(text)


def test_stats_page_flags_a_sample_ratio_mismatch(experiment, admin_client):
    Assignment.objects.bulk_create(
        Assignment(
            experiment=experiment,
            phase=1,
            visitor_id=f"v{n}",
            variant="B",
            source=Source.HASH,
            weight=0.1,
        )
        for n in range(60)
    )
    text = admin_client.get(stats_url(experiment)).content.decode()
    assert "Sample ratio mismatch" in text


def test_stats_page_is_refused_to_anonymous_and_non_staff_users(experiment, client):
    response = client.get(stats_url(experiment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    User.objects.create_user("visitor", password="pw-visitor-123")
    client.login(username="visitor", password="pw-visitor-123")
    response = client.get(stats_url(experiment))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- assignments ----------------------------------------------------------------------------


def test_assignments_are_listed_read_only_and_filterable(experiment, admin_client):
    services.assign("hash-visitor", experiment=experiment)
    services.assign("client-visitor", experiment=experiment, requested_variant="B")
    url = reverse("admin:experiments_assignment_changelist")
    text = admin_client.get(url, {"source__exact": "client"}).content.decode()
    assert "client-visitor" in text and "hash-visitor" not in text
    text = admin_client.get(
        url, {"experiment__id__exact": experiment.pk, "variant__exact": "B"}
    ).content.decode()
    assert "client-visitor" in text
    assert admin_client.get(reverse("admin:experiments_assignment_add")).status_code == 403
    row = Assignment.objects.get(visitor_id="client-visitor")
    change = reverse("admin:experiments_assignment_change", args=[row.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    admin_client.post(change, {"variant": "A"})
    row.refresh_from_db()
    assert row.variant == "B"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_messages_say_what_changed_in_sentence_case(experiment, admin_client):
    response = admin_client.post(
        operation_url(experiment, "rollback"), {"reason": "slow"}, follow=True
    )
    assert messages_of(response) == ["Rolled back exp-test: every visitor now sees A."]
    response = admin_client.post(operation_url(experiment, "rollback"), follow=True)
    assert messages_of(response) == ["Nothing changed: exp-test is already rolled back."]
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "start_selected", "_selected_action": [experiment.pk]},
        follow=True,
    )
    assert messages_of(response) == ["Started exp-test: B gets 10% of new visitors."]


def test_promotion_from_rolled_back_says_the_split_is_not_restarted(experiment, admin_client):
    services.rollback_experiment(experiment, actor="alice")
    page = admin_client.get(operation_url(experiment, "promote")).content.decode()
    assert "Rolled back: every visitor sees A." in page
    assert "B gets 10% of new visitors" not in page  # not in force while rolled back
    assert "straight from rolled back to promoted: the split is not restarted" in page
    response = admin_client.post(
        operation_url(experiment, "promote"),
        {"seen": re.search(r'name="seen" value="([^"]+)"', page)[1]},
        follow=True,
    )
    assert messages_of(response) == ["Promoted exp-test: every visitor now sees B."]
    experiment.refresh_from_db()
    assert (experiment.status, experiment.phase) == (Status.PROMOTED, 1)
    assert history(experiment)[-1][:5] == (
        "admin",
        Action.PROMOTED,
        "status",
        "rolled_back",
        "promoted",
    )


def test_confirmation_shows_the_weight_and_plan_in_force_and_refuses_a_stale_one(
    experiment, admin_client
):
    services.update_experiment(experiment, actor="alice", ramp_plan="10, 25, 100")
    page = admin_client.get(operation_url(experiment, "pause")).content.decode()
    assert "Running: B gets 10% of new visitors" in page
    assert "Ramp plan 10% → 25% → 100%: after 5 consecutive healthy checks" in page
    assert "it moves B to 25%" in admin_client.get(change_url(experiment)).content.decode()
    seen = re.search(r'name="seen" value="([^"]+)"', page)[1]

    # The guard takes a ramp step while the operator reads the page.
    services.advance_ramp(experiment, actor="canary-guard")
    response = admin_client.post(operation_url(experiment, "pause"), {"seen": seen})
    assert response.status_code == 200
    text = response.content.decode()
    assert "The experiment changed since the page was shown, so nothing was done" in text
    assert "Running: B gets 25% of new visitors" in text
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING

    fresh = re.search(r'name="seen" value="([^"]+)"', text)[1]
    admin_client.post(operation_url(experiment, "pause"), {"seen": fresh})
    experiment.refresh_from_db()
    assert experiment.status == Status.PAUSED


def test_one_history_with_labels_not_codes(experiment, admin_client):
    services.rollback_experiment(experiment, actor="alice", reason="slow")
    page = admin_client.get(change_url(experiment)).content.decode()
    assert re.search(r"<h2[^>]*>\s*History\s*</h2>", page)
    assert ">Rolled back<" in page.replace("\n", "").replace("  ", "")
    assert "rolled_back" not in re.sub(r'(class|id|name|href)="[^"]*"', "", page)
    # The admin's own history link leads to the same record.
    history_page = admin_client.get(
        reverse("admin:experiments_experiment_history", args=[experiment.pk])
    )
    assert history_page["Location"] == change_url(experiment) + "#changes-group"


def test_webhook_deliveries_are_listed_read_only(
    experiment, admin_client, webhook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.rollback_experiment(experiment, actor="alice")
    listing = admin_client.get(reverse("admin:experiments_delivery_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert '<td class="field-event">Rolled back</td>' in text
    assert '<td class="field-status">Delivered</td>' in text
    assert f'<td class="field-target">{webhook.url}</td>' in text
    assert "s3cret-token" not in text
    assert admin_client.get(reverse("admin:experiments_delivery_add")).status_code == 403
