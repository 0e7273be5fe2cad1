"""The data migration gives a fresh install its one running experiment."""

import importlib

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webapp.experiments.models import Experiment, ExperimentChange, Kind, Status

MIGRATION = "0002_frontend_v2"


def run_data_migration() -> None:
    """Run the migration's function against the models as they were at that migration."""
    state = MigrationExecutor(connection).loader.project_state(("experiments", MIGRATION))
    module = importlib.import_module(f"webapp.experiments.migrations.{MIGRATION}")
    module.create_frontend_v2(state.apps, connection.schema_editor())


def test_migrated_database_has_frontend_v2(db):
    # pytest-django runs database tests before transactional ones, which empty the tables.
    experiment = Experiment.objects.get(name="frontend-v2")
    assert (experiment.status, experiment.weight) == (Status.RUNNING, 0.1)
    assert Experiment.objects.get(steers_routing=True, kind=Kind.FRONTEND) == experiment


def test_migrated_database_has_a_draft_model_experiment(db):
    experiment = Experiment.objects.get(name="model-v2")
    assert (experiment.kind, experiment.candidate_model) == (Kind.MODEL, "v2")
    assert (experiment.status, experiment.weight) == (Status.DRAFT, 0.1)
    assert experiment.steers_routing
    assert experiment.changes.get().actor == "install"


def test_data_migration_creates_frontend_v2(db):
    Experiment.objects.all().delete()
    run_data_migration()
    experiment = Experiment.objects.get()
    assert experiment.name == "frontend-v2"
    assert experiment.status == Status.RUNNING
    assert experiment.weight == 0.1
    assert experiment.steers_routing
    assert experiment.phase == 1
    assert len(experiment.salt) == 32
    assert experiment.started_at and experiment.phase_started_at
    change = ExperimentChange.objects.get(experiment=experiment)
    assert (change.actor, change.action) == ("install", "created")


def test_data_migration_is_harmless_when_run_again(db):
    Experiment.objects.all().delete()
    run_data_migration()
    run_data_migration()
    assert Experiment.objects.filter(name="frontend-v2").count() == 1


def test_data_migration_does_not_take_over_routing(db):
    Experiment.objects.all().delete()
    Experiment.objects.create(name="restored", steers_routing=True)
    run_data_migration()
    assert not Experiment.objects.get(name="frontend-v2").steers_routing
