"""The migrations match the models, and the shared served-request base kept the tables'
index names."""

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_the_models_need_no_new_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "index"),
    [
        ("reviews_prediction", "reviews_pre_experim_432612_idx"),
        ("reviews_failedprediction", "reviews_fai_experim_d4b217_idx"),
    ],
)
def test_served_requests_are_indexed_by_experiment_variant_and_time(table, index):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints[index]["columns"] == ["experiment", "variant", "created_at"]
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert {("app_version",), ("app_variant",)} <= indexed
