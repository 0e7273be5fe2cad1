"""Side-by-side benchmark: our model service against MLServer, serving the same pipeline.

One after the other on this machine, on loopback, driven by the same wrk script and the same
Open Inference Protocol bodies: our service under gunicorn, then MLServer 1.7 with its
scikit-learn runtime (bench/.mlserver-venv, see bench/setup_mlserver.sh), each with 2 worker
processes. Then the web app's POST /api/analyze end to end (web app, our model service,
SQLite write). Prints a table and writes bench/results/latest.json plus a timestamped copy.

Run it with ``make bench`` (bench/run.sh), not directly: that prepares MLServer first.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from pathlib import Path

import joblib
import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import batch, cpu, payloads  # noqa: E402
from devtools.data import A1, CORPUS  # noqa: E402
from devtools.servers import Server, free_port, start_server, wait_for  # noqa: E402
from modelsvc.ml.training import train  # noqa: E402

BENCH = REPO / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
MLSERVER_VENV = BENCH / ".mlserver-venv"
WRK_LUA = BENCH / "wrk.lua"
WORKERS = 2
# A server runs the very pipeline the bench holds in process: answers may differ by rounding only.
SAME_ANSWER_TOLERANCE = 1e-9

# The issue's targets; ratios are ours / MLServer in the same run.
TARGETS = {
    "ratio_1": 1.5,  # single-review throughput
    "ratio_100": 1.0,  # 100-review throughput
    "overhead_ms": 1.0,  # p50 at concurrency 1 above in-process predict_proba, one review
    "webapp_p50_ms": 15.0,  # POST /api/analyze end to end, light load
    "batch_ratio": 0.5,  # batch end to end / the model service alone, reviews/s
    "webapp_pg_p50_ms": 6.0,  # POST /api/analyze on PostgreSQL, 1 connection
    "webapp_pg_ratio_8": 0.5,  # its req/s at 8 connections / the model service's, 1 review
    "peak_rss_mb": 300.0,  # web app and worker, a million-row job
}
SCENARIO_NAMES = ("servers", "webapp", "batch", "webapp-pg", "million")


# --- the model ---------------------------------------------------------------------------


def train_model() -> Path:
    """A model trained for the bench (a1 when present, else the corpus), kept until the data
    or the training code changes."""
    data = A1 if A1.exists() else CORPUS
    digest = hashlib.sha256(data.read_bytes())
    for source in sorted((REPO / "modelsvc" / "ml").glob("*.py")):
        digest.update(source.read_bytes())
    out = WORK / "model" / digest.hexdigest()[:16]
    if not (out / "manifest.json").exists():
        print(f"training the bench model on {data.name} ...", flush=True)
        train(data, out)
    return out


def load_pipeline(model_dir: Path):
    artifact = joblib.load(model_dir / "model.joblib")
    return artifact["pipeline"], str(artifact["version"])


# --- in-process limits ---------------------------------------------------------------------


def _calls_in(pipeline, batches: list[list[str]], seconds: float) -> tuple[list[float], float]:
    """predict_proba over ``batches`` in turn for about ``seconds``: per-call wall times and
    the CPU seconds this process spent."""
    pipeline.predict_proba(batches[0])
    times: list[float] = []
    cpu_started, started = time.process_time(), time.perf_counter()
    while (now := time.perf_counter()) - started < seconds:
        pipeline.predict_proba(batches[len(times) % len(batches)])
        times.append(time.perf_counter() - now)
    return times, time.process_time() - cpu_started


def _worker(args: tuple[Path, list[list[str]], float]) -> float:
    """Calls per second of one process (run one per core, at the same time)."""
    model_dir, batches, seconds = args
    pipeline, _ = load_pipeline(model_dir)
    times, _ = _calls_in(pipeline, batches, seconds)
    return len(times) / sum(times)


def in_process_limits(model_dir: Path, reviews: list[str], seconds: float) -> dict:
    """The physical limit: predict_proba alone, in one process and in one per core, over the
    same reviews the single-review requests carry (each request one of them, in turn)."""
    pipeline, _ = load_pipeline(model_dir)
    singles = [[text] for text in reviews]
    thousand = [(reviews * (1000 // len(reviews) + 1))[:1000]]
    times, cpu_seconds = _calls_in(pipeline, singles, seconds)
    batch_times, _ = _calls_in(pipeline, thousand, max(seconds, 3.0))
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        one_all = pool.map(_worker, [(model_dir, singles, seconds)] * WORKERS)
        batch_all = pool.map(_worker, [(model_dir, thousand, max(seconds, 3.0))] * WORKERS)
    return {
        "one_review_p50_ms": statistics.median(times) * 1000,
        "one_review_mean_ms": statistics.fmean(times) * 1000,
        "one_review_cpu_ms": cpu_seconds * 1000 / len(times),
        "one_review_calls_per_s": len(times) / sum(times),
        "one_review_calls_per_s_all_cores": sum(one_all),
        "batch_1000_reviews_per_s": len(batch_times) * 1000 / sum(batch_times),
        "batch_1000_reviews_per_s_all_cores": sum(batch_all) * 1000,
    }


# --- load generation -----------------------------------------------------------------------


def wrk(url: str, bodies: Path | None, connections: int, seconds: float) -> dict:
    """One wrk run with bench/wrk.lua (POSTing ``bodies`` in turn, or GETs without them);
    its figures, with latencies in milliseconds."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_LUA),
        url,
    ]
    env = {k: v for k, v in os.environ.items() if k != "BENCH_BODIES"}
    if bodies is not None:
        env["BENCH_BODIES"] = str(bodies)
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "connections": connections,
        "requests": raw["requests"],
        "errors": errors,
        "error_kinds": {kind: n for kind, n in raw["errors"].items() if n},
        "rps": raw["requests"] / seconds_run,
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p90_ms": raw["latency_us"]["p90"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "mean_ms": raw["latency_us"]["mean"] / 1000,
    }


