# Sourced by scripts/run-all.sh and scripts/mesh.sh: start children with `child CMD...` and,
# on Ctrl-C, TERM or exit, stop exactly those (a `kill 0` would also signal make, or
# whatever started the script). Ctrl-C reaches them from the terminal too; TERM makes sure,
# and wait collects them, so nothing is left behind. Ctrl-C ends the script with status 0.
pids=()
child() {
  "$@" &
  pids+=($!)
}
stop_children() {
  trap - INT TERM EXIT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap 'stop_children; exit 0' INT TERM
trap 'stop_children' EXIT
