"""Metrics of the running product, end to end, read by a real Prometheus.

One stack per module: the model service (2 gunicorn workers) and a second one whose artifact
fails verification, web app v1 (2 workers) and v2 (B, configured to accept reviews the model
service refuses, so B fails some predictions), a Celery worker serving its metrics, the local
mesh's Envoy, and Prometheus scraping them every second with the local configuration and the
alert rules of the PrometheusRule.
"""

import contextlib
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from core.version import APP_VERSION
from tests.monitoring.conftest import recording_rules, substitute
from tests.support.artifacts import write_tiny_artifact
from tests.support.servers import REPO, VENV_BIN, Server, free_port, start_server, wait_for

pytestmark = pytest.mark.slow

EXPERIMENT = "frontend-v2"  # created running by the experiments app's data migration
REDIS_URL = "redis://127.0.0.1:6379/13"
# Metrics that only exist where the platform runs them, not on this machine.
EXTERNAL_METRICS = {
    "istio_requests_total": "Istio's proxies (sidecars, ingress gateway): no Istio here; "
    "the local Envoy's rate-limit counters stand in for it",
    "up": "made by Prometheus for every target, not exported; queried from Prometheus below",
}
# Queries allowed to come back empty here, with why.
MAY_BE_EMPTY = {"istio_requests_total": "no Istio proxies on this machine"}
TOO_LONG_FOR_THE_MODEL = "Pleasant. " * 550  # 5500 characters: v2 takes it, the model refuses

MINUS = "\u2212"  # the real minus sign, of the delta panel titles


# --- helpers -----------------------------------------------------------------------------------


def worker_pids(server: Server) -> set[int]:
    """The gunicorn workers: the master's children."""
    pid = server.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def wait_until_every_worker_has_a_model(server: Server, timeout: float = 60.0) -> set[int]:
    """Each model-service worker loads its model after it starts answering; its ready gauge
    (a live gauge file of its own) is written once the model is in."""
    directory = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    deadline = time.monotonic() + timeout
    while True:
        workers = worker_pids(server)
        if workers and all((directory / f"gauge_livemax_{pid}.db").exists() for pid in workers):
            return workers
        assert time.monotonic() < deadline, f"workers {workers} did not all load the model"
        time.sleep(0.2)


def per_process(server: Server, sample_name: str, **labels) -> dict[int, float]:
    """The value each worker process wrote for a counter, from the multiprocess files."""
    values: dict[int, float] = {}
    directory = Path(server.env["PROMETHEUS_MULTIPROC_DIR"])
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                if sample.name == sample_name and labels.items() <= sample.labels.items():
                    values[pid] = values.get(pid, 0.0) + sample.value
    return values


def exposed_names(url: str) -> set[str]:
    """Metric names exactly as a /metrics page writes them (prometheus_client's parser would
    add _total to counters that lack it, as Envoy's do; Prometheus stores them as written)."""
    text = requests.get(url, timeout=10).text
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    }


def scrape(url: str) -> dict[str, list]:
    """Sample name -> samples of a /metrics page."""
    text = requests.get(url, timeout=10).text
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def total(url: str, sample_name: str, **labels) -> float:
    return sum(
        s.value for s in scrape(url).get(sample_name, []) if labels.items() <= s.labels.items()
    )


# A new TCP connection per request, so the kernel may hand each to any worker.
FRESH = {"Connection": "close"}


def send_until_every_worker_served(server: Server, send, counter: str, labels: dict):
    """Call ``send()`` (4 at a time, each on a fresh connection) until every worker has served
    some and at least 40 were sent; returns how many were sent and which workers served."""
    before = per_process(server, counter, **labels)
    workers = worker_pids(server)
    sent = 0
    with ThreadPoolExecutor(4) as pool:
        while sent < 400:
            answers = list(pool.map(lambda _: send(), range(8)))
            assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
            sent += len(answers)
            now = per_process(server, counter, **labels)
            served = {pid for pid in now if now[pid] > before.get(pid, 0.0)}
            if sent >= 40 and served >= workers:
                return sent, served
    raise AssertionError(f"after {sent} requests not every worker of {workers} served one")


