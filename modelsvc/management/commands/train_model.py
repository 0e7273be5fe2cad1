"""manage.py train_model: train the sentiment model from a labelled TSV."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from modelsvc.ml.dataset import DatasetError
from modelsvc.ml.pipelines import DEFAULT_PIPELINE, PIPELINES
from modelsvc.ml.training import train


class Command(BaseCommand):
    help = (
        "Train the sentiment model on a labelled TSV (header Review<TAB>Liked) and write "
        "model.joblib, metrics.json and manifest.json into --out. Prints the metrics as JSON."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> ArgumentParser:
        # Django's own --version (print Django's version) would clash with the model --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--data", required=True, help="labelled TSV file")
        parser.add_argument("--out", required=True, help="output folder (created if missing)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--version", dest="model_version", help="model version (default <major>+<data sha>)"
        )
        parser.add_argument(
            "--pipeline",
            choices=sorted(PIPELINES),
            default=DEFAULT_PIPELINE,
            help=f"which model to train (default {DEFAULT_PIPELINE}; embed adds sentence "
            "embeddings and needs requirements-train.txt)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            metrics = train(
                options["data"],
                options["out"],
                seed=options["seed"],
                version=options["model_version"],
                pipeline_name=options["pipeline"],
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(metrics, indent=2, sort_keys=True))
