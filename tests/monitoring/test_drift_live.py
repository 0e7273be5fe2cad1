"""Input drift end to end: a model service with two gunicorn workers, a real Prometheus with
the recording rules and alert of the PrometheusRule, and two streams of reviews. Reviews like
the training data keep every index below the alert's threshold; gibberish sends it past."""

import random
import time

import pytest
import requests

from modelsvc.drift import PSI_ALERT
from modelsvc.ml.dataset import load_labelled_tsv
from modelsvc.ml.training import train
from tests.monitoring.test_live_stack import Prometheus, running_prometheus
from tests.support.servers import A1, start_server, wait_for

pytestmark = pytest.mark.slow

TRAINED_ROWS = 600  # of a1, shuffled; the remaining ~300 are the "like the training data" stream
PSI = "sentiment_model:drift_psi:30m"


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift-model")
    data = load_labelled_tsv(A1)
    rows = list(zip(data.texts, data.labels, strict=True))
    random.Random(7).shuffle(rows)
    training = folder / "train.tsv"
    training.write_text(
        "Review\tLiked\n" + "".join(f"{t}\t{y}\n" for t, y in rows[:TRAINED_ROWS]),
        encoding="utf-8",
    )
    train(training, folder / "model")
    rnd = random.Random(3)
    gibberish = [
        " ".join(
            "".join(rnd.choice("qwxzkjvbpfgh") for _ in range(rnd.randint(3, 9))) for _ in range(6)
        )
        for _ in range(300)
    ]
    return folder / "model", [t for t, _ in rows[TRAINED_ROWS:]], gibberish


@pytest.fixture(scope="module")
def service(streams, tmp_path_factory):
    with start_server(
        "modelsvc", tmp_path_factory.mktemp("drift-svc"), {"MODEL_DIR": str(streams[0])}, workers=2
    ) as server:
        yield server


@pytest.fixture(scope="module")
def prometheus(service, render, tmp_path_factory):
    directory = tmp_path_factory.mktemp("drift-prometheus")
    rules = render.write_rules(directory / "rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": "sentiment-model-service",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{service.port}"],
                        "labels": {"service": "sentiment-model-service"},
                    }
                ],
            }
        ],
    }
    with running_prometheus(directory, config) as server:
        yield server


def send(service, reviews: list[str]) -> None:
    """One review per request, on fresh connections, so both workers serve some."""
    for review in reviews:
        response = requests.post(
            service.url + "/analyze",
            json={"review": review},
            headers={"Connection": "close"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def scraped_total(prometheus: Prometheus, expected: int) -> None:
    prometheus.wait_for(
        'sum(sentiment_model_drift_observations_total{feature="length"})',
        check=lambda v: v[0] == expected,
        timeout=60,
    )
    time.sleep(3)  # a few rule evaluations on the complete counts


def indices(prometheus: Prometheus) -> dict[str, float]:
    return {r["metric"]["feature"]: float(r["value"][1]) for r in prometheus.query(PSI)}


def test_drift_index_stays_low_on_reviews_like_the_training_data_and_rises_on_gibberish(
    service, prometheus, streams, alerts
):
    wait_for(service.url + "/health/ready", timeout=120)
    _, normal, gibberish = streams
    # As in production, the zero-valued bins are scraped before the first review arrives
    # (increase() counts from a series' first sample).
    prometheus.wait_for(
        "count(count_over_time(sentiment_model_drift_observations_total[1m]) >= 2)", timeout=60
    )
    send(service, normal)
    scraped_total(prometheus, len(normal))
    calm = indices(prometheus)
    assert set(calm) == {"length", "oov_share", "predicted_positive", "confidence"}
    assert max(calm.values()) < PSI_ALERT, calm
    alert = alerts["SentimentInputDrift"]["expr"]
    assert prometheus.query(alert) == []

    send(service, gibberish)
    scraped_total(prometheus, len(normal) + len(gibberish))
    shifted = indices(prometheus)
    assert shifted["oov_share"] > PSI_ALERT and shifted["length"] < shifted["oov_share"], shifted
    firing = {r["metric"]["feature"] for r in prometheus.query(alert)}
    assert "oov_share" in firing

    # Both workers counted, and what they export holds bin indices, never a review.
    exported = requests.get(service.url + "/metrics", timeout=10).text
    drift_lines = [line for line in exported.splitlines() if "sentiment_model_drift" in line]
    assert drift_lines
    for review in (normal[0], gibberish[0], *gibberish[0].split()):
        assert review not in exported
