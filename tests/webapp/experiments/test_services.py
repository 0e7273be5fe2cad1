"""Assignment (split, stickiness, phases, races) and every change to an experiment."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from scipy.stats import chisquare

from tests.webapp.experiments.helpers import make_experiment, visitor_between
from webapp.experiments import services
from webapp.experiments.models import (
    Action,
    Assignment,
    Experiment,
    ExperimentChange,
    Source,
    Status,
)
from webapp.experiments.services import ExperimentError, assign, bucket


def split(experiment: Experiment, visitors) -> dict[str, int]:
    counts = {"A": 0, "B": 0}
    for visitor in visitors:
        counts[assign(visitor, experiment=experiment).variant] += 1
    return counts


def fits(counts: dict[str, int], weight: float) -> float:
    """p-value of the chi-squared goodness of fit of counts against the weight of B."""
    total = counts["A"] + counts["B"]
    return chisquare([counts["A"], counts["B"]], [total * (1 - weight), total * weight]).pvalue


def test_bucket_is_deterministic_uniform_and_depends_on_salt_phase_and_visitor():
    position = bucket("salt", 1, "visitor")
    assert 0 <= position < 1
    assert bucket("salt", 1, "visitor") == position
    assert (
        len(
            {
                position,
                bucket("salt2", 1, "visitor"),
                bucket("salt", 2, "visitor"),
                bucket("salt", 1, "visitor2"),
            }
        )
        == 4
    )
    # Deciles of 20,000 positions are even (chi-squared against uniform).
    deciles = [0] * 10
    for n in range(20_000):
        deciles[int(bucket("s", 1, str(n)) * 10)] += 1
    assert chisquare(deciles).pvalue > 0.001


def test_split_over_thousands_of_visitors_matches_the_weight(experiment):
    counts = split(experiment, (f"visitor-{n}" for n in range(3000)))
    assert fits(counts, 0.1) > 0.001
    # The check has teeth: the same visitors do not fit a different weight.
    assert fits(counts, 0.14) < 0.001
    rows = Assignment.objects.filter(experiment=experiment, phase=1, source=Source.HASH)
    assert rows.count() == 3000
    assert rows.filter(variant="B").count() == counts["B"]
    assert set(rows.values_list("weight", flat=True)) == {0.1}


def test_visitor_keeps_its_variant_across_visits_and_weight_changes(experiment):
    visitors = [f"visitor-{n}" for n in range(600)]
    first = {v: assign(v, experiment=experiment).variant for v in visitors}
    assert {assign(v, experiment=experiment).variant for v in visitors[:10]} <= {"A", "B"}

    experiment = services.set_weight(experiment, 0.6, actor="tester")
    again = {v: assign(v, experiment=experiment) for v in visitors}
    assert {v: a.variant for v, a in again.items()} == first
    assert not any(a.created for a in again.values())
    assert Assignment.objects.filter(experiment=experiment).count() == 600

    # Only new visitors follow the new weight.
    newcomers = split(experiment, (f"newcomer-{n}" for n in range(600)))
    assert fits(newcomers, 0.6) > 0.001
    assert fits(newcomers, 0.1) < 0.001


def test_a_visitor_between_old_and_new_weight_stays_a(experiment):
    visitor = visitor_between(experiment, 0.1, 0.6)
    assert assign(visitor, experiment=experiment).variant == "A"
    experiment = services.set_weight(experiment, 0.6, actor="tester")
    assert assign(visitor, experiment=experiment).variant == "A"
    newcomer = visitor_between(experiment, 0.1, 0.6, prefix="new")
    assert assign(newcomer, experiment=experiment).variant == "B"


def test_new_phase_redraws_everyone_and_keeps_the_old_rows(experiment):
    visitors = [f"visitor-{n}" for n in range(600)]
    experiment = services.set_weight(experiment, 0.5, actor="tester")
    before = {v: assign(v, experiment=experiment).variant for v in visitors}
    old_salt = experiment.salt

    experiment = services.start_new_phase(experiment, actor="tester")
    assert experiment.phase == 2
    assert experiment.salt != old_salt
    after = {v: assign(v, experiment=experiment) for v in visitors}
    assert all(a.created and a.phase == 2 for a in after.values())
    moved = sum(before[v] != after[v].variant for v in visitors)
    # Independent draws at 50%: about half the visitors change variant (300 +- 12 sd).
    assert 240 < moved < 360
    assert Assignment.objects.filter(experiment=experiment, phase=1).count() == 600
    assert Assignment.objects.filter(experiment=experiment, phase=2).count() == 600


def test_client_choice_is_recorded_as_client_and_honoured(experiment):
    chosen = assign("client-1", experiment=experiment, requested_variant="B")
    assert (chosen.variant, chosen.source, chosen.created) == ("B", Source.CLIENT, True)
    row = Assignment.objects.get(visitor_id="client-1")
    assert (row.variant, row.source, row.weight) == ("B", Source.CLIENT, None)

    # A visitor assigned by hash who asks for the other variant gets it for that request;
    # the stored assignment does not move.
    visitor = visitor_between(experiment, 0.1, 1.0)
    assert assign(visitor, experiment=experiment).variant == "A"
    asked = assign(visitor, experiment=experiment, requested_variant="B")
    assert (asked.variant, asked.source) == ("B", Source.CLIENT)
    assert Assignment.objects.get(visitor_id=visitor).variant == "A"
    # Invalid requests are ignored.
    assert assign(visitor, experiment=experiment, requested_variant="b").variant == "A"


def test_rollback_and_promote_answer_everybody_without_database_work(
    experiment, django_assert_num_queries
):
    visitor_b = visitor_between(experiment, 0.0, 0.1)
    assert assign(visitor_b, experiment=experiment).variant == "B"

    experiment = services.rollback_experiment(experiment, actor="tester", reason="errors")
    with django_assert_num_queries(0):
        for visitor in (visitor_b, "someone-new"):
            seen = assign(visitor, experiment=experiment, requested_variant="B")
            assert (seen.variant, seen.source) == ("A", Source.ROLLBACK)

    experiment = services.start_experiment(experiment, actor="tester")
    assert assign(visitor_b, experiment=experiment).variant == "B"  # sticky again
    experiment = services.promote_experiment(experiment, actor="tester")
    with django_assert_num_queries(0):
        seen = assign("someone-else", experiment=experiment, requested_variant="A")
    assert (seen.variant, seen.source) == ("B", Source.PROMOTE)
    assert not Assignment.objects.filter(visitor_id__startswith="someone").exists()


@pytest.mark.parametrize("status", [Status.DRAFT, Status.PAUSED])
def test_not_live_experiments_assign_nobody(db, status):
    experiment = make_experiment(status=status)
    assert assign("visitor", experiment=experiment) is None
    assert not Assignment.objects.exists()


def test_assign_defaults_to_the_steering_experiment(experiment):
    make_experiment("other", weight=1.0)  # running, but not steering
    seen = assign("visitor")
    assert seen.experiment == experiment.name
    Experiment.objects.update(steers_routing=False)
    assert assign("visitor") is None


def test_status_changes_follow_the_lifecycle_and_write_history(db):
    experiment = make_experiment(status=Status.DRAFT, started_at=None, phase_started_at=None)
    with pytest.raises(ExperimentError, match="Cannot pause an experiment that is draft"):
        services.pause_experiment(experiment, actor="alice")
    with pytest.raises(ExperimentError, match="Cannot promote"):
        services.promote_experiment(experiment, actor="alice")

    experiment = services.start_experiment(experiment, actor="alice")
    assert experiment.status == Status.RUNNING
    assert experiment.started_at and experiment.phase_started_at and not experiment.ended_at
    started_at = experiment.started_at
    experiment = services.pause_experiment(experiment, actor="bob")
    experiment = services.start_experiment(experiment, actor="bob")
    assert experiment.started_at == started_at
    experiment = services.rollback_experiment(experiment, actor="canary-guard", reason="p95 up")
    assert experiment.status == Status.ROLLED_BACK and experiment.ended_at
    # Repeating a change is harmless and writes nothing (the guard may fire twice).
    again = services.rollback_experiment(experiment, actor="canary-guard", reason="again")
    assert again.status == Status.ROLLED_BACK
    # After a rollback B can be promoted as it is, without a new phase or the split first.
    experiment = services.promote_experiment(experiment, actor="alice")
    assert (experiment.status, experiment.phase) == (Status.PROMOTED, 1)

    history = list(
        ExperimentChange.objects.filter(experiment=experiment)
        .order_by("id")
        .values_list("actor", "action", "field", "old_value", "new_value", "note")
    )
    assert history == [
        ("alice", Action.STARTED, "status", "draft", "running", ""),
        ("bob", Action.PAUSED, "status", "running", "paused", ""),
        ("bob", Action.STARTED, "status", "paused", "running", ""),
        ("canary-guard", Action.ROLLED_BACK, "status", "running", "rolled_back", "p95 up"),
        ("alice", Action.PROMOTED, "status", "rolled_back", "promoted", ""),
    ]
    assert all(change.created_at for change in ExperimentChange.objects.all())


def test_weight_changes_are_validated_and_recorded(experiment):
    with pytest.raises(ExperimentError):
        services.set_weight(experiment, 1.5, actor="alice")
    with pytest.raises(ExperimentError):
        services.set_weight(experiment, -0.1, actor="alice")
    services.set_weight(experiment, 0.25, actor="alice")
    services.set_weight(experiment, 0.25, actor="alice")  # unchanged: no history
    change = ExperimentChange.objects.get(experiment=experiment)
    assert (change.actor, change.action, change.field) == ("alice", Action.WEIGHT, "weight")
    assert (change.old_value, change.new_value) == ("0.1", "0.25")
    experiment.refresh_from_db()
    assert experiment.weight == 0.25


def test_new_phase_history_and_edits(experiment):
    services.start_new_phase(experiment, actor="alice")
    services.update_experiment(
        experiment, actor="bob", description="new words", weight=0.3, steers_routing=True
    )
    rows = set(experiment.changes.values_list("actor", "action", "field", "old_value", "new_value"))
    assert rows == {
        ("alice", Action.NEW_PHASE, "phase", "1", "2"),
        ("bob", Action.WEIGHT, "weight", "0.1", "0.3"),
        ("bob", Action.EDITED, "description", "", "new words"),
    }
    with pytest.raises(ExperimentError, match="cannot be edited"):
        services.update_experiment(experiment, actor="bob", salt="mine")


def test_create_experiment_starts_as_a_draft_with_history(db):
    experiment = services.create_experiment(
        Experiment(name="fresh", weight=0.2, status=Status.RUNNING), actor="alice"
    )
    assert experiment.status == Status.DRAFT
    assert len(experiment.salt) == 32
    change = ExperimentChange.objects.get(experiment=experiment)
    assert (change.actor, change.action) == ("alice", Action.CREATED)


def test_database_allows_only_one_steering_experiment(experiment):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_experiment("second", steers_routing=True)
    # Any number of experiments may not steer.
    make_experiment("third")
    make_experiment("fourth")
    with pytest.raises(ValidationError, match="Another experiment of this kind already steers"):
        Experiment(name="fifth", steers_routing=True).full_clean()


def test_database_rejects_a_weight_outside_0_1(experiment):
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=experiment.pk).update(weight=1.01)


def test_database_keeps_one_assignment_per_visitor_and_phase(experiment):
    assign("visitor", experiment=experiment)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            experiment=experiment, phase=1, visitor_id="visitor", variant="B", source="hash"
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_of_one_visitor_store_one_assignment():
    experiment = make_experiment(weight=0.5)
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results, errors = [], []

    def first_request(requested):
        try:
            barrier.wait(timeout=10)
            seen = assign("racer", experiment=experiment, requested_variant=requested)
            results.append((requested, seen))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # Some ask for a variant themselves, so a lost race would show as a wrong answer.
    requests = [None, "B", None, "A"] * (threads_n // 4)
    threads = [threading.Thread(target=first_request, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(results) == threads_n
    row = Assignment.objects.get(visitor_id="racer")
    assert sum(seen.created for _, seen in results) == 1
    for requested, seen in results:
        assert seen.variant == (requested or row.variant)


def test_a_ramp_step_keeps_assigned_visitors_and_records_each_new_visitors_weight(db):
    experiment = make_experiment(status=Status.DRAFT, ramp_plan="10, 40, 100")
    experiment = services.start_experiment(experiment, actor="alice")
    assert experiment.weight == 0.1  # the plan's first step, as it was: no step recorded
    early_b = visitor_between(experiment, 0.0, 0.1, prefix="early-b")
    early_a = visitor_between(experiment, 0.2, 0.4, prefix="early-a")
    assert services.assign(early_b, experiment=experiment).variant == "B"
    assert services.assign(early_a, experiment=experiment).variant == "A"

    experiment = services.advance_ramp(experiment, actor="canary-guard", note="healthy")
    assert experiment.weight == 0.4
    # Assigned visitors keep their arm; a new visitor in the same hash range now gets B.
    assert services.assign(early_a, experiment=experiment).variant == "A"
    assert services.assign(early_b, experiment=experiment).variant == "B"
    late = visitor_between(experiment, 0.2, 0.4, prefix="late")
    assert services.assign(late, experiment=experiment).variant == "B"
    recorded = dict(Assignment.objects.values_list("visitor_id", "weight"))
    assert recorded == {early_b: 0.1, early_a: 0.1, late: 0.4}
    # The split check's expected number of B is the sum of the weights in force.
    assert sum(recorded.values()) == pytest.approx(0.6)

    experiment = services.advance_ramp(experiment, actor="canary-guard")
    assert experiment.status == Status.PROMOTED
    # A finished (or stopped) ramp does nothing more.
    assert services.advance_ramp(experiment, actor="canary-guard").status == Status.PROMOTED
    assert list(experiment.changes.order_by("id").values_list("action", flat=True)) == [
        Action.STARTED,
        Action.RAMP_STEP,
        Action.PROMOTED,
    ]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("10, ten, 100", "as percentages"),
        ("0, 50", "above 0%"),
        ("10, 120", "at most 100%"),
        ("50, 25, 100", "more than the one before"),
    ],
)
def test_a_ramp_plan_must_be_rising_percentages(db, plan, message):
    experiment = make_experiment(ramp_plan=plan)
    with pytest.raises(ValidationError, match=message):
        experiment.full_clean()


def test_a_ramp_plan_reads_as_steps():
    experiment = Experiment(ramp_plan="10 → 25 → 50 → 100", weight=0.25, ramp_healthy_checks=3)
    assert experiment.ramp_weights == [0.1, 0.25, 0.5, 1.0]
    assert experiment.next_ramp_weight == 0.5
    assert experiment.describe_ramp() == (
        "Ramp plan 10% → 25% → 50% → 100%: after 3 consecutive healthy checks of the canary "
        "guard it moves B to 50%; a breach rolls back to A."
    )
    assert Experiment(weight=0.1).describe_ramp().startswith("No ramp plan")


def test_the_deciding_interval_is_an_edit_with_history(experiment):
    assert experiment.analysis_decision == "sequential"
    services.update_experiment(experiment, actor="bob", analysis_decision="fixed")
    experiment.refresh_from_db()
    assert experiment.analysis_decision == "fixed"
    change = experiment.changes.get(field="analysis_decision")
    assert (change.actor, change.old_value, change.new_value) == ("bob", "sequential", "fixed")
