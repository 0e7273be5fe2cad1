"""manage.py qualify_model: decide whether a trained model may ship (modelsvc/ml/qualify.py)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from modelsvc.ml.dataset import DatasetError
from modelsvc.ml.qualify import Bars, qualify, render

NOT_QUALIFIED = 1  # the exit status a release pipeline stops on


class Command(BaseCommand):
    help = (
        "Qualify the model in --model: integrity, accuracy and F1 floors, no significant "
        "regression against --baseline, behavioural suites, calibration and cost. Writes "
        "qualification.json beside the artifact; exits 1 when the model must not ship."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        defaults = Bars()
        parser.add_argument("--model", required=True, help="train_model output folder")
        parser.add_argument("--baseline", help="the released model's folder, to compare with")
        parser.add_argument("--data", help="labelled TSV to evaluate on (default: held-out split)")
        for name, value in vars(defaults).items():
            flag = "--" + name.replace("_", "-")
            parser.add_argument(flag, type=float, default=value, help=f"default {value}")

    def handle(self, *args: Any, **options: Any) -> None:
        bars = Bars(**{name: options[name] for name in vars(Bars())})
        try:
            report = qualify(
                options["model"], baseline_dir=options["baseline"], data=options["data"], bars=bars
            )
        except (OSError, DatasetError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(render(report))
        if not report["qualified"]:
            raise SystemExit(NOT_QUALIFIED)