SCENARIOS: dict[str, tuple[str, str | None, int | None, str]] = {
    # name: (path, payload kind or None for GET, connections or None for --connections,
    #        duration option)
    "floor": (payloads.LIVE_PATH, None, 1, "latency_seconds"),
    "latency_1": (payloads.INFER_PATH, "oip-1", 1, "latency_seconds"),
    "throughput_1": (payloads.INFER_PATH, "oip-1", None, "seconds"),
    "throughput_100": (payloads.INFER_PATH, "oip-100", None, "seconds"),
}


def wrk_with_cpu(url: str, root_pid: int, *args) -> dict:
    """A wrk run plus the CPU time the server (``root_pid`` and its children) spent on it:
    a cost per request that holds even when other work shares the machine."""
    run = cpu.per_request(partial(wrk, url, *args), {"server": root_pid})
    run["server_cpu_ms_per_request"] = run.pop("cpu_ms_per_request")["server"]
    return run


def model_seconds(base_url: str) -> tuple[float, float]:
    """Our service's own account of time spent in predict_proba on /infer: (sum, count)."""
    text = requests.get(base_url + "/metrics", timeout=10).text
    totals = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for kind in totals:
            prefix = f"sentiment_model_inference_seconds_{kind}{{"
            if line.startswith(prefix) and 'endpoint="infer"' in line:
                totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals["sum"], totals["count"]


