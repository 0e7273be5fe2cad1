"""gunicorn settings for both services: ``gunicorn -c core/gunicorn_conf.py <svc>.wsgi``.

Workers, threads and keep-alive come from the environment; metrics are shared across
workers through prometheus_client's multiprocess directory, emptied at each start.
"""

import os
import shutil
import tempfile
from pathlib import Path

from core.env import env_bool, env_int, env_str

bind = f"{env_str('BIND_HOST', '0.0.0.0')}:{env_int('PORT', 5000)}"  # noqa: S104
workers = env_int("GUNICORN_WORKERS", 2)
threads = env_int("GUNICORN_THREADS", 1)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
timeout = env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = 20
accesslog = "-" if env_bool("ACCESS_LOG") else None
errorlog = "-"
# Several servers run side by side (and on read-only root file systems): no shared control
# socket in $HOME.
control_socket_disable = True
loglevel = env_str("LOG_LEVEL", "info").lower()
# Kubernetes mounts /tmp as an emptyDir; the heartbeat files belong in memory when possible.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108

_metrics_dir = env_str("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    # Counts from a previous run of this server would be added to the new ones.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sentiment-metrics-")


def child_exit(server, worker):
    # Not at the top: prometheus_client picks its value class when first imported, which
    # must happen after PROMETHEUS_MULTIPROC_DIR is set above.
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(worker.pid)
