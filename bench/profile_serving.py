"""Where a prediction request's time goes inside the model service, without the network.

Calls the model service's WSGI application in-process (the same Django stack gunicorn runs,
middleware included, metrics in multiprocess mode as under gunicorn) and reports CPU
microseconds per call, which other work on the machine hardly skews: the bare
``pipeline.predict_proba``, the inference endpoint with the real model, and the same requests
with the model replaced by a constant, which is what serving alone costs. The real model
behind the endpoint costs more than in a tight loop of its own: the request's work leaves its
caches colder. gunicorn's HTTP handling and the socket come on top (see bench/run.py).

    .venv/bin/python bench/profile_serving.py --model-dir var/model            # timings
    .venv/bin/python bench/profile_serving.py --model-dir var/model --profile  # + cProfile
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.payloads import INFER_PATH as INFER  # noqa: E402
from bench.payloads import analyze_body, oip_body, sample_reviews  # noqa: E402


def wsgi_call(app, method: str, path: str, body: bytes = b"") -> tuple[str, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:5000",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return status[0], content


def per_call_us(fn, seconds: float) -> float:
    """Mean CPU microseconds per call over about ``seconds`` of repetitions (after a warm-up)."""
    for _ in range(20):
        fn()
    n, started = 0, time.process_time()
    while True:
        fn()
        n += 1
        elapsed = time.process_time() - started
        if elapsed >= seconds:
            return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--profile", action="store_true", help="cProfile the 1-review call")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelsvc.settings")
    os.environ["MODEL_DIR"] = str(args.model_dir)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
    # Only now: Django and the service read the environment set just above when imported.
    from django.core.wsgi import get_wsgi_application  # noqa: PLC0415

    app = get_wsgi_application()
    from modelsvc import serving  # noqa: PLC0415

    model = serving.load()
    if model is None:
        sys.exit(f"no model: {serving.not_ready_reason()}")
    reviews = sample_reviews()
    bodies = {n: oip_body(reviews[:n]) for n in (1, 100)}
    status, content = wsgi_call(app, "POST", INFER, bodies[1])
    if not status.startswith("200"):
        sys.exit(f"infer answered {status}: {content[:300]!r}")

    def infer(n: int):
        return lambda: wsgi_call(app, "POST", INFER, bodies[n])

    figures: dict[str, float] = {}

    def measure(name: str, fn) -> None:
        figures[name] = per_call_us(fn, args.seconds)
        print(f"{name:58s} {figures[name]:9.1f} us")

    for n in (1, 100):
        texts = reviews[:n]
        measure(
            f"predict_proba x{n}, bare pipeline", lambda t=texts: model.pipeline.predict_proba(t)
        )
        measure(f"POST {INFER} x{n}", infer(n))
    # The same requests with the model replaced by a constant: what serving alone costs.
    serving.install(dataclasses.replace(model, pipeline=_ConstantPipeline()))
    for n in (1, 100):
        measure(f"POST {INFER} x{n}, constant model", infer(n))
    body = analyze_body(reviews[0])
    measure(
        "POST /analyze x1 (DRF view), constant model",
        lambda: wsgi_call(app, "POST", "/analyze", body),
    )
    measure("GET /v2/health/live", lambda: wsgi_call(app, "GET", "/v2/health/live"))
    serving.install(model)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.profile:
        profile_overhead(app, model, bodies[1])


class _ConstantPipeline:
    """Stands in for the model so the profile shows only what serving adds around it."""

    def predict_proba(self, texts):
        return np.tile(np.array([0.25, 0.75]), (len(texts), 1))

    def predict(self, texts):
        return np.ones(len(texts), dtype=int)


def profile_overhead(app, model, body: bytes, calls: int = 5000) -> None:
    from modelsvc import serving  # noqa: PLC0415 - once main() has set the environment

    serving.install(dataclasses.replace(model, pipeline=_ConstantPipeline()))
    wsgi_call(app, "POST", INFER, body)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        wsgi_call(app, "POST", INFER, body)
    profiler.disable()
    print(f"\ncProfile of {calls} one-review infer calls, model replaced by a constant:")
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    stats.print_stats(35)
    stats.sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