def measure_servers(servers: dict[str, Server | MLServer], files: dict[str, Path], args) -> dict:
    """Every scenario on every server, alternating servers run by run so that a busy moment
    on this shared machine does not fall on one side only; each server's best round counts
    (all rounds are kept in the results)."""
    for server in servers.values():
        for warmup in ("oip-1", "oip-100"):
            wrk(server.url + payloads.INFER_PATH, files[warmup], args.connections, args.warmup)
    rounds: dict[str, dict[str, list[dict]]] = {name: {} for name in servers}
    for scenario, (path, kind, connections, duration) in SCENARIOS.items():
        for i in range(args.rounds):
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for name in order:
                server = servers[name]
                before = model_seconds(server.url) if name == "ours" else None
                run = wrk_with_cpu(
                    server.url + path,
                    server.pid,
                    files[kind] if kind else None,
                    connections or args.connections,
                    getattr(args, duration),
                )
                if before is not None:
                    after = model_seconds(server.url)
                    calls = after[1] - before[1]
                    if calls:
                        run["model_ms_per_call"] = (after[0] - before[0]) * 1000 / calls
                per_request = payloads.BATCH if kind == "oip-100" else 1
                run["reviews_per_s"] = run["rps"] * per_request
                run["reviews_per_cpu_s"] = per_request * 1000 / run["server_cpu_ms_per_request"]
                rounds[name].setdefault(scenario, []).append(run)
    return {
        name: {
            scenario: max(runs, key=lambda run: run["rps"]) | {"rounds": runs}
            for scenario, runs in by_scenario.items()
        }
        for name, by_scenario in rounds.items()
    }


def check_answer(base_url: str, pipeline, reviews: list[str]) -> float:
    """The server's predict_proba for a 100-review body, against the in-process one."""
    texts = reviews[: payloads.BATCH]
    response = requests.post(
        base_url + payloads.INFER_PATH,
        data=payloads.oip_body(texts),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    [output] = [o for o in response.json()["outputs"] if o["name"] == "predict_proba"]
    served = np.asarray(output["data"], dtype=np.float64).reshape(len(texts), 2)
    difference = float(np.abs(served - pipeline.predict_proba(texts)).max())
    if difference > SAME_ANSWER_TOLERANCE:
        raise RuntimeError(f"{base_url} answers differ from the in-process model by {difference}")
    return difference


# --- the servers ---------------------------------------------------------------------------


def all_workers_loaded(server: Server, workers: int = WORKERS, timeout: float = 90.0) -> None:
    """Wait until every gunicorn worker has its model. Each worker loads it on its own, so
    the first ready answer only speaks for one; each says "model ... loaded" in the log."""
    deadline = time.monotonic() + timeout
    while server.logs().count(" loaded (sha256 ") < workers:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise RuntimeError(f"not every worker loaded its model:\n{server.logs()[-2000:]}")
        time.sleep(0.1)


def start_ours(model_dir: Path, name: str) -> Server:
    # No access log (gunicorn_conf's default); the info level only says when models load.
    env = {"MODEL_DIR": str(model_dir), "GUNICORN_THREADS": "1", "LOG_LEVEL": "info"}
    server = start_server("modelsvc", WORK / name, env, workers=WORKERS)
    all_workers_loaded(server)
    return server


class MLServer:
    """MLServer serving the pipeline alone (its scikit-learn runtime loads a bare estimator)."""

    def __init__(self, model_dir: Path, version: str):
        self.root = WORK / "mlserver"
        self.port = free_port()
        model_root = self.root / "sentiment"
        model_root.mkdir(parents=True, exist_ok=True)
        pipeline, _ = load_pipeline(model_dir)
        joblib.dump(pipeline, model_root / "model.joblib")
        settings = {
            "host": "127.0.0.1",
            "http_port": self.port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "parallel_workers": WORKERS,
            # debug (the default) logs every request; our gunicorn logs none either.
            "debug": False,
        }
        model_settings = {
            "name": "sentiment",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": version},
        }
        (self.root / "settings.json").write_text(json.dumps(settings, indent=2))
        (model_root / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        self.log = self.root / "mlserver.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("MLServer has not been started")
        return self.proc.pid

    def start(self, timeout: float = 180.0) -> None:
        # The pipeline's own transformers unpickle from the repository.
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(self.root)],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its parallel workers go with it on stop
            )
        try:
            wait_for(f"{self.url}/v2/models/sentiment/ready", timeout=timeout, proc=self.proc)
        except (TimeoutError, RuntimeError):
            self.stop()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"MLServer did not become ready:\n{tail}") from None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # MLServer stops its own workers on SIGTERM; signalling them too would leave their
            # multiprocessing semaphores behind in /dev/shm.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any worker left behind


