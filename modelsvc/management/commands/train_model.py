"""manage.py train_model: train the sentiment model from one or more labelled TSVs."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelsvc.ml.dataset import DatasetError
from modelsvc.ml.pipelines import DEFAULT_PIPELINE, PIPELINES
from modelsvc.ml.training import train


class Command(BaseCommand):
    help = (
        "Train the sentiment model on a labelled TSV (header Review<TAB>Liked) and write "
        "model.joblib, metrics.json and manifest.json into --out. Prints a short summary of the "
        "metrics (--json: all of them, as JSON)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Django's own --version (print Django's version) would clash with the model --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data",
            required=True,
            action="append",
            help="labelled TSV file; repeat for several (merged, duplicates kept once, the last "
            "file's label winning)",
        )
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
        parser.add_argument("--json", action="store_true", help="print every metric as JSON")

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
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2, sort_keys=True))
        else:
            self.stdout.write(summary(metrics, options["out"]))


def summary(metrics: dict[str, Any], out: str) -> str:
    """Two lines a person reads at a glance; metrics.json in ``out`` has the rest."""
    return (
        f"Trained on {metrics['n_train']} reviews, written to {out}/.\n"
        f"Held-out accuracy {metrics['accuracy']:.3f} (F1 {metrics['f1']:.3f}) on "
        f"{metrics['n_test']} reviews; 5-fold cross-validation {metrics['cv_accuracy']:.3f} "
        f"(± {metrics['cv_accuracy_std']:.3f}). Details: {out}/metrics.json"
    )
