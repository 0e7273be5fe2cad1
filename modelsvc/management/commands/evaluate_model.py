"""manage.py evaluate_model: score a trained model on a labelled TSV."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from modelsvc.ml.training import evaluate


class Command(BaseCommand):
    help = "Score the model in --model (a train_model output folder) on a labelled TSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--model", required=True, help="folder holding model.joblib")
        parser.add_argument("--data", required=True, help="labelled TSV file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            metrics = evaluate(options["model"], options["data"])
        except (OSError, ValueError) as exc:  # DatasetError is a ValueError
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(metrics, indent=2, sort_keys=True))
