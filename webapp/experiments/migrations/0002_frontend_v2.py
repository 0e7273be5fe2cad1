"""A fresh install runs one experiment: the v2 front end for 10% of new visitors."""

import secrets

from django.db import migrations
from django.utils import timezone

NAME = "frontend-v2"


def create_frontend_v2(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    ExperimentChange = apps.get_model("experiments", "ExperimentChange")
    if Experiment.objects.filter(name=NAME).exists():
        return
    now = timezone.now()
    experiment = Experiment.objects.create(
        name=NAME,
        description="The v2 web app (canary) against v1 (stable). Routed by the mesh on the "
        "x-user-experiment cookie or header.",
        status="running",
        weight=0.1,
        salt=secrets.token_hex(16),
        phase=1,
        # Another experiment may steer already (a database restored from elsewhere).
        steers_routing=not Experiment.objects.filter(steers_routing=True).exists(),
        started_at=now,
        phase_started_at=now,
    )
    ExperimentChange.objects.create(
        experiment=experiment,
        actor="install",
        action="created",
        note="created by the initial data migration: running, weight of B 0.1",
    )


class Migration(migrations.Migration):
    dependencies = [("experiments", "0001_initial")]

    operations = [migrations.RunPython(create_frontend_v2, migrations.RunPython.noop)]
