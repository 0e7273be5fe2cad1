"""A fresh install also has a model experiment ready to start: model v2 (the embed pipeline)
for 10% of new visitors, as a draft, so nobody's reviews go to v2 until an operator starts it."""

import secrets

from django.db import migrations

NAME = "model-v2"


def create_model_v2(apps, schema_editor):
    Experiment = apps.get_model("experiments", "Experiment")
    ExperimentChange = apps.get_model("experiments", "ExperimentChange")
    if Experiment.objects.filter(name=NAME).exists():
        return
    experiment = Experiment.objects.create(
        name=NAME,
        kind="model",
        candidate_model="v2",
        description="Model v2 (sentence embeddings, slower, better offline) against model v1, "
        "on the reviews of the visitors assigned B. Sent as the x-model-variant header.",
        status="draft",
        weight=0.1,
        salt=secrets.token_hex(16),
        phase=1,
        steers_routing=not Experiment.objects.filter(kind="model", steers_routing=True).exists(),
    )
    ExperimentChange.objects.create(
        experiment=experiment,
        actor="install",
        action="created",
        note="created by a data migration: draft, weight of B 0.1, model of B v2",
    )


def delete_model_v2(apps, schema_editor):
    apps.get_model("experiments", "Experiment").objects.filter(name=NAME, status="draft").delete()


class Migration(migrations.Migration):
    dependencies = [("experiments", "0005_model_experiments")]

    operations = [migrations.RunPython(create_model_v2, delete_model_v2)]
