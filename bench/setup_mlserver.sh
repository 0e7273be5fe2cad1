#!/usr/bin/env bash
# MLServer 1.7 with its scikit-learn runtime in its own virtualenv (bench/.mlserver-venv),
# with the model's libraries at the versions requirements.txt pins, so the very pipeline our
# service loads unpickles there too. Installs once; a change of pins reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.mlserver-venv
# MLServer 1.7.1's parallel workers die with "There is no current event loop" on uvloop 0.22+.
pins=(mlserver==1.7.1 mlserver-sklearn==1.7.1 uvloop==0.21.0)
for name in scikit-learn joblib vaderSentiment numpy scipy; do
  pins+=("$(grep -i -E "^${name}==" requirements.txt)")
done
stamp="$venv/.installed-$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

python=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
rm -rf "$venv"
"$python" -m venv "$venv"
echo "installing ${pins[*]} into $venv (once)" >&2
"$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$venv/bin/python" -m pip install --quiet "${pins[@]}" 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$venv/bin/python" -c "import mlserver, mlserver_sklearn, sklearn, vaderSentiment"
touch "$stamp"
