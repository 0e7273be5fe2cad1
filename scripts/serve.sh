#!/usr/bin/env bash
# Starts one service under gunicorn: scripts/serve.sh modelsvc|webapp PORT
set -euo pipefail
cd "$(dirname "$0")/.."
service=$1
export PORT=${2:-5000}
# Local runs stay on loopback (dev key, any Host); the image binds all interfaces itself.
export BIND_HOST=${BIND_HOST:-127.0.0.1}
export DJANGO_SETTINGS_MODULE="${service}.settings"
# Each server gets its own metrics directory; gunicorn_conf empties it on start.
export PROMETHEUS_MULTIPROC_DIR="${VAR_DIR:-var}/metrics/${service}-${PORT}"
exec .venv/bin/gunicorn -c core/gunicorn_conf.py "${service}.wsgi:application"