def measure_webapp(model_dir: Path, files: dict[str, Path], args) -> dict:
    """POST /api/analyze end to end: web app -> our model service -> SQLite write."""
    var = WORK / "webapp-var"
    var.mkdir(parents=True, exist_ok=True)
    database = var / "bench.sqlite3"
    database.unlink(missing_ok=True)
    env = {"DATABASE_URL": f"sqlite:///{database}", "VAR_DIR": str(var), "LOG_LEVEL": "warning"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "webapp.settings"},
        check=True,
    )
    model_service = start_ours(model_dir, "ours-for-webapp")
    try:
        webapp = start_server(
            "webapp",
            WORK / "webapp",
            {**env, "MODEL_SERVICE_URL": model_service.url},
            workers=WORKERS,
        )
        try:
            url = webapp.url + "/api/analyze"
            probe = requests.post(
                url,
                data=payloads.analyze_body("Lovely pasta."),
                timeout=10,
                headers={"Content-Type": "application/json"},
            )
            if probe.status_code != HTTPStatus.OK:
                raise RuntimeError(f"/api/analyze answered {probe.status_code}: {probe.text[:300]}")
            wrk(url, files["analyze"], 2, args.warmup)
            return {
                f"c{c}": wrk(url, files["analyze"], c, args.latency_seconds) for c in (1, 2)
            } | {"stored_predictions": _count_rows(database)}
        finally:
            webapp.stop()
    finally:
        model_service.stop()


def _count_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM reviews_prediction").fetchone()[0]


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(results: dict) -> str:
    servers, limits, ratios = results["servers"], results["in_process"], results["ratios"]
    lines = [
        "",
        f"{'server, payload, connections':34s} {'req/s':>8s} {'reviews/s':>10s} {'p50 ms':>7s} "
        f"{'p99 ms':>7s} {'CPU ms/req':>10s} {'errors':>6s}",
    ]
    for label, name in (("ours", "ours"), ("MLServer", "mlserver")):
        for key, payload in (
            ("floor", "GET live"),
            ("latency_1", "1 review"),
            ("throughput_1", "1 review"),
            ("throughput_100", "100 reviews"),
        ):
            row = servers[name][key]
            reviews = f"{row['reviews_per_s']:10.1f}" if key != "floor" else f"{'':10s}"
            what = f"{label}, {payload}, {row['connections']}"
            lines.append(
                f"{what:34s} {row['rps']:8.1f} {reviews} "
                f"{row['p50_ms']:7.2f} {row['p99_ms']:7.2f} "
                f"{row['server_cpu_ms_per_request']:10.3f} {row['errors']:6d}"
            )
    ours = servers["ours"]
    lines += [
        "",
        f"ratio ours/MLServer, 1 review:    {ratios['throughput_1']:.2f}x requests/s "
        f"({ratios['cpu_1']:.2f}x reviews per server CPU second)",
        f"ratio ours/MLServer, 100 reviews: {ratios['throughput_100']:.2f}x requests/s "
        f"({ratios['cpu_100']:.2f}x reviews per server CPU second)",
        "",
        f"in-process predict_proba, 1 review:    p50 {limits['one_review_p50_ms']:.3f} ms; "
        f"{limits['one_review_calls_per_s']:.0f} calls/s on one core, "
        f"{limits['one_review_calls_per_s_all_cores']:.0f} on {WORKERS}",
        f"in-process predict_proba, 1000 reviews: {limits['batch_1000_reviews_per_s']:.0f} "
        f"reviews/s on one core, {limits['batch_1000_reviews_per_s_all_cores']:.0f} on {WORKERS}",
        f"serving overhead at p50, 1 review, 1 connection: ours "
        f"{results['overhead_ms']['ours']:.3f} ms, MLServer "
        f"{results['overhead_ms']['mlserver']:.3f} ms",
        f"  ours, where it goes: HTTP round trip to a trivial endpoint (GET /v2/health/live) "
        f"{ours['floor']['p50_ms']:.3f} ms p50; predict_proba inside the server "
        f"{ours['latency_1'].get('model_ms_per_call', float('nan')):.3f} ms mean against "
        f"{limits['one_review_mean_ms']:.3f} ms in a tight loop (colder caches between requests)",
    ]
    web = results.get("webapp_analyze")
    if web and "c1" in web:
        lines.append(
            f"web app POST /api/analyze end to end: p50 {web['c1']['p50_ms']:.2f} ms at 1 "
            f"connection, {web['c2']['p50_ms']:.2f} ms at 2 ({web['c1']['rps']:.0f} and "
            f"{web['c2']['rps']:.0f} req/s, {web['stored_predictions']} rows stored)"
        )
    elif web:
        lines.append(f"web app POST /api/analyze: not measured ({web['error']})")
    load = results["machine"]
    lines += [
        f"load average before/after: {load['loadavg_before']:.2f} / {load['loadavg_after']:.2f}"
        f" on {load['cpus']} CPUs (other work on the machine skews single runs)",
        "",
        results["summary"],
    ]
    return "\n".join(lines)


