"""A stand-in for `kubectl` with the cluster's Secrets kept as files, for running
deploy/create-secrets.sh without a cluster. It knows the commands the script uses, with the
cluster's semantics: `get secret` fails for a missing Secret, `create secret` refuses to
overwrite an existing one, `apply -f` records what was applied."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.deploy.manifests import DEPLOY

SCRIPT = DEPLOY / "create-secrets.sh"

FAKE_KUBECTL = r"""
import json, sys
from pathlib import Path

state = Path(__STATE__)
args = sys.argv[1:]
namespace, rest = "default", []
i = 0
while i < len(args):
    if args[i] in ("-n", "--namespace"):
        namespace = args[i + 1]
        i += 2
    else:
        rest.append(args[i])
        i += 1
flags = {}
words = []
for arg in rest:
    if arg.startswith("--"):
        key, _, value = arg[2:].partition("=")
        flags.setdefault(key, []).append(value)
    else:
        words.append(arg)
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
if words[:1] == ["apply"]:
    sys.exit(0)
path = state / "secrets" / namespace
if words[:2] == ["get", "secret"]:
    if (path / (words[2] + ".json")).exists():
        print(words[2])
        sys.exit(0)
    print(f'Error from server (NotFound): secrets "{words[2]}" not found', file=sys.stderr)
    sys.exit(1)
if words[:2] == ["create", "secret"]:
    kind, name = words[2], words[3]
    target = path / (name + ".json")
    if target.exists():
        print(f'error: secrets "{name}" already exists', file=sys.stderr)
        sys.exit(1)
    if kind == "generic":
        data = {}
        for pair in flags.get("from-file", []):
            key, _, file = pair.partition("=")
            data[key] = Path(file).read_text()
        for pair in flags.get("from-literal", []):
            key, _, value = pair.partition("=")
            data[key] = value
    elif kind == "tls":
        data = {
            "tls.crt": Path(flags["cert"][0]).read_text(),
            "tls.key": Path(flags["key"][0]).read_text(),
        }
    else:
        sys.exit(f"fake kubectl: unknown secret type {kind}")
    path.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"type": kind, "data": data}))
    sys.exit(0)
sys.exit(f"fake kubectl: unsupported command {sys.argv[1:]}")
"""


def fake_cluster(root: Path) -> Path:
    """A state folder and a `kubectl` for it under ``root``; returns the state folder."""
    state = root / "cluster"
    (state / "secrets").mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(
        f"#!{sys.executable}\n" + FAKE_KUBECTL.replace("__STATE__", repr(str(state)))
    )
    kubectl.chmod(0o755)
    return state


def create_secrets(state: Path, *args: str, env: dict | None = None):
    bin_dir = state.parent / "bin"
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(state.parent), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored(state: Path) -> dict[tuple[str, str], dict]:
    """(namespace, name) -> {"type": ..., "data": {key: value}} of every Secret."""
    return {
        (path.parent.name, path.stem): json.loads(path.read_text())
        for path in (state / "secrets").glob("*/*.json")
    }


def as_secret_objects(state: Path) -> list[dict]:
    """The stored Secrets as the Kubernetes objects the tests read (stringData)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": secret["data"],
        }
        for (namespace, name), secret in stored(state).items()
    ]