@dataclasses.dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen
    config: dict

    def query(self, expr: str) -> list[dict]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def values(self, expr: str) -> list[float]:
        return [float(item["value"][1]) for item in self.query(expr)]

    def wait_for(self, expr: str, check=bool, timeout: float = 30.0) -> list[float]:
        """Poll until ``check(values)`` holds (bounded)."""
        deadline = time.monotonic() + timeout
        values: list[float] = []
        while time.monotonic() < deadline:
            values = self.values(expr)
            if values and check(values):
                return values
            time.sleep(0.5)
        raise AssertionError(f"{expr}: {values} after {timeout}s")


@dataclasses.dataclass
class Stack:
    model: Server
    unready_model: Server
    app_v1: Server
    app_v2: Server
    envoy_url: str
    envoy_admin_port: int
    worker_metrics_port: int
    worker_queue: str

    @property
    def envoy_admin(self) -> str:
        return f"http://127.0.0.1:{self.envoy_admin_port}"

    @property
    def worker_metrics(self) -> str:
        return f"http://127.0.0.1:{self.worker_metrics_port}/metrics"


def manage_shell(database_url: str, var_dir: Path, code: str) -> None:
    """Run Python code in the web app's Django (its settings, this database)."""
    env = {
        "PATH": str(VENV_BIN) + ":/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "APP_MODE": "test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the stack -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("live-stack")


@pytest.fixture(scope="module")
def database_url(workdir) -> str:
    """A database of the web app's own for this module (both web apps and the worker), with
    a canary guard on the running experiment."""
    url = f"sqlite:///{workdir / 'app.sqlite3'}"
    manage_shell(
        url,
        workdir / "var",
        "from django.core.management import call_command\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        "from webapp.experiments.models import Experiment\n"
        "from webapp.canary.models import CanaryGuard\n"
        f"experiment = Experiment.objects.get(name={EXPERIMENT!r})\n"
        "CanaryGuard.objects.create(experiment=experiment, min_sample_size=20, "
        "check_interval_seconds=1, window_minutes=30)\n",
    )
    return url


@pytest.fixture(scope="module")
def unready_model_dir(workdir) -> Path:
    """An artifact whose manifest names another checksum: the service refuses to load it."""
    directory = workdir / "unready-model"
    write_tiny_artifact(directory / "model.joblib")
    (directory / "manifest.json").write_text(json.dumps({"artifact_sha256": "0" * 64}))
    return directory


def start_envoy(workdir: Path, port: int, admin_port: int, v1: int, v2: int) -> subprocess.Popen:
    """The local mesh's gateway, configured from deploy/istio by its translator."""
    config = subprocess.run(
        [
            sys.executable,
            "deploy/local/meshgen.py",
            f"--port={port}",
            f"--admin-port={admin_port}",
            f"--upstream=v1=127.0.0.1:{v1}",
            f"--upstream=v2=127.0.0.1:{v2}",
            "--domain=127.0.0.1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (workdir / "envoy.yaml").write_text(config)
    return subprocess.Popen(
        [
            str(VENV_BIN / "envoy"),
            "-c",
            str(workdir / "envoy.yaml"),
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "-l",
            "warn",
        ],
        stdout=(workdir / "envoy.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


def start_worker(workdir: Path, env: dict, metrics_port: int, queue: str) -> subprocess.Popen:
    """A Celery worker as deployed (prefork pool, metrics on WORKER_METRICS_PORT), on a queue
    of its own so that no other test's tasks reach it."""
    metrics_dir = workdir / "worker-metrics"
    metrics_dir.mkdir()
    return subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "webapp.celery",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues={queue}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=REPO,
        stdout=(workdir / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
        env={
            **env,
            "REDIS_URL": REDIS_URL,
            "WORKER_METRICS_PORT": str(metrics_port),
            "WORKER_METRICS_ADDR": "127.0.0.1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
    )


@pytest.fixture(scope="module")
def stack(modelsvc_server, database_url, unready_model_dir, workdir):
    ports = {name: free_port() for name in ("v1", "v2", "unready", "envoy", "admin", "worker")}
    app_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "APP_MODE": "test",
        "VAR_DIR": str(workdir / "var"),
        "DATABASE_URL": database_url,
        "MODEL_SERVICE_URL": modelsvc_server.url,
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "true",  # batch jobs run inside the web app
    }
    queue = f"monitoring-{uuid.uuid4().hex[:8]}"
    procs = [
        start_envoy(workdir, ports["envoy"], ports["admin"], ports["v1"], ports["v2"]),
        start_worker(workdir, app_env, ports["worker"], queue),
    ]
    servers: list[Server] = []
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(
                    start_server,
                    "webapp",
                    workdir / "v1",
                    {**app_env, "APP_VARIANT": "v1"},
                    port=ports["v1"],
                    workers=2,
                ),
                pool.submit(
                    start_server,
                    "webapp",
                    workdir / "v2",
                    {**app_env, "APP_VARIANT": "v2", "MAX_REVIEW_CHARS": "6000"},
                    port=ports["v2"],
                ),
                pool.submit(
                    start_server,
                    "modelsvc",
                    workdir / "unready",
                    {"MODEL_DIR": str(unready_model_dir)},
                    port=ports["unready"],
                    ready_path="/health/live",
                ),
            ]
            for future in futures:
                with contextlib.suppress(Exception):
                    servers.append(future.result())
        assert len(servers) == 3, [f.exception() for f in futures]
        wait_for(f"http://127.0.0.1:{ports['admin']}/ready", timeout=30, proc=procs[0])
        wait_for(f"http://127.0.0.1:{ports['worker']}/metrics", timeout=90, proc=procs[1])
        app_v1, app_v2, unready = servers
        yield Stack(
            model=modelsvc_server,
            unready_model=unready,
            app_v1=app_v1,
            app_v2=app_v2,
            envoy_url=f"http://127.0.0.1:{ports['envoy']}",
            envoy_admin_port=ports["admin"],
            worker_metrics_port=ports["worker"],
            worker_queue=queue,
        )
    finally:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(stop, procs))
            list(pool.map(Server.stop, servers))


def relabelled(monitor_endpoint: dict) -> list[dict]:
    """A ServiceMonitor endpoint's relabelings in Prometheus' own configuration syntax."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [
        {names.get(k, k): v for k, v in rule.items()} for rule in monitor_endpoint["relabelings"]
    ]


@pytest.fixture(scope="module")
def prometheus(stack, workdir, render):
    directory = workdir / "prometheus"
    directory.mkdir()
    rules = render.write_rules(directory / "rules.yml")
    render.write_config(
        directory / "prometheus.yml",
        rules,
        SCRAPE_INTERVAL="1s",
        SCRAPE_TIMEOUT="1s",
        MODELSVC_PORT=str(stack.model.port),
        WEBAPP_PORT=str(stack.app_v1.port),
        WEBAPP_V2_PORT=str(stack.app_v2.port),
        WORKER_METRICS_PORT=str(stack.worker_metrics_port),
        ENVOY_ADMIN_PORT=str(stack.envoy_admin_port),
    )
    config = yaml.safe_load((directory / "prometheus.yml").read_text())
    monitor = yaml.safe_load((REPO / "monitoring" / "servicemonitor.yaml").read_text())
    config["scrape_configs"] += [
        # A second model-service instance, one that never got a model.
        {
            "job_name": "sentiment-model-service-unready",
            "static_configs": [
                {
                    "targets": [f"127.0.0.1:{stack.unready_model.port}"],
                    "labels": {"service": "sentiment-model-service"},
                }
            ],
        },
        # The ServiceMonitor's relabelling, fed the metadata Kubernetes would give a pod whose
        # annotations name the model service's port: up == 1 only if it finds the service.
        {
            "job_name": "servicemonitor-relabelling",
            "static_configs": [
                {
                    "targets": ["127.0.0.1:1"],
                    "labels": {
                        "__meta_kubernetes_pod_ip": "127.0.0.1",
                        "__meta_kubernetes_pod_annotation_prometheus_io_port": str(
                            stack.model.port
                        ),
                        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
                    },
                }
            ],
            "relabel_configs": relabelled(monitor["spec"]["endpoints"][0]),
            # Its samples would count the model service twice.
            "metric_relabel_configs": [
                {"source_labels": ["__name__"], "regex": ".+", "action": "drop"}
            ],
        },
    ]
    with running_prometheus(directory, config) as server:
        yield server


@contextlib.contextmanager
def running_prometheus(directory: Path, config: dict):
    """A real Prometheus with ``config`` (written to ``directory``), until the block ends."""
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (directory / "prometheus.log").open("ab")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", timeout=30, proc=proc)
        yield Prometheus(f"http://127.0.0.1:{port}", proc, config)
    finally:
        stop(proc)


@dataclasses.dataclass
class Traffic:
    feedback: dict
    failed_b: int
    rate_limited: int


def check_guards_until_rollback(stack) -> None:
    """The canary guard, run by the worker as beat would: B fails too often, so it rolls back."""
    from celery import Celery

    client = Celery(broker=REDIS_URL)
    client.send_task("canary.check_guards", queue=stack.worker_queue)
    deadline = time.monotonic() + 60
    while total(stack.worker_metrics, "sentiment_canary_rollbacks_total") < 1:
        assert time.monotonic() < deadline, "the canary guard did not roll back"
        time.sleep(0.5)
    client.close()


def rate_limited_of(stack, requests_sent: int) -> int:
    """How many of ``requests_sent`` quick requests Envoy refused past the mesh's per-client
    rate limit (10 a minute)."""
    limited = 0
    with requests.Session() as session:
        for _ in range(requests_sent):
            answer = session.get(stack.envoy_url + "/health/live", timeout=10)
            limited += answer.status_code == 429
    return limited


@pytest.fixture(scope="module")
def traffic(stack, prometheus) -> Traffic:
    """What users and operators do, in two rounds: the first creates every series, and once
    Prometheus has scraped them the second moves them (increase() needs a sample before)."""
    sessions = {"A": requests.Session(), "B": requests.Session()}
    apps = {"A": stack.app_v1.url, "B": stack.app_v2.url}
    predictions: dict[str, list[str]] = {"A": [], "B": []}
    feedback = {("A", True): 0, ("A", False): 0, ("B", True): 0, ("B", False): 0}
    failed_b = 0

    def predict(variant: str, review: str = "The risotto was superb and the staff kind."):
        answer = sessions[variant].post(
            apps[variant] + "/api/analyze",
            json={"review": review},
            headers={"X-User-Experiment": variant},  # as the mesh's routing header would
            timeout=30,
        )
        return answer

    def judge(variant: str, correct: bool):
        prediction_id = predictions[variant].pop()
        answer = sessions[variant].post(
            apps[variant] + "/api/feedback",
            json={"prediction_id": prediction_id, "correct": correct},
            headers={"X-User-Experiment": variant},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        feedback[(variant, correct)] += 1

    def round_of(n_predictions: int, failures_b: int, verdicts: dict):
        nonlocal failed_b
        for variant in ("A", "B"):
            for _ in range(n_predictions):
                answer = predict(variant)
                assert answer.status_code == 200, answer.text
                assert answer.json()["variant"] == variant
                predictions[variant].append(answer.json()["prediction_id"])
        for _ in range(failures_b):
            answer = predict("B", TOO_LONG_FOR_THE_MODEL)
            assert answer.status_code == 503, answer.text
            failed_b += 1
        for (variant, correct), count in verdicts.items():
            for _ in range(count):
                judge(variant, correct)

    # A batch job (runs inside the web app without a broker) and an unknown page.
    upload = sessions["A"].post(
        stack.app_v1.url + "/api/batch",
        files={"file": ("reviews.tsv", "Review\nLovely soup\nCold and bland\n\nGreat wine\n")},
        timeout=60,
    )
    assert upload.status_code == 202, upload.text
    assert sessions["A"].get(stack.app_v1.url + f"/no/such/{uuid.uuid4()}").status_code == 404

    round_of(2, 1, {("A", True): 1, ("A", False): 1, ("B", True): 1, ("B", False): 1})
    for expr in (
        'sentiment_app_feedback_total{variant="B"}',
        'sentiment_app_requests_total{variant="B", status_class="5xx"}',
        'sentiment_app_predictions_total{variant="A"}',
        "sentiment_batch_jobs_total",
    ):
        prometheus.wait_for(expr)
    round_of(26, 30, {("A", True): 24, ("A", False): 2, ("B", True): 6, ("B", False): 20})

    check_guards_until_rollback(stack)
    limited = rate_limited_of(stack, 600)
    assert limited >= 580
    for session in sessions.values():
        session.close()
    return Traffic({f"{v}/{c}": n for (v, c), n in feedback.items()}, failed_b, limited)


# --- counts under several workers ---------------------------------------------------------------


def test_model_service_counts_add_up_across_workers(modelsvc_server):
    assert len(wait_until_every_worker_has_a_model(modelsvc_server)) >= 2
    url = modelsvc_server.url + "/metrics"
    predictions = total(url, "sentiment_model_predictions_total")
    responses = total(
        url, "django_http_responses_total_by_status_view_method_total", view="analyze", status="200"
    )
    sent, served = send_until_every_worker_served(
        modelsvc_server,
        lambda: requests.post(
            modelsvc_server.url + "/analyze",
            json={"review": "Friendly staff, fresh bread."},
            headers=FRESH,
            timeout=30,
        ),
        "sentiment_model_predictions_total",
        {},
    )
    assert len(served) >= 2
    assert total(url, "sentiment_model_predictions_total") == predictions + sent
    assert (
        total(
            url,
            "django_http_responses_total_by_status_view_method_total",
            view="analyze",
            status="200",
        )
        == responses + sent
    )


def test_web_app_counts_add_up_across_workers(stack):
    server = stack.app_v1
    url = server.url + "/metrics"
    labels = {"route": "reviews:api-version", "status_class": "2xx"}
    before = total(url, "sentiment_app_requests_total", **labels)
    before_seconds = total(url, "sentiment_app_request_seconds_count", route="reviews:api-version")
    sent, served = send_until_every_worker_served(
        server,
        lambda: requests.get(server.url + "/api/version", headers=FRESH, timeout=30),
        "sentiment_app_requests_total",
        labels,
    )
    assert len(served) >= 2
    assert total(url, "sentiment_app_requests_total", **labels) == before + sent
    assert (
        total(url, "sentiment_app_request_seconds_count", route="reviews:api-version")
        == before_seconds + sent
    )
    # One series per label set, whatever the number of workers: no pid label.
    info = scrape(url)["sentiment_app_info"]
    assert [s.labels for s in info] == [{"app_version": APP_VERSION, "app_variant": "v1"}]


# --- what the dashboards and alerts read ----------------------------------------------------------


def exported_names(stack) -> set[str]:
    urls = [
        stack.model.url + "/metrics",
        stack.unready_model.url + "/metrics",
        stack.app_v1.url + "/metrics",
        stack.app_v2.url + "/metrics",
        stack.worker_metrics,
        stack.envoy_admin + "/stats/prometheus",
    ]
    return set().union(*(exposed_names(url) for url in urls))


def test_every_metric_of_the_dashboards_and_alerts_is_exported(
    traffic, stack, alerts, dashboard_queries, names_in
):
    expressions = [rule["expr"] for rule in alerts.values()]
    expressions += [expr for _, _, expr in dashboard_queries]
    used = set().union(*(names_in(e) for e in expressions))
    exported = exported_names(stack)
    missing = used - exported - set(EXTERNAL_METRICS)
    assert not missing, f"queried but exported by no running service: {sorted(missing)}"
    assert "up" in used and "istio_requests_total" in used  # the allow-list is not stale


def test_prometheus_returns_data_for_every_dashboard_query(
    traffic, prometheus, dashboard_queries, names_in
):
    prometheus.wait_for('sum(up{job="sentiment-worker"})')
    pending = {}
    for dashboard, title, expr in dashboard_queries:
        if names_in(expr) & set(MAY_BE_EMPTY):
            prometheus.query(substitute(expr))  # runs without error
            continue
        pending[(dashboard, title, expr)] = substitute(expr)
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for key, expr in list(pending.items()):
            if any(not math.isnan(v) for v in prometheus.values(expr)):
                del pending[key]
        time.sleep(1)
    assert not pending, "no data for: " + "\n".join(f"{d} / {t}: {e}" for d, t, e in pending)


def panel_expr(dashboards, name: str, title: str, index: int = 0) -> str:
    panel = next(p for p in dashboards[name]["panels"] if p["title"] == title)
    return substitute(panel["targets"][index]["expr"])


def test_ab_dashboard_shows_that_b_is_the_worse_variant(traffic, prometheus, dashboards):
    board = "ab-experiment.json"
    errors = prometheus.wait_for(
        panel_expr(dashboards, board, f"5xx ratio B {MINUS} A"), lambda v: v[0] > 0.1
    )
    assert 0 < errors[0] <= 1
    feedback = prometheus.wait_for(
        panel_expr(dashboards, board, f"Correct-feedback rate B {MINUS} A"), lambda v: v[0] < -0.3
    )
    assert feedback[0] >= -1
    share = prometheus.wait_for(panel_expr(dashboards, board, "Traffic share of B"))
    assert 0.3 < share[0] < 0.8
    ratio = prometheus.wait_for(panel_expr(dashboards, "model.json", "Positive ratio"))
    assert 0 < ratio[0] <= 1


def test_model_version_in_use_is_shown(prometheus, dashboards, stack, traffic):
    expr = panel_expr(dashboards, "model.json", "Model version in use")
    prometheus.wait_for(expr)
    shown = {item["metric"]["model_version"] for item in prometheus.query(expr)}
    serving = requests.get(stack.model.url + "/version", timeout=10).json()["model_version"]
    assert shown == {serving}


def test_alert_rules_evaluate_without_errors(prometheus, traffic, alerts):
    deadline = time.monotonic() + 30
    while True:
        answer = requests.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()
        rules = [rule for group in answer["data"]["groups"] for rule in group["rules"]]
        if rules and all(rule["health"] != "unknown" for rule in rules):
            break
        assert time.monotonic() < deadline, "rules were not evaluated"
        time.sleep(0.5)
    assert {rule["name"] for rule in rules} == set(alerts) | set(recording_rules())
    assert all(rule["health"] == "ok" for rule in rules), [
        (rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"
    ]


def test_alerts_go_off_on_real_data(prometheus, traffic):
    expected = {
        "SentimentModelNotReady",  # the instance without a model
        "SentimentRateLimited",  # Envoy's 429s
        "SentimentHighErrorRate",  # v2's 503s
        "SentimentVariantHighErrorRate",
        "SentimentModelCallsFailing",
        "SentimentVariantBMoreErrors",
        "SentimentVariantBLessCorrect",
        "SentimentCanaryRolledBack",
    }
    deadline = time.monotonic() + 30
    active: dict[str, str] = {}
    while time.monotonic() < deadline:
        alerts = requests.get(f"{prometheus.url}/api/v1/alerts", timeout=10).json()["data"]
        active = {a["labels"]["alertname"]: a["state"] for a in alerts["alerts"]}
        if expected <= set(active):
            break
        time.sleep(1)
    assert expected <= set(active), f"missing: {expected - set(active)}; active: {active}"
    assert active["SentimentCanaryRolledBack"] == "firing"  # no waiting period
    assert "SentimentAppDown" not in active  # both web app targets export their metrics


def test_service_monitor_relabelling_finds_the_app(prometheus, traffic):
    prometheus.wait_for('up{job="servicemonitor-relabelling"}', lambda v: v == [1.0])


# --- a worker dies --------------------------------------------------------------------------------


def test_a_dead_worker_loses_no_counts_and_leaves_no_gauge(modelsvc_server):
    """gunicorn_conf marks a dead worker: its counters stay, its live gauges go."""
    url = modelsvc_server.url + "/metrics"
    directory = Path(modelsvc_server.env["PROMETHEUS_MULTIPROC_DIR"])
    for _ in range(4):  # counts of its own, whatever ran before
        requests.post(modelsvc_server.url + "/analyze", json={"review": "Lovely."}, timeout=10)
    before = total(url, "sentiment_model_predictions_total")
    assert before >= 4
    victim = min(worker_pids(modelsvc_server))
    assert (directory / f"gauge_livemax_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while len(worker_pids(modelsvc_server) - {victim}) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker in time"
        time.sleep(0.2)
    wait_until_every_worker_has_a_model(modelsvc_server)
    assert not (directory / f"gauge_livemax_{victim}.db").exists()
    assert (directory / f"counter_{victim}.db").exists()
    assert total(url, "sentiment_model_predictions_total") == before
    assert [s.value for s in scrape(url)["sentiment_model_ready"]] == [1.0]