def summarise(results: dict) -> str:
    ratios, overhead = results["ratios"], results["overhead_ms"]["ours"]
    parts = [
        f"ours/MLServer {ratios['throughput_1']:.2f}x for 1 review "
        f"({verdict(ratios['throughput_1'] >= TARGETS['ratio_1'])}, target >= "
        f"{TARGETS['ratio_1']}x)",
        f"{ratios['throughput_100']:.2f}x for 100 "
        f"({verdict(ratios['throughput_100'] >= TARGETS['ratio_100'])}, >= "
        f"{TARGETS['ratio_100']}x)",
        f"overhead {overhead:.2f} ms ({verdict(overhead <= TARGETS['overhead_ms'])}, <= "
        f"{TARGETS['overhead_ms']} ms)",
    ]
    web = results.get("webapp_analyze", {})
    if "c1" in web:
        p50 = max(web["c1"]["p50_ms"], web["c2"]["p50_ms"])
        parts.append(
            f"/api/analyze p50 {p50:.1f} ms ({verdict(p50 < TARGETS['webapp_p50_ms'])}, "
            f"< {TARGETS['webapp_p50_ms']:.0f} ms)"
        )
    return "Summary: " + "; ".join(parts)


def batch_report(results: dict) -> list[str]:
    lines = []
    for key in ("batch", "batch_million"):
        job = results.get(key)
        if not job or "error" in job:
            if job:
                lines.append(f"{key}: not measured ({job['error']})")
            continue
        shares = ", ".join(f"{name} {share:.0%}" for name, share in job["stage_share"].items())
        lines += [
            f"batch, {job['rows']:,} reviews ({job['file_mb']:.1f} MB"
            f"{', gzip' if job['gzip'] else ''}): end to end "
            f"{job['end_to_end_reviews_per_s']:,.0f} "
            f"reviews/s in {job['total_s']:.1f} s; model service alone "
            f"{job['model_alone_reviews_per_s']:,.0f} reviews/s; ratio {job['ratio']:.2f} "
            f"({verdict(job['ratio'] >= TARGETS['batch_ratio'])}, >= {TARGETS['batch_ratio']})",
            f"  stages: {shares}",
            f"  peak RSS: web app worker {job['peak_rss_web_mb']:.0f} MB, Celery worker "
            f"{job['peak_rss_worker_mb']:.0f} MB ({job['downloaded_rows']:,} rows downloaded)",
        ]
    pg = results.get("webapp_postgres")
    if pg and "error" not in pg:
        for age in ("60", "0"):
            runs = pg[f"conn_max_age_{age}"]
            lines.append(
                f"web app on PostgreSQL, DB_CONN_MAX_AGE={age}: p50 {runs['c1']['p50_ms']:.2f} ms "
                f"at 1 connection ({runs['c1']['rps']:.0f} req/s), {runs['c8']['rps']:.0f} req/s "
                f"at 8 (p50 {runs['c8']['p50_ms']:.2f} ms)"
            )
        p50_1 = pg["conn_max_age_60"]["c1"]["p50_ms"]
        lines.append(
            f"  model service alone, 1 review, 8 connections: "
            f"{pg['model_alone_1']['rps']:.0f} req/s; web app at 8 / model service: "
            f"{pg['ratio_8_to_model']:.2f} "
            f"({verdict(pg['ratio_8_to_model'] >= TARGETS['webapp_pg_ratio_8'])}, >= 0.5); "
            f"p50 at 1: {verdict(p50_1 <= TARGETS['webapp_pg_p50_ms'])} (<= 6 ms)"
        )
    elif pg:
        lines.append(f"web app on PostgreSQL: not measured ({pg['error']})")
    return lines


