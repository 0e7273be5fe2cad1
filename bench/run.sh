#!/usr/bin/env bash
# `make bench`: our model service against MLServer on loopback, then the web app end to end.
# A benchmark, not a test: it takes a few minutes (the first run also installs MLServer).
# Arguments go to bench/run.py (--seconds, --connections, --skip-webapp, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "wrk is missing: run 'make system-deps' (Debian package wrk)" >&2
  exit 1
fi
bench/setup_mlserver.sh
.venv/bin/python bench/run.py "$@"
# Model v1 beside model v2: per-review cost and memory, each model in a process of its own.
.venv/bin/python bench/model_cost.py "${VAR_DIR:-var}/model" "${VAR_DIR:-var}/model-v2"
