"""scripts/run-all.sh as `make run` runs it: every service, a Celery worker and beat on the
embedded broker (no REDIS_URL), the banner once all answer, a batch job done by the worker,
a beat task run, and Ctrl-C to the process group ending everything cleanly."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from devtools.servers import REPO, collected_static, free_port
from tests.reliability.harness import tiny_model_dir
from tests.support.servers import start_script, wait_for_output

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BANNER = "Sentiment is running"


def session_processes(sid: int) -> list[str]:
    """Command lines of the live processes in session ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(cmdline)
    return found


def wait_until(check, timeout: float, log: Path, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')[-4000:]}"
        time.sleep(0.3)


def test_make_run_serves_everything_with_a_worker_and_stops_cleanly(live_database_url, tmp_path):
    ports = {
        name: free_port()
        for name in ("MODELSVC_PORT", "WEBAPP_PORT", "WEBAPP_V2_PORT", "WORKER_METRICS_PORT")
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MAKE"))},
        **{name: str(port) for name, port in ports.items()},
        "VAR_DIR": str(tmp_path / "var"),
        "APP_MODE": "test",
        "DATABASE_URL": live_database_url,
        "MODEL_DIR": str(tiny_model_dir(tmp_path / "model")),
        "STATIC_ROOT": str(collected_static()),
        "GUNICORN_WORKERS": "1",
        "CANARY_BEAT_SECONDS": "1",
    }
    env.pop("REDIS_URL", None)
    # As `make run` does: make runs the script, the terminal's Ctrl-C reaches both.
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"run:\n\t{REPO}/scripts/run-all.sh\n")
    log = tmp_path / "run.log"
    proc = start_script(["make", "-f", str(makefile), "run"], env, log)
    try:
        wait_for_output(proc, log, BANNER, 120)
        # The banner comes only once every service answers its readiness check.
        for name in ("MODELSVC_PORT", "WEBAPP_PORT", "WEBAPP_V2_PORT"):
            url = f"http://127.0.0.1:{ports[name]}/health/ready"
            assert requests.get(url, timeout=5).status_code == 200

        web = f"http://127.0.0.1:{ports['WEBAPP_PORT']}"
        upload = ("reviews.tsv", b"Review\tLiked\nGreat food!\t1\nCold and bland.\t0\n")
        created = requests.post(f"{web}/api/batch", files={"file": upload}, timeout=30)
        assert created.status_code in (201, 202), created.text
        job = created.json()
        assert job["status"] == "queued"  # sent to the broker, not run inside the request

        def done() -> bool:
            status = requests.get(f"{web}/api/batch/{job['id']}", timeout=5).json()
            assert status["status"] != "failed", status
            return status["status"] == "done"

        wait_until(done, 60, log, "the worker did not finish the job")
        wait_until(
            lambda: "Task canary.check_guards" in log.read_text(errors="replace"),
            30,
            log,
            "beat's task did not run on the worker",
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = log.read_text(errors="replace")
    # The script exits 0; make, interrupted too, then ends by the same signal, silently.
    assert proc.returncode in (0, -signal.SIGINT), text[-3000:]
    assert "a service stopped" not in text
    assert "No child processes" not in text
    assert "make: ***" not in text
    wait_until(lambda: not session_processes(proc.pid), 10, log, "processes left behind")
