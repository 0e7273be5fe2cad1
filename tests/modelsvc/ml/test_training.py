"""Training, evaluation, the artifact files and the management commands around them."""

import hashlib
import io
import itertools
import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from devtools.data import A1
from modelsvc.ml.dataset import DatasetError
from modelsvc.ml.training import evaluate, train

QUALITY_BAR = 0.85
CORPUS_TO_A1_BAR = 0.80

_DISHES = ["pizza", "soup", "steak", "curry", "salad", "burger"]
_GOOD = ["delicious", "great", "tasty", "wonderful", "amazing"]
_BAD = ["bland", "awful", "cold", "terrible", "stale"]


def _labelled_file(folder: Path, per_label: int = 20) -> Path:
    """A small, easily separable labelled TSV."""
    good = [f"The {d} was {w}." for d, w in itertools.product(_DISHES, _GOOD)][:per_label]
    bad = [f"The {d} was {w}." for d, w in itertools.product(_DISHES, _BAD)][:per_label]
    rows = [f"{text}\t1" for text in good] + [f"{text}\t0" for text in bad]
    path = folder / "train.tsv"
    path.write_text("Review\tLiked\n" + "\n".join(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("trained")
    data = _labelled_file(folder)
    metrics = train(data, folder / "model")
    return data, folder / "model", metrics


def test_writes_artifact_metrics_and_manifest(trained):
    data, model_dir, metrics = trained
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "manifest.json",
        "metrics.json",
        "model.joblib",
    ]  # and no temporary files left behind
    manifest = json.loads((model_dir / "manifest.json").read_text())
    data_sha = hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["artifact"] == "model.joblib"
    assert (
        manifest["artifact_sha256"]
        == hashlib.sha256((model_dir / "model.joblib").read_bytes()).hexdigest()
    )
    assert manifest["data_sha256"] == data_sha
    assert manifest["version"] == "1.0.0+" + data_sha[:8]
    assert manifest["data_rows"] == 40
    assert manifest["seed"] == 42
    assert manifest["created_at"].endswith("+00:00")
    assert set(manifest["libraries"]) == {
        "python",
        "scikit-learn",
        "joblib",
        "numpy",
        "scipy",
        "vaderSentiment",
    }
    assert json.loads((model_dir / "metrics.json").read_text()) == metrics


def test_metrics_describe_the_held_out_fifth(trained):
    _, _, metrics = trained
    assert (metrics["n_train"], metrics["n_test"]) == (32, 8)
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (2, 2)
    assert matrix.sum() == metrics["n_test"]
    assert matrix.sum(axis=1).tolist() == [4, 4]  # stratified: rows are the true labels
    for key in ("accuracy", "precision", "recall", "f1", "cv_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0


def test_artifact_holds_the_whole_pipeline_preprocessing_included(trained):
    _, model_dir, metrics = trained
    artifact = joblib.load(io.BytesIO((model_dir / "model.joblib").read_bytes()))
    assert artifact["format"] == 1
    assert artifact["version"].startswith("1.0.0+")
    assert artifact["metrics"] == metrics
    pipeline = artifact["pipeline"]
    variants = [
        "The soup wasn't great",
        "  THE SOUP   WASN\u2019T GREAT\n",
        "the soup was not great",
    ]
    probabilities = pipeline.predict_proba(variants)
    np.testing.assert_allclose(probabilities, np.repeat(probabilities[:1], 3, axis=0))


def test_train_then_evaluate_round_trip(trained):
    data, model_dir, _ = trained
    result = evaluate(model_dir, data)
    assert result["n"] == 40
    assert result["version"].startswith("1.0.0+")
    assert np.array(result["confusion_matrix"]).sum() == 40
    assert result["accuracy"] >= 0.9  # it has seen 80% of these very reviews


def test_evaluate_refuses_an_artifact_that_does_not_match_its_manifest(trained, tmp_path):
    data, model_dir, _ = trained
    for name in ("model.joblib", "manifest.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    with (tmp_path / "model.joblib").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ValueError, match="checksum"):
        evaluate(tmp_path, data)


def test_same_seed_same_result_and_version_override(trained, tmp_path):
    data, _, metrics = trained
    again = train(data, tmp_path, version="2.0.0")
    assert again == metrics
    assert json.loads((tmp_path / "manifest.json").read_text())["version"] == "2.0.0"


def test_refuses_to_train_without_enough_reviews_of_each_label(tmp_path):
    path = tmp_path / "tiny.tsv"
    path.write_text("Review\tLiked\nGood\t1\nGreat\t1\nBad\t0\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="at least 5 reviews of each label"):
        train(path, tmp_path / "model")


def test_malformed_data_writes_nothing(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("Review\tLiked\nGood\t1\nBad\tno\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 3"):
        train(path, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_train_model_command_prints_metrics(trained, tmp_path):
    data, _, metrics = trained
    out = io.StringIO()
    call_command(
        "train_model",
        "--json",
        data=str(data),
        out=str(tmp_path / "m"),
        version="3.1.4",
        stdout=out,
    )
    assert json.loads(out.getvalue()) == metrics
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["version"] == "3.1.4"


def test_train_model_command_summarises_for_a_person(trained, tmp_path):
    data, _, metrics = trained
    out = io.StringIO()
    call_command("train_model", data=str(data), out=str(tmp_path / "m"), stdout=out)
    text = out.getvalue()
    assert "{" not in text
    assert len(text.splitlines()) == 2
    assert f"Held-out accuracy {metrics['accuracy']:.3f}" in text
    assert f"cross-validation {metrics['cv_accuracy']:.3f}" in text
    assert str(tmp_path / "m" / "metrics.json") in text


def test_train_model_command_reports_the_bad_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("Review\tLiked\nGood\t1\nBad\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 3: expected 2"):
        call_command("train_model", data=str(path), out=str(tmp_path / "m"))


def test_evaluate_model_command_prints_metrics(trained):
    data, model_dir, _ = trained
    out = io.StringIO()
    call_command("evaluate_model", model=str(model_dir), data=str(data), stdout=out)
    assert json.loads(out.getvalue()) == evaluate(model_dir, data)


def _require_a1() -> None:
    # The suite runs beside ../shared (as CI does); a missing data set is a broken checkout.
    assert A1.is_file(), f"public data set missing at {A1}"


def test_quality_bar_on_a1(a1_model_dir):
    _require_a1()
    metrics = json.loads((a1_model_dir / "metrics.json").read_text())
    assert metrics["cv_accuracy"] >= QUALITY_BAR, metrics
    assert metrics["accuracy"] >= QUALITY_BAR, metrics


def test_model_trained_on_shipped_corpus_generalises_to_a1(model_dir):
    _require_a1()
    result = evaluate(model_dir, A1)
    assert result["accuracy"] >= CORPUS_TO_A1_BAR, result


# --- several sources ---------------------------------------------------------------------------


def _tsv(path: Path, rows: list[tuple[str, int]]) -> Path:
    path.write_text("Review\tLiked\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    return path


def test_several_sources_are_merged_deduplicated_and_each_checksum_recorded(tmp_path):
    first = _labelled_file(tmp_path)
    second = _tsv(
        tmp_path / "more.tsv",
        [("The pizza was delicious.", 1), ("  the PIZZA was   delicious. ", 1), ("Rude staff.", 0)],
    )
    call_command(
        "train_model", "--data", str(first), "--data", str(second), "--out", str(tmp_path / "m")
    )
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert [s["sha256"] for s in manifest["sources"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)
    ]
    assert [s["rows"] for s in manifest["sources"]] == [40, 3]
    # "The pizza was delicious." is in both files, and twice (case, spaces) in the second.
    assert (manifest["data_rows"], manifest["data_duplicates"]) == (41, 2)
    assert manifest["held_out"]["size"] == len(manifest["held_out"]["text_sha256"]) == 9


def test_a_later_source_relabels_a_review_of_an_earlier_one(tmp_path):
    from modelsvc.ml.sources import load_sources

    first = _tsv(tmp_path / "a.tsv", [("Cold fries.", 1), ("Great tacos.", 1)])
    second = _tsv(tmp_path / "b.tsv", [("cold fries.", 0)])
    merged = load_sources([first, second])
    assert sorted(zip(merged.texts, merged.labels, strict=True)) == [
        ("Great tacos.", 1),
        ("cold fries.", 0),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty file"),
        ("Review\tLiked\nGood.\t1\nBad.\tmaybe\n", "line 3: label must be 0 or 1"),
        ("Review\tLiked\nGood.\t1\tx\n", "line 2: expected 2 tab-separated"),
    ],
)
def test_a_bad_source_is_named_with_its_line(tmp_path, content, expected):
    good = _labelled_file(tmp_path)
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command(
            "train_model", "--data", str(good), "--data", str(bad), "--out", str(tmp_path / "m")
        )
    assert str(bad) in str(error.value) and expected in str(error.value)
    assert not (tmp_path / "m" / "model.joblib").exists()


def test_one_class_data_is_refused_naming_the_files(tmp_path):
    only_good = _tsv(tmp_path / "good.tsv", [(f"Great dish number {i}.", 1) for i in range(30)])
    with pytest.raises(CommandError, match=r"good\.tsv: training needs at least 5 reviews of each"):
        call_command("train_model", "--data", str(only_good), "--out", str(tmp_path / "m"))


def test_manifest_records_the_drift_reference_profile(trained):
    _, model_dir, _ = trained
    profile = json.loads((model_dir / "manifest.json").read_text())["drift_profile"]
    for feature in ("length", "oov_share", "predicted_positive", "confidence"):
        assert sum(profile["proportions"][feature]) == pytest.approx(1.0, abs=1e-4)
    assert set(profile["length_quantiles"]) == {
        "0.1",
        "0.2",
        "0.3",
        "0.4",
        "0.5",
        "0.6",
        "0.7",
        "0.8",
        "0.9",
    }
    assert profile["vocabulary_size"] > 0 and "vocabulary" not in profile
    artifact = joblib.load(model_dir / "model.joblib")
    assert "delicious" in artifact["profile"]["vocabulary"]