def _scenarios(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(SCENARIO_NAMES)
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIO_NAMES}")
    return chosen


def run_batch_scenarios(results: dict, model_dir: Path, files: dict, args) -> None:
    """The batch and PostgreSQL scenarios, on a model service of their own."""
    wanted = args.scenarios & {"batch", "webapp-pg", "million"}
    if not wanted:
        return
    model_service = start_ours(model_dir, "ours-for-batch")
    errors = (RuntimeError, subprocess.CalledProcessError, requests.RequestException, OSError)
    try:
        if "webapp-pg" in wanted:
            print("web app POST /api/analyze on PostgreSQL ...", flush=True)
            try:
                results["webapp_postgres"] = batch.measure_webapp_postgres(
                    model_service, WORK / "webapp-pg", wrk, files, args
                )
            except errors as exc:
                results["webapp_postgres"] = {"error": str(exc).splitlines()[0][:300]}
        for key, rows in (("batch", args.batch_rows), ("batch_million", 1_000_000)):
            if (key == "batch" and "batch" in wanted) or (
                key == "batch_million" and "million" in wanted
            ):
                print(f"batch job of {rows:,} reviews end to end ...", flush=True)
                try:
                    results[key] = batch.measure_batch(
                        model_service.url, WORK / key, rows, compress=key == "batch_million"
                    )
                except errors as exc:
                    results[key] = {"error": str(exc).splitlines()[0][:300]}
    finally:
        model_service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Our model service against MLServer.")
    parser.add_argument("--seconds", type=float, default=8, help="per throughput run")
    parser.add_argument("--latency-seconds", type=float, default=5, help="per latency run")
    parser.add_argument("--warmup", type=float, default=2, help="per warm-up run")
    parser.add_argument("--connections", type=int, default=8, help="for throughput runs")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and scenario")
    parser.add_argument("--skip-webapp", action="store_true")
    parser.add_argument(
        "--scenarios",
        type=_scenarios,
        default=_scenarios("servers,webapp,batch,webapp-pg"),
        help=f"comma-separated, from {','.join(SCENARIO_NAMES)} (million: a 1,000,000-review "
        "gzip job, not run by default); figures of scenarios not run are kept from the "
        "previous latest.json",
    )
    parser.add_argument("--batch-rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="batch and webapp-pg only")
    args = parser.parse_args()
    if args.quick:
        args.scenarios = {"batch", "webapp-pg"}
    if args.skip_webapp:
        args.scenarios.discard("webapp")

    WORK.mkdir(parents=True, exist_ok=True)
    model_dir = train_model()
    pipeline, version = load_pipeline(model_dir)
    reviews = payloads.sample_reviews()
    files = {
        kind: payloads.write_bodies(WORK / f"{kind}.jsonl", kind, reviews)
        for kind in ("oip-1", "oip-100", "analyze")
    }
    previous = RESULTS / "latest.json"
    results: dict = json.loads(previous.read_text()) if previous.exists() else {}
    results.update(
        {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "loadavg_before": os.getloadavg()[0],
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "config": {
                "workers": WORKERS,
                "model_version": version,
                **{k: v for k, v in vars(args).items() if k != "scenarios"},
                "scenarios": sorted(args.scenarios),
                "reviews_file": payloads.FRESH.name if payloads.FRESH.exists() else "corpus",
            },
            "targets": TARGETS,
        }
    )

    if "servers" in args.scenarios:
        measure_model_servers(results, model_dir, pipeline, reviews, files=files, args=args)

    if "webapp" in args.scenarios:
        print("web app POST /api/analyze end to end ...", flush=True)
        try:
            results["webapp_analyze"] = measure_webapp(model_dir, files, args)
        except (RuntimeError, subprocess.CalledProcessError, requests.RequestException) as exc:
            results["webapp_analyze"] = {"error": str(exc).splitlines()[0][:300]}

    run_batch_scenarios(results, model_dir, files, args)

    results["machine"]["loadavg_after"] = os.getloadavg()[0]
    if "servers" in results:
        results["summary"] = summarise(results)
        print(report(results))
    print("\n".join(batch_report(results)))
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2) + "\n"
    stamp = results["timestamp"].replace(":", "").replace("-", "")
    (RESULTS / f"{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    print(f"\nwritten: bench/results/latest.json and bench/results/{stamp}.json")


def measure_model_servers(
    results: dict, model_dir: Path, pipeline, reviews: list[str], *, files: dict, args
) -> None:
    """Our model service against MLServer, and the in-process limits."""
    print("in-process predict_proba ...", flush=True)
    results["in_process"] = in_process_limits(model_dir, reviews, seconds=3)

    print("starting our model service (gunicorn, 2 sync workers) ...", flush=True)
    ours = start_ours(model_dir, "ours")
    mlserver = MLServer(model_dir, results["config"]["model_version"])
    try:
        print("starting MLServer 1.7 (mlserver-sklearn, 2 parallel workers) ...", flush=True)
        mlserver.start()
        for url in (ours.url, mlserver.url):
            check_answer(url, pipeline, reviews)
        print(f"measuring, {args.rounds} rounds, servers alternating ...", flush=True)
        results["servers"] = measure_servers({"ours": ours, "mlserver": mlserver}, files, args)
    finally:
        mlserver.stop()
        ours.stop()
    measured_ours, measured_theirs = results["servers"]["ours"], results["servers"]["mlserver"]

    one_ms = results["in_process"]["one_review_p50_ms"]
    results["overhead_ms"] = {
        name: data["latency_1"]["p50_ms"] - one_ms for name, data in results["servers"].items()
    }
    # Ours over theirs, so that above 1 is ours ahead: throughput and reviews per CPU-second
    # as they are, latency the other way up.
    figures = {
        "throughput": ("rps", False),
        "p50": ("p50_ms", True),
        "cpu": ("reviews_per_cpu_s", False),
    }
    results["ratios"] = {}
    for figure, (field, lower_is_better) in figures.items():
        for n in (1, 100):
            ours = measured_ours[f"throughput_{n}"][field]
            theirs = measured_theirs[f"throughput_{n}"][field]
            results["ratios"][f"{figure}_{n}"] = theirs / ours if lower_is_better else ours / theirs


if __name__ == "__main__":
    main()
