"""qualify_model: the shipped models pass, a label-flipped one fails, a tampered one is refused."""

import json
import pickle

import numpy as np
import pytest
import yaml
from django.core.management import call_command
from scipy.stats import binomtest

from devtools.data import A1, CORPUS
from modelsvc.artifact import ARTIFACT_NAME, MANIFEST_NAME
from modelsvc.ml import qualify
from modelsvc.ml.training import train


def run(*args: str) -> tuple[int, dict, str]:
    """qualify_model's exit status, its qualification.json and its printed report."""
    from io import StringIO

    out = StringIO()
    model = args[args.index("--model") + 1]
    try:
        call_command("qualify_model", *args, stdout=out)
        status = 0
    except SystemExit as exc:
        status = int(exc.code)
    report = json.loads((qualify.Path(model) / qualify.REPORT_NAME).read_text())
    return status, report, out.getvalue()


def checks(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


@pytest.fixture(scope="module")
def flipped_model(tmp_path_factory):
    """Trained on the shipped corpus with every label inverted."""
    folder = tmp_path_factory.mktemp("flipped")
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    rows = [f"{text}\t{1 - int(label)}" for text, label in (line.split("\t") for line in lines[1:])]
    data = folder / "flipped.tsv"
    data.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    train(data, folder / "model")
    return folder / "model"


def test_shipped_default_model_qualifies_on_real_reviews(model_dir):
    status, report, printed = run("--model", str(model_dir), "--data", str(A1))
    assert status == 0, printed
    assert report["qualified"] and "QUALIFIED: may ship" in printed
    found = checks(report)
    assert found["accuracy"]["details"]["accuracy"] >= qualify.Bars().min_accuracy
    assert {"integrity", "calibration", "cost", "behaviour:minimum_functionality"} <= set(found)


def test_a1_model_qualifies_on_its_recorded_held_out_split_against_the_default(
    a1_model_dir, model_dir
):
    status, report, printed = run("--model", str(a1_model_dir), "--baseline", str(model_dir))
    assert status == 0, printed
    assert report["evaluation_set"].startswith("held-out split of")
    manifest = json.loads((a1_model_dir / MANIFEST_NAME).read_text())
    assert checks(report)["accuracy"]["details"]["confusion_matrix"]
    assert np.sum(checks(report)["accuracy"]["details"]["confusion_matrix"]) == len(
        manifest["held_out"]["text_sha256"]
    )
    regression = checks(report)["regression"]
    assert regression["passed"] and "McNemar" in regression["summary"]


def test_label_flipped_model_fails_with_its_failures_listed(flipped_model, model_dir):
    status, report, printed = run("--model", str(flipped_model), "--data", str(A1))
    assert status == 1
    assert "NOT QUALIFIED" in printed
    found = checks(report)
    assert not found["accuracy"]["passed"]
    assert not found["behaviour:minimum_functionality"]["passed"]
    assert not found["behaviour:directional"]["passed"]
    assert "'The food was not good.': positive" in printed  # the failing case is shown


def test_flipped_model_fails_even_on_its_own_flipped_held_out_split(flipped_model, model_dir):
    """Its own labels agree with it; the behavioural suites, which need no labels, do not."""
    status, report, _ = run("--model", str(flipped_model), "--baseline", str(model_dir))
    assert status == 1
    assert not checks(report)["behaviour:minimum_functionality"]["passed"]


def test_significant_regression_against_the_baseline_fails(flipped_model, model_dir):
    status, report, _ = run(
        "--model", str(flipped_model), "--baseline", str(model_dir), "--data", str(CORPUS)
    )
    assert status == 1
    regression = checks(report)["regression"]
    assert not regression["passed"]
    assert regression["details"]["candidate_worse"] > regression["details"]["candidate_better"]


class Exploit:
    marker = None

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_tampered_artifact_is_refused_before_unpickling(model_dir, tmp_path):
    folder = tmp_path / "tampered"
    folder.mkdir()
    (folder / MANIFEST_NAME).write_bytes((model_dir / MANIFEST_NAME).read_bytes())
    Exploit.marker = tmp_path / "unpickled"
    (folder / ARTIFACT_NAME).write_bytes(pickle.dumps(Exploit()))
    status, report, printed = run("--model", str(folder))
    assert status == 1
    assert not Exploit.marker.exists()
    assert "checksum mismatch" in printed and report["checks"][0]["name"] == "integrity"


def test_integrity_fails_when_the_manifest_disagrees_with_the_environment(model_dir, tmp_path):
    folder = tmp_path / "other-env"
    folder.mkdir()
    (folder / ARTIFACT_NAME).write_bytes((model_dir / ARTIFACT_NAME).read_bytes())
    manifest = json.loads((model_dir / MANIFEST_NAME).read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    status, report, _ = run("--model", str(folder), "--data", str(A1))
    assert status == 1
    assert "scikit-learn 0.24.2 trained" in checks(report)["integrity"]["summary"]


@pytest.mark.parametrize(("worse", "better"), [(10, 7), (20, 5), (0, 3), (7, 0), (0, 0)])
def test_exact_mcnemar_matches_scipy(worse, better):
    baseline = [True] * worse + [False] * better + [True] * 5
    candidate = [False] * worse + [True] * better + [True] * 5
    result = qualify.mcnemar_exact(baseline, candidate)
    assert (result["candidate_worse"], result["candidate_better"]) == (worse, better)
    expected = (
        binomtest(worse, worse + better, 0.5, alternative="greater").pvalue
        if worse + better
        else 1.0
    )
    assert result["p_value"] == pytest.approx(expected)


def test_calibration_figures_on_a_worked_example():
    truth = [1, 0, 1, 1]
    positive = np.array([0.9, 0.2, 0.6, 0.4])
    assert qualify.brier(truth, positive) == pytest.approx((0.01 + 0.04 + 0.16 + 0.36) / 4)
    # confidences 0.9 (right), 0.8 (right), 0.6 (right), 0.6 (wrong): bins 9, 8 and 6
    expected = 0.25 * 0.1 + 0.25 * 0.2 + 0.5 * abs(0.5 - 0.6)
    assert qualify.expected_calibration_error(truth, positive) == pytest.approx(expected)


def test_behaviour_suites_are_data_with_floors_and_held_out_cases():
    suites = {suite["suite"]: suite for suite in qualify.load_suites()}
    assert {s["kind"] for s in suites.values()} == {"mft", "invariance", "directional"}
    for suite in suites.values():
        assert 0 < suite["floor"] <= 1
        assert any(case.get("held_out") for case in suite["cases"])
        assert any(not case.get("held_out") for case in suite["cases"])
    capabilities = {c["capability"] for s in suites.values() for c in s["cases"]}
    for wanted in (
        "negation",
        "intensifier",
        "negated negative",
        "domain words",
        "restaurant name",
        "cuisine",
        "price",
        "number",
        "typo",
        "punctuation",
        "case",
        "negative clause",
    ):
        assert wanted in capabilities, wanted
    texts = " ".join(yaml.safe_dump(suites["minimum_functionality"]).lower().split())
    for word in ("not bad", "cold", "dry", "bland", "not too sweet"):
        assert word in texts, word
